//! Next edit suggestions on the LSP side: each document's typing burst and edit history, the search queued once typing pauses (`nextEdit.debounceMs`), the one offer per document (`rill/nextEditAvailable`), and the offers the user turned down.
//!
//! The offer always belongs to one document version: any edit withdraws it, and an edit that is
//! not its acceptance counts as turning it down, so the same rewrite of the same line is never
//! offered again for that document (dismissing it, `rill/nextEdit/dismiss`, does the same).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use ropey::Rope;
use tokio::sync::mpsc;
use tower_lsp::lsp_types::Url;

use super::debounce::Pause;
use super::session::{lock, Session};
use crate::comments;
use crate::engine::next_edit::NextEditJob;
use crate::engine::{BackgroundJob, BackgroundKind, CancelToken, EngineState};
use crate::next_edit::{targets, Hunk, Proposal, MARGIN};
use crate::rill_protocol::NextEditAvailableParams;

pub(super) mod state;

use state::{remember_rejected, HISTORY};
pub use state::{EditRecord, Offer};

/// Targets tried per search: the nearest propagation sites, the calls, then the lines below.
const MAX_TARGETS: usize = 6;

/// Before an edit is applied: the text as it was, which starts a typing burst.
pub fn before_change(session: &Session, uri: &Url) -> Option<Rope> {
    lock(&session.documents)
        .get(uri)
        .map(|document| document.rope().clone())
}

/// After an edit: withdraws the offer and any running search, and waits for the pause.
pub fn on_change(session: &Arc<Session>, uri: &Url, before: Option<Rope>) {
    {
        let mut documents = lock(&session.next_edits.documents);
        let state = documents.entry(uri.clone()).or_default();
        if let Some(running) = state.running.take() {
            running.cancel();
        }
        if let Some(offer) = state.offer.take() {
            state.withdrawn = Some(offer);
        }
        if state.base.is_none() {
            state.base = before;
        }
    }
    let config = session.config();
    if !config.next_edit_enable || !config.enable {
        return;
    }
    let language_id = lock(&session.documents)
        .get(uri)
        .map(|document| document.language_id().to_string())
        .unwrap_or_default();
    if !crate::lsp::gate::suggests(&config, uri, &language_id) {
        return;
    }
    let quiet = Duration::from_millis(config.next_edit_debounce_ms);
    let (waiting, edited) = (session.clone(), uri.clone());
    session
        .pauses
        .bump(Pause::NextEdit(uri.clone()), quiet, async move {
            search(&waiting, &edited);
        });
}

/// Forgets a closed document.
pub fn on_close(session: &Session, uri: &Url) {
    session.pauses.cancel(&Pause::NextEdit(uri.clone()));
    session.next_edits.forget(uri);
}

/// Typing paused: records the burst's edit and queues the search for the next one.
fn search(session: &Arc<Session>, uri: &Url) {
    let Some(engine) = session.engine.get() else {
        return;
    };
    if *engine.state().borrow() != EngineState::Ready {
        return;
    }
    let Some((text, version, language_id)) = lock(&session.documents).get(uri).map(|document| {
        (
            document.text(),
            document.version(),
            document.language_id().to_string(),
        )
    }) else {
        return;
    };
    let (hunk, rejected, cancel) = {
        let mut documents = lock(&session.next_edits.documents);
        let state = documents.entry(uri.clone()).or_default();
        let Some(base) = state.base.take() else {
            return;
        };
        let Some(hunk) = Hunk::between(&base.to_string(), &text) else {
            state.withdrawn = None;
            return;
        };
        if let Some(offer) = state.withdrawn.take() {
            let line = crate::next_edit::targets::line_around(&text, hunk.after_range.start);
            if text[line] != offer.line_after {
                remember_rejected(state, &offer);
            }
        }
        state.history.push_back(EditRecord {
            version,
            hunk: hunk.clone(),
        });
        while state.history.len() > HISTORY {
            state.history.pop_front();
        }
        let cancel = CancelToken::new();
        state.running = Some(cancel.clone());
        (hunk, state.rejected.iter().cloned().collect(), cancel)
    };
    // Whitespace, comments and blank lines call for no follow-up: staying silent is the answer.
    if hunk.is_noise(comments::markers(&language_id)) {
        return;
    }
    let prose = crate::diagnostics::prose::prose_ranges(&text, &language_id);
    let targets = targets(&text, &hunk, &prose, MAX_TARGETS);
    if targets.is_empty() {
        return;
    }
    let config = session.config();
    let (answer, mut answers) = mpsc::unbounded_channel();
    engine.submit_background(BackgroundJob {
        document: uri.to_string(),
        kind: BackgroundKind::NextEdit(Box::new(NextEditJob {
            text: text.clone(),
            hunk,
            targets,
            rejected,
            margin: MARGIN,
            context_tokens: config.context_tokens,
            reserve_tokens: config.max_tokens,
            cancel: cancel.clone(),
            answer,
        })),
    });
    let (session, uri) = (session.clone(), uri.clone());
    tokio::spawn(async move {
        let Some(answer) = answers.recv().await else {
            return;
        };
        match answer {
            Ok(Some(proposal)) if !cancel.is_cancelled() => {
                offer(&session, &uri, version, &text, &proposal).await;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!("next edit for {uri}: {err}"),
        }
    });
}

/// Keeps the proposal as the document's offer, if the document is still at `version`, and tells
/// the client.
async fn offer(session: &Session, uri: &Url, version: i32, text: &str, proposal: &Proposal) {
    let encoding = session.features().encoding;
    let line_before = text[proposal.range.clone()].to_string();
    let (bytes, new_text) = smallest_change(text, proposal);
    let offer = {
        let documents = lock(&session.documents);
        let Some(document) = documents.get(uri).filter(|d| d.version() == version) else {
            return;
        };
        Offer {
            version,
            range: document.range_of_bytes(&bytes, encoding),
            bytes,
            new_text,
            line_before,
            line_after: proposal.new_text.clone(),
            reason: proposal.reason.clone(),
        }
    };
    let range = offer.range;
    {
        let mut documents = lock(&session.next_edits.documents);
        let Some(state) = documents.get_mut(uri) else {
            return;
        };
        state.running = None;
        state.offer = Some(offer);
    }
    // Clients without rill's notifications (Helix) find the offer as a code action.
    if !session.features().status {
        return;
    }
    session
        .client
        .send_notification::<crate::rill_protocol::NextEditAvailable>(NextEditAvailableParams {
            uri: uri.clone(),
            version,
            range,
        })
        .await;
}

/// The proposal narrowed to the characters that change: the replaced range in `text` and its
/// new text.
fn smallest_change(text: &str, proposal: &Proposal) -> (Range<usize>, String) {
    let old = &text[proposal.range.clone()];
    let new = proposal.new_text.as_str();
    let prefix = old
        .char_indices()
        .zip(new.chars())
        .find(|((_, a), b)| a != b)
        .map_or(old.len().min(new.len()), |((index, _), _)| index);
    let suffix: usize = old[prefix..]
        .chars()
        .rev()
        .zip(new[prefix..].chars().rev())
        .take_while(|(a, b)| a == b)
        .map(|(a, _)| a.len_utf8())
        .sum();
    let start = proposal.range.start + prefix;
    let end = proposal.range.end - suffix;
    (start..end, new[prefix..new.len() - suffix].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offer_replaces_only_what_changes() {
        let text = "x = 1\nprint(total)\n";
        let proposal = Proposal {
            range: 6..18,
            new_text: "print(sum_)".to_string(),
            reason: String::new(),
            gain: None,
        };
        let (range, new_text) = smallest_change(text, &proposal);
        assert_eq!(&text[range], "total");
        assert_eq!(new_text, "sum_");
        let appended = Proposal {
            new_text: "print(total, 2)".to_string(),
            ..proposal
        };
        let (range, new_text) = smallest_change(text, &appended);
        assert_eq!((range.start, range.end), (17, 17));
        assert_eq!(new_text, ", 2");
    }
}
