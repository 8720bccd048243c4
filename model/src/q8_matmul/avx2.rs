//! The AVX2 tile kernel: 2 weight rows × up to 4 activation rows, summed exactly as candle's
//! `vec_dot_q8_0_q8_0` sums one dot product, so its results are bit-identical to candle's.

use std::arch::x86_64::*;

use half::f16;

use super::quantize::QuantizedRows;
use super::{Out, WeightBlocks, BLOCK, Q8_0_BYTES};

/// Activation rows per tile: every loaded weight block serves this many dot products.
const TILE_ROWS: usize = 4;

/// One block of one dot product: `acc += scale * Σ w·a` over 32 values, as 8 float lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn block(acc: __m256, w: __m256i, w_abs: __m256i, a: __m256i, scale: f32) -> __m256 {
    // maddubs needs an unsigned operand: use |w| and move w's sign onto a. No pair sum can
    // saturate (|w| ≤ 128, |a| ≤ 127), so the 8 lanes hold exact integer partial sums.
    let signed_a = _mm256_sign_epi8(a, w);
    let pairs = _mm256_maddubs_epi16(w_abs, signed_a);
    let sums = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
    _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), acc)
}

/// The final reduction of 8 lanes, in the order candle's `hsum_float_8` adds them.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) fn horizontal_sum(v: __m256) -> f32 {
    let sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
    let sum1 = _mm_add_ss(sum2, _mm_movehdup_ps(sum2));
    _mm_cvtss_f32(sum1)
}

/// All `m` activation rows times weight rows `columns` (an even-sized, even-aligned range).
///
/// # Safety
/// AVX2 and FMA must be available; `columns` must lie inside the weight matrix, `m` rows inside
/// the activations, and `out` must have room for `m` rows of the matrix's width.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn columns(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    m: usize,
    columns: std::ops::Range<usize>,
    out: &Out,
) {
    for column in columns.step_by(2) {
        let mut row = 0;
        while row < m {
            let rows = (m - row).min(TILE_ROWS);
            // SAFETY: forwarded from the caller; the tile stays inside rows `row..row + rows`.
            unsafe {
                match rows {
                    4 => tile::<4, 8>(weights, activations, row, column, out),
                    3 => tile::<3, 6>(weights, activations, row, column, out),
                    2 => tile::<2, 4>(weights, activations, row, column, out),
                    _ => tile::<1, 2>(weights, activations, row, column, out),
                }
            }
            row += rows;
        }
    }
}

/// Dot products of activation rows `row..row + R` with weight rows `column` and `column + 1`.
/// Every element goes through the same operations for any `R`, so tiles of different heights
/// give identical values.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const R: usize, const OUT: usize>(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    row: usize,
    column: usize,
    out: &Out,
) {
    let blocks = weights.blocks_per_row;
    // SAFETY: the caller guarantees that weight rows `column`, `column + 1` and activation
    // rows `row..row + R` exist; every load stays inside one block, every store inside `out`.
    unsafe {
        let w0 = weights.bytes.as_ptr().add(column * blocks * Q8_0_BYTES);
        let w1 = w0.add(blocks * Q8_0_BYTES);
        let a = activations.quants.as_ptr().add(row * activations.cols);
        let sa = &activations.scales[row * blocks..][..R * blocks];
        let mut acc = [_mm256_setzero_ps(); OUT];
        for b in 0..blocks {
            let block0 = w0.add(b * Q8_0_BYTES);
            let block1 = w1.add(b * Q8_0_BYTES);
            let d0 = f16::from_le_bytes([*block0, *block0.add(1)]).to_f32();
            let d1 = f16::from_le_bytes([*block1, *block1.add(1)]).to_f32();
            let wv0 = _mm256_loadu_si256(block0.add(2) as *const __m256i);
            let wv1 = _mm256_loadu_si256(block1.add(2) as *const __m256i);
            let wa0 = _mm256_abs_epi8(wv0);
            let wa1 = _mm256_abs_epi8(wv1);
            for r in 0..R {
                let av =
                    _mm256_loadu_si256(a.add(r * activations.cols + b * BLOCK) as *const __m256i);
                let da = sa[r * blocks + b];
                acc[2 * r] = block(acc[2 * r], wv0, wa0, av, d0 * da);
                acc[2 * r + 1] = block(acc[2 * r + 1], wv1, wa1, av, d1 * da);
            }
        }
        for r in 0..R {
            let at = out.at(row + r, column);
            *at = horizontal_sum(acc[2 * r]);
            *at.add(1) = horizontal_sum(acc[2 * r + 1]);
        }
    }
}
