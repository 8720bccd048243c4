//! rill-model: in-process inference for rill — GGUF loading, the Gemma 3 forward pass, caller-owned KV caches, tokenizer and sampling.
//!
//! Nothing in this crate knows about LSP, URIs or ropey: the server crate turns documents into text and
//! positions, this crate turns text into tokens and tokens into more tokens.

pub mod error;
pub mod sampling;
pub mod stop;
pub mod detokenizer;
pub mod tokenizer;

pub use error::{ModelError, Result};
