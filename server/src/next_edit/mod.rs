//! Next edit suggestions, the text side: what the user's last edit changed (a hunk), where the same change is probably due next (targets), and which proposals must never be offered (no-ops, undos, rejected ones).
//!
//! Nothing here knows LSP or the model. The LSP side records a document's text when a typing
//! burst starts and hands the text before and after it to [`Hunk::between`]; the engine decodes
//! and checks the proposals for the [`targets`] this module finds.

pub mod targets;

use std::ops::Range;

/// Nats a rewrite must add to the document's log likelihood (see `benches/README.md`, next edits).
pub const MARGIN: f32 = 1.0;

pub use targets::{targets, Target, TargetKind};

/// One edit of a typing burst: the document's text before and after it differ exactly inside
/// `before_range` (in the old text) and `after_range` (in the new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Byte range of the replaced text in the text before the burst.
    pub before_range: Range<usize>,
    /// Byte range of the new text in the text after it.
    pub after_range: Range<usize>,
    /// The replaced text.
    pub before: String,
    /// The text that replaced it.
    pub after: String,
}

impl Hunk {
    /// The one hunk that turns `old` into `new`: their common prefix and suffix removed, widened to
    /// whole words on both sides so that renaming `count` to `counter` reads as exactly that
    /// rather than as inserting `er`. `None` when the texts are equal.
    pub fn between(old: &str, new: &str) -> Option<Hunk> {
        if old == new {
            return None;
        }
        let prefix = common_prefix(old, new);
        let suffix = common_suffix(&old[prefix..], &new[prefix..]);
        let mut start = prefix;
        let (mut old_end, mut new_end) = (old.len() - suffix, new.len() - suffix);
        // Widen to word boundaries: the shared characters around the change belong to it when
        // they continue a word that the change touches (its first or last changed character is
        // part of a word), so `count` → `counter` is a rename, while `f(a, b)` → `f(a)` stays
        // the removal of `, b`.
        let changed = |range: std::ops::Range<usize>, text: &str| text[range].to_string();
        let (old_mid, new_mid) = (changed(start..old_end, old), changed(start..new_end, new));
        let touches = |pick: fn(&str) -> Option<char>| {
            pick(&old_mid).is_some_and(is_word_char) || pick(&new_mid).is_some_and(is_word_char)
        };
        if touches(|s| s.chars().next()) {
            while start > 0 {
                let previous = old[..start].chars().next_back().unwrap_or(' ');
                if !is_word_char(previous) {
                    break;
                }
                start -= previous.len_utf8();
            }
        }
        if touches(|s| s.chars().next_back()) {
            while old_end < old.len() && new_end < new.len() {
                let next = old[old_end..].chars().next().unwrap_or(' ');
                if !is_word_char(next) {
                    break;
                }
                old_end += next.len_utf8();
                new_end += next.len_utf8();
            }
        }
        Some(Hunk {
            before_range: start..old_end,
            after_range: start..new_end,
            before: old[start..old_end].to_string(),
            after: new[start..new_end].to_string(),
        })
    }

    /// Whether the edit only added or removed whitespace, a comment or a blank line: such edits
    /// call for no follow-up.
    pub fn is_noise(&self, comment_markers: &[&str]) -> bool {
        let meaningful = |text: &str| {
            text.lines().any(|line| {
                let line = line.trim();
                !line.is_empty()
                    && !comment_markers
                        .iter()
                        .any(|marker| line.starts_with(marker))
            })
        };
        !(meaningful(&self.before) || meaningful(&self.after))
    }
}

/// An edit the engine proposes: replace `range` of the document (bytes) with `new_text`.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub range: Range<usize>,
    pub new_text: String,
    /// Why, in words, for the editor's marker and the Helix code action.
    pub reason: String,
    /// How much likelier (natural log, summed over the rewritten line and the text after it) the
    /// document became with the proposal; `None` where nothing scored it (the remote engine).
    pub gain: Option<f32>,
}

impl Proposal {
    /// Whether applying the proposal to `text` changes nothing.
    pub fn is_noop(&self, text: &str) -> bool {
        text.get(self.range.clone()) == Some(self.new_text.as_str())
    }

    /// Whether the proposal writes back, at its target, the text the user's edit removed while
    /// the target holds what the user wrote instead: undoing the edit somewhere else.
    pub fn is_undo(&self, text: &str, hunk: &Hunk) -> bool {
        let Some(current) = text.get(self.range.clone()) else {
            return false;
        };
        !hunk.after.trim().is_empty()
            && current.contains(hunk.after.trim())
            && self.new_text == current.replacen(hunk.after.trim(), hunk.before.trim(), 1)
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn common_prefix(a: &str, b: &str) -> usize {
    a.char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((index, _), _)| index)
}

/// Bytes at the end of both, ending on a character boundary of both.
fn common_suffix(a: &str, b: &str) -> usize {
    a.chars()
        .rev()
        .zip(b.chars().rev())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x.len_utf8())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rename_reads_as_whole_words_whichever_part_was_typed() {
        let hunk = Hunk::between("x = count + 1\n", "x = counter + 1\n").unwrap();
        assert_eq!(
            (hunk.before.as_str(), hunk.after.as_str()),
            ("count", "counter")
        );
        assert_eq!(hunk.before_range, 4..9);
        assert_eq!(hunk.after_range, 4..11);
        let hunk = Hunk::between("x = count + 1\n", "x = total + 1\n").unwrap();
        assert_eq!(
            (hunk.before.as_str(), hunk.after.as_str()),
            ("count", "total")
        );
        let hunk = Hunk::between("f(a, b)\n", "f(a)\n").unwrap();
        assert_eq!((hunk.before.as_str(), hunk.after.as_str()), (", b", ""));
        assert_eq!(Hunk::between("same", "same"), None);
    }

    #[test]
    fn multibyte_text_keeps_character_boundaries() {
        let hunk = Hunk::between("naïve = 1\nnaïve\n", "naïf = 1\nnaïve\n").unwrap();
        assert_eq!(
            (hunk.before.as_str(), hunk.after.as_str()),
            ("naïve", "naïf")
        );
        let hunk = Hunk::between("a 😀 b", "a 😃 b").unwrap();
        assert_eq!((hunk.before.as_str(), hunk.after.as_str()), ("😀", "😃"));
    }

    #[test]
    fn comments_blank_lines_and_whitespace_are_noise() {
        let noise = |old: &str, new: &str| Hunk::between(old, new).unwrap().is_noise(&["#"]);
        assert!(noise("a = 1\n", "a = 1\n\n"));
        assert!(noise("a = 1\n", "# note\na = 1\n"));
        assert!(noise("a = 1\n", "a  = 1\n"));
        assert!(!noise("a = 1\n", "a = 2\n"));
    }

    #[test]
    fn undos_and_noops_are_recognised() {
        let text = "total = 1\nprint(total)\n";
        let hunk = Hunk::between("count = 1\nprint(total)\n", text).unwrap();
        let undo = Proposal {
            range: 10..22,
            new_text: "print(count)".to_string(),
            reason: String::new(),
            gain: None,
        };
        assert!(undo.is_undo(text, &hunk));
        let noop = Proposal {
            new_text: "print(total)".to_string(),
            ..undo.clone()
        };
        assert!(noop.is_noop(text));
        assert!(!noop.is_undo(text, &hunk));
    }
}
