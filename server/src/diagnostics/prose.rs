//! Where a source file holds prose rather than code (comments, string literals, docstrings), found by a small lexer that knows the comment syntax of common languages.
//!
//! Diagnostics skip prose: the model's disagreement with how someone worded a comment is not a
//! mistake worth a squiggle, and skipping it saves the output head's cost on those tokens.

use std::ops::Range;

/// Comment syntax of a language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Syntax {
    hash_comments: bool,
    slash_comments: bool,
    dash_comments: bool,
    triple_quotes: bool,
    /// Rust's `'a` lifetimes and labels, which are not strings.
    lifetimes: bool,
}

impl Syntax {
    fn for_language(language_id: &str) -> Self {
        let hash = matches!(
            language_id,
            "python"
                | "shellscript"
                | "bash"
                | "sh"
                | "ruby"
                | "perl"
                | "r"
                | "yaml"
                | "toml"
                | "makefile"
                | "dockerfile"
                | "elixir"
                | "julia"
                | "nim"
                | "coffeescript"
        );
        let dash = matches!(language_id, "lua" | "sql" | "haskell" | "elm" | "ada");
        Self {
            hash_comments: hash,
            slash_comments: !hash && !dash || language_id.is_empty(),
            dash_comments: dash,
            triple_quotes: matches!(
                language_id,
                "python" | "julia" | "kotlin" | "swift" | "scala"
            ),
            lifetimes: language_id == "rust",
        }
    }
}

/// The byte ranges of comments and string literals in `text`, in order.
pub fn prose_ranges(text: &str, language_id: &str) -> Vec<Range<usize>> {
    let syntax = Syntax::for_language(language_id);
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let end = if (syntax.hash_comments && rest[0] == b'#')
            || (syntax.slash_comments && rest.starts_with(b"//"))
            || (syntax.dash_comments && rest.starts_with(b"--"))
        {
            line_end(bytes, at)
        } else if syntax.slash_comments && rest.starts_with(b"/*") {
            find(bytes, at + 2, b"*/").map_or(bytes.len(), |close| close + 2)
        } else if syntax.triple_quotes && (rest.starts_with(b"\"\"\"") || rest.starts_with(b"'''"))
        {
            find(bytes, at + 3, &rest[..3]).map_or(bytes.len(), |close| close + 3)
        } else if rest[0] == b'"'
            || (rest[0] == b'\'' && !(syntax.lifetimes && is_lifetime(bytes, at)))
        {
            string_end(bytes, at)
        } else {
            at += 1;
            continue;
        };
        ranges.push(at..end);
        at = end.max(at + 1);
    }
    ranges
}

/// Whether `offset` lies inside one of `ranges` (sorted, not overlapping).
pub fn inside(ranges: &[Range<usize>], offset: usize) -> bool {
    let index = ranges.partition_point(|range| range.end <= offset);
    ranges.get(index).is_some_and(|range| range.start <= offset)
}

fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&byte| byte == b'\n')
        .map_or(bytes.len(), |newline| from + newline)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|found| from + found)
}

/// The end of a one-line string literal starting at `start` (its quote included); an unclosed
/// one ends at the line's end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let quote = bytes[start];
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'\n' => return at,
            byte if byte == quote => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
}

/// Rust lifetimes and labels (`'a`, `'static`) are not strings: a quote followed by an identifier
/// and no closing quote right after one character.
fn is_lifetime(bytes: &[u8], at: usize) -> bool {
    let next = bytes.get(at + 1).copied().unwrap_or(b' ');
    let after = bytes.get(at + 2).copied().unwrap_or(b' ');
    (next.is_ascii_alphabetic() || next == b'_') && after != b'\''
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prose<'a>(text: &'a str, language: &str) -> Vec<&'a str> {
        prose_ranges(text, language)
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn python_comments_strings_and_docstrings() {
        let text =
            "def f(x):\n    \"\"\"Doc\n    string.\"\"\"\n    y = 'a#b'  # note\n    return x\n";
        assert_eq!(
            prose(text, "python"),
            ["\"\"\"Doc\n    string.\"\"\"", "'a#b'", "# note"]
        );
    }

    #[test]
    fn c_like_comments_and_rust_lifetimes() {
        let text = "fn f<'a>(s: &'a str) -> &'a str { /* c */ s } // end\nlet c = 'x';";
        assert_eq!(prose(text, "rust"), ["/* c */", "// end", "'x'"]);
    }

    #[test]
    fn inside_finds_offsets_in_ranges() {
        let ranges = [2..4, 6..9];
        assert!(!inside(&ranges, 1));
        assert!(inside(&ranges, 2));
        assert!(!inside(&ranges, 4));
        assert!(inside(&ranges, 8));
        assert!(!inside(&ranges, 9));
    }
}
