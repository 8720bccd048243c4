//! The remote engine (issue 7, in progress): talking to an OpenAI-compatible completions server (vLLM, TGI, llama.cpp's server, Ollama) instead of the in-process model.
//!
//! So far only the wire format is here: decoding the server-sent-event stream of
//! `POST /v1/completions` with `stream: true` into text pieces and a finish reason.

pub mod sse;
