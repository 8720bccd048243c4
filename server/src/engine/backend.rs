//! The trait every inference backend implements (the local engine thread, the remote server, the scripted fake of the tests), so the LSP side never knows which one serves.

use tokio::sync::watch;

use super::store::CacheBudgets;
use super::{BackgroundJob, CacheReport, CompletionJob, EngineState, ModelInfo, SubmitError};
use crate::config::{Backend as BackendKind, Config};

/// One way of running completions and background work. Every method returns at once: the work
/// runs elsewhere (the engine thread, the remote server's requests, the fake's thread) and
/// reports on the channels the jobs carry.
pub trait Backend: Send + Sync {
    /// The `engine.backend` setting this backend serves; `None` for one a test built, which
    /// settings never replace.
    fn kind(&self) -> Option<BackendKind>;

    /// Queues a completion without waiting. Its events end with exactly one `Done` or `Error`.
    fn submit(&self, job: CompletionJob) -> Result<(), SubmitError>;

    /// Queues background work; a newer job of the same key replaces a pending one. A backend
    /// that cannot do a kind of work answers its channel at once (as done, or as an error), so
    /// nothing waits for it.
    fn submit_background(&self, job: BackgroundJob);

    /// A receiver that sees every state change.
    fn state(&self) -> watch::Receiver<EngineState>;

    /// The loaded model's prompt facts; `None` until it has loaded.
    fn model_info(&self) -> Option<ModelInfo>;

    /// Frees the cached sequences of a closed document.
    fn forget(&self, _document: &str) {}

    /// Changes the memory and disk budgets over all documents' caches.
    fn set_cache_budget(&self, _budgets: CacheBudgets) {}

    /// What the caches hold after the last job.
    fn cache_report(&self) -> CacheReport {
        CacheReport::default()
    }

    /// Whether the backend reports its failures itself (as [`super::BackendNotice`]s, once per
    /// episode): then a failed job answers its request empty instead of as an error.
    fn reports_failures_itself(&self) -> bool {
        false
    }

    /// Whether the backend can score given text (diagnostics, the reasoning guard that asks the
    /// model to prefer a result).
    fn scores_text(&self) -> bool {
        true
    }

    /// Applies changed settings in place; false when the backend must be started afresh.
    fn update(&self, _config: &Config) -> bool {
        false
    }

    /// Stops after the current job (a backend that holds a model frees it).
    fn shutdown(&self) {}
}
