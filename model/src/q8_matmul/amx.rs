//! AMX int8 tiles for scoring: one `tdpbssd` multiplies 16 weight rows by 16 activation rows over one Q8_0 block, and AVX-512 applies the block's scales.
//!
//! Scoring a whole file applies the output head (262k × 640 for Gemma 3) to every position; on
//! the VNNI tiles that product was half of a diagnostics scan. A tile instruction does 16 × 16 ×
//! 32 multiply-adds at once, so the product becomes bound by the scale arithmetic instead.
//!
//! Each block's integer dot product is exact here as in the VNNI tiles, but it is scaled once per
//! block (`acc = fma(Σ w·a, d_w·d_a, acc)`, blocks in order) where the VNNI tiles scale eight
//! partial sums per block and add them at the end. The logits therefore differ from the
//! decoding path's in their last bits. Decoding, prefill and speculative verification never use
//! this kernel (they rely on bit-identical logits); scoring uses it for every product on a
//! machine that has it, whatever the number of rows, and each element depends only on its own
//! row and column, so a score does not depend on how rows were grouped into products.
//!
//! Weights are read where candle keeps them: a tile's 16 rows are 16 loads of a block's 32
//! quants, one weight row apart (the load's stride), so no repacked copy of the head exists.
//! Activations are repacked per product into the layout the second operand needs (a few KB).

use std::arch::asm;
use std::arch::x86_64::*;
use std::ops::Range;

use half::f16;

use super::quantize::QuantizedRows;
use super::{Out, WeightBlocks, BLOCK, Q8_0_BYTES};

/// Rows of a tile: 16 weight rows (the first operand) times 16 activation rows (the second).
pub(super) const TILE: usize = 16;

/// Bytes of one activation tile: 8 rows of 64 bytes, a block's 32 quants for each of 16 rows.
const PACKED_TILE: usize = BLOCK * TILE;

/// Activation rows in the layout of `tdpbssd`'s second operand: for every group of 16 rows and
/// every block, 8 rows of 64 bytes in which bytes `4a..4a + 4` of row `k` are quants `4k..4k + 4`
/// of the block in activation row `a`. Rows past the input's are zero with scale zero.
pub(super) struct PackedActivations {
    quants: Vec<i8>,
    /// `[group][block][16]` activation scales.
    scales: Vec<f32>,
    groups: usize,
    blocks: usize,
    rows: usize,
}

impl PackedActivations {
    pub(super) fn new(activations: &QuantizedRows, rows: usize) -> Self {
        let blocks = activations.cols / BLOCK;
        let groups = rows.div_ceil(TILE);
        let mut quants = vec![0i8; groups * blocks * PACKED_TILE];
        let mut scales = vec![0f32; groups * blocks * TILE];
        for row in 0..rows {
            let (group, lane) = (row / TILE, row % TILE);
            let source = &activations.quants[row * activations.cols..][..activations.cols];
            for (block, values) in source.chunks_exact(BLOCK).enumerate() {
                let tile = (group * blocks + block) * PACKED_TILE;
                for (k, four) in values.chunks_exact(4).enumerate() {
                    quants[tile + k * 4 * TILE + lane * 4..][..4].copy_from_slice(four);
                }
                scales[(group * blocks + block) * TILE + lane] =
                    activations.scales[row * blocks + block];
            }
        }
        Self {
            quants,
            scales,
            groups,
            blocks,
            rows,
        }
    }
}

/// The tile configuration: palette 1; tmm0 holds 16 × 16 int32 results, tmm4 16 weight rows of
/// 32 bytes, tmm6 8 rows of 64 activation bytes. It is the layout candle's AMX kernels load for
/// their own tiles 0–7, so whichever of them configured a thread last, the other's tiles keep
/// their shapes.
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl TileConfig {
    fn new() -> Self {
        let mut config = Self {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [0; 16],
            rows: [0; 16],
        };
        for tile in 0..4 {
            config.bytes_per_row[tile] = 64;
            config.rows[tile] = 16;
        }
        for tile in 4..6 {
            config.bytes_per_row[tile] = 32;
            config.rows[tile] = 16;
        }
        for tile in 6..8 {
            config.bytes_per_row[tile] = 64;
            config.rows[tile] = 8;
        }
        config
    }
}

/// One tile of int32 results, where `tilestored` leaves it for the vector unit.
#[repr(C, align(64))]
struct Sums([i32; TILE * TILE]);

/// Every activation row times weight rows `tiles.start * 16 .. tiles.end * 16`.
///
/// # Safety
/// The CPU must have AMX-TILE, AMX-INT8 and AVX-512 F, and this process the kernel's permission
/// to use tile data (`kernels::Level::AmxInt8` says both); the tiles must lie inside the weight
/// matrix, `packed` must hold the activations' rows, and `out` must have room for them.
#[target_feature(enable = "avx512f,f16c")]
pub(super) unsafe fn columns(
    weights: &WeightBlocks,
    packed: &PackedActivations,
    tiles: Range<usize>,
    out: &Out,
) {
    let blocks = packed.blocks;
    debug_assert_eq!(blocks, weights.blocks_per_row);
    let row_bytes = blocks * Q8_0_BYTES;
    let config = TileConfig::new();
    let mut sums = Sums([0; TILE * TILE]);
    // `[block][weight row]` scales of the current weight tile, so that one broadcast load serves a
    // row's block.
    let mut weight_scales = vec![0f32; blocks * TILE];
    // SAFETY: the caller guarantees AMX with permission; every tile load reads 16 rows of 32
    // bytes inside the weight tile's blocks or one packed activation tile; every store stays
    // inside `sums` or the caller's `out`.
    unsafe {
        asm!("ldtilecfg [{config}]", config = in(reg) &config, options(nostack, readonly));
        for tile in tiles {
            let first_row = tile * TILE;
            let base = weights.bytes.as_ptr().add(first_row * row_bytes);
            for row in 0..TILE {
                for block in 0..blocks {
                    let at = base.add(row * row_bytes + block * Q8_0_BYTES);
                    weight_scales[block * TILE + row] =
                        f16::from_le_bytes([*at, *at.add(1)]).to_f32();
                }
            }
            for group in 0..packed.groups {
                // acc[w] lane a: weight row first_row + w times activation row 16·group + a.
                let mut acc = [_mm512_setzero_ps(); TILE];
                for block in 0..blocks {
                    let quants = base.add(block * Q8_0_BYTES + 2);
                    let activations = packed
                        .quants
                        .as_ptr()
                        .add((group * blocks + block) * PACKED_TILE);
                    asm!(
                        "tilezero tmm0",
                        "tileloadd tmm4, [{weights} + {weight_stride} * 1]",
                        "tileloadd tmm6, [{activations} + {activation_stride} * 1]",
                        "tdpbssd tmm0, tmm4, tmm6",
                        "tilestored [{sums} + {sum_stride} * 1], tmm0",
                        weights = in(reg) quants,
                        weight_stride = in(reg) row_bytes,
                        activations = in(reg) activations,
                        activation_stride = in(reg) 4 * TILE,
                        sums = in(reg) sums.0.as_mut_ptr(),
                        sum_stride = in(reg) 4 * TILE,
                        options(nostack)
                    );
                    let activation_scales = _mm512_loadu_ps(
                        packed.scales.as_ptr().add((group * blocks + block) * TILE),
                    );
                    let scales = &weight_scales[block * TILE..][..TILE];
                    for (w, acc) in acc.iter_mut().enumerate() {
                        let exact = _mm512_load_si512(sums.0.as_ptr().add(w * TILE) as *const _);
                        // The scale product rounds once, then one fused multiply-add per block.
                        let scale = _mm512_mul_ps(activation_scales, _mm512_set1_ps(scales[w]));
                        *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scale, *acc);
                    }
                }
                let rows = (packed.rows - group * TILE).min(TILE);
                for (w, acc) in acc.iter().enumerate() {
                    let lanes: [f32; TILE] = std::mem::transmute(*acc);
                    for (lane, &value) in lanes.iter().enumerate().take(rows) {
                        *out.at(group * TILE + lane, first_row + w) = value;
                    }
                }
            }
        }
    }
}

/// What [`columns`] computes for one element, one operation at a time: the arithmetic the tests
/// hold the tiles to, bit for bit.
#[cfg(test)]
pub(super) fn reference(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    row: usize,
    column: usize,
) -> f32 {
    let blocks = weights.blocks_per_row;
    let row_bytes = blocks * Q8_0_BYTES;
    let mut acc = 0f32;
    for block in 0..blocks {
        let at = column * row_bytes + block * Q8_0_BYTES;
        let scale = f16::from_le_bytes([weights.bytes[at], weights.bytes[at + 1]]).to_f32();
        let exact: i32 = (0..BLOCK)
            .map(|i| {
                i32::from(weights.bytes[at + 2 + i] as i8)
                    * i32::from(activations.quants[row * activations.cols + block * BLOCK + i])
            })
            .sum();
        acc = (exact as f32).mul_add(activations.scales[row * blocks + block] * scale, acc);
    }
    acc
}
