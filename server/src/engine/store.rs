//! The engine's per-document sequences under one memory budget: least recently used documents are compacted first, then evicted.

use std::collections::HashMap;

use rill_model::{Gemma3, Sequence};

/// Positions beyond the sliding window that a compacted document keeps, so that re-typing near its
/// end (the usual way back into a document) still rolls back without a fresh prefill.
pub const COMPACTION_MARGIN: usize = 128;

/// Default memory budget over all documents (`engine.cacheBudgetMb`).
pub const DEFAULT_BUDGET_BYTES: usize = 512 << 20;

/// What the cache holds, as `rill/status` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheReport {
    pub documents: usize,
    pub tokens: usize,
    pub bytes: usize,
    /// What one more cached token costs in a document being edited (all layers, all positions).
    pub bytes_per_token: usize,
}

struct Entry {
    sequence: Sequence,
    last_used: u64,
    /// Sequence length when it was last compacted: compacting again before it grows frees nothing.
    compacted_at: Option<usize>,
}

/// Every document's cached sequence, keyed by document.
pub struct SequenceStore {
    entries: HashMap<String, Entry>,
    budget_bytes: usize,
    clock: u64,
}

impl SequenceStore {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            budget_bytes,
            clock: 0,
        }
    }

    pub fn set_budget(&mut self, bytes: usize) {
        self.budget_bytes = bytes;
    }

    /// The document's sequence, created empty on first use; marks it most recently used.
    pub fn sequence(&mut self, document: &str, model: &Gemma3) -> &mut Sequence {
        self.clock += 1;
        let clock = self.clock;
        let entry = self
            .entries
            .entry(document.to_string())
            .or_insert_with(|| Entry {
                sequence: Sequence::new(model),
                last_used: clock,
                compacted_at: None,
            });
        entry.last_used = clock;
        &mut entry.sequence
    }

    /// The document's sequence if it has one, without touching its recency.
    pub fn peek(&self, document: &str) -> Option<&Sequence> {
        self.entries.get(document).map(|entry| &entry.sequence)
    }

    pub fn remove(&mut self, document: &str) {
        self.entries.remove(document);
    }

    pub fn report(&self) -> CacheReport {
        CacheReport {
            documents: self.entries.len(),
            tokens: self
                .entries
                .values()
                .map(|entry| entry.sequence.tokens().len())
                .sum(),
            bytes: self.bytes(),
            bytes_per_token: self
                .entries
                .values()
                .next()
                .map_or(0, |entry| entry.sequence.cache().bytes_per_token()),
        }
    }

    fn bytes(&self) -> usize {
        self.entries
            .values()
            .map(|entry| entry.sequence.cache().bytes())
            .sum()
    }

    /// Brings the total under the budget: first compacts the least recently used documents other
    /// than `active`, then drops them. The active document is never touched, because it is the one
    /// the user is editing and its full cache is what makes rollback free.
    pub fn enforce_budget(&mut self, active: Option<&str>) {
        while self.bytes() > self.budget_bytes {
            let mut idle: Vec<(&String, &Entry)> = self
                .entries
                .iter()
                .filter(|(document, _)| Some(document.as_str()) != active)
                .collect();
            idle.sort_by_key(|(_, entry)| entry.last_used);
            let compactable = idle
                .iter()
                .find(|(_, entry)| entry.compacted_at != Some(entry.sequence.tokens().len()))
                .map(|(document, _)| (*document).clone());
            if let Some(document) = compactable {
                if let Some(entry) = self.entries.get_mut(&document) {
                    let freed = entry.sequence.compact(COMPACTION_MARGIN);
                    entry.compacted_at = Some(entry.sequence.tokens().len());
                    tracing::debug!("compacted the cache of {document}: {freed} bytes freed");
                }
                continue;
            }
            let Some(oldest) = idle.first().map(|(document, _)| (*document).clone()) else {
                break;
            };
            tracing::debug!("evicting the cache of {oldest} to stay within the memory budget");
            self.entries.remove(&oldest);
        }
    }
}
