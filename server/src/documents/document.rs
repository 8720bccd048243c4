//! One open document: its text as a rope, the client's version number and its language.

use ropey::Rope;
use tower_lsp::lsp_types::{Position, Range, TextDocumentContentChangeEvent};

use super::encoding::{self, PositionEncoding};
use crate::diagnostics::ByteEdit;

/// The server's mirror of a document the client has open.
#[derive(Debug, Clone)]
pub struct Document {
    rope: Rope,
    version: i32,
    language_id: String,
}

impl Document {
    pub fn new(text: &str, version: i32, language_id: String) -> Self {
        Self {
            rope: Rope::from_str(text),
            version,
            language_id,
        }
    }

    pub fn rope(&self) -> &Rope {
        &self.rope
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    pub fn language_id(&self) -> &str {
        &self.language_id
    }

    /// The document as it is now, to read outside the documents lock: cloning a rope shares its
    /// chunks, so this costs O(1) however long the text.
    pub fn snapshot(&self) -> DocumentSnapshot {
        DocumentSnapshot {
            rope: self.rope.clone(),
            version: self.version,
            language_id: self.language_id.clone(),
        }
    }

    /// The whole text; this copies the document, so hot paths should read the rope instead.
    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// Applies incremental or full changes in order and records `version`.
    ///
    /// Each change's range is interpreted against the text left by the changes before it, as the LSP spec
    /// says. Ranges are clamped (see [`encoding::char_index`]) and a range whose end precedes its start is
    /// swapped, so no input can panic. The deprecated `rangeLength` is ignored because the range alone is
    /// authoritative. Versions are recorded, not validated: rejecting an out-of-order version would leave
    /// the mirror out of sync for good, which is worse than trusting the client's order.
    ///
    /// Returns each change as a [`ByteEdit`] against the text it applied to, so that state keyed by
    /// byte offsets (published diagnostics) can follow the text.
    pub fn apply_changes(
        &mut self,
        changes: Vec<TextDocumentContentChangeEvent>,
        version: i32,
        encoding: PositionEncoding,
    ) -> Vec<ByteEdit> {
        let mut edits = Vec::with_capacity(changes.len());
        for change in changes {
            match change.range {
                None => {
                    edits.push(ByteEdit {
                        old: 0..self.rope.len_bytes(),
                        new_len: change.text.len(),
                    });
                    self.rope = Rope::from_str(&change.text);
                }
                Some(range) => {
                    let a = self.char_index(range.start, encoding);
                    let b = self.char_index(range.end, encoding);
                    let (start, end) = if a <= b { (a, b) } else { (b, a) };
                    edits.push(ByteEdit {
                        old: self.rope.char_to_byte(start)..self.rope.char_to_byte(end),
                        new_len: change.text.len(),
                    });
                    // Both indices are clamped to the rope, so these cost O(log n + edit size) and cannot fail.
                    self.rope.remove(start..end);
                    self.rope.insert(start, &change.text);
                }
            }
        }
        self.version = version;
        edits
    }

    /// LSP position of a byte offset of [`Document::text`], clamped (for diagnostics).
    pub fn position_of_byte(&self, byte: usize, encoding: PositionEncoding) -> Position {
        let byte = byte.min(self.rope.len_bytes());
        self.position(self.rope.byte_to_char(byte), encoding)
    }

    /// LSP range of a byte range of [`Document::text`], clamped.
    pub fn range_of_bytes(
        &self,
        bytes: &std::ops::Range<usize>,
        encoding: PositionEncoding,
    ) -> Range {
        Range::new(
            self.position_of_byte(bytes.start, encoding),
            self.position_of_byte(bytes.end, encoding),
        )
    }

    /// Char index (ropey char index) of an LSP position, clamped.
    pub fn char_index(&self, position: Position, encoding: PositionEncoding) -> usize {
        encoding::char_index(&self.rope, position, encoding)
    }

    /// LSP position of a char index, clamped to the document end.
    pub fn position(&self, char_index: usize, encoding: PositionEncoding) -> Position {
        encoding::position(&self.rope, char_index, encoding)
    }

    /// Byte offset in [`Document::text`] of an LSP position, clamped (for prompt building).
    pub fn byte_offset(&self, position: Position, encoding: PositionEncoding) -> usize {
        encoding::byte_offset(&self.rope, position, encoding)
    }
}

/// An open document at one version, read without holding the documents lock (see
/// [`Document::snapshot`]).
#[derive(Debug, Clone)]
pub struct DocumentSnapshot {
    pub rope: Rope,
    pub version: i32,
    pub language_id: String,
}

impl DocumentSnapshot {
    /// LSP position of a char index, clamped to the document end.
    pub fn position(&self, char_index: usize, encoding: PositionEncoding) -> Position {
        encoding::position(&self.rope, char_index, encoding)
    }
}
