//! Idle documents' KV caches on disk: one unlinked file each, read back bit for bit when the user returns to the document.
//!
//! A compacted 2k-token document still holds about 16 MB of keys and values, and a user with ten
//! files open keeps nine of them idle. Writing them out takes a few milliseconds and reading one
//! back about as long, against seconds for prefilling the document again; so the store keeps in
//! memory only the sequences it protects (see `store`) and moves the others here. The files are
//! created already unlinked (`O_TMPFILE` where the system has it), so nothing outlives the process,
//! whatever way it ends, and no other process can open them by name.

use std::fs::File;
use std::io::{self, BufReader, Seek, SeekFrom};
use std::path::PathBuf;

use rill_model::{Model, Sequence};

/// Where spilled caches go, and how much of the disk they may take.
#[derive(Debug, Clone)]
pub struct SpillArea {
    dir: PathBuf,
    budget_bytes: usize,
}

/// One sequence on disk: its tokens stay in memory (a few kB) so that prefix checks need no read.
pub struct Spilled {
    tokens: Vec<u32>,
    file: File,
    bytes: usize,
    bytes_per_token: usize,
}

impl SpillArea {
    /// `dir` holds the files (created when first needed); they take at most `budget_bytes`
    /// together. `None` for a budget of zero, which keeps every cache in memory.
    pub fn new(dir: PathBuf, budget_bytes: usize) -> Option<Self> {
        (budget_bytes > 0).then_some(Self { dir, budget_bytes })
    }

    /// `$XDG_CACHE_HOME/rill/kv` (see [`rill_model::paths::rill_cache_dir`]): a cache directory,
    /// which is on disk, not a `/tmp` that may be memory itself.
    pub fn in_cache_dir(budget_bytes: usize) -> Option<Self> {
        Self::new(
            rill_model::paths::rill_cache_dir()?.join("kv"),
            budget_bytes,
        )
    }

    pub fn budget_bytes(&self) -> usize {
        self.budget_bytes
    }

    /// Writes `sequence` out; the caller then drops it from memory.
    pub fn spill(&self, sequence: &Sequence) -> io::Result<Spilled> {
        std::fs::create_dir_all(&self.dir)?;
        let mut file = tempfile::tempfile_in(&self.dir)?;
        sequence.save(&mut file)?;
        let bytes = usize::try_from(file.stream_position()?).unwrap_or(usize::MAX);
        Ok(Spilled {
            tokens: sequence.tokens().to_vec(),
            file,
            bytes,
            bytes_per_token: sequence.cache().bytes_per_token(),
        })
    }
}

impl Spilled {
    /// The tokens whose keys and values the file holds.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Disk space the file takes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// See [`rill_model::KvCache::bytes_per_token`].
    pub fn bytes_per_token(&self) -> usize {
        self.bytes_per_token
    }

    /// Reads the sequence back, bit for bit as it was written; the file goes away with `self`.
    pub fn restore(mut self, model: &Model) -> io::Result<Sequence> {
        self.file.seek(SeekFrom::Start(0))?;
        Sequence::restore(model, self.tokens, &mut BufReader::new(self.file))
    }
}
