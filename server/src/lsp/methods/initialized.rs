//! `initialized`: pulls configuration, starts the engine, and reports model loading as work-done progress.

use tower_lsp::lsp_types::notification::Progress;
use tower_lsp::lsp_types::request::WorkDoneProgressCreate;
use tower_lsp::lsp_types::*;

use super::did_change_configuration::pull_configuration;
use crate::engine::{EngineHandle, EngineState, PendingModel, Reconfigured};
use crate::lsp::completion_driver::send_status;
use crate::lsp::session::Session;
use crate::protocol::StatusParams;

const PROGRESS_TOKEN: &str = "rill/loadModel";

pub async fn handle(session: &std::sync::Arc<Session>) {
    // The specification sends `initialized` once. A repeat would start (and load) another engine
    // that `session.engine` cannot hold, so each repeat would leak a copy of the model.
    if session
        .initialized
        .swap(true, std::sync::atomic::Ordering::SeqCst)
    {
        tracing::warn!("ignoring a repeated `initialized` notification: the engine has started");
        return;
    }
    let pending = std::mem::take(&mut *crate::lsp::session::lock(
        &session.pending_config_issues,
    ));
    for issue in pending {
        session
            .client
            .show_message(
                MessageType::WARNING,
                format!("{issue} (keeping the default)"),
            )
            .await;
    }
    if session.features().configuration_pull {
        pull_configuration(session).await;
    }
    let config = session.config();
    let engine = EngineHandle::start(&config, session.starter.clone());
    let state = engine.state();
    let notices = engine.take_notices();
    if !session.set_engine(engine) {
        return;
    }
    if let Some(notices) = notices {
        tokio::spawn(crate::lsp::remote_notices::forward(
            session.clone(),
            notices,
        ));
    }
    // Documents opened before the engine existed are scored now; later ones on `didOpen`.
    crate::lsp::diagnostics::Diagnostics::start_publisher(session);
    let open = crate::lsp::session::lock(&session.documents).uris();
    for uri in open {
        crate::lsp::diagnostics::on_open(session, &uri);
    }
    report_engine_state(session, state);
}

/// Reports the engine's start as work-done progress and `rill/status`, until it is ready or has
/// failed; also used when `engine.backend` changes at runtime.
pub fn report_engine_state(
    session: &std::sync::Arc<Session>,
    mut state: tokio::sync::watch::Receiver<EngineState>,
) {
    let session = session.clone();
    tokio::spawn(async move {
        let token = NumberOrString::String(PROGRESS_TOKEN.to_string());
        // A remote engine starts ready (or failed) at once: there is no loading to show.
        let loads = *state.borrow() == EngineState::Loading;
        let progress = loads
            && session.features().work_done_progress
            && session
                .client
                .send_request::<WorkDoneProgressCreate>(WorkDoneProgressCreateParams {
                    token: token.clone(),
                })
                .await
                .is_ok();
        if loads {
            send_status(&session, StatusParams::loading()).await;
        }
        if progress {
            report(
                &session,
                &token,
                WorkDoneProgress::Begin(WorkDoneProgressBegin {
                    title: "rill: loading model".to_string(),
                    cancellable: Some(false),
                    message: Some("reading weights".to_string()),
                    percentage: None,
                }),
            )
            .await;
        }
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
                // Editors restore their open tabs while the model loads: those documents are
                // pre-warmed now, most recently used first.
                crate::lsp::prewarm::open_documents(&session);
                "model ready".to_string()
            }
        };
        if progress {
            report(
                &session,
                &token,
                WorkDoneProgress::End(WorkDoneProgressEnd {
                    message: Some(message),
                }),
            )
            .await;
        }
        apply_deferred_settings(&session);
    });
}

/// Waits for a new `model.path` to load beside the model in use: once it is ready it replaces
/// that model; if it cannot be loaded, the user is told why (`window/showMessage` and the
/// `message` of `rill/status`) and the model in use keeps serving.
pub fn report_model_reload(session: &std::sync::Arc<Session>, pending: PendingModel) {
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
fn apply_deferred_settings(session: &std::sync::Arc<Session>) {
    let Some(engine) = session.engine.get() else {
        return;
    };
    match engine.reconfigure(&session.config()) {
        Reconfigured::Unchanged => {}
        Reconfigured::Replaced => report_engine_state(session, engine.state()),
        Reconfigured::Reloading(pending) => report_model_reload(session, pending),
    }
}

async fn report(session: &Session, token: &NumberOrString, value: WorkDoneProgress) {
    session
        .client
        .send_notification::<Progress>(ProgressParams {
            token: token.clone(),
            value: ProgressParamsValue::WorkDone(value),
        })
        .await;
}
