//! The engine's side of the reasoning guard "the model must prefer the result": how likely the model finds a rewritten region, with the text after it, compared with the original, in the file's context.
//!
//! Both versions are scored as diagnostics score a document (the same scorer, one sequence, the
//! shared context prefix computed once): `context + version + following`, where only the tokens
//! from the version on count. The figure is the mean log probability per token, so a longer
//! rewrite is not punished for its length; the text after the selection is scored too, so a
//! rewrite that no longer fits what follows it (a renamed function still called by its old name,
//! a broken indentation) pays for it there.

use rill_model::score::score_tokens;
use rill_model::LoadedModel;
use tokio::sync::mpsc;

use super::diagnose::{Tokenized, SCORE_CHUNK};
use super::key::SequenceKey;
use super::store::SequenceStore;
use super::CancelToken;

/// Tokens of the context before the region that are kept: enough for the model to know the file's
/// names and style, few enough that the check costs well under a second on two cores.
const CONTEXT_TOKENS: usize = 512;

/// The texts to compare.
#[derive(Debug, Clone, Default)]
pub struct PreferInput {
    /// The document before the region (its end is kept).
    pub context: String,
    /// The region as it is.
    pub original: String,
    /// The region rewritten.
    pub result: String,
    /// The document after the region (a few lines are enough).
    pub following: String,
}

/// Mean natural-log probability per token of each version with the text after it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preference {
    pub original: f32,
    pub result: f32,
}

impl Preference {
    /// How much less likely the result is than the original, in nats per token (negative when
    /// the model prefers the result).
    pub fn drop(&self) -> f32 {
        self.original - self.result
    }
}

/// A comparison for the engine thread to run.
#[derive(Debug, Clone)]
pub struct PreferJob {
    pub input: PreferInput,
    pub cancel: CancelToken,
    /// One answer: `Ok(None)` when cancelled.
    pub answer: mpsc::UnboundedSender<Result<Option<Preference>, String>>,
}

/// Scores both versions in the sequence `key`; `None` when `stop` answered true first.
pub fn compare(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    input: &PreferInput,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Option<Preference>> {
    let mut score = |version: &str| {
        mean_logprob(
            loaded,
            store,
            key,
            &input.context,
            &format!("{version}{}", input.following),
            stop,
        )
    };
    let Some(original) = score(&input.original)? else {
        return Ok(None);
    };
    let Some(result) = score(&input.result)? else {
        return Ok(None);
    };
    Ok(Some(Preference { original, result }))
}

/// The mean log probability of the tokens of `region` after `context`.
fn mean_logprob(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    context: &str,
    region: &str,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Option<f32>> {
    Ok(
        region_logprob(loaded, store, key, context, region, CONTEXT_TOKENS, stop)?.map(
            |(total, tokens)| {
                if tokens == 0 {
                    0.0
                } else {
                    total / tokens as f32
                }
            },
        ),
    )
}

/// The summed log probability of the tokens of `region` after (the last `context_tokens` tokens
/// of) `context`, and how many tokens that is; `None` when `stop` answered true first. The sequence
/// keeps its common prefix with the previous call, so scoring two versions after the same
/// context computes the context once.
fn region_logprob(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    context: &str,
    region: &str,
    context_tokens: usize,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<Option<(f32, usize)>> {
    let text = format!("{context}{region}");
    let tokenized = Tokenized::new(loaded, &text)?;
    // The token that straddles the boundary, if any, counts with the region.
    let covered = tokenized.covering(&(context.len()..text.len()));
    if covered.is_empty() {
        return Ok(Some((0.0, 0)));
    }
    let window = covered.start.saturating_sub(context_tokens);
    let mut tokens = Vec::with_capacity(covered.end - window + 1);
    tokens.push(loaded.tokenizer.bos_id());
    tokens.extend_from_slice(&tokenized.ids[window..covered.end]);
    let range = (covered.start - window + 1)..tokens.len();
    let sequence = store.sequence(key, &loaded.model);
    let outcome = score_tokens(
        &loaded.model,
        sequence,
        &tokens,
        range.clone(),
        &|_| true,
        SCORE_CHUNK,
        stop,
    )?;
    if outcome.reached < range.end || outcome.scores.is_empty() {
        return Ok(None);
    }
    let total: f32 = outcome.scores.iter().map(|score| score.logprob).sum();
    Ok(Some((total, outcome.scores.len())))
}
