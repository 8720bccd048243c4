//! The engine's life as the user sees it: loading progress and `rill/status` when a backend starts, a new `model.path` loading beside the one in use, and settings deferred until a load ends.

use std::sync::Arc;

use tower_lsp::lsp_types::MessageType;

use super::completion_driver::send_status;
use super::progress::WorkDone;
use super::session::Session;
use crate::engine::{EngineState, PendingModel, Reconfigured};
use crate::rill_protocol::StatusParams;

/// The `window/logMessage` that says the engine is ready.
pub const READY_MESSAGE: &str = "rill: ready";

/// The work-done token of the model's loading.
const PROGRESS_TOKEN: &str = "rill/loadModel";

/// Reports the engine's start as work-done progress and `rill/status`, until it is ready or has
/// failed; also used when `engine.backend` changes at runtime.
pub fn report_engine_state(
    session: &Arc<Session>,
    mut state: tokio::sync::watch::Receiver<EngineState>,
) {
    let session = session.clone();
    tokio::spawn(async move {
        // A remote engine starts ready (or failed) at once: there is no loading to show.
        let loads = *state.borrow() == EngineState::Loading;
        let progress = if loads {
            send_status(&session, StatusParams::loading()).await;
            Some(
                WorkDone::begin(
                    &session,
                    PROGRESS_TOKEN,
                    "rill: loading model",
                    false,
                    "reading weights",
                    None,
                )
                .await,
            )
        } else {
            None
        };
        let outcome = loop {
            let current = state.borrow_and_update().clone();
            if current != EngineState::Loading {
                break current;
            }
            if state.changed().await.is_err() {
                break EngineState::Failed("the engine stopped".to_string());
            }
        };
        let message = match &outcome {
            EngineState::Failed(reason) => {
                let remote = session
                    .engine
                    .get()
                    .is_some_and(|engine| engine.is_remote());
                let what = if remote {
                    "cannot use the completion server"
                } else {
                    "cannot load the model"
                };
                session
                    .client
                    .show_message(MessageType::ERROR, format!("rill: {what}: {reason}"))
                    .await;
                send_status(&session, StatusParams::error(reason.clone())).await;
                format!("failed: {reason}")
            }
            _ => {
                send_status(&session, StatusParams::ready_idle()).await;
                // Every client learns it, `rill/status` or not (Helix shows it in its log).
                session
                    .client
                    .log_message(MessageType::INFO, READY_MESSAGE)
                    .await;
                // Editors restore their open tabs while the model loads: those documents are
                // pre-warmed now, most recently used first.
                crate::lsp::prewarm::open_documents(&session);
                "model ready".to_string()
            }
        };
        if let Some(progress) = progress {
            progress.end(&session, &message).await;
        }
        apply_deferred_settings(&session);
    });
}

/// Waits for a new `model.path` to load beside the model in use: once it is ready it replaces
/// that model; if it cannot be loaded, the user is told why (`window/showMessage` and the
/// `message` of `rill/status`) and the model in use keeps serving.
pub fn report_model_reload(session: &Arc<Session>, pending: PendingModel) {
    let session = session.clone();
    tokio::spawn(async move {
        let mut state = pending.state();
        let outcome = loop {
            let current = state.borrow_and_update().clone();
            if current != EngineState::Loading {
                break current;
            }
            if state.changed().await.is_err() {
                break EngineState::Failed("the engine stopped".to_string());
            }
        };
        let path = pending
            .path
            .as_ref()
            .map_or("the default path".to_string(), |path| {
                path.display().to_string()
            });
        let Some(engine) = session.engine.get() else {
            return;
        };
        match outcome {
            EngineState::Failed(reason) => {
                engine.reload_failed(pending);
                let message = format!(
                    "cannot load the model at {path} (model.path): {reason}; still using the previous model"
                );
                tracing::error!("{message}");
                session
                    .client
                    .show_message(MessageType::ERROR, format!("rill: {message}"))
                    .await;
                let mut status = StatusParams::ready_idle();
                status.message = Some(message);
                send_status(&session, status).await;
            }
            _ => {
                if engine.install(pending) {
                    tracing::info!("now serving the model at {path}");
                    send_status(&session, StatusParams::ready_idle()).await;
                    crate::lsp::prewarm::open_documents(&session);
                }
            }
        }
        apply_deferred_settings(&session);
    });
}

/// Applies engine settings that changed while a model loaded (they wait, so that no two models
/// load at once).
fn apply_deferred_settings(session: &Arc<Session>) {
    let Some(engine) = session.engine.get() else {
        return;
    };
    match engine.reconfigure(&session.config()) {
        Reconfigured::Unchanged => {}
        Reconfigured::Replaced => report_engine_state(session, engine.state()),
        Reconfigured::Reloading(pending) => report_model_reload(session, pending),
    }
}
