//! The local backend: the engine thread that owns the model and every document's cached sequence, fed through the inbox.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rill_model::runtime::{configure_threads, ThreadSettings};
use tokio::sync::watch;

use super::backend::Backend;
use super::inbox::Inbox;
use super::store::CacheBudgets;
use super::{
    worker, BackgroundJob, CacheReport, CompletionJob, EngineState, ModelInfo, SubmitError,
};
use crate::config::{Backend as BackendKind, Config};

/// Interactive jobs waiting for the engine at most; beyond that, requests are answered empty at once.
const QUEUE_CAPACITY: usize = 32;

/// The handles on the local engine thread.
pub struct LocalEngine {
    inbox: Arc<Inbox>,
    state: watch::Receiver<EngineState>,
    report: Arc<Mutex<CacheReport>>,
    model_info: Arc<OnceLock<ModelInfo>>,
}

/// The thread settings `engine.threads` asks for.
pub fn thread_settings(config: &Config) -> ThreadSettings {
    let mut threads = ThreadSettings::default();
    if let Some(count) = config.engine_threads {
        threads.threads = count;
    }
    threads
}

impl LocalEngine {
    /// Starts the engine thread, which loads the model in the background.
    pub fn start(
        model_path: Option<PathBuf>,
        threads: ThreadSettings,
        cache_budgets: CacheBudgets,
    ) -> Self {
        let inbox = Arc::new(Inbox::new(QUEUE_CAPACITY));
        let (state_sender, state) = watch::channel(EngineState::Loading);
        let report = Arc::new(Mutex::new(CacheReport::default()));
        let model_info = Arc::new(OnceLock::new());
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
                    cache_budgets,
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

    /// The engine `config` asks for (`model.path`, `engine.threads`, `engine.cacheBudgetMb`, `engine.diskCacheMb`).
    pub fn start_for(config: &Config) -> Self {
        Self::start(
            config.model_path.clone(),
            thread_settings(config),
            CacheBudgets::of(config),
        )
    }
}

impl Backend for LocalEngine {
    fn kind(&self) -> Option<BackendKind> {
        Some(BackendKind::Local)
    }

    fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        self.inbox.submit(job)
    }

    fn submit_background(&self, job: BackgroundJob) {
        self.inbox.submit_background(job);
    }

    fn state(&self) -> watch::Receiver<EngineState> {
        self.state.clone()
    }

    fn model_info(&self) -> Option<ModelInfo> {
        self.model_info.get().cloned()
    }

    fn forget(&self, document: &str) {
        self.inbox.forget(document);
    }

    fn set_cache_budget(&self, budgets: CacheBudgets) {
        self.inbox.set_cache_budget(budgets);
    }

    fn cache_report(&self) -> CacheReport {
        *self
            .report
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn shutdown(&self) {
        self.inbox.shutdown();
    }
}

impl Drop for LocalEngine {
    /// The thread owns the model: when the last handle on it goes, it must stop, or the model
    /// stays in memory for good.
    fn drop(&mut self) {
        self.inbox.shutdown();
    }
}
