//! Q8_0 quantization of activation rows, bit-identical to candle's `BlockQ8_0::from_float`.
//!
//! The kernels multiply Q8_0 weights by Q8_0 activations, and decoding one token alone must give
//! exactly what the same token gives inside a prompt pass (where candle's single-row product may
//! be used), so the quantization has to round exactly as candle does: per block of 32, scale
//! `d = amax / 127` stored through f16, values `round(x * (1 / d))` with halves away from zero.
//! The AVX2 path reproduces that rounding exactly; rows are spread over candle's worker pool
//! when there are enough of them to pay for the hand-off.

use half::f16;

use super::BLOCK;

/// Below this many rows one thread quantizes everything: waking the pool costs more.
const PARALLEL_ROWS: usize = 16;

/// Activation rows quantized to Q8_0, with the block scales already widened to f32.
// Only the x86 kernels read them (see `WeightBlocks`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct QuantizedRows {
    pub(super) cols: usize,
    pub(super) quants: Vec<i8>,
    pub(super) scales: Vec<f32>,
}

impl QuantizedRows {
    /// Quantizes `m` rows of `cols` values (`cols` a multiple of 32).
    pub(crate) fn new(input: &[f32], m: usize, cols: usize) -> Self {
        debug_assert_eq!(input.len(), m * cols);
        debug_assert!(cols.is_multiple_of(BLOCK));
        let blocks_per_row = cols / BLOCK;
        let mut quants = vec![0i8; m * cols];
        let mut scales = vec![0.0f32; m * blocks_per_row];
        if m < PARALLEL_ROWS {
            quantize_blocks(input, &mut quants, &mut scales);
        } else {
            let quants_at = Shared(quants.as_mut_ptr());
            let scales_at = Shared(scales.as_mut_ptr());
            candle_core::utils::barrier_pool().execute_chunked(m, |rows| {
                let (quants_at, scales_at) = (&quants_at, &scales_at);
                let values = &input[rows.start * cols..rows.end * cols];
                // SAFETY: every work item covers its own rows, so the ranges written by
                // different workers are disjoint and inside the buffers allocated above.
                let (quants, scales) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(
                            quants_at.0.add(rows.start * cols),
                            rows.len() * cols,
                        ),
                        std::slice::from_raw_parts_mut(
                            scales_at.0.add(rows.start * blocks_per_row),
                            rows.len() * blocks_per_row,
                        ),
                    )
                };
                quantize_blocks(values, quants, scales);
            });
        }
        Self {
            cols,
            quants,
            scales,
        }
    }
}

struct Shared<T>(*mut T);
// SAFETY: workers write disjoint row ranges (see `QuantizedRows::new`).
unsafe impl<T> Sync for Shared<T> {}

/// Quantizes whole blocks: `quants.len() == values.len()`, one scale per 32 values.
fn quantize_blocks(values: &[f32], quants: &mut [i8], scales: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::level() >= crate::kernels::Level::Avx2 {
        for ((values, quants), scale) in values
            .chunks_exact(BLOCK)
            .zip(quants.chunks_exact_mut(BLOCK))
            .zip(scales.iter_mut())
        {
            // SAFETY: the level guarantees AVX2, FMA and F16C; the slices are one block each.
            *scale = unsafe { avx2::block(values, quants) };
        }
        return;
    }
    for ((values, quants), scale) in values
        .chunks_exact(BLOCK)
        .zip(quants.chunks_exact_mut(BLOCK))
        .zip(scales.iter_mut())
    {
        *scale = scalar_block(values, quants);
    }
}

/// One block the way candle's `BlockQ8_0::from_float` does it; returns the f16-rounded scale.
fn scalar_block(values: &[f32], quants: &mut [i8]) -> f32 {
    let amax = values.iter().fold(0.0f32, |acc, v| acc.max(v.abs()));
    let d = amax / 127.0;
    let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
    for (q, v) in quants.iter_mut().zip(values) {
        *q = (v * inverse).round() as i8;
    }
    f16::from_f32(d).to_f32()
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use half::f16;

    /// `f32::round` on 8 lanes: halves go away from zero. `p - trunc(p)` is exact, so comparing
    /// it with 0.5 decides exactly as the scalar rounding does (adding 0.5 and truncating would
    /// misround values just below a half).
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn round_half_away(p: __m256) -> __m256 {
        let sign = _mm256_set1_ps(-0.0);
        let truncated = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(p);
        let fraction = _mm256_andnot_ps(sign, _mm256_sub_ps(p, truncated));
        let away = _mm256_cmp_ps::<_CMP_GE_OQ>(fraction, _mm256_set1_ps(0.5));
        let step = _mm256_or_ps(_mm256_and_ps(p, sign), _mm256_set1_ps(1.0));
        _mm256_add_ps(truncated, _mm256_and_ps(away, step))
    }

    /// Quantizes one block of 32 values into `quants`; returns the f16-rounded scale.
    ///
    /// # Safety
    /// `values` and `quants` must hold 32 elements each.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn block(values: &[f32], quants: &mut [i8]) -> f32 {
        debug_assert!(values.len() == 32 && quants.len() == 32);
        // SAFETY: both slices hold 32 elements (caller), every access stays inside them.
        unsafe {
            let sign = _mm256_set1_ps(-0.0);
            let v = [0, 8, 16, 24].map(|at| _mm256_loadu_ps(values.as_ptr().add(at)));
            // `max` is exact, so the order of the reduction cannot change amax.
            let wide = _mm256_max_ps(
                _mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])),
            );
            let half = _mm_max_ps(_mm256_castps256_ps128(wide), _mm256_extractf128_ps(wide, 1));
            let quarter = _mm_max_ps(half, _mm_movehl_ps(half, half));
            let amax = _mm_cvtss_f32(_mm_max_ss(quarter, _mm_movehdup_ps(quarter)));
            let d = amax / 127.0;
            let inverse = _mm256_set1_ps(if d == 0.0 { 0.0 } else { 1.0 / d });
            // The values are whole numbers within ±127 now, so the conversions and the
            // saturating packs are exact, as candle's `as i8` is.
            let ints = v.map(|v| _mm256_cvtps_epi32(round_half_away(_mm256_mul_ps(v, inverse))));
            let words_low = _mm256_packs_epi32(ints[0], ints[1]);
            let words_high = _mm256_packs_epi32(ints[2], ints[3]);
            let bytes = _mm256_packs_epi16(words_low, words_high);
            // The packs work within 128-bit lanes: put the 4-value groups back in order.
            let ordered =
                _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256(quants.as_mut_ptr() as *mut __m256i, ordered);
            f16::from_f32(d).to_f32()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    /// candle's Q8_0 blocks of `values` (`BlockQ8_0::from_float`), as raw 34-byte blocks.
    fn candle_blocks(values: &[f32]) -> Vec<u8> {
        let tensor = Tensor::from_slice(values, values.len(), &Device::Cpu).unwrap();
        let quantized = QTensor::quantize(&tensor, GgmlDType::Q8_0).unwrap();
        quantized.data().unwrap().to_vec()
    }

    fn check(values: &[f32]) {
        let rows = values.len() / (2 * BLOCK);
        let ours = QuantizedRows::new(values, rows, 2 * BLOCK);
        for (index, block) in candle_blocks(values).chunks_exact(34).enumerate() {
            assert_eq!(
                ours.scales[index].to_bits(),
                f16::from_le_bytes([block[0], block[1]]).to_f32().to_bits(),
                "scale of block {index}"
            );
            let quants: Vec<i8> = block[2..].iter().map(|&q| q as i8).collect();
            assert_eq!(
                &ours.quants[index * BLOCK..(index + 1) * BLOCK],
                &quants[..],
                "quants of block {index}"
            );
        }
    }

    #[test]
    fn matches_candle_on_random_rows_serial_and_parallel() {
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0
        };
        for rows in [1, 3, PARALLEL_ROWS + 5] {
            let values: Vec<f32> = (0..rows * 2 * BLOCK).map(|_| next()).collect();
            check(&values);
        }
    }

    #[test]
    fn rounds_halves_away_from_zero_like_candle() {
        // amax 127 makes the scale exactly 1, so x * (1 / d) is x: these land exactly on .5,
        // just below and just above it, on both signs, plus zeros and a zero block.
        let mut values = vec![127.0f32, -127.0];
        for base in [0.0f32, 1.0, 2.0, 41.0, 126.0] {
            for offset in [0.5f32, 0.5 - f32::EPSILON, 0.5 + f32::EPSILON, 0.49999997] {
                values.push(base + offset);
                values.push(-(base + offset));
            }
        }
        values.extend([0.0, -0.0, 0.25, -0.75]);
        values.resize(4 * BLOCK, 0.0);
        // A block of only zeros (scale 0) and one with a scale that is not exact.
        values.extend(std::iter::repeat_n(0.0, 2 * BLOCK));
        values.extend((0..2 * BLOCK).map(|i| (i as f32 - 31.5) * 0.0123));
        check(&values);
    }
}
