//! A lexical index of the names a document uses, so that a flag on a name the file (or another open document) already uses is not taken for a typo.
//!
//! A small model is often sure of another name where the code uses one of its own: a helper
//! defined further down, a parameter with an unusual name, a module-level constant. Such a name
//! occurs more than once in the file, while a misspelling almost never does. Words are counted in
//! code only (comments and strings are prose: a word mentioned there is not defined by it).

use std::collections::HashMap;
use std::ops::Range;

use super::prose::inside;
use super::spans::{Fix, Flag};

/// Most fixes [`lexical_fixes`] proposes for one word: each costs the check two forward passes.
const MOST_NEIGHBOURS: usize = 2;

/// How often each name occurs in the code of a text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameIndex {
    counts: HashMap<String, u32>,
}

impl NameIndex {
    /// The names of `text` outside `prose` (comments and string literals, sorted).
    pub fn new(text: &str, prose: &[Range<usize>]) -> Self {
        let mut counts: HashMap<String, u32> = HashMap::new();
        for range in words(text) {
            if !inside(prose, range.start) {
                *counts.entry(text[range].to_string()).or_insert(0) += 1;
            }
        }
        Self { counts }
    }

    /// Adds the names of another index (other open documents).
    pub fn extend(&mut self, other: &NameIndex) {
        for (name, count) in &other.counts {
            *self.counts.entry(name.clone()).or_insert(0) += count;
        }
    }

    /// How often `name` occurs.
    pub fn count(&self, name: &str) -> u32 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Every name with how often it occurs.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u32)> {
        self.counts
            .iter()
            .map(|(name, count)| (name.as_str(), *count))
    }
}

/// Fixes the file's names suggest for `flag`, for the counterfactual check to try next to the
/// model's own rewrite (which a small model sometimes gets wrong: `tiem` rewritten as `None`
/// where the file uses `time`): for a flagged name used nowhere else, the names one edit away from
/// it; and for the name used nowhere else right before the flag on its line, the names one edit
/// away from that one (a fix there moves the flag, see [`super::confirm::settle`]). The most
/// frequent names first, at most two per word. Keywords count as names: they occur in the code.
pub fn lexical_fixes(flag: &Flag, text: &str, document: &NameIndex, open: &NameIndex) -> Vec<Fix> {
    let unknown = |word: &str| is_name(word) && document.count(word) <= 1 && open.count(word) == 0;
    let neighbours = |word: &str| -> Vec<String> {
        let mut found: Vec<(u32, &str)> = document
            .iter()
            .chain(open.iter())
            .filter(|(name, _)| one_edit_apart(word, name))
            .map(|(name, count)| (count, name))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        found.dedup_by(|a, b| a.1 == b.1);
        found
            .into_iter()
            .take(MOST_NEIGHBOURS)
            .map(|(_, name)| name.to_string())
            .collect()
    };
    let mut fixes = Vec::new();
    if unknown(&flag.text) {
        for name in neighbours(&flag.text) {
            fixes.push(Fix {
                replace: flag.range.clone(),
                text: name,
            });
        }
    }
    if let Some(before) = word_range_before(text, flag.range.start) {
        let word = &text[before.clone()];
        if unknown(word) {
            for name in neighbours(word) {
                fixes.push(Fix {
                    replace: before.clone(),
                    text: name,
                });
            }
        }
    }
    fixes
}

/// Whether `text` is one name: a letter or `_` (or any non-ASCII character) followed by letters,
/// digits and `_`.
pub fn is_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|first| first.is_alphabetic() || first == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

/// Whether the document's names explain `flag`: its text is one name that occurs elsewhere in the
/// document's code (so at least twice, counting the flagged one) or in another open document's.
/// Such a flag does not point at a misspelling, only at a name the model did not expect here.
///
/// Except when the model expected a word one edit away from the flagged one (`retrun` where it
/// expected `return`): that is what a misspelling looks like, even one made twice. And except
/// right after a name used nowhere else on the same line: a misspelled keyword often shows only
/// at the known word after it (in `fi not done:` the model reads `fi` as a name and balks at
/// `not`), and that flag is the only pointer to the mistake.
pub fn known_name(flag: &Flag, text: &str, document: &NameIndex, open: &NameIndex) -> bool {
    let known = |name: &str| document.count(name) >= 2 || open.count(name) >= 1;
    is_name(&flag.text)
        && known(&flag.text)
        && !one_edit_apart(&flag.text, flag.expected.trim())
        && !word_before(text, flag.range.start).is_some_and(|word| is_name(word) && !known(word))
}

/// The last word before `offset` on its line, past any spaces and punctuation.
fn word_before(text: &str, offset: usize) -> Option<&str> {
    word_range_before(text, offset).map(|range| &text[range])
}

/// The byte range of [`word_before`].
fn word_range_before(text: &str, offset: usize) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80;
    let mut end = offset.min(bytes.len());
    while end > 0 && !is_word(bytes[end - 1]) {
        if bytes[end - 1] == b'\n' {
            return None;
        }
        end -= 1;
    }
    let mut start = end;
    while start > 0 && is_word(bytes[start - 1]) {
        start -= 1;
    }
    // Word bytes never split a UTF-8 character: non-ASCII bytes are all word bytes.
    (start < end).then_some(start..end)
}

/// Whether `a` and `b` differ by one edit: a letter inserted, dropped, replaced, or two adjacent
/// letters swapped. Equal words are not.
pub fn one_edit_apart(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b || a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Less => a == &b[1..],
        std::cmp::Ordering::Greater => &a[1..] == b,
        std::cmp::Ordering::Equal => {
            a[1..] == b[1..] || (a.len() >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
    }
}

/// The byte ranges of the words of `text` (runs of letters, digits, `_` and non-ASCII bytes that
/// do not start with a digit).
fn words(text: &str) -> impl Iterator<Item = Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let is_word = |byte: u8| byte.is_ascii_alphanumeric() || byte == b'_' || byte >= 0x80;
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            if !is_word(bytes[at]) {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && is_word(bytes[at]) {
                at += 1;
            }
            if !bytes[start].is_ascii_digit() {
                return Some(start..at);
            }
        }
        None
    })
}

#[cfg(test)]
mod tests {
    use super::super::prose::prose_ranges;
    use super::*;

    #[test]
    fn one_edit_covers_swaps_drops_inserts_and_replacements() {
        assert!(one_edit_apart("retrun", "return"));
        assert!(one_edit_apart("retun", "return"));
        assert!(one_edit_apart("returnn", "return"));
        assert!(one_edit_apart("retorn", "return"));
        assert!(!one_edit_apart("return", "return"));
        assert!(one_edit_apart("rteurn", "return"));
        assert!(!one_edit_apart("ertrun", "return"));
        assert!(!one_edit_apart("width", "self"));
        assert!(!one_edit_apart("a", "abc"));
    }

    fn flag(text: &str, word: &str) -> Flag {
        let start = text.rfind(word).unwrap();
        Flag {
            range: start..start + word.len(),
            text: word.to_string(),
            surprise: 14.0,
            expected: "x".into(),
            expected_prob: 0.9,
            fix: None,
        }
    }

    const CODE: &str = "def scale(vector, factor):\n    # factor_x in a comment\n    label = \"vectr\"\n    return [factor * v for v in vector]\n\nprint(scale([1], 2), 3rd)\n";

    #[test]
    fn counts_names_in_code_but_not_in_comments_strings_or_numbers() {
        let index = NameIndex::new(CODE, &prose_ranges(CODE, "python"));
        assert_eq!(index.count("factor"), 2);
        assert_eq!(index.count("vector"), 2);
        assert_eq!(index.count("scale"), 2);
        assert_eq!(index.count("v"), 2);
        assert_eq!(index.count("factor_x"), 0);
        assert_eq!(index.count("vectr"), 0);
        assert_eq!(index.count("rd"), 0);
        assert_eq!(index.count("3rd"), 0);
    }

    #[test]
    fn the_files_names_suggest_fixes_one_edit_away() {
        let text = "import time\n\ndef check(done):\n    t = tiem.time()\n    fi not done:\n        return t\n    if done:\n        return time\n    if t:\n        return done\n";
        let index = NameIndex::new(text, &prose_ranges(text, "python"));
        let open = NameIndex::default();
        let at = |needle: &str, word: &str| {
            let start = text.find(needle).unwrap() + needle.find(word).unwrap();
            Flag {
                range: start..start + word.len(),
                ..flag(text, word)
            }
        };
        let fixes = |flag: &Flag| -> Vec<(String, String)> {
            lexical_fixes(flag, text, &index, &open)
                .into_iter()
                .map(|fix| (text[fix.replace].to_string(), fix.text))
                .collect()
        };
        // The flagged word itself.
        assert_eq!(
            fixes(&at("tiem.", "tiem")),
            [("tiem".into(), "time".into())]
        );
        // The unknown word before a flagged known one.
        assert_eq!(fixes(&at("fi not", "not")), [("fi".into(), "if".into())]);
        // A known word after a known word: nothing to suggest.
        assert!(fixes(&at("if done", "done")).is_empty());
    }

    #[test]
    fn a_known_name_right_after_an_unknown_one_is_kept() {
        let text = "def f(done, items):\n    if not done:\n        return done\n    fi not done:\n        return items\n";
        let index = NameIndex::new(text, &prose_ranges(text, "python"));
        let open = NameIndex::default();
        let at = |offset: usize, word: &str| Flag {
            range: offset..offset + word.len(),
            ..flag(text, word)
        };
        let at_not = at(text.find("fi not").unwrap() + 3, "not");
        assert!(!known_name(&at_not, text, &index, &open));
        // After a known word the name index decides.
        let at_done = at(text.find("return done").unwrap() + 7, "done");
        assert!(known_name(&at_done, text, &index, &open));
        assert_eq!(word_before(text, text.find("fi").unwrap()), None);
        assert_eq!(
            word_before(text, text.find(" not done:\n        return items").unwrap()),
            Some("fi")
        );
        assert_eq!(word_before(text, text.find("done:").unwrap()), Some("not"));
    }

    #[test]
    fn a_name_used_elsewhere_is_known_and_a_misspelling_is_not() {
        let typo = CODE.replace("return [factor", "retrun [factor");
        let index = NameIndex::new(&typo, &prose_ranges(&typo, "python"));
        let open = NameIndex::default();
        // The parameter, after the known `vector` (the last `factor` follows the unknown `retrun`).
        let start = typo.find("factor").unwrap();
        let parameter = Flag {
            range: start..start + "factor".len(),
            ..flag(&typo, "factor")
        };
        assert!(known_name(&parameter, &typo, &index, &open));
        assert!(!known_name(&flag(&typo, "factor"), &typo, &index, &open));
        assert!(!known_name(&flag(&typo, "retrun"), &typo, &index, &open));
        // Only in a string or a comment: not a name of the code.
        let label = typo.replace("vector]", "vectr]");
        let index = NameIndex::new(&label, &prose_ranges(&label, "python"));
        assert!(!known_name(&flag(&label, "vectr"), &label, &index, &open));
        // Used once here but defined in another open document.
        let other = "def retrun():\n    pass\n";
        let open = NameIndex::new(other, &prose_ranges(other, "python"));
        assert!(known_name(&flag(&typo, "retrun"), &typo, &index, &open));
        // A misspelling made twice is still one edit away from what the model expected.
        let twice = typo
            .replace("return [factor", "retrun [factor")
            .replace("def scale", "retrun scale");
        let index = NameIndex::new(&twice, &prose_ranges(&twice, "python"));
        let mut repeated = flag(&twice, "retrun");
        repeated.expected = " return".into();
        assert!(!known_name(
            &repeated,
            &twice,
            &index,
            &NameIndex::default()
        ));
        repeated.expected = " factor".into();
        assert!(known_name(&repeated, &twice, &index, &NameIndex::default()));
        // Not one name: an operator or two words.
        assert!(!is_name("<="));
        assert!(!is_name("self.x"));
        assert!(is_name("_private2"));
    }
}
