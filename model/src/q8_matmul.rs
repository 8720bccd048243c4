//! A register-blocked AVX2 kernel for Q8_0 weights times Q8_0-quantized activations, used for every row count.
//!
//! candle multiplies Q8_0 weights one (row, column) dot product at a time, converting both f16
//! block scales for every pair; on this model that loop took more than half of prompt processing.
//! This kernel keeps weight scales as f32, quantizes the activations once per call, and computes
//! 2 × 2 tiles so that every loaded block serves two dot products.
//!
//! Every output element goes through the same sequence of operations whatever the number of rows
//! and however the rows are tiled, so one token decoded alone gives bit-identical results to the
//! same token inside a prompt pass. The engine's prefix reuse and speculative decoding rely on that.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use half::f16;

const BLOCK: usize = 32;
const Q8_0_BYTES: usize = 34;

/// A Q8_0 matrix of `rows` output features by `cols` inputs. The kernel reads the blocks where
/// candle keeps them (2-byte f16 scale, then 32 quants), so no second copy of the weights exists.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    tensor: Arc<QTensor>,
    /// candle's product over the same bytes, used for single rows: its row-at-a-time loop streams
    /// the weights slightly faster, and it computes each element exactly as `tile` does.
    single_row: QMatMul,
}

impl Q8Matrix {
    /// Wraps a Q8_0 tensor when this machine can run the kernel and the shape fits it.
    pub fn from_qtensor(tensor: Arc<QTensor>) -> Option<Self> {
        if tensor.dtype() != GgmlDType::Q8_0 || !kernel_available() {
            return None;
        }
        let (rows, cols) = tensor.shape().dims2().ok()?;
        if !cols.is_multiple_of(BLOCK) || !rows.is_multiple_of(2) {
            return None;
        }
        if tensor.data().ok()?.len() != rows * cols / BLOCK * Q8_0_BYTES {
            return None;
        }
        let single_row = QMatMul::from_arc(tensor.clone()).ok()?;
        Some(Self {
            rows,
            cols,
            tensor,
            single_row,
        })
    }

    /// `input [m, cols] · selfᵀ` as a flat `[m, rows]` vector.
    pub fn matmul(&self, input: &[f32], m: usize) -> candle_core::Result<Vec<f32>> {
        debug_assert_eq!(input.len(), m * self.cols);
        if m == 1 {
            let input = Tensor::from_slice(input, (1, self.cols), &Device::Cpu)?;
            return self
                .single_row
                .forward(&input)?
                .flatten_all()?
                .to_vec1::<f32>();
        }
        let data = self.tensor.data()?;
        let weights = WeightBlocks {
            bytes: &data,
            blocks_per_row: self.cols / BLOCK,
        };
        let activations = QuantizedRows::new(input, m, self.cols);
        let mut out = vec![0.0f32; m * self.rows];
        let out_ptr = SharedOut(out.as_mut_ptr());
        let column_pairs = self.rows / 2;
        let work = |pairs: std::ops::Range<usize>| {
            let out_ptr = &out_ptr;
            for pair in pairs {
                let column = pair * 2;
                let mut row = 0;
                while row < m {
                    let tile_rows = (m - row).min(4);
                    let store = |values: &[f32]| {
                        for (r, pair) in values.chunks_exact(2).enumerate() {
                            // SAFETY: each (row, column) of `out` is written by exactly one item.
                            unsafe {
                                let at = out_ptr.0.add((row + r) * self.rows + column);
                                *at = pair[0];
                                *at.add(1) = pair[1];
                            }
                        }
                    };
                    // SAFETY: the kernel is only selected when AVX2 and FMA are present
                    // (`kernel_available`), and all indices stay inside the buffers.
                    unsafe {
                        match tile_rows {
                            4 => store(&tile::<4, 8>(&weights, &activations, row, column)),
                            3 => store(&tile::<3, 6>(&weights, &activations, row, column)),
                            2 => store(&tile::<2, 4>(&weights, &activations, row, column)),
                            _ => store(&tile::<1, 2>(&weights, &activations, row, column)),
                        }
                    }
                    row += tile_rows;
                }
            }
        };
        candle_core::utils::barrier_pool().execute_chunked(column_pairs, work);
        Ok(out)
    }
}

/// The raw Q8_0 blocks of a weight matrix.
struct WeightBlocks<'a> {
    bytes: &'a [u8],
    blocks_per_row: usize,
}

#[cfg(target_arch = "x86_64")]
unsafe fn tile<const R: usize, const OUT: usize>(
    weights: &WeightBlocks,
    activations: &QuantizedRows,
    row: usize,
    column: usize,
) -> [f32; OUT] {
    // SAFETY: forwarded from `matmul`.
    unsafe { avx2::tile::<R, OUT>(weights, activations, row, column) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<const R: usize, const OUT: usize>(
    _: &WeightBlocks,
    _: &QuantizedRows,
    _: usize,
    _: usize,
) -> [f32; OUT] {
    unreachable!("the kernel is only selected on x86_64")
}

struct SharedOut(*mut f32);
// SAFETY: workers write disjoint elements (see `matmul`).
unsafe impl Sync for SharedOut {}

/// Activations quantized to Q8_0 the way llama.cpp and candle do it: per block of 32, scale
/// `amax / 127` stored as f16, values rounded to nearest.
struct QuantizedRows {
    cols: usize,
    quants: Vec<i8>,
    scales: Vec<f32>,
}

impl QuantizedRows {
    fn new(input: &[f32], m: usize, cols: usize) -> Self {
        let mut quants = vec![0i8; m * cols];
        let mut scales = vec![0.0f32; m * cols / BLOCK];
        for ((values, out), scale) in input
            .chunks_exact(BLOCK)
            .zip(quants.chunks_exact_mut(BLOCK))
            .zip(scales.iter_mut())
        {
            let amax = values.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
            let d = amax / 127.0;
            let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
            for (q, v) in out.iter_mut().zip(values) {
                *q = (v * inverse).round() as i8;
            }
            *scale = f16::from_f32(d).to_f32();
        }
        Self {
            cols,
            quants,
            scales,
        }
    }
}

pub(crate) fn kernel_available() -> bool {
    crate::kernels::level() >= crate::kernels::Level::Avx2
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use half::f16;

    use super::{QuantizedRows, WeightBlocks, BLOCK, Q8_0_BYTES};

    /// One block of one dot product: `acc += scale * Σ w·a` over 32 values, as 8 float lanes.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn block(acc: __m256, w: __m256i, w_abs: __m256i, a: __m256i, scale: f32) -> __m256 {
        // maddubs needs an unsigned operand: use |w| and move w's sign onto a.
        let signed_a = _mm256_sign_epi8(a, w);
        let pairs = _mm256_maddubs_epi16(w_abs, signed_a);
        let sums = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
        _mm256_fmadd_ps(_mm256_cvtepi32_ps(sums), _mm256_set1_ps(scale), acc)
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let sum4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let sum2 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
        let sum1 = _mm_add_ss(sum2, _mm_movehdup_ps(sum2));
        _mm_cvtss_f32(sum1)
    }

    /// Dot products of activation rows `row..row + R` with weight rows `column` and `column + 1`,
    /// returned row-major (`[r0c0, r0c1, r1c0, ...]`). Every element goes through the same
    /// operations for any `R`, so tiles of different heights give identical values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const R: usize, const OUT: usize>(
        weights: &WeightBlocks,
        activations: &QuantizedRows,
        row: usize,
        column: usize,
    ) -> [f32; OUT] {
        let blocks = weights.blocks_per_row;
        // SAFETY: the caller guarantees that weight rows `column`, `column + 1` and activation
        // rows `row..row + R` exist; every load stays inside one block.
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
                    let av = _mm256_loadu_si256(
                        a.add(r * activations.cols + b * BLOCK) as *const __m256i
                    );
                    let da = sa[r * blocks + b];
                    acc[2 * r] = block(acc[2 * r], wv0, wa0, av, d0 * da);
                    acc[2 * r + 1] = block(acc[2 * r + 1], wv1, wa1, av, d1 * da);
                }
            }
            let mut out = [0.0f32; OUT];
            for (value, acc) in out.iter_mut().zip(acc) {
                *value = horizontal_sum(acc);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    #[test]
    fn matches_candle_and_is_independent_of_row_count() {
        let (n, k) = (64, 640);
        let weights = Tensor::from_vec(random(n * k, 1), (n, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&weights, GgmlDType::Q8_0).unwrap());
        let Some(matrix) = Q8Matrix::from_qtensor(q.clone()) else {
            return; // No AVX2 here: candle's path is used instead, nothing to compare.
        };
        let m = 5;
        let input = random(m * k, 2);
        let ours = matrix.matmul(&input, m).unwrap();
        let reference = QMatMul::from_arc(q)
            .unwrap()
            .forward(&Tensor::from_vec(input.clone(), (m, k), &Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // Same quantization, same per-element operations: bit-identical to candle.
        assert_eq!(ours, reference);
        for row in 0..m {
            let single = matrix.matmul(&input[row * k..(row + 1) * k], 1).unwrap();
            assert_eq!(
                single,
                ours[row * n..(row + 1) * n],
                "row {row} differs when alone"
            );
        }
    }
}
