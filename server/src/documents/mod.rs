//! The document mirror: one rope per open document, kept in sync with the client's edits.
//!
//! `encoding` owns every conversion between LSP positions and rope indices, `document` applies edits to a
//! single rope, and `store` keeps the open documents by URI.

mod document;
mod encoding;
mod store;

pub use document::{Document, DocumentSnapshot};
pub use encoding::PositionEncoding;
pub use store::{DocumentError, DocumentStore};
