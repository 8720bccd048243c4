//! Prompt layouts on the real tokenizer: plain prompts with cross-file chunks, fill-in-the-middle prompts in both orders, repository-level prompts, and the budgets that shape them.
//!
//! The default model has no FIM or repository tokens, so those layouts are built with token ids
//! given here (beyond the vocabulary, where no text token can collide with them): the layout is
//! what is under test, not the model's answer.

use std::sync::Arc;

use rill_model::fim::FimTokens;
use rill_model::{GgufFile, Tokenizer};
use rill_server::context::{PromptChunk, PromptContext};
use rill_server::engine::prompt::{
    build, prompt_tokens, Prompt, PromptRequest, RepositoryTokens, Specials, SUFFIX_LINES,
};

const CONTEXT_LENGTH: usize = 32768;
const PRE: u32 = 300_000;
const SUF: u32 = 300_001;
const MID: u32 = 300_002;
const EOT: u32 = 300_003;
const REPO: u32 = 300_004;
const SEP: u32 = 300_005;

fn tokenizer() -> Tokenizer {
    let path = rill_model::paths::resolve_model_path(None)
        .expect("the default model (run scripts/fetch-model.py)");
    let file = GgufFile::open(&path).unwrap();
    Tokenizer::from_gguf(file.content()).unwrap()
}

fn fim(suffix_first: bool) -> FimTokens {
    FimTokens {
        prefix: PRE,
        suffix: SUF,
        middle: MID,
        end: Some(EOT),
        suffix_first,
    }
}

fn specials(tokenizer: &Tokenizer, fim: Option<FimTokens>, repository: bool) -> Specials {
    Specials {
        bos: Some(tokenizer.bos_id()),
        fim,
        repository: repository.then_some(RepositoryTokens {
            repo_name: REPO,
            file_sep: SEP,
        }),
    }
}

fn chunk(path: &str, text: &str) -> PromptChunk {
    PromptChunk {
        path: path.to_string(),
        text: Arc::from(text),
    }
}

/// Two chunks of `util.py` and `models.py`, shown in `main.py` of the `shop` folder.
fn context(budget_tokens: usize) -> PromptContext {
    PromptContext {
        chunks: vec![
            chunk(
                "util.py",
                "def parse_price(text):\n    return float(text)\n",
            ),
            chunk(
                "models.py",
                "class Basket:\n    def __init__(self):\n        self.items = []\n",
            ),
        ],
        budget_tokens,
        document_path: "main.py".to_string(),
        language_id: "python".to_string(),
        repository: "shop".to_string(),
    }
}

fn request<'a>(
    before: &'a str,
    after: &'a str,
    context_tokens: usize,
    cross_file: &'a PromptContext,
) -> PromptRequest<'a> {
    PromptRequest {
        text_before_cursor: before,
        text_after_cursor: after,
        context_tokens,
        reserve_tokens: 64,
        context_length: CONTEXT_LENGTH,
        cross_file,
        heal: false,
    }
}

fn encode(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    tokenizer.encode(text).unwrap()
}

fn concat(parts: &[&[u32]]) -> Vec<u32> {
    parts.concat()
}

/// The text of `tokens` without the layout's own tokens (which are beyond the vocabulary).
fn text_of(tokenizer: &Tokenizer, tokens: &[u32]) -> String {
    let text_tokens: Vec<u32> = tokens
        .iter()
        .copied()
        .filter(|&id| (id as usize) < tokenizer.vocab_size())
        .collect();
    tokenizer.decode(&text_tokens).unwrap()
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

const BEFORE: &str = "from util import parse_price\n\ndef total(lines):\n    return sum(";
const AFTER: &str = ")\n\nprint(total(['1.5']))\n";

#[test]
fn without_fim_or_chunks_the_prompt_is_the_text_before_the_cursor() {
    let tokenizer = tokenizer();
    let empty = PromptContext::default();
    let prompt = build(
        &tokenizer,
        &Specials::of(&tokenizer),
        &request(BEFORE, AFTER, 1536, &empty),
    )
    .unwrap();
    let expected = concat(&[&[tokenizer.bos_id()], &encode(&tokenizer, BEFORE)]);
    assert_eq!(prompt.tokens, expected);
    assert!(prompt.stop_tokens.is_empty());
    assert_eq!(
        prompt_tokens(&tokenizer, BEFORE, 1536, 64, CONTEXT_LENGTH).unwrap(),
        expected
    );
}

#[test]
fn plain_prompts_show_chunks_under_comment_lines_naming_their_files() {
    let tokenizer = tokenizer();
    let context = context(512);
    let prompt = build(
        &tokenizer,
        &specials(&tokenizer, None, false),
        &request(BEFORE, AFTER, 1536, &context),
    )
    .unwrap();
    let text = format!(
        "# util.py\n{}# models.py\n{}# main.py\n",
        context.chunks[0].text, context.chunks[1].text
    );
    let cross_file = concat(&[
        &encode(&tokenizer, "# util.py\n"),
        &encode(&tokenizer, &context.chunks[0].text),
        &encode(&tokenizer, "# models.py\n"),
        &encode(&tokenizer, &context.chunks[1].text),
        &encode(&tokenizer, "# main.py\n"),
    ]);
    assert_eq!(tokenizer.decode(&cross_file).unwrap(), text);
    assert_eq!(
        prompt.tokens,
        concat(&[
            &[tokenizer.bos_id()],
            &cross_file,
            &encode(&tokenizer, BEFORE)
        ])
    );
    assert_eq!(prompt.cross_file_tokens, cross_file.len());
}

#[test]
fn prefix_suffix_middle_prompts() {
    let tokenizer = tokenizer();
    let empty = PromptContext::default();
    let prompt = build(
        &tokenizer,
        &specials(&tokenizer, Some(fim(false)), false),
        &request(BEFORE, AFTER, 1536, &empty),
    )
    .unwrap();
    assert_eq!(
        prompt.tokens,
        concat(&[
            &[tokenizer.bos_id(), PRE],
            &encode(&tokenizer, BEFORE),
            &[SUF],
            &encode(&tokenizer, AFTER),
            &[MID],
        ])
    );
    assert_eq!(prompt.stop_tokens, [EOT]);
}

#[test]
fn suffix_first_prompts_follow_llama_cpp_order() {
    let tokenizer = tokenizer();
    let empty = PromptContext::default();
    let prompt = build(
        &tokenizer,
        &specials(&tokenizer, Some(fim(true)), false),
        &request(BEFORE, AFTER, 1536, &empty),
    )
    .unwrap();
    assert_eq!(
        prompt.tokens,
        concat(&[
            &[tokenizer.bos_id(), SUF],
            &encode(&tokenizer, AFTER),
            &[PRE],
            &encode(&tokenizer, BEFORE),
            &[MID],
        ])
    );
}

#[test]
fn repository_level_prompts_name_the_repository_and_every_file() {
    let tokenizer = tokenizer();
    let context = context(512);
    let prompt = build(
        &tokenizer,
        &specials(&tokenizer, Some(fim(false)), true),
        &request(BEFORE, AFTER, 1536, &context),
    )
    .unwrap();
    assert_eq!(
        prompt.tokens,
        concat(&[
            &[tokenizer.bos_id(), REPO],
            &encode(&tokenizer, "shop\n"),
            &[SEP],
            &encode(&tokenizer, "util.py\n"),
            &encode(&tokenizer, &context.chunks[0].text),
            &[SEP],
            &encode(&tokenizer, "models.py\n"),
            &encode(&tokenizer, &context.chunks[1].text),
            &[SEP],
            &encode(&tokenizer, "main.py\n"),
            &[PRE],
            &encode(&tokenizer, BEFORE),
            &[SUF],
            &encode(&tokenizer, AFTER),
            &[MID],
        ])
    );
}

#[test]
fn repository_tokens_without_fim_tokens_are_not_used() {
    let tokenizer = tokenizer();
    let context = context(512);
    let prompt = build(
        &tokenizer,
        &specials(&tokenizer, None, true),
        &request(BEFORE, AFTER, 1536, &context),
    )
    .unwrap();
    assert!(!prompt.tokens.contains(&REPO) && !prompt.tokens.contains(&SEP));
    assert!(prompt.cross_file_tokens > 0);
}

#[test]
fn chunks_over_the_budget_are_dropped_whole_oldest_first() {
    let tokenizer = tokenizer();
    let full = build(
        &tokenizer,
        &specials(&tokenizer, None, false),
        &request(BEFORE, "", 1536, &context(512)),
    )
    .unwrap();
    let newest_only = concat(&[
        &encode(&tokenizer, "# models.py\n"),
        &encode(&tokenizer, &context(0).chunks[1].text),
        &encode(&tokenizer, "# main.py\n"),
    ]);
    // A budget one token short of both chunks keeps the newest alone.
    let tight = build(
        &tokenizer,
        &specials(&tokenizer, None, false),
        &request(BEFORE, "", 1536, &context(full.cross_file_tokens - 1)),
    )
    .unwrap();
    assert_eq!(tight.cross_file_tokens, newest_only.len());
    assert_eq!(&tight.tokens[1..1 + newest_only.len()], &newest_only[..]);
    // Too small for any chunk: no cross-file part at all, not even the document's header.
    let none = build(
        &tokenizer,
        &specials(&tokenizer, None, false),
        &request(BEFORE, "", 1536, &context(newest_only.len() - 1)),
    )
    .unwrap();
    assert_eq!(none.cross_file_tokens, 0);
    assert_eq!(none.tokens[1..], encode(&tokenizer, BEFORE)[..]);
}

#[test]
fn chunks_take_at_most_half_of_the_prompt_and_the_whole_prompt_fits() {
    let tokenizer = tokenizer();
    let long_chunk: String = (0..200).map(|i| format!("value_{i} = {i}\n")).collect();
    let context = PromptContext {
        chunks: vec![
            chunk("a.py", &long_chunk),
            chunk("b.py", "x = 1\ny = 2\nz = 3\n"),
        ],
        ..context(100_000)
    };
    let before: String = (0..400).map(|i| format!("line_{i} = {i}\n")).collect();
    for fim_tokens in [None, Some(fim(true)), Some(fim(false))] {
        let prompt = build(
            &tokenizer,
            &specials(&tokenizer, fim_tokens, false),
            &request(&before, &before, 512, &context),
        )
        .unwrap();
        assert!(prompt.tokens.len() <= 512, "{}", prompt.tokens.len());
        assert!(prompt.cross_file_tokens > 0 && prompt.cross_file_tokens <= 511 / 2);
        // The long chunk does not fit half of the budget; the short newest one does.
        let text = text_of(&tokenizer, &prompt.tokens);
        assert!(text.contains("# b.py\nx = 1"), "{text}");
        assert!(!text.contains("a.py"), "{text}");
    }
}

#[test]
fn the_suffix_is_cut_at_a_line_end_within_its_share_and_line_limit() {
    let tokenizer = tokenizer();
    let empty = PromptContext::default();
    let after: String = (0..200).map(|i| format!("after_{i}()\n")).collect();
    let build_with = |context_tokens| -> Prompt {
        build(
            &tokenizer,
            &specials(&tokenizer, Some(fim(false)), false),
            &request("x = ", &after, context_tokens, &empty),
        )
        .unwrap()
    };
    let suffix_of = |prompt: &Prompt| -> String {
        let start = prompt.tokens.iter().position(|&t| t == SUF).unwrap() + 1;
        let end = prompt.tokens.iter().position(|&t| t == MID).unwrap();
        tokenizer.decode(&prompt.tokens[start..end]).unwrap()
    };
    let roomy = suffix_of(&build_with(8000));
    assert_eq!(roomy.lines().count(), SUFFIX_LINES);
    assert!(after.starts_with(&roomy) && roomy.ends_with('\n'));
    let tight_prompt = build_with(200);
    let tight = suffix_of(&tight_prompt);
    assert!(
        after.starts_with(&tight) && tight.ends_with('\n'),
        "{tight:?}"
    );
    let suffix_tokens = encode(&tokenizer, &tight).len();
    assert!(
        suffix_tokens > 0 && suffix_tokens <= 200 / 4,
        "{suffix_tokens}"
    );
}

/// Types `typed` one character at a time at the end of `before` (the cursor stays before
/// `after`) and returns the share of all prompt tokens that were shared with the previous prompt
/// (what the cached sequence reuses).
fn typing_reuse(tokenizer: &Tokenizer, specials: &Specials, before: &str, after: &str) -> f64 {
    let context = context(512);
    let typed = "    result = parse_price(line)\n    basket = Basket()\n";
    let mut text = before.to_string();
    let mut previous = build(tokenizer, specials, &request(&text, after, 1536, &context)).unwrap();
    assert!(previous.cross_file_tokens > 0);
    let (mut shared, mut total) = (0usize, 0usize);
    for c in typed.chars() {
        text.push(c);
        let prompt = build(tokenizer, specials, &request(&text, after, 1536, &context)).unwrap();
        assert_eq!(prompt.cross_file_tokens, previous.cross_file_tokens);
        assert_eq!(
            prompt.tokens[..1 + prompt.cross_file_tokens],
            previous.tokens[..1 + previous.cross_file_tokens],
            "the cross-file part must not move while typing"
        );
        shared += common_prefix(&previous.tokens, &prompt.tokens);
        total += prompt.tokens.len();
        previous = prompt;
    }
    shared as f64 / total as f64
}

#[test]
fn consecutive_keystrokes_keep_the_prompt_start_with_chunks_in_front() {
    let tokenizer = tokenizer();
    let long_file = include_str!("../../benches/workloads/long_file.py");
    // The document overflows its window, so the window's start is anchored too; prefix-suffix-middle
    // prompts recompute the short suffix after each keystroke, the others only the new tokens.
    for (specials, after) in [
        (specials(&tokenizer, None, false), ""),
        (specials(&tokenizer, Some(fim(true)), true), AFTER),
        (specials(&tokenizer, Some(fim(false)), true), AFTER),
    ] {
        let reused = typing_reuse(&tokenizer, &specials, long_file, after);
        assert!(reused > 0.9, "{specials:?}: {reused}");
    }
}
