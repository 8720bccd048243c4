//! KV-cache correctness on the default model: chunked prefill, rollback and forks must equal a fresh one-shot pass.

mod common;

use common::{chunked_logits, greedy_cases, model, model_f32};
use rill_model::Which;

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn argmax(row: &[f32]) -> u32 {
    rill_model::sampling::argmax(row).unwrap()
}

/// With quantized weights every row must come out bit-identical however a sequence is split
/// into passes: the engine relies on it for prefix reuse and speculative decoding.
fn assert_bit_identical(a: &[f32], b: &[f32], vocab: usize) {
    for (position, (ra, rb)) in a.chunks_exact(vocab).zip(b.chunks_exact(vocab)).enumerate() {
        assert_eq!(
            argmax(ra),
            argmax(rb),
            "argmax differs at position {position}"
        );
    }
    let diff = max_abs_diff(a, b);
    assert_eq!(diff, 0.0, "max |Δlogit| = {diff}");
}

/// A few hundred tokens of real prompts, long enough to cross chunk boundaries.
fn long_tokens() -> Vec<u32> {
    let mut tokens = vec![2];
    for case in greedy_cases() {
        tokens.extend_from_slice(&case.prompt_tokens[1..]);
        tokens.extend_from_slice(&case.completion_tokens);
    }
    tokens.truncate(600);
    tokens
}

#[test]
fn chunked_prefill_equals_one_shot_in_f32() {
    let model = model_f32();
    let tokens = &long_tokens()[..300];
    let one_shot = chunked_logits(model, tokens, &[tokens.len()]);
    let chunked = chunked_logits(model, tokens, &[1, 7, 64, 3, 100]);
    let diff = max_abs_diff(&one_shot, &chunked);
    assert!(diff < 1e-4, "max |Δlogit| = {diff}");
}

#[test]
fn chunked_prefill_is_argmax_equal_when_quantized() {
    let model = model();
    let tokens = long_tokens();
    let vocab = model.config().vocab_size;
    let one_shot = chunked_logits(model, &tokens, &[tokens.len()]);
    let chunked = chunked_logits(model, &tokens, &[1, 13, 256, 5]);
    assert_bit_identical(&one_shot, &chunked, vocab);
}

#[test]
fn truncate_then_refill_equals_a_fresh_run() {
    for (model, exact) in [(model_f32(), true), (model(), false)] {
        let tokens = &long_tokens()[..200];
        let mut fresh = model.new_cache();
        let expected = model
            .forward_to_vec(tokens, &mut fresh, Which::All)
            .unwrap()
            .1;

        // Run a different continuation first, then roll back to the common prefix and refill.
        let mut cache = model.new_cache();
        model
            .forward_to_vec(&tokens[..120], &mut cache, Which::Last)
            .unwrap();
        let detour: Vec<u32> = tokens[120..200]
            .iter()
            .map(|t| (t + 7) % 1000 + 300)
            .collect();
        model
            .forward_to_vec(&detour, &mut cache, Which::Last)
            .unwrap();
        cache.truncate(120);
        assert_eq!(cache.len(), 120);
        let refilled = model
            .forward_to_vec(&tokens[120..], &mut cache, Which::All)
            .unwrap()
            .1;
        let vocab = model.config().vocab_size;
        let expected_tail = &expected[120 * vocab..];
        if exact {
            let diff = max_abs_diff(expected_tail, &refilled);
            assert!(diff < 1e-4, "max |Δlogit| = {diff}");
        } else {
            assert_bit_identical(expected_tail, &refilled, vocab);
        }
    }
}

#[test]
fn forked_caches_are_independent() {
    let model = model();
    let tokens = &long_tokens()[..50];
    let mut cache = model.new_cache();
    model
        .forward_to_vec(&tokens[..40], &mut cache, Which::Last)
        .unwrap();
    let mut fork = cache.fork();
    let a = model
        .forward_to_vec(&tokens[40..], &mut cache, Which::Last)
        .unwrap()
        .1;
    let b = model
        .forward_to_vec(&tokens[40..], &mut fork, Which::Last)
        .unwrap()
        .1;
    assert_eq!(a, b);
    // Growing the fork with other tokens must not disturb the original.
    model
        .forward_to_vec(&[300, 301, 302], &mut fork, Which::Last)
        .unwrap();
    cache.truncate(45);
    let again = model
        .forward_to_vec(&tokens[45..], &mut cache, Which::Last)
        .unwrap()
        .1;
    assert_eq!(a, again);
    assert_eq!(cache.bytes_per_token(), 18 * 2 * 256 * 2);
}

#[test]
fn single_token_decoding_past_the_sliding_window_equals_prefill() {
    // Past position 512 the sliding-window mask of a single-token step (one query) and of a prompt
    // pass (many queries) must hide exactly the same keys.
    let model = model_f32();
    let mut tokens = long_tokens();
    while tokens.len() < 700 {
        let again = tokens[1..100].to_vec();
        tokens.extend(again);
    }
    tokens.truncate(700);
    let vocab = model.config().vocab_size;
    let positions: Vec<usize> = (600..700).collect();
    let mut cache = model.new_cache();
    let one_shot = model
        .forward_to_vec(&tokens, &mut cache, Which::Positions(&positions))
        .unwrap()
        .1;
    let mut cache = model.new_cache();
    model
        .forward_to_vec(&tokens[..600], &mut cache, Which::Last)
        .unwrap();
    let mut stepped = Vec::new();
    for &token in &tokens[600..] {
        stepped.extend(
            model
                .forward_to_vec(&[token], &mut cache, Which::Last)
                .unwrap()
                .1,
        );
    }
    assert_eq!(stepped.len(), 100 * vocab);
    let diff = max_abs_diff(&one_shot, &stepped);
    assert!(
        diff < 1e-4,
        "single-token decode past the window differs from prefill: {diff}"
    );
}

#[test]
fn a_compacted_cache_continues_and_rolls_back_like_a_full_one() {
    let model = model();
    let vocab = model.config().vocab_size;
    let mut tokens = long_tokens();
    let head = tokens[1..100].to_vec();
    tokens.extend(head);
    let total = tokens.len();
    assert!(
        total > 640,
        "need more than window + margin tokens, got {total}"
    );
    let tail: Vec<usize> = (0..40).map(|i| total - 40 + i).collect();
    let fresh = model
        .forward_to_vec(&tokens, &mut model.new_cache(), Which::Positions(&tail))
        .unwrap()
        .1;

    let mut cache = model.new_cache();
    model
        .forward_to_vec(&tokens[..total - 40], &mut cache, Which::Last)
        .unwrap();
    let full_bytes = cache.bytes();
    let freed = cache.compact(32);
    assert!(freed > 0, "compaction freed nothing");
    assert!(cache.bytes() < full_bytes);
    assert_eq!(cache.len(), total - 40);
    let continued = model
        .forward_to_vec(&tokens[total - 40..], &mut cache, Which::All)
        .unwrap()
        .1;
    assert_bit_identical(&fresh, &continued, vocab);

    // A rollback within the margin keeps the cache and gives the same logits again.
    let rollback = total - 40;
    assert!(rollback >= cache.min_rollback());
    cache.truncate(rollback);
    assert_eq!(cache.len(), rollback);
    let again = model
        .forward_to_vec(&tokens[rollback..], &mut cache, Which::All)
        .unwrap()
        .1;
    assert_bit_identical(&fresh, &again, vocab);

    // A deeper rollback cannot be served from a compacted layer: the cache starts over.
    cache.truncate(100);
    assert_eq!(cache.len(), 0);
    let restarted = model
        .forward_to_vec(&tokens, &mut cache, Which::Positions(&tail))
        .unwrap()
        .1;
    assert_bit_identical(&fresh, &restarted, vocab);
}

/// A document edited in the middle of an identifier or a multi-byte character re-tokenizes a token
/// or two before the edit; syncing the cached sequence must still give exactly the logits of a
/// fresh prefill of the edited text.
#[test]
fn a_synced_sequence_after_edits_inside_words_equals_a_fresh_prefill() {
    let model = model();
    let tokenizer = common::tokenizer();
    let vocab = model.config().vocab_size;
    let original = "def résumé_naïve(über_value):\n    total = über_value * 2\n    return total\n";
    let edits = [
        // Inside an identifier.
        original.replacen("total = ", "totXal = ", 1),
        // Right after a multi-byte character.
        original.replacen("über_value *", "üXber_value *", 1),
        // Deleting a multi-byte character.
        original.replacen("naïve", "naive", 1),
        // Typing at the end.
        format!("{original}print("),
    ];
    let mut sequence = rill_model::Sequence::new(model);
    let never = || false;
    let first = tokenizer.encode_with_bos(original).unwrap();
    sequence.sync(model, &first, &never).unwrap().unwrap();
    for edited in &edits {
        let tokens = tokenizer.encode_with_bos(edited).unwrap();
        let outcome = sequence.sync(model, &tokens, &never).unwrap().unwrap();
        let fresh = model
            .forward_to_vec(&tokens, &mut model.new_cache(), Which::Last)
            .unwrap()
            .1;
        assert!(outcome.reused > 0, "{edited:?} reused nothing");
        assert_eq!(outcome.reused + outcome.computed, tokens.len());
        assert_bit_identical(&fresh, &outcome.logits, vocab);
        assert_eq!(sequence.tokens(), &tokens[..]);
    }
}

/// Scoring gathers rows of several passes for one product with the output head, and stops
/// wherever it is interrupted, between passes or between the layers of one: every score must still
/// equal the log-softmax of a one-shot pass's logits, bit for bit, whatever the chunk size and
/// however often it was interrupted.
#[test]
fn scoring_with_gathered_head_rows_equals_one_shot_logits_even_when_interrupted() {
    use rill_model::score::score_tokens;
    use rill_model::Sequence;
    use std::cell::Cell;

    let model = model();
    let tokens = &long_tokens()[..400];
    let vocab = model.config().vocab_size;
    let one_shot = chunked_logits(model, tokens, &[tokens.len()]);
    // Every third token is left out, so gathered rows are not simply consecutive.
    let wanted = |index: usize| !index.is_multiple_of(3);
    let expected: Vec<(usize, f32, u32)> = (5..tokens.len())
        .filter(|&index| wanted(index))
        .map(|index| {
            let row = &one_shot[(index - 1) * vocab..index * vocab];
            let (logprob, best, _) = rill_model::sampling::log_prob(row, tokens[index]).unwrap();
            (index, logprob, best)
        })
        .collect();
    // `interrupted` is asked before each pass and before each of its layers (18 in Gemma 3
    // 270M), so every 25 and every 40 questions stop some passes between layers, some between
    // passes, and let others finish.
    for (chunk, interrupt_every) in [(32, None), (7, None), (16, Some(25)), (32, Some(40))] {
        let mut sequence = Sequence::new(model);
        let mut scores = Vec::new();
        let mut from = 5;
        let asked = Cell::new(0usize);
        let interrupted = || {
            asked.set(asked.get() + 1);
            interrupt_every.is_some_and(|every| asked.get().is_multiple_of(every))
        };
        let mut calls = 0;
        while from < tokens.len() {
            let outcome = score_tokens(
                model,
                &mut sequence,
                tokens,
                from..tokens.len(),
                &wanted,
                chunk,
                &interrupted,
            )
            .unwrap();
            assert!(outcome.reached >= from, "no step back");
            scores.extend(outcome.scores);
            from = outcome.reached;
            calls += 1;
            assert!(calls < 1000, "scoring makes progress between interruptions");
        }
        let got: Vec<(usize, f32, u32)> = scores
            .iter()
            .map(|score| (score.index, score.logprob, score.best))
            .collect();
        assert_eq!(
            got, expected,
            "chunk {chunk}, interrupted every {interrupt_every:?} questions"
        );
        if interrupt_every.is_some() {
            assert!(calls > 1, "the interruptions were exercised");
        }
    }
}

/// A prefill stopped between two layers of a pass keeps only the passes before it, and syncing
/// again later gives the logits of one uninterrupted pass, bit for bit.
#[test]
fn a_prefill_stopped_between_layers_keeps_whole_passes_and_resumes_bit_for_bit() {
    use rill_model::Sequence;
    use std::cell::Cell;

    let model = model();
    let tokens = &long_tokens()[..300];
    let vocab = model.config().vocab_size;
    let fresh = model
        .forward_to_vec(tokens, &mut model.new_cache(), Which::Last)
        .unwrap()
        .1;
    let mut sequence = Sequence::new(model);
    // Questions: 1 before the first pass, 18 before its layers, 1 before the second pass, then
    // the second pass's layers: the 25th question falls inside the second pass.
    let asked = Cell::new(0usize);
    let stop = || {
        asked.set(asked.get() + 1);
        asked.get() == 25
    };
    let stopped = sequence.sync_yielding(model, tokens, 128, &stop).unwrap();
    assert!(stopped.is_none(), "the stop was honoured");
    assert_eq!(
        sequence.tokens(),
        &tokens[..128],
        "only the whole first pass is kept"
    );
    assert_eq!(sequence.cache().len(), 128);
    let resumed = sequence
        .sync_in_chunks(model, tokens, 128, &|| false)
        .unwrap()
        .expect("not stopped");
    assert_eq!(resumed.reused, 128);
    assert_bit_identical(&fresh, &resumed.logits, vocab);
}
