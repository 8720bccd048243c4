//! The tower-lsp `LanguageServer` implementation: each method delegates to its own module under `methods/`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::*;
use tower_lsp::{Client, LanguageServer};

use super::methods;
use super::session::Session;
use super::shim::RawInitialize;
use super::stdout_filter::Congestion;
use crate::engine::Starter;
use crate::protocol::{InlineCompletionList, InlineCompletionParams};

pub struct Backend {
    pub session: Arc<Session>,
    raw_initialize: RawInitialize,
}

impl Backend {
    pub fn new(
        client: Client,
        raw_initialize: RawInitialize,
        starter: Starter,
        congestion: Congestion,
    ) -> Self {
        Self {
            session: Arc::new(Session::new(client, starter, congestion)),
            raw_initialize,
        }
    }

    /// `textDocument/inlineCompletion` (LSP 3.18), registered as a custom method because
    /// lsp-types 0.94 predates it.
    pub async fn inline_completion(
        &self,
        params: InlineCompletionRequest,
    ) -> Result<InlineCompletionList> {
        methods::inline_completion::handle(&self.session, params).await
    }

    /// `rill/cacheStatus`: what the engine's KV caches hold now (documents, tokens, bytes), for a
    /// status display and for tests that wait for background pre-warming.
    pub async fn cache_status(&self) -> Result<CacheStatus> {
        let report = self
            .session
            .engine
            .get()
            .map(|engine| engine.cache_report())
            .unwrap_or_default();
        Ok(CacheStatus {
            cached_documents: report.documents,
            cached_tokens: report.tokens,
            cached_bytes: report.bytes,
            bytes_per_cached_token: report.bytes_per_token,
        })
    }

    /// `window/workDoneProgress/cancel`: the user pressed cancel on a reasoning chain's progress.
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        super::reasoning::cancel_progress(&self.session, &params.token);
    }

    /// `rill/diagnosticsStatus`: whether a document's model diagnostics are up to date, and how
    /// many there are; tests and benchmarks wait on it instead of guessing from silence.
    pub async fn diagnostics_status(
        &self,
        params: DocumentTextParams,
    ) -> Result<serde_json::Value> {
        let uri = params.text_document.uri;
        let version = super::session::lock(&self.session.documents)
            .get(&uri)
            .map(|document| document.version())
            .ok_or_else(|| {
                super::completion_driver::invalid_params(format!("document {uri} is not open"))
            })?;
        Ok(serde_json::json!({
            "version": version,
            "pending": self.session.diagnostics.pending(&uri),
            "flags": self.session.diagnostics.flags(&uri).len(),
        }))
    }

    /// `rill/documentText`: the server's copy of a document, so that clients and tests can check
    /// that the mirror equals what they sent.
    pub async fn document_text(&self, params: DocumentTextParams) -> Result<DocumentText> {
        let documents = super::session::lock(&self.session.documents);
        let uri = params.text_document.uri;
        let document = documents.get(&uri).ok_or_else(|| {
            super::completion_driver::invalid_params(format!("document {uri} is not open"))
        })?;
        Ok(DocumentText {
            version: document.version(),
            text: document.text(),
        })
    }
}

/// The result of `rill/cacheStatus`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    pub cached_documents: usize,
    pub cached_tokens: usize,
    pub cached_bytes: usize,
    pub bytes_per_cached_token: usize,
}

/// Params of `rill/documentText`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentTextParams {
    pub text_document: TextDocumentIdentifier,
}

/// Result of `rill/documentText`: the server's mirror of a document.
#[derive(Debug, Serialize)]
pub struct DocumentText {
    pub version: i32,
    pub text: String,
}

/// Inline completion params plus the JSON-RPC id, which the shim copies into the params because
/// tower-lsp does not pass ids to handlers and partial notifications must name their request.
#[derive(Debug, Deserialize)]
pub struct InlineCompletionRequest {
    #[serde(flatten)]
    pub params: InlineCompletionParams,
    #[serde(rename = "rillRequestId", default)]
    pub request_id: Option<NumberOrString>,
}

#[tower_lsp::async_trait]
impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        methods::initialize::handle(&self.session, params, self.raw_initialize.get())
    }

    async fn initialized(&self, _: InitializedParams) {
        methods::initialized::handle(&self.session).await;
    }

    async fn shutdown(&self) -> Result<()> {
        if let Some(engine) = self.session.engine.get() {
            engine.shutdown();
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        methods::did_open::handle(&self.session, params);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        methods::did_change::handle(&self.session, params);
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        methods::did_close::handle(&self.session, params);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        methods::did_change_configuration::handle(&self.session, params).await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        methods::completion::handle(&self.session, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        methods::code_action::handle(&self.session, params)
    }

    async fn execute_command(
        &self,
        params: ExecuteCommandParams,
    ) -> Result<Option<serde_json::Value>> {
        methods::execute_command::handle(&self.session, params).await
    }
}
