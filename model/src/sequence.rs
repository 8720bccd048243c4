//! One token sequence with its KV cache: brings the cache in line with new prompt tokens by reusing the longest common prefix.
//!
//! This is the unit the engine keeps per document: a keystroke changes a few tokens near the cursor,
//! so only the tokens after the first difference are run through the model again.

use std::io::{self, Read, Write};

use crate::error::Result;
use crate::kv_cache::KvCache;
use crate::transformer::{Model, Which};

/// Tokens per forward pass during prompt processing. Bounds the memory of intermediate
/// activations and gives the caller a cancellation point between chunks.
pub const PREFILL_CHUNK: usize = 128;

/// How many leading tokens `a` and `b` share: what a cache holding `a` can keep of `b`, also for
/// callers that hold only a sequence's tokens (one whose cache waits on disk).
pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// A token sequence whose keys and values are cached.
pub struct Sequence {
    tokens: Vec<u32>,
    cache: KvCache,
}

/// What [`Sequence::sync`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    /// Tokens whose cached state was kept.
    pub reused: usize,
    /// Tokens that were run through the model.
    pub computed: usize,
    /// Logits after the last token.
    pub logits: Vec<f32>,
}

impl Sequence {
    /// An empty sequence for `model`.
    pub fn new(model: &Model) -> Self {
        Self {
            tokens: Vec::new(),
            cache: model.new_cache(),
        }
    }

    /// The tokens whose state is cached.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The cache behind the tokens.
    pub fn cache(&self) -> &KvCache {
        &self.cache
    }

    /// Rolls back to the first `len` tokens. A compacted cache that cannot roll back that far
    /// empties itself, and so does the sequence: check [`Sequence::tokens`] afterwards.
    pub fn truncate(&mut self, len: usize) {
        self.cache.truncate(len);
        self.tokens.truncate(self.cache.len());
    }

    /// Drops cached state sliding-window layers no longer need (see [`KvCache::compact`]).
    /// Returns the bytes freed.
    pub fn compact(&mut self, margin: usize) -> usize {
        self.cache.compact(margin)
    }

    /// Makes the sequence equal `tokens` and returns the logits after its last token.
    ///
    /// Keeps the longest common prefix of the cached and the new tokens, rolls the cache back to
    /// it and runs only the rest, in chunks of [`PREFILL_CHUNK`]. `cancelled` is asked before each
    /// chunk; when it answers true, the work done so far stays cached and `Ok(None)` is returned.
    pub fn sync(
        &mut self,
        model: &Model,
        tokens: &[u32],
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<SyncOutcome>> {
        self.sync_in_chunks(model, tokens, PREFILL_CHUNK, cancelled)
    }

    /// [`Sequence::sync`] with chunks of at most `chunk` tokens, `cancelled` asked before each.
    pub fn sync_in_chunks(
        &mut self,
        model: &Model,
        tokens: &[u32],
        chunk: usize,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<SyncOutcome>> {
        self.sync_with(model, tokens, chunk, cancelled, &|| false)
    }

    /// [`Sequence::sync_in_chunks`] for background work: `yield_now` is asked before each chunk
    /// and also before each layer of a pass (see [`Model::forward_to_vec_until`]), so long
    /// chunks, which prefill faster, still give way within a layer's time. A pass stopped midway
    /// leaves nothing cached.
    pub fn sync_yielding(
        &mut self,
        model: &Model,
        tokens: &[u32],
        chunk: usize,
        yield_now: &dyn Fn() -> bool,
    ) -> Result<Option<SyncOutcome>> {
        self.sync_with(model, tokens, chunk, yield_now, yield_now)
    }

    fn sync_with(
        &mut self,
        model: &Model,
        tokens: &[u32],
        chunk: usize,
        cancelled: &dyn Fn() -> bool,
        between_layers: &dyn Fn() -> bool,
    ) -> Result<Option<SyncOutcome>> {
        if tokens.is_empty() {
            return Err(crate::ModelError::EmptyInput);
        }
        let common = self.common_prefix(tokens);
        // The logits of the last token are not cached, so at least that token is always run again.
        self.truncate(common.min(tokens.len() - 1));
        let reused = self.tokens.len();
        let mut logits = Vec::new();
        let chunks = tokens[reused..].chunks(chunk.max(1));
        let last = chunks.len().saturating_sub(1);
        for (index, chunk) in chunks.enumerate() {
            if cancelled() {
                return Ok(None);
            }
            // Only the last token's logits are wanted; earlier chunks just fill the cache.
            let which = if index == last {
                Which::Last
            } else {
                Which::Positions(&[])
            };
            let Some((_, chunk_logits)) =
                model.forward_to_vec_until(chunk, &mut self.cache, which, between_layers)?
            else {
                return Ok(None);
            };
            logits = chunk_logits;
            self.tokens.extend_from_slice(chunk);
        }
        Ok(Some(SyncOutcome {
            reused,
            computed: tokens.len() - reused,
            logits,
        }))
    }

    /// An independent sequence holding the first `len` tokens, to decode a side branch (the model's
    /// rewrite of a span) while this one keeps its whole cache. `None` when this cache was
    /// compacted past `len`.
    pub fn fork(&self, len: usize) -> Option<Sequence> {
        let cache = self.cache.fork_prefix(len)?;
        Some(Sequence {
            tokens: self.tokens[..cache.len()].to_vec(),
            cache,
        })
    }

    /// Writes the cache (see [`KvCache::save`]); the caller keeps the tokens, which
    /// [`Sequence::restore`] takes back.
    pub fn save(&self, out: &mut dyn Write) -> io::Result<()> {
        self.cache.save(out)
    }

    /// The sequence of `tokens` whose cache [`Sequence::save`] wrote to `input`, bit for bit as it
    /// was. A saved cache of another model, or one whose length is not `tokens`', is an error.
    pub fn restore(model: &Model, tokens: Vec<u32>, input: &mut dyn Read) -> io::Result<Sequence> {
        let mut cache = model.new_cache();
        cache.restore(input)?;
        if cache.len() != tokens.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a saved cache whose length is not its tokens'",
            ));
        }
        Ok(Sequence { tokens, cache })
    }

    /// [`Sequence::fork`] that keeps every position (see [`KvCache::fork_prefix_whole`]): the
    /// copy rolls back anywhere this sequence could.
    pub fn fork_whole(&self, len: usize) -> Option<Sequence> {
        let cache = self.cache.fork_prefix_whole(len)?;
        Some(Sequence {
            tokens: self.tokens[..cache.len()].to_vec(),
            cache,
        })
    }

    /// How many leading tokens of `tokens` are cached already.
    pub fn common_prefix(&self, tokens: &[u32]) -> usize {
        common_prefix(&self.tokens, tokens)
    }

    /// Appends one token and returns the logits after it.
    pub fn push(&mut self, model: &Model, token: u32) -> Result<Vec<f32>> {
        let logits = model
            .forward_to_vec(&[token], &mut self.cache, Which::Last)?
            .1;
        self.tokens.push(token);
        Ok(logits)
    }

    /// Appends `tokens` in one forward pass and returns the logits after each of them, row-major
    /// `[tokens.len(), vocab]`.
    ///
    /// Speculative decoding uses it to verify a draft: every row is what [`Sequence::push`] would
    /// have returned after that token, because a quantized pass gives each position the same logits
    /// however the sequence is split into passes. On error nothing is appended.
    pub fn extend(&mut self, model: &Model, tokens: &[u32]) -> Result<Vec<f32>> {
        self.extend_selected(model, tokens, Which::All)
    }

    /// Appends `tokens` in one forward pass and returns the logits of the positions `which`
    /// selects, row-major. Scoring uses it to pay for the output head only where it is needed.
    /// On error nothing is appended.
    pub fn extend_selected(
        &mut self,
        model: &Model,
        tokens: &[u32],
        which: Which<'_>,
    ) -> Result<Vec<f32>> {
        let logits = model.forward_to_vec(tokens, &mut self.cache, which)?.1;
        self.tokens.extend_from_slice(tokens);
        Ok(logits)
    }

    /// Appends `tokens` like [`Sequence::extend_selected`], but returns the selected rows before
    /// the output head (see [`Model::forward_to_rows`]). `Ok(None)` when `stop` answered true
    /// before a layer: nothing is appended then.
    pub fn extend_to_rows(
        &mut self,
        model: &Model,
        tokens: &[u32],
        which: Which<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Vec<f32>>> {
        let Some(rows) = model.forward_to_rows(tokens, &mut self.cache, which, stop)? else {
            return Ok(None);
        };
        self.tokens.extend_from_slice(tokens);
        Ok(Some(rows))
    }
}
