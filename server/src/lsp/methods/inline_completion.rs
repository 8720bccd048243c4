//! `textDocument/inlineCompletion`: the suggestion as ghost text, streamed as partials to clients that opted in.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::Range;

use crate::lsp::completion_driver::{drive, inline_item, PartialTarget};
use crate::lsp::completion_input::snapshot;
use crate::lsp::server::InlineCompletionRequest;
use crate::lsp::session::Session;
use crate::protocol::InlineCompletionList;

pub async fn handle(
    session: &Arc<Session>,
    request: InlineCompletionRequest,
) -> Result<InlineCompletionList> {
    let uri = request.params.text_document.uri.clone();
    let snapshot = snapshot(session, &uri, request.params.position)?;
    // A next edit on the cursor's line is the suggestion there: an item whose range covers the
    // text it replaces, as LSP 3.18 allows (the editor jumped here to show it).
    if let Some(offer) = session.next_edits.offer(&uri, snapshot.version) {
        if offer.range.start.line == snapshot.position.line {
            return Ok(InlineCompletionList {
                items: vec![inline_item(&offer.new_text, Some(offer.range))],
            });
        }
    }
    let config = session.config();
    let streaming = config.streaming.unwrap_or(session.features().streaming);
    let partials = match (streaming, request.request_id) {
        (true, Some(request_id)) => Some(PartialTarget { request_id }),
        _ => None,
    };
    let budget = Duration::from_millis(config.timeout_ms);
    let answer = drive(session, &uri, &snapshot, budget, partials).await?;
    let range = Range::new(snapshot.position, snapshot.position);
    // The best suggestion first (the one partials streamed); editors cycle through the others.
    let items = answer
        .map(|answer| {
            let mut best = inline_item(&answer.text, Some(range));
            best.confidence = answer.confidence;
            std::iter::once(best)
                .chain(
                    answer
                        .alternatives
                        .iter()
                        .map(|text| inline_item(text, Some(range))),
                )
                .collect()
        })
        .unwrap_or_default();
    Ok(InlineCompletionList { items })
}
