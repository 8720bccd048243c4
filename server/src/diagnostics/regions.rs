//! Which byte regions of a document are scored together: the edited lines, the lines after them, and a whole document cut into blocks.
//!
//! Shared by the server's scheduling and the benchmarks that replay it, so both score the same
//! regions.

use std::ops::Range;

/// Lines per region when a whole document is scored, so results appear block by block.
pub const BLOCK_LINES: usize = 40;

/// `range` widened to whole lines of `text`.
pub fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let start = range.start.min(text.len());
    let end = range.end.clamp(start, text.len());
    let start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[end..]
        .find('\n')
        .map_or(text.len(), |newline| end + newline + 1);
    start..end
}

/// The offset `lines` line starts after `from` (or the end of the text).
pub fn line_offset_after(text: &str, from: usize, lines: usize) -> usize {
    let mut offset = from.min(text.len());
    for _ in 0..lines {
        match text[offset..].find('\n') {
            Some(newline) => offset += newline + 1,
            None => return text.len(),
        }
    }
    offset
}

/// `range` (line-aligned) cut into regions of [`BLOCK_LINES`] lines.
pub fn blocks(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let mut regions = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let end = line_offset_after(text, start, BLOCK_LINES).min(range.end);
        regions.push(start..end.max(start + 1).min(range.end));
        start = end.max(start + 1);
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_lines_cover_the_edit() {
        let text = "ab\ncd\nef\n";
        assert_eq!(whole_lines(text, 4..4), 3..6);
        assert_eq!(whole_lines(text, 1..4), 0..6);
        assert_eq!(whole_lines(text, 9..9), 9..9);
    }

    #[test]
    fn blocks_cut_at_line_starts() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let regions = blocks(&text, 0..text.len());
        assert_eq!(regions.len(), 3);
        assert_eq!(regions[0].start, 0);
        assert_eq!(regions.last().map(|r| r.end), Some(text.len()));
        for pair in regions.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
            assert_eq!(&text[pair[1].start - 1..pair[1].start], "\n");
        }
    }
}
