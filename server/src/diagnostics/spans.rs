//! From per-token surprisal to flagged spans: pick confidently-disputed tokens, merge neighbours and snap the result to whole words or operators.

use std::ops::Range;

/// When the model's disagreement counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// A token is unusual when its log probability (natural log) is below `-min_surprise`.
    pub min_surprise: f32,
    /// ...and the model's own choice at that position has at least this probability.
    pub min_alternative: f32,
}

/// One token of the document as the model saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredToken {
    /// Byte range of the token in the document.
    pub range: Range<usize>,
    /// Natural-log probability of the token given the text before it.
    pub logprob: f32,
    /// The text of the model's most likely token there, and that token's probability.
    pub best_text: String,
    pub best_prob: f32,
}

/// A span the model finds very unlikely.
#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    /// Byte range in the document, snapped to whole words (or a whole operator).
    pub range: Range<usize>,
    /// The span's text.
    pub text: String,
    /// The largest surprise (−log p, nats) among its tokens.
    pub surprise: f32,
    /// What the model expected at the first unusual token, and with what probability.
    pub expected: String,
    pub expected_prob: f32,
    /// The model's rewrite of the span, when one was decoded: replaces `replace` (bytes in the
    /// document) with `text`.
    pub fix: Option<Fix>,
}

/// A replacement for (part of) a flagged span.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub replace: Range<usize>,
    pub text: String,
}

impl Flag {
    /// The message shown to the user.
    pub fn message(&self) -> String {
        let model_choice = self.expected.trim();
        let expected = match &self.fix {
            // A fix from the file's names rather than the model's own choice here: no percentage.
            Some(fix)
                if !fix.text.trim().is_empty()
                    && (model_choice.is_empty() || !fix.text.trim().starts_with(model_choice)) =>
            {
                return format!(
                    "unusual `{}` — did you mean `{}`?",
                    self.text,
                    fix.text.trim()
                );
            }
            Some(fix) => fix.text.trim().to_string(),
            None => model_choice.to_string(),
        };
        let percent = (self.expected_prob * 100.0).round();
        if expected.is_empty() {
            format!("unusual `{}` (the model found it unlikely)", self.text)
        } else {
            format!(
                "unusual `{}` — the model expected `{expected}` ({percent:.0}%)",
                self.text
            )
        }
    }
}

/// Whether a token is worth scoring at all: tokens of pure whitespace (indentation, newlines) are
/// where a small model is least sure and where no fault we can fix hides, so the output head is not
/// spent on them.
pub fn worth_scoring(token_bytes: &[u8]) -> bool {
    token_bytes.iter().any(|byte| !byte.is_ascii_whitespace())
}

/// Flags the tokens the model disputes with confidence, merged and snapped to word boundaries.
/// `tokens` must be in document order.
pub fn find_flags(text: &str, tokens: &[ScoredToken], thresholds: Thresholds) -> Vec<Flag> {
    let mut flags: Vec<Flag> = Vec::new();
    for token in tokens {
        if !is_disputed(text, token, thresholds) {
            continue;
        }
        let Some(range) = snap(text, token.range.clone()) else {
            continue;
        };
        let surprise = -token.logprob;
        match flags.last_mut() {
            // Adjacent or overlapping spans are one mistake seen token by token.
            Some(last) if range.start <= last.range.end => {
                last.range.end = last.range.end.max(range.end);
                last.text = text[last.range.clone()].to_string();
                last.surprise = last.surprise.max(surprise);
            }
            _ => flags.push(Flag {
                text: text[range.clone()].to_string(),
                range,
                surprise,
                expected: token.best_text.clone(),
                expected_prob: token.best_prob,
                fix: None,
            }),
        }
    }
    flags
}

fn is_disputed(text: &str, token: &ScoredToken, thresholds: Thresholds) -> bool {
    let Some(actual) = text.get(token.range.clone()) else {
        return false;
    };
    -token.logprob >= thresholds.min_surprise
        && token.best_prob >= thresholds.min_alternative
        && token.best_text != actual
        && worth_scoring(actual.as_bytes())
        && !is_insertion(&token.best_text)
}

/// Whether the model's choice only wants to insert something before the token: a line break,
/// indentation or a comment. Code in a fixed file rarely differs from the model's habits there
/// by a mistake, and these made most of the false flags on clean code.
fn is_insertion(best: &str) -> bool {
    let trimmed = best.trim_start();
    trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//")
}

/// The span a flagged token stands for: its non-blank part, widened to the whole word (letters,
/// digits, `_`) or the whole operator (a run of punctuation) it belongs to. `None` for a token of
/// only whitespace.
pub fn snap(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let (mut start, mut end) = (range.start.min(bytes.len()), range.end.min(bytes.len()));
    while start < end && bytes[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && bytes[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if start == end {
        return None;
    }
    let class = |byte: u8| CharClass::of(byte);
    let first = class(bytes[start]);
    while start > 0 && class(bytes[start - 1]) == first && first != CharClass::Bracket {
        start -= 1;
    }
    let last = class(bytes[end - 1]);
    while end < bytes.len() && class(bytes[end]) == last && last != CharClass::Bracket {
        end += 1;
    }
    // Byte classes never split a UTF-8 character: non-ASCII bytes are all `Word`.
    Some(start..end)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    Word,
    Operator,
    Bracket,
    Space,
}

impl CharClass {
    fn of(byte: u8) -> Self {
        match byte {
            b'(' | b')' | b'[' | b']' | b'{' | b'}' | b',' | b';' | b'"' | b'\'' | b'`' => {
                Self::Bracket
            }
            b if b.is_ascii_whitespace() => Self::Space,
            b if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 => Self::Word,
            _ => Self::Operator,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(text: &str, expected: &str, fix: Option<&str>) -> Flag {
        Flag {
            range: 4..4 + text.len(),
            text: text.into(),
            surprise: 14.0,
            expected: expected.into(),
            expected_prob: 0.81,
            fix: fix.map(|fix| Fix {
                replace: 4..4 + text.len(),
                text: fix.into(),
            }),
        }
    }

    #[test]
    fn messages_name_the_models_choice_or_the_files_name() {
        assert_eq!(
            flag("retrun", " return", Some("return")).message(),
            "unusual `retrun` — the model expected `return` (81%)"
        );
        // The model's choice before the fix is decoded.
        assert_eq!(
            flag("retrun", " return", None).message(),
            "unusual `retrun` — the model expected `return` (81%)"
        );
        // A fix from the file's names, not the model's choice here.
        assert_eq!(
            flag("tiem", " None", Some("time")).message(),
            "unusual `tiem` — did you mean `time`?"
        );
        assert_eq!(
            flag("x", "\n", None).message(),
            "unusual `x` (the model found it unlikely)"
        );
    }
}
