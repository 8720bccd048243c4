//! Parity with llama.cpp on the default model: greedy tokens and teacher-forced log-probabilities from `greedy.jsonl`.
//!
//! Bounds, and why they are not "every step within 0.1": activation quantization makes this model's
//! arithmetic chaotic. A perturbation of one part in a million (another summation order) flips the
//! rounding of a few quantized activations, and the flips grow through 18 layers into log-probability
//! differences of the same size as the quantization noise itself. A second build of llama.cpp
//! (llama-cpp-python 0.3.36, decoding step by step on this file) measured against the same reference:
//! mean |Δ log p| 0.040, 85 of 721 clear steps over 0.1, worst 2.16, top-1 flips at margins up to
//! 0.70, greedy agreement up to the first close step on 6 of 16 prompts. The bounds below hold rill
//! to that standard: as close to the reference as llama.cpp is to itself.

mod common;

use common::{greedy_cases, model};
use rill_model::sampling::log_prob;
use rill_model::Which;

/// Steps whose top-2 margin is below this may legitimately differ between two correct
/// implementations because of rounding (see shared/reference/README.md).
const CLOSE_CALL: f32 = 0.05;
/// A step whose margin is at least this must have the same top-1 token in any correct
/// implementation; the independent llama.cpp build flipped nothing above 0.70.
const CLEAR_MARGIN: f32 = 1.0;
/// Per-step tolerance on the log-probability of llama.cpp's choice.
const LOGPROB_TOLERANCE: f32 = 0.1;

#[test]
fn greedy_tokens_match_llama_cpp_until_the_first_close_call() {
    let model = model();
    let mut failures = Vec::new();
    let (mut total_agreed, mut total_reference) = (0, 0);
    eprintln!("lang            prompt  agreed/48  first-close  first-difference (margin)");
    for case in greedy_cases() {
        let mut cache = model.new_cache();
        let (_, mut logits) = model
            .forward_to_vec(&case.prompt_tokens, &mut cache, Which::Last)
            .unwrap();
        let first_close = case.top2_margins.iter().position(|&m| m < CLOSE_CALL);
        let mut agreed = 0;
        let mut difference = None;
        for (step, &expected) in case.completion_tokens.iter().enumerate() {
            let (_, ours, _) = log_prob(&logits, 0).unwrap();
            if ours != expected {
                difference = Some((step, case.top2_margins[step]));
                break;
            }
            agreed += 1;
            logits = model
                .forward_to_vec(&[expected], &mut cache, Which::Last)
                .unwrap()
                .1;
        }
        total_agreed += agreed;
        total_reference += case.completion_tokens.len();
        eprintln!(
            "{:<15} {:>6}  {:>6}/{:<2}  {:>11}  {}",
            case.lang,
            case.prompt_tokens.len(),
            agreed,
            case.completion_tokens.len(),
            first_close.map_or("-".to_string(), |s| s.to_string()),
            difference.map_or("-".to_string(), |(s, m)| format!("{s} ({m:.3})")),
        );
        if let Some((step, margin)) = difference {
            if margin >= CLEAR_MARGIN {
                failures.push(format!(
                    "{}: differs at step {step} whose margin is {margin}",
                    case.lang
                ));
            }
        }
    }
    eprintln!(
        "greedy tokens agreeing before the first difference: {total_agreed}/{total_reference}"
    );
    assert!(
        failures.is_empty(),
        "greedy disagreements on clear steps:\n{}",
        failures.join("\n")
    );
    // The llama.cpp cross-check agreed on 437 of 745 tokens. With the f16 KV cache (llama.cpp's own
    // default) rill agrees on 346 of 727: every difference is at a step whose margin is below
    // CLEAR_MARGIN, and one early near-tie ends a whole 48-token case, so this total swings by
    // tens of tokens with rounding alone; the teacher-forced test is the precise check. The bound
    // catches a broken decoder, which agrees on almost nothing.
    assert!(
        total_agreed * 5 >= total_reference * 2,
        "only {total_agreed}/{total_reference} tokens agree"
    );
}

#[test]
fn teacher_forced_log_probs_match_llama_cpp() {
    let model = model();
    let (mut worst, mut total, mut clear_steps, mut over_tolerance) = (0.0f32, 0.0f64, 0, 0);
    let mut flips = Vec::new();
    for case in greedy_cases() {
        let mut tokens = case.prompt_tokens.clone();
        tokens.extend_from_slice(&case.completion_tokens[..case.completion_tokens.len() - 1]);
        let first = case.prompt_tokens.len() - 1;
        let positions: Vec<usize> = (first..tokens.len()).collect();
        let mut cache = model.new_cache();
        let (rows, logits) = model
            .forward_to_vec(&tokens, &mut cache, Which::Positions(&positions))
            .unwrap();
        assert_eq!(rows, case.completion_tokens.len());
        let vocab = logits.len() / rows;
        for (step, row) in logits.chunks_exact(vocab).enumerate() {
            let margin = case.top2_margins[step];
            if margin < CLOSE_CALL {
                continue;
            }
            clear_steps += 1;
            let expected_token = case.completion_tokens[step] as usize;
            let (ours, best, _) = log_prob(row, expected_token as u32).unwrap();
            let best = best as usize;
            let delta = (ours - case.top2_logprobs[step][0].1).abs();
            worst = worst.max(delta);
            total += f64::from(delta);
            over_tolerance += usize::from(delta > LOGPROB_TOLERANCE);
            if best != expected_token {
                flips.push((case.lang.clone(), step, margin));
            }
        }
    }
    let mean = total / clear_steps as f64;
    eprintln!(
        "teacher-forced: {clear_steps} clear steps; mean |Δ log p| {mean:.4}; worst {worst:.4}; \
         over {LOGPROB_TOLERANCE}: {over_tolerance}; top-1 flips: {}",
        flips.len()
    );
    for (lang, step, margin) in &flips {
        eprintln!("  top-1 differs: {lang} step {step}, llama.cpp margin {margin}");
    }
    assert!(
        mean <= 0.05,
        "mean |Δ log p| {mean} (llama.cpp vs itself: 0.040)"
    );
    assert!(
        over_tolerance * 100 <= clear_steps * 15,
        "{over_tolerance}/{clear_steps} steps over {LOGPROB_TOLERANCE} (llama.cpp vs itself: 85/721)"
    );
    let clear_flips: Vec<_> = flips.iter().filter(|f| f.2 >= CLEAR_MARGIN).collect();
    assert!(
        clear_flips.is_empty(),
        "top-1 differs on clear steps: {clear_flips:?}"
    );
}
