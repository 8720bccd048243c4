//! The inference engine actor: one thread owns the model and every document's cached sequence; the async side only sends it jobs.
//!
//! Jobs arrive through the [`inbox`]: a bounded queue of interactive completions and, at lower
//! priority, background work (pre-warming a document's prompt). Each completion carries a cancel
//! token, checked before every forward pass, and a channel on which the engine reports text,
//! completion or failure. A panic while running a job becomes an error for that job only: the
//! engine drops that document's sequence (whose cache may be half-written) and serves the next job.
//!
//! The async side holds an [`EngineHandle`] on whichever [`Backend`] serves: the local engine
//! thread ([`LocalEngine`]), the OpenAI-compatible remote engine (with `engine.backend = "openai"`;
//! the model is not loaded at all), or the scripted fake of the tests ([`fake`]).

mod backend;
mod cancel;
pub mod diagnose;
pub mod fake;
pub mod first_lines;
mod inbox;
pub mod key;
mod local;
pub mod next_edit;
pub mod prefer;
pub mod prompt;
pub mod spill;
pub mod store;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rill_model::generate::GenerationParams;
use tokio::sync::{mpsc, watch};

use crate::config::{Backend as BackendKind, Config};
pub use backend::Backend;
pub use cancel::{CancelOnDrop, CancelToken};
pub use inbox::SubmitError;
pub use key::SequenceKey;
use key::{BackgroundKey, Slot};
pub use local::{thread_settings, LocalEngine};
pub use store::{CacheBudgets, CacheReport};

/// Where the engine is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineState {
    Loading,
    Ready,
    Failed(String),
}

/// One completion to compute.
pub struct CompletionJob {
    /// The cached sequence it runs in: the document's completion sequence, or its reasoning one.
    pub sequence: SequenceKey,
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
    /// How the first line is chosen (ignored for raw prompts and by the remote engine).
    pub quality: Quality,
    pub cancel: CancelToken,
    pub events: mpsc::UnboundedSender<EngineEvent>,
}

/// The quality techniques a completion uses (`completion.*` settings, see `docs/protocol.md`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quality {
    /// `completion.tokenHealing`.
    pub heal: bool,
    /// Candidate first lines to decode; 1 decodes the greedy line only.
    pub width: usize,
    /// The document after the cursor's line (from its line break), which candidates are ranked
    /// against (`completion.suffixChoice`); empty to rank by the model's own likelihood.
    pub following: String,
    /// What a comment-only line where code is expected does to a candidate.
    pub comments: crate::config::CommentPolicy,
    /// The document language's line-comment markers.
    pub comment_markers: &'static [&'static str],
    /// Whether the cursor sits where code is expected (see [`crate::comments::code_expected`]).
    pub code_expected: bool,
}

impl Quality {
    /// Whether the first line is decoded whole before any text is sent: needed to rank several
    /// candidates, to judge a comment line, or to report the line's confidence.
    pub fn searches(&self) -> bool {
        self.width > 1 || (self.code_expected && self.comments != crate::config::CommentPolicy::Off)
    }
}

/// How a completion at the pre-warmed place would search: the same quality settings and
/// generation parameters the request will bring.
#[derive(Debug, Clone, PartialEq)]
pub struct Lookahead {
    pub quality: Quality,
    pub params: GenerationParams,
}

/// A candidate suggestion, as the engine found it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The candidate's text (its first line, and whatever its last token held after it).
    pub text: String,
    /// The geometric-mean probability of its first line's tokens, 0 to 1.
    pub confidence: f32,
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
        /// `completion.tokenHealing`, which changes the prompt's last tokens.
        heal: bool,
        /// Set when a completion at the cursor would search for its first line: the pre-warm then
        /// decides that line too, so the request streams it at once (see `first_lines`).
        lookahead: Option<Box<Lookahead>>,
    },
    /// Score a reasoning chain's result against the selection it rewrites (run whole: the user
    /// waits for it, and it is short).
    Prefer(Box<prefer::PreferJob>),
    /// Look for the edit that follows the user's last one (see `crate::next_edit`).
    NextEdit(Box<next_edit::NextEditJob>),
    /// Nothing but the inbox's housekeeping (closed documents, a new memory budget).
    Housekeeping,
}

impl BackgroundJob {
    /// The inbox keeps one pending job per document and kind.
    fn key(&self) -> BackgroundKey {
        let slot = match &self.kind {
            BackgroundKind::Diagnose(job) => Slot::Diagnose(job.kind),
            BackgroundKind::Prewarm { .. } => Slot::Prewarm,
            BackgroundKind::Housekeeping => Slot::Housekeeping,
            BackgroundKind::Prefer(_) => Slot::Prefer,
            BackgroundKind::NextEdit(_) => Slot::NextEdit,
        };
        BackgroundKey {
            document: self.document.clone(),
            slot,
        }
    }

    /// Lower runs first: the rescoring of an edited region, then pre-warming and the first scoring
    /// of opened documents (in arrival order), then rescoring the rest of a document while the
    /// user is idle.
    pub(crate) fn priority(&self) -> u8 {
        match &self.kind {
            BackgroundKind::Housekeeping | BackgroundKind::Prefer(_) => 0,
            BackgroundKind::Diagnose(job) => match job.kind {
                diagnose::DiagnoseKind::EditedRegion => 0,
                diagnose::DiagnoseKind::Opened | diagnose::DiagnoseKind::Refresh => 2,
            },
            // Next edits yield like the pre-warm: the user is pausing, and looks at them next.
            BackgroundKind::Prewarm { .. } | BackgroundKind::NextEdit(_) => 1,
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
    /// The candidate first lines, best first, sent before any text: the text that follows
    /// continues the first of them.
    Candidates(Vec<Candidate>),
    /// While the first line is still being searched: the text, when it comes, begins with one of
    /// these. Each report replaces the last; none may come at all.
    Beginnings(Vec<String>),
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
    /// The first line came from a search the pre-warm had already decided.
    pub first_line_ahead: bool,
}

/// What the LSP side needs to know about the loaded model to write prompts for it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInfo {
    pub chat_template: Option<String>,
    pub bos_text: String,
    pub eos_text: String,
}

/// What the LSP side should tell the user about a backend that reports its own failures.
#[derive(Debug, Clone, PartialEq)]
pub enum BackendNotice {
    /// The first failure of an episode; later failures of the same episode are only logged.
    Failed(String),
    /// The first success after failures.
    Recovered,
}

/// Starts the backend a configuration asks for; notices go to the channel given.
pub type Starter =
    Arc<dyn Fn(&Config, mpsc::UnboundedSender<BackendNotice>) -> Arc<dyn Backend> + Send + Sync>;

/// The async side's handle on the engine: whichever [`Backend`] serves now. Every backend takes
/// the same jobs and reports the same events, so the LSP side does not care which one runs;
/// [`EngineHandle::reconfigure`] starts another one (through its [`Starter`]) when the settings
/// ask for it.
pub struct EngineHandle {
    backend: RwLock<Arc<dyn Backend>>,
    starter: Starter,
    notice_sender: mpsc::UnboundedSender<BackendNotice>,
    notices: Mutex<Option<mpsc::UnboundedReceiver<BackendNotice>>>,
    models: Mutex<ModelRequest>,
}

/// Which `model.path` the local engine serves and which one was asked for last.
#[derive(Default)]
struct ModelRequest {
    /// The path the local engine in use was started with.
    serving: Option<PathBuf>,
    /// The path asked for last: `serving`, or one loading (or failed to load) to replace it.
    wanted: Option<PathBuf>,
    /// Bumped by every new request and backend change: a load started for an older one is stale.
    generation: u64,
    /// A new model loads beside the one in use (see [`Reconfigured::Reloading`]).
    reloading: bool,
}

/// What [`EngineHandle::reconfigure`] did.
pub enum Reconfigured {
    /// Nothing that needs reporting.
    Unchanged,
    /// A new engine replaced the one in use: report its start as at initialization.
    Replaced,
    /// `model.path` changed while a model serves: the new model loads beside it. Once it is
    /// ready, [`EngineHandle::install`] swaps it in; if it fails, the old one keeps serving.
    Reloading(PendingModel),
}

/// A local engine loading a new `model.path` while the old model keeps serving. Dropping it
/// without installing it stops its thread, which frees whatever it loaded.
pub struct PendingModel {
    local: Arc<LocalEngine>,
    generation: u64,
    /// The `model.path` it loads (`None`: the default search).
    pub path: Option<PathBuf>,
}

impl PendingModel {
    /// The new engine's state, to wait for its load.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        self.local.state()
    }
}

impl EngineHandle {
    /// Starts the backend `config` asks for through `starter`, which also starts the ones later
    /// settings ask for.
    pub fn start(config: &Config, starter: Starter) -> Self {
        let (notice_sender, notices) = mpsc::unbounded_channel();
        let backend = starter(config, notice_sender.clone());
        let handle = Self {
            backend: RwLock::new(backend),
            starter,
            notice_sender,
            notices: Mutex::new(Some(notices)),
            models: Mutex::new(ModelRequest::default()),
        };
        handle.note_backend(config);
        handle
    }

    /// A handle on one backend that settings never replace (tests, benchmarks).
    pub fn with_backend(backend: Arc<dyn Backend>) -> Self {
        Self::start(&Config::default(), Arc::new(move |_, _| backend.clone()))
    }

    /// Notes that a local engine for `config` starts (or the remote one): whatever loads for an
    /// older request is stale from now on.
    fn note_backend(&self, config: &Config) {
        let mut models = lock(&self.models);
        models.serving = config.model_path.clone();
        models.wanted = config.model_path.clone();
        models.generation += 1;
    }

    /// Starts the backend `config` names in place of the one in use.
    fn restart(&self, config: &Config) -> Reconfigured {
        self.replace((self.starter)(config, self.notice_sender.clone()));
        self.note_backend(config);
        Reconfigured::Replaced
    }

    /// Applies changed settings: switches backend when `engine.backend` changed (stopping the
    /// local thread, which frees the model, or starting it), gives the remote engine its new
    /// server settings, or loads a new `model.path`. A backend a test built stays.
    pub fn reconfigure(&self, config: &Config) -> Reconfigured {
        let current = self.current();
        let Some(kind) = current.kind() else {
            return Reconfigured::Unchanged;
        };
        if kind != config.engine_backend {
            tracing::info!(
                "engine.backend is now \"{}\"",
                config.engine_backend.as_str()
            );
            return self.restart(config);
        }
        match kind {
            BackendKind::Local => self.reload_model(&*current, config),
            // Unusable before or now: start afresh so the state says why.
            BackendKind::Openai if !current.update(config) => self.restart(config),
            BackendKind::Openai => Reconfigured::Unchanged,
        }
    }

    /// Starts loading `config.model_path` when it is not the path asked for last. A model that
    /// serves keeps serving until the new one is ready; an engine still loading, or one that
    /// failed, has nothing worth keeping and is replaced at once.
    fn reload_model(&self, local: &dyn Backend, config: &Config) -> Reconfigured {
        let mut models = lock(&self.models);
        if config.model_path == models.wanted {
            return Reconfigured::Unchanged;
        }
        let local_state = local.state().borrow().clone();
        if models.reloading || local_state == EngineState::Loading {
            // Two loads at once would hold two more models in memory: the new path is applied
            // when the load under way ends (the caller then calls `reconfigure` again).
            tracing::info!("model.path changed while a model loads: applied once it has loaded");
            return Reconfigured::Unchanged;
        }
        models.wanted = config.model_path.clone();
        models.generation += 1;
        if config.model_path == models.serving {
            // Back to the model in use: a load still running for another path is abandoned.
            return Reconfigured::Unchanged;
        }
        let describe = |path: &Option<PathBuf>| {
            path.as_ref()
                .map_or("the default model".to_string(), |path| {
                    path.display().to_string()
                })
        };
        tracing::info!("model.path is now {}", describe(&config.model_path));
        let fresh = LocalEngine::start_for(config);
        if local_state != EngineState::Ready {
            // The model in use failed to load: nothing worth keeping.
            models.serving = config.model_path.clone();
            drop(models);
            self.replace(Arc::new(fresh));
            return Reconfigured::Replaced;
        }
        models.reloading = true;
        Reconfigured::Reloading(PendingModel {
            local: Arc::new(fresh),
            generation: models.generation,
            path: config.model_path.clone(),
        })
    }

    /// Swaps in a model that finished loading, unless a newer setting superseded it (then it is
    /// dropped, which stops its thread). Returns whether it now serves.
    pub fn install(&self, pending: PendingModel) -> bool {
        let mut models = lock(&self.models);
        models.reloading = false;
        if models.generation != pending.generation
            || self.current().kind() != Some(BackendKind::Local)
            || *pending.local.state().borrow() != EngineState::Ready
        {
            return false;
        }
        models.serving = pending.path.clone();
        drop(models);
        self.replace(pending.local);
        true
    }

    fn replace(&self, backend: Arc<dyn Backend>) {
        let old = std::mem::replace(
            &mut *self
                .backend
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            backend,
        );
        old.shutdown();
    }

    /// The backend in use now. Callers hold it for one call: a reconfiguration may replace it.
    fn current(&self) -> Arc<dyn Backend> {
        self.backend
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Ends a reload whose model could not be loaded (the one in use stays).
    pub fn reload_failed(&self, pending: PendingModel) {
        lock(&self.models).reloading = false;
        drop(pending);
    }

    /// The backends' notices (failure episodes, recoveries); `None` after the first call.
    pub fn take_notices(&self) -> Option<mpsc::UnboundedReceiver<BackendNotice>> {
        lock(&self.notices).take()
    }

    /// See [`Backend::reports_failures_itself`].
    pub fn reports_failures_itself(&self) -> bool {
        self.current().reports_failures_itself()
    }

    /// See [`Backend::scores_text`].
    pub fn scores_text(&self) -> bool {
        self.current().scores_text()
    }

    /// Whether completions come from a remote server.
    pub fn is_remote(&self) -> bool {
        self.current().kind() == Some(BackendKind::Openai)
    }

    /// See [`Backend::model_info`].
    pub fn model_info(&self) -> Option<ModelInfo> {
        self.current().model_info()
    }

    /// See [`Backend::submit`].
    pub fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        self.current().submit(job)
    }

    /// See [`Backend::submit_background`].
    pub fn submit_background(&self, job: BackgroundJob) {
        self.current().submit_background(job);
    }

    /// See [`Backend::forget`].
    pub fn forget(&self, document: &str) {
        self.current().forget(document);
    }

    /// See [`Backend::set_cache_budget`].
    pub fn set_cache_budget(&self, budgets: CacheBudgets) {
        self.current().set_cache_budget(budgets);
    }

    /// See [`Backend::cache_report`].
    pub fn cache_report(&self) -> CacheReport {
        self.current().cache_report()
    }

    /// A receiver that sees every state change of the engine in use now.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        self.current().state()
    }

    /// Asks the engine to finish after the current job.
    pub fn shutdown(&self) {
        self.current().shutdown();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
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
            first_line_ahead: false,
        }
    }
}

impl crate::rill_protocol::CompletionMeasurements for CompletionStats {
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

    fn first_line_ahead(&self) -> bool {
        self.first_line_ahead
    }
}
