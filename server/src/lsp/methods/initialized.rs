//! `initialized`: pulls configuration, starts the engine, and reports model loading as work-done progress.

use tower_lsp::lsp_types::*;

use super::did_change_configuration::pull_configuration;
use crate::engine::EngineHandle;
use crate::lsp::session::Session;

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
    forward_log(session);
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
    crate::lsp::diagnostics::start_publisher(session);
    let open = crate::lsp::session::lock(&session.documents).uris();
    for uri in open {
        crate::lsp::diagnostics::on_open(session, &uri);
    }
    crate::lsp::engine_status::report_engine_state(session, state);
}

/// Sends the log's information lines to the editor's log from now on (see [`crate::logging`]).
fn forward_log(session: &Session) {
    let Some(mut lines) = crate::logging::take_client_lines() else {
        return;
    };
    let client = session.client.clone();
    tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            let kind = match line.level {
                tracing::Level::ERROR => MessageType::ERROR,
                tracing::Level::WARN => MessageType::WARNING,
                _ => MessageType::INFO,
            };
            client.log_message(kind, line.text).await;
        }
    });
}
