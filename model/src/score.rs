//! Token surprisal: how likely the model finds each token of a text given what precedes it, what it would have written instead, and its own rewrite of a span.
//!
//! Scoring token `i` needs the output head applied to the hidden state of token `i - 1`, the most
//! expensive matrix of a small model (vocabulary × hidden). The forward pass over the text is the
//! one a completion needs anyway (the sequence's cached prefix is reused), so callers pick the
//! positions worth scoring and pay for the head only there.

use std::ops::Range;
use std::sync::OnceLock;

use crate::error::{ModelError, Result};
use crate::sampling::{argmax, log_prob};
use crate::sequence::Sequence;
use crate::tokenizer::Tokenizer;
use crate::transformer::{Model, Which};

/// How the model saw one token of the text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenScore {
    /// Index of the token in the scored token list.
    pub index: usize,
    /// Natural-log probability of the actual token given everything before it.
    pub logprob: f32,
    /// The model's most likely token at this position, and its log probability.
    pub best: u32,
    pub best_logprob: f32,
}

/// What [`score_tokens`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreOutcome {
    /// Scores of the wanted tokens below `reached`, in order.
    pub scores: Vec<TokenScore>,
    /// The first token index not yet looked at: the end of the range when the work is complete,
    /// less when `interrupted` answered true (call again from there to continue).
    pub reached: usize,
}

/// Scores `tokens[i]` for every `i` in `range` for which `wanted(i)` holds, leaving `sequence`
/// equal to `tokens[..reached]`.
///
/// The sequence keeps its longest common prefix with `tokens`, so a document whose prefix is
/// cached (by completions or pre-warming) pays only for the range. `tokens[0]` (BOS) has no
/// context and cannot be scored, so `range.start` must be at least 1. The range is processed in
/// passes of `chunk` tokens and `interrupted` is asked before each pass.
pub fn score_tokens(
    model: &Model,
    sequence: &mut Sequence,
    tokens: &[u32],
    range: Range<usize>,
    wanted: &dyn Fn(usize) -> bool,
    chunk: usize,
    interrupted: &dyn Fn() -> bool,
) -> Result<ScoreOutcome> {
    if range.start == 0 || range.end > tokens.len() || range.start > range.end {
        return Err(ModelError::BadLogitPosition {
            position: range.start,
            len: tokens.len(),
        });
    }
    let mut outcome = ScoreOutcome {
        scores: Vec::new(),
        reached: range.start,
    };
    if range.is_empty() {
        return Ok(outcome);
    }
    // The hidden state of token `range.start - 1` predicts the range's first token, so the cache
    // is brought to the tokens before that one and the passes start there. With the context
    // cached already (a line scored again with other text, a region after the last one) this
    // costs no pass of its own: re-running the context's last token for its logits would.
    let resume = range.start - 1;
    let held = sequence.common_prefix(&tokens[..resume]);
    sequence.truncate(held);
    if sequence.tokens().len() < resume
        && sequence
            .sync_yielding(model, &tokens[..resume], chunk, interrupted)?
            .is_none()
    {
        return Ok(outcome);
    }
    // Each pass feeds tokens[start..end]; the hidden state after token j predicts token j + 1,
    // so the pass yields the rows for tokens start + 1 ..= end (those inside the range and
    // wanted). The rows wait in `pending` until [`HEAD_ROWS`] of them share one product with the
    // output head, whose weights are then read once for all of them.
    let mut pending = PendingRows::default();
    let mut start = resume;
    while outcome.reached < range.end {
        if interrupted() {
            pending.flush(model, tokens, &mut outcome.scores)?;
            return Ok(outcome);
        }
        let end = (start + chunk.max(1)).min(range.end);
        let positions: Vec<usize> = (start..end)
            .filter(|&j| j + 1 < range.end && wanted(j + 1))
            .map(|j| j - start)
            .collect();
        let Some(rows) = sequence.extend_to_rows(
            model,
            &tokens[start..end],
            Which::Positions(&positions),
            interrupted,
        )?
        else {
            pending.flush(model, tokens, &mut outcome.scores)?;
            return Ok(outcome);
        };
        pending.push(positions.iter().map(|&local| start + local + 1), rows);
        if pending.len() >= HEAD_ROWS {
            pending.flush(model, tokens, &mut outcome.scores)?;
        }
        outcome.reached = (end + 1).min(range.end);
        start = end;
    }
    pending.flush(model, tokens, &mut outcome.scores)?;
    // The last token of the range is fed too, so the next range continues from a full cache.
    if sequence.tokens().len() < range.end {
        let rest = &tokens[sequence.tokens().len()..range.end];
        sequence.extend_selected(model, rest, Which::Positions(&[]))?;
    }
    Ok(outcome)
}

/// Rows gathered for the output head across passes: at most this many wait. A product of 64 rows
/// reads the head's weights once where passes of 16 would read them four times; 128 rows measured
/// no faster (9.5–9.7 s against 9.4–9.6 s for a full scan with AMX tiles) and double the logits'
/// memory.
const HEAD_ROWS: usize = 64;

/// Hidden rows waiting for the output head, with the token index each one scores.
#[derive(Default)]
struct PendingRows {
    indices: Vec<usize>,
    rows: Vec<f32>,
    /// The head's output, reused from product to product.
    logits: Vec<f32>,
}

impl PendingRows {
    fn push(&mut self, indices: impl Iterator<Item = usize>, rows: Vec<f32>) {
        self.indices.extend(indices);
        self.rows.extend_from_slice(&rows);
    }

    fn len(&self) -> usize {
        self.indices.len()
    }

    /// Applies the head to every waiting row and appends their scores, in token order, at most
    /// [`HEAD_ROWS`] rows a product: their logits (1 MB a row for a 262k vocabulary) are what
    /// bounds the memory of scoring, whatever the pass length.
    fn flush(&mut self, model: &Model, tokens: &[u32], scores: &mut Vec<TokenScore>) -> Result<()> {
        if self.indices.is_empty() {
            return Ok(());
        }
        let hidden = model.config().hidden_size;
        for (indices, rows) in self
            .indices
            .chunks(HEAD_ROWS)
            .zip(self.rows.chunks(HEAD_ROWS * hidden))
        {
            model.head_into(rows, &mut self.logits)?;
            scores.extend(score_rows(&self.logits, tokens, indices)?);
        }
        self.indices.clear();
        self.rows.clear();
        Ok(())
    }
}

/// The scores of `indices` from their logits (`[indices.len(), vocab]`), in order.
///
/// Each row is a log-softmax over the whole vocabulary, so the rows are shared among the kernels'
/// worker threads: on one thread they took as long as a quarter of the head's product.
fn score_rows(logits: &[f32], tokens: &[u32], indices: &[usize]) -> Result<Vec<TokenScore>> {
    let vocab = logits.len() / indices.len().max(1);
    let slots: Vec<OnceLock<Result<TokenScore>>> =
        indices.iter().map(|_| OnceLock::new()).collect();
    candle_core::utils::barrier_pool().execute_chunked(indices.len(), |range| {
        for row in range {
            let values = &logits[row * vocab..(row + 1) * vocab];
            // `log_prob` refuses NaN and +infinity; -infinity only a broken matrix produces.
            let score = if values.iter().fold(true, |finite, v| finite & v.is_finite()) {
                score_row(values, tokens, indices[row])
            } else {
                Err(ModelError::NonFiniteLogits)
            };
            // Each row belongs to one worker, so every slot is set exactly once.
            let _ = slots[row].set(score);
        }
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("the pool covers every row"))
        .collect()
}

fn score_row(logits: &[f32], tokens: &[u32], index: usize) -> Result<TokenScore> {
    let (logprob, best, best_logprob) = log_prob(logits, tokens[index])?;
    Ok(TokenScore {
        index,
        logprob,
        best,
        best_logprob,
    })
}

/// Appends `fragment` to `sequence` in one forward pass and returns the log probabilities of its
/// last `tail` tokens, each given everything before it, in order (at most `fragment.len() - 1`
/// tokens: the first token's logits belong to the pass before).
///
/// Diagnostics fork a sequence before a flagged span and call this once with the text as written
/// and once with the model's fix, both followed by the same text: the difference says whether the
/// fix makes what follows likelier (a misspelling) or not (a surprising but correct new name).
pub fn tail_logprobs(
    model: &Model,
    sequence: &mut Sequence,
    fragment: &[u32],
    tail: usize,
) -> Result<Vec<f32>> {
    let count = fragment.len();
    let tail = tail.min(count.saturating_sub(1));
    if tail == 0 {
        return Ok(Vec::new());
    }
    // The logits after token j predict token j + 1.
    let positions: Vec<usize> = (count - tail - 1..count - 1).collect();
    let logits = sequence.extend_selected(model, fragment, Which::Positions(&positions))?;
    let vocab = model.config().vocab_size;
    positions
        .iter()
        .enumerate()
        .map(|(row, &position)| {
            log_prob(
                &logits[row * vocab..(row + 1) * vocab],
                fragment[position + 1],
            )
            .map(|(logprob, _, _)| logprob)
        })
        .collect()
}

/// The model's own version of a span of text, decoded greedily.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    /// The text the model writes instead.
    pub text: String,
    /// Bytes of the original span (from its start) that `text` replaces: less than the span when
    /// the model re-joined the original text early (it inserted or shortened), the whole span
    /// otherwise.
    pub replaces: usize,
}

/// Decodes greedily from just before `span` (token indices into `tokens`, whose text is
/// `original`: the document text from the span's first byte on) until the model re-joins the
/// original text or has written as many bytes as the span has.
///
/// Re-joining means the model's next token is the original text at some offset within the span:
/// the text written so far then replaces the original bytes before that offset. A model that
/// expects `self.` before `count` writes `self.` and then `count`, which re-joins at offset 0: an
/// insertion. A model that writes `return` for `retrun` reaches the span's length and is checked
/// once more, re-joining at offset 6. The sequence is left holding the prefix and the written
/// tokens; callers that continue must sync it again.
#[allow(clippy::too_many_arguments)]
pub fn rewrite_span(
    model: &Model,
    tokenizer: &Tokenizer,
    sequence: &mut Sequence,
    tokens: &[u32],
    span_start: usize,
    original: &str,
    span_bytes: usize,
    cancelled: &dyn Fn() -> bool,
) -> Result<Option<Rewrite>> {
    if span_start == 0 || span_start > tokens.len() {
        return Err(ModelError::BadLogitPosition {
            position: span_start,
            len: tokens.len(),
        });
    }
    let Some(synced) = sequence.sync(model, &tokens[..span_start], cancelled)? else {
        return Ok(None);
    };
    let span_has_newline = original.as_bytes()[..span_bytes.min(original.len())].contains(&b'\n');
    // A rewrite much longer than the span is the model continuing, not correcting.
    let max_bytes = span_bytes + 24;
    let mut written: Vec<u8> = Vec::new();
    let mut logits = synced.logits;
    loop {
        if cancelled() {
            return Ok(None);
        }
        let next = argmax(&logits)?;
        if tokenizer.is_control(next) || tokenizer.end_of_generation_ids().contains(&next) {
            break;
        }
        let piece = tokenizer.token_bytes(next)?;
        if !written.is_empty() && !piece.is_empty() {
            if let Some(offset) = rejoin_offset(original.as_bytes(), span_bytes, piece) {
                return Ok(Some(Rewrite {
                    text: String::from_utf8_lossy(&written).into_owned(),
                    replaces: offset,
                }));
            }
        }
        if written.len() >= span_bytes || written.len() + piece.len() > max_bytes {
            break;
        }
        if !span_has_newline && piece.contains(&b'\n') {
            break;
        }
        written.extend_from_slice(piece);
        logits = sequence.push(model, next)?;
    }
    if written.is_empty() {
        return Ok(None);
    }
    Ok(Some(Rewrite {
        text: String::from_utf8_lossy(&written).into_owned(),
        replaces: span_bytes.min(original.len()),
    }))
}

/// The first offset within `0..=span_bytes` at which `original` continues with `piece`, preferring
/// the span's end (a replacement) over earlier offsets (an insertion or deletion). Whitespace-only
/// pieces re-join nowhere: they match too easily to mean anything.
fn rejoin_offset(original: &[u8], span_bytes: usize, piece: &[u8]) -> Option<usize> {
    if piece.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    let span_bytes = span_bytes.min(original.len());
    let matches_at = |offset: usize| original[offset..].starts_with(piece);
    if matches_at(span_bytes) {
        return Some(span_bytes);
    }
    (0..span_bytes).find(|&offset| matches_at(offset))
}

#[cfg(test)]
mod tests {
    use super::rejoin_offset;

    #[test]
    fn rejoining_prefers_the_end_of_the_span() {
        assert_eq!(rejoin_offset(b"retrun x", 6, b" x"), Some(6));
        assert_eq!(rejoin_offset(b"count += 1", 5, b"count"), Some(0));
        assert_eq!(rejoin_offset(b"count += 1", 5, b" "), None);
        assert_eq!(rejoin_offset(b"abc", 3, b"zz"), None);
    }
}
