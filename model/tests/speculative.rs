//! Speculative (prompt-lookup) decoding on the default model: it must give exactly what plain greedy decoding gives, with fewer forward passes.
//!
//! Every comparison runs the same request twice, with drafting on and off, and demands identical
//! token ids, streamed text, finish reason and leftover sequence. Exactness rests on one property
//! of the quantized forward pass, that a position's logits do not depend on how the sequence was
//! split into passes; the first test checks that property directly on a verification-sized pass.

mod common;

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::sync::OnceLock;

use common::{default_model_path, greedy_cases};
use rill_model::generate::{generate, prepare_prompt, FinishReason, Generation, GenerationParams};
use rill_model::sampling::SamplingParams;
use rill_model::sequence::PREFILL_CHUNK;
use rill_model::{DraftParams, LoadOptions, LoadedModel, Sequence};

fn loaded() -> &'static LoadedModel {
    static LOADED: OnceLock<LoadedModel> = OnceLock::new();
    LOADED.get_or_init(|| LoadedModel::load(&default_model_path(), LoadOptions::default()).unwrap())
}

/// A file of the benchmark's edit-replay workload (real source files, see its README).
fn workload_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../benches/workloads/edit_replay")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A file of this repository, e.g. `model/src/sequence.rs`.
fn repo_file(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The text of `file` up to and including the line that starts with `line_start`.
fn cut_after_line(file: &str, line_start: &str) -> String {
    let text = workload_file(file);
    let at = text
        .find(&format!("\n{line_start}"))
        .unwrap_or_else(|| panic!("{line_start:?} not in {file}"))
        + 1;
    let end = at + text[at..].find('\n').unwrap() + 1;
    text[..end].to_string()
}

/// `text` as a prompt of at most `budget` tokens (its end), so that the tests stay quick on two cores.
fn prompt_of(text: &str, budget: usize) -> Vec<u32> {
    prepare_prompt(&loaded().tokenizer, text, budget + 48, 48)
        .unwrap()
        .tokens
}

/// bisect.py cut just after `def bisect_left(...)`: the body nearly repeats `bisect_right`.
fn repetitive_prompt() -> Vec<u32> {
    prompt_of(&cut_after_line("bisect.py", "def bisect_left("), 700)
}

fn params(max_tokens: usize, draft: DraftParams) -> GenerationParams {
    GenerationParams {
        max_tokens,
        draft,
        ..GenerationParams::default()
    }
}

/// What one generation produced, including what it left in its sequence.
struct Run {
    generation: Generation,
    streamed: String,
    sequence: Vec<u32>,
    cancel_checks: usize,
}

/// Generates in `sequence`; `cancel_after` makes the `n + 1`-th cancellation check answer true.
/// Fails the test if any text is streamed after a check answered true.
fn run_in(
    sequence: &mut Sequence,
    prompt: &[u32],
    params: &GenerationParams,
    cancel_after: Option<usize>,
) -> Run {
    let loaded = loaded();
    let checks = Cell::new(0usize);
    let streamed = RefCell::new(String::new());
    let cancelled_at = Cell::new(None::<usize>);
    let cancelled = || {
        checks.set(checks.get() + 1);
        let cancel = cancel_after.is_some_and(|n| checks.get() > n);
        if cancel && cancelled_at.get().is_none() {
            cancelled_at.set(Some(streamed.borrow().len()));
        }
        cancel
    };
    let generation = generate(
        &loaded.model,
        &loaded.tokenizer,
        sequence,
        prompt,
        params,
        &cancelled,
        |piece| {
            assert!(
                cancelled_at.get().is_none(),
                "text {piece:?} streamed after cancellation"
            );
            streamed.borrow_mut().push_str(piece);
        },
    )
    .unwrap();
    Run {
        generation,
        streamed: streamed.into_inner(),
        sequence: sequence.tokens().to_vec(),
        cancel_checks: checks.get(),
    }
}

fn run(prompt: &[u32], params: &GenerationParams, cancel_after: Option<usize>) -> Run {
    run_in(
        &mut Sequence::new(&loaded().model),
        prompt,
        params,
        cancel_after,
    )
}

/// Demands that two runs are indistinguishable to a caller.
fn assert_same_output(plain: &Run, speculative: &Run, label: &str) {
    assert_eq!(
        plain.generation.tokens, speculative.generation.tokens,
        "{label}: token ids differ"
    );
    assert_eq!(
        plain.streamed, speculative.streamed,
        "{label}: streamed text differs"
    );
    assert_eq!(
        plain.generation.text, speculative.generation.text,
        "{label}: text differs"
    );
    assert_eq!(
        plain.generation.finish, speculative.generation.finish,
        "{label}: finish reason differs"
    );
    assert_eq!(
        plain.sequence, speculative.sequence,
        "{label}: the sequences hold different tokens afterwards"
    );
    assert_eq!(plain.streamed, plain.generation.text, "{label}");
    assert_eq!(plain.generation.drafted_tokens, 0, "{label}");
}

/// One sequence per mode, reused between requests as the engine reuses a document's sequence:
/// a repeated prompt then costs one token of prefill, and the comparison also covers what
/// drafting leaves in the sequence for the next request.
struct Pair {
    plain: Sequence,
    speculative: Sequence,
}

impl Pair {
    fn new() -> Self {
        let model = &loaded().model;
        Self {
            plain: Sequence::new(model),
            speculative: Sequence::new(model),
        }
    }

    /// Runs `params` with its draft settings and with drafting off and checks that the outputs
    /// are identical.
    fn compare(&mut self, prompt: &[u32], params: &GenerationParams, label: &str) -> (Run, Run) {
        let plain_params = GenerationParams {
            draft: DraftParams::disabled(),
            ..params.clone()
        };
        let plain = run_in(&mut self.plain, prompt, &plain_params, None);
        let speculative = run_in(&mut self.speculative, prompt, params, None);
        assert_same_output(&plain, &speculative, label);
        (plain, speculative)
    }
}

/// [`Pair::compare`] from fresh sequences.
fn compare(prompt: &[u32], params: &GenerationParams, label: &str) -> (Run, Run) {
    Pair::new().compare(prompt, params, label)
}

#[test]
fn a_verification_pass_gives_the_logits_of_single_token_steps_bit_for_bit() {
    let model = &loaded().model;
    let vocab = model.config().vocab_size;
    let prompt = repetitive_prompt();
    let (context, tail) = prompt.split_at(prompt.len() - 9);
    let mut batched = Sequence::new(model);
    batched.sync(model, context, &|| false).unwrap().unwrap();
    let rows = batched.extend(model, tail).unwrap();
    assert_eq!(rows.len(), tail.len() * vocab);
    assert_eq!(batched.tokens(), &prompt[..]);

    let mut stepped = Sequence::new(model);
    stepped.sync(model, context, &|| false).unwrap().unwrap();
    for (i, &token) in tail.iter().enumerate() {
        let row = stepped.push(model, token).unwrap();
        assert!(
            row == rows[i * vocab..(i + 1) * vocab],
            "row {i} of the batched pass differs from a single-token step"
        );
    }
    // A pass after a rollback into the middle of an earlier pass sees the same state too.
    batched.truncate(prompt.len() - 5);
    let again = batched.extend(model, &prompt[prompt.len() - 5..]).unwrap();
    assert!(again == rows[4 * vocab..]);
}

#[test]
fn every_reference_case_is_token_identical_with_and_without_drafts() {
    for (index, case) in greedy_cases().iter().enumerate() {
        let label = format!("greedy.jsonl case {index} ({})", case.lang);
        compare(
            &case.prompt_tokens,
            &params(48, DraftParams::default()),
            &label,
        );
    }
}

#[test]
fn prompts_cut_from_real_files_are_token_identical() {
    let bisect = workload_file("bisect.py");
    let sequence_rs = repo_file("model/src/sequence.rs");
    let stop_rs = repo_file("model/src/stop.rs");
    let mut cases = Vec::new();
    // Cuts in the middle of a line and at line ends, at different depths of the files.
    for (file, text, fraction, line_end) in [
        ("bisect.py", &bisect, 0.3, false),
        ("bisect.py", &bisect, 0.6, true),
        ("bisect.py", &bisect, 0.9, false),
        ("model/src/sequence.rs", &sequence_rs, 0.4, true),
        ("model/src/sequence.rs", &sequence_rs, 0.75, false),
        ("model/src/stop.rs", &stop_rs, 0.5, false),
    ] {
        let mut at = (text.len() as f64 * fraction) as usize;
        while !text.is_char_boundary(at) {
            at += 1;
        }
        if line_end {
            at += text[at..].find('\n').map_or(0, |i| i + 1);
        }
        cases.push((format!("{file} at {fraction}"), text[..at].to_string()));
    }
    cases.push((
        "bisect_left".to_string(),
        cut_after_line("bisect.py", "def bisect_left("),
    ));
    cases.push((
        "_siftup_max".to_string(),
        cut_after_line("heapq.py", "def _siftup_max("),
    ));
    let mut accepted = 0;
    for (label, text) in &cases {
        let prompt = prompt_of(text, 384);
        let (_, speculative) = compare(&prompt, &params(48, DraftParams::default()), label);
        accepted += speculative.generation.accepted_tokens;
    }
    assert!(accepted > 0, "no draft was ever accepted");
}

#[test]
fn drafting_accepts_tokens_and_saves_forward_passes_on_a_repeated_function() {
    let prompt = repetitive_prompt();
    let (plain, speculative) = compare(&prompt, &params(64, DraftParams::default()), "bisect_left");
    let generation = &speculative.generation;
    assert_eq!(generation.finish, FinishReason::Length);
    assert_eq!(plain.generation.forward_passes, 63);
    assert!((plain.generation.tokens_per_forward() - 1.0).abs() < 1e-12);
    assert!(generation.accepted_tokens > 0, "nothing accepted");
    assert!(generation.accepted_tokens <= generation.drafted_tokens);
    assert!(generation.acceptance_rate() > 0.0);
    assert!(
        generation.tokens_per_forward() > 1.0,
        "{} tokens per forward pass",
        generation.tokens_per_forward()
    );
    // Every accepted draft token saved exactly one pass.
    assert_eq!(
        generation.forward_passes + generation.accepted_tokens,
        plain.generation.forward_passes
    );
}

#[test]
fn stop_strings_inside_accepted_drafts_end_generation_at_the_same_place() {
    let prompt = repetitive_prompt();
    let mut pair = Pair::new();
    let (plain, speculative) =
        pair.compare(&prompt, &params(32, DraftParams::default()), "no stop");
    assert!(speculative.generation.accepted_tokens > 0);
    let text = plain.generation.text;
    let mut checked = 0;
    let mut at = 5;
    while at + 3 <= text.len() && checked < 4 {
        if text.is_char_boundary(at) && text.is_char_boundary(at + 3) {
            let stop = text[at..at + 3].to_string();
            let label = format!("stop {stop:?}");
            let params = GenerationParams {
                stop: vec!["@@never@@".to_string(), stop],
                ..params(32, DraftParams::default())
            };
            let (_, speculative) = pair.compare(&prompt, &params, &label);
            assert_eq!(speculative.generation.finish, FinishReason::Stop, "{label}");
            checked += 1;
        }
        at += 23;
    }
    assert_eq!(checked, 4);
}

#[test]
fn max_tokens_ends_generation_at_the_same_place_for_every_length() {
    // Drafts never run past `max_tokens`, so every length ends on the last row of a pass or on a
    // rejection; sweeping the lengths covers both, with accepted drafts right before.
    let prompt = repetitive_prompt();
    let tokenizer = &loaded().tokenizer;
    let mut pair = Pair::new();
    let (longest, _) = pair.compare(&prompt, &params(24, DraftParams::default()), "24 tokens");
    let mut accepted = 0;
    for max_tokens in 1..24 {
        let label = format!("max_tokens {max_tokens}");
        let speculative = run_in(
            &mut pair.speculative,
            &prompt,
            &params(max_tokens, DraftParams::default()),
            None,
        );
        let generation = &speculative.generation;
        // Greedy decoding is deterministic, so plain decoding with a lower `max_tokens` gives a
        // prefix of the longest run, leaves all but its last token in the sequence and streams
        // exactly the decoded prefix (no stop strings).
        let expected = &longest.generation.tokens[..max_tokens];
        assert_eq!(generation.tokens, expected, "{label}");
        assert_eq!(generation.finish, FinishReason::Length, "{label}");
        assert_eq!(
            speculative.streamed,
            tokenizer.decode(expected).unwrap(),
            "{label}"
        );
        assert_eq!(generation.text, speculative.streamed, "{label}");
        assert_eq!(speculative.sequence[..prompt.len()], prompt[..], "{label}");
        assert_eq!(
            speculative.sequence[prompt.len()..],
            expected[..max_tokens - 1],
            "{label}"
        );
        accepted += generation.accepted_tokens;
        // And, for a few lengths, the real thing.
        if [1, 6, 13].contains(&max_tokens) {
            let plain = run_in(
                &mut pair.plain,
                &prompt,
                &params(max_tokens, DraftParams::disabled()),
                None,
            );
            assert_same_output(&plain, &speculative, &label);
        }
    }
    assert!(accepted > 0);
}

#[test]
fn the_repetition_penalty_is_applied_with_the_right_history_under_drafting() {
    let prompt = repetitive_prompt();
    let mut pair = Pair::new();
    for repeat_penalty in [1.1, 1.5] {
        let params = GenerationParams {
            sampling: SamplingParams {
                repeat_penalty,
                repeat_last_n: 64,
                ..SamplingParams::greedy()
            },
            ..params(32, DraftParams::default())
        };
        let label = format!("penalty {repeat_penalty}");
        let (_, speculative) = pair.compare(&prompt, &params, &label);
        assert!(speculative.generation.drafted_tokens > 0, "{label}");
    }
}

#[test]
fn sampling_switches_drafting_off() {
    let prompt = repetitive_prompt();
    let sampled = |draft| GenerationParams {
        sampling: SamplingParams {
            temperature: 0.8,
            seed: 7,
            ..SamplingParams::greedy()
        },
        ..params(16, draft)
    };
    assert!(!sampled(DraftParams::default()).drafts_enabled());
    let (_, speculative) = compare(&prompt, &sampled(DraftParams::default()), "sampled");
    let generation = &speculative.generation;
    assert_eq!(generation.drafted_tokens, 0);
    let ended_by_the_model = usize::from(generation.finish == FinishReason::EndOfGeneration);
    assert_eq!(
        generation.forward_passes,
        generation.tokens.len() - 1 + ended_by_the_model
    );
}

#[test]
fn the_previous_suggestion_as_draft_source_is_accepted_and_changes_nothing() {
    let prompt = prompt_of(&cut_after_line("heapq.py", "def nlargest("), 700);
    let mut pair = Pair::new();
    let (plain, without_source) =
        pair.compare(&prompt, &params(32, DraftParams::default()), "no source");
    let with_source = GenerationParams {
        draft_source: plain.generation.tokens.clone(),
        ..params(32, DraftParams::default())
    };
    let speculative = run_in(&mut pair.speculative, &prompt, &with_source, None);
    assert_same_output(&plain, &speculative, "previous suggestion as source");
    assert!(
        speculative.generation.forward_passes < without_source.generation.forward_passes,
        "{} passes with the previous suggestion, {} without",
        speculative.generation.forward_passes,
        without_source.generation.forward_passes
    );
    // Ids the model does not know are never drafted, and a source cannot break generation.
    let garbage = GenerationParams {
        draft_source: vec![u32::MAX, 5, u32::MAX - 1, 7, u32::MAX],
        ..params(32, DraftParams::default())
    };
    let speculative = run_in(&mut pair.speculative, &prompt, &garbage, None);
    assert_same_output(&plain, &speculative, "garbage source");
}

#[test]
fn cancellation_is_checked_before_every_forward_pass_and_silences_the_stream() {
    let prompt = repetitive_prompt();
    let mut sequence = Sequence::new(&loaded().model);
    let full = run_in(
        &mut sequence,
        &prompt,
        &params(48, DraftParams::default()),
        None,
    );
    // Nothing cancelled: one check per prompt chunk and one per forward pass after it.
    assert_eq!(
        full.cancel_checks,
        prompt.len().div_ceil(PREFILL_CHUNK) + full.generation.forward_passes
    );
    let passes = full.generation.forward_passes;
    assert!(full.generation.accepted_tokens > 0 && passes >= 4);
    // The sequence now holds the prompt, so later requests recompute only its last token: one
    // prompt chunk, whose check comes first.
    for cancel_before in [0, 1, 2, passes / 2, passes - 1] {
        let label = format!("cancelled before pass {}", cancel_before + 1);
        // `run_in` fails if text arrives after the check that answered true.
        let cancelled = run_in(
            &mut sequence,
            &prompt,
            &params(48, DraftParams::default()),
            Some(1 + cancel_before),
        );
        let generation = &cancelled.generation;
        assert_eq!(generation.finish, FinishReason::Cancelled, "{label}");
        assert_eq!(generation.forward_passes, cancel_before, "{label}");
        assert_eq!(cancelled.cancel_checks, 2 + cancel_before, "{label}");
        assert_eq!(cancelled.streamed, generation.text, "{label}");
        let tokens = &generation.tokens;
        assert!(!tokens.is_empty(), "{label}");
        assert_eq!(
            tokens[..],
            full.generation.tokens[..tokens.len()],
            "{label}"
        );
        assert!(full.streamed.starts_with(&cancelled.streamed), "{label}");
    }
    // Cancelled before the prompt was processed: nothing at all.
    let early = run(&prompt, &params(48, DraftParams::default()), Some(0));
    assert_eq!(early.generation.finish, FinishReason::Cancelled);
    assert!(early.generation.tokens.is_empty() && early.streamed.is_empty());
}

#[test]
fn draft_parameters_are_validated_by_generate() {
    let loaded = loaded();
    let mut sequence = Sequence::new(&loaded.model);
    for (bad, name) in [
        (
            params(
                8,
                DraftParams {
                    max_draft: 1000,
                    max_ngram: 3,
                },
            ),
            "max_draft",
        ),
        (
            params(
                8,
                DraftParams {
                    max_draft: 8,
                    max_ngram: 0,
                },
            ),
            "max_ngram",
        ),
        (
            GenerationParams {
                draft_source: vec![1; 100_000],
                ..params(8, DraftParams::default())
            },
            "draft_source",
        ),
    ] {
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
        assert!(
            matches!(err, rill_model::ModelError::InvalidParameter { parameter, .. } if parameter == name),
            "{err}"
        );
    }
}
