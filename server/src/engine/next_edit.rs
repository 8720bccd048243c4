//! The engine's side of next edit suggestions: for each target line, best first, a proposed rewrite (the propagated replacement, or the model's own rewrite of the line) kept only when the model finds the document clearly likelier with it.
//!
//! Both versions are scored as the reasoning check scores a rewrite ([`super::prefer`]): the line
//! and the lines after it, after the same context, in one sequence, so the context is computed
//! once. The figure is the summed log probability, the document's own likelihood: a proposal
//! must raise it by [`NextEditJob::margin`] nats. The first target that passes is the answer;
//! none passing is the answer too (silence).

use rill_model::generate::{generate, GenerationParams};
use rill_model::LoadedModel;
use tokio::sync::mpsc;

use super::key::SequenceKey;
use super::prefer::region_logprob;
use super::store::SequenceStore;
use super::CancelToken;
use crate::next_edit::{Hunk, Proposal, Target, TargetKind};

/// Lines after the target that are scored with it: a rewrite must fit what follows.
const FOLLOWING_LINES: usize = 2;
/// Lines of context above the edit (or the target) that the model reads.
const CONTEXT_LINES: usize = 40;
/// Tokens the model may write for one rewritten line.
const MAX_LINE_TOKENS: usize = 64;

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
    /// Nats the document must gain.
    pub margin: f32,
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

/// Tries the targets in order; see the module documentation.
pub fn run(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    job: &NextEditJob,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Outcome> {
    let text = job.text.as_str();
    for target in &job.targets {
        if stop() {
            return Ok(Outcome::Stopped);
        }
        let line = target.line.clone();
        let old_line = &text[line.clone()];
        let context = &text[anchor(text, line.start, job.hunk.after_range.start)..line.start];
        let new_line = match &target.replace {
            Some((range, to)) => {
                let mut rewritten = old_line.to_string();
                rewritten.replace_range(range.start - line.start..range.end - line.start, to);
                rewritten
            }
            None => match rewrite_line(loaded, store, key, context, stop)? {
                Some(rewritten) => rewritten,
                None => return Ok(Outcome::Stopped),
            },
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
        let following = following_lines(text, line.end);
        let Some((original, _)) = region_logprob(
            loaded,
            store,
            key,
            context,
            &format!("{old_line}{following}"),
            usize::MAX,
            stop,
        )?
        else {
            return Ok(Outcome::Stopped);
        };
        let Some((rewritten, _)) = region_logprob(
            loaded,
            store,
            key,
            context,
            &format!("{}{following}", proposal.new_text),
            usize::MAX,
            stop,
        )?
        else {
            return Ok(Outcome::Stopped);
        };
        let gain = rewritten - original;
        tracing::debug!(
            "next edit {:?} at {:?}: {:?} -> {:?}, gain {gain:.2} nats",
            target.kind,
            line,
            old_line,
            proposal.new_text
        );
        if gain >= job.margin {
            return Ok(Outcome::Done(Some(Proposal {
                gain: Some(gain),
                ..proposal
            })));
        }
        // A propagation the model does not confirm is not a reason to stop: the next site may be
        // clearer. Rewrites of lines below only ever follow the propagations.
        if target.kind == TargetKind::Below {
            continue;
        }
    }
    Ok(Outcome::Done(None))
}

/// The answer without a model to score with (the remote engine, which cannot score given text):
/// the first propagation target whose replacement is neither a no-op, an undo nor rejected.
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

/// The model's own version of the line that starts after `context`: greedy, up to its line break.
/// `None` when `stop` answered true first.
fn rewrite_line(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    context: &str,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Option<String>> {
    let tokenizer = &loaded.tokenizer;
    let mut prompt = vec![tokenizer.bos_id()];
    prompt.extend(tokenizer.encode(context)?);
    let params = GenerationParams {
        max_tokens: MAX_LINE_TOKENS,
        stop: vec!["\n".to_string()],
        ..GenerationParams::default()
    };
    let sequence = store.sequence(key, &loaded.model);
    let generation = generate(
        &loaded.model,
        tokenizer,
        sequence,
        &prompt,
        &params,
        stop,
        |_| {},
    )?;
    if generation.finish == rill_model::generate::FinishReason::Cancelled {
        return Ok(None);
    }
    Ok(Some(generation.text.trim_end_matches('\r').to_string()))
}

/// Where the context of a target starting at byte `line` begins: [`CONTEXT_LINES`] lines above
/// the edit or the target, whichever comes first, so that every target of one search shares the
/// same beginning and the sequence computes it once; a target far from the edit gets its own.
fn anchor(text: &str, line: usize, edit: usize) -> usize {
    let lines_above = |at: usize| {
        text[..at]
            .rmatch_indices('\n')
            .nth(CONTEXT_LINES)
            .map_or(0, |(index, _)| index + 1)
    };
    let shared = lines_above(line.min(edit));
    if text[shared..line].matches('\n').count() <= 2 * CONTEXT_LINES {
        shared
    } else {
        lines_above(line)
    }
}

/// The line break after a line and the next [`FOLLOWING_LINES`] lines.
fn following_lines(text: &str, line_end: usize) -> &str {
    let rest = &text[line_end..];
    let end = rest
        .match_indices('\n')
        .nth(FOLLOWING_LINES)
        .map_or(rest.len(), |(index, _)| index);
    &rest[..end]
}
