//! The inference engine actor: one thread owns the model and every document's cached sequence; the async side only sends it jobs.
//!
//! Jobs arrive through the [`inbox`]: a bounded queue of interactive completions and, at lower
//! priority, background work (pre-warming a document's prompt). Each completion carries a cancel
//! token, checked before every forward pass, and a channel on which the engine reports text,
//! completion or failure. A panic while running a job becomes an error for that job only: the
//! engine drops that document's sequence (whose cache may be half-written) and serves the next job.
//!
//! With `engine.backend = "openai"` the handle sends completion jobs to the [`crate::remote`]
//! engine instead, and the model is not loaded at all.

mod cancel;
pub mod diagnose;
mod inbox;
pub mod prefer;
pub mod prompt;
pub mod store;
mod worker;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rill_model::generate::GenerationParams;
use rill_model::runtime::{configure_threads, ThreadSettings};
use tokio::sync::{mpsc, watch};

use crate::config::{Backend as BackendKind, Config};
use crate::remote::{RemoteEngine, RemoteNotice, RemoteSettings};
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
    },
    /// Score a reasoning chain's result against the selection it rewrites (run whole: the user
    /// waits for it, and it is short).
    Prefer(Box<prefer::PreferJob>),
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
            BackgroundKind::Prefer(_) => 5,
        };
        (self.document.clone(), kind)
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
    /// The candidate first lines, best first, sent before any text: the text that follows
    /// continues the first of them.
    Candidates(Vec<Candidate>),
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

/// The async side's handle on the engine: the local engine thread, or the remote engine when
/// `engine.backend` is `"openai"`. Both take the same jobs and report the same events, so the LSP
/// side does not care which one runs; [`EngineHandle::reconfigure`] switches between them.
pub struct EngineHandle {
    backend: RwLock<Backend>,
    notice_sender: mpsc::UnboundedSender<RemoteNotice>,
    notices: Mutex<Option<mpsc::UnboundedReceiver<RemoteNotice>>>,
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
        self.local.state.clone()
    }
}

/// The engine in use. Cloning clones handles, not engines.
#[derive(Clone)]
enum Backend {
    Local(Arc<LocalEngine>),
    Remote(Arc<RemoteBackend>),
}

/// The handles on the local engine thread.
struct LocalEngine {
    inbox: Arc<Inbox>,
    state: watch::Receiver<EngineState>,
    report: Arc<Mutex<CacheReport>>,
    model_info: Arc<std::sync::OnceLock<ModelInfo>>,
}

/// The remote engine (absent when its settings are unusable) and its state.
struct RemoteBackend {
    engine: Option<Arc<RemoteEngine>>,
    state: watch::Sender<EngineState>,
}

impl LocalEngine {
    fn start(
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
}

impl Drop for LocalEngine {
    /// The thread owns the model: when the last handle on it goes, it must stop, or the model
    /// stays in memory for good.
    fn drop(&mut self) {
        self.inbox.shutdown();
    }
}

impl RemoteBackend {
    fn start(config: &Config, notices: mpsc::UnboundedSender<RemoteNotice>) -> Self {
        let engine = RemoteSettings::from_config(config).and_then(|settings| {
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| "the remote engine needs a tokio runtime".to_string())?;
            tracing::info!(
                "engine: OpenAI-compatible server at {} (model {}, FIM template {}); model diagnostics and pre-warming are off with this backend",
                settings.completions_url(),
                settings.model.as_deref().unwrap_or("the server's default"),
                settings.fim().as_str(),
            );
            RemoteEngine::new(settings, notices, runtime)
        });
        match engine {
            Ok(engine) => Self {
                engine: Some(Arc::new(engine)),
                state: watch::channel(EngineState::Ready).0,
            },
            Err(reason) => {
                tracing::error!("the remote engine cannot start: {reason}");
                Self {
                    engine: None,
                    state: watch::channel(EngineState::Failed(reason)).0,
                }
            }
        }
    }
}

/// The thread settings `engine.threads` asks for.
fn thread_settings(config: &Config) -> ThreadSettings {
    let mut threads = ThreadSettings::default();
    if let Some(count) = config.engine_threads {
        threads.threads = count;
    }
    threads
}

impl EngineHandle {
    /// Starts the local engine thread, which loads the model in the background.
    pub fn start(
        model_path: Option<PathBuf>,
        threads: ThreadSettings,
        cache_budget_bytes: usize,
    ) -> Self {
        let local = LocalEngine::start(model_path, threads, cache_budget_bytes);
        Self::with_backend(|_| Backend::Local(Arc::new(local)))
    }

    /// Starts the engine `engine.backend` names: the local thread, or the remote engine (which
    /// must be started on a tokio runtime, on which its requests then run).
    pub fn start_for(config: &Config) -> Self {
        let handle = Self::with_backend(|notices| Self::backend_for(config, notices));
        handle.note_backend(config);
        handle
    }

    fn with_backend(backend: impl FnOnce(mpsc::UnboundedSender<RemoteNotice>) -> Backend) -> Self {
        let (notice_sender, notices) = mpsc::unbounded_channel();
        Self {
            backend: RwLock::new(backend(notice_sender.clone())),
            notice_sender,
            notices: Mutex::new(Some(notices)),
            models: Mutex::new(ModelRequest::default()),
        }
    }

    /// Notes that a local engine for `config` starts (or the remote one): whatever loads for an
    /// older request is stale from now on.
    fn note_backend(&self, config: &Config) {
        let mut models = lock(&self.models);
        models.serving = config.model_path.clone();
        models.wanted = config.model_path.clone();
        models.generation += 1;
    }

    fn backend_for(config: &Config, notices: mpsc::UnboundedSender<RemoteNotice>) -> Backend {
        match config.engine_backend {
            BackendKind::Local => Backend::Local(Arc::new(LocalEngine::start(
                config.model_path.clone(),
                thread_settings(config),
                config.cache_budget_bytes(),
            ))),
            BackendKind::Openai => Backend::Remote(Arc::new(RemoteBackend::start(config, notices))),
        }
    }

    /// Applies changed settings: switches backend when `engine.backend` changed (stopping the
    /// local thread, which frees the model, or starting it), gives the remote engine its new
    /// server settings, or loads a new `model.path`.
    pub fn reconfigure(&self, config: &Config) -> Reconfigured {
        let current = self.current();
        match (&current, config.engine_backend) {
            (Backend::Local(local), BackendKind::Local) => self.reload_model(local, config),
            (Backend::Remote(remote), BackendKind::Openai) => {
                let updated = match (&remote.engine, RemoteSettings::from_config(config)) {
                    (Some(engine), Ok(settings)) => engine.update(settings).is_ok(),
                    // Still unusable for the same reason: nothing new to report.
                    (None, Err(reason)) => *remote.state.borrow() == EngineState::Failed(reason),
                    _ => false,
                };
                if updated {
                    return Reconfigured::Unchanged;
                }
                // Unusable before or now: start afresh so the state says why.
                self.replace(Self::backend_for(config, self.notice_sender.clone()));
                self.note_backend(config);
                Reconfigured::Replaced
            }
            _ => {
                tracing::info!(
                    "engine.backend is now \"{}\"",
                    config.engine_backend.as_str()
                );
                self.replace(Self::backend_for(config, self.notice_sender.clone()));
                self.note_backend(config);
                Reconfigured::Replaced
            }
        }
    }

    /// Starts loading `config.model_path` when it is not the path asked for last. A model that
    /// serves keeps serving until the new one is ready; an engine still loading, or one that
    /// failed, has nothing worth keeping and is replaced at once.
    fn reload_model(&self, local: &LocalEngine, config: &Config) -> Reconfigured {
        let mut models = lock(&self.models);
        if config.model_path == models.wanted {
            return Reconfigured::Unchanged;
        }
        if models.reloading || *local.state.borrow() == EngineState::Loading {
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
        let fresh = LocalEngine::start(
            config.model_path.clone(),
            thread_settings(config),
            config.cache_budget_bytes(),
        );
        if *local.state.borrow() != EngineState::Ready {
            // The model in use failed to load: nothing worth keeping.
            models.serving = config.model_path.clone();
            drop(models);
            self.replace(Backend::Local(Arc::new(fresh)));
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
            || !matches!(self.current(), Backend::Local(_))
            || *pending.local.state.borrow() != EngineState::Ready
        {
            return false;
        }
        models.serving = pending.path.clone();
        drop(models);
        self.replace(Backend::Local(pending.local));
        true
    }

    fn replace(&self, backend: Backend) {
        let old = std::mem::replace(
            &mut *self
                .backend
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            backend,
        );
        if let Backend::Local(local) = old {
            local.inbox.shutdown();
        }
    }

    fn current(&self) -> Backend {
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

    /// The remote engine's notices (failure episodes, recoveries); `None` after the first call.
    pub fn take_notices(&self) -> Option<mpsc::UnboundedReceiver<RemoteNotice>> {
        self.notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Whether the engine reports its failures itself (as [`RemoteNotice`]s, once per episode):
    /// then a failed job answers its request empty instead of as an error.
    pub fn reports_failures_itself(&self) -> bool {
        matches!(self.current(), Backend::Remote(_))
    }

    /// Whether completions come from a remote server.
    pub fn is_remote(&self) -> bool {
        self.reports_failures_itself()
    }

    /// The loaded model's prompt facts; `None` until the model has loaded. The remote backend
    /// knows nothing of its model's template, so prompts for it are written for a base model.
    pub fn model_info(&self) -> Option<ModelInfo> {
        match self.current() {
            Backend::Local(local) => local.model_info.get().cloned(),
            Backend::Remote(_) => Some(ModelInfo::default()),
        }
    }

    /// Queues a completion without waiting.
    pub fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        match self.current() {
            Backend::Local(local) => local.inbox.submit(job),
            Backend::Remote(remote) => match &remote.engine {
                Some(engine) => engine.submit(job),
                None => Err(SubmitError::Stopped),
            },
        }
    }

    /// Queues background work; a newer job for the same document replaces a pending one.
    ///
    /// The remote backend does none: scoring needs the log-probabilities of given text, which
    /// few servers return, and pre-warming a server's cache would cost it a request per pause.
    /// A diagnostics job is answered as done with no flags, so nothing waits for it.
    pub fn submit_background(&self, job: BackgroundJob) {
        match self.current() {
            Backend::Local(local) => local.inbox.submit_background(job),
            Backend::Remote(_) => match job.kind {
                BackgroundKind::Diagnose(diagnose) => {
                    let _ = diagnose.events.send(diagnose::DiagnoseEvent::Done);
                }
                BackgroundKind::Prefer(prefer) => {
                    let _ = prefer
                        .answer
                        .send(Err("the remote engine does not score text".to_string()));
                }
                BackgroundKind::Prewarm { .. } | BackgroundKind::Housekeeping => {}
            },
        }
    }

    /// Frees the cached sequence of a closed document before the next job runs.
    pub fn forget(&self, document: &str) {
        if let Backend::Local(local) = self.current() {
            local.inbox.forget(document);
        }
    }

    /// Changes the memory budget over all documents' caches.
    pub fn set_cache_budget(&self, bytes: usize) {
        if let Backend::Local(local) = self.current() {
            local.inbox.set_cache_budget(bytes);
        }
    }

    /// What the caches hold after the last job (nothing with the remote backend).
    pub fn cache_report(&self) -> CacheReport {
        match self.current() {
            Backend::Local(local) => *local
                .report
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
            Backend::Remote(_) => CacheReport::default(),
        }
    }

    /// A receiver that sees every state change of the engine in use now.
    pub fn state(&self) -> watch::Receiver<EngineState> {
        match self.current() {
            Backend::Local(local) => local.state.clone(),
            Backend::Remote(remote) => remote.state.subscribe(),
        }
    }

    /// Asks the engine thread to finish after the current job.
    pub fn shutdown(&self) {
        if let Backend::Local(local) = self.current() {
            local.inbox.shutdown();
        }
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
