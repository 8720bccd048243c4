//! The one error type of the model crate: every failure a user can meet, with a message they can act on.

use std::path::PathBuf;

/// Everything that can go wrong while locating, loading or running a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// No model file was found at any of the places rill looks.
    #[error(
        "no model found at {path}; fetch the default model with `python3 scripts/fetch-model.py` \
         (or `rill model fetch`), or point `--model`/`RILL_MODEL` at a GGUF file"
    )]
    ModelMissing { path: PathBuf },

    /// The file exists but could not be read.
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file is not a valid GGUF file, or is truncated.
    #[error("model file {path} is not a valid GGUF file: {reason}")]
    CorruptFile { path: PathBuf, reason: String },

    /// The GGUF file describes an architecture rill cannot run.
    #[error("model architecture `{found}` is not supported; supported architectures: {supported}")]
    UnsupportedArchitecture { found: String, supported: String },

    /// The metadata asks for a feature of a supported architecture that rill does not implement
    /// (e.g. an unknown RoPE scaling type).
    #[error("model metadata `{key}` asks for something rill does not support: {reason}")]
    Unsupported { key: String, reason: String },

    /// A metadata key the architecture needs is missing or has the wrong type.
    #[error("model metadata key `{key}` is missing or invalid: {reason}")]
    BadMetadata { key: String, reason: String },

    /// A weight tensor is missing or has an unexpected shape.
    #[error("model tensor `{name}` is missing or malformed: {reason}")]
    BadTensor { name: String, reason: String },

    /// The tokenizer could not be built from the file's vocabulary, or failed on some text.
    #[error("tokenizer error: {0}")]
    Tokenizer(String),

    /// A token id outside the vocabulary was given to the model or the detokenizer.
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    UnknownToken { id: u32, vocab_size: usize },

    /// A forward pass was asked to process no tokens at all.
    #[error("empty input: at least one token is needed")]
    EmptyInput,

    /// A sequence would exceed the model's context length.
    #[error("sequence of {requested} tokens exceeds the context length of {context_length}")]
    ContextOverflow {
        requested: usize,
        context_length: usize,
    },

    /// A caller asked for logits at a position that was not part of the forward pass.
    #[error("logits requested at position {position}, but the pass covered only {len} tokens")]
    BadLogitPosition { position: usize, len: usize },

    /// The model produced NaN or infinite logits, which usually means corrupt weights.
    #[error("the model produced non-finite logits (NaN or infinity); the weights may be corrupt")]
    NonFiniteLogits,

    /// Sampling or generation parameters out of their valid range.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        parameter: &'static str,
        reason: String,
    },

    /// An error from the tensor library that none of the cases above explains.
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Result type of the model crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
