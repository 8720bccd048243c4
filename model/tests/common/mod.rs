//! Shared helpers of the model crate's integration tests: locating the default model and the reference data.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

pub mod bpe_gguf;
pub mod llama_cpp;
pub mod tiny_gguf;

use rill_model::{LoadOptions, Model, Which};

/// The default model, found the way `rill` finds it (`RILL_MODEL`, then the user cache). Tests
/// that claim model behaviour need the real file, so a missing model fails the test with the
/// command that fetches it.
pub fn default_model_path() -> PathBuf {
    rill_model::paths::resolve_model_path(None).unwrap_or_else(|err| panic!("{err}"))
}

/// The quantized default model, loaded once per test binary.
pub fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        Model::load(&default_model_path(), LoadOptions::default()).expect("load the default model")
    })
}

/// The default model with every matrix dequantized to f32, loaded once per test binary.
pub fn model_f32() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        Model::load(&default_model_path(), LoadOptions { dequantize: true })
            .expect("load the default model as f32")
    })
}

/// Path of a file in `shared/reference/` (ground truth made with llama.cpp).
pub fn reference_file(name: &str) -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("RILL_REFERENCE_DIR").map(PathBuf::from),
        Some(manifest.join("../tests/reference")),
        Some(manifest.join("../../shared/reference")),
    ];
    for dir in candidates.into_iter().flatten() {
        let path = dir.join(name);
        if path.is_file() {
            return path;
        }
    }
    panic!("reference file {name} not found in tests/reference or ../shared/reference");
}

/// One line of `greedy.jsonl`.
#[derive(serde::Deserialize)]
pub struct GreedyCase {
    pub lang: String,
    pub prompt: String,
    pub prompt_tokens: Vec<u32>,
    pub completion_tokens: Vec<u32>,
    pub top2_logprobs: Vec<Vec<(String, f32)>>,
    pub top2_margins: Vec<f32>,
}

/// All lines of `greedy.jsonl`.
pub fn greedy_cases() -> Vec<GreedyCase> {
    let text = std::fs::read_to_string(reference_file("greedy.jsonl")).expect("read greedy.jsonl");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("parse greedy.jsonl line"))
        .collect()
}

/// The default model's tokenizer, loaded once per test binary.
pub fn tokenizer() -> &'static rill_model::Tokenizer {
    static TOKENIZER: OnceLock<rill_model::Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let file = rill_model::GgufFile::open(&default_model_path()).unwrap();
        rill_model::Tokenizer::from_gguf(file.content()).unwrap()
    })
}

/// Line-search parameters the model's tests start from: three candidates after `heal`, branching
/// below 0.5, no comment lines skipped, no time budget, nobody told of beginnings. A test sets
/// what it is about with `..line_search(heal)`.
pub fn line_search(heal: &str) -> rill_model::lines::LineSearch<'_> {
    rill_model::lines::LineSearch {
        heal,
        width: 3,
        branch_below: 0.5,
        min_alternative: 0.05,
        max_tokens: 16,
        stop_tokens: &[],
        following: "",
        following_tokens: 16,
        skip_line: &|_| false,
        max_skipped: 0,
        explore_until: None,
        decide_by: None,
        beginnings: &|_| {},
    }
}

/// The line search `params` after `prompt` on the default model, in a fresh sequence, never
/// cancelled.
pub fn search_lines(
    prompt: &[u32],
    params: &rill_model::lines::LineSearch,
) -> rill_model::lines::SearchOutcome {
    let mut sequence = rill_model::Sequence::new(model());
    rill_model::lines::search(model(), tokenizer(), &mut sequence, prompt, params, &|| {
        false
    })
    .expect("search")
    .expect("not cancelled")
}

/// Logits of every position of `tokens`, fed in chunks of the given sizes (cycled).
pub fn chunked_logits(model: &Model, tokens: &[u32], chunk_sizes: &[usize]) -> Vec<f32> {
    let mut cache = model.new_cache();
    let mut logits = Vec::new();
    let mut start = 0;
    let mut sizes = chunk_sizes.iter().cycle();
    while start < tokens.len() {
        let end = (start + sizes.next().unwrap()).min(tokens.len());
        logits.extend(
            model
                .forward_to_vec(&tokens[start..end], &mut cache, Which::All)
                .unwrap()
                .1,
        );
        start = end;
    }
    assert_eq!(cache.len(), tokens.len());
    logits
}
