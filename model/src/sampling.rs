//! Sampling: choosing the next token from logits (greedy, temperature, top-k, top-p, min-p, repetition penalty).
//!
//! The order of the chain follows llama.cpp's default: repetition penalty, top-k, top-p, min-p,
//! temperature, then a draw. Greedy decoding (temperature 0) without a penalty is a single pass
//! over the logits, because it runs once per generated token over a 262,144-wide vocabulary.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::{ModelError, Result};

/// How to pick the next token.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy. Valid: 0..=5.
    pub temperature: f32,
    /// Keep only the k most likely tokens; 0 disables.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p; 1 disables. Valid: (0, 1].
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the best; 0 disables. Valid: [0, 1).
    pub min_p: f32,
    /// Penalty on tokens seen in the last `repeat_last_n` tokens; 1 disables. Valid: 1..=1.5.
    pub repeat_penalty: f32,
    /// How many recent tokens the penalty looks at. Valid: 0..=4096.
    pub repeat_last_n: usize,
    /// Seed of the random draws, so that sampled completions can be reproduced.
    pub seed: u64,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self::greedy()
    }
}

impl SamplingParams {
    /// Deterministic decoding: always the most likely token.
    pub fn greedy() -> Self {
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

    /// Rejects values outside their valid ranges, naming the parameter.
    pub fn validate(&self) -> Result<()> {
        let invalid = |parameter: &'static str, reason: String| Err(ModelError::InvalidParameter { parameter, reason });
        if !self.temperature.is_finite() || !(0.0..=5.0).contains(&self.temperature) {
            return invalid("temperature", format!("must be between 0 and 5, got {}", self.temperature));
        }
        if !self.top_p.is_finite() || self.top_p <= 0.0 || self.top_p > 1.0 {
            return invalid("top_p", format!("must be in (0, 1], got {}", self.top_p));
        }
        if !self.min_p.is_finite() || !(0.0..1.0).contains(&self.min_p) {
            return invalid("min_p", format!("must be in [0, 1), got {}", self.min_p));
        }
        if !self.repeat_penalty.is_finite() || !(1.0..=1.5).contains(&self.repeat_penalty) {
            return invalid(
                "repeat_penalty",
                format!("must be between 1.0 and 1.5, got {}", self.repeat_penalty),
            );
        }
        if self.repeat_last_n > 4096 {
            return invalid("repeat_last_n", format!("must be at most 4096, got {}", self.repeat_last_n));
        }
        Ok(())
    }

    fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == 1
    }
}

/// Picks tokens according to [`SamplingParams`], keeping its random state between calls.
pub struct Sampler {
    params: SamplingParams,
    rng: StdRng,
    /// Reused candidate buffer: (token, logit).
    candidates: Vec<(u32, f32)>,
    penalized: Vec<f32>,
}

impl Sampler {
    /// A sampler for valid `params`.
    pub fn new(params: SamplingParams) -> Result<Self> {
        params.validate()?;
        Ok(Self {
            rng: StdRng::seed_from_u64(params.seed),
            params,
            candidates: Vec::new(),
            penalized: Vec::new(),
        })
    }

    /// The parameters in use.
    pub fn params(&self) -> &SamplingParams {
        &self.params
    }

    /// Picks the next token. `history` holds the tokens so far; the repetition penalty looks at its end.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> Result<u32> {
        if logits.iter().any(|v| v.is_nan()) {
            return Err(ModelError::NonFiniteLogits);
        }
        if self.params.repeat_penalty == 1.0 || self.params.repeat_last_n == 0 {
            return self.pick(logits);
        }
        let mut penalized = std::mem::take(&mut self.penalized);
        penalized.clear();
        penalized.extend_from_slice(logits);
        let recent = &history[history.len().saturating_sub(self.params.repeat_last_n)..];
        let mut seen = std::collections::HashSet::with_capacity(recent.len());
        for &token in recent {
            let index = token as usize;
            if index < penalized.len() && seen.insert(token) {
                // llama.cpp's rule: shrink positive logits, grow negative ones.
                let value = &mut penalized[index];
                if *value > 0.0 {
                    *value /= self.params.repeat_penalty;
                } else {
                    *value *= self.params.repeat_penalty;
                }
            }
        }
        let picked = self.pick(&penalized);
        self.penalized = penalized;
        picked
    }

    fn pick(&mut self, logits: &[f32]) -> Result<u32> {
        if self.params.is_greedy() {
            argmax(logits)
        } else {
            self.sample_from(logits)
        }
    }

    fn sample_from(&mut self, logits: &[f32]) -> Result<u32> {
        let params = &self.params;
        let candidates = &mut self.candidates;
        candidates.clear();
        candidates.extend(
            logits
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > f32::NEG_INFINITY)
                .map(|(i, &v)| (i as u32, v)),
        );
        if candidates.is_empty() {
            return Err(ModelError::NonFiniteLogits);
        }
        let by_logit_desc = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if params.top_k > 0 && params.top_k < candidates.len() {
            candidates.select_nth_unstable_by(params.top_k - 1, by_logit_desc);
            candidates.truncate(params.top_k);
        }
        candidates.sort_unstable_by(by_logit_desc);
        // Probabilities at temperature 1 decide top-p and min-p, as in llama.cpp; the temperature
        // only reshapes what survives.
        let max = candidates[0].1;
        let weights: Vec<f64> = candidates.iter().map(|c| f64::from(c.1 - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut keep = candidates.len();
        if params.top_p < 1.0 {
            let mut cumulative = 0.0;
            for (i, w) in weights.iter().enumerate() {
                cumulative += w / total;
                if cumulative >= f64::from(params.top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        if params.min_p > 0.0 {
            let threshold = f64::from(params.min_p) * weights[0];
            keep = keep.min(weights.iter().take_while(|&&w| w >= threshold).count().max(1));
        }
        candidates.truncate(keep);
        let inv_temperature = 1.0 / f64::from(params.temperature);
        let scaled: Vec<f64> = candidates
            .iter()
            .map(|c| (f64::from(c.1 - max) * inv_temperature).exp())
            .collect();
        let total: f64 = scaled.iter().sum();
        let mut draw = self.rng.random::<f64>() * total;
        for (candidate, weight) in candidates.iter().zip(&scaled) {
            if draw < *weight {
                return Ok(candidate.0);
            }
            draw -= weight;
        }
        Ok(candidates[candidates.len() - 1].0)
    }
}

/// Index of the largest logit (the first one on ties).
pub fn argmax(logits: &[f32]) -> Result<u32> {
    let mut best = None::<(usize, f32)>;
    for (index, &value) in logits.iter().enumerate() {
        if value.is_nan() {
            return Err(ModelError::NonFiniteLogits);
        }
        if best.is_none_or(|(_, top)| value > top) {
            best = Some((index, value));
        }
    }
    best.map(|(index, _)| index as u32).ok_or(ModelError::EmptyInput)
}

/// Log-probability of `index`, with the best token and its log-probability: `(log p(index), best, log p(best))`.
pub fn log_prob(logits: &[f32], index: u32) -> Result<(f32, u32, f32)> {
    let best = argmax(logits)?;
    let value = *logits.get(index as usize).ok_or(ModelError::UnknownToken {
        id: index,
        vocab_size: logits.len(),
    })?;
    let max = logits[best as usize];
    let sum: f64 = logits.iter().map(|&v| f64::from(v - max).exp()).sum();
    let log_z = f64::from(max) + sum.ln();
    Ok(((f64::from(value) - log_z) as f32, best, (f64::from(max) - log_z) as f32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SamplingParams {
        SamplingParams::greedy()
    }

    #[test]
    fn greedy_is_argmax() {
        let mut sampler = Sampler::new(params()).unwrap();
        assert_eq!(sampler.sample(&[0.1, 3.0, 2.9, -1.0], &[]).unwrap(), 1);
    }

    #[test]
    fn repetition_penalty_changes_the_choice() {
        let logits = [2.0, 1.9, 0.0];
        let mut sampler = Sampler::new(SamplingParams { repeat_penalty: 1.3, ..params() }).unwrap();
        assert_eq!(sampler.sample(&logits, &[0]).unwrap(), 1);
        assert_eq!(sampler.sample(&logits, &[2]).unwrap(), 0);
    }

    #[test]
    fn top_k_one_is_greedy_at_any_temperature() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 101) as f32 / 10.0).collect();
        let best = argmax(&logits).unwrap();
        let mut sampler = Sampler::new(SamplingParams { temperature: 5.0, top_k: 1, ..params() }).unwrap();
        for _ in 0..50 {
            assert_eq!(sampler.sample(&logits, &[]).unwrap(), best);
        }
    }

    fn draws(params: SamplingParams, logits: &[f32], n: usize) -> Vec<u32> {
        let mut sampler = Sampler::new(params).unwrap();
        (0..n).map(|_| sampler.sample(logits, &[]).unwrap()).collect()
    }

    #[test]
    fn seeds_reproduce_and_differ() {
        let logits = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let base = SamplingParams { temperature: 1.0, ..params() };
        let a = draws(SamplingParams { seed: 7, ..base.clone() }, &logits, 200);
        assert_eq!(a, draws(SamplingParams { seed: 7, ..base.clone() }, &logits, 200));
        assert_ne!(a, draws(SamplingParams { seed: 8, ..base.clone() }, &logits, 200));
        // Uniform logits: every token should be drawn a fair share of the time.
        for token in 0..6 {
            let count = a.iter().filter(|&&t| t == token).count();
            assert!((15..=60).contains(&count), "token {token} drawn {count} times");
        }
    }

    #[test]
    fn top_p_and_min_p_exclude_unlikely_tokens() {
        // Probabilities about 0.64, 0.24, 0.09, 0.03.
        let logits = [3.0, 2.0, 1.0, 0.0];
        let top_p = draws(SamplingParams { temperature: 1.0, top_p: 0.7, ..params() }, &logits, 500);
        assert!(top_p.iter().all(|&t| t <= 1), "top-p let through {top_p:?}");
        assert!(top_p.contains(&1));
        let min_p = draws(SamplingParams { temperature: 1.0, min_p: 0.2, ..params() }, &logits, 500);
        assert!(min_p.iter().all(|&t| t <= 1));
        let top_k = draws(SamplingParams { temperature: 2.0, top_k: 3, ..params() }, &logits, 500);
        assert!(!top_k.contains(&3));
        assert!(top_k.contains(&2));
    }

    #[test]
    fn invalid_parameters_name_themselves() {
        let cases = [
            (SamplingParams { temperature: -1.0, ..params() }, "temperature"),
            (SamplingParams { temperature: f32::NAN, ..params() }, "temperature"),
            (SamplingParams { top_p: 0.0, ..params() }, "top_p"),
            (SamplingParams { min_p: 1.0, ..params() }, "min_p"),
            (SamplingParams { repeat_penalty: 2.0, ..params() }, "repeat_penalty"),
            (SamplingParams { repeat_last_n: 100_000, ..params() }, "repeat_last_n"),
        ];
        for (params, name) in cases {
            match Sampler::new(params) {
                Err(ModelError::InvalidParameter { parameter, .. }) => assert_eq!(parameter, name),
                other => panic!("expected an error for {name}, got {:?}", other.map(|_| ())),
            }
        }
    }

    #[test]
    fn nan_logits_are_an_error() {
        let mut sampler = Sampler::new(params()).unwrap();
        assert!(matches!(sampler.sample(&[1.0, f32::NAN], &[]), Err(ModelError::NonFiniteLogits)));
        let mut sampler = Sampler::new(SamplingParams { temperature: 1.0, ..params() }).unwrap();
        assert!(matches!(sampler.sample(&[f32::NAN], &[]), Err(ModelError::NonFiniteLogits)));
    }

    #[test]
    fn log_prob_is_normalized() {
        let (lp, best, best_lp) = log_prob(&[0.0, 0.0], 1).unwrap();
        assert!((lp - 0.5f32.ln()).abs() < 1e-6);
        assert_eq!(best, 0);
        assert_eq!(lp, best_lp);
    }
}
