//! The model architectures rill runs (`general.architecture`) and what sets them apart, read once at load time so that the forward pass needs no per-architecture branches.
//!
//! Each description follows llama.cpp's graph builder for that architecture (`src/models/*.cpp`),
//! its hyper-parameter loading (`src/llama-model.cpp`) and its RoPE type table.

pub use crate::ops::Activation;
use crate::rope::RopeStyle;

/// An architecture as named by `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Gemma 3 (text).
    Gemma3,
    /// Llama 2 and 3, CodeLlama, DeepSeek-Coder (v1) and other Llama-shaped models.
    Llama,
    /// Qwen2, Qwen2.5 and Qwen2.5-Coder.
    Qwen2,
}

/// What the forward pass does differently per architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct Traits {
    /// Queries and keys are RMS-normalized per head before RoPE (`attn_q_norm`, `attn_k_norm`).
    pub qk_norm: bool,
    /// The attention and feed-forward outputs are RMS-normalized before the residual addition
    /// (`post_attention_norm`, `post_ffw_norm`).
    pub post_norms: bool,
    /// The non-linearity of the gated feed-forward layer.
    pub activation: Activation,
    /// Which head elements RoPE rotates together.
    pub rope_style: RopeStyle,
    /// Embeddings are multiplied by `sqrt(hidden_size)` (Gemma stores them at the scale of the
    /// output head they are tied to).
    pub scales_embeddings: bool,
    /// Some layers attend only to a sliding window of recent positions.
    pub sliding_window: bool,
    /// The file may carry `rope_freqs.weight`, per-frequency divisors of the RoPE angles
    /// (Llama 3.1 and later).
    pub rope_frequency_factors: bool,
    /// RoPE base when `rope.freq_base` is absent.
    pub default_rope_base: f32,
    /// RMS-norm epsilon when `attention.layer_norm_rms_epsilon` is absent; `None` makes the key
    /// required, as llama.cpp does for these architectures.
    pub default_rms_norm_eps: Option<f32>,
    /// YaRN RoPE scaling is implemented (and checked against llama.cpp) for this architecture.
    pub supports_yarn: bool,
}

impl Architecture {
    /// Every supported architecture.
    pub const ALL: [Architecture; 3] = [Self::Gemma3, Self::Llama, Self::Qwen2];

    /// The architecture called `name` in `general.architecture`, if rill runs it.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|arch| arch.name() == name)
    }

    /// The `general.architecture` value, which is also the prefix of its metadata keys.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gemma3 => "gemma3",
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
        }
    }

    /// The metadata key `<architecture>.<name>`.
    pub fn key(self, name: &str) -> String {
        format!("{}.{name}", self.name())
    }

    /// What sets this architecture apart.
    pub fn traits(self) -> Traits {
        match self {
            Self::Gemma3 => Traits {
                qk_norm: true,
                post_norms: true,
                activation: Activation::GeluTanh,
                rope_style: RopeStyle::Neox,
                scales_embeddings: true,
                sliding_window: true,
                rope_frequency_factors: false,
                default_rope_base: 1_000_000.0,
                default_rms_norm_eps: Some(1e-6),
                supports_yarn: false,
            },
            Self::Llama => Traits {
                qk_norm: false,
                post_norms: false,
                activation: Activation::Silu,
                rope_style: RopeStyle::Adjacent,
                scales_embeddings: false,
                sliding_window: false,
                rope_frequency_factors: true,
                default_rope_base: 10_000.0,
                default_rms_norm_eps: None,
                supports_yarn: true,
            },
            Self::Qwen2 => Traits {
                qk_norm: false,
                post_norms: false,
                activation: Activation::Silu,
                rope_style: RopeStyle::Neox,
                scales_embeddings: false,
                sliding_window: false,
                rope_frequency_factors: false,
                default_rope_base: 10_000.0,
                default_rms_norm_eps: None,
                supports_yarn: true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_supported_list() {
        for arch in Architecture::ALL {
            assert_eq!(Architecture::from_name(arch.name()), Some(arch));
        }
        let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names, crate::config::SUPPORTED_ARCHITECTURES);
        assert_eq!(Architecture::from_name("mamba"), None);
        assert_eq!(
            Architecture::Qwen2.key("context_length"),
            "qwen2.context_length"
        );
    }
}
