//! Causal (optionally sliding-window) attention of a pass's queries over the f16 KV cache, tiled so that each cached key and value is converted to f32 once per tile of queries and shared by every query head of its group.
//!
//! Work items are (KV head, tile of consecutive queries, share of the group's query heads). An
//! item walks the keys its queries can see in blocks: it converts a block of keys, computes the
//! scores of every (query, head) row of the tile against it, and after the softmax does the same
//! with the values. Every row's scores, softmax and output accumulation are the same float
//! operations in the same order whatever the tile holds (see [`crate::kv_kernels`]), so a query
//! gives bit-identical results in a one-token pass and in a prompt pass.

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::kv_cache::LayerKv;
use crate::kv_kernels::{KvKernels, MAX_ROWS};
use crate::ops;

/// Queries per work item. With the 128-token prompt chunks and one KV head that makes 16 items,
/// enough to balance two to eight threads, while each converted key block serves 8 × group rows.
const QUERY_TILE: usize = 8;
/// Keys (and values) converted per block: 32 × 256 floats stay within the L1 and L2 caches
/// together with the tile's queries.
const KEY_BLOCK: usize = 32;

/// The attention heads of a layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Heads {
    /// Query heads.
    pub heads: usize,
    /// Key/value heads; each serves `heads / kv_heads` consecutive query heads.
    pub kv_heads: usize,
    pub head_dim: usize,
}

/// A raw pointer that worker threads may share because each writes a disjoint range.
struct DisjointWrites(*mut f32);
// SAFETY: every work item below writes only the output rows of its own (query, head) pairs.
unsafe impl Sync for DisjointWrites {}

/// Causal attention of `count` new queries `q` (`[count, heads, head_dim]`, already scaled, at
/// positions `start..start + count`) over the cached keys and values, returned as
/// `[count, heads, head_dim]`. A key at position `k` is visible to a query at `p` when `k <= p`
/// and `p - k < window`, which is llama.cpp's sliding-window rule.
pub(crate) fn attention(
    shape: Heads,
    q: &[f32],
    kv: &LayerKv,
    start: usize,
    count: usize,
    window: usize,
) -> Vec<f32> {
    attention_with(KvKernels::detect(), shape, q, kv, start, count, window)
}

fn attention_with(
    kernels: KvKernels,
    shape: Heads,
    q: &[f32],
    kv: &LayerKv,
    start: usize,
    count: usize,
    window: usize,
) -> Vec<f32> {
    let Heads {
        heads,
        kv_heads,
        head_dim,
    } = shape;
    let group = heads / kv_heads;
    // A compacted layer stores positions from `kv.offset` on; the cache guarantees that every
    // position a query can see is still stored.
    debug_assert!((start + 1).saturating_sub(window) >= kv.offset);
    assert_eq!(q.len(), count * heads * head_dim);
    let mut out = vec![0.0f32; count * heads * head_dim];

    let tiles = count.div_ceil(QUERY_TILE);
    let pool = candle_core::utils::barrier_pool();
    let threads = pool.n_workers() + 1;
    // A short pass (decoding) has fewer tiles than threads: split the group's heads instead, so
    // that the threads share the work at the price of converting the keys once per share.
    let shares = if kv_heads * tiles >= threads {
        1
    } else {
        threads.div_ceil(kv_heads * tiles).min(group)
    };
    let share_heads = group.div_ceil(shares);
    let shares = group.div_ceil(share_heads);
    let items = tiles * kv_heads * shares;

    let plan = Plan {
        kernels,
        shape,
        q,
        kv,
        start,
        count,
        window,
        share_heads,
    };
    let writer = DisjointWrites(out.as_mut_ptr());
    let work = |range: std::ops::Range<usize>| {
        let writer = &writer;
        let mut scratch = Scratch::default();
        for item in range {
            // The last tiles see the most keys: hand them out first so that the cheap ones
            // fill the gaps at the end.
            let tile = tiles - 1 - item / (kv_heads * shares);
            let kv_head = item / shares % kv_heads;
            let share = item % shares;
            let first_head = kv_head * group + share * share_heads;
            let last_head = (first_head + share_heads).min((kv_head + 1) * group);
            let queries = tile * QUERY_TILE..((tile + 1) * QUERY_TILE).min(count);
            plan.run(
                &mut scratch,
                kv_head,
                queries,
                first_head..last_head,
                writer,
            );
        }
    };
    if items == 1 {
        work(0..1);
    } else {
        pool.execute_chunked(items, work);
    }
    out
}

/// What every work item of one attention call shares.
struct Plan<'a> {
    kernels: KvKernels,
    shape: Heads,
    q: &'a [f32],
    kv: &'a LayerKv,
    start: usize,
    count: usize,
    window: usize,
    share_heads: usize,
}

/// A worker's buffers, reused across its items.
#[derive(Default)]
struct Scratch {
    /// Scores, then softmax weights: one row per (query, head) of the tile, over the keys of the
    /// whole tile.
    scores: Vec<f32>,
    /// One block of keys or values in f32.
    block: Vec<f32>,
}

impl Plan<'_> {
    /// The first key position a query at `position` sees.
    fn first_key(&self, position: usize) -> usize {
        (position + 1).saturating_sub(self.window)
    }

    /// Converts positions `keys` of `kv_head` from `cache` (keys or values) into `block`.
    fn convert(
        &self,
        cache: &[f16],
        kv_head: usize,
        keys: std::ops::Range<usize>,
        block: &mut [f32],
    ) {
        let head_dim = self.shape.head_dim;
        let kv_dim = self.shape.kv_heads * head_dim;
        for (index, position) in keys.enumerate() {
            let stored = (position - self.kv.offset) * kv_dim + kv_head * head_dim;
            cache[stored..][..head_dim]
                .convert_to_f32_slice(&mut block[index * head_dim..][..head_dim]);
        }
    }

    /// Attention of queries `queries` (indices into the pass) for query heads `heads` of
    /// `kv_head`, written to their rows of the output.
    fn run(
        &self,
        scratch: &mut Scratch,
        kv_head: usize,
        queries: std::ops::Range<usize>,
        heads: std::ops::Range<usize>,
        writer: &DisjointWrites,
    ) {
        let Heads {
            heads: all_heads,
            head_dim,
            ..
        } = self.shape;
        debug_assert!(queries.end <= self.count && heads.len() <= self.share_heads);
        let lowest = self.first_key(self.start + queries.start);
        let end = self.start + queries.end;
        let span = end - lowest;
        let rows_per_query = heads.len();
        let rows = queries.len() * rows_per_query;
        let Scratch { scores, block } = scratch;
        scores.clear();
        scores.resize(rows * span, 0.0);
        block.resize(KEY_BLOCK * head_dim, 0.0);

        // The visible part of block `keys` for query `t`, or `None`.
        let visible = |t: usize, keys: &std::ops::Range<usize>| {
            let position = self.start + t;
            let from = keys.start.max(self.first_key(position));
            let to = keys.end.min(position + 1);
            (from < to).then_some(from..to)
        };
        // Row groups of at most MAX_ROWS heads of one query: (query, first head, head count,
        // first row of the tile).
        let groups = || {
            queries.clone().flat_map(move |t| {
                (heads.start..heads.end).step_by(MAX_ROWS).map(move |h| {
                    let count = MAX_ROWS.min(heads.end - h);
                    let row = (t - queries.start) * rows_per_query + (h - heads.start);
                    (t, h, count, row)
                })
            })
        };
        let blocks = || {
            (lowest..end)
                .step_by(KEY_BLOCK)
                .map(|from| from..(from + KEY_BLOCK).min(end))
        };

        for keys in blocks() {
            self.convert(&self.kv.keys, kv_head, keys.clone(), block);
            for (t, h, count, row) in groups() {
                let Some(seen) = visible(t, &keys) else {
                    continue;
                };
                self.kernels.dots(
                    &self.q[(t * all_heads + h) * head_dim..],
                    count,
                    &block[(seen.start - keys.start) * head_dim..],
                    seen.len(),
                    head_dim,
                    &mut scores[row * span + seen.start - lowest..],
                    span,
                );
            }
        }

        for (t, _, count, row) in groups() {
            let position = self.start + t;
            let seen = self.first_key(position) - lowest..position + 1 - lowest;
            for r in row..row + count {
                ops::softmax(&mut scores[r * span..][seen.clone()]);
            }
        }

        for keys in blocks() {
            self.convert(&self.kv.values, kv_head, keys.clone(), block);
            for (t, h, count, row) in groups() {
                let Some(seen) = visible(t, &keys) else {
                    continue;
                };
                // SAFETY: this item alone writes the rows of query t, heads h..h + count, and
                // the output outlives the pool call, which returns after every item is done.
                let out = unsafe {
                    std::slice::from_raw_parts_mut(
                        writer.0.add((t * all_heads + h) * head_dim),
                        count * head_dim,
                    )
                };
                self.kernels.accumulate(
                    &scores[row * span + seen.start - lowest..],
                    span,
                    count,
                    &block[(seen.start - keys.start) * head_dim..],
                    seen.len(),
                    head_dim,
                    out,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Level;

    fn levels() -> Vec<Level> {
        [Level::Scalar, Level::Avx2, Level::Avx512Vnni]
            .into_iter()
            .filter(|&level| level <= Level::detected())
            .collect()
    }

    fn cache(positions: usize, offset: usize, kv_dim: usize) -> LayerKv {
        let make = |seed: f32| {
            (0..(positions - offset) * kv_dim)
                .map(|i| f16::from_f32((i as f32 * seed).sin()))
                .collect()
        };
        let mut kv = LayerKv::default();
        kv.keys = make(0.013);
        kv.values = make(0.029);
        kv.offset = offset;
        kv
    }

    /// The reference: one (query, head) at a time, one key at a time, with the kernels' one-row,
    /// one-key calls, which fix the order of every operation.
    fn naive(
        kernels: KvKernels,
        shape: Heads,
        q: &[f32],
        kv: &LayerKv,
        start: usize,
        count: usize,
        window: usize,
    ) -> Vec<f32> {
        let Heads {
            heads,
            kv_heads,
            head_dim,
        } = shape;
        let kv_dim = kv_heads * head_dim;
        let group = heads / kv_heads;
        let mut out = vec![0.0f32; count * heads * head_dim];
        for t in 0..count {
            let position = start + t;
            let first = (position + 1).saturating_sub(window);
            for head in 0..heads {
                let kv_head = head / group;
                let query = &q[(t * heads + head) * head_dim..][..head_dim];
                let row = |data: &[f16], k: usize| -> Vec<f32> {
                    data[(k - kv.offset) * kv_dim + kv_head * head_dim..][..head_dim]
                        .iter()
                        .map(|v| v.to_f32())
                        .collect()
                };
                let mut scores: Vec<f32> = (first..=position)
                    .map(|k| {
                        let mut score = [0.0];
                        kernels.dots(query, 1, &row(&kv.keys, k), 1, head_dim, &mut score, 1);
                        score[0]
                    })
                    .collect();
                ops::softmax(&mut scores);
                let output = &mut out[(t * heads + head) * head_dim..][..head_dim];
                for (k, weight) in (first..=position).zip(&scores) {
                    kernels.accumulate(&[*weight], 1, 1, &row(&kv.values, k), 1, head_dim, output);
                }
            }
        }
        out
    }

    #[test]
    fn tiled_attention_is_bit_identical_to_one_query_and_one_key_at_a_time() {
        // (heads, kv heads, head dim, window, cache offset): GQA groups of 4 and 7 (Qwen2's,
        // split over two row groups), plain multi-head attention, sliding windows shorter than
        // a tile, a block and the pass, a head size with a tail, a compacted cache.
        let cases = [
            (4, 1, 256, usize::MAX, 0),
            (4, 1, 256, 40, 0),
            (14, 2, 64, usize::MAX, 0),
            (14, 2, 64, 5, 0),
            (3, 3, 40, 70, 0),
            (8, 2, 24, 33, 60),
        ];
        for (heads, kv_heads, head_dim, window, offset) in cases {
            let shape = Heads {
                heads,
                kv_heads,
                head_dim,
            };
            let total = 150;
            let kv = cache(total, offset, kv_heads * head_dim);
            for level in levels() {
                let kernels = KvKernels::at(level);
                // The same positions in one pass, in uneven chunks and one at a time.
                for chunk in [total, 37, 1] {
                    let first_pass = if offset > 0 { 100 } else { 0 };
                    let mut start = first_pass;
                    while start < total {
                        let count = chunk.min(total - start);
                        let q: Vec<f32> = (0..count * heads * head_dim)
                            .map(|i| ((start * heads * head_dim + i) as f32 * 0.007).cos())
                            .collect();
                        let tiled = attention_with(kernels, shape, &q, &kv, start, count, window);
                        let reference = naive(kernels, shape, &q, &kv, start, count, window);
                        assert!(
                            tiled == reference,
                            "{level:?} heads {heads}/{kv_heads} dim {head_dim} window {window} \
                             chunk {chunk} start {start}"
                        );
                        start += count;
                    }
                }
            }
        }
    }

    #[test]
    fn a_window_of_one_returns_the_query_positions_own_value() {
        let shape = Heads {
            heads: 2,
            kv_heads: 1,
            head_dim: 16,
        };
        let kv = cache(10, 0, 16);
        let q = vec![0.5; 10 * 2 * 16];
        let out = attention_with(KvKernels::at(Level::Scalar), shape, &q, &kv, 0, 10, 1);
        for t in 0..10 {
            for head in 0..2 {
                let expected: Vec<f32> = kv.values[t * 16..][..16]
                    .iter()
                    .map(|v| v.to_f32())
                    .collect();
                assert_eq!(out[(t * 2 + head) * 16..][..16], expected[..]);
            }
        }
    }
}
