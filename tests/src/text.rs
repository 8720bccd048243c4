//! The client's copy of a document: LSP positions in a chosen encoding, edits, and a random edit generator.
//!
//! LSP lines end at `\n`, `\r\n` or a lone `\r`; the line terminator is not part of the line, so a
//! position's `character` never points inside it. Characters count UTF-8 bytes, UTF-16 code units or
//! code points depending on the negotiated encoding.

use serde_json::{json, Value};

/// A negotiated position encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Utf8,
    Utf16,
    Utf32,
}

impl Encoding {
    /// The encoding named by `positionEncoding` in an initialize result (absent means UTF-16).
    pub fn from_lsp(name: Option<&str>) -> Self {
        match name {
            None | Some("utf-16") => Self::Utf16,
            Some("utf-8") => Self::Utf8,
            Some("utf-32") => Self::Utf32,
            Some(other) => panic!("unknown position encoding {other:?}"),
        }
    }

    /// How many units `c` counts for in a position's `character`.
    pub fn units(self, c: char) -> u32 {
        match self {
            Self::Utf8 => c.len_utf8() as u32,
            Self::Utf16 => c.len_utf16() as u32,
            Self::Utf32 => 1,
        }
    }
}

/// A document as the client sees it.
#[derive(Debug, Clone)]
pub struct TextModel {
    text: String,
    encoding: Encoding,
}

impl TextModel {
    pub fn new(text: &str, encoding: Encoding) -> Self {
        Self {
            text: text.to_string(),
            encoding,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte offsets where lines start: 0, then after every line terminator.
    fn line_starts(&self) -> Vec<usize> {
        let bytes = self.text.as_bytes();
        let mut starts = vec![0];
        let mut index = 0;
        while index < bytes.len() {
            match bytes[index] {
                b'\r' if bytes.get(index + 1) == Some(&b'\n') => {
                    index += 2;
                    starts.push(index);
                }
                b'\r' | b'\n' => {
                    index += 1;
                    starts.push(index);
                }
                _ => index += 1,
            }
        }
        starts
    }

    /// The byte range of line `line`'s content, without its terminator.
    fn line_content(&self, starts: &[usize], line: usize) -> (usize, usize) {
        let start = starts[line];
        let mut end = starts.get(line + 1).copied().unwrap_or(self.text.len());
        let bytes = self.text.as_bytes();
        if end > start && line + 1 < starts.len() {
            end -= 1;
            if bytes[end] == b'\n' && end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
        }
        (start, end)
    }

    /// The byte offset of an LSP position. Panics on positions that do not name a character boundary
    /// or lie outside the document: the generator must not produce them.
    pub fn offset(&self, line: u32, character: u32) -> usize {
        let starts = self.line_starts();
        let line = line as usize;
        assert!(
            line < starts.len(),
            "line {line} is past the document's {} lines",
            starts.len()
        );
        let (start, end) = self.line_content(&starts, line);
        let mut units = 0;
        for (offset, c) in self.text[start..end].char_indices() {
            if units == character {
                return start + offset;
            }
            units += self.encoding.units(c);
            if units > character {
                panic!("position {line}:{character} falls inside the character {c:?}");
            }
        }
        assert_eq!(
            units, character,
            "position {line}:{character} is past the end of the line ({units} units)"
        );
        end
    }

    /// The LSP position of a byte offset, which must be a character boundary outside any line terminator.
    pub fn position(&self, offset: usize) -> (u32, u32) {
        let starts = self.line_starts();
        let line = starts.partition_point(|&start| start <= offset) - 1;
        let (start, end) = self.line_content(&starts, line);
        assert!(
            offset <= end,
            "offset {offset} lies inside the terminator of line {line}"
        );
        let character = self.text[start..offset]
            .chars()
            .map(|c| self.encoding.units(c))
            .sum();
        (line as u32, character)
    }

    /// The position just past the last character.
    pub fn end_position(&self) -> (u32, u32) {
        self.position(self.text.len())
    }

    /// The byte offset an LSP position names once clamped the way the specification asks: a line
    /// past the last one means the end of the document, a character past a line's content means
    /// the end of that content (before its terminator), and a character inside a multi-unit
    /// character (half a surrogate pair, a byte inside UTF-8) means that character's start.
    pub fn clamped_offset(&self, line: u32, character: u32) -> usize {
        let starts = self.line_starts();
        let line = line as usize;
        if line >= starts.len() {
            return self.text.len();
        }
        let (start, end) = self.line_content(&starts, line);
        let mut units = 0u64;
        for (offset, c) in self.text[start..end].char_indices() {
            let width = u64::from(self.encoding.units(c));
            if u64::from(character) < units + width {
                return start + offset;
            }
            units += width;
        }
        end
    }

    /// Replaces a byte range, as a change the server is known to apply this way.
    pub fn replace_bytes(&mut self, from: usize, to: usize, new_text: &str) {
        self.text.replace_range(from..to, new_text);
    }

    /// Replaces the whole text.
    pub fn set_text(&mut self, text: &str) {
        self.text = text.to_string();
    }

    /// Whether an edit may start or end at `offset`: a character boundary not between `\r` and `\n`.
    pub fn is_edit_point(&self, offset: usize) -> bool {
        let bytes = self.text.as_bytes();
        offset <= self.text.len()
            && self.text.is_char_boundary(offset)
            && !(offset > 0 && bytes[offset - 1] == b'\r' && bytes.get(offset) == Some(&b'\n'))
    }

    /// The encoding positions are counted in.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Replaces the text between two positions, as an incremental `didChange` does.
    pub fn apply(&mut self, start: (u32, u32), end: (u32, u32), new_text: &str) {
        let from = self.offset(start.0, start.1);
        let to = self.offset(end.0, end.1);
        assert!(from <= to, "range end before its start");
        self.text.replace_range(from..to, new_text);
    }

    /// Byte offsets an edit may start or end at: character boundaries not between `\r` and `\n`.
    fn edit_points(&self) -> Vec<usize> {
        let bytes = self.text.as_bytes();
        (0..=self.text.len())
            .filter(|&offset| self.text.is_char_boundary(offset))
            .filter(|&offset| {
                !(offset > 0 && bytes[offset - 1] == b'\r' && bytes.get(offset) == Some(&b'\n'))
            })
            .collect()
    }

    /// Applies a random edit and returns its `TextDocumentContentChangeEvent`.
    ///
    /// The mix covers what editors send: typing (single characters, 🦀, accents), deleting, pasting
    /// multi-line text, and line breaks of both kinds. Inserted text never contains a lone `\r`, so
    /// no edit can split or join a CRLF pair, whose meaning the spec leaves open.
    pub fn random_edit(&mut self, rng: &mut Rng) -> Value {
        const SNIPPETS: &[&str] = &[
            "x",
            "a",
            " ",
            "🦀",
            "é",
            "日本",
            "\n",
            "\r\n",
            "fn ",
            "    let crab = \"🦀\";\n",
            "🦀🦀\r\nz",
            "a\r\nb\nc",
            "line one\nline two 🦀\r\nline three\n",
            "\t}\n",
        ];
        let points = self.edit_points();
        let pick = |rng: &mut Rng| points[rng.below(points.len())];
        let (from, to, new_text) = match rng.below(10) {
            // Deletions, longer ones when the document has grown large.
            0..=1 => {
                let from = pick(rng);
                // Short deletions let the document grow to a few kilobytes; long ones keep it there.
                let limit = if self.text.len() > 3000 { 400 } else { 12 };
                let index = points.partition_point(|&p| p < from);
                let to = points[(index + 1 + rng.below(limit)).min(points.len() - 1)];
                (from, to, String::new())
            }
            // Multi-line replacements.
            2..=3 => {
                let from = pick(rng);
                let index = points.partition_point(|&p| p < from);
                let to = points[(index + rng.below(20)).min(points.len() - 1)];
                let text = format!(
                    "{}{}",
                    SNIPPETS[rng.below(SNIPPETS.len())],
                    SNIPPETS[rng.below(SNIPPETS.len())]
                );
                (from, to, text)
            }
            // Insertions (typing and small pastes).
            _ => (
                pick(rng),
                0,
                SNIPPETS[rng.below(SNIPPETS.len())].to_string(),
            ),
        };
        let to = to.max(from);
        let start = self.position(from);
        let end = self.position(to);
        // Check the position conversion both ways, so that a harness bug is not blamed on the server.
        assert_eq!(self.offset(start.0, start.1), from);
        assert_eq!(self.offset(end.0, end.1), to);
        self.text.replace_range(from..to, &new_text);
        json!({
            "range": {
                "start": { "line": start.0, "character": start.1 },
                "end": { "line": end.0, "character": end.1 }
            },
            "text": new_text
        })
    }
}

/// A small deterministic random number generator (xorshift64*), so failures reproduce exactly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0);
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_units_of_the_encoding() {
        let text = "a🦀b\r\nxé\ry\n";
        let utf16 = TextModel::new(text, Encoding::Utf16);
        assert_eq!(utf16.position(text.find('b').unwrap()), (0, 3));
        assert_eq!(utf16.offset(1, 2), text.find("\ry").unwrap());
        assert_eq!(utf16.position(text.find('y').unwrap()), (2, 0));
        assert_eq!(utf16.end_position(), (3, 0));
        let utf8 = TextModel::new(text, Encoding::Utf8);
        assert_eq!(utf8.position(text.find('b').unwrap()), (0, 5));
        assert_eq!(utf8.offset(0, 5), text.find('b').unwrap());
    }

    #[test]
    fn random_edits_keep_positions_consistent() {
        let mut rng = Rng::new(7);
        for encoding in [Encoding::Utf8, Encoding::Utf16, Encoding::Utf32] {
            let mut model = TextModel::new("fn main() {\r\n    🦀\n}\n", encoding);
            for _ in 0..500 {
                let before = model.clone();
                let change = model.random_edit(&mut rng);
                let mut replay = before;
                let position = |key: &str| {
                    (
                        change["range"][key]["line"].as_u64().unwrap() as u32,
                        change["range"][key]["character"].as_u64().unwrap() as u32,
                    )
                };
                replay.apply(
                    position("start"),
                    position("end"),
                    change["text"].as_str().unwrap(),
                );
                assert_eq!(replay.text(), model.text());
            }
        }
    }
}
