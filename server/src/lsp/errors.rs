//! The JSON-RPC errors the LSP side answers with, each worded once.

use tower_lsp::jsonrpc::{Error, ErrorCode};
use tower_lsp::lsp_types::Url;

/// Bad parameters: the request cannot be served as asked (the message says why).
pub fn invalid_params(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into().into(),
        data: None,
    }
}

/// A request about a document the client never opened (or already closed).
pub fn not_open(uri: &Url) -> Error {
    invalid_params(format!("document {uri} is not open"))
}

/// The server could not do what was asked (the engine failed, is not there yet, ...).
pub fn internal(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InternalError,
        message: message.into().into(),
        data: None,
    }
}
