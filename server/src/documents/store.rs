//! The set of open documents, keyed by URI.

use std::collections::HashMap;

use tower_lsp::lsp_types::{TextDocumentContentChangeEvent, Url};

use super::document::Document;
use super::encoding::PositionEncoding;
use crate::diagnostics::ByteEdit;

/// Why a document operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("document {0} is not open")]
    NotOpen(String),
}

/// All open documents keyed by URI.
///
/// This is a plain synchronous struct: the server wraps it in a `std::sync::Mutex` and applies `didChange`
/// under that lock before any `.await`, which keeps edits in the order the client sent them.
#[derive(Debug, Default)]
pub struct DocumentStore {
    documents: HashMap<Url, Document>,
    /// When each document was last opened, edited or asked for a completion, on [`Self::clock`].
    used: HashMap<Url, u64>,
    clock: u64,
}

impl DocumentStore {
    /// Starts mirroring a document; reopening a URI replaces the old mirror, since the client's text wins.
    pub fn open(&mut self, uri: Url, text: &str, version: i32, language_id: String) {
        self.touch(&uri);
        self.documents
            .insert(uri, Document::new(text, version, language_id));
    }

    /// Marks an open document as the most recently used one (a completion was asked in it).
    pub fn touch(&mut self, uri: &Url) {
        self.clock += 1;
        self.used.insert(uri.clone(), self.clock);
    }

    /// The URIs of every open document, the most recently used first.
    pub fn uris_by_recency(&self) -> Vec<Url> {
        let mut uris = self.uris();
        uris.sort_by_key(|uri| std::cmp::Reverse(self.used.get(uri).copied().unwrap_or(0)));
        uris
    }

    /// Applies a `didChange` notification's changes in order and returns them in byte offsets.
    pub fn change(
        &mut self,
        uri: &Url,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        encoding: PositionEncoding,
    ) -> Result<Vec<ByteEdit>, DocumentError> {
        let document = self
            .documents
            .get_mut(uri)
            .ok_or_else(|| DocumentError::NotOpen(uri.to_string()))?;
        let edits = document.apply_changes(changes, version, encoding);
        self.touch(uri);
        Ok(edits)
    }

    /// Stops mirroring a document and frees its rope.
    pub fn close(&mut self, uri: &Url) -> Result<(), DocumentError> {
        self.used.remove(uri);
        self.documents
            .remove(uri)
            .map(drop)
            .ok_or_else(|| DocumentError::NotOpen(uri.to_string()))
    }

    pub fn get(&self, uri: &Url) -> Option<&Document> {
        self.documents.get(uri)
    }

    /// The URIs of every open document.
    pub fn uris(&self) -> Vec<Url> {
        self.documents.keys().cloned().collect()
    }

    /// The number of open documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }
}
