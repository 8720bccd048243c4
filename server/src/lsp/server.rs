//! The tower-lsp `LanguageServer` implementation: each method delegates to its own module under `methods/`.

use std::sync::Arc;

use serde::Deserialize;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::*;
use tower_lsp::{Client, LanguageServer};

use super::methods;
use super::session::Session;
use super::shim::RawInitialize;
use super::stdout_filter::Congestion;
use crate::engine::Starter;
use crate::protocol::{InlineCompletionList, InlineCompletionParams};
use crate::rill_protocol::{
    CacheStatus, DiagnosticsStatus, DidAcceptCompletionParams, DidShowCompletionParams,
    DocumentParams, DocumentText, NextEditParams, NextEditResult, StatsResult,
};

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
        stats: super::stats::Stats,
    ) -> Self {
        Self {
            session: Arc::new(Session::new(client, starter, congestion, stats)),
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

    /// `rill/cacheStatus`.
    pub async fn cache_status(&self) -> Result<CacheStatus> {
        Ok(methods::cache_status::handle(&self.session))
    }

    /// `window/workDoneProgress/cancel`: the user pressed cancel on a reasoning chain's progress.
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        methods::work_done_progress_cancel::handle(&self.session, params);
    }

    /// `rill/diagnosticsStatus`.
    pub async fn diagnostics_status(&self, params: DocumentParams) -> Result<DiagnosticsStatus> {
        methods::diagnostics_status::handle(&self.session, params)
    }

    /// `rill/nextEdit`.
    pub async fn next_edit(&self, params: NextEditParams) -> Result<Option<NextEditResult>> {
        methods::next_edit::handle(&self.session, params)
    }

    /// `rill/nextEdit/dismiss`.
    pub async fn next_edit_dismiss(&self, params: DocumentParams) {
        methods::next_edit_dismiss::handle(&self.session, params);
    }

    /// `rill/stats`.
    pub async fn stats(&self) -> Result<StatsResult> {
        Ok(self.session.stats.report())
    }

    /// `rill/didShowCompletion`.
    pub async fn did_show_completion(&self, params: DidShowCompletionParams) {
        methods::did_show_completion::handle(&self.session, params);
    }

    /// `rill/didAcceptCompletion`.
    pub async fn did_accept_completion(&self, params: DidAcceptCompletionParams) {
        methods::did_accept_completion::handle(&self.session, params);
    }

    /// `rill/documentText`.
    pub async fn document_text(&self, params: DocumentParams) -> Result<DocumentText> {
        methods::document_text::handle(&self.session, params)
    }
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
