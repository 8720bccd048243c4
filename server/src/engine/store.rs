//! The engine's per-document sequences under one memory budget: least recently used documents are compacted first, then evicted.

use std::collections::HashMap;

use rill_model::{Model, Sequence, Work};

use super::key::{Role, SequenceKey};

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
    /// Documents whose next completion has its first line decided already (see
    /// `engine::first_lines`); filled in by the engine, not the store.
    pub first_lines_ahead: usize,
    /// The model's work since loading, all jobs together; filled in by the engine.
    pub work: Work,
    /// The part of `work` that completion jobs did (not pre-warming, scoring or next edits), which
    /// is what adaptive triggering saves; filled in by the engine.
    pub completion_work: Work,
}

struct Entry {
    sequence: Sequence,
    last_used: u64,
    /// Sequence length when it was last compacted: compacting again before it grows frees nothing.
    compacted_at: Option<usize>,
}

/// Every document's cached sequence, keyed by document.
pub struct SequenceStore {
    entries: HashMap<SequenceKey, Entry>,
    budget_bytes: usize,
    clock: u64,
    /// Sequences that stay whole: the one of the last completion (the user is editing it), the
    /// last one pre-warmed (just opened, or where typing paused) and the last one scored for
    /// diagnostics (a rescore after the next edit rolls back into it).
    protected: [Option<SequenceKey>; 3],
}

impl SequenceStore {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            budget_bytes,
            clock: 0,
            protected: [None, None, None],
        }
    }

    pub fn set_budget(&mut self, bytes: usize) {
        self.budget_bytes = bytes;
    }

    /// The most tokens one sequence should hold under the memory budget: half of it, so that
    /// the edited and pre-warmed documents keep room beside a long scan or chain.
    pub fn sequence_cap(&self, bytes_per_token: usize) -> usize {
        self.budget_bytes / 2 / bytes_per_token.max(1)
    }

    /// The sequence `key`, created empty on first use; marks it most recently used.
    pub fn sequence(&mut self, key: &SequenceKey, model: &Model) -> &mut Sequence {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            sequence: Sequence::new(model),
            last_used: clock,
            compacted_at: None,
        });
        entry.last_used = clock;
        &mut entry.sequence
    }

    /// Starts `to` from `from`'s cached state when `from` shares more of `tokens` with it (by at
    /// least `at_least` tokens) than `to` does: a fork copies the shared prefix's keys and values,
    /// which costs far less than computing them again. Nothing happens when `from` was compacted
    /// past the shared prefix.
    pub fn seed_from(
        &mut self,
        from: &SequenceKey,
        to: &SequenceKey,
        tokens: &[u32],
        at_least: usize,
    ) -> bool {
        let Some(source) = self.peek(from) else {
            return false;
        };
        let theirs = source.common_prefix(tokens);
        let ours = self
            .peek(to)
            .map_or(0, |sequence| sequence.common_prefix(tokens));
        if theirs < ours + at_least {
            return false;
        }
        let Some(fork) = source.fork(theirs) else {
            return false;
        };
        self.clock += 1;
        self.entries.insert(
            to.clone(),
            Entry {
                sequence: fork,
                last_used: self.clock,
                compacted_at: None,
            },
        );
        true
    }

    /// The sequence `key` if there is one, without touching its recency.
    pub fn peek(&self, key: &SequenceKey) -> Option<&Sequence> {
        self.entries.get(key).map(|entry| &entry.sequence)
    }

    /// Drops the sequence `key` alone (its cache may be half-written).
    pub fn remove(&mut self, key: &SequenceKey) {
        self.retain(|held| held != key);
    }

    /// Drops every sequence of a closed document: its completion's, its diagnostics scan's and
    /// its reasoning chains'.
    pub fn remove_document(&mut self, document: &str) {
        self.retain(|held| held.document != document);
    }

    fn retain(&mut self, keep: impl Fn(&SequenceKey) -> bool) {
        self.entries.retain(|key, _| keep(key));
        for slot in &mut self.protected {
            if slot.as_ref().is_some_and(|key| !keep(key)) {
                *slot = None;
            }
        }
    }

    /// Marks `key` as the sequence the user is editing. A reasoning chain's sequence is not one:
    /// it serves a single chain, and taking the mark would leave the edited document unprotected.
    ///
    /// The sequence edited before is compacted at once, before the new one's job prefills
    /// anything: otherwise both would be whole during that prefill, and the peak of memory would
    /// carry a whole document's cache more than the store ever keeps.
    pub fn set_editing(&mut self, key: &SequenceKey) {
        if !matches!(key.role, Role::Reasoning | Role::NextEdit)
            && self.protected[0].as_ref() != Some(key)
        {
            self.protected[0] = Some(key.clone());
            self.enforce();
        }
    }

    /// The sequence keys that stay whole (the edited, pre-warmed and scored ones), for tests.
    pub fn protected(&self) -> Vec<&SequenceKey> {
        self.protected.iter().flatten().collect()
    }

    /// Marks `key` as the one last pre-warmed. Pre-warming the edited sequence (after a completion
    /// there) leaves the mark where it was: that sequence is kept whole as the edited one anyway,
    /// and taking the mark would drop the document pre-warmed before from the memory budget.
    pub fn set_prewarmed(&mut self, key: &SequenceKey) {
        if self.protected[0].as_ref() != Some(key) {
            self.protected[1] = Some(key.clone());
        }
    }

    /// Marks the sequence `key` as the one last scored for diagnostics.
    pub fn set_diagnosed(&mut self, key: &SequenceKey) {
        self.protected[2] = Some(key.clone());
    }

    /// Applies the budget around the protected sequences (see [`SequenceStore::enforce_budget`]).
    pub fn enforce(&mut self) {
        let protected = self.protected.clone();
        let keys: Vec<&SequenceKey> = protected.iter().flatten().collect();
        self.enforce_budget(&keys);
    }

    pub fn report(&self) -> CacheReport {
        CacheReport {
            // A document's scan (diagnostics) and reasoning sequences are part of the document.
            documents: self
                .entries
                .keys()
                .map(|key| key.document.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len(),
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
            first_lines_ahead: 0,
            work: Work::default(),
            completion_work: Work::default(),
        }
    }

    fn bytes(&self) -> usize {
        self.entries
            .values()
            .map(|entry| entry.sequence.cache().bytes())
            .sum()
    }

    /// Compacts every sequence but the `protected` ones (the document being edited, the one just
    /// pre-warmed, the one just scored), then, while the total is over the budget, drops the least
    /// recently used of the others. Protected sequences stay even when they alone exceed the
    /// budget: dropping them would only make the next request pay to rebuild them.
    ///
    /// Compaction is eager because it costs little: an idle document keeps every global-layer
    /// position and the sliding window plus [`COMPACTION_MARGIN`] positions, which is all that
    /// continuing where the user left it needs; only a jump far back in an idle document pays a
    /// fresh prefill. The protected documents are never touched: a full cache is what makes a
    /// rollback anywhere free while the cursor moves around.
    pub fn enforce_budget(&mut self, protected: &[&SequenceKey]) {
        for (key, entry) in &mut self.entries {
            if protected.contains(&key) || entry.compacted_at == Some(entry.sequence.tokens().len())
            {
                continue;
            }
            let freed = entry.sequence.compact(COMPACTION_MARGIN);
            entry.compacted_at = Some(entry.sequence.tokens().len());
            if freed > 0 {
                tracing::debug!("compacted the cache of {key}: {freed} bytes freed");
            }
        }
        while self.bytes() > self.budget_bytes {
            let oldest = self
                .entries
                .iter()
                .filter(|(key, _)| !protected.contains(key))
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone());
            let Some(oldest) = oldest else {
                break;
            };
            tracing::debug!("evicting the cache of {oldest} to stay within the memory budget");
            self.entries.remove(&oldest);
        }
    }
}
