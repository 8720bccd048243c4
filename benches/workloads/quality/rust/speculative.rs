//! Prompt-lookup drafting for speculative decoding: guesses the next tokens by finding the text's last few tokens earlier on and copying what followed them there.
//!
//! Code repeats itself: a function is re-typed with small changes, an argument list reappears in a
//! call, a block is copied and edited. When the last few tokens of the text occurred before, the
//! tokens that followed them then are a cheap and often correct guess of what the model will write
//! now. [`crate::generate::generate`] runs such a guess (a *draft*) through the model in one
//! forward pass and keeps the longest prefix that greedy decoding confirms, so the output is the
//! same token for token as without drafting, only produced with fewer forward passes.
//!
//! Nothing here touches the model: this module only proposes tokens, and a wrong proposal costs
//! compute, never correctness.

use crate::error::{ModelError, Result};

/// Upper bound on [`DraftParams::max_draft`]. Every draft token is one more row in the
/// verification pass, with its own share of the output head (the largest matrix of the model),
/// so longer drafts cost more than the rare long acceptance can win back.
pub const MAX_DRAFT_LIMIT: usize = 32;

/// Upper bound on [`DraftParams::max_ngram`]. Matching more than a handful of tokens finds almost
/// nothing that a shorter match would not find as well, and the search cost grows with it.
pub const MAX_NGRAM_LIMIT: usize = 16;

/// Upper bound on the length of an extra draft source; it is searched once per forward pass, so
/// an unbounded one could cost more than the pass it is meant to save.
pub const MAX_DRAFT_SOURCE_LEN: usize = 65_536;

/// How drafts are proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DraftParams {
    /// Most draft tokens verified in one forward pass; 0 disables drafting. Valid: 0..=32.
    ///
    /// Only a match of the full `max_ngram` tokens drafts this many; each token less halves it
    /// (never below one), see [`Drafter::propose`].
    pub max_draft: usize,
    /// Longest suffix of the text that is looked up; shorter suffixes down to one token are tried
    /// when the longest one was not seen before. Valid: 1..=16 (ignored when drafting is off).
    pub max_ngram: usize,
}

impl Default for DraftParams {
    /// Up to 8 draft tokens, found by matching up to the last 4 tokens.
    ///
    /// Chosen on the edit-replay workload of `speculative_bench` and on the llama.cpp reference
    /// prompts (ordinary completions) with two matrix threads: a 4-token match drafting 8 tokens,
    /// halved per token less, was about as fast as any setting tried on the first and the least
    /// costly on the second, where most drafts are wrong. See `benches/README.md`.
    fn default() -> Self {
        Self {
            max_draft: 8,
            max_ngram: 4,
        }
    }
}

impl DraftParams {
    /// Drafting switched off: every token takes its own forward pass.
    pub fn disabled() -> Self {
        Self {
            max_draft: 0,
            ..Self::default()
        }
    }

    /// Whether any draft token can be proposed at all.
    pub fn is_enabled(&self) -> bool {
        self.max_draft > 0
    }

    /// Rejects values outside their valid ranges.
    pub fn validate(&self) -> Result<()> {
        if self.max_draft > MAX_DRAFT_LIMIT {
            return Err(ModelError::InvalidParameter {
                parameter: "max_draft",
                reason: format!(
                    "must be at most {MAX_DRAFT_LIMIT} (0 disables drafting), got {}",
                    self.max_draft
                ),
            });
        }
        // With drafting off the n-gram length is never used, so any value is harmless then.
        if self.is_enabled() && !(1..=MAX_NGRAM_LIMIT).contains(&self.max_ngram) {
            return Err(ModelError::InvalidParameter {
                parameter: "max_ngram",
                reason: format!(
                    "must be between 1 and {MAX_NGRAM_LIMIT} while drafting is on, got {}",
                    self.max_ngram
                ),
            });
        }
        Ok(())
    }
}

/// Proposes draft tokens by prompt lookup.
#[derive(Debug, Clone)]
pub struct Drafter {
    params: DraftParams,
}

impl Drafter {
    /// A drafter with the given (already validated) parameters.
    pub fn new(params: DraftParams) -> Self {
        Self { params }
    }

    /// The parameters this drafter was created with.
    pub fn params(&self) -> &DraftParams {
        &self.params
    }

    /// Up to `min(limit, max_draft)` tokens that may follow `history`, or none.
    ///
    /// For n from `max_ngram` down to 1, the last n tokens of `history` are looked up, first in
    /// `extra` and then earlier in `history`; the first n that is found anywhere decides the
    /// draft, which is the tokens that followed its most recent occurrence. `extra` is searched
    /// first because it is meant for text the model itself wrote for nearly the same context (the
    /// previous suggestion), which predicts the next greedy tokens better than a repetition found
    /// somewhere in the file. Longer matches are preferred because they say more about where in a
    /// repeated passage the text is.
    ///
    /// A match of n tokens drafts at most `max_draft / 2^(max_ngram - n)` tokens, at least one.
    /// Short matches are weak evidence (a lone newline or `(` occurs everywhere), and on a CPU every
    /// draft token costs a share of a forward pass even when it is rejected, so the draft is only
    /// long when the match is.
    pub fn propose(&self, history: &[u32], extra: &[u32], limit: usize) -> Vec<u32> {
        let limit = limit.min(self.params.max_draft);
        if limit == 0 {
            return Vec::new();
        }
        let max_ngram = self.params.max_ngram;
        for n in (1..=max_ngram.min(history.len())).rev() {
            let pattern = &history[history.len() - n..];
            // In `extra` every occurrence counts; in `history` only those that end before the
            // suffix itself starts to end, i.e. are followed by at least one token.
            let found = continuation(extra, pattern, extra.len())
                .or_else(|| continuation(history, pattern, history.len() - 1));
            if let Some(following) = found {
                let shift = u32::try_from(max_ngram - n).unwrap_or(u32::MAX);
                let trusted = self.params.max_draft.checked_shr(shift).unwrap_or(0).max(1);
                return following[..following.len().min(limit).min(trusted)].to_vec();
            }
        }
        Vec::new()
    }
}

/// The tokens that follow the most recent occurrence of `pattern` in `haystack` that ends at or
/// before index `end_limit` (exclusive end) and is followed by at least one token; `None` when
/// there is no such occurrence.
fn continuation<'a>(haystack: &'a [u32], pattern: &[u32], end_limit: usize) -> Option<&'a [u32]> {
    let n = pattern.len();
    let end_limit = end_limit.min(haystack.len().saturating_sub(1));
    if n == 0 || end_limit < n {
        return None;
    }
    // Scanning from the most recent candidate backwards finds the closest repetition first: the
    // passage the text is most likely re-typing is usually the nearest one.
    (n..=end_limit)
        .rev()
        .find(|&end| haystack[end - n..end] == *pattern)
        .map(|end| &haystack[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drafter(max_draft: usize, max_ngram: usize) -> Drafter {
        Drafter::new(DraftParams {
            max_draft,
            max_ngram,
        })
    }

    #[test]
    fn copies_what_followed_the_most_recent_occurrence() {
        // "1 2 3 4 5 ... 1 2 3 9 ... 1 2 3": the later occurrence (followed by 9) wins.
        let history = [1, 2, 3, 4, 5, 6, 1, 2, 3, 9, 8, 7, 1, 2, 3];
        assert_eq!(drafter(4, 3).propose(&history, &[], 10), vec![9, 8, 7, 1]);
    }

    #[test]
    fn longer_matches_win_over_more_recent_shorter_ones() {
        // The suffix "7 8 9" occurs once (followed by 10); "9" alone occurs more recently
        // (followed by 11), but the three-token match is preferred.
        let history = [7, 8, 9, 10, 9, 11, 5, 7, 8, 9];
        assert_eq!(drafter(2, 3).propose(&history, &[], 10), vec![10, 9]);
        // With n limited to 1, the most recent "9" decides.
        assert_eq!(drafter(2, 1).propose(&history, &[], 10), vec![11, 5]);
    }

    #[test]
    fn falls_back_to_shorter_suffixes() {
        // "4 5" never occurred before, "5" did; a one-token match drafts a quarter of 8.
        let history = [5, 6, 7, 4, 5];
        assert_eq!(drafter(8, 3).propose(&history, &[], 8), vec![6, 7]);
        assert_eq!(drafter(8, 1).propose(&history, &[], 8), vec![6, 7, 4, 5]);
    }

    #[test]
    fn each_token_less_of_match_halves_the_draft() {
        // "10 11 12 13" then filler, then the text ends with the last n tokens of that run.
        let run: Vec<u32> = (10..30).collect();
        for (n, expected) in [(4, 8), (3, 4), (2, 2), (1, 1)] {
            let mut history = run.clone();
            history.push(99);
            // The suffix is tokens 10+4-n..14, so only an n-token match exists.
            history.extend(&run[4 - n..4]);
            let draft = drafter(8, 4).propose(&history, &[], 32);
            assert_eq!(draft, run[4..4 + expected].to_vec(), "n = {n}");
        }
        // Never fewer than one, and never more than `max_draft`, whatever the shift.
        let history = [7, 1, 2, 3, 7];
        assert_eq!(drafter(2, 16).propose(&history, &[], 8), vec![1]);
        assert_eq!(drafter(32, 1).propose(&history, &[], 8), vec![1, 2, 3, 7]);
    }

    #[test]
    fn nothing_when_the_last_token_is_new() {
        assert!(drafter(8, 3).propose(&[1, 2, 3, 4], &[], 8).is_empty());
        assert!(drafter(8, 3).propose(&[], &[], 8).is_empty());
        assert!(drafter(8, 3).propose(&[1], &[], 8).is_empty());
    }

    #[test]
    fn the_suffix_itself_is_not_a_match() {
        // The only occurrence of "1 2" is the suffix: nothing follows it.
        assert!(drafter(8, 2).propose(&[3, 1, 2], &[], 8).is_empty());
        // A self-overlapping repetition copies up to the end of the history.
        assert_eq!(drafter(8, 2).propose(&[1, 1, 1], &[], 8), vec![1]);
        assert_eq!(drafter(8, 2).propose(&[1, 2, 1, 2], &[], 8), vec![1, 2]);
    }

    #[test]
    fn drafts_respect_both_limits() {
        let history = [1, 2, 3, 4, 5, 6, 7, 8, 1, 2];
        assert_eq!(drafter(3, 2).propose(&history, &[], 10), vec![3, 4, 5]);
        assert_eq!(drafter(8, 2).propose(&history, &[], 2), vec![3, 4]);
        assert!(drafter(8, 2).propose(&history, &[], 0).is_empty());
        assert!(drafter(0, 2).propose(&history, &[], 8).is_empty());
    }

    #[test]
    fn the_extra_source_is_searched_first_and_may_end_with_the_match() {
        let history = [1, 2, 3, 4, 9, 2, 3];
        // In the history "2 3" is followed by 4; in the extra source by 5.
        assert_eq!(
            drafter(2, 2).propose(&history, &[2, 3, 5, 6], 8),
            vec![5, 6]
        );
        // An occurrence at the very end of the extra source has nothing to copy and is skipped.
        assert_eq!(drafter(2, 2).propose(&history, &[2, 3], 8), vec![4, 9]);
        // A longer match in the history beats a shorter one in the extra source.
        assert_eq!(drafter(1, 3).propose(&history, &[3, 7], 8), vec![4]);
        let history = [1, 9, 2, 3, 0, 1, 9, 2, 3];
        assert_eq!(drafter(1, 3).propose(&history, &[2, 3, 7], 8), vec![0]);
        // Only the extra source knows the suffix.
        assert_eq!(drafter(3, 1).propose(&[8, 6], &[6, 5, 4], 8), vec![5, 4]);
    }

    #[test]
    fn parameters_are_validated() {
        DraftParams::default().validate().unwrap();
        DraftParams::disabled().validate().unwrap();
        DraftParams {
            max_draft: 0,
            max_ngram: 0,
        }
        .validate()
        .unwrap();
        DraftParams {
            max_draft: MAX_DRAFT_LIMIT,
            max_ngram: MAX_NGRAM_LIMIT,
        }
        .validate()
        .unwrap();
        let name = |params: DraftParams| match params.validate() {
            Err(ModelError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("expected an invalid parameter, got {other:?}"),
        };
        let too_long = DraftParams {
            max_draft: MAX_DRAFT_LIMIT + 1,
            ..DraftParams::default()
        };
        assert_eq!(name(too_long), "max_draft");
        let no_ngram = DraftParams {
            max_ngram: 0,
            ..DraftParams::default()
        };
        assert_eq!(name(no_ngram), "max_ngram");
        let long_ngram = DraftParams {
            max_ngram: MAX_NGRAM_LIMIT + 1,
            ..DraftParams::default()
        };
        assert_eq!(name(long_ngram), "max_ngram");
        assert!(DraftParams::default().is_enabled());
        assert!(!DraftParams::disabled().is_enabled());
    }
}
