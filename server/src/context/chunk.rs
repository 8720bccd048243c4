//! Chunks: a run of whole lines cut out of a document, with the set of its lines that similarity is measured on.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

/// A run of whole lines of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The document it was cut from (its URI).
    pub document: String,
    /// The first line's index in the document when it was cut.
    pub first_line: usize,
    /// The lines, each ending with a newline.
    pub text: Arc<str>,
    /// Hashes of its distinct non-blank lines (trimmed), see [`crate::context::similarity`].
    pub lines: HashSet<u64>,
}

impl Chunk {
    /// A chunk holding `text` (whole lines) cut from `document` at `first_line`.
    pub fn new(document: &str, first_line: usize, text: &str) -> Self {
        let mut text = text.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        Self {
            document: document.to_string(),
            first_line,
            lines: line_set(&text),
            text: text.into(),
        }
    }
}

/// Hashes of the distinct non-blank lines of `text`, trimmed: blank lines and indentation say
/// nothing about which code two pieces of text share.
pub fn line_set(text: &str) -> HashSet<u64> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut hasher = DefaultHasher::new();
            line.hash(&mut hasher);
            hasher.finish()
        })
        .collect()
}

/// The line range of at most `size` lines around `line` in a document of `line_count` lines:
/// centred on it, moved inward at the document's ends.
pub fn lines_around(line: usize, line_count: usize, size: usize) -> std::ops::Range<usize> {
    let size = size.min(line_count);
    let start = line.saturating_sub(size / 2).min(line_count - size);
    start..start + size
}

/// Cuts the chunk of `size` lines around `line` out of a document of `line_count` lines, whose
/// line `i` (without its newline) is `line_text(i)`. `None` when the chunk has fewer than three
/// non-blank lines: such a chunk tells the model nothing.
pub fn cut(
    document: &str,
    line_count: usize,
    line: usize,
    size: usize,
    line_text: impl Fn(usize) -> String,
) -> Option<Chunk> {
    if size == 0 || line_count == 0 {
        return None;
    }
    let range = lines_around(line.min(line_count - 1), line_count, size);
    let mut text = String::new();
    for index in range.clone() {
        text.push_str(&line_text(index));
        text.push('\n');
    }
    if text.lines().filter(|l| !l.trim().is_empty()).count() < 3 {
        return None;
    }
    Some(Chunk::new(document, range.start, &text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(count: usize) -> Vec<String> {
        (0..count).map(|i| format!("line {i}")).collect()
    }

    #[test]
    fn chunks_are_centred_and_kept_inside_the_document() {
        assert_eq!(lines_around(50, 100, 10), 45..55);
        assert_eq!(lines_around(2, 100, 10), 0..10);
        assert_eq!(lines_around(98, 100, 10), 90..100);
        assert_eq!(lines_around(3, 5, 10), 0..5);
    }

    fn cut_from(lines: &[&str], line: usize, size: usize) -> Option<Chunk> {
        cut("file:///a.py", lines.len(), line, size, |i| {
            lines[i].to_string()
        })
    }

    #[test]
    fn a_cut_chunk_holds_whole_lines() {
        let lines = numbered(20);
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let chunk = cut_from(&lines, 10, 4).unwrap();
        assert_eq!(chunk.first_line, 8);
        assert_eq!(&*chunk.text, "line 8\nline 9\nline 10\nline 11\n");
        assert_eq!(chunk.lines.len(), 4);
    }

    #[test]
    fn nearly_empty_documents_give_no_chunk() {
        assert_eq!(cut_from(&["x = 1", "", "  "], 0, 64), None);
        assert_eq!(cut_from(&["a", "b", "c"], 7, 0), None);
        assert!(cut_from(&["a", "b", "c"], 7, 64).is_some());
        assert_eq!(cut_from(&[], 0, 64), None);
    }

    #[test]
    fn blank_lines_and_indentation_do_not_count() {
        assert_eq!(line_set("  x\n\nx\n   \n"), line_set("x\n"));
    }
}
