//! The counterfactual check of a flag as plain logic: which text after a fix is compared with and without it, which tokens of the two versions are the same text, and whether (and where, with which fix) the flag stands.
//!
//! A token the model finds unlikely is not yet a mistake: a name the user is introducing is
//! surprising too. A misspelling, though, makes what follows it less likely as well (`retrun x`
//! reads worse than `return x` all the way to the line's end), while a new name does not (after
//! `def frobnicate(`, the parameters read the same whatever the name). So the engine scores the
//! text after a fix twice, after the text as written and after the fix, and the flag stands only
//! when some fix makes that text likelier by at least `min_gain` nats. The fixes tried are the
//! model's own rewrite and the file's names one edit away (see
//! [`super::names::lexical_fixes`]).

use std::ops::Range;

use super::spans::{Fix, Flag};

/// How much text after a fix the check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckShape {
    /// Lines after the fix's own line (blank lines are not counted).
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

/// One fix the check tried, and what it did to the text after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub fix: Fix,
    /// How much likelier (nats) the compared text is with the fix than as written.
    pub gain: f32,
    /// For each compared token, in order: where it ends (bytes after [`tail_start`]) and how much
    /// likelier it is with the fix. `gain` is their sum; benchmarks read narrower checks off it
    /// with [`gain_within`].
    pub profile: Vec<(usize, f32)>,
}

/// The check's findings on one flag.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Verdict {
    /// The model's rewrite of the flag, when it changes anything.
    pub rewrite: Option<Fix>,
    /// Every fix tried that had text after it to compare.
    pub judged: Vec<Judged>,
}

/// Where the compared text starts for `fix` of `flag`: after the bytes the fix replaces (so that
/// the rest of a flagged span counts as evidence: `slf._ready` reads worse than `self._ready` at
/// `._ready` already), or after the flag when the fix only inserts (a missing `self.`: the flagged
/// word itself is what the insertion explains, not further evidence).
pub fn tail_start(flag: &Flag, fix: &Fix) -> usize {
    if fix.replace.is_empty() {
        flag.range.end.max(fix.replace.end)
    } else {
        fix.replace.end
    }
}

/// The bytes from `start` that the check compares: to the end of its line and of the next `lines`
/// non-blank lines (or the end of the text).
pub fn tail_range(text: &str, start: usize, lines: usize) -> Range<usize> {
    let start = start.min(text.len());
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

/// The gain a check of `shape` gives `judged` (a fix of `flag`), read off a profile measured with
/// a shape at least as wide: the sum over the compared tokens that end inside `shape`'s tail (each
/// token's probability depends only on the text before it). `None` when no token does.
pub fn gain_within(judged: &Judged, text: &str, flag: &Flag, shape: CheckShape) -> Option<f32> {
    let tail = tail_range(text, tail_start(flag, &judged.fix), shape.lines);
    let inside: Vec<f32> = judged
        .profile
        .iter()
        .filter(|(end, _)| *end <= tail.len())
        .take(shape.tokens)
        .map(|(_, gain)| *gain)
        .collect();
    (!inside.is_empty()).then(|| inside.iter().sum())
}

/// What becomes of `flag` once judged. Without a check (`min_gain` `None`) it stays as it is, with
/// the model's rewrite as its fix. With one it stands only when a fix gains at least `min_gain`
/// nats (as `shape` measures it); it then carries the fix that gains most, and when that fix lies
/// before the flag (the misspelled word before a flagged known name), the flag moves to it.
pub fn settle(
    mut flag: Flag,
    verdict: &Verdict,
    text: &str,
    min_gain: Option<f32>,
    shape: CheckShape,
) -> Option<Flag> {
    let Some(min_gain) = min_gain else {
        flag.fix = verdict.rewrite.clone();
        return Some(flag);
    };
    let best = verdict
        .judged
        .iter()
        .filter_map(|judged| Some((gain_within(judged, text, &flag, shape)?, judged)))
        .filter(|(gain, _)| *gain >= min_gain)
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    let fix = best.1.fix.clone();
    if fix.replace.end <= flag.range.start && !fix.replace.is_empty() {
        flag.range = fix.replace.clone();
        flag.text = text[fix.replace.clone()].to_string();
    }
    flag.fix = Some(fix);
    Some(flag)
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

    fn fix(replace: Range<usize>, text: &str) -> Fix {
        Fix {
            replace,
            text: text.into(),
        }
    }

    #[test]
    fn the_tail_is_the_rest_of_the_line_and_the_next_non_blank_line() {
        let text = "def f(x):\n    retrun x + 1\n\n    y = 2\n    z = 3\n";
        let flag = flag_at(text, "retrun");
        let end = flag.range.end;
        assert_eq!(&text[tail_range(text, end, 1)], " x + 1\n\n    y = 2");
        assert_eq!(&text[tail_range(text, end, 0)], " x + 1");
        // At the end of the text the tail is what is left.
        assert_eq!(&text[tail_range(text, text.len() - 2, 1)], "3");
    }

    #[test]
    fn the_tail_starts_after_what_a_fix_replaces_or_after_the_flag_for_an_insertion() {
        let text = "    slf._ready.pop()\n";
        let flag = flag_at(text, "slf._ready");
        assert_eq!(tail_start(&flag, &fix(4..7, "self")), 7);
        let insertion = flag_at(text, "_ready");
        assert_eq!(tail_start(&insertion, &fix(8..8, "self.")), 14);
    }

    #[test]
    fn the_fixed_fragment_replaces_only_the_fix() {
        let text = "    retrun x\n";
        assert_eq!(
            fixed_fragment(text, 0, 12, &fix(4..10, "return")),
            "    return x"
        );
        assert_eq!(
            fixed_fragment(text, 4, 12, &fix(4..4, "self.")),
            "self.retrun x"
        );
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
        let judged = Judged {
            fix: fix(4..10, "return"),
            gain: 7.0,
            // " x", " +", " 1" on the flag's line, then "\n    y" on the next.
            profile: vec![(2, 3.0), (4, 1.0), (6, 0.5), (12, 2.5)],
        };
        let shape = |lines, tokens| CheckShape { lines, tokens };
        assert_eq!(gain_within(&judged, text, &flag, shape(1, 24)), Some(7.0));
        assert_eq!(gain_within(&judged, text, &flag, shape(0, 24)), Some(4.5));
        assert_eq!(gain_within(&judged, text, &flag, shape(1, 2)), Some(4.0));
        let empty = Judged {
            profile: Vec::new(),
            ..judged
        };
        assert_eq!(gain_within(&empty, text, &flag, shape(1, 24)), None);
    }

    #[test]
    fn a_flag_stands_only_with_a_fix_that_helps_the_text_after_it() {
        let text = "    retrun x + 1\n";
        let flag = flag_at(text, "retrun");
        let judged = |text: &str, gain: f32| Judged {
            fix: fix(4..10, text),
            gain,
            profile: vec![(2, gain)],
        };
        let verdict = |judged: Vec<Judged>| Verdict {
            rewrite: Some(fix(4..10, "return")),
            judged,
        };
        let shape = CheckShape::DEFAULT;
        let settled = |verdict: &Verdict, min_gain| {
            settle(flag.clone(), verdict, text, min_gain, shape).map(|flag| flag.fix)
        };
        // A misspelling: the fix helps.
        let helps = verdict(vec![judged("return", 4.0)]);
        assert_eq!(settled(&helps, Some(2.0)), Some(Some(fix(4..10, "return"))));
        // A new name: the text after it reads the same either way.
        assert_eq!(
            settled(&verdict(vec![judged("return", 0.1)]), Some(2.0)),
            None
        );
        // Nothing judged (no rewrite, nothing to compare): it does not stand.
        assert_eq!(settled(&Verdict::default(), Some(0.0)), None);
        // Of two fixes, the one that gains most.
        let two = verdict(vec![judged("retry", 2.5), judged("return", 6.0)]);
        assert_eq!(settled(&two, Some(2.0)), Some(Some(fix(4..10, "return"))));
        // Without the check every flag stays, with the model's rewrite.
        assert_eq!(settled(&Verdict::default(), None), Some(None));
    }

    #[test]
    fn a_fix_before_the_flag_moves_it() {
        // `fi not done:`: flagged at `not`, fixed by the file's `if` one edit from `fi`.
        let text = "    fi not done:\n        pass\n";
        let flag = flag_at(text, "not");
        let verdict = Verdict {
            rewrite: Some(fix(7..10, "= 0")),
            judged: vec![Judged {
                fix: fix(4..6, "if"),
                gain: 9.0,
                profile: vec![(4, 9.0)],
            }],
        };
        let moved = settle(flag, &verdict, text, Some(2.0), CheckShape::DEFAULT).unwrap();
        assert_eq!(moved.range, 4..6);
        assert_eq!(moved.text, "fi");
        assert_eq!(moved.fix, Some(fix(4..6, "if")));
    }
}
