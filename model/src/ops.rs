//! Small numeric kernels on f32 slices used by the forward pass: RMS norm, RoPE rotations, gated activations (GELU, SiLU), dot products, softmax.
//!
//! They work on plain slices rather than candle tensors because the per-op tensor overhead would
//! dominate at this model size during single-token decoding.

/// Dot product written with eight independent accumulators so that LLVM vectorizes it
/// (a single accumulator forces strictly sequential float additions).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for i in 0..8 {
            acc[i] = ca[i].mul_add(cb[i], acc[i]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The non-linearity of a gated feed-forward layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// GELU with the tanh approximation (Gemma's `gelu_pytorch_tanh`).
    GeluTanh,
    /// SiLU, a.k.a. swish (Llama, Qwen2).
    Silu,
}

/// In-place RMS normalization of each `weight.len()`-wide row of `x`.
/// The GGUF converter already folded Gemma's `1 + w` into the stored weights.
pub fn rms_norm_rows(x: &mut [f32], weight: &[f32], eps: f32) {
    let width = weight.len();
    rows_in_parallel(x, width, |_, row| {
        let mean_square = dot(row, row) / width as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for (value, w) in row.iter_mut().zip(weight) {
            *value *= scale * w;
        }
    });
}

/// Rotates one head vector in place with NeoX-style RoPE (pairs `i` and `i + d/2`), which is
/// the layout llama.cpp uses for Gemma 3 and Qwen2. `cos`/`sin` hold `d/2` precomputed values.
#[inline]
pub fn rope_neox(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    let half = head.len() / 2;
    let (first, second) = head.split_at_mut(half);
    for i in 0..half {
        let (a, b) = (first[i], second[i]);
        first[i] = a * cos[i] - b * sin[i];
        second[i] = a * sin[i] + b * cos[i];
    }
}

/// Rotates one head vector in place with the original RoPE layout (pairs `2i` and `2i + 1`),
/// which llama.cpp calls "normal" and uses for Llama. `cos`/`sin` hold `d/2` precomputed values.
#[inline]
pub fn rope_adjacent(head: &mut [f32], cos: &[f32], sin: &[f32]) {
    for (i, pair) in head.chunks_exact_mut(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        pair[0] = a * cos[i] - b * sin[i];
        pair[1] = a * sin[i] + b * cos[i];
    }
}

/// GELU with the tanh approximation, which is what Gemma's `gelu_pytorch_tanh` activation means.
///
/// `0.5 · x · (1 + tanh(u))` is rewritten as `x / (1 + e^(-2u))` (the same function; it also
/// avoids the cancellation of `1 + tanh(u)` for negative `x`), with rill's own [`exp`] so that the
/// vector kernels give exactly the bits of this scalar version.
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    let cube = x * x * x;
    let inner = GELU_CUBIC.mul_add(cube, x);
    x / (1.0 + exp(inner * GELU_EXPONENT))
}

/// The coefficient of `x³` in GELU's tanh argument.
const GELU_CUBIC: f32 = 0.044_715;
/// `-2 · sqrt(2 / π)`: `tanh(u) = 2 / (1 + e^(-2u)) - 1`.
const GELU_EXPONENT: f32 = -2.0 * 0.797_884_6;

/// SiLU (`x · sigmoid(x)`), the activation of Llama's and Qwen2's gated feed-forward layers.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + exp(-x))
}

/// Arguments are clamped to this range so that `2^n` stays a normal float; the result saturates
/// at about 1.7e-38 and 1.7e38, which is all the activations above need.
const EXP_MIN: f32 = -87.0;
const EXP_MAX: f32 = 88.0;
/// `ln 2` split in a part with trailing zero bits and the rest, so that `n · LN2_HIGH` is exact.
const LN2_HIGH: f32 = 0.693_145_75;
const LN2_LOW: f32 = 1.428_606_8e-6;
/// `1 / k!` for k = 7 down to 2: the Taylor series of `e^r` on `|r| <= ln 2 / 2` to degree 7
/// (truncation error below 1e-8 relative).
const EXP_TAYLOR: [f32; 6] = [
    1.0 / 5040.0,
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
];

/// `e^x` within about one ulp for `x` in [-87, 88] (clamped outside): `2^n · e^r` with
/// `n = round(x / ln 2)`. Written so that the AVX2 and AVX-512 versions in [`activation_simd`]
/// perform the same operations in the same order.
#[inline]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = n.mul_add(-LN2_LOW, n.mul_add(-LN2_HIGH, x));
    let mut p = EXP_TAYLOR[0];
    for c in &EXP_TAYLOR[1..] {
        p = p.mul_add(r, *c);
    }
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    p * f32::from_bits(((n as i32 + 127) << 23) as u32)
}

/// `gate = activation(gate) * up`, element-wise.
pub fn gated_activation(gate: &mut [f32], up: &[f32], activation: Activation) {
    let level = crate::kernels::level();
    gate_in_parallel(gate, up, |gate, up| {
        activation_simd::gate(level, activation, gate, up)
    });
}

/// `gate = f(gate) * up`, spread over the worker pool in chunks: with a 2,048-wide feed-forward
/// layer the activation is a visible share of prompt processing.
fn gate_in_parallel(gate: &mut [f32], up: &[f32], f: impl Fn(&mut [f32], &[f32]) + Sync) {
    const CHUNK: usize = 4096;
    let chunks = gate.len().div_ceil(CHUNK);
    if chunks == 1 {
        // Decoding: not worth waking the workers for one chunk.
        f(gate, up);
        return;
    }
    let gate_ptr = SharedSlice(gate.as_mut_ptr(), gate.len());
    candle_core::utils::barrier_pool().execute_chunked(chunks, |range| {
        let gate_ptr = &gate_ptr;
        for chunk in range {
            let start = chunk * CHUNK;
            let end = (start + CHUNK).min(gate_ptr.1);
            // SAFETY: chunks are disjoint ranges of `gate`, which outlives the pool call.
            let gate =
                unsafe { std::slice::from_raw_parts_mut(gate_ptr.0.add(start), end - start) };
            f(gate, &up[start..end]);
        }
    });
}

/// Rows of at least this many go to the worker pool in [`rows_in_parallel`]; fewer (decoding,
/// speculative verification, short edits) stay on the calling thread: a pool call waits for every
/// worker, which costs more than these cheap loops save when the pass is short or the cores are
/// busy with other work.
const PARALLEL_ROWS: usize = 64;

/// Calls `f(index, row)` for every `width`-wide row of `x`, over the worker pool when there are
/// many rows. Each row is processed by exactly the same code either way, so results do not depend
/// on how many rows a pass has.
pub fn rows_in_parallel(x: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = x.len() / width.max(1);
    if rows < PARALLEL_ROWS {
        for (index, row) in x.chunks_exact_mut(width).enumerate() {
            f(index, row);
        }
        return;
    }
    let shared = SharedSlice(x.as_mut_ptr(), x.len());
    candle_core::utils::barrier_pool().execute_chunked(rows, |range| {
        let shared = &shared;
        for index in range {
            // SAFETY: rows are disjoint ranges of `x`, which outlives the pool call.
            let row = unsafe { std::slice::from_raw_parts_mut(shared.0.add(index * width), width) };
            f(index, row);
        }
    });
}

/// `x += update`, element-wise (residual connections), over the pool for many rows.
pub fn add_rows(x: &mut [f32], update: &[f32], width: usize) {
    debug_assert_eq!(x.len(), update.len());
    rows_in_parallel(x, width, |index, row| {
        for (value, u) in row.iter_mut().zip(&update[index * width..]) {
            *value += u;
        }
    });
}

/// `x *= factor`, element-wise, over the pool for many rows.
pub fn scale_rows(x: &mut [f32], factor: f32, width: usize) {
    rows_in_parallel(x, width, |_, row| {
        for value in row {
            *value *= factor;
        }
    });
}

struct SharedSlice(*mut f32, usize);
// SAFETY: workers write disjoint chunks (see `gate_in_parallel`).
unsafe impl Sync for SharedSlice {}

/// In-place softmax.
pub fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in values.iter_mut() {
        *v *= inv;
    }
}

/// The activations over slices with AVX2 or AVX-512: [`gelu_tanh`], [`silu`] and [`exp`] with the
/// same operations lane by lane, and the scalar functions for the elements past the last full
/// vector, so that every element gets the same bits wherever it sits in the buffer.
mod activation_simd {
    use super::Activation;
    use crate::kernels::Level;

    /// `gate = activation(gate) * up` on the kernel path of `level`.
    pub fn gate(level: Level, activation: Activation, gate: &mut [f32], up: &[f32]) {
        let n = gate.len().min(up.len());
        let done = match level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the detected one, so the CPU has AVX-512 F.
            Level::Avx512Vnni | Level::AmxInt8 => unsafe {
                x86::gate512(activation, &mut gate[..n], &up[..n])
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX2 and FMA.
            Level::Avx2 => unsafe { x86::gate256(activation, &mut gate[..n], &up[..n]) },
            _ => 0,
        };
        let f = match activation {
            Activation::GeluTanh => super::gelu_tanh,
            Activation::Silu => super::silu,
        };
        for (g, u) in gate[done..n].iter_mut().zip(&up[done..n]) {
            *g = f(*g) * u;
        }
    }

    #[cfg(target_arch = "x86_64")]
    mod x86 {
        use std::arch::x86_64::*;

        use super::super::{
            Activation, EXP_MAX, EXP_MIN, EXP_TAYLOR, GELU_CUBIC, GELU_EXPONENT, LN2_HIGH, LN2_LOW,
        };

        macro_rules! gate_kernel {
            ($name:ident, $features:literal, $vec:ty, $int:ty, $lanes:expr, $set1:ident,
             $load:ident, $store:ident, $add:ident, $mul:ident, $div:ident, $fmadd:ident,
             $min:ident, $max:ident, $round:expr, $to_int:ident, $add_int:ident, $set1_int:ident,
             $shift:ident, $cast:ident) => {
                /// Processes whole vectors and returns how many elements it did.
                ///
                /// # Safety
                /// The CPU must have the enabled features.
                #[target_feature(enable = $features)]
                pub unsafe fn $name(activation: Activation, gate: &mut [f32], up: &[f32]) -> usize {
                    #[inline]
                    #[target_feature(enable = $features)]
                    fn exp(x: $vec) -> $vec {
                        let x = $min($max(x, $set1(EXP_MIN)), $set1(EXP_MAX));
                        let n = $round($mul(x, $set1(std::f32::consts::LOG2_E)));
                        let r = $fmadd(n, $set1(-LN2_HIGH), x);
                        let r = $fmadd(n, $set1(-LN2_LOW), r);
                        let mut p = $set1(EXP_TAYLOR[0]);
                        for c in &EXP_TAYLOR[1..] {
                            p = $fmadd(p, r, $set1(*c));
                        }
                        p = $fmadd(p, r, $set1(1.0));
                        p = $fmadd(p, r, $set1(1.0));
                        let bits = $shift::<23>($add_int($to_int(n), $set1_int(127)));
                        $mul(p, $cast(bits))
                    }

                    let n = gate.len().min(up.len());
                    let full = n - n % $lanes;
                    let (g, u) = (gate.as_mut_ptr(), up.as_ptr());
                    let mut i = 0;
                    while i < full {
                        // SAFETY: i + lanes <= n, within both slices.
                        let (x, up) = unsafe { ($load(g.add(i)), $load(u.add(i))) };
                        let exponent = match activation {
                            Activation::GeluTanh => {
                                let cube = $mul($mul(x, x), x);
                                let inner = $fmadd($set1(GELU_CUBIC), cube, x);
                                $mul(inner, $set1(GELU_EXPONENT))
                            }
                            Activation::Silu => $mul(x, $set1(-1.0)),
                        };
                        let y = $div(x, $add($set1(1.0), exp(exponent)));
                        // SAFETY: as for the loads.
                        unsafe { $store(g.add(i), $mul(y, up)) };
                        i += $lanes;
                    }
                    full
                }
            };
        }

        gate_kernel!(
            gate512,
            "avx512f,avx512bw,avx512vl,avx2,fma",
            __m512,
            __m512i,
            16,
            _mm512_set1_ps,
            _mm512_loadu_ps,
            _mm512_storeu_ps,
            _mm512_add_ps,
            _mm512_mul_ps,
            _mm512_div_ps,
            _mm512_fmadd_ps,
            _mm512_min_ps,
            _mm512_max_ps,
            |v| _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v),
            _mm512_cvtps_epi32,
            _mm512_add_epi32,
            _mm512_set1_epi32,
            _mm512_slli_epi32,
            _mm512_castsi512_ps
        );
        gate_kernel!(
            gate256,
            "avx2,fma",
            __m256,
            __m256i,
            8,
            _mm256_set1_ps,
            _mm256_loadu_ps,
            _mm256_storeu_ps,
            _mm256_add_ps,
            _mm256_mul_ps,
            _mm256_div_ps,
            _mm256_fmadd_ps,
            _mm256_min_ps,
            _mm256_max_ps,
            |v| _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v),
            _mm256_cvtps_epi32,
            _mm256_add_epi32,
            _mm256_set1_epi32,
            _mm256_slli_epi32,
            _mm256_castsi256_ps
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.5).collect();
        let b: Vec<f32> = (0..37).map(|i| 1.0 - i as f32 * 0.25).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3);
    }

    #[test]
    fn rms_norm_gives_unit_rms() {
        let mut x = vec![3.0, -4.0, 0.0, 5.0];
        rms_norm_rows(&mut x, &[1.0; 4], 0.0);
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / 4.0).sqrt();
        assert!((rms - 1.0).abs() < 1e-6);
    }

    #[test]
    fn gelu_tanh_known_values() {
        assert_eq!(gelu_tanh(0.0), 0.0);
        assert!((gelu_tanh(1.0) - 0.841_192).abs() < 1e-5);
        assert!((gelu_tanh(-1.0) + 0.158_808).abs() < 1e-5);
    }

    #[test]
    fn silu_known_values_and_gating() {
        assert_eq!(silu(0.0), 0.0);
        assert!((silu(1.0) - 0.731_058_6).abs() < 1e-6);
        assert!((silu(-2.0) + 0.238_405_8).abs() < 1e-6);
        let mut gate = vec![1.0, -2.0, 0.0];
        gated_activation(&mut gate, &[2.0, 1.0, 5.0], Activation::Silu);
        assert!((gate[0] - 2.0 * 0.731_058_6).abs() < 1e-6);
        assert!((gate[1] + 0.238_405_8).abs() < 1e-6);
        assert_eq!(gate[2], 0.0);
    }

    #[test]
    fn exp_and_gelu_are_accurate_to_a_few_ulp() {
        let ulps = |a: f32, b: f64| ((a as f64 - b) / (b.abs() * f32::EPSILON as f64)).abs();
        for i in -8700..=8800 {
            let x = i as f32 * 0.01;
            assert!(ulps(exp(x), (x as f64).exp()) < 2.0, "exp({x})");
        }
        for i in -1000..=1000 {
            let x = i as f32 * 0.01;
            let xd = x as f64;
            // The stable form of the same function; an f32 evaluation of any form carries the
            // rounding of its exponent argument `z`, amplified |z| times.
            let z = 2.0 * 0.797_884_560_802_865_4 * (xd + 0.044_715 * xd * xd * xd);
            let reference = xd / (1.0 + (-z).exp());
            if reference.abs() > 1e-30 {
                assert!(ulps(gelu_tanh(x), reference) < 4.0 + z.abs(), "gelu({x})");
            }
            let libm = 0.5 * x * (1.0 + (0.797_884_6 * (x + 0.044_715 * x * x * x)).tanh());
            assert!(
                (gelu_tanh(x) - libm).abs() <= 1e-6 * x.abs().max(1.0),
                "gelu({x}) vs libm"
            );
        }
    }

    #[test]
    fn every_level_gives_every_element_the_scalar_bits() {
        use crate::kernels::Level;
        let len = 16 * 9 + 7;
        let gate: Vec<f32> = (0..len).map(|i| (i as f32 - 70.0) * 0.173).collect();
        let up: Vec<f32> = (0..len).map(|i| 1.0 + (i as f32 * 0.3).sin()).collect();
        for activation in [Activation::GeluTanh, Activation::Silu] {
            let f = match activation {
                Activation::GeluTanh => gelu_tanh,
                Activation::Silu => silu,
            };
            for level in [Level::Scalar, Level::Avx2, Level::Avx512Vnni] {
                if level > Level::detected() {
                    continue;
                }
                // Every start offset, so each element lands in a vector and in a tail.
                for skip in 0..16 {
                    let mut out = gate[skip..].to_vec();
                    activation_simd::gate(level, activation, &mut out, &up[skip..]);
                    for (i, value) in out.iter().enumerate() {
                        let expected = f(gate[skip + i]) * up[skip + i];
                        assert_eq!(value.to_bits(), expected.to_bits(), "{level:?} {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn softmax_sums_to_one() {
        let mut v = vec![1.0, 2.0, 3.0, f32::NEG_INFINITY];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(v[3], 0.0);
    }
}
