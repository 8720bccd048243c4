//! Tiny random-weight GGUF models of every supported architecture, written by the tests themselves so that no model has to be downloaded.
//!
//! A file holds a SentencePiece-style `llama` vocabulary (`<unk>`, `<s>`, `</s>`, the 256
//! `<0xXX>` byte tokens and a few dozen letters and letter pairs), which both rill's tokenizer and
//! llama.cpp accept, and deterministic pseudo-random weights: the same spec always gives the same
//! bytes, so a failure reproduces exactly.

use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

/// Letters and letter pairs after the special and byte tokens; `▁` is SentencePiece's space.
const PIECES: &[&str] = &[
    "\u{2581}",
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
    "g",
    "h",
    "i",
    "j",
    "k",
    "l",
    "m",
    "n",
    "o",
    "p",
    "q",
    "r",
    "s",
    "t",
    "u",
    "v",
    "w",
    "x",
    "y",
    "z",
    "\u{2581}t",
    "th",
    "he",
    "in",
    "er",
    "an",
    "re",
    "on",
    "at",
    "en",
    "nd",
    "\u{2581}a",
    "es",
    "or",
];

/// Vocabulary size of every tiny model: 3 special tokens, 256 byte tokens and [`PIECES`].
pub const VOCAB_SIZE: usize = 3 + 256 + PIECES.len();

/// RoPE scaling written into the metadata.
#[derive(Debug, Clone, Copy)]
pub enum Scaling {
    Linear {
        factor: f32,
    },
    Yarn {
        factor: f32,
        original_context_length: usize,
    },
}

/// What to write.
#[derive(Debug, Clone)]
pub struct TinySpec {
    /// `general.architecture`: `llama`, `qwen2` or `gemma3`.
    pub architecture: &'static str,
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub ffn: usize,
    pub context: usize,
    /// Type of every matrix (the embedding table included); norms and biases stay f32.
    pub weights: GgmlDType,
    /// Biases on the query, key and value projections (Qwen2 has them).
    pub qkv_bias: bool,
    /// A separate `output.weight`; without it the output head is tied to the embeddings.
    pub untied_output: bool,
    pub rope_base: f32,
    pub scaling: Option<Scaling>,
    /// Llama 3's per-frequency RoPE divisors (`rope_freqs.weight`).
    pub rope_freqs: bool,
    /// Gemma 3's sliding window and layer pattern.
    pub sliding_window: Option<(usize, usize)>,
    /// Extra metadata, e.g. values that must be rejected; replaces entries of the same key.
    pub extra_metadata: Vec<(String, Value)>,
    /// Keys left out of the metadata, e.g. to check that a required key is asked for.
    pub omitted_metadata: Vec<String>,
    pub seed: u64,
}

impl TinySpec {
    /// A two-layer Llama with grouped-query attention (4 heads, 2 key/value heads of 16).
    pub fn llama() -> Self {
        Self {
            architecture: "llama",
            hidden: 64,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            ffn: 128,
            context: 256,
            weights: GgmlDType::F32,
            qkv_bias: false,
            untied_output: true,
            rope_base: 10_000.0,
            scaling: None,
            rope_freqs: false,
            sliding_window: None,
            extra_metadata: Vec::new(),
            omitted_metadata: Vec::new(),
            seed: 1,
        }
    }

    /// A two-layer Qwen2 with query/key/value biases and a separate output head.
    pub fn qwen2() -> Self {
        Self {
            architecture: "qwen2",
            qkv_bias: true,
            rope_base: 1_000_000.0,
            seed: 2,
            ..Self::llama()
        }
    }

    /// A three-layer Gemma 3 whose second layer is global while the others slide over 8
    /// positions; the output head is tied to the embeddings as in real Gemma files.
    pub fn gemma3() -> Self {
        Self {
            architecture: "gemma3",
            layers: 3,
            untied_output: false,
            rope_base: 1_000_000.0,
            sliding_window: Some((8, 2)),
            seed: 3,
            ..Self::llama()
        }
    }

    /// The same model with every matrix quantized to `weights`. K-quants need rows of 256.
    pub fn quantized(self, weights: GgmlDType) -> Self {
        let wide = matches!(
            weights,
            GgmlDType::Q4K | GgmlDType::Q5K | GgmlDType::Q6K | GgmlDType::Q8K
        );
        Self {
            weights,
            hidden: if wide { 256 } else { self.hidden },
            ffn: if wide { 512 } else { self.ffn },
            ..self
        }
    }

    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Writes the model to a fresh file in the temporary directory named after `name` and this
    /// process. The file is deleted when the returned guard is dropped.
    pub fn write(&self, name: &str) -> TinyFile {
        let path =
            std::env::temp_dir().join(format!("rill-tiny-{}-{name}.gguf", std::process::id()));
        let metadata = self.metadata();
        let tensors = self.tensors();
        let mut file = std::fs::File::create(&path).expect("create the tiny model file");
        let metadata_refs: Vec<(&str, &Value)> =
            metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensor_refs: Vec<(&str, &QTensor)> =
            tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        gguf_file::write(&mut file, &metadata_refs, &tensor_refs).expect("write the tiny model");
        TinyFile(path)
    }

    fn metadata(&self) -> Vec<(String, Value)> {
        let arch = self.architecture;
        let key = |name: &str| format!("{arch}.{name}");
        let u32_of = |n: usize| Value::U32(n as u32);
        let mut metadata = vec![
            (
                "general.architecture".to_string(),
                Value::String(arch.into()),
            ),
            (
                "general.name".to_string(),
                Value::String(format!("tiny {arch}")),
            ),
            (key("context_length"), u32_of(self.context)),
            (key("embedding_length"), u32_of(self.hidden)),
            (key("block_count"), u32_of(self.layers)),
            (key("feed_forward_length"), u32_of(self.ffn)),
            (key("attention.head_count"), u32_of(self.heads)),
            (key("attention.head_count_kv"), u32_of(self.kv_heads)),
            (key("rope.dimension_count"), u32_of(self.head_dim())),
            (key("rope.freq_base"), Value::F32(self.rope_base)),
            (
                key("attention.layer_norm_rms_epsilon"),
                Value::F32(if arch == "gemma3" { 1e-6 } else { 1e-5 }),
            ),
        ];
        if arch == "gemma3" {
            metadata.push((key("attention.key_length"), u32_of(self.head_dim())));
            metadata.push((key("attention.value_length"), u32_of(self.head_dim())));
        }
        if let Some((window, pattern)) = self.sliding_window {
            metadata.push((key("attention.sliding_window"), u32_of(window)));
            metadata.push((key("attention.sliding_window_pattern"), u32_of(pattern)));
        }
        match self.scaling {
            None => {}
            Some(Scaling::Linear { factor }) => {
                metadata.push((key("rope.scaling.type"), Value::String("linear".into())));
                metadata.push((key("rope.scaling.factor"), Value::F32(factor)));
            }
            Some(Scaling::Yarn {
                factor,
                original_context_length,
            }) => {
                metadata.push((key("rope.scaling.type"), Value::String("yarn".into())));
                metadata.push((key("rope.scaling.factor"), Value::F32(factor)));
                metadata.push((
                    key("rope.scaling.original_context_length"),
                    u32_of(original_context_length),
                ));
            }
        }
        metadata.extend(vocabulary());
        for (name, value) in &self.extra_metadata {
            metadata.retain(|(existing, _)| existing != name);
            metadata.push((name.clone(), value.clone()));
        }
        metadata.retain(|(name, _)| !self.omitted_metadata.contains(name));
        metadata
    }

    fn tensors(&self) -> Vec<(String, QTensor)> {
        let mut random = SplitMix64(self.seed);
        let (hidden, ffn, head_dim) = (self.hidden, self.ffn, self.head_dim());
        let q_width = self.heads * head_dim;
        let kv_width = self.kv_heads * head_dim;
        let weights = self.weights;
        let quantized = |values: Vec<f32>, shape: (usize, usize), dtype| {
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
            QTensor::quantize(&tensor, dtype).unwrap()
        };
        let mut tensors = Vec::new();
        let mut matrix = |tensors: &mut Vec<(String, QTensor)>, name: String, rows, cols| {
            // Uniform in ±sqrt(3 / cols) has variance 1/cols, which keeps activations of order one.
            let values = random.uniform(rows * cols, (3.0 / cols as f32).sqrt());
            tensors.push((name, quantized(values, (rows, cols), weights)));
        };
        // Unit-scale rows: the table doubles as the output head when the two are tied, and large
        // logits give the parity tests clear top-1 margins.
        let table = SplitMix64(self.seed ^ 0xe3b0).uniform(VOCAB_SIZE * hidden, 1.0);
        tensors.push((
            "token_embd.weight".to_string(),
            quantized(table, (VOCAB_SIZE, hidden), weights),
        ));
        if self.untied_output {
            matrix(&mut tensors, "output.weight".into(), VOCAB_SIZE, hidden);
        }
        let mut vectors = SplitMix64(self.seed ^ 0x5eed);
        let mut vector =
            |tensors: &mut Vec<(String, QTensor)>, name: String, len, center, spread| {
                let values: Vec<f32> = vectors
                    .uniform(len, spread)
                    .into_iter()
                    .map(|v| center + v)
                    .collect();
                let tensor = Tensor::from_vec(values, len, &Device::Cpu).unwrap();
                // Norm weights, biases and RoPE factors are f32 in real files too.
                tensors.push((name, QTensor::quantize(&tensor, GgmlDType::F32).unwrap()));
            };
        vector(&mut tensors, "output_norm.weight".into(), hidden, 1.0, 0.2);
        if self.rope_freqs {
            // Llama 3 leaves fast frequencies alone and slows slow ones down by up to 8×.
            vector(
                &mut tensors,
                "rope_freqs.weight".into(),
                head_dim / 2,
                4.5,
                3.5,
            );
        }
        for layer in 0..self.layers {
            let name = |suffix: &str| format!("blk.{layer}.{suffix}");
            vector(&mut tensors, name("attn_norm.weight"), hidden, 1.0, 0.2);
            matrix(&mut tensors, name("attn_q.weight"), q_width, hidden);
            matrix(&mut tensors, name("attn_k.weight"), kv_width, hidden);
            matrix(&mut tensors, name("attn_v.weight"), kv_width, hidden);
            if self.qkv_bias {
                vector(&mut tensors, name("attn_q.bias"), q_width, 0.0, 0.5);
                vector(&mut tensors, name("attn_k.bias"), kv_width, 0.0, 0.5);
                vector(&mut tensors, name("attn_v.bias"), kv_width, 0.0, 0.5);
            }
            if self.architecture == "gemma3" {
                vector(&mut tensors, name("attn_q_norm.weight"), head_dim, 1.0, 0.2);
                vector(&mut tensors, name("attn_k_norm.weight"), head_dim, 1.0, 0.2);
                vector(
                    &mut tensors,
                    name("post_attention_norm.weight"),
                    hidden,
                    1.0,
                    0.2,
                );
                vector(&mut tensors, name("post_ffw_norm.weight"), hidden, 1.0, 0.2);
            }
            matrix(&mut tensors, name("attn_output.weight"), hidden, q_width);
            vector(&mut tensors, name("ffn_norm.weight"), hidden, 1.0, 0.2);
            matrix(&mut tensors, name("ffn_gate.weight"), ffn, hidden);
            matrix(&mut tensors, name("ffn_up.weight"), ffn, hidden);
            matrix(&mut tensors, name("ffn_down.weight"), hidden, ffn);
        }
        tensors
    }
}

/// A written tiny model, deleted on drop (also when a test fails) unless
/// `RILL_KEEP_TINY_MODELS` is set, which keeps the files for a closer look.
pub struct TinyFile(PathBuf);

impl TinyFile {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TinyFile {
    fn drop(&mut self) {
        if std::env::var_os("RILL_KEEP_TINY_MODELS").is_some() {
            eprintln!("kept {}", self.0.display());
        } else {
            std::fs::remove_file(&self.0).ok();
        }
    }
}

/// The `tokenizer.ggml.*` metadata of the tiny vocabulary.
fn vocabulary() -> Vec<(String, Value)> {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte.
    let mut types = vec![2, 3, 3];
    tokens.extend((0..=255u8).map(|byte| format!("<0x{byte:02X}>")));
    types.extend(std::iter::repeat_n(6, 256));
    tokens.extend(PIECES.iter().map(|piece| piece.to_string()));
    types.extend(std::iter::repeat_n(1, PIECES.len()));
    // Longer pieces score higher so that merges prefer them, as in real SentencePiece models.
    let scores = (0..tokens.len())
        .map(|id| {
            let chars = tokens[id].chars().count();
            Value::F32(if id < 259 {
                0.0
            } else {
                chars as f32 - id as f32 * 1e-3
            })
        })
        .collect();
    let key = |name: &str| format!("tokenizer.ggml.{name}");
    vec![
        (key("model"), Value::String("llama".into())),
        (
            key("tokens"),
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (key("scores"), Value::Array(scores)),
        (
            key("token_type"),
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        (key("unknown_token_id"), Value::U32(0)),
        (key("bos_token_id"), Value::U32(1)),
        (key("eos_token_id"), Value::U32(2)),
        (key("add_bos_token"), Value::Bool(true)),
        (key("add_space_prefix"), Value::Bool(false)),
    ]
}

/// A small deterministic generator (SplitMix64), so that the weights never depend on a crate's
/// version or platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `count` values uniform in `[-bound, bound)`.
    fn uniform(&mut self, count: usize, bound: f32) -> Vec<f32> {
        (0..count)
            .map(|_| {
                let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
                (2.0 * unit - 1.0) * bound
            })
            .collect()
    }
}
