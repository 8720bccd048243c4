//! rill-model: in-process inference for rill — GGUF loading, the transformer forward pass (Gemma 3, Llama, Qwen2), caller-owned KV caches, tokenizer and sampling.
//!
//! Nothing in this crate knows about LSP, URIs or ropey: the server crate turns documents into text and
//! positions, this crate turns text into tokens and tokens into more tokens.

pub mod architecture;
mod attention;
pub mod config;
pub mod detokenizer;
pub mod error;
pub mod fim;
pub mod generate;
pub mod gguf;
pub mod healing;
pub mod kernel_report;
pub mod kernels;
pub mod kv_cache;
mod kv_kernels;
pub mod lines;
mod ops;
pub mod paths;
mod q8_matmul;
mod quant;
pub mod rope;
pub mod runtime;
pub mod sampling;
pub mod score;
pub mod sequence;
pub mod speculative;
pub mod stop;
pub mod tokenizer;
pub mod transformer;

pub use architecture::Architecture;
pub use config::ModelConfig;
pub use error::{ModelError, Result};
pub use generate::{generate, prepare_prompt, FinishReason, Generation, GenerationParams, Prompt};
pub use gguf::GgufFile;
pub use kv_cache::KvCache;
pub use sequence::Sequence;
pub use speculative::DraftParams;
pub use tokenizer::Tokenizer;
pub use transformer::{LoadOptions, Model, Which, Work};

/// A model and its tokenizer, loaded together from one GGUF file.
pub struct LoadedModel {
    pub model: Model,
    pub tokenizer: Tokenizer,
    /// The GGUF's `tokenizer.chat_template` (Jinja), which instruct models have and base models lack.
    pub chat_template: Option<String>,
}

impl LoadedModel {
    /// Loads the weights and builds the tokenizer from the same file.
    pub fn load(path: &std::path::Path, options: LoadOptions) -> Result<Self> {
        let mut file = GgufFile::open(path)?;
        let tokenizer = Tokenizer::from_gguf(file.content())?;
        let chat_template = file
            .has("tokenizer.chat_template")
            .then(|| file.string("tokenizer.chat_template").map(str::to_string))
            .transpose()?;
        let model = Model::from_gguf(&mut file, options)?;
        if tokenizer.vocab_size() != model.config().vocab_size {
            return Err(ModelError::BadMetadata {
                key: "tokenizer.ggml.tokens".to_string(),
                reason: format!(
                    "{} tokens, but the embedding table has {} rows",
                    tokenizer.vocab_size(),
                    model.config().vocab_size
                ),
            });
        }
        drop(file);
        // Building the tokenizer freed hundreds of thousands of small blocks; give their pages back.
        crate::runtime::trim();
        Ok(Self {
            model,
            tokenizer,
            chat_template,
        })
    }
}
