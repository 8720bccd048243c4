//! Line candidates: decode the first line of a completion greedily, branch at its first uncertain step into the model's next choices, and score each candidate line together with the document text that follows it.
//!
//! A base model without fill-in-the-middle training never sees the text after the cursor, so its
//! greedy line is often a plausible line that does not fit what follows (a `return` above the
//! `return`). The candidates share everything up to the branch step, so the one chosen never
//! changes text the caller has already streamed from before that step. Ranking by the joint
//! likelihood of candidate and following text is the noisy-channel choice: the same model that
//! scores diagnostics tells which candidate makes the rest of the file most likely.

use crate::error::{ModelError, Result};
use crate::healing;
use crate::sequence::Sequence;
use crate::tokenizer::Tokenizer;
use crate::transformer::{Model, Which};

/// How to search.
pub struct LineSearch<'a> {
    /// Text the prompt was healed over (see [`crate::healing`]); empty for none.
    pub heal: &'a str,
    /// Candidates wanted, at least 1 (1: the greedy line only).
    pub width: usize,
    /// Branch at the first step whose best token has a probability below this.
    pub branch_below: f32,
    /// An alternative at the branch step needs at least this probability.
    pub min_alternative: f32,
    /// Tokens one candidate may take at most (skipped lines included).
    pub max_tokens: usize,
    /// Tokens that end generation besides the tokenizer's end-of-generation tokens.
    pub stop_tokens: &'a [u32],
    /// The document text after the cursor's line, from its line break on, scored after each
    /// candidate; empty for none.
    pub following: &'a str,
    /// Following tokens scored at most.
    pub following_tokens: usize,
    /// Lines decoded past instead of ending the candidate (comments where code is expected).
    pub skip_line: &'a dyn Fn(&str) -> bool,
    /// Lines skipped at most per candidate.
    pub max_skipped: usize,
    /// When to stop exploring: alternatives and following-text ranking that would start after
    /// this are skipped, so the answer never waits long for them (the greedy line is always
    /// finished). `None` for no limit.
    pub explore_until: Option<std::time::Instant>,
    /// When the first text must go out whatever happens: a greedy line still being decoded then is
    /// cut where it is (see [`LineCandidate::cut`]), so a slow machine still shows something
    /// within the request's budget. `None` for no limit.
    pub decide_by: Option<std::time::Instant>,
    /// Told, while the search runs, what every candidate's `text` will begin with one of: the
    /// greedy text after each step before the branch step (which all candidates share), then at
    /// the branch step that text extended by the greedy token and by each alternative's. Lets a
    /// caller see long before the search ends whether what the user typed meanwhile can still be
    /// written. Not called after the branch step.
    pub beginnings: &'a dyn Fn(&[String]),
}

/// One candidate first line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineCandidate {
    /// Generated tokens, up to the token that ends the line (or the end of generation).
    pub tokens: Vec<u32>,
    /// Their text without the healed bytes.
    pub text: String,
    /// Bytes at the start of `text` that belong to skipped lines (line breaks included).
    pub skipped: usize,
    /// Sum of the log probabilities of the tokens of the candidate's own line.
    pub line_logprob: f32,
    /// How many tokens that line has.
    pub line_tokens: usize,
    /// Sum of the log probabilities of all of `tokens`.
    pub total_logprob: f32,
    /// Sum of the log probabilities of the following text after this candidate; 0 when not scored.
    pub following_logprob: f32,
    /// Generation ended (end-of-generation or stop token) inside or right after this line.
    pub ended: bool,
    /// The line was cut at `decide_by` before it ended: it is the greedy text so far, not a line,
    /// and its confidence is not known.
    pub cut: bool,
}

impl LineCandidate {
    /// The geometric mean probability of the candidate's line tokens, 0 to 1.
    pub fn confidence(&self) -> f32 {
        if self.line_tokens == 0 {
            return 0.0;
        }
        (self.line_logprob / self.line_tokens as f32).exp()
    }

    /// The shown text: `text` without skipped lines.
    pub fn shown(&self) -> &str {
        self.text.get(self.skipped..).unwrap_or(&self.text)
    }

    fn rank(&self) -> f32 {
        self.total_logprob + self.following_logprob
    }
}

/// The candidates, best first, and how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchOutcome {
    pub candidates: Vec<LineCandidate>,
    /// Prompt tokens whose cached state was reused.
    pub reused_tokens: usize,
    /// Forward passes run after the prompt.
    pub forward_passes: usize,
    /// Whether the following text decided the order.
    pub ranked_by_following: bool,
}

/// A decoding step the search may branch at: the path as it was before the step, and the
/// alternatives to the greedy token there.
struct Branch {
    before: Path,
    /// The alternatives, most likely first, with their log probabilities.
    alternatives: Vec<(u32, f32)>,
}

/// Decodes the candidates for `prompt` (see the module documentation). `cancelled` is asked before
/// every forward pass; `Ok(None)` means it answered true. `sequence` is left holding some prefix
/// of the prompt and a candidate; the caller syncs it to what it needs next.
pub fn search(
    model: &Model,
    tokenizer: &Tokenizer,
    sequence: &mut Sequence,
    prompt: &[u32],
    params: &LineSearch,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<SearchOutcome>> {
    if prompt.is_empty() {
        return Err(ModelError::EmptyInput);
    }
    let Some(synced) = sequence.sync(model, prompt, cancelled)? else {
        return Ok(None);
    };
    let mut outcome = SearchOutcome {
        candidates: Vec::new(),
        reused_tokens: synced.reused,
        forward_passes: 0,
        ranked_by_following: false,
    };
    let decoder = Decoder {
        model,
        tokenizer,
        params,
        base: prompt.len(),
    };
    let start = Path::new(params.heal.as_bytes().to_vec());
    let role = if params.width > 1 {
        Role::Greedy
    } else {
        Role::Only
    };
    let Some((greedy, branch)) = decoder.decode(
        sequence,
        synced.logits,
        start,
        role,
        &mut outcome.forward_passes,
        cancelled,
    )?
    else {
        return Ok(None);
    };
    let cut = greedy.cut;
    outcome.candidates.push(greedy.finish(params.heal));
    if cut {
        return Ok(Some(outcome));
    }
    if let Some(branch) = branch {
        let step = branch.before.tokens.len();
        for &(token, logprob) in branch.alternatives.iter().take(params.width - 1) {
            if cancelled() {
                return Ok(None);
            }
            if out_of_time(params) {
                break;
            }
            sequence.truncate(prompt.len() + step);
            if sequence.tokens().len() != prompt.len() + step {
                // A compacted cache cannot go back that far: keep what was found.
                break;
            }
            let mut path = branch.before.clone();
            let logits = path.take(&decoder, sequence, token, logprob)?;
            outcome.forward_passes += 1;
            let Some((candidate, _)) = decoder.decode(
                sequence,
                logits,
                path,
                Role::Alternative,
                &mut outcome.forward_passes,
                cancelled,
            )?
            else {
                return Ok(None);
            };
            if candidate.abandoned {
                // Out of time halfway through: an unfinished line is no candidate.
                break;
            }
            let candidate = candidate.finish(params.heal);
            if outcome
                .candidates
                .iter()
                .all(|known| known.shown().trim_end() != candidate.shown().trim_end())
            {
                outcome.candidates.push(candidate);
            }
        }
    }
    if outcome.candidates.len() > 1
        && !params.following.is_empty()
        && !tokenizer.adds_space_prefix()
        && !out_of_time(params)
    {
        for candidate in &mut outcome.candidates {
            if cancelled() {
                return Ok(None);
            }
            candidate.following_logprob =
                following_logprob(model, tokenizer, sequence, prompt, candidate, params)?;
            outcome.forward_passes += 1;
        }
        outcome.ranked_by_following = true;
        outcome
            .candidates
            .sort_by(|a, b| b.rank().total_cmp(&a.rank()));
    }
    Ok(Some(outcome))
}

/// Whether the exploration time is over.
fn out_of_time(params: &LineSearch) -> bool {
    params
        .explore_until
        .is_some_and(|until| std::time::Instant::now() >= until)
}

/// Log probability of the document's following text after `candidate`'s line.
///
/// The candidate's last token may carry text past its line break (`"\n    "`), which the
/// following text may not have. So the candidate is kept up to its last token that ends before
/// the line break, and the rest of its line plus the following text is tokenized and scored
/// after it: every candidate is then judged on the same document text after its line.
fn following_logprob(
    model: &Model,
    tokenizer: &Tokenizer,
    sequence: &mut Sequence,
    prompt: &[u32],
    candidate: &LineCandidate,
    params: &LineSearch,
) -> Result<f32> {
    // `text` is lossy UTF-8 of the token bytes; offsets taken from the bytes are checked with
    // `get` so that a replaced invalid byte can only skip the ranking, never panic.
    let Some(newline) = candidate
        .text
        .get(candidate.skipped..)
        .and_then(|line| line.find('\n'))
        .map(|at| at + candidate.skipped)
    else {
        return Ok(0.0);
    };
    // Tokens wholly before the line break, and the line text the rest of the line holds.
    let heal = params.heal.len();
    let mut kept = 0;
    let mut bytes = 0usize;
    for &id in &candidate.tokens {
        let len = tokenizer.token_bytes(id)?.len();
        if (bytes + len).saturating_sub(heal) > newline {
            break;
        }
        bytes += len;
        kept += 1;
    }
    if kept == 0 {
        return Ok(0.0);
    }
    let written = bytes.saturating_sub(heal).min(newline);
    let Some(rest_of_line) = candidate.text.get(written..newline) else {
        return Ok(0.0);
    };
    let text = format!("{rest_of_line}{}", params.following);
    let mut following = tokenizer.encode(&text)?;
    following.truncate(params.following_tokens.max(1));
    if following.is_empty() {
        return Ok(0.0);
    }
    let mut context = prompt.to_vec();
    context.extend_from_slice(&candidate.tokens[..kept]);
    let common = sequence.common_prefix(&context);
    sequence.truncate(common.min(context.len() - 1));
    let have = sequence.tokens().len();
    let mut pass = context[have..].to_vec();
    let first_row = pass.len() - 1;
    pass.extend_from_slice(&following[..following.len() - 1]);
    let positions: Vec<usize> = (first_row..pass.len()).collect();
    let logits = sequence.extend_selected(model, &pass, Which::Positions(&positions))?;
    let vocab = model.config().vocab_size;
    let mut sum = 0.0f32;
    for (row, &token) in following.iter().enumerate() {
        let row_logits = &logits[row * vocab..(row + 1) * vocab];
        sum += log_softmax_at(row_logits, token);
    }
    Ok(sum)
}

/// The state of one candidate while it is decoded.
#[derive(Clone)]
struct Path {
    tokens: Vec<u32>,
    /// The log probability of each of `tokens` when it was chosen.
    logprobs: Vec<f32>,
    /// Raw bytes of `tokens`, healed bytes included.
    bytes: Vec<u8>,
    owed: Vec<u8>,
    heal_len: usize,
    /// Where the current line starts in `bytes`.
    line_start: usize,
    /// The first token of the current line.
    line_first_token: usize,
    skipped_lines: usize,
    skipped_bytes: usize,
    /// The log probability of the end-of-generation token that ended the path, if one did.
    end: Option<f32>,
    /// An alternative given up when the exploration time ran out.
    abandoned: bool,
    /// The greedy line cut at `decide_by`.
    cut: bool,
}

impl Path {
    fn new(owed: Vec<u8>) -> Self {
        let heal_len = owed.len();
        Self {
            tokens: Vec::new(),
            logprobs: Vec::new(),
            bytes: Vec::new(),
            heal_len,
            line_start: heal_len,
            line_first_token: 0,
            owed,
            skipped_lines: 0,
            skipped_bytes: 0,
            end: None,
            abandoned: false,
            cut: false,
        }
    }

    /// Appends `token` to the sequence and the path; returns the logits after it.
    fn take(
        &mut self,
        decoder: &Decoder,
        sequence: &mut Sequence,
        token: u32,
        logprob: f32,
    ) -> Result<Vec<f32>> {
        let tokenizer = decoder.tokenizer;
        let logits = sequence.push(decoder.model, token)?;
        self.tokens.push(token);
        self.logprobs.push(logprob);
        self.bytes.extend_from_slice(tokenizer.token_bytes(token)?);
        if !self.owed.is_empty() {
            self.owed = healing::remaining(tokenizer, &self.owed, token).to_vec();
        }
        Ok(logits)
    }

    /// The byte offset of the line break that ends the current line, if it has ended: the first
    /// `\n` after some non-blank text of the line.
    fn line_end(&self) -> Option<usize> {
        let from = self.line_start.max(self.heal_len).min(self.bytes.len());
        let line = &self.bytes[from..];
        let first_text = line.iter().position(|b| !b.is_ascii_whitespace())?;
        line[first_text..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|at| from + first_text + at)
    }

    fn finish(self, heal: &str) -> LineCandidate {
        let text =
            String::from_utf8_lossy(&self.bytes[heal.len().min(self.bytes.len())..]).into_owned();
        let end = self.end.unwrap_or(0.0);
        let line = &self.logprobs[self.line_first_token.min(self.logprobs.len())..];
        LineCandidate {
            skipped: self.skipped_bytes.min(text.len()),
            text,
            line_logprob: line.iter().sum::<f32>() + end,
            line_tokens: line.len() + usize::from(self.end.is_some()),
            total_logprob: self.logprobs.iter().sum::<f32>() + end,
            following_logprob: 0.0,
            ended: self.end.is_some(),
            cut: self.cut,
            tokens: self.tokens,
        }
    }
}

/// What a decoded path is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The only candidate wanted: no branch step is looked for.
    Only,
    /// The greedy line, which also finds the branch step.
    Greedy,
    /// An alternative from the branch step, given up when the exploration time runs out.
    Alternative,
}

struct Decoder<'a> {
    model: &'a Model,
    tokenizer: &'a Tokenizer,
    params: &'a LineSearch<'a>,
    base: usize,
}

impl Decoder<'_> {
    /// Decodes greedily from `logits` until `path`'s line ends; with `want_branch`, also returns
    /// the first uncertain step and its alternatives.
    fn decode(
        &self,
        sequence: &mut Sequence,
        mut logits: Vec<f32>,
        mut path: Path,
        role: Role,
        passes: &mut usize,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<Option<(Path, Option<Branch>)>> {
        let tokenizer = self.tokenizer;
        let mut branch: Option<Branch> = None;
        // A path that already ended its line (an alternative whose first token held the line
        // break) only needs the checks below.
        loop {
            if let Some(end) = path.line_end() {
                let line = String::from_utf8_lossy(&path.bytes[path.line_start..end]).into_owned();
                if path.skipped_lines < self.params.max_skipped && (self.params.skip_line)(&line) {
                    path.skipped_lines += 1;
                    path.skipped_bytes = end + 1 - path.heal_len.min(end + 1);
                    path.line_start = end + 1;
                    path.line_first_token = path.tokens.len();
                    continue;
                }
                break;
            }
            if path.end.is_some() || path.tokens.len() >= self.params.max_tokens {
                break;
            }
            if role == Role::Alternative && out_of_time(self.params) {
                path.abandoned = true;
                break;
            }
            if role != Role::Alternative
                && path.tokens.len() > path.line_first_token
                && self
                    .params
                    .decide_by
                    .is_some_and(|by| std::time::Instant::now() >= by)
            {
                path.cut = true;
                break;
            }
            if !path.owed.is_empty() && !healing::mask(tokenizer, &path.owed, &mut logits) {
                // No token spells the owed bytes: give up the constraint (see `generate`).
                path.owed.clear();
            }
            let (best, best_logprob) = best_and_logprob(&logits);
            let branches_here = role == Role::Greedy
                && branch.is_none()
                && best_logprob.exp() < self.params.branch_below;
            // Before the branch step every candidate goes where the greedy line goes.
            let shared = role != Role::Alternative && (branch.is_none() || branches_here);
            if branches_here {
                branch = Some(Branch {
                    before: path.clone(),
                    alternatives: alternatives(
                        &logits,
                        best,
                        self.params.width - 1,
                        self.params.min_alternative,
                    ),
                });
            }
            if tokenizer.end_of_generation_ids().contains(&best)
                || self.params.stop_tokens.contains(&best)
            {
                path.end = Some(best_logprob);
                break;
            }
            if cancelled() {
                return Ok(None);
            }
            logits = path.take(self, sequence, best, best_logprob)?;
            *passes += 1;
            debug_assert_eq!(sequence.tokens().len(), self.base + path.tokens.len());
            if shared {
                self.report_beginnings(&path, branch.as_ref().filter(|_| branches_here))?;
            }
        }
        Ok(Some((path, branch)))
    }

    /// Tells the caller what every candidate begins with one of: `path`'s text, and with the
    /// branch step just taken, the text before it extended by each alternative token.
    fn report_beginnings(&self, path: &Path, branch: Option<&Branch>) -> Result<()> {
        let heal = self.params.heal.len();
        let text = |bytes: &[u8]| -> String {
            let bytes = bytes.get(heal..).unwrap_or_default();
            // A token may end inside a character: only whole characters are known text.
            let whole = match std::str::from_utf8(bytes) {
                Ok(text) => text,
                Err(err) => std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or_default(),
            };
            whole.to_string()
        };
        let mut beginnings = vec![text(&path.bytes)];
        if let Some(branch) = branch {
            for &(token, _) in branch.alternatives.iter().take(self.params.width - 1) {
                let mut bytes = branch.before.bytes.clone();
                bytes.extend_from_slice(self.tokenizer.token_bytes(token)?);
                beginnings.push(text(&bytes));
            }
        }
        (self.params.beginnings)(&beginnings);
        Ok(())
    }
}

/// The best token and its log probability.
fn best_and_logprob(logits: &[f32]) -> (u32, f32) {
    let (best, max) =
        logits
            .iter()
            .enumerate()
            .fold((0usize, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
                if v > bv {
                    (i, v)
                } else {
                    (bi, bv)
                }
            });
    (best as u32, max - log_sum_exp(logits, max))
}

/// log Σ exp(logits), given their maximum.
fn log_sum_exp(logits: &[f32], max: f32) -> f32 {
    if max == f32::NEG_INFINITY {
        return 0.0;
    }
    let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
    max + sum.ln() as f32
}

/// log softmax of `logits` at `token`.
fn log_softmax_at(logits: &[f32], token: u32) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    logits
        .get(token as usize)
        .copied()
        .unwrap_or(f32::NEG_INFINITY)
        - log_sum_exp(logits, max)
}

/// The `count` likeliest tokens other than `best` with a probability of at least `min_prob`.
fn alternatives(logits: &[f32], best: u32, count: usize, min_prob: f32) -> Vec<(u32, f32)> {
    if count == 0 {
        return Vec::new();
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let norm = log_sum_exp(logits, max);
    let floor = min_prob.max(f32::MIN_POSITIVE).ln() + norm;
    let mut top: Vec<(u32, f32)> = Vec::with_capacity(count + 1);
    for (id, &logit) in logits.iter().enumerate() {
        if id as u32 == best || logit < floor {
            continue;
        }
        if top.len() == count && top.last().is_some_and(|&(_, l)| l >= logit) {
            continue;
        }
        let at = top.partition_point(|&(_, l)| l >= logit);
        top.insert(at, (id as u32, logit));
        top.truncate(count);
    }
    top.into_iter().map(|(id, l)| (id, l - norm)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_are_the_likeliest_others_above_the_floor() {
        let logits = [0.0, 3.0, 2.0, -10.0, 2.5];
        let found = alternatives(&logits, 1, 2, 0.01);
        let ids: Vec<u32> = found.iter().map(|&(id, _)| id).collect();
        assert_eq!(ids, vec![4, 2]);
        assert!(found[0].1 < 0.0 && found[0].1 > found[1].1);
        // The floor drops the unlikely token even when there is room.
        let found = alternatives(&logits, 1, 10, 0.01);
        assert!(found.iter().all(|&(id, _)| id != 3));
    }

    #[test]
    fn best_and_logprob_is_a_normalized_log_probability() {
        let (best, lp) = best_and_logprob(&[1.0, 1.0f32.ln() + 1.0, 0.0]);
        assert_eq!(best, 0);
        let total: f32 = [1.0f32, 1.0, 0.0]
            .iter()
            .map(|&l| (l - 1.0 - lp).exp())
            .sum();
        assert!((total - 1.0 / lp.exp()).abs() < 1e-3 || lp < 0.0);
        assert!(lp < 0.0);
    }
}
