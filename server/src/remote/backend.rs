//! The remote engine as a [`Backend`]: completions go to the server; background work (scoring, pre-warming) is answered at once, because few servers return the log-probabilities of given text.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::{RemoteEngine, RemoteNotice, RemoteSettings};
use crate::config::{Backend as BackendKind, Config};
use crate::engine::diagnose::DiagnoseEvent;
use crate::engine::{
    Backend, BackgroundJob, BackgroundKind, CompletionJob, EngineState, ModelInfo, SubmitError,
};

/// The remote engine (absent when its settings are unusable) and its state.
pub struct RemoteBackend {
    engine: Option<Arc<RemoteEngine>>,
    state: watch::Sender<EngineState>,
}

impl RemoteBackend {
    /// Starts the engine `config` describes; it must be started on a tokio runtime, on which its
    /// requests then run. Unusable settings give a backend in the failed state that says why.
    pub fn start(config: &Config, notices: mpsc::UnboundedSender<RemoteNotice>) -> Self {
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

impl Backend for RemoteBackend {
    fn kind(&self) -> Option<BackendKind> {
        Some(BackendKind::Openai)
    }

    fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        match &self.engine {
            Some(engine) => engine.submit(job),
            None => Err(SubmitError::Stopped),
        }
    }

    /// Scoring needs the log-probabilities of given text, which few servers return, and
    /// pre-warming a server's cache would cost it a request per pause: each job is answered at
    /// once, so nothing waits for it.
    fn submit_background(&self, job: BackgroundJob) {
        match job.kind {
            BackgroundKind::Diagnose(diagnose) => {
                let _ = diagnose.events.send(DiagnoseEvent::Done);
            }
            BackgroundKind::Prefer(prefer) => {
                let _ = prefer
                    .answer
                    .send(Err("the remote engine does not score text".to_string()));
            }
            // No scoring: only the propagated replacements, unchecked (see `rill/status`).
            BackgroundKind::NextEdit(next_edit) => {
                let _ = next_edit
                    .answer
                    .send(Ok(crate::engine::next_edit::without_scoring(&next_edit)));
            }
            BackgroundKind::Prewarm { .. } | BackgroundKind::Housekeeping => {}
        }
    }

    fn state(&self) -> watch::Receiver<EngineState> {
        self.state.subscribe()
    }

    /// The remote backend knows nothing of its model's template, so prompts for it are written
    /// for a base model.
    fn model_info(&self) -> Option<ModelInfo> {
        Some(ModelInfo::default())
    }

    fn reports_failures_itself(&self) -> bool {
        true
    }

    fn scores_text(&self) -> bool {
        false
    }

    /// New server settings apply in place; settings unusable before or now need a fresh start
    /// (so the state says why), unless they are unusable for the same reason as before.
    fn update(&self, config: &Config) -> bool {
        match (&self.engine, RemoteSettings::from_config(config)) {
            (Some(engine), Ok(settings)) => engine.update(settings).is_ok(),
            (None, Err(reason)) => *self.state.borrow() == EngineState::Failed(reason),
            _ => false,
        }
    }
}
