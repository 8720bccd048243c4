//! The remote engine: completions from an OpenAI-compatible server (vLLM, TGI, llama.cpp's server, Ollama) instead of the in-process model.
//!
//! With `engine.backend = "openai"` the [`crate::engine::EngineHandle`] hands completion jobs to a
//! [`RemoteBackend`] around a [`RemoteEngine`], which answers them with the same events as the local engine: the LSP side
//! streams, cancels and post-processes them unchanged. Each job is one `POST {baseUrl}/v1/completions`
//! with `stream: true`; its prompt is built here ([`prompt`], [`fim`]) so that its start stays
//! stable while the user types and the server's own prefix cache keeps working. Failures are
//! classified ([`error`]) and reported once per episode, with exponential [`backoff`].

pub mod backend;
pub mod backoff;
pub mod client;
pub mod engine;
pub mod error;
pub mod fim;
pub mod prompt;
pub mod settings;
pub mod sse;

pub use backend::RemoteBackend;
pub use engine::{RemoteEngine, RemoteNotice};
pub use settings::RemoteSettings;
