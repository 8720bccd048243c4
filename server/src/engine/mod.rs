//! The inference engine actor: one thread owns the model and every document's cached sequence; the async side only sends it jobs.
//!
//! Jobs arrive through a bounded queue. Each carries a cancel token, checked before every forward
//! pass, and a channel on which the engine reports text, completion or failure. A panic while
//! running a job becomes an error for that job only: the engine drops that document's sequence
//! (whose cache may be half-written) and serves the next job.

mod cancel;
pub mod prompt;

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rill_model::generate::{generate, FinishReason, GenerationParams};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel, Sequence};
use tokio::sync::{mpsc, watch};

pub use cancel::{CancelOnDrop, CancelToken};

/// Jobs waiting for the engine at most; beyond that, requests are answered empty at once.
const QUEUE_CAPACITY: usize = 32;
/// Documents whose sequences stay cached; the least recently used beyond this is dropped.
const MAX_CACHED_DOCUMENTS: usize = 16;

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
    /// Prompt tokens at most, BOS included.
    pub context_tokens: usize,
    pub params: GenerationParams,
    pub cancel: CancelToken,
    pub events: mpsc::UnboundedSender<EngineEvent>,
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
}

enum Command {
    Complete(Box<CompletionJob>),
    Shutdown,
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the engine is busy ({QUEUE_CAPACITY} jobs queued)")]
    Busy,
    #[error("the engine has stopped")]
    Stopped,
}

/// The async side's handle on the engine thread.
pub struct EngineHandle {
    commands: SyncSender<Command>,
    state: watch::Receiver<EngineState>,
    forgotten: Arc<Mutex<Vec<String>>>,
}

impl EngineHandle {
    /// Starts the engine thread, which loads the model in the background.
    pub fn start(model_path: Option<PathBuf>, threads: ThreadSettings) -> Self {
        let (commands, receiver) = sync_channel(QUEUE_CAPACITY);
        let (state_sender, state) = watch::channel(EngineState::Loading);
        let forgotten = Arc::new(Mutex::new(Vec::new()));
        let engine_forgotten = forgotten.clone();
        let spawned = std::thread::Builder::new()
            .name("rill-engine".to_string())
            .spawn(move || {
                configure_threads(threads);
                Engine::run(model_path, receiver, state_sender, engine_forgotten)
            });
        if let Err(err) = spawned {
            tracing::error!("cannot start the engine thread: {err}");
        }
        Self {
            commands,
            state,
            forgotten,
        }
    }

    /// Queues a job without waiting.
    pub fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        self.commands
            .try_send(Command::Complete(Box::new(job)))
            .map_err(|err| match err {
                TrySendError::Full(_) => SubmitError::Busy,
                TrySendError::Disconnected(_) => SubmitError::Stopped,
            })
    }

    /// Frees the cached sequence of a closed document before the next job runs.
    pub fn forget(&self, document: &str) {
        if let Ok(mut forgotten) = self.forgotten.lock() {
            forgotten.push(document.to_string());
        }
    }

    /// A receiver that sees every state change.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        self.state.clone()
    }

    /// Asks the engine thread to finish after the current job.
    pub fn shutdown(&self) {
        let _ = self.commands.try_send(Command::Shutdown);
    }
}

struct CachedSequence {
    sequence: Sequence,
    last_used: Instant,
}

struct Engine {
    loaded: LoadedModel,
    sequences: HashMap<String, CachedSequence>,
}

impl Engine {
    fn run(
        model_path: Option<PathBuf>,
        commands: Receiver<Command>,
        state: watch::Sender<EngineState>,
        forgotten: Arc<Mutex<Vec<String>>>,
    ) {
        let started = Instant::now();
        let loaded = rill_model::paths::resolve_model_path(model_path.as_deref())
            .and_then(|path| LoadedModel::load(&path, LoadOptions::default()));
        let mut engine = match loaded {
            Ok(loaded) => {
                tracing::info!("model loaded in {:.2} s", started.elapsed().as_secs_f64());
                let _ = state.send(EngineState::Ready);
                Some(Engine {
                    loaded,
                    sequences: HashMap::new(),
                })
            }
            Err(err) => {
                tracing::error!("cannot load the model: {err}");
                let _ = state.send(EngineState::Failed(err.to_string()));
                None
            }
        };
        while let Ok(command) = commands.recv() {
            let job = match command {
                Command::Complete(job) => job,
                Command::Shutdown => break,
            };
            let Some(engine) = engine.as_mut() else {
                let message = match &*state.borrow() {
                    EngineState::Failed(reason) => format!("the model is not available: {reason}"),
                    _ => "the model is not available".to_string(),
                };
                let _ = job.events.send(EngineEvent::Error(message));
                continue;
            };
            if let Ok(mut forgotten) = forgotten.lock() {
                for document in forgotten.drain(..) {
                    engine.sequences.remove(&document);
                }
            }
            engine.handle(*job);
        }
        tracing::debug!("engine thread stopped");
    }

    fn handle(&mut self, job: CompletionJob) {
        if job.cancel.is_cancelled() {
            let _ = job
                .events
                .send(EngineEvent::Done(CompletionStats::cancelled()));
            return;
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.complete(&job)));
        let event = match outcome {
            Ok(Ok(stats)) => EngineEvent::Done(stats),
            Ok(Err(err)) => EngineEvent::Error(err.to_string()),
            Err(panic) => {
                // The sequence may hold a half-written cache: start that document afresh.
                self.sequences.remove(&job.document);
                let reason = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                tracing::error!("engine panicked on a completion job: {reason}");
                EngineEvent::Error(format!("internal error in the engine: {reason}"))
            }
        };
        let _ = job.events.send(event);
    }

    fn complete(&mut self, job: &CompletionJob) -> rill_model::Result<CompletionStats> {
        let prompt = self.build_prompt(job)?;
        self.evict_if_needed(&job.document);
        let tokenizer = &self.loaded.tokenizer;
        let model = &self.loaded.model;
        let cached = self
            .sequences
            .entry(job.document.clone())
            .or_insert_with(|| CachedSequence {
                sequence: Sequence::new(model),
                last_used: Instant::now(),
            });
        cached.last_used = Instant::now();
        let cancelled = || job.cancel.is_cancelled();
        let generation = generate(
            model,
            tokenizer,
            &mut cached.sequence,
            &prompt,
            &job.params,
            &cancelled,
            |text| {
                // Text decoded after cancellation must never reach the client.
                if !job.cancel.is_cancelled() {
                    let _ = job.events.send(EngineEvent::Text(text.to_string()));
                }
            },
        )?;
        Ok(CompletionStats {
            prompt_tokens: generation.prompt_tokens,
            reused_tokens: generation.reused_tokens,
            generated_tokens: generation.tokens.len(),
            time_to_first_token: generation.time_to_first_token,
            tokens_per_second: generation.tokens_per_second(),
            cancelled: generation.finish == FinishReason::Cancelled || job.cancel.is_cancelled(),
        })
    }

    fn build_prompt(&self, job: &CompletionJob) -> rill_model::Result<Vec<u32>> {
        let tokenizer = &self.loaded.tokenizer;
        let context_length = self.loaded.model.config().context_length;
        let budget = job
            .context_tokens
            .min(context_length.saturating_sub(job.params.max_tokens))
            .saturating_sub(1)
            .max(1);
        let tokens = tokenizer.encode(&job.text_before_cursor)?;
        let lengths = tokens
            .iter()
            .map(|&id| tokenizer.token_bytes(id).map(<[u8]>::len))
            .collect::<rill_model::Result<Vec<_>>>()?;
        let start = prompt::window_start(&job.text_before_cursor, &lengths, budget);
        let mut prompt = Vec::with_capacity(tokens.len() - start + 1);
        prompt.push(tokenizer.bos_id());
        prompt.extend_from_slice(&tokens[start..]);
        Ok(prompt)
    }

    fn evict_if_needed(&mut self, keep: &str) {
        while self.sequences.len() >= MAX_CACHED_DOCUMENTS && !self.sequences.contains_key(keep) {
            let oldest = self
                .sequences
                .iter()
                .min_by_key(|(_, cached)| cached.last_used)
                .map(|(document, _)| document.clone());
            match oldest {
                Some(document) => self.sequences.remove(&document),
                None => break,
            };
        }
    }
}

impl CompletionStats {
    fn cancelled() -> Self {
        Self {
            prompt_tokens: 0,
            reused_tokens: 0,
            generated_tokens: 0,
            time_to_first_token: Duration::ZERO,
            tokens_per_second: 0.0,
            cancelled: true,
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
