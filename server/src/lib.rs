//! rill's language server as a library: the `rill` binary is a thin `main` over [`cli::run`].
//!
//! The only crate that knows LSP. Documents are mirrored in `documents`, inference runs on the
//! `engine` thread, and `lsp` wires tower-lsp to both, one module per method.

pub mod backends;
pub mod cli;
pub mod comments;
pub mod config;
pub mod context;
pub mod diagnostics;
pub mod documents;
pub mod engine;
pub mod logging;
pub mod lsp;
pub mod next_edit;
pub mod postprocess;
pub mod protocol;
pub mod reasoning;
pub mod remote;
pub mod rill_protocol;
