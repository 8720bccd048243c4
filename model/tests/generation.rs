//! Generation on the default model: streaming, stop sequences, cancellation, prompt truncation and prefix reuse.

mod common;

use std::cell::Cell;
use std::sync::OnceLock;

use common::{default_model_path, greedy_cases};
use rill_model::generate::{generate, prepare_prompt, FinishReason, GenerationParams};
use rill_model::sampling::SamplingParams;
use rill_model::{LoadOptions, LoadedModel, ModelError, Sequence};

fn loaded() -> &'static LoadedModel {
    static LOADED: OnceLock<LoadedModel> = OnceLock::new();
    LOADED.get_or_init(|| LoadedModel::load(&default_model_path(), LoadOptions::default()).unwrap())
}

fn run(
    prompt: &[u32],
    params: &GenerationParams,
    cancel_after: Option<usize>,
) -> (rill_model::Generation, String) {
    let loaded = loaded();
    let mut sequence = Sequence::new(&loaded.model);
    let calls = Cell::new(0usize);
    let cancelled = || {
        calls.set(calls.get() + 1);
        cancel_after.is_some_and(|n| calls.get() > n)
    };
    let mut streamed = String::new();
    let generation = generate(
        &loaded.model,
        &loaded.tokenizer,
        &mut sequence,
        prompt,
        params,
        &cancelled,
        |piece| streamed.push_str(piece),
    )
    .unwrap();
    (generation, streamed)
}

#[test]
fn streamed_text_is_the_decoded_tokens_and_greedy_matches_manual_decoding() {
    let case = &greedy_cases()[0];
    let params = GenerationParams {
        max_tokens: 24,
        ..GenerationParams::default()
    };
    let (generation, streamed) = run(&case.prompt_tokens, &params, None);
    assert_eq!(generation.finish, FinishReason::Length);
    assert_eq!(generation.tokens.len(), 24);
    assert_eq!(streamed, generation.text);
    assert_eq!(
        generation.text,
        loaded().tokenizer.decode(&generation.tokens).unwrap()
    );

    // The loop must equal plain step-by-step argmax decoding.
    let model = &loaded().model;
    let mut sequence = Sequence::new(model);
    let mut logits = sequence
        .sync(model, &case.prompt_tokens, &|| false)
        .unwrap()
        .unwrap()
        .logits;
    for &token in &generation.tokens {
        assert_eq!(rill_model::sampling::argmax(&logits).unwrap(), token);
        logits = sequence.push(model, token).unwrap();
    }
}

#[test]
fn generation_from_tokenized_text_reproduces_llama_cpp_where_it_is_clear() {
    // The C prompt has no close call in llama.cpp's 48 greedy steps, and our parity test agrees
    // with all of them; going through the tokenizer and the generation loop must keep that.
    let case = greedy_cases().into_iter().find(|c| c.lang == "c").unwrap();
    let prompt = prepare_prompt(&loaded().tokenizer, &case.prompt, 32_768, 48).unwrap();
    assert_eq!(prompt.tokens, case.prompt_tokens);
    let params = GenerationParams {
        max_tokens: 48,
        ..GenerationParams::default()
    };
    let (generation, _) = run(&prompt.tokens, &params, None);
    assert_eq!(generation.tokens, case.completion_tokens);
}

#[test]
fn stop_sequences_end_generation_before_the_stop() {
    let case = &greedy_cases()[0];
    let params = GenerationParams {
        max_tokens: 48,
        stop: vec!["\n".to_string()],
        ..GenerationParams::default()
    };
    let (generation, streamed) = run(&case.prompt_tokens, &params, None);
    assert_eq!(generation.finish, FinishReason::Stop);
    assert!(!streamed.contains('\n'), "{streamed:?}");
    assert!(!streamed.is_empty());
    assert_eq!(streamed, generation.text);
}

#[test]
fn cancellation_stops_within_one_token() {
    let case = &greedy_cases()[1];
    // Plain decoding: one token per forward pass. With drafting, a pass may accept several tokens;
    // tests/speculative.rs checks cancellation per forward pass there.
    let params = GenerationParams {
        max_tokens: 48,
        draft: rill_model::speculative::DraftParams {
            max_draft: 0,
            ..Default::default()
        },
        ..GenerationParams::default()
    };
    // The first two checks happen during prompt processing (one chunk) and before decode step 1.
    let (generation, _) = run(&case.prompt_tokens, &params, Some(4));
    assert_eq!(generation.finish, FinishReason::Cancelled);
    assert!(
        generation.tokens.len() <= 4,
        "{} tokens after cancellation",
        generation.tokens.len()
    );
    let (cancelled_early, streamed) = run(&case.prompt_tokens, &params, Some(0));
    assert_eq!(cancelled_early.finish, FinishReason::Cancelled);
    assert!(cancelled_early.tokens.is_empty() && streamed.is_empty());
}

#[test]
fn sampling_is_seeded_and_parameters_are_validated() {
    let case = &greedy_cases()[2];
    let sampled = |seed| {
        let params = GenerationParams {
            max_tokens: 16,
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: 0.95,
                seed,
                ..SamplingParams::greedy()
            },
            ..GenerationParams::default()
        };
        run(&case.prompt_tokens, &params, None).0.tokens
    };
    assert_eq!(sampled(3), sampled(3));
    let bad = GenerationParams {
        max_tokens: 0,
        ..GenerationParams::default()
    };
    let loaded = loaded();
    let mut sequence = Sequence::new(&loaded.model);
    let err = generate(
        &loaded.model,
        &loaded.tokenizer,
        &mut sequence,
        &[2],
        &bad,
        &|| false,
        |_| {},
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ModelError::InvalidParameter {
            parameter: "max_tokens",
            ..
        }
    ));
}

#[test]
fn long_prompts_are_truncated_from_the_start_keeping_bos() {
    let tokenizer = &loaded().tokenizer;
    let text = "let x = 1;\n".repeat(200);
    let full = tokenizer.encode_with_bos(&text).unwrap();
    let prompt = prepare_prompt(tokenizer, &text, 300, 44).unwrap();
    assert_eq!(prompt.tokens.len(), 256);
    assert_eq!(prompt.tokens[0], tokenizer.bos_id());
    assert_eq!(prompt.truncated, full.len() - 256);
    assert_eq!(&prompt.tokens[1..], &full[full.len() - 255..]);
    // An empty document still gives a valid prompt: BOS alone.
    let empty = prepare_prompt(tokenizer, "", 300, 44).unwrap();
    assert_eq!(empty.tokens, vec![tokenizer.bos_id()]);
    let (generation, _) = run(
        &empty.tokens,
        &GenerationParams {
            max_tokens: 4,
            ..GenerationParams::default()
        },
        None,
    );
    assert!(!generation.tokens.is_empty());
}

#[test]
fn sequences_reuse_the_common_prefix_and_equal_a_fresh_run() {
    let model = &loaded().model;
    let tokenizer = &loaded().tokenizer;
    let before = tokenizer
        .encode_with_bos("fn main() {\n    let total = values.iter().sum::<u32>();\n")
        .unwrap();
    // An edit in the middle of an identifier: re-tokenization may change tokens before the edit.
    let after = tokenizer
        .encode_with_bos("fn main() {\n    let totals = values.iter().sum::<u32>();\n")
        .unwrap();
    let mut sequence = Sequence::new(model);
    sequence.sync(model, &before, &|| false).unwrap().unwrap();
    let outcome = sequence.sync(model, &after, &|| false).unwrap().unwrap();
    let common = before
        .iter()
        .zip(&after)
        .take_while(|(a, b)| a == b)
        .count();
    assert_eq!(outcome.reused, common);
    assert!(outcome.reused > 3 && outcome.computed < after.len());
    assert_eq!(sequence.tokens(), &after[..]);
    let fresh = Sequence::new(model)
        .sync(model, &after, &|| false)
        .unwrap()
        .unwrap();
    assert_eq!(
        outcome.logits, fresh.logits,
        "reused state must give bit-identical logits"
    );
    // Syncing the same tokens again reuses all but the last token.
    let again = sequence.sync(model, &after, &|| false).unwrap().unwrap();
    assert_eq!(again.computed, 1);
    assert_eq!(again.logits, fresh.logits);
}
