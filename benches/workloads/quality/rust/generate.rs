//! Text generation: prompt preparation (BOS, truncation to the context) and the decode loop with sampling, stop sequences, cancellation and speculative (prompt-lookup) decoding.

use std::time::{Duration, Instant};

use crate::detokenizer::StreamingDetokenizer;
use crate::error::{ModelError, Result};
use crate::sampling::{Sampler, SamplingParams};
use crate::sequence::Sequence;
use crate::speculative::{DraftParams, Drafter, MAX_DRAFT_SOURCE_LEN};
use crate::stop::StopMatcher;
use crate::tokenizer::Tokenizer;
use crate::transformer::Model;

/// Upper bound on `max_tokens`; longer requests are almost certainly a configuration mistake.
pub const MAX_NEW_TOKENS_LIMIT: usize = 8192;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// Tokens to generate at most; must be at least 1.
    pub max_tokens: usize,
    pub sampling: SamplingParams,
    /// Generation ends before the first occurrence of any of these strings.
    pub stop: Vec<String>,
    /// Speculative decoding by prompt lookup (see [`crate::speculative`]). It is used only for
    /// greedy decoding (temperature 0) and never changes the output: the generated tokens, the
    /// streamed text and the finish reason are the same as with `max_draft: 0`. With temperature
    /// above 0 it is switched off, because a draft can only be checked against a random draw by
    /// rejection sampling, which would consume the random generator differently and so change
    /// what a given seed produces.
    pub draft: DraftParams,
    /// Extra tokens drafts may be copied from besides the prompt and the generated tokens, e.g.
    /// the previous suggestion for nearly the same text; empty for none. At most 65,536 tokens;
    /// ids outside the vocabulary are never drafted.
    pub draft_source: Vec<u32>,
    /// Tokens that end generation besides the tokenizer's end-of-generation tokens (a
    /// fill-in-the-middle model's end-of-middle token); like those, they are not part of the output.
    pub stop_tokens: Vec<u32>,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 64,
            sampling: SamplingParams::greedy(),
            stop: Vec::new(),
            draft: DraftParams::default(),
            draft_source: Vec::new(),
            stop_tokens: Vec::new(),
        }
    }
}

impl GenerationParams {
    /// Rejects values outside their valid ranges.
    pub fn validate(&self) -> Result<()> {
        if self.max_tokens == 0 || self.max_tokens > MAX_NEW_TOKENS_LIMIT {
            return Err(ModelError::InvalidParameter {
                parameter: "max_tokens",
                reason: format!(
                    "must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {}",
                    self.max_tokens
                ),
            });
        }
        if self.draft_source.len() > MAX_DRAFT_SOURCE_LEN {
            return Err(ModelError::InvalidParameter {
                parameter: "draft_source",
                reason: format!(
                    "must hold at most {MAX_DRAFT_SOURCE_LEN} tokens, got {}",
                    self.draft_source.len()
                ),
            });
        }
        self.draft.validate()?;
        self.sampling.validate()
    }

    /// Whether this request will decode speculatively: drafting is on and decoding is greedy.
    pub fn drafts_enabled(&self) -> bool {
        // The same test as the sampler's own: temperature 0 (or -0.0) means greedy.
        self.draft.is_enabled() && self.sampling.temperature == 0.0
    }
}

/// A prompt ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    /// Token ids, starting with BOS.
    pub tokens: Vec<u32>,
    /// Tokens dropped from the start of the text to fit the context.
    pub truncated: usize,
}

/// Tokenizes `text` with BOS in front. When the prompt and `reserve` new tokens would not fit in
/// `context_length`, tokens are dropped from the start of the text (never the BOS) and the count is
/// reported, because the end of the text, next to the cursor, matters most for a completion.
pub fn prepare_prompt(
    tokenizer: &Tokenizer,
    text: &str,
    context_length: usize,
    reserve: usize,
) -> Result<Prompt> {
    let mut tokens = tokenizer.encode_with_bos(text)?;
    let budget = context_length.saturating_sub(reserve).max(2);
    let mut truncated = 0;
    if tokens.len() > budget {
        truncated = tokens.len() - budget;
        tokens.drain(1..1 + truncated);
    }
    Ok(Prompt { tokens, truncated })
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// `max_tokens` were generated.
    Length,
    /// The model produced an end-of-generation token.
    EndOfGeneration,
    /// A stop sequence appeared.
    Stop,
    /// The caller cancelled.
    Cancelled,
}

/// The result of one generation.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    /// Prompt tokens whose cached state was reused.
    pub reused_tokens: usize,
    /// From the call to the first generated token.
    pub time_to_first_token: Duration,
    /// From the first generated token to the end.
    pub decode_time: Duration,
    /// Forward passes after the prompt: one per generated token after the first without drafting,
    /// fewer when drafts are accepted. The prompt's passes (which yield the first token) are not counted.
    pub forward_passes: usize,
    /// Draft tokens run through the model for verification.
    pub drafted_tokens: usize,
    /// Draft tokens that greedy decoding confirmed (each saved one forward pass).
    pub accepted_tokens: usize,
}

impl Generation {
    /// Decode speed after the first token, in tokens per second.
    pub fn tokens_per_second(&self) -> f64 {
        let steps = self.tokens.len().saturating_sub(1);
        let seconds = self.decode_time.as_secs_f64();
        if steps == 0 || seconds == 0.0 {
            0.0
        } else {
            steps as f64 / seconds
        }
    }

    /// Share of the draft tokens that were confirmed; 0 when nothing was drafted.
    pub fn acceptance_rate(&self) -> f64 {
        if self.drafted_tokens == 0 {
            0.0
        } else {
            self.accepted_tokens as f64 / self.drafted_tokens as f64
        }
    }

    /// Generated tokens after the first per forward pass after the prompt: 1.0 without drafting
    /// (when generation runs to `max_tokens`), above 1 when drafts were accepted; 0 when no pass ran.
    pub fn tokens_per_forward(&self) -> f64 {
        if self.forward_passes == 0 {
            0.0
        } else {
            self.tokens.len().saturating_sub(1) as f64 / self.forward_passes as f64
        }
    }
}

/// Generates a continuation of `prompt` in `sequence` (reusing what it has cached), sending each
/// piece of text to `on_text` as soon as it is complete. `cancelled` is asked before every forward
/// pass; after cancellation no more text is sent.
///
/// With greedy sampling and [`GenerationParams::draft`] on, each forward pass after the prompt runs
/// the last generated token followed by a draft (see [`crate::speculative`]) and keeps the longest
/// prefix of the draft that greedy decoding picks itself; the picks are made from the same logits
/// with the same sampler and history as without a draft, so the tokens, the streamed text, the
/// finish reason and the tokens left in `sequence` are exactly those of plain decoding. Tokens
/// confirmed by one pass are emitted one after the other without asking `cancelled` in between,
/// because no forward pass separates them. The repetition penalty stays exact under drafting: each
/// position is judged with the history up to that position.
///
/// When this returns, `sequence` holds the prompt and the generated tokens whose logits were used,
/// i.e. all but the last generated token (all of them when generation ended with an
/// end-of-generation token), whether or not drafts were verified.
pub fn generate(
    model: &Model,
    tokenizer: &Tokenizer,
    sequence: &mut Sequence,
    prompt: &[u32],
    params: &GenerationParams,
    cancelled: &dyn Fn() -> bool,
    mut on_text: impl FnMut(&str),
) -> Result<Generation> {
    params.validate()?;
    let started = Instant::now();
    let mut sampler = Sampler::new(params.sampling.clone())?;
    let mut stop = StopMatcher::new(params.stop.clone())?;
    let mut detokenizer = StreamingDetokenizer::new(tokenizer);
    let room = model.config().context_length.saturating_sub(prompt.len());
    let max_tokens = params.max_tokens.min(room);
    let vocab_size = model.config().vocab_size;
    let drafter = params.drafts_enabled().then(|| Drafter::new(params.draft));

    let mut result = Generation {
        text: String::new(),
        tokens: Vec::new(),
        finish: FinishReason::Length,
        prompt_tokens: prompt.len(),
        reused_tokens: 0,
        time_to_first_token: Duration::ZERO,
        decode_time: Duration::ZERO,
        forward_passes: 0,
        drafted_tokens: 0,
        accepted_tokens: 0,
    };
    let Some(synced) = sequence.sync(model, prompt, cancelled)? else {
        result.finish = FinishReason::Cancelled;
        return Ok(result);
    };
    result.reused_tokens = synced.reused;
    // Logits of the last forward pass, one row per token of that pass.
    let mut logits = synced.logits;
    // The row of `logits` the next token is picked from.
    let mut row = 0;
    // The draft tokens of the last pass: `draft[i]` was run right after row `i`'s token, so row
    // `i + 1` is valid exactly when the pick from row `i` equals `draft[i]`.
    let mut draft: Vec<u32> = Vec::new();
    // How many tokens of `sequence` the current row follows: the history its pick is judged with.
    let mut fed = sequence.tokens().len();
    // Prompt and generated tokens, the text drafts are looked up in (kept only when drafting).
    let mut history = if drafter.is_some() {
        prompt.to_vec()
    } else {
        Vec::new()
    };
    let mut first_token_at = None;
    let mut emit = |text: String, result: &mut Generation| {
        if !text.is_empty() {
            on_text(&text);
            result.text.push_str(&text);
        }
    };
    while result.tokens.len() < max_tokens {
        let row_logits = &logits[row * vocab_size..(row + 1) * vocab_size];
        let token = sampler.sample(row_logits, &sequence.tokens()[..fed])?;
        first_token_at.get_or_insert_with(Instant::now);
        let confirmed = draft.get(row) == Some(&token);
        if confirmed {
            result.accepted_tokens += 1;
        }
        if tokenizer.end_of_generation_ids().contains(&token) || params.stop_tokens.contains(&token)
        {
            result.finish = FinishReason::EndOfGeneration;
            break;
        }
        result.tokens.push(token);
        if drafter.is_some() {
            history.push(token);
        }
        let piece = detokenizer.push(token)?;
        let (ready, stopped) = stop.push(&piece);
        emit(ready, &mut result);
        if stopped {
            result.finish = FinishReason::Stop;
            break;
        }
        if result.tokens.len() == max_tokens {
            break;
        }
        if confirmed {
            // The last pass already ran this token: its logits are the next row.
            row += 1;
            fed += 1;
            continue;
        }
        // The rest of the draft, if any, follows a token that was not picked: drop it. The
        // rollback never goes below the length `sync` left, so even a compacted cache keeps
        // every position (see `KvCache::truncate`).
        sequence.truncate(fed);
        debug_assert_eq!(sequence.tokens().len(), fed);
        if cancelled() {
            result.finish = FinishReason::Cancelled;
            break;
        }
        // Every pick from this pass counts towards `max_tokens`, so a draft longer than what is
        // left would be verified for nothing; the same bound keeps the pass inside the context.
        let left = max_tokens - result.tokens.len() - 1;
        draft = match &drafter {
            Some(drafter) => drafter.propose(&history, &params.draft_source, left),
            None => Vec::new(),
        };
        // Only the extra source can hold ids the model does not know; the model would reject them.
        if let Some(unknown) = draft.iter().position(|&id| id as usize >= vocab_size) {
            draft.truncate(unknown);
        }
        result.forward_passes += 1;
        logits = if draft.is_empty() {
            sequence.push(model, token)?
        } else {
            result.drafted_tokens += draft.len();
            let mut pass = Vec::with_capacity(1 + draft.len());
            pass.push(token);
            pass.extend_from_slice(&draft);
            match sequence.extend(model, &pass) {
                Ok(logits) => logits,
                Err(_) => {
                    // A verification pass checks the logits of every draft position, which plain
                    // decoding never computes; so that an error there cannot end a generation
                    // that plain decoding would finish, the token is run alone (nothing was
                    // appended), which fails exactly when plain decoding would.
                    draft.clear();
                    result.forward_passes += 1;
                    sequence.push(model, token)?
                }
            }
        };
        row = 0;
        fed += 1;
    }
    // Generation can end inside a confirmed draft (a stop, an end-of-generation token or
    // `max_tokens`): the tokens after the last used row were never part of the output.
    sequence.truncate(fed);
    if !matches!(result.finish, FinishReason::Stop | FinishReason::Cancelled) {
        let (ready, stopped) = stop.push(&detokenizer.finish());
        emit(ready, &mut result);
        if stopped {
            result.finish = FinishReason::Stop;
        } else {
            let rest = stop.finish();
            emit(rest, &mut result);
        }
    }
    let first = first_token_at.unwrap_or_else(Instant::now);
    result.time_to_first_token = first - started;
    result.decode_time = first.elapsed();
    Ok(result)
}
