//! Position encodings and every conversion between LSP positions and rope indices.
//!
//! LSP positions are a zero-based line plus a column counted in the negotiated code units (UTF-8 bytes or
//! UTF-16 code units). Ropey indexes by Unicode scalar value ("char"), so all translation between the two
//! worlds lives here, in one place, and works through ropey's O(log n) index conversions instead of
//! scanning the text.
//!
//! The rope is built with only the `cr_lines` line-break feature, so its lines end exactly where LSP's do:
//! at `\n`, `\r\n` or `\r`.

use ropey::Rope;
use tower_lsp::lsp_types::{Position, PositionEncodingKind};

/// The unit in which position columns are counted, as negotiated with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionEncoding {
    /// Columns count UTF-8 bytes.
    Utf8,
    /// Columns count UTF-16 code units (the LSP default).
    Utf16,
}

impl PositionEncoding {
    /// UTF-8 when the client offers it in `general.positionEncodings`, else UTF-16 (the LSP default).
    ///
    /// UTF-8 is preferred because the rope stores UTF-8, so its conversions are the cheapest and the
    /// columns match byte offsets that prompt building uses anyway.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        let offers_utf8 = offered.is_some_and(|kinds| kinds.contains(&PositionEncodingKind::UTF8));
        if offers_utf8 {
            Self::Utf8
        } else {
            Self::Utf16
        }
    }

    /// The kind to announce in the server capabilities' `positionEncoding`.
    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Self::Utf8 => PositionEncodingKind::UTF8,
            Self::Utf16 => PositionEncodingKind::UTF16,
        }
    }

    /// The index of `char_index` in this encoding's code units, counted from the start of the rope.
    fn units_before(self, rope: &Rope, char_index: usize) -> usize {
        match self {
            Self::Utf8 => rope.char_to_byte(char_index),
            Self::Utf16 => rope.char_to_utf16_cu(char_index),
        }
    }

    /// The char containing the code unit at `unit_index`; a unit inside a char maps to that char's start.
    fn char_at_unit(self, rope: &Rope, unit_index: usize) -> usize {
        match self {
            Self::Utf8 => rope.byte_to_char(unit_index),
            Self::Utf16 => rope.utf16_cu_to_char(unit_index),
        }
    }
}

/// The char range of a line's content, without its terminator.
///
/// Callers guarantee `line < rope.len_lines()`.
fn line_content(rope: &Rope, line: usize) -> (usize, usize) {
    let start = rope.line_to_char(line);
    let next = rope.line_to_char(line + 1);
    // Only a line that is followed by another one has a terminator; the last line never ends in a break,
    // because a trailing break starts a new, empty last line.
    let mut end = next;
    if end > start && matches!(rope.char(end - 1), '\n' | '\r') {
        end -= 1;
        if rope.char(end) == '\n' && end > start && rope.char(end - 1) == '\r' {
            end -= 1;
        }
    }
    (start, end)
}

/// The rope char index of an LSP position, clamped the way the LSP spec asks.
///
/// A line past the last one means the end of the document; a column past the line's content means the
/// end of that content (right before the terminator, so `\r\n` is never split); a column inside a
/// character snaps to that character's start.
pub fn char_index(rope: &Rope, position: Position, encoding: PositionEncoding) -> usize {
    let line = usize::try_from(position.line).unwrap_or(usize::MAX);
    if line >= rope.len_lines() {
        return rope.len_chars();
    }
    let (start, end) = line_content(rope, line);
    let column = usize::try_from(position.character).unwrap_or(usize::MAX);
    let line_units = encoding.units_before(rope, start);
    let content_units = encoding.units_before(rope, end) - line_units;
    if column >= content_units {
        end
    } else {
        encoding.char_at_unit(rope, line_units + column)
    }
}

/// The LSP position of a rope char index, clamped to the end of the document.
///
/// An index between a `\r` and its `\n` (which no position can name) maps to the end of the line's content.
pub fn position(rope: &Rope, char_index: usize, encoding: PositionEncoding) -> Position {
    let char_index = char_index.min(rope.len_chars());
    let line = rope.char_to_line(char_index);
    let (start, end) = line_content(rope, line);
    let char_index = char_index.min(end);
    let column = encoding.units_before(rope, char_index) - encoding.units_before(rope, start);
    Position::new(saturate(line), saturate(column))
}

/// The byte offset in the document's text of an LSP position, clamped like [`char_index`].
pub fn byte_offset(rope: &Rope, position: Position, encoding: PositionEncoding) -> usize {
    rope.char_to_byte(char_index(rope, position, encoding))
}

/// Converts an index to a protocol `u32`; documents over 4 GiB are out of scope, but must not wrap around.
fn saturate(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}
