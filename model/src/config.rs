//! Model hyper-parameters read from GGUF metadata (`<architecture>.*` keys) with the defaults llama.cpp uses, for every architecture in [`SUPPORTED_ARCHITECTURES`].

use crate::architecture::{Architecture, Traits};
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::rope::{RopeConfig, RopeScaling};

/// Architectures this crate can run, as named by `general.architecture`.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["gemma3", "llama", "qwen2"];

/// RoPE base of Gemma 3's sliding-window layers when the file does not say: llama.cpp hard-codes
/// it because older converters did not store it.
const GEMMA3_LOCAL_ROPE_BASE: f32 = 10_000.0;

/// Gemma 3's default layer pattern: five sliding-window layers, then a global one.
const GEMMA3_SLIDING_WINDOW_PATTERN: usize = 6;

/// The shape of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub context_length: usize,
    pub rms_norm_eps: f32,
    /// RoPE of the global (full attention) layers, i.e. of every layer without a sliding window.
    pub rope: RopeConfig,
    /// RoPE base of the sliding-window layers (Gemma 3), which are never scaled.
    pub rope_base_local: f32,
    /// Keys older than this many positions are invisible to sliding-window layers
    /// (`usize::MAX` when the model has none).
    pub sliding_window: usize,
    /// Every `sliding_window_pattern`-th layer is global; the others use the sliding window.
    /// 0 means every layer is global.
    pub sliding_window_pattern: usize,
    /// Scale applied to queries before the dot product.
    pub attention_scale: f32,
    pub vocab_size: usize,
}

impl ModelConfig {
    /// Reads the configuration, rejecting architectures and features rill cannot run.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let name = file.architecture()?;
        let architecture =
            Architecture::from_name(&name).ok_or_else(|| ModelError::UnsupportedArchitecture {
                found: name,
                supported: SUPPORTED_ARCHITECTURES.join(", "),
            })?;
        let traits = architecture.traits();
        let key = |name: &str| architecture.key(name);
        let hidden_size = file.usize(&key("embedding_length"))?;
        let num_heads = file.usize(&key("attention.head_count"))?;
        let num_kv_heads = optional_usize(file, &key("attention.head_count_kv"), num_heads)?;
        let head_dim = optional_usize(
            file,
            &key("attention.key_length"),
            hidden_size / num_heads.max(1),
        )?;
        let context_length = file.usize(&key("context_length"))?;
        let rms_norm_eps = match traits.default_rms_norm_eps {
            Some(default) => optional_f32(file, &key("attention.layer_norm_rms_epsilon"), default)?,
            None => file.f32(&key("attention.layer_norm_rms_epsilon"))?,
        };
        let (sliding_window, sliding_window_pattern) = sliding_window(file, architecture, &traits)?;
        let vocab_size = file
            .content()
            .tensor_infos
            .get("token_embd.weight")
            .map(|info| info.shape.dims()[0])
            .ok_or_else(|| ModelError::BadTensor {
                name: "token_embd.weight".to_string(),
                reason: "not present".to_string(),
            })?;
        let config = Self {
            architecture,
            hidden_size,
            num_layers: file.usize(&key("block_count"))?,
            num_heads,
            num_kv_heads,
            head_dim,
            intermediate_size: file.usize(&key("feed_forward_length"))?,
            context_length,
            rms_norm_eps,
            rope: rope(file, architecture, &traits, context_length)?,
            rope_base_local: local_rope_base(file, architecture)?,
            sliding_window,
            sliding_window_pattern,
            // Queries are scaled by 1/sqrt(head size). Gemma 3 really divides by
            // sqrt(query_pre_attn_scalar), which equals the head size for every size except
            // 27B; llama.cpp makes the same choice.
            attention_scale: 1.0 / (head_dim as f32).sqrt(),
            vocab_size,
        };
        config.validate(file)?;
        Ok(config)
    }

    /// Whether layer `layer` attends to all earlier positions (true) or only the sliding window.
    pub fn is_global_layer(&self, layer: usize) -> bool {
        self.sliding_window_pattern == 0
            || layer % self.sliding_window_pattern == self.sliding_window_pattern - 1
    }

    /// Width of one position's keys (or values) summed over the key/value heads.
    pub fn kv_dim(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    fn validate(&self, file: &GgufFile) -> Result<()> {
        let arch = self.architecture;
        let bad = |key: &str, reason: String| {
            Err(ModelError::BadMetadata {
                key: arch.key(key),
                reason,
            })
        };
        if self.hidden_size == 0 || self.num_layers == 0 || self.num_heads == 0 {
            return bad(
                "embedding_length",
                "model dimensions must be positive".into(),
            );
        }
        if self.num_kv_heads == 0 || !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad(
                "attention.head_count_kv",
                "must divide the number of heads".into(),
            );
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return bad(
                "attention.key_length",
                "the head size must be even and positive".into(),
            );
        }
        let value_length =
            optional_usize(file, &arch.key("attention.value_length"), self.head_dim)?;
        if value_length != self.head_dim {
            return bad(
                "attention.value_length",
                format!(
                    "value heads of {value_length} elements differ from key heads of {}, which \
                     llama.cpp does not run for this architecture either",
                    self.head_dim
                ),
            );
        }
        // llama.cpp's Llama, Qwen2 and Gemma 3 graphs rotate whole heads and assert as much.
        let rotated = optional_usize(file, &arch.key("rope.dimension_count"), self.head_dim)?;
        if rotated != self.head_dim {
            return Err(ModelError::Unsupported {
                key: arch.key("rope.dimension_count"),
                reason: format!(
                    "partial rotary embeddings ({rotated} of {} head dimensions) are not supported",
                    self.head_dim
                ),
            });
        }
        if self.context_length == 0 {
            return bad("context_length", "must be positive".into());
        }
        if !(self.rope.base > 1.0 && self.rope_base_local > 1.0) {
            return bad("rope.freq_base", "must be greater than 1".into());
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps >= 0.0) {
            return bad(
                "attention.layer_norm_rms_epsilon",
                "must be a non-negative number".into(),
            );
        }
        Ok(())
    }
}

/// The RoPE of the global layers: base, scaling type and factor, read the way llama.cpp reads
/// them (a missing type means linear, a factor of 0 or none means no scaling, `none` ignores the
/// factor).
fn rope(
    file: &GgufFile,
    arch: Architecture,
    traits: &Traits,
    context_length: usize,
) -> Result<RopeConfig> {
    let key = |name: &str| arch.key(name);
    let base = optional_f32(file, &key("rope.freq_base"), traits.default_rope_base)?;
    let type_key = key("rope.scaling.type");
    let kind = if file.has(&type_key) {
        file.string(&type_key)?.to_string()
    } else {
        "linear".to_string()
    };
    let factor_key = if file.has(&key("rope.scaling.factor")) {
        key("rope.scaling.factor")
    } else {
        // The key older converters wrote.
        key("rope.scale_linear")
    };
    let factor = optional_f32(file, &factor_key, 0.0)?;
    if !(factor.is_finite() && factor >= 0.0) {
        return Err(ModelError::BadMetadata {
            key: factor_key,
            reason: format!("must be a non-negative number, found {factor}"),
        });
    }
    let scaling = match kind.as_str() {
        "none" => RopeScaling::None,
        "linear" if factor == 0.0 => RopeScaling::None,
        "linear" => RopeScaling::Linear { factor },
        "yarn" if traits.supports_yarn => RopeScaling::Yarn {
            factor: if factor == 0.0 { 1.0 } else { factor },
            original_context_length: optional_usize(
                file,
                &key("rope.scaling.original_context_length"),
                context_length,
            )?,
        },
        "yarn" => {
            return Err(ModelError::Unsupported {
                key: type_key,
                reason: format!("YaRN scaling is not supported for `{}`", arch.name()),
            })
        }
        other => {
            return Err(ModelError::Unsupported {
                key: type_key,
                reason: format!(
                    "RoPE scaling `{other}` is not supported; supported: none, linear{}",
                    if traits.supports_yarn { ", yarn" } else { "" }
                ),
            })
        }
    };
    Ok(RopeConfig {
        style: traits.rope_style,
        base,
        scaling,
        attn_factor: optional_f32(file, &key("rope.scaling.attn_factor"), 1.0)?,
    })
}

/// RoPE base of Gemma 3's sliding-window layers: `rope.freq_base_swa` (llama.cpp's key), else the
/// older `rope.local.freq_base`, else llama.cpp's hard-coded value.
fn local_rope_base(file: &GgufFile, arch: Architecture) -> Result<f32> {
    for name in ["rope.freq_base_swa", "rope.local.freq_base"] {
        if file.has(&arch.key(name)) {
            return file.f32(&arch.key(name));
        }
    }
    Ok(GEMMA3_LOCAL_ROPE_BASE)
}

/// The sliding window and the layer pattern, `(usize::MAX, 0)` when every layer is global. As in
/// llama.cpp, a Gemma 3 file without `attention.sliding_window` (or with 0) has no window.
fn sliding_window(file: &GgufFile, arch: Architecture, traits: &Traits) -> Result<(usize, usize)> {
    let window = optional_usize(file, &arch.key("attention.sliding_window"), 0)?;
    if !traits.sliding_window || window == 0 {
        return Ok((usize::MAX, 0));
    }
    let pattern = optional_usize(
        file,
        &arch.key("attention.sliding_window_pattern"),
        GEMMA3_SLIDING_WINDOW_PATTERN,
    )?;
    Ok((window, pattern))
}

fn optional_f32(file: &GgufFile, key: &str, default: f32) -> Result<f32> {
    if file.has(key) {
        file.f32(key)
    } else {
        Ok(default)
    }
}

fn optional_usize(file: &GgufFile, key: &str, default: usize) -> Result<usize> {
    if file.has(key) {
        file.usize(key)
    } else {
        Ok(default)
    }
}
