//! The engine's per-document sequences under one memory budget: documents not in use are compacted and moved to disk, and least recently used ones evicted.

use std::collections::HashMap;

use rill_model::sequence::common_prefix;
use rill_model::{Model, Sequence, Work};

use super::key::{Role, SequenceKey};
use super::spill::{SpillArea, Spilled};

/// Positions beyond the sliding window that a compacted document keeps, so that re-typing near its
/// end (the usual way back into a document) still rolls back without a fresh prefill.
pub const COMPACTION_MARGIN: usize = 128;

/// Default memory budget over all documents (`engine.cacheBudgetMb`).
pub const DEFAULT_BUDGET_BYTES: usize = 512 << 20;

/// Default disk budget for idle documents' caches (`engine.diskCacheMb`).
pub const DEFAULT_DISK_BUDGET_BYTES: usize = 1024 << 20;

/// The two budgets the settings give the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheBudgets {
    pub memory_bytes: usize,
    /// Zero keeps idle documents' caches in memory.
    pub disk_bytes: usize,
}

impl CacheBudgets {
    /// `engine.cacheBudgetMb` and `engine.diskCacheMb`.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            memory_bytes: config.cache_budget_bytes(),
            disk_bytes: config.disk_cache_bytes(),
        }
    }
}

/// What the cache holds, as `rill/status` reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheReport {
    pub documents: usize,
    pub tokens: usize,
    pub bytes: usize,
    /// Idle documents' caches on disk (see `engine::spill`), not counted in `bytes`.
    pub disk_bytes: usize,
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
    held: Held,
    last_used: u64,
    /// Sequence length when it was last compacted: compacting again before it grows frees nothing.
    compacted_at: Option<usize>,
}

/// Where a sequence's cache is.
enum Held {
    Memory(Sequence),
    Disk(Spilled),
}

impl Held {
    fn tokens(&self) -> &[u32] {
        match self {
            Held::Memory(sequence) => sequence.tokens(),
            Held::Disk(spilled) => spilled.tokens(),
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Held::Memory(sequence) => sequence.cache().bytes(),
            Held::Disk(_) => 0,
        }
    }

    fn disk_bytes(&self) -> usize {
        match self {
            Held::Memory(_) => 0,
            Held::Disk(spilled) => spilled.bytes(),
        }
    }

    /// The sequence in memory, read back from disk first if it was there. A file that cannot be
    /// read back loses its cache, which costs the next request a prefill, nothing more.
    fn load(&mut self, model: &Model) -> &mut Sequence {
        if let Held::Disk(_) = self {
            let Held::Disk(spilled) = std::mem::replace(self, Held::Memory(Sequence::new(model)))
            else {
                unreachable!("matched above")
            };
            match spilled.restore(model) {
                Ok(sequence) => *self = Held::Memory(sequence),
                Err(err) => tracing::warn!("cannot read a cache back from disk: {err}"),
            }
        }
        match self {
            Held::Memory(sequence) => sequence,
            Held::Disk(_) => unreachable!("loaded above"),
        }
    }
}

/// Every document's cached sequence, keyed by document.
pub struct SequenceStore {
    entries: HashMap<SequenceKey, Entry>,
    budget_bytes: usize,
    /// Where idle sequences go; `None` keeps them in memory (the setting is zero, or writing
    /// failed once).
    spill: Option<SpillArea>,
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
            spill: None,
            clock: 0,
            protected: [None, None, None],
        }
    }

    /// The store the engine runs: `budgets.memory_bytes` in memory, idle sequences on disk in
    /// [`SpillArea::in_cache_dir`] up to `budgets.disk_bytes`.
    pub fn for_engine(budgets: CacheBudgets) -> Self {
        Self::new(budgets.memory_bytes).with_spill(SpillArea::in_cache_dir(budgets.disk_bytes))
    }

    /// Moves idle sequences to `area` from now on (`None`: keeps them in memory).
    pub fn with_spill(mut self, area: Option<SpillArea>) -> Self {
        self.spill = area;
        self
    }

    pub fn set_budget(&mut self, bytes: usize) {
        self.budget_bytes = bytes;
    }

    /// Applies new settings. Under a disk budget of zero, the sequences on disk are dropped at the
    /// next [`SequenceStore::enforce`].
    pub fn set_budgets(&mut self, budgets: CacheBudgets) {
        self.budget_bytes = budgets.memory_bytes;
        self.spill = SpillArea::in_cache_dir(budgets.disk_bytes);
    }

    /// The most tokens one sequence should hold under the memory budget: half of it, so that
    /// the edited and pre-warmed documents keep room beside a long scan or chain.
    pub fn sequence_cap(&self, bytes_per_token: usize) -> usize {
        self.budget_bytes / 2 / bytes_per_token.max(1)
    }

    /// The sequence `key`, created empty on first use and read back if it was on disk; marks it
    /// most recently used.
    pub fn sequence(&mut self, key: &SequenceKey, model: &Model) -> &mut Sequence {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.entries.entry(key.clone()).or_insert_with(|| Entry {
            held: Held::Memory(Sequence::new(model)),
            last_used: clock,
            compacted_at: None,
        });
        entry.last_used = clock;
        entry.held.load(model)
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
            .cached_tokens(to)
            .map_or(0, |cached| common_prefix(cached, tokens));
        if theirs < ours + at_least {
            return false;
        }
        // A whole copy: the caller rolls back inside the shared prefix (each line it scores
        // after the same context), which a window-trimmed fork could only do by starting over.
        let Some(fork) = source.fork_whole(theirs) else {
            return false;
        };
        self.clock += 1;
        self.entries.insert(
            to.clone(),
            Entry {
                held: Held::Memory(fork),
                last_used: self.clock,
                compacted_at: None,
            },
        );
        true
    }

    /// The sequence `key` if there is one in memory, without touching its recency.
    pub fn peek(&self, key: &SequenceKey) -> Option<&Sequence> {
        match &self.entries.get(key)?.held {
            Held::Memory(sequence) => Some(sequence),
            Held::Disk(_) => None,
        }
    }

    /// The tokens cached for `key`, in memory or on disk, without touching its recency.
    pub fn cached_tokens(&self, key: &SequenceKey) -> Option<&[u32]> {
        self.entries.get(key).map(|entry| entry.held.tokens())
    }

    /// Whether the sequence `key` is on disk now, for tests.
    pub fn is_on_disk(&self, key: &SequenceKey) -> bool {
        self.entries
            .get(key)
            .is_some_and(|entry| matches!(entry.held, Held::Disk(_)))
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
                .map(|entry| entry.held.tokens().len())
                .sum(),
            bytes: self.bytes(),
            disk_bytes: self.disk_bytes(),
            bytes_per_token: self
                .entries
                .values()
                .next()
                .map_or(0, |entry| match &entry.held {
                    Held::Memory(sequence) => sequence.cache().bytes_per_token(),
                    Held::Disk(spilled) => spilled.bytes_per_token(),
                }),
            first_lines_ahead: 0,
            work: Work::default(),
            completion_work: Work::default(),
        }
    }

    fn bytes(&self) -> usize {
        self.total(Held::memory_bytes)
    }

    fn disk_bytes(&self) -> usize {
        self.total(Held::disk_bytes)
    }

    /// The sum of `size` over every sequence.
    fn total(&self, size: fn(&Held) -> usize) -> usize {
        self.entries.values().map(|entry| size(&entry.held)).sum()
    }

    /// Compacts every sequence but the `protected` ones (the document being edited, the one just
    /// pre-warmed, the one just scored) and moves it to disk (see `engine::spill`); then, while
    /// memory is over its budget, drops the least recently used sequence still in memory, and
    /// while the disk is over its budget, the least recently used one there. Protected sequences
    /// stay even when they alone exceed the budget: dropping them would only make the next request
    /// pay to rebuild them.
    ///
    /// Compaction is eager because it costs little: an idle document keeps every global-layer
    /// position and the sliding window plus [`COMPACTION_MARGIN`] positions, which is all that
    /// continuing where the user left it needs; only a jump far back in an idle document pays a
    /// fresh prefill. The protected documents are never touched: a full cache is what makes a
    /// rollback anywhere free while the cursor moves around. Moving to disk is as eager: writing a
    /// compacted document takes milliseconds, reading it back as long, and memory is what a user
    /// with many files open runs out of.
    pub fn enforce_budget(&mut self, protected: &[&SequenceKey]) {
        let mut spill_failed = false;
        for (key, entry) in &mut self.entries {
            let Held::Memory(sequence) = &mut entry.held else {
                continue;
            };
            if protected.contains(&key) {
                continue;
            }
            if entry.compacted_at != Some(sequence.tokens().len()) {
                let freed = sequence.compact(COMPACTION_MARGIN);
                entry.compacted_at = Some(sequence.tokens().len());
                if freed > 0 {
                    tracing::debug!("compacted the cache of {key}: {freed} bytes freed");
                }
            }
            let Some(area) = self.spill.as_ref().filter(|_| !spill_failed) else {
                continue;
            };
            // Only the caches a user returns to go to disk: a document's completion and scan
            // sequences. A next-edit search or a reasoning chain starts from a copy of the
            // completion's prefix each time, so writing its sequence out would buy nothing.
            if sequence.tokens().is_empty() || !matches!(key.role, Role::Completion | Role::Scan) {
                continue;
            }
            match area.spill(sequence) {
                Ok(spilled) => {
                    tracing::debug!(
                        "moved the cache of {key} to disk: {} bytes",
                        spilled.bytes()
                    );
                    entry.held = Held::Disk(spilled);
                }
                Err(err) => {
                    tracing::warn!(
                        "cannot move idle caches to disk, keeping them in memory: {err}"
                    );
                    spill_failed = true;
                }
            }
        }
        if spill_failed {
            self.spill = None;
        }
        self.evict_over(protected, Held::memory_bytes, self.budget_bytes, "memory");
        let disk_budget = self.spill.as_ref().map_or(0, SpillArea::budget_bytes);
        self.evict_over(protected, Held::disk_bytes, disk_budget, "disk");
    }

    /// Drops the least recently used unprotected sequences that take `size` while their total is
    /// over `budget`.
    fn evict_over(
        &mut self,
        protected: &[&SequenceKey],
        size: fn(&Held) -> usize,
        budget: usize,
        place: &str,
    ) {
        while self.total(size) > budget {
            let oldest = self
                .entries
                .iter()
                .filter(|(key, entry)| !protected.contains(key) && size(&entry.held) > 0)
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(key, _)| key.clone());
            let Some(oldest) = oldest else {
                break;
            };
            tracing::debug!("evicting the cache of {oldest} to stay within the {place} budget");
            self.entries.remove(&oldest);
        }
    }
}
