//! The inference engine actor: one thread owns the model and every document's cached sequence; the async side only sends it jobs.
//!
//! Jobs arrive through the [`inbox`]: a bounded queue of interactive completions and, at lower
//! priority, background work (pre-warming a document's prompt). Each completion carries a cancel
//! token, checked before every forward pass, and a channel on which the engine reports text,
//! completion or failure. A panic while running a job becomes an error for that job only: the
//! engine drops that document's sequence (whose cache may be half-written) and serves the next job.

mod cancel;
pub mod diagnose;
mod inbox;
pub mod prompt;
pub mod store;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rill_model::generate::GenerationParams;
use rill_model::runtime::{configure_threads, ThreadSettings};
use tokio::sync::{mpsc, watch};

pub use cancel::{CancelOnDrop, CancelToken};
pub use inbox::SubmitError;
pub use store::CacheReport;

use inbox::Inbox;

/// Interactive jobs waiting for the engine at most; beyond that, requests are answered empty at once.
const QUEUE_CAPACITY: usize = 32;

/// Where the engine is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Loading,
    Ready,
    Failed(String),
}

/// One completion to compute.
pub struct CompletionJob {
    /// Key of the document's cached sequence (its URI).
    pub document: String,
    /// The document text before the cursor.
    pub text_before_cursor: String,
    /// The document text after the cursor: models with fill-in-the-middle tokens see it, others
    /// do not. Empty for raw prompts.
    pub text_after_cursor: String,
    /// Prompt tokens at most, BOS included.
    pub context_tokens: usize,
    /// Chunks of other documents shown before this one (empty for raw prompts).
    pub cross_file: crate::context::PromptContext,
    /// `text_before_cursor` is a prompt written for the model (a rendered chat template or a
    /// few-shot prompt) rather than document text: control tokens spelled in it become control
    /// tokens, and it is never cut to a window.
    pub raw_prompt: bool,
    pub params: GenerationParams,
    pub cancel: CancelToken,
    pub events: mpsc::UnboundedSender<EngineEvent>,
}

/// Low-priority work for one document, run in small chunks between interactive jobs.
#[derive(Debug, Clone)]
pub struct BackgroundJob {
    pub document: String,
    pub kind: BackgroundKind,
}

/// The kinds of background work. A document has at most one pending job of each kind.
#[derive(Debug, Clone)]
pub enum BackgroundKind {
    /// Score the document's text and report the spans the model finds unlikely.
    Diagnose(Box<diagnose::DiagnoseJob>),
    /// Bring the document's cache up to date with the prompt a completion at the cursor would use.
    Prewarm {
        text_before_cursor: String,
        /// Shown to FIM models, as in the completion's prompt.
        text_after_cursor: String,
        /// `completion.contextTokens` and `completion.maxTokens`, which shape the prompt window
        /// exactly as they shape a completion's.
        context_tokens: usize,
        reserve_tokens: usize,
        /// The cross-file chunks the completion's prompt will carry.
        cross_file: crate::context::PromptContext,
    },
    /// Nothing but the inbox's housekeeping (closed documents, a new memory budget).
    Housekeeping,
}

impl BackgroundJob {
    /// The inbox keeps one pending job per document and kind.
    fn key(&self) -> (String, u8) {
        let kind = match &self.kind {
            BackgroundKind::Diagnose(job) => job.kind as u8,
            BackgroundKind::Prewarm { .. } => 3,
            BackgroundKind::Housekeeping => 4,
        };
        (self.document.clone(), kind)
    }

    /// Lower runs first: the rescoring of an edited region, then pre-warming and the first scoring
    /// of opened documents (in arrival order), then rescoring the rest of a document while the
    /// user is idle.
    pub(crate) fn priority(&self) -> u8 {
        match &self.kind {
            BackgroundKind::Housekeeping => 0,
            BackgroundKind::Diagnose(job) => match job.kind {
                diagnose::DiagnoseKind::EditedRegion => 0,
                diagnose::DiagnoseKind::Opened | diagnose::DiagnoseKind::Refresh => 2,
            },
            BackgroundKind::Prewarm { .. } => 1,
        }
    }

    fn housekeeping() -> Self {
        Self {
            document: String::new(),
            kind: BackgroundKind::Housekeeping,
        }
    }
}

/// What the engine reports about a job.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// More completion text (complete UTF-8, in order).
    Text(String),
    /// The job ended; no more events follow.
    Done(CompletionStats),
    /// The job failed; no more events follow.
    Error(String),
}

/// Measurements of one finished job.
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionStats {
    pub prompt_tokens: usize,
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    pub time_to_first_token: Duration,
    pub tokens_per_second: f64,
    pub cancelled: bool,
    /// Forward passes of the decode loop and draft tokens accepted (speculative decoding).
    pub forward_passes: usize,
    pub accepted_draft_tokens: usize,
}

/// What the LSP side needs to know about the loaded model to write prompts for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    pub chat_template: Option<String>,
    pub bos_text: String,
    pub eos_text: String,
}

/// The async side's handle on the engine thread.
pub struct EngineHandle {
    inbox: Arc<Inbox>,
    state: watch::Receiver<EngineState>,
    report: Arc<Mutex<CacheReport>>,
    model_info: Arc<std::sync::OnceLock<ModelInfo>>,
}

impl EngineHandle {
    /// Starts the engine thread, which loads the model in the background.
    pub fn start(
        model_path: Option<PathBuf>,
        threads: ThreadSettings,
        cache_budget_bytes: usize,
    ) -> Self {
        let inbox = Arc::new(Inbox::new(QUEUE_CAPACITY));
        let (state_sender, state) = watch::channel(EngineState::Loading);
        let report = Arc::new(Mutex::new(CacheReport::default()));
        let model_info = Arc::new(std::sync::OnceLock::new());
        let (engine_inbox, engine_report) = (inbox.clone(), report.clone());
        let engine_model_info = model_info.clone();
        let spawned = std::thread::Builder::new()
            .name("rill-engine".to_string())
            .spawn(move || {
                configure_threads(threads);
                worker::run(
                    model_path,
                    &engine_inbox,
                    state_sender,
                    &engine_report,
                    &engine_model_info,
                    cache_budget_bytes,
                )
            });
        if let Err(err) = spawned {
            tracing::error!("cannot start the engine thread: {err}");
            inbox.shutdown();
        }
        Self {
            inbox,
            state,
            report,
            model_info,
        }
    }

    /// The loaded model's prompt facts; `None` until the model has loaded.
    pub fn model_info(&self) -> Option<ModelInfo> {
        self.model_info.get().cloned()
    }

    /// Queues a completion without waiting.
    pub fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        self.inbox.submit(job)
    }

    /// Queues background work; a newer job for the same document replaces a pending one.
    pub fn submit_background(&self, job: BackgroundJob) {
        self.inbox.submit_background(job);
    }

    /// Frees the cached sequence of a closed document before the next job runs.
    pub fn forget(&self, document: &str) {
        self.inbox.forget(document);
    }

    /// Changes the memory budget over all documents' caches.
    pub fn set_cache_budget(&self, bytes: usize) {
        self.inbox.set_cache_budget(bytes);
    }

    /// What the caches hold after the last job.
    pub fn cache_report(&self) -> CacheReport {
        *self
            .report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver that sees every state change.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        self.state.clone()
    }

    /// Asks the engine thread to finish after the current job.
    pub fn shutdown(&self) {
        self.inbox.shutdown();
    }
}

impl CompletionStats {
    pub(crate) fn cancelled() -> Self {
        Self {
            prompt_tokens: 0,
            reused_tokens: 0,
            generated_tokens: 0,
            time_to_first_token: Duration::ZERO,
            tokens_per_second: 0.0,
            cancelled: true,
            forward_passes: 0,
            accepted_draft_tokens: 0,
        }
    }
}

impl crate::protocol::CompletionMeasurements for CompletionStats {
    fn prompt_tokens(&self) -> usize {
        self.prompt_tokens
    }

    fn reused_tokens(&self) -> usize {
        self.reused_tokens
    }

    fn generated_tokens(&self) -> usize {
        self.generated_tokens
    }

    fn time_to_first_token(&self) -> Duration {
        self.time_to_first_token
    }

    fn tokens_per_second(&self) -> f64 {
        self.tokens_per_second
    }
}
