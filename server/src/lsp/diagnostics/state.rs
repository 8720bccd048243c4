//! The model diagnostics' state: each document's flags and the scheduling of its scoring, and the channel to the task that publishes them in order.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use tokio::sync::mpsc;
use tower_lsp::lsp_types::Url;

use crate::diagnostics::{Flag, FlagSet};
use crate::engine::CancelToken;
use crate::lsp::sync::lock;

/// Per-document flags and scheduling.
#[derive(Default)]
pub struct Diagnostics {
    pub(super) documents: Mutex<HashMap<Url, DocumentFlags>>,
    pub(super) publisher: std::sync::OnceLock<mpsc::UnboundedSender<Url>>,
}

#[derive(Default)]
pub(super) struct DocumentFlags {
    pub(super) flags: FlagSet,
    /// Bumped by every edit: work scheduled for an older count is stale.
    pub(super) edits: u64,
    /// Bytes of the current text edited since the last rescoring started.
    pub(super) dirty: Option<Range<usize>>,
    /// The running or pending job's cancel token.
    pub(super) job: Option<CancelToken>,
    /// Whether the whole document has been scored once. An edit during the first scan cancels
    /// it; until a scan finishes, the refresh after an edit covers the text before the edit too,
    /// or that part would stay unscored until it is edited itself.
    pub(super) scanned: bool,
}

impl Diagnostics {
    pub(super) fn publish(&self, uri: &Url) {
        if let Some(publisher) = self.publisher.get() {
            let _ = publisher.send(uri.clone());
        }
    }

    /// Whether `uri` has scoring work scheduled or running (edits not yet rescored, or a job).
    pub fn pending(&self, uri: &Url) -> bool {
        lock(&self.documents)
            .get(uri)
            .is_some_and(|document| document.job.is_some() || document.dirty.is_some())
    }

    /// The flags of `uri` now, in the current text's byte offsets.
    pub fn flags(&self, uri: &Url) -> Vec<Flag> {
        lock(&self.documents)
            .get(uri)
            .map(|document| document.flags.flags().to_vec())
            .unwrap_or_default()
    }
}
