//! `textDocument/didChange`: applies edits to the mirror synchronously, before the handler's first `.await`.
//!
//! tower-lsp may run notification handlers concurrently, but each handler's synchronous prefix runs
//! in arrival order; doing all the work there under the documents lock keeps edits in order.

use tower_lsp::lsp_types::DidChangeTextDocumentParams;

use std::sync::Arc;
use std::time::Instant;

use crate::lsp::session::{lock, Session};
use crate::lsp::{cross_file, diagnostics, next_edit, prewarm};

pub fn handle(session: &Arc<Session>, params: DidChangeTextDocumentParams) {
    let encoding = session.features().encoding;
    let uri = params.text_document.uri;
    let before = next_edit::before_change(session, &uri);
    let result = lock(&session.documents).change(
        &uri,
        params.content_changes,
        params.text_document.version,
        encoding,
    );
    let edits = match result {
        Ok(edits) => edits,
        Err(err) => {
            tracing::warn!("didChange ignored: {err}");
            return;
        }
    };
    lock(&session.rhythm).on_edit(Instant::now());
    diagnostics::on_change(session, &uri, &edits);
    cross_file::on_change(session, &uri, &edits);
    next_edit::on_change(session, &uri, before);
    // A completion request for the old text is stale now. Its generation runs on a moment: the
    // next request adopts it if the user typed what it suggests (see `suggestions`).
    session.cancel_requests_for(&uri);
    prewarm::schedule_after_edit(session, &uri);
}
