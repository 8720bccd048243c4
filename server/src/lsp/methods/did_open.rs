//! `textDocument/didOpen`: starts mirroring a document.

use tower_lsp::lsp_types::DidOpenTextDocumentParams;

use crate::lsp::session::{lock, Session};

pub fn handle(session: &Session, params: DidOpenTextDocumentParams) {
    let document = params.text_document;
    lock(&session.documents).open(
        document.uri,
        &document.text,
        document.version,
        document.language_id,
    );
}
