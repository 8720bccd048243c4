//! Shared helpers of the model crate's integration tests: locating the default model and the reference data.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use rill_model::{Gemma3, LoadOptions};

/// The default model, found the way `rill` finds it. Tests that claim model behaviour need the real
/// file, so a missing model fails the test with the command that fetches it.
pub fn default_model_path() -> PathBuf {
    if let Ok(path) = std::env::var("RILL_MODEL") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .expect("neither XDG_CACHE_HOME nor HOME is set");
    let path = cache.join("rill/models/gemma-3-270m-q4_k_m.gguf");
    assert!(
        path.is_file(),
        "the default model is missing at {}; run `python3 scripts/fetch-model.py` first",
        path.display()
    );
    path
}

/// The quantized default model, loaded once per test binary.
pub fn model() -> &'static Gemma3 {
    static MODEL: OnceLock<Gemma3> = OnceLock::new();
    MODEL.get_or_init(|| {
        Gemma3::load(&default_model_path(), LoadOptions::default()).expect("load the default model")
    })
}

/// The default model with every matrix dequantized to f32, loaded once per test binary.
pub fn model_f32() -> &'static Gemma3 {
    static MODEL: OnceLock<Gemma3> = OnceLock::new();
    MODEL.get_or_init(|| {
        Gemma3::load(&default_model_path(), LoadOptions { dequantize: true })
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

/// log-softmax of one logit row at `index`, and the row's best index.
pub fn log_prob_and_argmax(row: &[f32], index: usize) -> (f32, usize) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = row.iter().map(|&v| ((v - max) as f64).exp()).sum();
    let log_z = max as f64 + sum.ln();
    let best = row
        .iter()
        .enumerate()
        .fold(
            (0, f32::NEG_INFINITY),
            |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
        )
        .0;
    ((row[index] as f64 - log_z) as f32, best)
}
