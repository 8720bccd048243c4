//! AMX int8 tiles for Q8_0 products: one `tdpbssd` multiplies 16 weight rows by 16 activation rows over one Q8_0 block, and AVX-512 applies the block's scales.
//!
//! A tile instruction does 16 × 16 × 32 multiply-adds at once, so a product becomes bound by the
//! scale arithmetic instead of the dot products: the output head over every scored position of
//! a diagnostics scan, and the body's Q8_0 matrices in every prefill pass, run several times
//! faster than on the VNNI tiles.
//!
//! Each block's integer dot product is exact, as in the VNNI tiles, but it is scaled once per
//! block (`acc = fma(Σ w·a, d_a·d_w, acc)`, blocks in order) where the VNNI and AVX2 tiles and
//! candle scale eight partial sums per block. The results therefore differ from the other levels'
//! in their last bits, and a process at `Level::AmxInt8` runs every Q8_0 product here, one row
//! (decoding) as well as many (prefill, verification, scoring): each element depends only on its
//! own row and column and goes through the same operations whatever the number of rows, which
//! keeps chunked prefill, rollback and step-by-step decoding bit-identical.
//!
//! Weights are read where candle keeps them: a tile's 16 rows are 16 loads of a block's 32
//! quants, one weight row apart (the load's stride), so no repacked copy exists. Activations are
//! repacked per product into the layout the second operand needs (a few KB).

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
/// A single activation row (decoding) takes [`one_row`], which computes each element with the
/// same operations and keeps the weight rows in the vector lanes instead.
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
    if packed.rows == 1 {
        // SAFETY: forwarded from the caller.
        unsafe { one_row(weights, packed, tiles, out) };
        return;
    }
    let blocks = packed.blocks;
    debug_assert_eq!(blocks, weights.blocks_per_row);
    // SAFETY: the caller guarantees AMX with permission; every tile load reads 16 rows of 32
    // bytes inside the weight tile's blocks or one packed activation tile; every store stays
    // inside the scratch's sums or the caller's `out`.
    unsafe {
        let mut scratch = Scratch::configure(blocks);
        for tile in tiles {
            let first_row = tile * TILE;
            let base = scratch.weight_tile(weights, tile);
            for group in 0..packed.groups {
                // acc[w] lane a: weight row first_row + w times activation row 16·group + a.
                let mut acc = [_mm512_setzero_ps(); TILE];
                for block in 0..blocks {
                    let sums = &mut scratch.sums;
                    tile_product(base, scratch.row_bytes, block, packed, group, sums);
                    let activation_scales = _mm512_loadu_ps(
                        packed.scales.as_ptr().add((group * blocks + block) * TILE),
                    );
                    let scales = &scratch.weight_scales[block * TILE..][..TILE];
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

/// [`columns`] for one activation row: of each tile of sums only the first column is the
/// product, so it is gathered into one vector whose lanes are the 16 weight rows, and scaled and
/// accumulated there: `acc = fma(Σ w·a, d_a·d_w, acc)`, blocks in order, as for many rows.
///
/// # Safety
/// As for [`columns`], with `packed` holding one row.
#[target_feature(enable = "avx512f,f16c")]
unsafe fn one_row(
    weights: &WeightBlocks,
    packed: &PackedActivations,
    tiles: Range<usize>,
    out: &Out,
) {
    let blocks = packed.blocks;
    // Row w's first column sits at element 16·w of the stored tile.
    let first_column = _mm512_setr_epi32(
        0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240,
    );
    // SAFETY: as in `columns`: AMX with permission from the caller, tile loads inside the weight
    // tile's blocks and the packed row's tiles, stores inside the scratch's sums and the
    // caller's `out`.
    unsafe {
        let mut scratch = Scratch::configure(blocks);
        for tile in tiles {
            let first_row = tile * TILE;
            let base = scratch.weight_tile(weights, tile);
            let mut acc = _mm512_setzero_ps();
            for block in 0..blocks {
                tile_product(base, scratch.row_bytes, block, packed, 0, &mut scratch.sums);
                let exact = _mm512_i32gather_epi32::<4>(first_column, scratch.sums.0.as_ptr());
                let scales = _mm512_loadu_ps(scratch.weight_scales.as_ptr().add(block * TILE));
                let scale = _mm512_mul_ps(_mm512_set1_ps(packed.scales[block * TILE]), scales);
                acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(exact), scale, acc);
            }
            _mm512_storeu_ps(out.at(0, first_row), acc);
        }
    }
}

/// What a product keeps from weight tile to weight tile: one tile of sums, and the current weight
/// tile's scales as `[block][weight row]`, so that one load serves a block's 16 rows.
struct Scratch {
    row_bytes: usize,
    blocks: usize,
    sums: Sums,
    weight_scales: Vec<f32>,
}

impl Scratch {
    /// Configures this thread's tiles for [`tile_product`], for weights of `blocks` blocks a row.
    ///
    /// # Safety
    /// The CPU must have AMX-TILE and the process the permission to use tile data.
    #[inline]
    unsafe fn configure(blocks: usize) -> Self {
        let config = TileConfig::new();
        // SAFETY: forwarded from the caller; `ldtilecfg` reads the 64-byte configuration.
        unsafe {
            asm!("ldtilecfg [{config}]", config = in(reg) &config, options(nostack, readonly));
        }
        Self {
            row_bytes: blocks * Q8_0_BYTES,
            blocks,
            sums: Sums([0; TILE * TILE]),
            weight_scales: vec![0f32; blocks * TILE],
        }
    }

    /// The start of weight tile `tile` (weight rows `16·tile ..`), its scales loaded.
    ///
    /// # Safety
    /// The tile's 16 rows must lie inside `weights`.
    // Inlined into the kernels, so that the scales' f16 conversion gets their F16C.
    #[inline]
    unsafe fn weight_tile(&mut self, weights: &WeightBlocks, tile: usize) -> *const u8 {
        // SAFETY: forwarded from the caller.
        unsafe {
            let base = weights.bytes.as_ptr().add(tile * TILE * self.row_bytes);
            load_weight_scales(base, self.row_bytes, self.blocks, &mut self.weight_scales);
            base
        }
    }
}

/// The f16 scales of weight rows `0..16` from `base` (one weight row apart), as
/// `[block][row]` f32, so that a block's 16 scales are one vector.
///
/// # Safety
/// 16 weight rows of `blocks` Q8_0 blocks must be readable from `base`.
#[inline]
unsafe fn load_weight_scales(base: *const u8, row_bytes: usize, blocks: usize, scales: &mut [f32]) {
    for row in 0..TILE {
        for block in 0..blocks {
            // SAFETY: forwarded from the caller; a block starts with its 2-byte scale.
            let at = unsafe { base.add(row * row_bytes + block * Q8_0_BYTES) };
            scales[block * TILE + row] = unsafe { f16::from_le_bytes([*at, *at.add(1)]) }.to_f32();
        }
    }
}

/// One block's exact dot products of 16 weight rows from `base` with the 16 activation rows of
/// `group`, stored in `sums` as `[weight row][activation row]` int32.
///
/// # Safety
/// The tiles must be configured ([`TileConfig`]), AMX usable, and the block inside the 16 weight
/// rows and `packed`.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn tile_product(
    base: *const u8,
    row_bytes: usize,
    block: usize,
    packed: &PackedActivations,
    group: usize,
    sums: &mut Sums,
) {
    // SAFETY: forwarded from the caller; the loads read 16 rows of 32 bytes one weight row apart
    // and one packed 8 × 64-byte tile, the store writes the 1 KB of `sums`.
    unsafe {
        let quants = base.add(block * Q8_0_BYTES + 2);
        let activations = packed
            .quants
            .as_ptr()
            .add((group * packed.blocks + block) * PACKED_TILE);
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
