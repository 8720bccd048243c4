//! Gemma 3 hyper-parameters, read from GGUF metadata (`gemma3.*` keys) with the same defaults llama.cpp uses.

use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;

/// Architectures this crate can run, as named by `general.architecture`.
pub const SUPPORTED_ARCHITECTURES: &[&str] = &["gemma3"];

/// The shape of a Gemma 3 model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub context_length: usize,
    pub rms_norm_eps: f32,
    /// RoPE base of the global (full attention) layers.
    pub rope_base_global: f32,
    /// RoPE base of the sliding-window layers.
    pub rope_base_local: f32,
    /// Linear RoPE scaling of the global layers (1 means none).
    pub rope_scale_global: f32,
    /// Keys older than this many positions are invisible to sliding-window layers.
    pub sliding_window: usize,
    /// Every `sliding_window_pattern`-th layer is global; the others use the sliding window.
    pub sliding_window_pattern: usize,
    /// Scale applied to queries before the dot product.
    pub attention_scale: f32,
    pub vocab_size: usize,
}

impl ModelConfig {
    /// Reads the configuration, rejecting architectures other than Gemma 3.
    pub fn from_gguf(file: &GgufFile) -> Result<Self> {
        let arch = file.architecture()?;
        if arch != "gemma3" {
            return Err(ModelError::UnsupportedArchitecture {
                found: arch,
                supported: SUPPORTED_ARCHITECTURES.join(", "),
            });
        }
        let key = |name: &str| format!("gemma3.{name}");
        let hidden_size = file.usize(&key("embedding_length"))?;
        let num_heads = file.usize(&key("attention.head_count"))?;
        let num_kv_heads = if file.has(&key("attention.head_count_kv")) {
            file.usize(&key("attention.head_count_kv"))?
        } else {
            num_heads
        };
        let head_dim = if file.has(&key("attention.key_length")) {
            file.usize(&key("attention.key_length"))?
        } else {
            hidden_size / num_heads.max(1)
        };
        // llama.cpp hard-codes 10,000 for the local layers of Gemma 3 because the converter does not
        // store it; a file that does carry the key wins.
        let rope_base_local = optional_f32(file, &key("rope.local.freq_base"), 10_000.0)?;
        let rope_base_global = optional_f32(file, &key("rope.freq_base"), 1_000_000.0)?;
        let rope_scale_global = optional_f32(file, &key("rope.scaling.factor"), 1.0)?;
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
            hidden_size,
            num_layers: file.usize(&key("block_count"))?,
            num_heads,
            num_kv_heads,
            head_dim,
            intermediate_size: file.usize(&key("feed_forward_length"))?,
            context_length: file.usize(&key("context_length"))?,
            rms_norm_eps: optional_f32(file, &key("attention.layer_norm_rms_epsilon"), 1e-6)?,
            rope_base_global,
            rope_base_local,
            rope_scale_global,
            sliding_window: if file.has(&key("attention.sliding_window")) {
                file.usize(&key("attention.sliding_window"))?
            } else {
                usize::MAX
            },
            sliding_window_pattern: if file.has(&key("attention.sliding_window_pattern")) {
                file.usize(&key("attention.sliding_window_pattern"))?
            } else {
                6
            },
            // Gemma 3 scales queries by 1/sqrt(query_pre_attn_scalar), which equals the head
            // size for every size except 27B; llama.cpp makes the same choice.
            attention_scale: 1.0 / (head_dim as f32).sqrt(),
            vocab_size,
        };
        config.validate()?;
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

    fn validate(&self) -> Result<()> {
        let bad = |key: &str, reason: &str| {
            Err(ModelError::BadMetadata {
                key: format!("gemma3.{key}"),
                reason: reason.to_string(),
            })
        };
        if self.hidden_size == 0 || self.num_layers == 0 || self.num_heads == 0 {
            return bad("embedding_length", "model dimensions must be positive");
        }
        if self.num_kv_heads == 0 || !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return bad("attention.head_count_kv", "must divide the number of heads");
        }
        if self.head_dim == 0 || !self.head_dim.is_multiple_of(2) {
            return bad(
                "attention.key_length",
                "the head size must be even and positive",
            );
        }
        if self.context_length == 0 {
            return bad("context_length", "must be positive");
        }
        if !(self.rope_base_global > 1.0 && self.rope_base_local > 1.0) {
            return bad("rope.freq_base", "must be greater than 1");
        }
        Ok(())
    }
}

fn optional_f32(file: &GgufFile, key: &str, default: f32) -> Result<f32> {
    if file.has(key) {
        file.f32(key)
    } else {
        Ok(default)
    }
}
