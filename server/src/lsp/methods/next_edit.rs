//! `rill/nextEdit`: the next edit on offer for a document, for the document's current version only, or `null`.

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::TextEdit;

use crate::lsp::errors::not_open;
use crate::lsp::session::{lock, Session};
use crate::rill_protocol::{NextEditParams, NextEditResult};

pub fn handle(session: &Session, params: NextEditParams) -> Result<Option<NextEditResult>> {
    let uri = params.text_document.uri;
    let version = lock(&session.documents)
        .get(&uri)
        .map(|document| document.version())
        .ok_or_else(|| not_open(&uri))?;
    Ok(session
        .next_edits
        .offer(&uri, version)
        .map(|offer| NextEditResult {
            edits: vec![TextEdit {
                range: offer.range,
                new_text: offer.new_text,
            }],
            reason: offer.reason,
            version,
        }))
}
