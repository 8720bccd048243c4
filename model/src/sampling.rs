//! Sampling: choosing the next token from logits (greedy, temperature, top-k, top-p, min-p, repetition penalty).

use std::cmp::Ordering;
use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use wide::f32x8;

use crate::error::{ModelError, Result};

/// Highest temperature accepted; beyond it the distribution is close to uniform and output is noise.
const MAX_TEMPERATURE: f32 = 5.0;
/// Highest repetition penalty accepted; stronger penalties wreck grammar more than they help.
const MAX_REPEAT_PENALTY: f32 = 1.5;
/// Longest history window the repetition penalty may look at.
const MAX_REPEAT_LAST_N: usize = 4096;
/// How many candidates top-p sorts first. Peaked distributions reach the cutoff within this many
/// tokens, so the full vocabulary is rarely sorted.
const TOP_P_FIRST_BATCH: usize = 64;
/// Factor by which the top-p batch grows when the cutoff is not reached yet.
const TOP_P_BATCH_GROWTH: usize = 4;

/// How the next token is chosen from the model's logits.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy. Valid: finite, 0..=5.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 disables the filter.
    pub top_k: usize,
    /// Keep the smallest set of most likely tokens whose probability reaches `top_p`; valid (0, 1], 1 disables.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p` times the best token's; valid [0, 1), 0 disables.
    pub min_p: f32,
    /// Penalty for tokens seen recently (llama.cpp semantics: positive logits are divided by it,
    /// negative ones multiplied); valid 1.0..=1.5, 1.0 disables.
    pub repeat_penalty: f32,
    /// How many of the most recent tokens the repetition penalty looks at; at most 4096.
    pub repeat_last_n: usize,
    /// Seed of the random generator, so that a run can be reproduced.
    pub seed: u64,
}

impl Default for SamplingParams {
    /// Greedy decoding with every filter and the penalty disabled.
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: always the most likely token, no penalty.
    pub fn greedy() -> Self {
        Self::default()
    }

    /// Checks every parameter against its valid range and names the first one that is out of it.
    pub fn validate(&self) -> Result<()> {
        // The range checks are written so that NaN fails them too: `contains` is false for NaN.
        if !(0.0..=MAX_TEMPERATURE).contains(&self.temperature) {
            return Err(invalid(
                "temperature",
                format!(
                    "must be a finite number from 0 to {MAX_TEMPERATURE} (0 means greedy), got {}",
                    self.temperature
                ),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(invalid(
                "top_p",
                format!(
                    "must be greater than 0 and at most 1 (1 disables it), got {}",
                    self.top_p
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.min_p) {
            return Err(invalid(
                "min_p",
                format!(
                    "must be at least 0 and below 1 (0 disables it), got {}",
                    self.min_p
                ),
            ));
        }
        if !(1.0..=MAX_REPEAT_PENALTY).contains(&self.repeat_penalty) {
            return Err(invalid(
                "repeat_penalty",
                format!(
                    "must be from 1.0 to {MAX_REPEAT_PENALTY} (1.0 disables it), got {}",
                    self.repeat_penalty
                ),
            ));
        }
        if self.repeat_last_n > MAX_REPEAT_LAST_N {
            return Err(invalid(
                "repeat_last_n",
                format!(
                    "must be at most {MAX_REPEAT_LAST_N}, got {}",
                    self.repeat_last_n
                ),
            ));
        }
        Ok(())
    }

    /// Whether the temperature asks for greedy decoding (also true for -0.0).
    fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Whether the repetition penalty can change any logit at all.
    fn penalty_enabled(&self) -> bool {
        self.repeat_penalty != 1.0 && self.repeat_last_n > 0
    }
}

/// A token still in the running, with its (possibly penalised) logit.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    id: u32,
    logit: f32,
}

/// Orders candidates best first: higher logit, then lower id.
///
/// Breaking ties by id makes every selection deterministic and makes top-k=1 pick exactly the
/// token `argmax` picks. `partial_cmp` (rather than `total_cmp`) treats -0.0 and 0.0 as equal, as
/// `argmax` does; candidates never hold NaN, so the fallback to `Equal` is never taken.
fn best_first(a: &Candidate, b: &Candidate) -> Ordering {
    b.logit
        .partial_cmp(&a.logit)
        .unwrap_or(Ordering::Equal)
        .then(a.id.cmp(&b.id))
}

/// Chooses next tokens according to [`SamplingParams`], keeping its random generator and scratch
/// buffers between calls so that a 262k-wide vocabulary does not cost an allocation per token.
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    /// Tokens still in the running; reused between calls.
    candidates: Vec<Candidate>,
    /// Sorted, deduplicated ids the repetition penalty applies to in the current call.
    penalized: Vec<u32>,
    /// Penalised copy of the logits, used only when greedy decoding has to look past a penalised best token.
    scratch: Vec<f32>,
}

impl fmt::Debug for Sampler {
    // The buffers can hold hundreds of thousands of entries, so only the parameters are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// Creates a sampler after checking the parameters; the random generator is seeded from `params.seed`.
    pub fn new(params: SamplingParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            rng: StdRng::seed_from_u64(params.seed),
            params,
            candidates: Vec::new(),
            penalized: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// The parameters this sampler was created with.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Picks the next token. `history` = tokens so far (prompt + generated), used by the repetition
    /// penalty; ids outside the vocabulary are ignored there.
    ///
    /// Fails with [`ModelError::NonFiniteLogits`] if a logit is NaN or +infinity; -infinity is
    /// allowed and means the token is banned. Fails with `InvalidParameter` ("logits") if there are
    /// no logits or every token is banned.
    ///
    /// The steps follow llama.cpp's default chain: repetition penalty, top-k, top-p, min-p,
    /// temperature, then a weighted random draw.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> Result<u32> {
        check_len(logits)?;
        self.collect_penalized(logits.len(), history);
        if self.params.is_greedy() {
            return self.sample_greedy(logits);
        }
        self.collect_candidates(logits)?;
        self.apply_penalty();
        self.apply_top_k();
        self.apply_top_p();
        self.apply_min_p();
        Ok(self.draw())
    }

    /// Fills `penalized` with the distinct in-vocabulary ids among the last `repeat_last_n` tokens.
    fn collect_penalized(&mut self, vocab_size: usize, history: &[u32]) {
        self.penalized.clear();
        if !self.params.penalty_enabled() {
            return;
        }
        let start = history.len().saturating_sub(self.params.repeat_last_n);
        self.penalized.extend(
            history[start..]
                .iter()
                .copied()
                .filter(|&id| (id as usize) < vocab_size),
        );
        self.penalized.sort_unstable();
        self.penalized.dedup();
    }

    /// Greedy decoding: the best token after the repetition penalty.
    fn sample_greedy(&mut self, logits: &[f32]) -> Result<u32> {
        let (mut best, mut best_logit) = scan_argmax(logits)?;
        // If the maximum is +inf, some logit is +inf, which no softmax-based mode could handle
        // either; rejecting it here keeps greedy and sampled decoding consistent.
        if best_logit == f32::INFINITY {
            return Err(ModelError::NonFiniteLogits);
        }
        // The penalty only ever lowers logits, so an unpenalised best token stays the best (and
        // stays first among equals). Only when the best token itself is penalised does a second,
        // penalised pass have to run.
        if self.penalized.binary_search(&best).is_ok() {
            self.scratch.clear();
            self.scratch.extend_from_slice(logits);
            let penalty = self.params.repeat_penalty;
            for &id in &self.penalized {
                let logit = &mut self.scratch[id as usize];
                *logit = penalize(*logit, penalty);
            }
            (best, best_logit) = scan_argmax(&self.scratch)?;
        }
        if best_logit == f32::NEG_INFINITY {
            return Err(all_banned());
        }
        Ok(best)
    }

    /// Fills `candidates` with every token that is not banned, in id order.
    fn collect_candidates(&mut self, logits: &[f32]) -> Result<()> {
        self.candidates.clear();
        self.candidates.reserve(logits.len());
        let mut non_finite = false;
        for (id, &logit) in logits.iter().enumerate() {
            non_finite |= logit.is_nan() || logit == f32::INFINITY;
            if logit != f32::NEG_INFINITY {
                // `check_len` guaranteed that every index fits in a u32.
                self.candidates.push(Candidate {
                    id: id as u32,
                    logit,
                });
            }
        }
        if non_finite {
            return Err(ModelError::NonFiniteLogits);
        }
        if self.candidates.is_empty() {
            return Err(all_banned());
        }
        Ok(())
    }

    /// Applies the repetition penalty to the candidates, which are still in id order here.
    fn apply_penalty(&mut self) {
        let penalty = self.params.repeat_penalty;
        for &id in &self.penalized {
            if let Ok(pos) = self.candidates.binary_search_by_key(&id, |c| c.id) {
                let candidate = &mut self.candidates[pos];
                candidate.logit = penalize(candidate.logit, penalty);
            }
        }
    }

    /// Keeps the `top_k` best candidates, found by partial selection rather than a full sort.
    fn apply_top_k(&mut self) {
        let k = self.params.top_k;
        if k == 0 || k >= self.candidates.len() {
            return;
        }
        self.candidates.select_nth_unstable_by(k - 1, best_first);
        self.candidates.truncate(k);
    }

    /// Keeps the smallest best-first prefix whose probability mass reaches `top_p`.
    ///
    /// Rather than sorting every candidate, it sorts a small batch of the best ones, and only
    /// selects and sorts further batches (each larger than the last) while the mass is not reached.
    fn apply_top_p(&mut self) {
        let top_p = f64::from(self.params.top_p);
        let n = self.candidates.len();
        if top_p >= 1.0 || n <= 1 {
            return;
        }
        let max = max_logit(&self.candidates);
        let total: f64 = self
            .candidates
            .iter()
            .map(|c| f64::from((c.logit - max).exp()))
            .sum();
        let target = top_p * total;

        // Invariant: candidates[..done] are the `done` best candidates, sorted best first.
        let mut done = 0;
        let mut cumulative = 0.0f64;
        let mut batch = TOP_P_FIRST_BATCH;
        while done < n {
            let end = (done + batch).min(n);
            if end < n {
                self.candidates[done..].select_nth_unstable_by(end - done - 1, best_first);
            }
            self.candidates[done..end].sort_unstable_by(best_first);
            for i in done..end {
                cumulative += f64::from((self.candidates[i].logit - max).exp());
                if cumulative >= target {
                    self.candidates.truncate(i + 1);
                    return;
                }
            }
            done = end;
            batch = batch.saturating_mul(TOP_P_BATCH_GROWTH);
        }
        // Rounding kept the sum just below the target: every candidate stays.
    }

    /// Drops candidates whose probability is below `min_p` times the best one's, i.e. whose logit
    /// is below `max + ln(min_p)`. The best candidate always survives because `ln(min_p) < 0`.
    fn apply_min_p(&mut self) {
        let min_p = self.params.min_p;
        if min_p <= 0.0 || self.candidates.len() <= 1 {
            return;
        }
        let threshold = max_logit(&self.candidates) + min_p.ln();
        self.candidates.retain(|c| c.logit >= threshold);
    }

    /// Applies the temperature and draws one candidate with probability proportional to its weight.
    fn draw(&mut self) -> u32 {
        let temperature = self.params.temperature;
        let max = max_logit(&self.candidates);
        let mut total = 0.0f64;
        for candidate in &mut self.candidates {
            // Dividing (rather than multiplying by 1/temperature) keeps the best token's weight at
            // exactly 1 even for a subnormal temperature, whose inverse would overflow to infinity.
            let weight = ((candidate.logit - max) / temperature).exp();
            candidate.logit = weight;
            total += f64::from(weight);
        }
        let target = self.rng.random::<f64>() * total;
        let mut cumulative = 0.0f64;
        for candidate in &self.candidates {
            cumulative += f64::from(candidate.logit);
            if target < cumulative {
                return candidate.id;
            }
        }
        // `target` can round up to `total`; the last candidate with any weight is then the pick.
        // The best candidate has weight 1, so such a candidate exists.
        self.candidates
            .iter()
            .rev()
            .find(|c| c.logit > 0.0)
            .map_or(self.candidates[0].id, |c| c.id)
    }
}

/// Index of the largest value (first one on ties); error on empty or NaN.
///
/// If every value is -infinity the first index is returned.
pub fn argmax(logits: &[f32]) -> Result<u32> {
    check_len(logits)?;
    scan_argmax(logits).map(|(index, _)| index)
}

/// log-softmax value of `index` and of the best token, helper for diagnostics/tests: returns
/// (logprob_of_index, best_index, best_logprob).
///
/// Fails with `UnknownToken` if `index` is outside `logits`, with `NonFiniteLogits` on NaN or
/// +infinity, and with `InvalidParameter` ("logits") when the logits are empty or all -infinity.
pub fn log_prob(logits: &[f32], index: u32) -> Result<(f32, u32, f32)> {
    check_len(logits)?;
    let (best, max) = scan_argmax(logits)?;
    if max == f32::INFINITY {
        return Err(ModelError::NonFiniteLogits);
    }
    if max == f32::NEG_INFINITY {
        return Err(all_banned());
    }
    let Some(&logit) = logits.get(index as usize) else {
        return Err(ModelError::UnknownToken {
            id: index,
            vocab_size: logits.len(),
        });
    };
    // Subtracting the maximum before exponentiating keeps the sum from overflowing.
    let sum = sum_exp(logits, max);
    let log_sum_exp = f64::from(max) + sum.ln();
    let logprob = |l: f32| (f64::from(l) - log_sum_exp) as f32;
    Ok((logprob(logit), best, logprob(max)))
}

/// Rejects empty logits and vocabularies whose ids would not fit in a u32.
fn check_len(logits: &[f32]) -> Result<()> {
    if logits.is_empty() {
        return Err(invalid("logits", "no logits were given".to_string()));
    }
    if u32::try_from(logits.len()).is_err() {
        return Err(invalid(
            "logits",
            format!(
                "{} logits is more than a u32 token id can address",
                logits.len()
            ),
        ));
    }
    Ok(())
}

/// Index and value of the first maximum of non-empty logits, or an error on NaN.
///
/// Scoring every token of a file calls this (through [`log_prob`]) on thousands of 262k-entry
/// rows, so the maximum and the NaN check run eight lanes at a time; the index is then the first
/// position holding the maximum, which is what a one-by-one scan keeping the first of equals finds.
fn scan_argmax(logits: &[f32]) -> Result<(u32, f32)> {
    let (lanes, tail) = logits.as_chunks::<8>();
    let mut max = f32x8::splat(f32::NEG_INFINITY);
    let mut nan = f32x8::ZERO;
    for &values in lanes {
        let values = f32x8::from(values);
        // A NaN lane may spoil `max`, but then the call fails below, whatever the maximum.
        max = max.fast_max(values);
        nan |= values.simd_ne(values);
    }
    let mut best_logit = max.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max);
    let mut has_nan = nan.any();
    for &logit in tail {
        best_logit = best_logit.max(logit);
        has_nan |= logit.is_nan();
    }
    if has_nan {
        return Err(ModelError::NonFiniteLogits);
    }
    // Without NaN the maximum is one of the values (all -infinity: the first of them).
    let best = logits
        .iter()
        .position(|&logit| logit == best_logit)
        .unwrap_or(0);
    // Callers ran `check_len`, so the index fits in a u32.
    Ok((best as u32, best_logit))
}

/// `Σ exp(l - max)` over the logits, `max` being their maximum (so every term is at most 1).
///
/// The exponentials run eight lanes at a time in f32 (a vocabulary of 262k made the scalar f64
/// loop a sixth of a diagnostics scan); each lane sums at most 64 terms before the partial sums
/// are added in f64, so the 262k small terms lose no more precision than the f32 exponentials
/// themselves carry (relative 1e-7).
fn sum_exp(logits: &[f32], max: f32) -> f64 {
    const SPAN: usize = 512;
    let shift = f32x8::splat(max);
    logits
        .chunks(SPAN)
        .map(|span| {
            let (lanes, tail) = span.as_chunks::<8>();
            let mut sum = f32x8::ZERO;
            for &values in lanes {
                sum += (f32x8::from(values) - shift).exp();
            }
            let tail: f64 = tail.iter().map(|&l| f64::from((l - max).exp())).sum();
            f64::from(sum.reduce_add()) + tail
        })
        .sum()
}

/// llama.cpp's repetition penalty: positive logits are divided, the rest multiplied, so that the
/// penalised token always becomes less likely.
fn penalize(logit: f32, penalty: f32) -> f32 {
    if logit > 0.0 {
        logit / penalty
    } else {
        logit * penalty
    }
}

/// Largest logit among non-empty candidates.
fn max_logit(candidates: &[Candidate]) -> f32 {
    candidates
        .iter()
        .fold(f32::NEG_INFINITY, |max, c| max.max(c.logit))
}

fn invalid(parameter: &'static str, reason: String) -> ModelError {
    ModelError::InvalidParameter { parameter, reason }
}

fn all_banned() -> ModelError {
    invalid(
        "logits",
        "every token has logit -infinity, so none can be chosen".to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            ..SamplingParams::default()
        }
    }

    fn sampler(p: SamplingParams) -> Sampler {
        Sampler::new(p).expect("valid parameters")
    }

    /// Logits whose softmax is exactly the given probabilities.
    fn logits_from_probs(probs: &[f64]) -> Vec<f32> {
        probs.iter().map(|p| p.ln() as f32).collect()
    }

    fn random_logits(rng: &mut StdRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random::<f32>() * 20.0 - 10.0).collect()
    }

    /// How often each token is drawn in `draws` calls.
    fn histogram(s: &mut Sampler, logits: &[f32], history: &[u32], draws: usize) -> Vec<usize> {
        let mut counts = vec![0; logits.len()];
        for _ in 0..draws {
            counts[s.sample(logits, history).unwrap() as usize] += 1;
        }
        counts
    }

    fn invalid_parameter(err: ModelError) -> &'static str {
        match err {
            ModelError::InvalidParameter { parameter, .. } => parameter,
            other => panic!("expected InvalidParameter, got {other:?}"),
        }
    }

    #[test]
    fn default_is_greedy_and_valid() {
        let p = SamplingParams::default();
        assert_eq!(p, SamplingParams::greedy());
        assert_eq!(p.temperature, 0.0);
        assert_eq!(p.top_k, 0);
        assert_eq!(p.top_p, 1.0);
        assert_eq!(p.min_p, 0.0);
        assert_eq!(p.repeat_penalty, 1.0);
        assert_eq!(p.repeat_last_n, 64);
        assert_eq!(p.seed, 0);
        p.validate().unwrap();
        assert_eq!(sampler(p.clone()).params(), &p);
    }

    #[test]
    fn argmax_takes_first_of_ties_and_rejects_bad_input() {
        assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]).unwrap(), 1);
        assert_eq!(argmax(&[-0.0, 0.0]).unwrap(), 0);
        assert_eq!(argmax(&[f32::NEG_INFINITY, -5.0]).unwrap(), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY; 3]).unwrap(), 0);
        assert_eq!(invalid_parameter(argmax(&[]).unwrap_err()), "logits");
        assert!(matches!(
            argmax(&[1.0, f32::NAN, 2.0]),
            Err(ModelError::NonFiniteLogits)
        ));
    }

    #[test]
    fn greedy_equals_argmax() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut s = sampler(SamplingParams::greedy());
        for _ in 0..20 {
            let logits = random_logits(&mut rng, 5000);
            let history: Vec<u32> = (0..100).collect();
            assert_eq!(
                s.sample(&logits, &history).unwrap(),
                argmax(&logits).unwrap()
            );
        }
    }

    #[test]
    fn penalty_changes_choice_for_positive_and_negative_logits() {
        let p = SamplingParams {
            repeat_penalty: 1.1,
            ..SamplingParams::greedy()
        };
        let mut s = sampler(p);
        // 2.0 / 1.1 = 1.82 falls below 1.9.
        let positive = [2.0, 1.9, 0.5];
        assert_eq!(s.sample(&positive, &[]).unwrap(), 0);
        assert_eq!(s.sample(&positive, &[0]).unwrap(), 1);
        // -1.0 * 1.1 = -1.1 falls below -1.05.
        let negative = [-1.0, -1.05, -3.0];
        assert_eq!(s.sample(&negative, &[]).unwrap(), 0);
        assert_eq!(s.sample(&negative, &[0, 0, 0]).unwrap(), 1);
        // Penalising both leaves the order as it was.
        assert_eq!(s.sample(&positive, &[1, 0]).unwrap(), 0);
        // Out-of-vocabulary ids in the history are ignored.
        assert_eq!(s.sample(&positive, &[99, 1_000_000]).unwrap(), 0);
    }

    #[test]
    fn penalty_only_looks_at_the_last_n_tokens() {
        let p = SamplingParams {
            repeat_penalty: 1.5,
            repeat_last_n: 2,
            ..SamplingParams::greedy()
        };
        let mut s = sampler(p);
        let logits = [2.0, 1.9];
        assert_eq!(s.sample(&logits, &[0, 1, 1]).unwrap(), 0);
        assert_eq!(s.sample(&logits, &[1, 0, 0]).unwrap(), 1);

        let off = SamplingParams {
            repeat_penalty: 1.5,
            repeat_last_n: 0,
            ..SamplingParams::greedy()
        };
        assert_eq!(sampler(off).sample(&logits, &[0]).unwrap(), 0);
    }

    #[test]
    fn penalty_applies_when_sampling_too() {
        let p = SamplingParams {
            temperature: 1.0,
            top_k: 1,
            repeat_penalty: 1.5,
            ..SamplingParams::default()
        };
        let mut s = sampler(p);
        assert_eq!(s.sample(&[3.0, 2.5, 0.0], &[]).unwrap(), 0);
        assert_eq!(s.sample(&[3.0, 2.5, 0.0], &[0]).unwrap(), 1);
    }

    #[test]
    fn top_k_one_equals_greedy_at_any_temperature() {
        let mut rng = StdRng::seed_from_u64(11);
        for &temperature in &[0.1, 0.7, 1.0, 2.0, 5.0] {
            let p = SamplingParams {
                temperature,
                top_k: 1,
                top_p: 0.9,
                min_p: 0.05,
                repeat_penalty: 1.2,
                seed: 3,
                ..SamplingParams::default()
            };
            let mut s = sampler(p);
            let mut greedy = sampler(SamplingParams {
                repeat_penalty: 1.2,
                ..SamplingParams::greedy()
            });
            for _ in 0..10 {
                let mut logits = random_logits(&mut rng, 3000);
                // A tie for the maximum must break the same way in both modes.
                logits[2000] = 50.0;
                logits[100] = 50.0;
                let history = [100u32, 7, 8];
                assert_eq!(
                    s.sample(&logits, &history).unwrap(),
                    greedy.sample(&logits, &history).unwrap()
                );
            }
        }
    }

    #[test]
    fn top_k_keeps_only_the_k_best() {
        let p = SamplingParams {
            temperature: 5.0,
            top_k: 3,
            seed: 1,
            ..SamplingParams::default()
        };
        let mut s = sampler(p);
        let logits = [1.0, 5.0, 0.0, 4.0, 3.0, 2.9, -1.0];
        let counts = histogram(&mut s, &logits, &[], 3000);
        for (id, &count) in counts.iter().enumerate() {
            if [1, 3, 4].contains(&id) {
                assert!(count > 0, "token {id} never drawn");
            } else {
                assert_eq!(count, 0, "token {id} should be excluded");
            }
        }
    }

    #[test]
    fn same_seed_reproduces() {
        let mut rng = StdRng::seed_from_u64(5);
        let logits = random_logits(&mut rng, 1000);
        let p = SamplingParams {
            temperature: 1.0,
            top_p: 0.95,
            seed: 42,
            ..SamplingParams::default()
        };
        let mut a = sampler(p.clone());
        let mut b = sampler(p);
        let run = |s: &mut Sampler| -> Vec<u32> {
            (0..200).map(|_| s.sample(&logits, &[]).unwrap()).collect()
        };
        assert_eq!(run(&mut a), run(&mut b));
    }

    #[test]
    fn different_seeds_differ() {
        let logits = vec![0.0f32; 100];
        let run = |seed| -> Vec<u32> {
            let mut s = sampler(SamplingParams {
                temperature: 1.0,
                seed,
                ..SamplingParams::default()
            });
            (0..50).map(|_| s.sample(&logits, &[]).unwrap()).collect()
        };
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn draws_follow_the_softmax_distribution() {
        let probs = [0.5, 0.25, 0.15, 0.1];
        let logits = logits_from_probs(&probs);
        let mut s = sampler(SamplingParams {
            temperature: 1.0,
            seed: 9,
            ..SamplingParams::default()
        });
        let draws = 40_000;
        let counts = histogram(&mut s, &logits, &[], draws);
        for (count, p) in counts.iter().zip(probs) {
            let freq = *count as f64 / draws as f64;
            assert!((freq - p).abs() < 0.015, "frequency {freq} vs {p}");
        }

        // Temperature 2 flattens the distribution: probabilities become proportional to sqrt(p).
        let mut hot = sampler(SamplingParams {
            temperature: 2.0,
            seed: 10,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut hot, &logits, &[], draws);
        let norm: f64 = probs.iter().map(|p| p.sqrt()).sum();
        for (count, p) in counts.iter().zip(probs) {
            let expected = p.sqrt() / norm;
            let freq = *count as f64 / draws as f64;
            assert!(
                (freq - expected).abs() < 0.015,
                "frequency {freq} vs {expected}"
            );
        }
    }

    #[test]
    fn top_p_excludes_the_tail() {
        // 0.5 alone is below 0.7, 0.5 + 0.3 reaches it: tokens 0 and 1 stay.
        let logits = logits_from_probs(&[0.5, 0.3, 0.15, 0.05]);
        let mut s = sampler(SamplingParams {
            temperature: 1.0,
            top_p: 0.7,
            seed: 4,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut s, &logits, &[], 4000);
        assert!(counts[0] > 0 && counts[1] > 0);
        assert_eq!(counts[2] + counts[3], 0);
    }

    #[test]
    fn top_p_over_a_wide_vocabulary_keeps_the_exact_mass() {
        // Uniform logits over 1000 tokens with top_p 0.5: exactly 500 tokens stay, the lowest ids
        // (ties break by id). This needs several batches of the incremental sort.
        let logits = vec![1.0f32; 1000];
        let mut s = sampler(SamplingParams {
            temperature: 1.0,
            top_p: 0.5,
            seed: 8,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut s, &logits, &[], 20_000);
        assert!(counts[500..].iter().all(|&c| c == 0));
        assert!(counts[..500].iter().filter(|&&c| c > 0).count() > 450);
    }

    #[test]
    fn top_p_after_top_k_renormalises_over_the_kept_tokens() {
        // After top-k=2 the kept probabilities are 0.6/0.4, so top_p 0.55 keeps only token 0.
        let logits = logits_from_probs(&[0.3, 0.2, 0.2, 0.2, 0.1]);
        let mut s = sampler(SamplingParams {
            temperature: 1.0,
            top_k: 2,
            top_p: 0.55,
            seed: 2,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut s, &logits, &[], 1000);
        assert_eq!(counts[0], 1000);
    }

    #[test]
    fn min_p_excludes_unlikely_tokens() {
        // Threshold is 0.2 * 0.6 = 0.12: token 2 (0.1) and token 3 (0.05) go.
        let logits = logits_from_probs(&[0.6, 0.25, 0.1, 0.05]);
        let mut s = sampler(SamplingParams {
            temperature: 1.5,
            min_p: 0.2,
            seed: 6,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut s, &logits, &[], 4000);
        assert!(counts[0] > 0 && counts[1] > 0);
        assert_eq!(counts[2] + counts[3], 0);
    }

    #[test]
    fn banned_tokens_are_never_drawn() {
        let logits = [0.0, f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY];
        let mut s = sampler(SamplingParams {
            temperature: 5.0,
            repeat_penalty: 1.3,
            seed: 12,
            ..SamplingParams::default()
        });
        let counts = histogram(&mut s, &logits, &[1, 3], 2000);
        assert_eq!(counts[1] + counts[3], 0);
        assert!(counts[0] > 0 && counts[2] > 0);
    }

    #[test]
    fn all_banned_is_an_error_in_both_modes() {
        let logits = [f32::NEG_INFINITY; 4];
        let mut greedy = sampler(SamplingParams::greedy());
        assert_eq!(
            invalid_parameter(greedy.sample(&logits, &[]).unwrap_err()),
            "logits"
        );
        let mut hot = sampler(params(1.0));
        assert_eq!(
            invalid_parameter(hot.sample(&logits, &[]).unwrap_err()),
            "logits"
        );
        assert_eq!(
            invalid_parameter(hot.sample(&[], &[]).unwrap_err()),
            "logits"
        );
    }

    #[test]
    fn nan_and_positive_infinity_give_non_finite_logits() {
        for temperature in [0.0, 1.0] {
            let mut s = sampler(params(temperature));
            for bad in [f32::NAN, f32::INFINITY] {
                let logits = [1.0, bad, 0.5];
                assert!(
                    matches!(s.sample(&logits, &[]), Err(ModelError::NonFiniteLogits)),
                    "temperature {temperature}, logit {bad}"
                );
            }
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        let cases: Vec<(&str, SamplingParams)> = vec![
            ("temperature", params(-0.1)),
            ("temperature", params(5.01)),
            ("temperature", params(f32::NAN)),
            ("temperature", params(f32::INFINITY)),
            (
                "top_p",
                SamplingParams {
                    top_p: 0.0,
                    ..SamplingParams::default()
                },
            ),
            (
                "top_p",
                SamplingParams {
                    top_p: 1.01,
                    ..SamplingParams::default()
                },
            ),
            (
                "top_p",
                SamplingParams {
                    top_p: f32::NAN,
                    ..SamplingParams::default()
                },
            ),
            (
                "min_p",
                SamplingParams {
                    min_p: 1.0,
                    ..SamplingParams::default()
                },
            ),
            (
                "min_p",
                SamplingParams {
                    min_p: -0.01,
                    ..SamplingParams::default()
                },
            ),
            (
                "repeat_penalty",
                SamplingParams {
                    repeat_penalty: 0.9,
                    ..SamplingParams::default()
                },
            ),
            (
                "repeat_penalty",
                SamplingParams {
                    repeat_penalty: 1.51,
                    ..SamplingParams::default()
                },
            ),
            (
                "repeat_penalty",
                SamplingParams {
                    repeat_penalty: f32::NAN,
                    ..SamplingParams::default()
                },
            ),
            (
                "repeat_last_n",
                SamplingParams {
                    repeat_last_n: 4097,
                    ..SamplingParams::default()
                },
            ),
        ];
        for (name, p) in cases {
            assert_eq!(invalid_parameter(p.validate().unwrap_err()), name, "{p:?}");
            assert_eq!(invalid_parameter(Sampler::new(p).unwrap_err()), name);
        }
        // The edges of every range are valid.
        SamplingParams {
            temperature: 5.0,
            top_k: usize::MAX,
            top_p: 1.0,
            min_p: 0.99,
            repeat_penalty: 1.5,
            repeat_last_n: 4096,
            seed: u64::MAX,
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn log_prob_matches_softmax() {
        let probs = [0.1, 0.6, 0.3];
        let logits: Vec<f32> = logits_from_probs(&probs).iter().map(|l| l + 7.0).collect();
        for (i, p) in probs.iter().enumerate() {
            let (lp, best, best_lp) = log_prob(&logits, i as u32).unwrap();
            assert!((f64::from(lp) - p.ln()).abs() < 1e-5);
            assert_eq!(best, 1);
            assert!((f64::from(best_lp) - 0.6f64.ln()).abs() < 1e-5);
        }
        let (lp, _, _) = log_prob(&[0.0, f32::NEG_INFINITY], 1).unwrap();
        assert_eq!(lp, f32::NEG_INFINITY);
        assert!(matches!(
            log_prob(&logits, 3),
            Err(ModelError::UnknownToken {
                id: 3,
                vocab_size: 3
            })
        ));
        assert!(matches!(
            log_prob(&[f32::NAN], 0),
            Err(ModelError::NonFiniteLogits)
        ));
        assert_eq!(
            invalid_parameter(log_prob(&[f32::NEG_INFINITY], 0).unwrap_err()),
            "logits"
        );
    }

    #[test]
    fn sampler_handles_a_full_size_vocabulary_and_changing_widths() {
        let mut rng = StdRng::seed_from_u64(13);
        let mut s = sampler(SamplingParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            seed: 1,
            ..SamplingParams::default()
        });
        for n in [262_144, 10, 262_144, 1] {
            let logits = random_logits(&mut rng, n);
            let history: Vec<u32> = (0..64).map(|i| i * 3).collect();
            let id = s.sample(&logits, &history).unwrap();
            assert!((id as usize) < n);
        }
    }

    /// The vectorized log-softmax against a plain f64 one over a vocabulary-sized row, and the
    /// vectorized argmax against a one-by-one scan: ties keep the first index, a maximum in the
    /// tail that does not fill eight lanes is found, -infinity entries count for nothing.
    #[test]
    fn vectorized_log_softmax_and_argmax_match_plain_loops() {
        let mut state = 7u32;
        let mut logits: Vec<f32> = (0..262_147)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 40.0 - 25.0
            })
            .collect();
        logits[100] = f32::NEG_INFINITY;
        let plain = |logits: &[f32], index: usize| {
            let (mut best, mut max) = (0, f32::NEG_INFINITY);
            for (i, &l) in logits.iter().enumerate() {
                if l > max {
                    (best, max) = (i, l);
                }
            }
            let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
            let lse = f64::from(max) + sum.ln();
            ((f64::from(logits[index]) - lse) as f32, best as u32)
        };
        for (at, value) in [
            (None, 0.0),
            (Some(5), 16.0),
            (Some(262_146), 30.0),
            (Some(9), 30.0),
        ] {
            if let Some(at) = at {
                logits[at] = value;
            }
            for index in [0, 100, 5, 262_146, 131_072] {
                let (expected, best) = plain(&logits, index);
                let (ours, our_best, _) = log_prob(&logits, index as u32).unwrap();
                assert_eq!(our_best, best, "argmax after setting {at:?}");
                let tolerance = 1e-5 * expected.abs().max(1.0);
                assert!(
                    ours == expected || (ours - expected).abs() <= tolerance,
                    "index {index}: {ours} vs {expected}"
                );
            }
        }
        // Two equal maxima: the first wins (positions 9 and 262_146 both hold 30).
        assert_eq!(argmax(&logits).unwrap(), 9);
        logits[262_146] = f32::NAN;
        assert!(matches!(
            log_prob(&logits, 0),
            Err(ModelError::NonFiniteLogits)
        ));
    }
}
