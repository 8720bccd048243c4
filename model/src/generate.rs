//! Text generation: prompt preparation (BOS, truncation to the context) and the decode loop with sampling, stop sequences and cancellation.

use std::time::{Duration, Instant};

use crate::detokenizer::StreamingDetokenizer;
use crate::error::{ModelError, Result};
use crate::gemma3::Gemma3;
use crate::sampling::{Sampler, SamplingParams};
use crate::sequence::Sequence;
use crate::stop::StopMatcher;
use crate::tokenizer::Tokenizer;

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
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 64,
            sampling: SamplingParams::greedy(),
            stop: Vec::new(),
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
        self.sampling.validate()
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
}

/// Generates a continuation of `prompt` in `sequence` (reusing what it has cached), sending each
/// piece of text to `on_text` as soon as it is complete. `cancelled` is asked before every forward
/// pass; after cancellation no more text is sent.
pub fn generate(
    model: &Gemma3,
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

    let mut result = Generation {
        text: String::new(),
        tokens: Vec::new(),
        finish: FinishReason::Length,
        prompt_tokens: prompt.len(),
        reused_tokens: 0,
        time_to_first_token: Duration::ZERO,
        decode_time: Duration::ZERO,
    };
    let Some(synced) = sequence.sync(model, prompt, cancelled)? else {
        result.finish = FinishReason::Cancelled;
        return Ok(result);
    };
    result.reused_tokens = synced.reused;
    let mut logits = synced.logits;
    let mut first_token_at = None;
    let mut emit = |text: String, result: &mut Generation| {
        if !text.is_empty() {
            on_text(&text);
            result.text.push_str(&text);
        }
    };
    while result.tokens.len() < max_tokens {
        let token = sampler.sample(&logits, sequence.tokens())?;
        first_token_at.get_or_insert_with(Instant::now);
        if tokenizer.end_of_generation_ids().contains(&token) {
            result.finish = FinishReason::EndOfGeneration;
            break;
        }
        result.tokens.push(token);
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
        if cancelled() {
            result.finish = FinishReason::Cancelled;
            break;
        }
        logits = sequence.push(model, token)?;
    }
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
