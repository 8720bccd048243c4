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

/// The identifier-like word `text` ends with (letters, digits, `_`; empty when none): the word
/// before a cursor, or the name before a call's parenthesis.
pub fn trailing_word(text: &str) -> &str {
    let start = text
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .last()
        .map_or(text.len(), |(index, _)| index);
    &text[start..]
}
