//! `rill/documentText`: the server's copy of a document, so that clients and tests can check the mirror equals what they sent.

use tower_lsp::jsonrpc::Result;

use crate::lsp::errors::not_open;
use crate::lsp::session::{lock, Session};
use crate::rill_protocol::{DocumentParams, DocumentText};

pub fn handle(session: &Session, params: DocumentParams) -> Result<DocumentText> {
    let documents = lock(&session.documents);
    let uri = params.text_document.uri;
    let document = documents.get(&uri).ok_or_else(|| not_open(&uri))?;
    Ok(DocumentText {
        version: document.version(),
        text: document.text(),
    })
}
