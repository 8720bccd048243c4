//! The decoder-only transformer forward pass of every supported architecture (Gemma 3, Llama, Qwen2): immutable shared weights, `forward(&self, tokens, &mut KvCache, which)`.
//!
//! Written for this project after reading llama.cpp's `gemma3`, `llama` and `qwen2` graphs (the
//! ground truth our tests compare against) and candle's quantized models. The matrix products run
//! on candle's quantized kernels; the glue between them (norms, RoPE, attention) runs on plain
//! slices, because candle's per-op overhead would dominate a single-token decode step at this
//! model size.
//!
//! What differs between the architectures (extra norms, activation, RoPE layout and scaling,
//! embedding scale, sliding windows) is decided once at load time from
//! [`crate::architecture::Traits`], and biases from the tensors present in the file, so the hot
//! loop only sees optional weights, never an architecture name.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use crate::attention::{self, Heads};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::kv_cache::KvCache;
use crate::ops::{self, Activation};
use crate::q8_matmul::{MatmulInput, Q8Matrix};
use crate::quant::q5_0_to_q8_0;
use crate::rope::{Rope, RopeConfig, RopeScaling};
use half::slice::HalfFloatSliceExt;

/// Which positions of a forward pass need logits. The output head is the most expensive
/// matrix of the model (vocabulary × hidden), so callers ask only for what they use.
#[derive(Debug, Clone, Copy)]
pub enum Which<'a> {
    /// Only the last token of the pass (prompt processing, decoding).
    Last,
    /// Every token of the pass (scoring a whole text).
    All,
    /// The given indices into the tokens of this pass, in the order given.
    Positions(&'a [usize]),
}

/// How to hold the weights in memory.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Dequantize every matrix to f32. Slow and large; tests use it to check the arithmetic
    /// of the forward pass free of activation quantization.
    pub dequantize: bool,
}

/// The token embedding table (shared with the output head when the file has no `output.weight`).
struct Embedding(Arc<QTensor>);

impl Embedding {
    /// The embedding rows of `tokens`, flat `[tokens, hidden]`. candle dequantizes just these rows.
    fn rows(&self, tokens: &[u32]) -> Result<Vec<f32>> {
        let ids = Tensor::from_slice(tokens, tokens.len(), &Device::Cpu)?;
        Ok(self.0.embedding(&ids)?.flatten_all()?.to_vec1::<f32>()?)
    }
}

/// A weight matrix and the kernel that multiplies by it.
enum Linear {
    /// Q8_0 weights on rill's own kernels (AVX2 or AVX-512 VNNI).
    Q8(Arc<Q8Matrix>),
    /// Everything else on candle's kernels (k-quants, f32 in tests).
    Candle(QMatMul),
}

impl Linear {
    /// `input [rows, in] · Wᵀ` written over `out` as a flat `[rows, out]` vector.
    fn forward_into(&self, input: &MatmulInput, out: &mut Vec<f32>) -> Result<()> {
        match self {
            Linear::Q8(matrix) => matrix.matmul_into(input, out)?,
            Linear::Candle(weight) => {
                let (values, rows) = (input.values(), input.rows());
                *out = matmul(
                    weight,
                    &Tensor::from_slice(values, (rows, values.len() / rows), &Device::Cpu)?,
                )?;
            }
        }
        Ok(())
    }
}

/// A weight matrix with its optional bias (`<name>.bias`, e.g. Qwen2's query, key and value
/// projections), which is added to every output row.
struct Projection {
    weight: Linear,
    bias: Option<Vec<f32>>,
}

impl Projection {
    /// `input [rows, in] · Wᵀ + b` as a flat `[rows, out]` vector.
    fn forward(&self, input: &MatmulInput) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.forward_into(input, &mut out)?;
        Ok(out)
    }

    /// [`Projection::forward`] written over `out`, whose allocation is reused.
    fn forward_into(&self, input: &MatmulInput, out: &mut Vec<f32>) -> Result<()> {
        self.weight.forward_into(input, out)?;
        self.add_bias(out);
        Ok(())
    }

    fn add_bias(&self, out: &mut [f32]) {
        if let Some(bias) = &self.bias {
            for row in out.chunks_exact_mut(bias.len()) {
                for (value, b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
        }
    }
}

struct Layer {
    attn_norm: Vec<f32>,
    q: Projection,
    k: Projection,
    v: Projection,
    /// Per-head RMS norms of queries and keys (Gemma 3 only).
    q_norm: Option<Vec<f32>>,
    k_norm: Option<Vec<f32>>,
    o: Projection,
    /// Norm of the attention output before the residual addition (Gemma 3 only).
    post_attn_norm: Option<Vec<f32>>,
    ffn_norm: Vec<f32>,
    gate: Projection,
    up: Projection,
    down: Projection,
    /// Norm of the feed-forward output before the residual addition (Gemma 3 only).
    post_ffn_norm: Option<Vec<f32>>,
    global: bool,
}

/// A loaded model. Immutable after loading: share it between threads with `Arc`.
pub struct Model {
    config: ModelConfig,
    embedding: Embedding,
    output_head: Projection,
    output_norm: Vec<f32>,
    layers: Vec<Layer>,
    /// Factor the embeddings are multiplied by (Gemma's `sqrt(hidden)`); `None` for none.
    embedding_scale: Option<f32>,
    activation: Activation,
    /// RoPE of the global layers (all layers of models without a sliding window).
    rope_global: Rope,
    /// RoPE of the sliding-window layers, when the model has any.
    rope_local: Option<Rope>,
    /// Passes through the layers since loading, for benchmarks that measure model work.
    work: WorkCounter,
}

/// How much work a model has done: forward passes through its layers and the tokens they ran.
/// Atomic so that a shared (`Arc`) model counts without a lock; relaxed, because the figures are
/// read for reports, never to order anything.
#[derive(Debug, Default)]
struct WorkCounter {
    passes: AtomicU64,
    tokens: AtomicU64,
}

/// What [`Model::work`] reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Forward passes through the layers (a prefill chunk, one decoded token, a verified draft).
    pub passes: u64,
    /// Tokens those passes ran.
    pub tokens: u64,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Loads a GGUF file of any supported architecture.
    pub fn load(path: &Path, options: LoadOptions) -> Result<Self> {
        let mut file = GgufFile::open(path)?;
        Self::from_gguf(&mut file, options)
    }

    /// Builds the model from an already opened file (the tokenizer reads the same file's metadata).
    pub fn from_gguf(file: &mut GgufFile, options: LoadOptions) -> Result<Self> {
        let config = ModelConfig::from_gguf(file)?;
        // Build the tokenizer before the model: its tables are gone from here on.
        file.drop_vocabulary_tables();
        let traits = config.architecture.traits();
        let hidden = config.hidden_size;
        let q_width = config.num_heads * config.head_dim;
        let kv_width = config.kv_dim();
        let ffn = config.intermediate_size;

        let table = Arc::new(read(
            file,
            "token_embd.weight",
            &[config.vocab_size, hidden],
        )?);
        let output_weight = if file.content().tensor_infos.contains_key("output.weight") {
            matrix(file, "output.weight", &[config.vocab_size, hidden], options)?
        } else if options.dequantize {
            Linear::Candle(QMatMul::Tensor(table.dequantize(&Device::Cpu)?))
        } else {
            // A tied output head reads the same bytes as the embedding table.
            match Q8Matrix::from_qtensor(table.clone()) {
                Some(matrix) => Linear::Q8(Arc::new(matrix)),
                None => Linear::Candle(QMatMul::from_arc(table.clone())?),
            }
        };
        // Decoding multiplies single rows, mostly by the head: measure here which path streams
        // them faster on this CPU (see `q8_matmul::SingleRow`).
        if let Linear::Q8(head) = &output_weight {
            head.tune_single_row();
        }
        let output_head = Projection {
            weight: output_weight,
            bias: optional_vector(file, "output.bias", config.vocab_size)?,
        };
        let embedding = Embedding(table);
        let output_norm = vector(file, "output_norm.weight", hidden)?;
        let mut layers = Vec::with_capacity(config.num_layers);
        for index in 0..config.num_layers {
            let name = |suffix: &str| format!("blk.{index}.{suffix}");
            let norm = |file: &mut GgufFile, suffix: &str, len: usize, present: bool| {
                present
                    .then(|| vector(file, &name(suffix), len))
                    .transpose()
            };
            layers.push(Layer {
                attn_norm: vector(file, &name("attn_norm.weight"), hidden)?,
                q: projection(file, &name("attn_q"), [q_width, hidden], options)?,
                k: projection(file, &name("attn_k"), [kv_width, hidden], options)?,
                v: projection(file, &name("attn_v"), [kv_width, hidden], options)?,
                q_norm: norm(file, "attn_q_norm.weight", config.head_dim, traits.qk_norm)?,
                k_norm: norm(file, "attn_k_norm.weight", config.head_dim, traits.qk_norm)?,
                o: projection(file, &name("attn_output"), [hidden, q_width], options)?,
                post_attn_norm: norm(
                    file,
                    "post_attention_norm.weight",
                    hidden,
                    traits.post_norms,
                )?,
                ffn_norm: vector(file, &name("ffn_norm.weight"), hidden)?,
                gate: projection(file, &name("ffn_gate"), [ffn, hidden], options)?,
                up: projection(file, &name("ffn_up"), [ffn, hidden], options)?,
                down: projection(file, &name("ffn_down"), [hidden, ffn], options)?,
                post_ffn_norm: norm(file, "post_ffw_norm.weight", hidden, traits.post_norms)?,
                global: config.is_global_layer(index),
            });
        }
        // Llama 3.1 and later divide each RoPE frequency by a factor stored once for all layers.
        let frequency_factors = if traits.rope_frequency_factors {
            optional_vector(file, "rope_freqs.weight", config.head_dim / 2)?
        } else {
            None
        };
        let rope_global = Rope::new(&config.rope, config.head_dim, frequency_factors.as_deref());
        let rope_local = layers.iter().any(|layer| !layer.global).then(|| {
            let local = RopeConfig {
                base: config.rope_base_local,
                scaling: RopeScaling::None,
                ..config.rope.clone()
            };
            Rope::new(&local, config.head_dim, None)
        });
        Ok(Self {
            embedding_scale: traits.scales_embeddings.then(|| (hidden as f32).sqrt()),
            activation: traits.activation,
            rope_global,
            rope_local,
            config,
            embedding,
            output_head,
            output_norm,
            layers,
            work: WorkCounter::default(),
        })
    }

    /// Passes and tokens run since loading, over every sequence and thread.
    pub fn work(&self) -> Work {
        Work {
            passes: self.work.passes.load(Ordering::Relaxed),
            tokens: self.work.tokens.load(Ordering::Relaxed),
        }
    }

    /// The model's hyper-parameters.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// A new, empty cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        let windows = (0..self.config.num_layers)
            .map(|layer| {
                (!self.config.is_global_layer(layer)).then_some(self.config.sliding_window)
            })
            .collect();
        KvCache::with_windows(windows, self.config.kv_dim(), self.config.context_length)
    }

    /// Runs `tokens` as the continuation of the sequence in `cache`, appends their keys and values
    /// to it, and returns logits `[selected positions, vocab]` for the positions `which` selects.
    ///
    /// On error the cache keeps its previous length, so a failed pass never leaves half a sequence.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, which: Which<'_>) -> Result<Tensor> {
        let (rows, logits) = self.forward_to_vec(tokens, cache, which)?;
        Ok(Tensor::from_vec(
            logits,
            (rows, self.config.vocab_size),
            &Device::Cpu,
        )?)
    }

    /// Like [`Model::forward`], returning the logits as a flat row-major vector with its row count.
    pub fn forward_to_vec(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        which: Which<'_>,
    ) -> Result<(usize, Vec<f32>)> {
        self.forward_to_vec_until(tokens, cache, which, &|| false)
            .map(|done| done.expect("a pass that is never stopped completes"))
    }

    /// [`Model::forward_to_vec`] that asks `stop` before each layer and gives up when it answers
    /// true: `Ok(None)`, and the cache keeps its length (the keys and values written past it are
    /// overwritten by the next pass). Background work runs long passes, which are faster per
    /// token, and still leaves the engine within one layer's time of an interactive request.
    pub fn forward_to_vec_until(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        which: Which<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(usize, Vec<f32>)>> {
        let Some((selected, hidden_states)) = self.checked_pass(tokens, cache, which, stop)? else {
            return Ok(None);
        };
        let logits = self.output_logits(&hidden_states, &selected)?;
        if logits.iter().any(|value| !value.is_finite()) {
            return Err(ModelError::NonFiniteLogits);
        }
        cache.advance(tokens.len());
        Ok(Some((selected.len(), logits)))
    }

    /// The rows `which` selects and the final hidden states of a pass over `tokens`, after
    /// checking both; `None` when `stop` answered true before a layer. The caller advances the
    /// cache once it has what it needs from the pass.
    fn checked_pass(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        which: Which<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<(Vec<usize>, Vec<f32>)>> {
        let selected = self.selected_rows(tokens.len(), which)?;
        self.check_tokens(tokens, cache)?;
        Ok(self
            .run_layers(tokens, cache, stop)?
            .map(|hidden_states| (selected, hidden_states)))
    }

    fn selected_rows(&self, count: usize, which: Which<'_>) -> Result<Vec<usize>> {
        if count == 0 {
            return Err(ModelError::EmptyInput);
        }
        Ok(match which {
            Which::Last => vec![count - 1],
            Which::All => (0..count).collect(),
            Which::Positions(positions) => {
                if let Some(&position) = positions.iter().find(|&&p| p >= count) {
                    return Err(ModelError::BadLogitPosition {
                        position,
                        len: count,
                    });
                }
                positions.to_vec()
            }
        })
    }

    fn check_tokens(&self, tokens: &[u32], cache: &KvCache) -> Result<()> {
        let vocab_size = self.config.vocab_size;
        if let Some(&id) = tokens.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(ModelError::UnknownToken { id, vocab_size });
        }
        let requested = cache.len() + tokens.len();
        if requested > self.config.context_length {
            return Err(ModelError::ContextOverflow {
                requested,
                context_length: self.config.context_length,
            });
        }
        Ok(())
    }

    /// Embeds the tokens and runs every layer, writing keys and values into `cache` past its
    /// current length. Returns the final hidden states `[tokens, hidden]` before the output norm,
    /// or `None` when `stop` answered true before a layer.
    fn run_layers(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Vec<f32>>> {
        let config = &self.config;
        let hidden = config.hidden_size;
        let count = tokens.len();
        let start = cache.len();
        cache.reserve(count);
        self.work.passes.fetch_add(1, Ordering::Relaxed);
        self.work.tokens.fetch_add(count as u64, Ordering::Relaxed);

        let mut x = self.embedding.rows(tokens)?;
        // Gemma multiplies embeddings by sqrt(hidden) because the table is shared with the
        // output head and therefore stored at the output's scale.
        if let Some(scale) = self.embedding_scale {
            for value in &mut x {
                *value *= scale;
            }
        }

        let rope_global = self.rope_global.table(start, count);
        let rope_local = self
            .rope_local
            .as_ref()
            .map(|rope| rope.table(start, count));

        let mut normed = vec![0.0f32; count * hidden];
        for (index, layer) in self.layers.iter().enumerate() {
            if stop() {
                return Ok(None);
            }
            normed.copy_from_slice(&x);
            ops::rms_norm_rows(&mut normed, &layer.attn_norm, config.rms_norm_eps);
            // One input for the three projections: its activations are quantized once.
            let input = MatmulInput::new(&normed, count);
            let mut q = layer.q.forward(&input)?;
            let mut k = layer.k.forward(&input)?;
            let v = layer.v.forward(&input)?;
            drop(input);

            let rope = match &rope_local {
                Some(local) if !layer.global => local,
                _ => &rope_global,
            };
            if let (Some(q_norm), Some(k_norm)) = (&layer.q_norm, &layer.k_norm) {
                ops::rms_norm_rows(&mut q, q_norm, config.rms_norm_eps);
                ops::rms_norm_rows(&mut k, k_norm, config.rms_norm_eps);
            }
            rope.apply(&mut q, config.num_heads, config.head_dim);
            rope.apply(&mut k, config.num_kv_heads, config.head_dim);
            ops::scale_rows(
                &mut q,
                config.attention_scale,
                config.num_heads * config.head_dim,
            );

            let kv_dim = config.kv_dim();
            let slot = cache.layer_mut(index);
            let stored = start - slot.offset;
            slot.keys[stored * kv_dim..(stored + count) * kv_dim].convert_from_f32_slice(&k);
            slot.values[stored * kv_dim..(stored + count) * kv_dim].convert_from_f32_slice(&v);
            let window = if layer.global {
                usize::MAX
            } else {
                config.sliding_window
            };
            let heads = Heads {
                heads: config.num_heads,
                kv_heads: config.num_kv_heads,
                head_dim: config.head_dim,
            };
            let attended = attention::attention(heads, &q, slot, start, count, window);

            let mut projected = layer.o.forward(&MatmulInput::new(&attended, count))?;
            if let Some(norm) = &layer.post_attn_norm {
                ops::rms_norm_rows(&mut projected, norm, config.rms_norm_eps);
            }
            ops::add_rows(&mut x, &projected, hidden);

            normed.copy_from_slice(&x);
            ops::rms_norm_rows(&mut normed, &layer.ffn_norm, config.rms_norm_eps);
            let input = MatmulInput::new(&normed, count);
            let mut gate = layer.gate.forward(&input)?;
            let up = layer.up.forward(&input)?;
            drop(input);
            ops::gated_activation(&mut gate, &up, self.activation);
            let mut down = layer.down.forward(&MatmulInput::new(&gate, count))?;
            if let Some(norm) = &layer.post_ffn_norm {
                ops::rms_norm_rows(&mut down, norm, config.rms_norm_eps);
            }
            ops::add_rows(&mut x, &down, hidden);
        }
        Ok(Some(x))
    }

    fn output_logits(&self, hidden_states: &[f32], selected: &[usize]) -> Result<Vec<f32>> {
        if selected.is_empty() {
            // A pass that only fills the cache (a prefill chunk before the last) needs no logits,
            // and the output head is the most expensive matrix of a small model.
            return Ok(Vec::new());
        }
        let rows = self.output_rows(hidden_states, selected);
        self.output_head
            .forward(&MatmulInput::new(&rows, selected.len()))
    }

    /// The selected rows of the final hidden states after the output norm: what the output head
    /// multiplies.
    fn output_rows(&self, hidden_states: &[f32], selected: &[usize]) -> Vec<f32> {
        let hidden = self.config.hidden_size;
        let mut rows = Vec::with_capacity(selected.len() * hidden);
        for &row in selected {
            rows.extend_from_slice(&hidden_states[row * hidden..(row + 1) * hidden]);
        }
        ops::rms_norm_rows(&mut rows, &self.output_norm, self.config.rms_norm_eps);
        rows
    }

    /// Like [`Model::forward_to_vec`], but returns the selected rows before the output head
    /// (`[selected, hidden]`, output norm applied), for callers that gather rows over several
    /// passes and apply the head to all of them at once with [`Model::head`]: the head's weights,
    /// the largest matrix of a small model, are then read once for many rows. The logits are
    /// bit-identical to `forward_to_vec`'s, because every row's product is independent of how many
    /// rows share the multiplication.
    ///
    /// `stop` is asked before each layer, as in [`Model::forward_to_vec_until`].
    pub fn forward_to_rows(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        which: Which<'_>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Option<Vec<f32>>> {
        let Some((selected, hidden_states)) = self.checked_pass(tokens, cache, which, stop)? else {
            return Ok(None);
        };
        let rows = self.output_rows(&hidden_states, &selected);
        cache.advance(tokens.len());
        Ok(Some(rows))
    }

    /// The output head applied to rows from [`Model::forward_to_rows`]: `[rows, vocab]` logits,
    /// written over `logits` so that scoring a file reuses one buffer (64 rows of a 262k
    /// vocabulary are 67 MB, which a fresh allocation maps and faults in page by page).
    ///
    /// The logits are not checked here: a scorer reads every row anyway and checks it there, in
    /// parallel (see `score::score_rows`).
    pub fn head_into(&self, rows: &[f32], logits: &mut Vec<f32>) -> Result<()> {
        let hidden = self.config.hidden_size;
        if rows.is_empty() || !rows.len().is_multiple_of(hidden) {
            return Err(ModelError::EmptyInput);
        }
        self.output_head
            .forward_into(&MatmulInput::new(rows, rows.len() / hidden), logits)
    }
}

/// `x · Wᵀ` for a `[rows, in]` input, returned as a flat `[rows, out]` vector.
fn matmul(weight: &QMatMul, input: &Tensor) -> Result<Vec<f32>> {
    if let QMatMul::Tensor(_) = weight {
        // f32 weights only exist to check the arithmetic of the forward pass. The f32 GEMM picks
        // its blocking (and so its summation order) from the number of rows, so multiplying row
        // by row keeps each row's result independent of how a sequence was split into passes.
        let rows = input.dim(0)?;
        let mut out = Vec::new();
        for row in 0..rows {
            out.extend(
                weight
                    .forward(&input.narrow(0, row, 1)?)?
                    .flatten_all()?
                    .to_vec1::<f32>()?,
            );
        }
        return Ok(out);
    }
    if let QMatMul::QTensor(tensor) = weight {
        if tensor.dtype() == GgmlDType::Q6K && input.dim(0)? == 1 {
            // candle multiplies a single row by Q6_K with a different kernel than several rows,
            // and the tiny rounding difference is amplified by activation quantization in later
            // layers. Doubling the row keeps one kernel for every batch size, so decoding one
            // token gives exactly what a prompt pass (or a speculative verification) gives.
            let doubled = Tensor::cat(&[input, input], 0)?;
            let out = weight.forward(&doubled)?;
            return Ok(out.narrow(0, 0, 1)?.flatten_all()?.to_vec1::<f32>()?);
        }
    }
    Ok(weight.forward(input)?.flatten_all()?.to_vec1::<f32>()?)
}

fn read(file: &mut GgufFile, name: &str, expected: &[usize]) -> Result<QTensor> {
    let tensor = file.tensor(name)?;
    if tensor.shape().dims() != expected {
        return Err(ModelError::BadTensor {
            name: name.to_string(),
            reason: format!(
                "expected shape {expected:?}, found {:?}",
                tensor.shape().dims()
            ),
        });
    }
    Ok(tensor)
}

fn matrix(
    file: &mut GgufFile,
    name: &str,
    expected: &[usize],
    options: LoadOptions,
) -> Result<Linear> {
    let tensor = read(file, name, expected)?;
    if options.dequantize {
        return Ok(Linear::Candle(QMatMul::Tensor(
            tensor.dequantize(&Device::Cpu)?,
        )));
    }
    let tensor = q5_0_to_q8_0(tensor, name)?;
    let tensor = Arc::new(tensor);
    if let Some(matrix) = Q8Matrix::from_qtensor(tensor.clone()) {
        return Ok(Linear::Q8(Arc::new(matrix)));
    }
    if matches!(
        tensor.dtype(),
        GgmlDType::F32 | GgmlDType::F16 | GgmlDType::BF16
    ) {
        return Ok(Linear::Candle(QMatMul::Tensor(
            tensor.dequantize(&Device::Cpu)?,
        )));
    }
    Ok(Linear::Candle(QMatMul::from_arc(tensor)?))
}

/// `<name>.weight` of shape `[out, in]` and, when the file has it, `<name>.bias` of `[out]`.
fn projection(
    file: &mut GgufFile,
    name: &str,
    [out, input]: [usize; 2],
    options: LoadOptions,
) -> Result<Projection> {
    Ok(Projection {
        weight: matrix(file, &format!("{name}.weight"), &[out, input], options)?,
        bias: optional_vector(file, &format!("{name}.bias"), out)?,
    })
}

fn vector(file: &mut GgufFile, name: &str, len: usize) -> Result<Vec<f32>> {
    let tensor = read(file, name, &[len])?;
    Ok(tensor.dequantize(&Device::Cpu)?.to_vec1::<f32>()?)
}

/// A vector the file may or may not have (biases, RoPE frequency factors).
fn optional_vector(file: &mut GgufFile, name: &str, len: usize) -> Result<Option<Vec<f32>>> {
    if file.content().tensor_infos.contains_key(name) {
        vector(file, name, len).map(Some)
    } else {
        Ok(None)
    }
}
