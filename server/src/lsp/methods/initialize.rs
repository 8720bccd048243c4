//! `initialize`: negotiates the position encoding, records client features, reads initializationOptions.

use serde_json::Value;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::*;

use crate::lsp::capabilities::ClientFeatures;
use crate::lsp::session::{lock, Session};

pub fn handle(
    session: &Session,
    params: InitializeParams,
    raw: Option<Value>,
) -> Result<InitializeResult> {
    let features = ClientFeatures::from_initialize(&params, raw.as_ref());
    let _ = session.features.set(features);
    if let Some(options) = &params.initialization_options {
        let (issues, _, _) = session.apply_settings(options);
        for issue in issues {
            // The client cannot show messages before `initialized`, which shows these.
            tracing::warn!("initializationOptions: {issue}");
            lock(&session.pending_config_issues).push(issue.to_string());
        }
    }
    tracing::info!(
        "client {}: encoding {:?}, inline completion {}, streaming {}",
        params
            .client_info
            .as_ref()
            .map_or("unknown", |info| info.name.as_str()),
        features.encoding,
        features.inline_completion,
        features.streaming
    );
    Ok(InitializeResult {
        capabilities: ServerCapabilities {
            position_encoding: Some(features.encoding.kind()),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    ..TextDocumentSyncOptions::default()
                },
            )),
            completion_provider: Some(CompletionOptions::default()),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![
                    CodeActionKind::QUICKFIX,
                    CodeActionKind::REFACTOR_REWRITE,
                ]),
                resolve_provider: Some(false),
                ..CodeActionOptions::default()
            })),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: vec![crate::lsp::reasoning::REASON_COMMAND.to_string()],
                ..ExecuteCommandOptions::default()
            }),
            ..ServerCapabilities::default()
        },
        server_info: Some(ServerInfo {
            name: "rill".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
    })
}
