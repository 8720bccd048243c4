//! The engine's side of next edit suggestions: for each target line, best first, a proposed rewrite (the propagated replacement, or the model's own rewrite of the line) kept only when the model finds the document clearly likelier with it.
//!
//! Each version of the line is scored after the same context: the document before the line, from
//! the line where a completion's window at the edit starts (the window is extended down to the
//! line, not slid, up to twice `completion.contextTokens`). So the context begins with what the
//! document's completion sequence already holds, and the search starts from a copy of that (see
//! [`SequenceStore::seed_from`]): only the text between the edit and the line is computed. The figure is the summed
//! log probability, the document's own likelihood; the first target that passes is the answer,
//! and none passing is an answer too (silence).

use std::cell::OnceCell;

use rill_model::generate::{generate, FinishReason, GenerationParams};
use rill_model::score::score_tokens;
use rill_model::LoadedModel;
use tokio::sync::mpsc;

use super::diagnose::SCORE_CHUNK;
use super::key::SequenceKey;
use super::prompt::{prompt_tokens, tokens_from, window_start_byte};
use super::store::SequenceStore;
use super::CancelToken;
use crate::diagnostics::regions::line_offset_after;
use crate::next_edit::{Hunk, Proposal, Target};

/// Lines after the target that are scored with a rewrite by the model: it must fit what follows.
/// A propagated replacement is scored on its own line: the lines after it read the same either
/// way, and scoring them (a head product per token) would double the cost of every target.
const FOLLOWING_LINES: usize = 2;
/// Tokens the model may write for one rewritten line.
const MAX_LINE_TOKENS: usize = 64;
/// Nats of likelihood the edit must have taken from a line before the model rewrites it.
const SURPRISE_ADDED: f32 = 2.0;
/// A propagated replacement the model finds this much less likely than the line as it is (nats)
/// is not offered, however much the edit moved the model towards it.
const PROPAGATION_FLOOR: f32 = -8.0;
/// Nats a rewrite by the model must add: its own greedy line is likelier than most lines by
/// construction, so it needs more than a propagated replacement does.
const REWRITE_MARGIN: f32 = 4.0;
/// How much of a line the model's rewrite of it must keep: the normalized Levenshtein similarity
/// of the two lines without their indentation, 0 to 1. A next edit carries the user's edit on into
/// a line it made stale (`return x` -> `return x + y`: 0.67); a rewrite into another statement is
/// the model continuing the edit in its own way (`hi = mid` -> `checked = False`: 0.27), and in
/// the benchmark every such offer answered an unrelated edit.
const REWRITE_KEEPS: f64 = 0.5;
/// The completion sequence is copied only when it saves at least this many tokens of prefill.
const SEED_AT_LEAST: usize = 64;
/// How long one search may look before it gives up and stays silent. A proposal that comes later
/// than this after the pause arrives when the user has usually moved on; and in the benchmark the
/// searches that took longer (1.4–2.1 s: lines below the edit rewritten by the model) were all
/// wrong offers. Time spent while interactive work interrupts the search does not count: a
/// resumed search starts a new budget.
const SEARCH_BUDGET: std::time::Duration = std::time::Duration::from_secs(1);
/// Lines right above a target that its context keeps when the text between the edit and the
/// target is left out (see [`Search::context`]).
const EXCERPT_LINES: usize = 4;

/// A next-edit search for the engine thread.
#[derive(Debug, Clone)]
pub struct NextEditJob {
    /// The document text the targets and the proposal refer to.
    pub text: String,
    /// The user's last edit, in `text`.
    pub hunk: Hunk,
    pub targets: Vec<Target>,
    /// Proposals the user already turned down for this document: (target line text, new text).
    pub rejected: Vec<(String, String)>,
    /// Nats a propagated replacement must add to the document's log likelihood.
    pub margin: f32,
    /// `completion.contextTokens` and `completion.maxTokens`: the context window is the one a
    /// completion would use, so it shares the completion's cached prefix.
    pub context_tokens: usize,
    pub reserve_tokens: usize,
    pub cancel: CancelToken,
    /// One answer: `Ok(None)` for "nothing worth proposing".
    pub answer: mpsc::UnboundedSender<Result<Option<Proposal>, String>>,
}

/// How far the search got.
pub enum Outcome {
    Done(Option<Proposal>),
    /// Interactive work arrived or the job was cancelled: nothing to report yet.
    Stopped,
}

/// Which text a context is taken from: the document as it is, or as it was before the edit.
#[derive(Debug, Clone, Copy)]
enum Side {
    After = 0,
    Before = 1,
}

/// What a search needs at hand for every target.
struct Search<'a> {
    loaded: &'a LoadedModel,
    key: &'a SequenceKey,
    job: &'a NextEditJob,
    stop: &'a dyn Fn() -> bool,
    /// Where the completion's window at the edit starts, in the text before the edit as well as
    /// after it (it is before the edit); `None` when the edit is not inside that window.
    window_start: Option<usize>,
    /// The document with the edit undone, built once for every target that compares with it.
    before: String,
    /// Each side's tokens from the window's start to the end of the edited line, which every far
    /// target's context begins with: tokenized once per side, not once per target.
    edited_prefix: [OnceCell<Option<Vec<u32>>>; 2],
}

/// Tries the targets in order (see the module documentation), for at most [`SEARCH_BUDGET`].
pub fn run(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    job: &NextEditJob,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Outcome> {
    let started = std::time::Instant::now();
    let expired = || started.elapsed() > SEARCH_BUDGET;
    match find(loaded, store, key, job, &|| stop() || expired())? {
        Outcome::Stopped if expired() && !stop() => {
            tracing::debug!("next edit: nothing within {SEARCH_BUDGET:?}, staying silent");
            Ok(Outcome::Done(None))
        }
        outcome => Ok(outcome),
    }
}

/// [`run`] without the time budget: `stop` covers both.
fn find(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    job: &NextEditJob,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Outcome> {
    let hunk = &job.hunk;
    let window_start = window_start_byte(
        &loaded.tokenizer,
        &job.text[..hunk.after_range.end],
        job.context_tokens,
        job.reserve_tokens,
        loaded.model.config().context_length,
    )?;
    let mut before = job.text.clone();
    before.replace_range(hunk.after_range.clone(), &hunk.before);
    let search = Search {
        loaded,
        key,
        job,
        stop,
        window_start: (window_start <= hunk.after_range.start).then_some(window_start),
        before,
        edited_prefix: Default::default(),
    };
    let text = job.text.as_str();
    for target in &job.targets {
        if stop() {
            return Ok(Outcome::Stopped);
        }
        let line = target.line.clone();
        let old_line = &text[line.clone()];
        let following = following_lines(text, line.end, target.replace.is_none());
        let context = search.context(Side::After, line.start)?;
        let (new_line, margin) = match &target.replace {
            Some((range, to)) => {
                let mut rewritten = old_line.to_string();
                rewritten.replace_range(range.start - line.start..range.end - line.start, to);
                (rewritten, job.margin)
            }
            None => {
                // A line the model is to rewrite must be one the edit made unlikely: without this
                // test every line below every edit would get a proposal.
                let Some(drop) =
                    search.surprise_added(store, &line, &context, old_line, following)?
                else {
                    return Ok(Outcome::Stopped);
                };
                tracing::debug!(
                    "next edit {:?} at {:?}: the edit made it {drop:.2} nats less likely",
                    target.kind,
                    line
                );
                if drop < SURPRISE_ADDED {
                    continue;
                }
                match search.rewrite_line(store, &context)? {
                    Some(rewritten) if keeps_the_line(old_line, &rewritten) => {
                        (rewritten, REWRITE_MARGIN)
                    }
                    Some(rewritten) => {
                        tracing::debug!(
                            "next edit {:?} at {:?}: {old_line:?} -> {rewritten:?} is another line",
                            target.kind,
                            line
                        );
                        continue;
                    }
                    None => return Ok(Outcome::Stopped),
                }
            }
        };
        let proposal = Proposal {
            range: line.clone(),
            new_text: new_line,
            reason: target.reason.clone(),
            gain: None,
        };
        if proposal.is_noop(text)
            || proposal.is_undo(text, &job.hunk)
            || proposal.new_text.trim().is_empty() && !old_line.trim().is_empty()
            || job
                .rejected
                .iter()
                .any(|(line, new)| line == old_line && *new == proposal.new_text)
        {
            continue;
        }
        let Some(gain) = search.gain(
            store,
            &context,
            &format!("{old_line}{following}"),
            &format!("{}{following}", proposal.new_text),
        )?
        else {
            return Ok(Outcome::Stopped);
        };
        // A propagated replacement is judged by what the edit changed: how much more the model
        // prefers it to the line as it is now than it did before the edit. That cancels the
        // model's own taste for the old name (`lo < hi` reads well to any model), which is not
        // what the edit is about; a floor still keeps out what it finds plainly wrong. A gain
        // that passes on its own needs no comparison: before the edit the new text named nothing
        // the model had seen, so it can only have been less likely then.
        let judged = if target.replace.is_some() && gain < margin {
            if gain < PROPAGATION_FLOOR {
                f32::NEG_INFINITY
            } else {
                let Some(before) = search.gain_before_edit(store, &line, &proposal.new_text)?
                else {
                    return Ok(Outcome::Stopped);
                };
                gain - before
            }
        } else {
            gain
        };
        tracing::debug!(
            "next edit {:?} at {:?}: {:?} -> {:?}, gain {gain:.2} nats, judged {judged:.2}",
            target.kind,
            line,
            old_line,
            proposal.new_text
        );
        if judged >= margin {
            return Ok(Outcome::Done(Some(Proposal {
                gain: Some(gain),
                ..proposal
            })));
        }
    }
    Ok(Outcome::Done(None))
}

impl Search<'_> {
    /// The context of a line starting at `end` in `side`'s text: BOS and that text from the
    /// completion window's start at the edit to the end of the edited line, then, for a line
    /// further below, the [`EXCERPT_LINES`] lines above it. Leaving out
    /// the text in between is what keeps a target far below the edit as cheap as a near one:
    /// the part up to the edit is what the document's completion sequence holds already, so only
    /// the edited line and the excerpt are computed, instead of every token down to the target
    /// (twice, with the text before the edit). The model still reads the edit and the target's
    /// own surroundings, which is what tells a renamed name from the old one. When the line is
    /// above the window's start or the window would grow too long: the window a completion at
    /// `end` would take.
    fn context(&self, side: Side, end: usize) -> rill_model::Result<Vec<u32>> {
        let text = self.text(side);
        if let Some(start) = self.window_start {
            let tokenizer = &self.loaded.tokenizer;
            let excerpt = lines_above(text, end, EXCERPT_LINES);
            if self.edited_line_end(side) < excerpt {
                if let Some(prefix) = self.edited_prefix(side, start)? {
                    let mut tokens = prefix.to_vec();
                    tokens.extend(tokenizer.encode(&text[excerpt..end])?);
                    return Ok(tokens);
                }
            } else if let Some(tokens) =
                tokens_from(tokenizer, text, start, end, self.context_limit())?
            {
                return Ok(tokens);
            }
        }
        prompt_tokens(
            &self.loaded.tokenizer,
            &text[..end],
            self.job.context_tokens,
            self.job.reserve_tokens,
            self.loaded.model.config().context_length,
        )
    }

    fn text(&self, side: Side) -> &str {
        match side {
            Side::After => &self.job.text,
            Side::Before => &self.before,
        }
    }

    /// Where the line holding the edit's end ends in `side`'s text (see [`line_end_from`]).
    fn edited_line_end(&self, side: Side) -> usize {
        let hunk = &self.job.hunk;
        let edit_end = match side {
            Side::After => hunk.after_range.end,
            Side::Before => hunk.after_range.start + hunk.before.len(),
        };
        line_end_from(self.text(side), edit_end)
    }

    /// The most tokens a context that extends the completion's window may hold.
    fn context_limit(&self) -> usize {
        let context_length = self.loaded.model.config().context_length;
        (2 * self.job.context_tokens).min(context_length.saturating_sub(self.job.reserve_tokens))
    }

    /// BOS and `side`'s tokens from `start` to the end of the edited line, tokenized on first use;
    /// `None` when they would exceed [`Search::context_limit`].
    fn edited_prefix(&self, side: Side, start: usize) -> rill_model::Result<Option<&[u32]>> {
        let cell = &self.edited_prefix[side as usize];
        if cell.get().is_none() {
            let tokens = tokens_from(
                &self.loaded.tokenizer,
                self.text(side),
                start,
                self.edited_line_end(side),
                self.context_limit(),
            )?;
            let _ = cell.set(tokens);
        }
        Ok(cell.get().and_then(Option::as_deref))
    }

    /// The summed log probability of `region`'s tokens after `context`; `None` when stopped.
    fn score(
        &self,
        store: &mut SequenceStore,
        context: &[u32],
        region: &[u32],
    ) -> rill_model::Result<Option<f32>> {
        let mut tokens = context.to_vec();
        tokens.extend_from_slice(region);
        if tokens.len() == context.len() {
            return Ok(Some(0.0));
        }
        let range = context.len().max(1)..tokens.len();
        self.seed(store, &tokens);
        let model = &self.loaded.model;
        let sequence = store.sequence(self.key, model);
        let started = std::time::Instant::now();
        let cached = sequence.common_prefix(&tokens);
        let outcome = score_tokens(
            model,
            sequence,
            &tokens,
            range.clone(),
            &|_| true,
            SCORE_CHUNK,
            self.stop,
        )?;
        if outcome.reached < range.end {
            return Ok(None);
        }
        tracing::debug!(
            "next edit scored {} tokens ({} computed) in {:?}",
            tokens.len(),
            tokens.len() - cached,
            started.elapsed()
        );
        Ok(Some(outcome.scores.iter().map(|score| score.logprob).sum()))
    }

    /// Starts the search's sequence from the document's completion sequence when that holds more
    /// of `tokens` (a pre-warmed document holds the whole window).
    fn seed(&self, store: &mut SequenceStore, tokens: &[u32]) {
        let completion = SequenceKey::completion(self.key.document.as_str());
        if store.seed_from(&completion, self.key, tokens, SEED_AT_LEAST) {
            tracing::debug!("next edit starts from the completion's cached prefix");
        }
    }

    /// How much likelier `new_line` (with the lines after it) was than the line at `line` in the
    /// text before the edit; `None` when stopped, `Some(0.0)` for a line that overlaps the edit.
    fn gain_before_edit(
        &self,
        store: &mut SequenceStore,
        line: &std::ops::Range<usize>,
        new_line: &str,
    ) -> rill_model::Result<Option<f32>> {
        let Some(start) = self.start_before_edit(line) else {
            return Ok(Some(0.0));
        };
        let end = start + (line.end - line.start);
        let following = following_lines(&self.before, end, false);
        let context = self.context(Side::Before, start)?;
        self.gain(
            store,
            &context,
            &format!("{}{following}", &self.before[start..end]),
            &format!("{new_line}{following}"),
        )
    }

    /// How much likelier `new` is than `old` after `context` (nats); `None` when stopped. The
    /// tokens both begin with score the same in both and are not scored at all: they are part of
    /// the context, which the two scorings share.
    fn gain(
        &self,
        store: &mut SequenceStore,
        context: &[u32],
        old: &str,
        new: &str,
    ) -> rill_model::Result<Option<f32>> {
        let tokenizer = &self.loaded.tokenizer;
        let (old, new) = (tokenizer.encode(old)?, tokenizer.encode(new)?);
        let shared = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
        let mut context = context.to_vec();
        context.extend_from_slice(&old[..shared]);
        let Some(old) = self.score(store, &context, &old[shared..])? else {
            return Ok(None);
        };
        let Some(new) = self.score(store, &context, &new[shared..])? else {
            return Ok(None);
        };
        Ok(Some(new - old))
    }

    /// Where `line` starts in the text before the edit; `None` when the line overlaps the edit.
    fn start_before_edit(&self, line: &std::ops::Range<usize>) -> Option<usize> {
        let hunk = &self.job.hunk;
        if line.start < hunk.after_range.end.max(hunk.after_range.start + 1)
            && hunk.after_range.start < line.end
        {
            return None;
        }
        Some(if line.start >= hunk.after_range.end {
            line.start - hunk.after.len() + hunk.before.len()
        } else {
            line.start
        })
    }

    /// How many nats less likely the edit made the line at `line` (with the lines after it)
    /// than it was before the edit, each after its own text's context; `None` when stopped,
    /// `Some(0.0)` for a line that overlaps the edit.
    fn surprise_added(
        &self,
        store: &mut SequenceStore,
        line: &std::ops::Range<usize>,
        context: &[u32],
        old_line: &str,
        following: &str,
    ) -> rill_model::Result<Option<f32>> {
        let Some(start) = self.start_before_edit(line) else {
            return Ok(Some(0.0));
        };
        let region = self
            .loaded
            .tokenizer
            .encode(&format!("{old_line}{following}"))?;
        let then_context = self.context(Side::Before, start)?;
        let Some(then) = self.score(store, &then_context, &region)? else {
            return Ok(None);
        };
        let Some(now) = self.score(store, context, &region)? else {
            return Ok(None);
        };
        Ok(Some(then - now))
    }

    /// The model's own version of the line after `context`: greedy, up to its line break. `None`
    /// when stopped.
    fn rewrite_line(
        &self,
        store: &mut SequenceStore,
        context: &[u32],
    ) -> rill_model::Result<Option<String>> {
        let params = GenerationParams {
            max_tokens: MAX_LINE_TOKENS,
            stop: vec!["\n".to_string()],
            ..GenerationParams::default()
        };
        self.seed(store, context);
        let (model, tokenizer) = (&self.loaded.model, &self.loaded.tokenizer);
        let sequence = store.sequence(self.key, model);
        let generation = generate(
            model,
            tokenizer,
            sequence,
            context,
            &params,
            self.stop,
            |_| {},
        )?;
        if generation.finish == FinishReason::Cancelled {
            return Ok(None);
        }
        Ok(Some(generation.text.trim_end_matches('\r').to_string()))
    }
}

/// The answer without a model to score with (the remote engine, which cannot score given text):
/// the first target with a replacement found without the model (a propagation, a removed
/// argument) that is neither a no-op, an undo nor rejected.
pub fn without_scoring(job: &NextEditJob) -> Option<Proposal> {
    let text = job.text.as_str();
    job.targets.iter().find_map(|target| {
        let (range, to) = target.replace.as_ref()?;
        let line = target.line.clone();
        let old_line = &text[line.clone()];
        let mut new_text = old_line.to_string();
        new_text.replace_range(range.start - line.start..range.end - line.start, to);
        let proposal = Proposal {
            range: line,
            new_text,
            reason: target.reason.clone(),
            gain: None,
        };
        let rejected = job
            .rejected
            .iter()
            .any(|(line, new)| line == old_line && *new == proposal.new_text);
        (!proposal.is_noop(text) && !proposal.is_undo(text, &job.hunk) && !rejected)
            .then_some(proposal)
    })
}

/// The start of the line after the one holding byte `at`; `at` itself when a line starts there.
fn line_end_from(text: &str, at: usize) -> usize {
    if at == 0 || text[..at].ends_with('\n') {
        return at;
    }
    line_offset_after(text, at, 1)
}

/// The start of the line `count` lines above the line starting at `line_start` (the text's
/// start when there are fewer).
fn lines_above(text: &str, line_start: usize, count: usize) -> usize {
    let before = &text[..line_start];
    // The line break that ends the line above is the first one found going back.
    before
        .rmatch_indices('\n')
        .nth(count)
        .map_or(0, |(index, _)| index + 1)
}

/// The line break after a line and the next [`FOLLOWING_LINES`] lines (`rewrite`), or nothing.
fn following_lines(text: &str, line_end: usize, rewrite: bool) -> &str {
    if !rewrite {
        return "";
    }
    let rest = &text[line_end..];
    let end = rest
        .match_indices('\n')
        .nth(FOLLOWING_LINES)
        .map_or(rest.len(), |(index, _)| index);
    &rest[..end]
}

/// Whether `new` keeps enough of `old` to be an edit of it (see [`REWRITE_KEEPS`]).
fn keeps_the_line(old: &str, new: &str) -> bool {
    strsim::normalized_levenshtein(old.trim(), new.trim()) >= REWRITE_KEEPS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_must_keep_most_of_the_line() {
        assert!(keeps_the_line("    return x\n", "    return x + y\n"));
        assert!(keeps_the_line("print(lo)", "print(new_lo)"));
        assert!(keeps_the_line(
            "x = compute(a, b)",
            "x = compute_all(a, b, c)"
        ));
        // What the benchmark's unrelated edits got offered.
        assert!(!keeps_the_line(
            "        hi = mid",
            "        checked = False"
        ));
        assert!(!keeps_the_line(
            "    dispatch_cache = weakref.WeakKeyDictionary()",
            "    def _check_func(func):"
        ));
        assert!(!keeps_the_line(
            "        return self._split(text)",
            "        if checked:"
        ));
    }

    #[test]
    fn the_edited_line_ends_at_its_line_break_and_a_line_start_is_its_own_end() {
        let text = "a = 1\nbb = 2\nc = 3";
        assert_eq!(line_end_from(text, 0), 0);
        assert_eq!(line_end_from(text, 2), 6);
        assert_eq!(
            line_end_from(text, 6),
            6,
            "an inserted whole line ends where it ends"
        );
        assert_eq!(line_end_from(text, 8), 13);
        assert_eq!(
            line_end_from(text, 15),
            text.len(),
            "the last line has no break"
        );
    }

    #[test]
    fn the_excerpt_starts_the_given_number_of_lines_above() {
        let text = "l0\nl1\nl2\nl3\nl4\n";
        let l4 = text.find("l4").unwrap();
        assert_eq!(&text[lines_above(text, l4, 1)..l4], "l3\n");
        assert_eq!(&text[lines_above(text, l4, 3)..l4], "l1\nl2\nl3\n");
        assert_eq!(lines_above(text, l4, 4), 0);
        assert_eq!(lines_above(text, l4, 9), 0, "fewer lines: the text's start");
        assert_eq!(lines_above(text, 0, 2), 0);
    }
}
