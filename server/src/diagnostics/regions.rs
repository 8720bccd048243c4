//! Which byte regions of a document are scored together: the edited lines, the lines after them, and a whole document cut into blocks.
//!
//! Shared by the server's scheduling and the benchmarks that replay it, so both score the same
//! regions.

use std::ops::Range;

/// Lines per region when a whole document is scored, so results appear block by block.
pub const BLOCK_LINES: usize = 40;

/// The character boundary at or before `offset` (offsets that follow edits may fall inside a
/// character).
fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The character boundary at or after `offset`.
fn ceil_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset += 1;
    }
    offset
}

/// `range` widened to whole lines of `text`.
pub fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let start = floor_boundary(text, range.start);
    let end = ceil_boundary(text, range.end.max(start));
    let start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[end..]
        .find('\n')
        .map_or(text.len(), |newline| end + newline + 1);
    start..end
}

/// The offset `lines` line starts after `from` (or the end of the text).
pub fn line_offset_after(text: &str, from: usize, lines: usize) -> usize {
    let mut offset = floor_boundary(text, from);
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
        // At least one whole character, so that a region never ends inside one.
        let end = end.max(ceil_boundary(text, start + 1));
        regions.push(start..end.min(range.end));
        start = end;
    }
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_inside_a_character_are_widened_to_its_boundaries() {
        // Bytes 2..6 are the crab: offsets that followed edits may land inside it.
        let text = "a\n🦀b\nc\n";
        assert_eq!(whole_lines(text, 3..3), 2..8);
        assert_eq!(whole_lines(text, 4..5), 2..8);
        assert_eq!(line_offset_after(text, 3, 1), 8);
        for region in blocks(text, 0..text.len()) {
            assert!(text.is_char_boundary(region.start) && text.is_char_boundary(region.end));
        }
    }

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
