//! The AVX-512 VNNI tile kernel: `vpdpbusd` on 512-bit registers that each hold two dot products
//! (one weight row per 256-bit half), with results bit-identical to the AVX2 kernel and candle.
//!
//! Each 256-bit half goes through exactly the operations candle applies to one dot product: the
//! same exact integer partial sums in 8 lanes (`vpdpbusd` computes them in one instruction
//! instead of sign + maddubs + madd), the same f32 conversion, the same scale product and fused
//! multiply-add per block, and the same final reduction. So this level, the AVX2 level and
//! candle's single-row product all agree bit for bit, and any mix of them keeps the engine's
//! results independent of how a sequence is split into passes.

use std::arch::x86_64::*;

use half::f16;

use super::avx2::horizontal_sum;
use super::quantize::QuantizedRows;
use super::{Out, WeightBlocks, BLOCK, Q8_0_BYTES};

/// Activation rows per tile.
const TILE_ROWS: usize = 4;
/// Pairs of weight rows per tile (each pair fills one 512-bit register).
const TILE_PAIRS: usize = 2;

/// All `m` activation rows times weight rows `columns` (an even-sized, even-aligned range).
///
/// # Safety
/// AVX-512 F/BW/VL/VNNI, AVX2, FMA and F16C must be available; `columns` must lie inside the
/// weight matrix, `m` rows inside the activations, and `out` must have room for `m` rows.
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
pub(super) unsafe fn columns(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    m: usize,
    columns: std::ops::Range<usize>,
    out: &Out,
) {
    let mut column = columns.start;
    // SAFETY (both loops): forwarded from the caller; each tile covers weight rows inside
    // `columns` and activation rows inside `0..m`.
    while column + 2 * TILE_PAIRS <= columns.end {
        unsafe { rows::<TILE_PAIRS>(weights, activations, m, column, out) };
        column += 2 * TILE_PAIRS;
    }
    while column < columns.end {
        unsafe { rows::<1>(weights, activations, m, column, out) };
        column += 2;
    }
}

/// Weight rows `column..column + 2P` times every activation row, in tiles of up to 4 rows.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn rows<const P: usize>(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    m: usize,
    column: usize,
    out: &Out,
) {
    let mut row = 0;
    while row < m {
        let rows = (m - row).min(TILE_ROWS);
        // SAFETY: forwarded from `columns`; the tile stays inside rows `row..row + rows`.
        unsafe {
            match rows {
                4 => tile::<4, P>(weights, activations, row, column, out),
                3 => tile::<3, P>(weights, activations, row, column, out),
                2 => tile::<2, P>(weights, activations, row, column, out),
                _ => tile::<1, P>(weights, activations, row, column, out),
            }
        }
        row += rows;
    }
}

/// The f32 value of the f16 scale at the start of a Q8_0 block.
///
/// # Safety
/// `block` must point to at least 2 readable bytes.
#[inline]
unsafe fn scale(block: *const u8) -> f32 {
    // SAFETY: forwarded from the caller.
    unsafe { f16::from_le_bytes([*block, *block.add(1)]).to_f32() }
}

/// Dot products of activation rows `row..row + R` with weight rows `column..column + 2P`.
#[inline]
#[target_feature(enable = "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn tile<const R: usize, const P: usize>(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    row: usize,
    column: usize,
    out: &Out,
) {
    let blocks = weights.blocks_per_row;
    let row_bytes = blocks * Q8_0_BYTES;
    // vpdpbusd multiplies unsigned by signed bytes. Activations (within ±127) get +128 by
    // flipping their top bit; each lane then starts from -128·Σw of its 4 weights, which
    // cancels the offset exactly, so the lanes hold the plain integer sums Σ w·a.
    let flip = _mm512_set1_epi8(-128);
    let zero = _mm512_setzero_si512();
    // SAFETY: the caller guarantees that weight rows `column..column + 2P` and activation rows
    // `row..row + R` exist; every load stays inside one block, every store inside `out`.
    unsafe {
        let first = weights.bytes.as_ptr().add(column * row_bytes);
        let a = activations.quants.as_ptr().add(row * activations.cols);
        let sa = &activations.scales[row * blocks..][..R * blocks];
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        for b in 0..blocks {
            let mut w = [zero; P];
            let mut start = [zero; P];
            let mut dw = [_mm512_setzero_ps(); P];
            for p in 0..P {
                let low = first.add(2 * p * row_bytes + b * Q8_0_BYTES);
                let high = low.add(row_bytes);
                w[p] = _mm512_inserti64x4::<1>(
                    _mm512_castsi256_si512(_mm256_loadu_si256(low.add(2) as *const __m256i)),
                    _mm256_loadu_si256(high.add(2) as *const __m256i),
                );
                start[p] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, flip, w[p]));
                dw[p] = _mm512_castpd_ps(_mm512_insertf64x4::<1>(
                    _mm512_castps_pd(_mm512_set1_ps(scale(low))),
                    _mm256_castps_pd(_mm256_set1_ps(scale(high))),
                ));
            }
            for r in 0..R {
                let quants = a.add(r * activations.cols + b * BLOCK) as *const __m256i;
                let av = _mm512_xor_si512(_mm512_broadcast_i64x4(_mm256_loadu_si256(quants)), flip);
                let da = _mm512_set1_ps(sa[r * blocks + b]);
                for p in 0..P {
                    let sums = _mm512_dpbusd_epi32(start[p], av, w[p]);
                    // The scale product rounds once, as candle's `d_w * d_a` does.
                    let d = _mm512_mul_ps(dw[p], da);
                    acc[r][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sums), d, acc[r][p]);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let at = out.at(row + r, column);
            for (p, &pair) in acc.iter().enumerate() {
                let low = _mm512_castps512_ps256(pair);
                let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(pair)));
                *at.add(2 * p) = horizontal_sum(low);
                *at.add(2 * p + 1) = horizontal_sum(high);
            }
        }
    }
}
