//! `textDocument/inlineCompletion`: the suggestion as ghost text, streamed as partials to clients that opted in.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{Command, NumberOrString, Range};

use crate::lsp::completion_driver::{drive, inline_item, PartialTarget, Trigger};
use crate::lsp::completion_input::snapshot;
use crate::lsp::server::InlineCompletionRequest;
use crate::lsp::session::Session;
use crate::lsp::stats::Answered;
use crate::protocol::{
    InlineCompletionItem, InlineCompletionList, InlineCompletionTriggerKind, InsertText,
};
use crate::rill_protocol::{AcceptanceArgument, ACCEPT_COMMAND};

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
    let partials = match (streaming, request.request_id.clone()) {
        (true, Some(request_id)) => Some(PartialTarget { request_id }),
        _ => None,
    };
    let budget = Duration::from_millis(config.timeout_ms);
    // Only what the editor asks for on its own waits for a pause; an explicit request is served at once.
    let trigger = match request.params.context.trigger_kind {
        InlineCompletionTriggerKind::Automatic => Trigger::Automatic,
        InlineCompletionTriggerKind::Invoked => Trigger::Explicit,
    };
    let answer = drive(session, &uri, &snapshot, budget, partials, trigger).await?;
    let range = Range::new(snapshot.position, snapshot.position);
    let Some(answer) = answer else {
        return Ok(InlineCompletionList::default());
    };
    let length = utf16_length(&answer.text);
    if let Some(request_id) = &request.request_id {
        session.stats.answered(
            request_id,
            Answered {
                language: snapshot.language_id.clone(),
                source: answer.source,
                length,
            },
            answer.latency,
        );
    }
    // The best suggestion first (the one partials streamed); editors cycle through the others.
    let mut best = inline_item(&answer.text, Some(range));
    best.confidence = answer.confidence;
    let mut items: Vec<InlineCompletionItem> = std::iter::once(best)
        .chain(
            answer
                .alternatives
                .iter()
                .map(|text| inline_item(text, Some(range))),
        )
        .collect();
    if let (true, Some(request_id)) = (session.features().acceptance, &request.request_id) {
        for item in &mut items {
            item.command = Some(acceptance_command(request_id, &item.insert_text));
        }
    }
    Ok(InlineCompletionList { items })
}

/// The command that tells a client reporting acceptance which request an item answers; it runs
/// it (client-side) when the item is accepted whole. Alternatives count as the request's.
fn acceptance_command(request_id: &NumberOrString, text: &InsertText) -> Command {
    let argument = AcceptanceArgument {
        request_id: request_id.clone(),
        length: utf16_length(text.as_str()),
    };
    Command {
        title: "rill: accepted".to_string(),
        command: ACCEPT_COMMAND.to_string(),
        arguments: Some(vec![serde_json::to_value(argument).unwrap_or_default()]),
    }
}

fn utf16_length(text: &str) -> u64 {
    text.encode_utf16().count() as u64
}
