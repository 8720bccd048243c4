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
    for row in x.chunks_exact_mut(width) {
        let mean_square = dot(row, row) / width as f32;
        let scale = 1.0 / (mean_square + eps).sqrt();
        for (value, w) in row.iter_mut().zip(weight) {
            *value *= scale * w;
        }
    }
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
#[inline]
pub fn gelu_tanh(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044_715 * x * x * x)).tanh())
}

/// SiLU (`x · sigmoid(x)`), the activation of Llama's and Qwen2's gated feed-forward layers.
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// `gate = activation(gate) * up`, element-wise.
pub fn gated_activation(gate: &mut [f32], up: &[f32], activation: Activation) {
    match activation {
        Activation::GeluTanh => gate_in_parallel(gate, up, gelu_tanh),
        Activation::Silu => gate_in_parallel(gate, up, silu),
    }
}

/// `gate = f(gate) * up`, spread over the worker pool: with a 2,048-wide feed-forward layer the
/// `tanh` (or `exp`) calls are a visible share of prompt processing. Generic so that `f` is
/// inlined into the loop.
fn gate_in_parallel(gate: &mut [f32], up: &[f32], f: impl Fn(f32) -> f32 + Sync) {
    const CHUNK: usize = 4096;
    let chunks = gate.len().div_ceil(CHUNK);
    let gate_ptr = SharedSlice(gate.as_mut_ptr(), gate.len());
    candle_core::utils::barrier_pool().execute_chunked(chunks, |range| {
        let gate_ptr = &gate_ptr;
        for chunk in range {
            let start = chunk * CHUNK;
            let end = (start + CHUNK).min(gate_ptr.1);
            // SAFETY: chunks are disjoint ranges of `gate`, which outlives the pool call.
            let gate =
                unsafe { std::slice::from_raw_parts_mut(gate_ptr.0.add(start), end - start) };
            for (g, u) in gate.iter_mut().zip(&up[start..end]) {
                *g = f(*g) * u;
            }
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
    fn softmax_sums_to_one() {
        let mut v = vec![1.0, 2.0, 3.0, f32::NEG_INFINITY];
        softmax(&mut v);
        assert!((v.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert_eq!(v[3], 0.0);
    }
}
