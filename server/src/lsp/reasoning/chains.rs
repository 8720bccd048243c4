//! The reasoning chains' state: the last chain of each document (to offer its steps) and the cancel tokens of the running ones.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use tower_lsp::lsp_types::Url;

use crate::engine::CancelToken;
use crate::lsp::sync::lock;
use crate::reasoning::prompt::ReasoningTask;
use crate::reasoning::steps::Plan;

/// The last chain of each document and the cancel tokens of running chains by progress token.
#[derive(Default)]
pub struct Chains {
    pub(super) last: Mutex<HashMap<Url, Chain>>,
    pub(super) running: Mutex<HashMap<String, CancelToken>>,
    pub(super) next: AtomicU64,
}

impl Chains {
    /// Records a running chain's cancel token under its progress token until the guard drops.
    pub(super) fn register(&self, key: &str, cancel: &CancelToken) -> RunningChain<'_> {
        lock(&self.running).insert(key.to_string(), cancel.clone());
        RunningChain {
            chains: self,
            key: key.to_string(),
        }
    }

    /// How many chains are running.
    pub fn running(&self) -> usize {
        lock(&self.running).len()
    }
}

/// A running chain's entry in [`Chains::running`], removed when this drops: `execute` returns
/// on several paths, and its future is dropped midway when the client cancels the request.
pub(super) struct RunningChain<'a> {
    chains: &'a Chains,
    key: String,
}

impl Drop for RunningChain<'_> {
    fn drop(&mut self) {
        lock(&self.chains.running).remove(&self.key);
    }
}

/// A finished chain, kept to offer its steps.
#[derive(Debug, Clone)]
pub(super) struct Chain {
    pub(super) task: ReasoningTask,
    pub(super) language_id: String,
    /// Byte offset of the selection's start in the document when the chain ran.
    pub(super) start: usize,
    pub(super) original: String,
    /// The text after the selection when the chain ran (at most `FOLLOWING_BYTES`), to tell
    /// which step's result the document holds now.
    pub(super) following: String,
    pub(super) plan: Plan,
    /// The kept steps were not applied but are offered as one code action (`reasoning.apply` is
    /// `preview` and the editor cannot preview an edit).
    pub(super) offered: bool,
    /// Every parsed step's title and rationale, for "insert the reasoning as comments".
    pub(super) reasoning: Vec<(String, String)>,
}
