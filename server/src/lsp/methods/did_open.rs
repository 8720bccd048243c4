//! `textDocument/didOpen`: starts mirroring a document and pre-warms its prompt in the background.

use tower_lsp::lsp_types::DidOpenTextDocumentParams;

use crate::lsp::prewarm;
use crate::lsp::session::{lock, Session};

pub fn handle(session: &Session, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    let uri = document.uri.clone();
    lock(&session.documents).open(
        document.uri,
        &document.text,
        document.version,
        document.language_id,
    );
    // Prefill the new document's prompt while the user reads it, so the first completion is fast.
    prewarm::request(session, &uri);
}
