//! `textDocument/didClose`: frees the mirror, cancels the document's completion and drops its cached sequence.

use tower_lsp::lsp_types::DidCloseTextDocumentParams;

use std::sync::Arc;

use crate::lsp::session::{lock, Session};
use crate::lsp::{cross_file, diagnostics, next_edit, prewarm};

pub fn handle(session: &Arc<Session>, params: DidCloseTextDocumentParams) {
    let uri = params.text_document.uri;
    if let Err(err) = lock(&session.documents).close(&uri) {
        tracing::warn!("didClose ignored: {err}");
    }
    session.cancel_requests_for(&uri);
    session.suggestions.forget(&uri);
    prewarm::forget(session, &uri);
    cross_file::on_close(session, &uri);
    diagnostics::on_close(session, &uri);
    next_edit::on_close(session, &uri);
    crate::lsp::reasoning::forget(session, &uri);
    if let Some(engine) = session.engine.get() {
        engine.forget(uri.as_str());
    }
}
