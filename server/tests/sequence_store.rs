//! The engine's sequence store on the real model: a document's companion sequences (diagnostics scan, reasoning chain) are freed and counted with it, and a reasoning job never takes the protection of the document being edited.

use rill_model::{LoadOptions, LoadedModel};
use rill_server::engine::spill::SpillArea;
use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES, DEFAULT_DISK_BUDGET_BYTES};
use rill_server::engine::SequenceKey;

const DOCUMENT: &str = "file:///work/a.py";
const OTHER: &str = "file:///work/b.py";

fn completion(document: &str) -> SequenceKey {
    SequenceKey::completion(document)
}

fn model() -> LoadedModel {
    let path = rill_model::paths::resolve_model_path(None)
        .expect("the default model (run scripts/fetch-model.py)");
    LoadedModel::load(&path, LoadOptions::default()).expect("load the default model")
}

/// Caches `text` in the sequence `key`.
fn fill(store: &mut SequenceStore, loaded: &LoadedModel, key: &SequenceKey, text: &str) {
    let mut tokens = vec![loaded.tokenizer.bos_id()];
    tokens.extend(loaded.tokenizer.encode(text).unwrap());
    store
        .sequence(key, &loaded.model)
        .extend(&loaded.model, &tokens)
        .unwrap();
}

#[test]
fn companion_sequences_belong_to_their_document() {
    let loaded = model();
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    fill(
        &mut store,
        &loaded,
        &completion(DOCUMENT),
        "def f(x):\n    return x\n",
    );
    fill(
        &mut store,
        &loaded,
        &SequenceKey::scan(DOCUMENT),
        "def f(x):\n",
    );
    fill(
        &mut store,
        &loaded,
        &SequenceKey::reasoning(DOCUMENT),
        "Fix the code step by step.",
    );
    fill(&mut store, &loaded, &completion(OTHER), "import os\n");

    // Reports count documents, not sequences.
    assert_eq!(store.report().documents, 2, "the open documents");

    // Closing a document frees every sequence of it, its reasoning chain's included.
    store.remove_document(DOCUMENT);
    assert!(
        store.peek(&SequenceKey::reasoning(DOCUMENT)).is_none(),
        "the chain's sequence is freed"
    );
    assert!(store.peek(&SequenceKey::scan(DOCUMENT)).is_none());
    assert!(store.peek(&completion(DOCUMENT)).is_none());
    let report = store.report();
    assert_eq!(report.documents, 1);
    assert_eq!(
        report.tokens,
        store
            .peek(&completion(OTHER))
            .map_or(0, |sequence| sequence.tokens().len()),
        "only the other document's tokens are left"
    );
}

#[test]
fn a_reasoning_job_leaves_the_edited_document_protected() {
    let loaded = model();
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    fill(
        &mut store,
        &loaded,
        &completion(OTHER),
        "import os\nimport sys\n",
    );
    fill(
        &mut store,
        &loaded,
        &SequenceKey::reasoning(DOCUMENT),
        "Explain the code.",
    );
    // The user edits OTHER, then runs a chain on DOCUMENT: the worker marks each job's sequence.
    store.set_editing(&completion(OTHER));
    store.set_editing(&SequenceKey::reasoning(DOCUMENT));
    assert_eq!(store.protected(), vec![&completion(OTHER)]);
    // Nothing may be kept beyond the protected sequences: the chain's goes, the edited one stays.
    store.set_budget(0);
    store.enforce();
    assert!(
        store.peek(&completion(OTHER)).is_some(),
        "the edited document was evicted"
    );
    assert!(store.peek(&SequenceKey::reasoning(DOCUMENT)).is_none());

    // A panic in a chain drops only the chain's own sequence.
    fill(
        &mut store,
        &loaded,
        &SequenceKey::reasoning(OTHER),
        "Explain.",
    );
    store.remove(&SequenceKey::reasoning(OTHER));
    assert!(store.peek(&completion(OTHER)).is_some());
}

/// Scoring interrupted after every chunk, over text whose astral characters are byte-fallback
/// tokens (four per character): the point reached falls inside a character again and again, and
/// scoring must resume from the last whole line without slicing through it (found by the fuzz
/// campaign: the engine panicked there).
#[test]
fn scoring_interrupted_inside_a_character_resumes_from_a_line_start() {
    use std::cell::Cell;
    use std::sync::Arc;

    use rill_server::diagnostics::Thresholds;
    use rill_server::engine::diagnose::{run, DiagnoseJob, DiagnoseKind, Progress};
    use rill_server::engine::CancelToken;

    let loaded = model();
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    let text: String = (0..12)
        .map(|n| format!("x_{n} = \"𝔘𝔫𝔦𝔠𝔬𝔡𝔢 🦀 {n}\"  # 𝔘𝔫𝔦\n"))
        .collect();
    let (events, _received) = tokio::sync::mpsc::unbounded_channel();
    let mut job = DiagnoseJob {
        text: Arc::from(text.as_str()),
        language_id: "python".to_string(),
        // One region: the whole text.
        regions: std::iter::once(0..text.len()).collect(),
        context_tokens: 64,
        reserve_tokens: 8,
        thresholds: Thresholds {
            min_surprise: 12.0,
            min_alternative: 0.7,
        },
        min_gain: None,
        open_names: Arc::default(),
        kind: DiagnoseKind::Opened,
        cancel: CancelToken::new(),
        events,
    };
    let mut rounds = 0;
    loop {
        // Scoring asks before each pass and before each of its 18 layers, so about 19 times a
        // pass: interrupted after 10 to 109 questions, some rounds stop between passes, some
        // inside one, after none to five whole passes, and the point reached varies.
        let checks = Cell::new(0);
        let allowed = 10 + (rounds * 13) % 100;
        let interrupted = || {
            checks.set(checks.get() + 1);
            checks.get() > allowed
        };
        let progress = run(&loaded, &mut store, DOCUMENT, &mut job, &interrupted).unwrap();
        rounds += 1;
        if matches!(progress, Progress::Finished) {
            break;
        }
        for region in &job.regions {
            assert!(text.is_char_boundary(region.start), "{region:?}");
        }
        assert!(rounds < 500, "scoring makes no progress");
    }
    assert!(rounds > 1, "scoring was never interrupted");
}

#[test]
fn pre_warming_the_edited_document_keeps_the_one_pre_warmed_before() {
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    store.set_prewarmed(&completion(OTHER));
    store.set_editing(&completion(DOCUMENT));
    // After a completion in DOCUMENT its pre-warm runs: OTHER stays protected beside it.
    store.set_prewarmed(&completion(DOCUMENT));
    assert_eq!(
        store.protected(),
        vec![&completion(DOCUMENT), &completion(OTHER)]
    );
    // Another document's pre-warm takes the mark.
    store.set_prewarmed(&completion("file:///work/c.py"));
    assert_eq!(
        store.protected(),
        vec![&completion(DOCUMENT), &completion("file:///work/c.py")]
    );
}

/// Two files of real code, long enough that compaction drops positions (past the sliding window).
fn long_text(seed: &str) -> String {
    (0..90)
        .map(|i| format!("def {seed}_{i}(values):\n    return sum(values) * {i}\n"))
        .collect()
}

/// Caches DOCUMENT, then edits OTHER: DOCUMENT is compacted and, in `store`, moved to disk.
fn leave_document_idle(store: &mut SequenceStore, loaded: &LoadedModel) {
    for (key, seed) in [(completion(DOCUMENT), "a"), (completion(OTHER), "b")] {
        store.set_editing(&key);
        let mut tokens = vec![loaded.tokenizer.bos_id()];
        tokens.extend(loaded.tokenizer.encode(&long_text(seed)).unwrap());
        store
            .sequence(&key, &loaded.model)
            .sync(&loaded.model, &tokens, &|| false)
            .unwrap();
    }
    store.enforce();
}

#[test]
fn an_idle_document_moves_to_disk_and_comes_back_bit_for_bit() {
    let loaded = model();
    let dir = tempfile::tempdir().unwrap();
    let area = SpillArea::new(dir.path().join("kv"), DEFAULT_DISK_BUDGET_BYTES);
    let mut spilling = SequenceStore::new(DEFAULT_BUDGET_BYTES).with_spill(area);
    let mut in_memory = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    leave_document_idle(&mut spilling, &loaded);
    leave_document_idle(&mut in_memory, &loaded);

    assert!(spilling.is_on_disk(&completion(DOCUMENT)));
    assert!(
        !spilling.is_on_disk(&completion(OTHER)),
        "the edited one stays"
    );
    let (disk, memory) = (spilling.report(), in_memory.report());
    assert!(disk.disk_bytes > 0 && memory.disk_bytes == 0);
    assert_eq!(disk.tokens, memory.tokens, "the same tokens are cached");
    assert!(
        disk.bytes + disk.disk_bytes / 2 < memory.bytes,
        "memory holds only the edited document: {} in memory and {} on disk vs {}",
        disk.bytes,
        disk.disk_bytes,
        memory.bytes
    );
    assert_eq!(
        spilling.cached_tokens(&completion(DOCUMENT)),
        in_memory.cached_tokens(&completion(DOCUMENT)),
        "prefix checks see the tokens without reading the file"
    );

    // The user returns to DOCUMENT and types: the next token's logits are those of the cache that
    // never left memory, bit for bit.
    let next = loaded.tokenizer.encode("def").unwrap()[0];
    let back = spilling
        .sequence(&completion(DOCUMENT), &loaded.model)
        .push(&loaded.model, next)
        .unwrap();
    let stayed = in_memory
        .sequence(&completion(DOCUMENT), &loaded.model)
        .push(&loaded.model, next)
        .unwrap();
    assert!(!spilling.is_on_disk(&completion(DOCUMENT)));
    assert!(
        back.iter()
            .zip(&stayed)
            .all(|(a, b)| a.to_bits() == b.to_bits()),
        "logits differ after the cache came back from disk"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("kv")).unwrap().count(),
        0,
        "the files are unlinked: nothing is left behind by name"
    );
}

#[test]
fn over_the_disk_budget_idle_documents_are_evicted_and_an_unwritable_directory_keeps_them_in_memory(
) {
    let loaded = model();
    let dir = tempfile::tempdir().unwrap();
    let tiny = SpillArea::new(dir.path().to_path_buf(), 1);
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES).with_spill(tiny);
    leave_document_idle(&mut store, &loaded);
    assert!(store.cached_tokens(&completion(DOCUMENT)).is_none());
    assert!(store.peek(&completion(OTHER)).is_some());

    // A directory below a plain file cannot be created: the caches stay in memory.
    let file = dir.path().join("plain");
    std::fs::write(&file, "not a directory").unwrap();
    let unwritable = SpillArea::new(file.join("kv"), DEFAULT_DISK_BUDGET_BYTES);
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES).with_spill(unwritable);
    leave_document_idle(&mut store, &loaded);
    assert!(store.peek(&completion(DOCUMENT)).is_some());
    assert_eq!(store.report().disk_bytes, 0);
}
