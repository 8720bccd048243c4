//! `rill/diagnosticsStatus`: whether a document's model diagnostics are up to date, and how many there are.

use tower_lsp::jsonrpc::Result;

use crate::lsp::errors::not_open;
use crate::lsp::session::{lock, Session};
use crate::rill_protocol::{DiagnosticsStatus, DocumentParams};

pub fn handle(session: &Session, params: DocumentParams) -> Result<DiagnosticsStatus> {
    let uri = params.text_document.uri;
    let version = lock(&session.documents)
        .get(&uri)
        .map(|document| document.version())
        .ok_or_else(|| not_open(&uri))?;
    Ok(DiagnosticsStatus {
        version,
        pending: session.diagnostics.pending(&uri),
        flags: session.diagnostics.flags(&uri).len(),
    })
}
