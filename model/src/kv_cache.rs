//! The caller-owned key/value cache of one sequence: grows in steps, rolls back in O(1), forks by copy.
//!
//! The engine keeps one `KvCache` per document, so the cache lives outside the model (the weights are
//! shared and immutable) and the model's `forward` borrows it mutably for one pass.
//!
//! Memory bound: every layer keeps keys and values of every position as f32, i.e.
//! `layers × 2 × kv_heads × head_dim × 4` bytes per token (36,864 bytes for Gemma 3 270M). Keeping all
//! positions in the sliding-window layers too is what makes `truncate` O(1) for any rollback distance.

/// Keys and values of one layer, position-major: position `p` occupies `[p * kv_dim, (p + 1) * kv_dim)`.
#[derive(Clone, Default)]
pub(crate) struct LayerKv {
    pub(crate) keys: Vec<f32>,
    pub(crate) values: Vec<f32>,
}

/// Key/value state of one token sequence.
#[derive(Clone)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    kv_dim: usize,
    len: usize,
    capacity: usize,
    max_len: usize,
}

/// Positions reserved by the first pass; later growth doubles.
const INITIAL_CAPACITY: usize = 256;

impl KvCache {
    /// An empty cache for a model with `num_layers` layers of `kv_dim`-wide keys and values,
    /// never longer than `max_len` positions.
    pub fn new(num_layers: usize, kv_dim: usize, max_len: usize) -> Self {
        Self {
            layers: vec![LayerKv::default(); num_layers],
            kv_dim,
            len: 0,
            capacity: 0,
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

    /// Rolls the sequence back to its first `len` positions, in O(1): the stale entries stay in
    /// memory and are overwritten by the next pass. Asking for more than is cached changes nothing.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Forgets every position but keeps the allocation for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// An independent copy of the live positions, e.g. to try a draft continuation and keep the original.
    pub fn fork(&self) -> Self {
        let live = self.len * self.kv_dim;
        Self {
            layers: self
                .layers
                .iter()
                .map(|layer| LayerKv {
                    keys: layer.keys[..live].to_vec(),
                    values: layer.values[..live].to_vec(),
                })
                .collect(),
            kv_dim: self.kv_dim,
            len: self.len,
            capacity: self.len,
            max_len: self.max_len,
        }
    }

    /// Bytes currently allocated for keys and values.
    pub fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|layer| {
                (layer.keys.capacity() + layer.values.capacity()) * std::mem::size_of::<f32>()
            })
            .sum()
    }

    /// Bytes each cached position costs.
    pub fn bytes_per_token(&self) -> usize {
        self.layers.len() * 2 * self.kv_dim * std::mem::size_of::<f32>()
    }

    /// Makes room for `additional` positions after the live ones.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let needed = self.len + additional;
        if needed <= self.capacity {
            return;
        }
        let capacity = needed
            .max(self.capacity * 2)
            .max(INITIAL_CAPACITY)
            .min(self.max_len.max(needed));
        for layer in &mut self.layers {
            layer.keys.resize(capacity * self.kv_dim, 0.0);
            layer.values.resize(capacity * self.kv_dim, 0.0);
        }
        self.capacity = capacity;
    }

    pub(crate) fn layer_mut(&mut self, layer: usize) -> &mut LayerKv {
        &mut self.layers[layer]
    }

    /// Marks `count` more positions as live after a successful pass wrote them.
    pub(crate) fn advance(&mut self, count: usize) {
        debug_assert!(self.len + count <= self.capacity);
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
        cache.layer_mut(0).keys[..8].copy_from_slice(&[1., 2., 3., 4., 5., 6., 7., 8.]);
        cache.advance(4);
        cache.truncate(2);
        let fork = cache.fork();
        assert_eq!(fork.len(), 2);
        assert_eq!(fork.layers[0].keys, vec![1., 2., 3., 4.]);
        assert_eq!(fork.bytes(), 2 * fork.bytes_per_token());
    }

    #[test]
    fn growth_respects_max_len() {
        let mut cache = KvCache::new(1, 1, 300);
        cache.reserve(260);
        assert_eq!(cache.capacity, 260);
        cache.advance(260);
        // Doubling would give 520 positions, more than the context can ever hold.
        cache.reserve(30);
        assert_eq!(cache.capacity, 300);
    }
}
