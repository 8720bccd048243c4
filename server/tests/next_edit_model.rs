//! Next edits on the real model, below the LSP: a rename at the top of a long function is carried to its use far below, and the search computes the edited line and the use's own surroundings, not the text in between.

use rill_model::{LoadOptions, LoadedModel};
use rill_server::config::Config;
use rill_server::engine::next_edit::{run, NextEditJob, Outcome};
use rill_server::engine::prompt::prompt_tokens;
use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
use rill_server::engine::{CancelToken, SequenceKey};
use rill_server::next_edit::targets::targets;
use rill_server::next_edit::Hunk;
use rill_server::next_edit::MARGIN;

const DOCUMENT: &str = "file:///work/report.py";

/// A function whose accumulator is renamed on its first line and used again about 40 lines (over
/// 400 tokens) further down.
fn before() -> String {
    let mut text = String::from("def summarize(values, labels):\n    total = 0\n");
    for i in 0..40 {
        text.push_str(&format!("    label_{i} = labels.get({i}, 'item {i}')\n"));
    }
    text.push_str("    for value in values:\n        total += value\n    return total\n");
    text
}

#[test]
fn a_rename_reaches_a_use_far_below_without_computing_the_lines_in_between() {
    let path = rill_model::paths::resolve_model_path(None)
        .expect("the default model (run scripts/fetch-model.py)");
    let loaded = LoadedModel::load(&path, LoadOptions::default()).expect("load the default model");
    let config = Config::default();
    let old = before();
    let new = old.replacen("    total = 0\n", "    running_total = 0\n", 1);
    let edit_at = old.find("total = 0").unwrap();

    // The editor asked for a completion where the cursor was before the edit: the document's
    // completion sequence holds the text up to there.
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    let prompt = prompt_tokens(
        &loaded.tokenizer,
        &old[..edit_at],
        config.context_tokens,
        config.max_tokens,
        loaded.model.config().context_length,
    )
    .unwrap();
    store
        .sequence(&SequenceKey::completion(DOCUMENT), &loaded.model)
        .sync(&loaded.model, &prompt, &|| false)
        .unwrap();

    let hunk = Hunk::between(&old, &new).unwrap();
    let targets = targets(&new, &hunk, &[], 6);
    assert!(!targets.is_empty(), "the renamed name's uses are targets");
    let (answer, _answers) = tokio::sync::mpsc::unbounded_channel();
    let job = NextEditJob {
        text: new.clone(),
        hunk,
        targets,
        rejected: Vec::new(),
        margin: MARGIN,
        context_tokens: config.context_tokens,
        reserve_tokens: config.max_tokens,
        cancel: CancelToken::new(),
        answer,
    };
    let between = loaded
        .tokenizer
        .encode(&new[new.find("    label_0").unwrap()..new.find("    for value").unwrap()])
        .unwrap()
        .len();
    let before_work = loaded.model.work();
    let outcome = run(
        &loaded,
        &mut store,
        &SequenceKey::next_edit(DOCUMENT),
        &job,
        &|| false,
    )
    .unwrap();
    let computed = loaded.model.work().tokens - before_work.tokens;
    eprintln!("the search ran {computed} tokens; {between} lie between the edit and the use");
    let Outcome::Done(Some(proposal)) = outcome else {
        panic!("no proposal for a renamed accumulator");
    };
    assert_eq!(
        &new[proposal.range.clone()],
        "        total += value",
        "the first use below the rename"
    );
    assert_eq!(proposal.new_text, "        running_total += value");
    assert!(
        (computed as usize) < between,
        "the search ran {computed} tokens; the lines between the edit and the use alone are {between}"
    );
}
