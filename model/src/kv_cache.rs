//! The caller-owned key/value cache of one sequence: grows in steps, rolls back in O(1), forks by copy, compacts its sliding-window layers.
//!
//! The engine keeps one `KvCache` per document, so the cache lives outside the model (the weights are
//! shared and immutable) and the model's `forward` borrows it mutably for one pass.
//!
//! Memory: a freshly filled cache keeps the keys and values of every position in every layer as f16
//! (as llama.cpp does by default), i.e. `layers × 2 × kv_heads × head_dim × 2` bytes per token
//! (18,432 bytes for Gemma 3 270M). Keeping
//! all positions is what makes `truncate` O(1) for any rollback distance, which the document being
//! edited needs (the cursor jumps around). Documents the user is not editing can be
//! [`KvCache::compact`]ed: a sliding-window layer only ever reads the last `window` positions, so it
//! keeps those plus a rollback margin and drops the rest (Gemma 3 270M: 15 of 18 layers slide over
//! 512 positions, so a compacted 2,048-token cache takes about 40 % of the full size). A rollback
//! deeper than the margin then needs a fresh prefill, which `truncate` reports by emptying the cache.

use std::io::{self, Read, Write};

use half::f16;

/// First bytes of a saved cache, so that a file of anything else is refused rather than read.
const SAVED_MAGIC: &[u8; 8] = b"RILLKV1\0";

/// Keys and values of one layer, position-major: position `p` occupies
/// `[(p - offset) * kv_dim, (p - offset + 1) * kv_dim)`.
#[derive(Clone, Default)]
pub(crate) struct LayerKv {
    pub(crate) keys: Vec<f16>,
    pub(crate) values: Vec<f16>,
    /// The first position still stored; positions before it were compacted away.
    pub(crate) offset: usize,
    /// How many positions back this layer attends (`None`: all of them).
    window: Option<usize>,
}

impl LayerKv {
    /// Positions the allocation can hold, counted from `offset`.
    fn capacity(&self, kv_dim: usize) -> usize {
        self.keys.len() / kv_dim.max(1)
    }
}

/// Key/value state of one token sequence.
#[derive(Clone)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    kv_dim: usize,
    len: usize,
    max_len: usize,
}

/// Positions reserved by the first pass; later growth doubles.
const INITIAL_CAPACITY: usize = 256;

impl KvCache {
    /// An empty cache for a model with `num_layers` layers of `kv_dim`-wide keys and values, all of
    /// them attending to every earlier position, never longer than `max_len` positions.
    pub fn new(num_layers: usize, kv_dim: usize, max_len: usize) -> Self {
        Self::with_windows(vec![None; num_layers], kv_dim, max_len)
    }

    /// An empty cache whose layer `i` attends to the last `windows[i]` positions (`None`: all).
    pub fn with_windows(windows: Vec<Option<usize>>, kv_dim: usize, max_len: usize) -> Self {
        Self {
            layers: windows
                .into_iter()
                .map(|window| LayerKv {
                    window,
                    ..LayerKv::default()
                })
                .collect(),
            kv_dim,
            len: 0,
            max_len,
        }
    }

    /// Number of positions whose keys and values are cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no position is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most positions this cache can ever hold (the model's context length).
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The shortest length `truncate` can roll back to without emptying the cache: 0 for a cache
    /// that was never compacted.
    pub fn min_rollback(&self) -> usize {
        self.layers
            .iter()
            .filter(|layer| layer.offset > 0)
            .map(|layer| layer.offset + layer.window.unwrap_or(0).saturating_sub(1))
            .max()
            .unwrap_or(0)
    }

    /// Rolls the sequence back to its first `len` positions, in O(1): the stale entries stay in
    /// memory and are overwritten by the next pass. Asking for more than is cached changes nothing.
    /// If a compacted layer no longer holds the window that position `len` would attend to, the
    /// whole cache is emptied (the caller's sequence must then be recomputed from the start).
    pub fn truncate(&mut self, len: usize) {
        let len = self.len.min(len);
        if len < self.min_rollback() {
            self.clear();
        } else {
            self.len = len;
        }
    }

    /// Forgets every position but keeps the allocation for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
        for layer in &mut self.layers {
            layer.offset = 0;
        }
    }

    /// Drops the positions sliding-window layers can never read again, keeping `margin` extra
    /// positions for rollback, and returns the memory to the allocator. Returns the bytes freed.
    pub fn compact(&mut self, margin: usize) -> usize {
        let before = self.bytes();
        let (len, kv_dim) = (self.len, self.kv_dim);
        for layer in &mut self.layers {
            let Some(window) = layer.window else {
                layer.keys.truncate((len - layer.offset) * kv_dim);
                layer.values.truncate((len - layer.offset) * kv_dim);
                layer.keys.shrink_to_fit();
                layer.values.shrink_to_fit();
                continue;
            };
            let keep_from = len
                .saturating_sub(window.saturating_add(margin))
                .max(layer.offset);
            let drop = (keep_from - layer.offset) * kv_dim;
            let live = (len - layer.offset) * kv_dim;
            for data in [&mut layer.keys, &mut layer.values] {
                data.truncate(live);
                data.drain(..drop);
                data.shrink_to_fit();
            }
            layer.offset = keep_from;
        }
        before.saturating_sub(self.bytes())
    }

    /// An independent copy of the first `len` positions (at most the cache's length), holding only
    /// what continuing from there can read: every position of global layers, the last window of
    /// sliding-window layers. Scoring uses it to decode a side branch without losing the rest of
    /// the cache. `None` when the cache cannot roll back to `len` (it was compacted past it).
    pub fn fork_prefix(&self, len: usize) -> Option<Self> {
        self.fork_prefix_keeping(len, false)
    }

    /// [`KvCache::fork_prefix`] that keeps every stored position of sliding-window layers too, so
    /// that the copy rolls back as far as this cache does (a search that scores several lines
    /// after a shared prefix returns to it again and again). It costs the full size per position.
    pub fn fork_prefix_whole(&self, len: usize) -> Option<Self> {
        self.fork_prefix_keeping(len, true)
    }

    fn fork_prefix_keeping(&self, len: usize, whole: bool) -> Option<Self> {
        let len = len.min(self.len);
        if len < self.min_rollback() {
            return None;
        }
        let kv_dim = self.kv_dim;
        let layers = self
            .layers
            .iter()
            .map(|layer| {
                let keep_from = match layer.window {
                    Some(window) if !whole => len.saturating_sub(window).max(layer.offset),
                    _ => layer.offset,
                };
                let (from, to) = (
                    (keep_from - layer.offset) * kv_dim,
                    (len - layer.offset) * kv_dim,
                );
                LayerKv {
                    keys: layer.keys[from..to].to_vec(),
                    values: layer.values[from..to].to_vec(),
                    offset: keep_from,
                    window: layer.window,
                }
            })
            .collect();
        Some(Self {
            layers,
            kv_dim,
            len,
            max_len: self.max_len,
        })
    }

    /// An independent copy of the live positions, e.g. to try a draft continuation and keep the original.
    pub fn fork(&self) -> Self {
        let kv_dim = self.kv_dim;
        Self {
            layers: self
                .layers
                .iter()
                .map(|layer| {
                    let live = (self.len - layer.offset) * kv_dim;
                    LayerKv {
                        keys: layer.keys[..live].to_vec(),
                        values: layer.values[..live].to_vec(),
                        offset: layer.offset,
                        window: layer.window,
                    }
                })
                .collect(),
            kv_dim,
            len: self.len,
            max_len: self.max_len,
        }
    }

    /// Writes the live positions' keys and values, so that an idle document's cache can leave
    /// memory and come back bit for bit with [`KvCache::restore`]. The bytes are in this machine's
    /// order: a saved cache is meant for the process that saved it, not for exchange.
    pub fn save(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut header = Vec::with_capacity(8 * (4 + self.layers.len()));
        header.extend_from_slice(SAVED_MAGIC);
        for number in [self.layers.len(), self.kv_dim, self.len] {
            header.extend_from_slice(&(number as u64).to_le_bytes());
        }
        for layer in &self.layers {
            header.extend_from_slice(&(layer.offset as u64).to_le_bytes());
        }
        out.write_all(&header)?;
        for layer in &self.layers {
            let live = (self.len - layer.offset) * self.kv_dim;
            out.write_all(bytemuck::cast_slice(&layer.keys[..live]))?;
            out.write_all(bytemuck::cast_slice(&layer.values[..live]))?;
        }
        Ok(())
    }

    /// Replaces this cache's contents with a cache [`KvCache::save`] wrote for a model of the same
    /// shape. Each layer's allocation holds exactly its live positions, as after a compaction. A
    /// file of another shape, or one cut short, is an error and leaves this cache empty.
    pub fn restore(&mut self, input: &mut dyn Read) -> io::Result<()> {
        let result = self.read_saved(input);
        if result.is_err() {
            self.clear();
        }
        result
    }

    fn read_saved(&mut self, input: &mut dyn Read) -> io::Result<()> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        let mut magic = [0u8; 8];
        input.read_exact(&mut magic)?;
        if &magic != SAVED_MAGIC {
            return Err(invalid("not a saved rill KV cache"));
        }
        let mut number = || -> io::Result<usize> {
            let mut bytes = [0u8; 8];
            input.read_exact(&mut bytes)?;
            usize::try_from(u64::from_le_bytes(bytes))
                .map_err(|_| invalid("a length beyond memory"))
        };
        let (layers, kv_dim, len) = (number()?, number()?, number()?);
        if layers != self.layers.len() || kv_dim != self.kv_dim {
            return Err(invalid("a saved cache of another model's shape"));
        }
        if len > self.max_len {
            return Err(invalid("a saved cache longer than the model's context"));
        }
        let mut offsets = Vec::with_capacity(layers);
        for _ in 0..layers {
            let offset = number()?;
            if offset > len {
                return Err(invalid("a layer that starts after the cache's end"));
            }
            offsets.push(offset);
        }
        for (layer, offset) in self.layers.iter_mut().zip(offsets) {
            let live = (len - offset) * kv_dim;
            for data in [&mut layer.keys, &mut layer.values] {
                data.clear();
                data.shrink_to_fit();
                data.resize(live, f16::ZERO);
                input.read_exact(bytemuck::cast_slice_mut(&mut data[..]))?;
            }
            layer.offset = offset;
        }
        self.len = len;
        Ok(())
    }

    /// Bytes currently allocated for keys and values.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|layer| {
                (layer.keys.capacity() + layer.values.capacity()) * std::mem::size_of::<f16>()
            })
            .sum()
    }

    /// Bytes each position costs in a cache that keeps every position.
    pub fn bytes_per_token(&self) -> usize {
        self.layers.len() * 2 * self.kv_dim * std::mem::size_of::<f16>()
    }

    /// Makes room for `additional` positions after the live ones.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let kv_dim = self.kv_dim;
        for layer in &mut self.layers {
            let needed = self.len + additional - layer.offset;
            let capacity = layer.capacity(kv_dim);
            if needed <= capacity {
                continue;
            }
            let grown = needed
                .max(capacity * 2)
                .max(INITIAL_CAPACITY)
                .min((self.max_len - layer.offset).max(needed));
            layer.keys.resize(grown * kv_dim, f16::ZERO);
            layer.values.resize(grown * kv_dim, f16::ZERO);
        }
    }

    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut LayerKv {
        &mut self.layers[layer]
    }

    /// Marks `count` more positions as live after a successful pass wrote them.
    pub(crate) fn advance(&mut self, count: usize) {
        debug_assert!(self
            .layers
            .iter()
            .all(|layer| self.len + count - layer.offset <= layer.capacity(self.kv_dim)));
        self.len += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_is_rollback_and_never_grows() {
        let mut cache = KvCache::new(2, 4, 100);
        cache.reserve(10);
        cache.advance(10);
        cache.truncate(20);
        assert_eq!(cache.len(), 10);
        cache.truncate(3);
        assert_eq!(cache.len(), 3);
        assert!(cache.bytes() >= 10 * cache.bytes_per_token());
    }

    #[test]
    fn fork_copies_only_live_positions() {
        let mut cache = KvCache::new(1, 2, 100);
        cache.reserve(4);
        let numbers = [1., 2., 3., 4., 5., 6., 7., 8.].map(f16::from_f32);
        cache.layer_mut(0).keys[..8].copy_from_slice(&numbers);
        cache.advance(4);
        cache.truncate(2);
        let fork = cache.fork();
        assert_eq!(fork.len(), 2);
        assert_eq!(fork.layers[0].keys, numbers[..4].to_vec());
        assert_eq!(fork.bytes(), 2 * fork.bytes_per_token());
    }

    #[test]
    fn growth_respects_max_len() {
        let mut cache = KvCache::new(1, 1, 300);
        cache.reserve(260);
        assert_eq!(cache.layers[0].capacity(1), 260);
        cache.advance(260);
        // Doubling would give 520 positions, more than the context can ever hold.
        cache.reserve(30);
        assert_eq!(cache.layers[0].capacity(1), 300);
    }

    /// A cache with one global and one sliding layer (window 4) whose position `p` holds `p` in every slot.
    fn numbered(len: usize) -> KvCache {
        let mut cache = KvCache::with_windows(vec![None, Some(4)], 1, 100);
        cache.reserve(len);
        for layer in 0..2 {
            for p in 0..len {
                cache.layer_mut(layer).keys[p] = f16::from_f32(p as f32);
                cache.layer_mut(layer).values[p] = f16::from_f32(p as f32);
            }
        }
        cache.advance(len);
        cache
    }

    #[test]
    fn compaction_keeps_the_window_and_margin_of_sliding_layers_only() {
        let mut cache = numbered(20);
        let full = cache.bytes();
        let freed = cache.compact(2);
        assert!(freed > 0 && cache.bytes() < full);
        assert_eq!(
            cache.layers[0].keys.len(),
            20,
            "global layers keep every position"
        );
        let sliding = &cache.layers[1];
        assert_eq!(sliding.offset, 14);
        let expected: Vec<f16> = (14..20).map(|p| f16::from_f32(p as f32)).collect();
        assert_eq!(sliding.keys, expected);
        assert_eq!(sliding.values, sliding.keys);
        // Position 17 attends to 14..=17, all still there; position 16 would need 13.
        assert_eq!(cache.min_rollback(), 17);
    }

    #[test]
    fn rollback_within_the_margin_keeps_the_cache_and_deeper_rollback_empties_it() {
        let mut cache = numbered(20);
        cache.compact(2);
        cache.truncate(18);
        assert_eq!(cache.len(), 18);
        cache.truncate(17);
        assert_eq!(cache.len(), 17);
        cache.truncate(16);
        assert_eq!(cache.len(), 0);
        assert_eq!(
            cache.min_rollback(),
            0,
            "an emptied cache starts over at position 0"
        );
        cache.reserve(30);
        cache.advance(30);
        assert_eq!(cache.len(), 30);
    }

    #[test]
    fn a_compacted_cache_grows_again() {
        let mut cache = numbered(20);
        cache.compact(0);
        cache.reserve(5);
        cache.layer_mut(1).keys[20 - 16] = f16::from_f32(20.0);
        cache.advance(5);
        assert_eq!(cache.len(), 25);
        assert_eq!(cache.layers[1].keys[4], f16::from_f32(20.0));
        let fork = cache.fork();
        assert_eq!(fork.layers[1].offset, 16);
        assert_eq!(fork.layers[1].keys.len(), 9);
    }

    #[test]
    fn a_saved_cache_restores_bit_for_bit_compacted_or_not() {
        for compact in [false, true] {
            let mut cache = numbered(20);
            if compact {
                cache.compact(2);
            }
            let mut saved = Vec::new();
            cache.save(&mut saved).unwrap();
            let mut restored = KvCache::with_windows(vec![None, Some(4)], 1, 100);
            restored.restore(&mut saved.as_slice()).unwrap();
            assert_eq!(restored.len(), 20);
            assert_eq!(restored.min_rollback(), cache.min_rollback());
            for (mine, theirs) in restored.layers.iter().zip(&cache.layers) {
                assert_eq!(mine.offset, theirs.offset);
                assert_eq!(mine.keys, theirs.keys[..mine.keys.len()]);
                assert_eq!(mine.values, theirs.values[..mine.values.len()]);
                assert_eq!(mine.keys.len(), (20 - mine.offset), "only live positions");
            }
            // It goes on growing as any cache does.
            restored.reserve(3);
            restored.advance(3);
            assert_eq!(restored.len(), 23);
        }
    }

    #[test]
    fn a_saved_cache_of_another_shape_or_cut_short_is_refused_and_leaves_an_empty_cache() {
        let cache = numbered(20);
        let mut saved = Vec::new();
        cache.save(&mut saved).unwrap();
        let mut wider = KvCache::with_windows(vec![None, Some(4)], 2, 100);
        assert!(wider.restore(&mut saved.as_slice()).is_err());
        let mut fewer_layers = KvCache::with_windows(vec![None], 1, 100);
        assert!(fewer_layers.restore(&mut saved.as_slice()).is_err());
        let mut short_context = KvCache::with_windows(vec![None, Some(4)], 1, 10);
        assert!(short_context.restore(&mut saved.as_slice()).is_err());
        let mut same = numbered(5);
        assert!(same.restore(&mut &saved[..saved.len() - 1]).is_err());
        assert_eq!(same.len(), 0, "a failed restore leaves nothing half-read");
        assert!(same.restore(&mut &b"not a cache at all"[..]).is_err());
        same.restore(&mut saved.as_slice()).unwrap();
        assert_eq!(same.len(), 20);
    }

    #[test]
    fn a_prefix_fork_keeps_what_continuing_reads() {
        let cache = numbered(20);
        let fork = cache
            .fork_prefix(12)
            .expect("a full cache rolls back anywhere");
        assert_eq!(fork.len(), 12);
        for (mine, theirs) in fork.layers.iter().zip(&cache.layers) {
            let start = mine.offset * cache.kv_dim;
            assert_eq!(mine.keys[..], theirs.keys[start..12 * cache.kv_dim]);
            assert_eq!(mine.values[..], theirs.values[start..12 * cache.kv_dim]);
        }
        let mut compacted = numbered(20);
        compacted.compact(0);
        assert!(compacted.fork_prefix(2).is_none());
    }

    #[test]
    fn a_whole_prefix_fork_rolls_back_as_far_as_the_original() {
        let cache = numbered(20);
        let mut windowed = cache.fork_prefix(12).unwrap();
        let mut whole = cache.fork_prefix_whole(12).unwrap();
        assert_eq!(whole.len(), 12);
        assert_eq!(whole.min_rollback(), 0);
        assert_eq!(whole.layers[1].keys, cache.layers[1].keys[..12].to_vec());
        whole.truncate(3);
        assert_eq!(whole.len(), 3, "rolls back anywhere");
        windowed.truncate(3);
        assert_eq!(windowed.len(), 0, "a windowed fork empties instead");
    }
}
