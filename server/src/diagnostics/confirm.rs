//! The counterfactual check of a flag as plain logic: which text after the flag is compared with and without the model's fix, which tokens of the two versions are the same text, and when the flag stands.
//!
//! A token the model finds unlikely is not yet a mistake: a name the user is introducing is
//! surprising too. A misspelling, though, makes what follows it less likely as well (`retrun x`
//! reads worse than `return x` all the way to the line's end), while a new name does not (after
//! `def frobnicate(`, the parameters read the same whatever the name). So the engine scores the
//! text after the flag twice, after the text as written and after the fix, and the flag stands
//! only when the fix makes that text likelier by at least `min_gain` nats.

use std::ops::Range;

use super::spans::{Fix, Flag};

/// How much text after a flag the check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckShape {
    /// Lines after the flag's own line (blank lines are not counted).
    pub lines: usize,
    /// Most tokens: the nearest ones carry the evidence, and each costs the output head twice.
    pub tokens: usize,
}

impl CheckShape {
    /// What the server compares.
    pub const DEFAULT: CheckShape = CheckShape {
        lines: 1,
        tokens: 24,
    };
}

/// What the model's fix of a flag does to the text after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The model's rewrite of the flag, when it changes anything.
    pub fix: Option<Fix>,
    /// How much likelier (nats) the text after the flag is with the fix than as written, summed
    /// over the compared tokens; `None` when nothing could be compared.
    pub gain: Option<f32>,
    /// The tokens compared.
    pub compared: usize,
    /// For each compared token, in order: where it ends (bytes after the flag's end) and how much
    /// likelier it is with the fix (nats). `gain` is their sum; benchmarks study shorter tails
    /// with [`gain_within`].
    pub profile: Vec<(usize, f32)>,
}

/// The gain a check of `shape` would have measured, from a verdict made with a wider one: the sum
/// over the compared tokens that end inside `shape`'s tail (each token's probability depends only
/// on the text before it).
pub fn gain_within(verdict: &Verdict, text: &str, flag: &Flag, shape: CheckShape) -> Option<f32> {
    verdict.gain?;
    let tail = tail_range(text, flag, shape.lines);
    let inside: Vec<f32> = verdict
        .profile
        .iter()
        .filter(|(end, _)| *end <= tail.len())
        .take(shape.tokens)
        .map(|(_, gain)| *gain)
        .collect();
    (!inside.is_empty()).then(|| inside.iter().sum())
}

/// Whether a flag stands: the model has a fix, and the fix makes the text after the flag likelier
/// by at least `min_gain` nats. With nothing after the flag to compare (the end of the file), the
/// gain counts as zero.
pub fn stands(verdict: &Verdict, min_gain: f32) -> bool {
    verdict.fix.is_some() && verdict.gain.unwrap_or(0.0) >= min_gain
}

/// The bytes after `flag` that the check compares: from the end of the flag to the end of its
/// line and of the next `lines` non-blank lines (or the end of the text).
pub fn tail_range(text: &str, flag: &Flag, lines: usize) -> Range<usize> {
    let start = flag.range.end.min(text.len());
    let mut end = text[start..]
        .find('\n')
        .map_or(text.len(), |newline| start + newline);
    let (mut counted, mut at) = (0, end);
    while counted < lines && at < text.len() {
        let line_start = at + 1;
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |newline| line_start + newline);
        // Blank lines in between are compared, trailing ones are not.
        if !text[line_start..line_end].trim().is_empty() {
            counted += 1;
            end = line_end;
        }
        at = line_end;
    }
    start..end
}

/// The fragment of text the fix turns `text[start..end]` into (`fix` must lie inside it).
pub fn fixed_fragment(text: &str, start: usize, end: usize, fix: &Fix) -> String {
    let mut fixed = String::with_capacity(end - start + fix.text.len());
    fixed.push_str(&text[start..fix.replace.start]);
    fixed.push_str(&fix.text);
    fixed.push_str(&text[fix.replace.end..end]);
    fixed
}

/// How many tokens at the end of `original` and `fixed` are the same and lie within the last
/// `tail_bytes` bytes (`original_lengths` are the byte lengths of `original`'s tokens). Never the
/// whole of either list: the first token of a fragment has no logits to score it with.
pub fn common_tail(
    original: &[u32],
    original_lengths: &[usize],
    fixed: &[u32],
    tail_bytes: usize,
) -> usize {
    let most = original.len().min(fixed.len()).saturating_sub(1);
    let mut count = 0;
    let mut bytes = 0;
    while count < most {
        let (a, b) = (
            original[original.len() - 1 - count],
            fixed[fixed.len() - 1 - count],
        );
        let length = original_lengths[original.len() - 1 - count];
        if a != b || bytes + length > tail_bytes {
            break;
        }
        bytes += length;
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag_at(text: &str, word: &str) -> Flag {
        let start = text.find(word).unwrap();
        Flag {
            range: start..start + word.len(),
            text: word.to_string(),
            surprise: 15.0,
            expected: String::new(),
            expected_prob: 0.9,
            fix: None,
        }
    }

    #[test]
    fn the_tail_is_the_rest_of_the_line_and_the_next_non_blank_line() {
        let text = "def f(x):\n    retrun x + 1\n\n    y = 2\n    z = 3\n";
        let flag = flag_at(text, "retrun");
        assert_eq!(&text[tail_range(text, &flag, 1)], " x + 1\n\n    y = 2");
        assert_eq!(&text[tail_range(text, &flag, 0)], " x + 1");
        // At the end of the text the tail is what is left.
        let last = flag_at(text, "3");
        assert_eq!(&text[tail_range(text, &last, 1)], "");
    }

    #[test]
    fn the_fixed_fragment_replaces_only_the_fix() {
        let text = "    retrun x\n";
        let fix = Fix {
            replace: 4..10,
            text: "return".into(),
        };
        assert_eq!(fixed_fragment(text, 0, 12, &fix), "    return x");
        let insertion = Fix {
            replace: 4..4,
            text: "self.".into(),
        };
        assert_eq!(fixed_fragment(text, 4, 12, &insertion), "self.retrun x");
    }

    #[test]
    fn the_common_tail_stops_at_the_first_difference_or_the_tail_bytes() {
        // `retrun x + 1` as [re, trun, " x", " +", " 1"] against [return, " x", " +", " 1"].
        let original = [1, 2, 3, 4, 5];
        let lengths = [2, 4, 2, 2, 2];
        let fixed = [9, 3, 4, 5];
        assert_eq!(common_tail(&original, &lengths, &fixed, 6), 3);
        assert_eq!(common_tail(&original, &lengths, &fixed, 5), 2);
        // Never the whole of a list: its first token cannot be scored.
        assert_eq!(common_tail(&[3, 4], &[2, 2], &[3, 4], 100), 1);
        assert_eq!(common_tail(&[7], &[1], &[8], 100), 0);
    }

    #[test]
    fn a_narrower_tail_sums_the_tokens_that_end_inside_it() {
        let text = "    retrun x + 1\n    y = 2\n";
        let flag = flag_at(text, "retrun");
        let verdict = Verdict {
            fix: None,
            gain: Some(7.0),
            compared: 4,
            // " x", " +", " 1" on the flag's line, then "\n    y" on the next.
            profile: vec![(2, 3.0), (4, 1.0), (6, 0.5), (12, 2.5)],
        };
        let shape = |lines, tokens| CheckShape { lines, tokens };
        assert_eq!(gain_within(&verdict, text, &flag, shape(1, 24)), Some(7.0));
        assert_eq!(gain_within(&verdict, text, &flag, shape(0, 24)), Some(4.5));
        assert_eq!(gain_within(&verdict, text, &flag, shape(1, 2)), Some(4.0));
        let none = Verdict {
            gain: None,
            ..verdict
        };
        assert_eq!(gain_within(&none, text, &flag, shape(1, 24)), None);
    }

    #[test]
    fn a_flag_stands_only_with_a_fix_that_helps_the_text_after_it() {
        let fix = Some(Fix {
            replace: 0..6,
            text: "return".into(),
        });
        let verdict = |fix: Option<Fix>, gain| Verdict {
            fix,
            gain,
            compared: 3,
            profile: Vec::new(),
        };
        assert!(stands(&verdict(fix.clone(), Some(4.0)), 2.0));
        assert!(!stands(&verdict(fix.clone(), Some(1.0)), 2.0));
        // A new name: the text after it reads the same either way.
        assert!(!stands(&verdict(fix.clone(), Some(0.1)), 2.0));
        // Nothing after the flag to compare: the gain counts as zero.
        assert!(stands(&verdict(fix.clone(), None), 0.0));
        assert!(!stands(&verdict(fix, None), 2.0));
        // The model's own rewrite keeps the text: it does not really dispute it.
        assert!(!stands(&verdict(None, Some(9.0)), 2.0));
    }
}
