//! The reasoning guard "the model must prefer the result", with the real default model: a true fix passes, a rewrite the model finds implausible is rejected.
//!
//! Chains are not run here (a small model's chain is rarely good enough to reach this guard); the
//! engine's comparison is called directly with the results a chain could have produced.

use rill_model::{LoadOptions, LoadedModel};
use rill_server::engine::prefer::{compare, PreferInput, Preference};
use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
use rill_server::reasoning::guards::{model_prefers, Rejection};

const CONTEXT: &str =
    "import math\n\n\ndef norm(values):\n    return math.sqrt(sum(v * v for v in values))\n\n\n";
const CORRECT: &str = "def mean(values):\n    if not values:\n        raise ValueError(\"mean of nothing\")\n    total = 0\n    for value in values:\n        total += value\n    return total / len(values)\n";
const BUGGY: &str = "def mean(values):\n    if not values:\n        raise ValueError(\"mean of nothing\")\n    total = 0\n    for value in values:\n        total += values\n    return total / len(values)\n";
const FOLLOWING: &str = "\n\ndef variance(values):\n    m = mean(values)\n";

fn preference(loaded: &LoadedModel, original: &str, result: &str) -> Preference {
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    let input = PreferInput {
        context: CONTEXT.to_string(),
        original: original.to_string(),
        result: result.to_string(),
        following: FOLLOWING.to_string(),
    };
    compare(
        loaded,
        &mut store,
        &rill_server::engine::SequenceKey::reasoning("check"),
        &input,
        &|| false,
    )
    .expect("scoring works")
    .expect("not cancelled")
}

#[test]
fn the_model_accepts_a_true_fix_and_rejects_a_scrambled_rewrite() {
    let loaded = LoadedModel::load(&rill_e2e::model_path(), LoadOptions::default())
        .expect("the default model loads (scripts/fetch-model.py)");

    let fix = preference(&loaded, BUGGY, CORRECT);
    assert!(
        model_prefers(fix.original, fix.result).is_ok(),
        "a true fix was rejected: {fix:?}"
    );

    // The same names, still Python, so every lexical guard passes it: only the model can tell.
    let scrambled: String = {
        let mut lines: Vec<&str> = CORRECT.lines().collect();
        lines[1..].reverse();
        lines.join("\n") + "\n"
    };
    let bad = preference(&loaded, CORRECT, &scrambled);
    assert!(
        matches!(
            model_prefers(bad.original, bad.result),
            Err(Rejection::ModelPrefersOriginal { .. })
        ),
        "a scrambled rewrite passed: {bad:?}"
    );
    // Scoring the same texts twice gives the same figures (the cached prefix is reused exactly).
    let again = preference(&loaded, CORRECT, &scrambled);
    assert!(
        (again.drop() - bad.drop()).abs() < 1e-3,
        "{again:?} vs {bad:?}"
    );
}
