//! `textDocument/didOpen`: starts mirroring a document and pre-warms its prompt in the background.

use tower_lsp::lsp_types::DidOpenTextDocumentParams;

use std::sync::Arc;

use crate::lsp::session::{lock, Session};
use crate::lsp::{cross_file, diagnostics, prewarm};

pub fn handle(session: &Arc<Session>, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    let uri = document.uri.clone();
    lock(&session.documents).open(
        document.uri,
        &document.text,
        document.version,
        document.language_id,
    );
    // Prefill the new document's prompt while the user reads it, so the first completion is fast.
    // Scoring is queued first: for a document that fits the completion window it fills the same
    // cache pre-warming would, so the pre-warm that follows finds its prompt cached.
    prewarm::request(session, &uri);
    diagnostics::on_open(session, &uri);
    // Its first lines become context for the other documents' prompts once the user pauses.
    let opened = cross_file::on_open(session, &uri);
    prewarm::refresh_when_idle(session, opened);
}
