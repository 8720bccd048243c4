//! Next edits' state per document, owned by the session: the typing burst's base text, the edit history, the running search, the offer and the offers turned down.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::Mutex;

use ropey::Rope;
use tower_lsp::lsp_types::{Range as LspRange, Url};

use crate::engine::CancelToken;
use crate::lsp::sync::lock;
use crate::next_edit::Hunk;

/// Edits of a document remembered (the history); older ones are dropped.
pub(super) const HISTORY: usize = 16;
/// Turned-down offers remembered per document.
const REJECTED: usize = 64;

/// An edit of the history, as the user made it.
#[derive(Debug, Clone)]
pub struct EditRecord {
    /// The document version the edit produced.
    pub version: i32,
    pub hunk: Hunk,
}

/// The suggestion on offer for a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub version: i32,
    /// The smallest range that changes (bytes, and in the client's encoding).
    pub bytes: Range<usize>,
    pub range: LspRange,
    pub new_text: String,
    /// The target line's text before and after, to recognise acceptance and to remember rejection.
    pub line_before: String,
    pub line_after: String,
    pub reason: String,
}

#[derive(Default)]
pub(super) struct DocumentState {
    /// The text when the current typing burst began.
    pub(super) base: Option<Rope>,
    pub(super) history: VecDeque<EditRecord>,
    pub(super) running: Option<CancelToken>,
    pub(super) offer: Option<Offer>,
    /// An offer withdrawn by an edit, judged at the pause: accepted or turned down.
    pub(super) withdrawn: Option<Offer>,
    pub(super) rejected: VecDeque<(String, String)>,
}

/// Every document's next-edit state.
#[derive(Default)]
pub struct NextEdits {
    pub(super) documents: Mutex<HashMap<Url, DocumentState>>,
}

impl NextEdits {
    /// The offer for `uri` at `version`, if there is one.
    pub fn offer(&self, uri: &Url, version: i32) -> Option<Offer> {
        lock(&self.documents)
            .get(uri)
            .and_then(|state| state.offer.clone())
            .filter(|offer| offer.version == version)
    }

    /// The document's recent edits, oldest first.
    pub fn history(&self, uri: &Url) -> Vec<EditRecord> {
        lock(&self.documents)
            .get(uri)
            .map(|state| state.history.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Turns down the offer for `uri`: it is not made again.
    pub fn dismiss(&self, uri: &Url) -> bool {
        let mut documents = lock(&self.documents);
        let Some(state) = documents.get_mut(uri) else {
            return false;
        };
        let Some(offer) = state.offer.take() else {
            return false;
        };
        remember_rejected(state, &offer);
        true
    }

    pub(super) fn forget(&self, uri: &Url) {
        if let Some(state) = lock(&self.documents).remove(uri) {
            if let Some(running) = state.running {
                running.cancel();
            }
        }
    }
}

pub(super) fn remember_rejected(state: &mut DocumentState, offer: &Offer) {
    state
        .rejected
        .push_back((offer.line_before.clone(), offer.line_after.clone()));
    while state.rejected.len() > REJECTED {
        state.rejected.pop_front();
    }
}
