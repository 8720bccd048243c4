//! Rotary position embeddings the way llama.cpp (ggml) applies them: both pair layouts, linear and YaRN frequency scaling, and per-frequency factors.
//!
//! Written for this project after reading ggml's CPU `rope` kernel and the YaRN set-up in
//! llama.cpp's context creation; the parity tests in `tests/architectures.rs` compare the result
//! with llama.cpp on the same files.

use crate::ops;

/// Which elements of a head are rotated together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(x[2i], x[2i + 1])`: ggml's "normal" mode, used by Llama.
    Adjacent,
    /// Pairs `(x[i], x[i + d/2])`: ggml's NeoX mode, used by Qwen2 and Gemma 3.
    Neox,
}

/// How positions are stretched beyond the context the model was trained on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RopeScaling {
    /// Positions are used as they are.
    None,
    /// Every angle is divided by `factor` (position interpolation).
    Linear { factor: f32 },
    /// YaRN: low frequencies are interpolated by `factor`, high frequencies kept, with a ramp in
    /// between that depends on the context length the model was originally trained with; the
    /// rotated vectors are scaled up slightly to keep attention entropy unchanged.
    Yarn {
        factor: f32,
        original_context_length: usize,
    },
}

/// The rotary embedding of a group of layers, as read from the metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeConfig {
    pub style: RopeStyle,
    /// `rope.freq_base`: frequency `i` of a `d`-dimensional head is `base^(-2i/d)`.
    pub base: f32,
    pub scaling: RopeScaling,
    /// `rope.scaling.attn_factor`: an extra scale of the rotated vectors (1 when absent).
    pub attn_factor: f32,
}

/// YaRN's fixed ramp bounds, in rotations over the original context: dimensions that rotate more
/// often than `BETA_FAST` times are kept, those rotating less than `BETA_SLOW` times are
/// interpolated. llama.cpp uses these defaults for Llama and Qwen2 files.
const YARN_BETA_FAST: f32 = 32.0;
const YARN_BETA_SLOW: f32 = 1.0;

/// A rotary embedding ready to use: every per-frequency constant computed once at load time.
#[derive(Debug, Clone)]
pub(crate) struct Rope {
    style: RopeStyle,
    /// `base^(-2i/d)`, divided by the file's frequency factor where it has one (Llama 3).
    inverse_frequencies: Vec<f64>,
    /// The factor angles are multiplied by when interpolating (`1 / scaling factor`).
    interpolation: f64,
    /// YaRN only: per frequency, the share of the extrapolated (unscaled) angle in the mix.
    extrapolation_mix: Option<Vec<f64>>,
    /// Scale of the rotated vectors (cos and sin are multiplied by it).
    magnitude: f32,
}

impl Rope {
    /// Prepares `config` for heads of `head_dim` elements. `frequency_factors` (`head_dim / 2`
    /// values, Llama 3's `rope_freqs.weight`) divide the angle of each frequency.
    pub fn new(config: &RopeConfig, head_dim: usize, frequency_factors: Option<&[f32]>) -> Self {
        let half = head_dim / 2;
        let dims = head_dim as f64;
        let inverse_frequencies = (0..half)
            .map(|i| {
                let inverse = (config.base as f64).powf(-((2 * i) as f64) / dims);
                match frequency_factors {
                    Some(factors) => inverse / factors[i] as f64,
                    None => inverse,
                }
            })
            .collect();
        let (interpolation, extrapolation_mix, magnitude) = match config.scaling {
            RopeScaling::None => (1.0, None, config.attn_factor),
            RopeScaling::Linear { factor } => {
                // The scale is rounded to f32 first, as ggml's `freq_scale` parameter is.
                let scale = 1.0f32 / factor;
                (scale as f64, None, config.attn_factor)
            }
            RopeScaling::Yarn {
                factor,
                original_context_length,
            } => {
                let scale = 1.0f32 / factor;
                let [low, high] =
                    yarn_correction_range(head_dim, original_context_length, config.base);
                let mix = (0..half)
                    .map(|i| {
                        let y = (i as f32 - low) / (high - low).max(0.001);
                        (1.0 - y.clamp(0.0, 1.0)) as f64
                    })
                    .collect();
                (
                    scale as f64,
                    Some(mix),
                    yarn_magnitude(scale, config.attn_factor),
                )
            }
        };
        Self {
            style: config.style,
            inverse_frequencies,
            interpolation,
            extrapolation_mix,
            magnitude,
        }
    }

    /// The rotation angle of frequency `i` at `position`, in f64 so that large positions keep
    /// their precision.
    fn angle(&self, position: usize, i: usize) -> f64 {
        let inverse = self.inverse_frequencies[i];
        let interpolated = position as f64 * self.interpolation * inverse;
        match &self.extrapolation_mix {
            None => interpolated,
            Some(mix) => {
                let extrapolated = position as f64 * inverse;
                interpolated * (1.0 - mix[i]) + extrapolated * mix[i]
            }
        }
    }

    /// cos/sin of every (position, frequency) pair of the positions `start..start + count`.
    pub fn table(&self, start: usize, count: usize) -> RopeTable {
        let half = self.inverse_frequencies.len();
        let mut cos = vec![0.0; count * half];
        let mut sin = vec![0.0; count * half];
        for t in 0..count {
            for i in 0..half {
                let angle = self.angle(start + t, i);
                cos[t * half + i] = angle.cos() as f32 * self.magnitude;
                sin[t * half + i] = angle.sin() as f32 * self.magnitude;
            }
        }
        RopeTable {
            style: self.style,
            half,
            cos,
            sin,
        }
    }
}

/// The first and last frequency index of YaRN's ramp, computed in f32 exactly as ggml does, since
/// the floor and ceiling make the result sensitive to rounding.
fn yarn_correction_range(head_dim: usize, original_context_length: usize, base: f32) -> [f32; 2] {
    let dims = head_dim as f32;
    // The frequency index whose wavelength fits `rotations` times into the original context.
    let index = |rotations: f32| {
        dims * (original_context_length as f32 / (rotations * 2.0 * std::f32::consts::PI)).ln()
            / (2.0 * base.ln())
    };
    let low = index(YARN_BETA_FAST).floor().max(0.0);
    let high = index(YARN_BETA_SLOW).ceil().min(dims - 1.0);
    [low, high]
}

/// YaRN's scale of the rotated vectors, `0.1 ln(factor) + 1` times `attn_factor`, computed in
/// the same steps as llama.cpp: its context divides out the term that ggml's kernel multiplies
/// back in, and the rounding of those steps is kept.
fn yarn_magnitude(scale: f32, attn_factor: f32) -> f32 {
    let factor = 1.0f32 / scale;
    let entropy = |factor: f32| {
        if factor <= 1.0 {
            1.0
        } else {
            0.1 * factor.ln() + 1.0
        }
    };
    let context_factor = entropy(factor) * (1.0 / (1.0 + 0.1 * factor.ln())) * attn_factor;
    context_factor * (1.0 + 0.1 * (1.0 / scale).ln())
}

/// cos/sin of every (position, frequency) pair of one forward pass.
pub(crate) struct RopeTable {
    style: RopeStyle,
    half: usize,
    cos: Vec<f32>,
    sin: Vec<f32>,
}

impl RopeTable {
    /// Rotates every head of every row of `x` (`[count, heads * head_dim]`).
    pub fn apply(&self, x: &mut [f32], heads: usize, head_dim: usize) {
        ops::rows_in_parallel(x, heads * head_dim, |t, row| {
            let cos = &self.cos[t * self.half..(t + 1) * self.half];
            let sin = &self.sin[t * self.half..(t + 1) * self.half];
            for head in row.chunks_exact_mut(head_dim) {
                match self.style {
                    RopeStyle::Neox => ops::rope_neox(head, cos, sin),
                    RopeStyle::Adjacent => ops::rope_adjacent(head, cos, sin),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(style: RopeStyle, scaling: RopeScaling) -> RopeConfig {
        RopeConfig {
            style,
            base: 10_000.0,
            scaling,
            attn_factor: 1.0,
        }
    }

    fn rotated(rope: &Rope, position: usize, head: &[f32]) -> Vec<f32> {
        let mut head = head.to_vec();
        let len = head.len();
        rope.table(position, 1).apply(&mut head, 1, len);
        head
    }

    fn norm(x: &[f32]) -> f32 {
        x.iter().map(|v| v * v).sum::<f32>().sqrt()
    }

    #[test]
    fn position_zero_is_the_identity_and_rotation_keeps_the_norm() {
        let head: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
        for style in [RopeStyle::Neox, RopeStyle::Adjacent] {
            let rope = Rope::new(&config(style, RopeScaling::None), 8, None);
            assert_eq!(rotated(&rope, 0, &head), head);
            let moved = rotated(&rope, 17, &head);
            assert_ne!(moved, head);
            assert!((norm(&moved) - norm(&head)).abs() < 1e-4);
        }
    }

    #[test]
    fn the_two_layouts_rotate_the_same_pairs_in_different_places() {
        // Interleaving the halves of a NeoX head gives the adjacent layout of the same pairs.
        let neox_head: Vec<f32> = (0..8).map(|i| (i * i) as f32 * 0.1 - 1.0).collect();
        let adjacent_head: Vec<f32> = (0..4)
            .flat_map(|i| [neox_head[i], neox_head[i + 4]])
            .collect();
        let neox = Rope::new(&config(RopeStyle::Neox, RopeScaling::None), 8, None);
        let adjacent = Rope::new(&config(RopeStyle::Adjacent, RopeScaling::None), 8, None);
        let a = rotated(&neox, 5, &neox_head);
        let b = rotated(&adjacent, 5, &adjacent_head);
        for i in 0..4 {
            assert_eq!(a[i], b[2 * i]);
            assert_eq!(a[i + 4], b[2 * i + 1]);
        }
    }

    #[test]
    fn linear_scaling_and_frequency_factors_slow_the_rotation_down() {
        let head = [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let plain = Rope::new(&config(RopeStyle::Neox, RopeScaling::None), 8, None);
        let linear = Rope::new(
            &config(RopeStyle::Neox, RopeScaling::Linear { factor: 4.0 }),
            8,
            None,
        );
        let factors = Rope::new(
            &config(RopeStyle::Neox, RopeScaling::None),
            8,
            Some(&[4.0; 4]),
        );
        let expected = rotated(&plain, 3, &head);
        for slowed in [&linear, &factors] {
            let actual = rotated(slowed, 12, &head);
            for (a, e) in actual.iter().zip(&expected) {
                assert!((a - e).abs() < 1e-6, "{actual:?} vs {expected:?}");
            }
        }
    }

    #[test]
    fn yarn_keeps_fast_frequencies_interpolates_slow_ones_and_scales_the_magnitude() {
        let yarn = Rope::new(
            &config(
                RopeStyle::Neox,
                RopeScaling::Yarn {
                    factor: 4.0,
                    original_context_length: 4096,
                },
            ),
            64,
            None,
        );
        let mix = yarn.extrapolation_mix.as_ref().unwrap();
        assert_eq!(mix[0], 1.0, "the fastest frequency is extrapolated");
        assert_eq!(mix[31], 0.0, "the slowest frequency is interpolated");
        assert!(mix.windows(2).all(|pair| pair[0] >= pair[1]));
        let expected = 0.1 * 4.0f32.ln() + 1.0;
        assert!(
            (yarn.magnitude - expected).abs() < 1e-5,
            "{}",
            yarn.magnitude
        );
    }
}
