//! `workspace/didChangeConfiguration`: applies new settings (pulled with `workspace/configuration` when the client supports it).

use serde_json::Value;
use tower_lsp::lsp_types::{ConfigurationItem, DidChangeConfigurationParams, MessageType};

use std::sync::Arc;

use crate::engine::Reconfigured;
use crate::lsp::session::Session;

pub async fn handle(session: &Arc<Session>, params: DidChangeConfigurationParams) {
    if session.features().configuration_pull {
        pull_configuration(session).await;
    } else {
        apply(session, &params.settings).await;
    }
}

/// Asks the client for the `rill` section and applies it.
pub async fn pull_configuration(session: &Arc<Session>) {
    let items = vec![ConfigurationItem {
        scope_uri: None,
        section: Some("rill".to_string()),
    }];
    match session.client.configuration(items).await {
        Ok(values) => {
            for value in values {
                apply(session, &value).await;
            }
        }
        Err(err) => tracing::warn!("workspace/configuration failed: {err}"),
    }
}

async fn apply(session: &Arc<Session>, settings: &Value) {
    if settings.is_null() {
        return;
    }
    let (issues, old, config) = session.apply_settings(settings);
    crate::lsp::diagnostics::on_config_change(session, &old, &config);
    if let Some(engine) = session.engine.get() {
        match engine.reconfigure(&config) {
            Reconfigured::Unchanged => {}
            // A new backend (local <-> remote) or model: report its start as at initialization.
            Reconfigured::Replaced => {
                crate::lsp::engine_status::report_engine_state(session, engine.state());
            }
            Reconfigured::Reloading(pending) => {
                crate::lsp::engine_status::report_model_reload(session, pending);
            }
        }
        engine.set_cache_budget(crate::engine::store::CacheBudgets::of(&config));
    }
    // Cached suggestions were made with the old settings (length, sampling): start afresh.
    session.suggestions.clear();
    for issue in issues {
        tracing::warn!("configuration: {issue}");
        session
            .client
            .show_message(
                MessageType::WARNING,
                format!("{issue} (keeping the previous value)"),
            )
            .await;
    }
}
