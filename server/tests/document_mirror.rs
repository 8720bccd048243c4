//! Tests of the document mirror: position conversions in both encodings, clamping, edits checked against a
//! plain `String` model, and the store of open documents.
//!
//! The `String` model
//! converts positions by walking the text itself, written independently of ropey, so the two
//! implementations check each other.

use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use rill_server::documents::{Document, DocumentError, DocumentStore, PositionEncoding};
use tower_lsp::lsp_types::{
    Position, PositionEncodingKind, Range, TextDocumentContentChangeEvent, Url,
};

/// The marker for a char index in fixtures.
const MARK: char = '┃';

const BOTH: [PositionEncoding; 2] = [PositionEncoding::Utf8, PositionEncoding::Utf16];

// ---------------------------------------------------------------------------------------------------------
// The independent `String` model.
// ---------------------------------------------------------------------------------------------------------

/// The byte range of each line's content (terminator excluded), found by walking the bytes.
fn model_lines(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push((start, i));
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push((start, i));
                i += if bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            _ => i += 1,
        }
    }
    lines.push((start, bytes.len()));
    lines
}

/// How many columns a char takes in an encoding.
fn width(c: char, encoding: PositionEncoding) -> usize {
    match encoding {
        PositionEncoding::Utf8 => c.len_utf8(),
        PositionEncoding::Utf16 => c.len_utf16(),
    }
}

/// How many columns a piece of text takes in an encoding.
fn units(text: &str, encoding: PositionEncoding) -> usize {
    text.chars().map(|c| width(c, encoding)).sum()
}

/// The byte offset of an LSP position, clamped as the spec says.
fn model_offset(text: &str, position: Position, encoding: PositionEncoding) -> usize {
    let lines = model_lines(text);
    let Some(&(start, end)) = lines.get(position.line as usize) else {
        return text.len();
    };
    let column = position.character as usize;
    let mut seen = 0;
    for (i, c) in text[start..end].char_indices() {
        // A column inside this char (or at its start) means the char's start.
        if column < seen + width(c, encoding) {
            return start + i;
        }
        seen += width(c, encoding);
    }
    end
}

/// The LSP position of a byte offset; an offset inside a line terminator is the end of that line.
fn model_position(text: &str, offset: usize, encoding: PositionEncoding) -> Position {
    let lines = model_lines(text);
    let line = lines
        .iter()
        .rposition(|&(start, _)| start <= offset)
        .unwrap_or(0);
    let (start, end) = lines[line];
    let column = units(&text[start..offset.min(end)], encoding);
    Position::new(line as u32, column as u32)
}

/// Applies one change to the model.
fn model_apply(
    text: &mut String,
    change: &TextDocumentContentChangeEvent,
    encoding: PositionEncoding,
) {
    match change.range {
        None => *text = change.text.clone(),
        Some(range) => {
            let a = model_offset(text, range.start, encoding);
            let b = model_offset(text, range.end, encoding);
            text.replace_range(a.min(b)..a.max(b), &change.text);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------------------

/// Splits a fixture at its `┃` into the text and the marked char index.
fn parse(fixture: &str) -> (String, usize) {
    let (before, after) = fixture
        .split_once(MARK)
        .expect("the fixture marks a char index with ┃");
    (format!("{before}{after}"), before.chars().count())
}

/// Asserts that the marked index is at `expect` in `encoding` and that `expect` maps back to it.
fn check_round_trip(fixture: &str, encoding: PositionEncoding, expect: (u32, u32)) {
    let (text, index) = parse(fixture);
    let doc = Document::new(&text, 0, "plaintext".into());
    let expect = Position::new(expect.0, expect.1);
    assert_eq!(
        doc.position(index, encoding),
        expect,
        "position of {fixture:?} in {encoding:?}"
    );
    assert_eq!(
        doc.char_index(expect, encoding),
        index,
        "char index in {fixture:?} in {encoding:?}"
    );
    let byte = before_mark_bytes(fixture);
    assert_eq!(
        doc.byte_offset(expect, encoding),
        byte,
        "byte offset in {fixture:?} in {encoding:?}"
    );
}

/// Asserts that the (possibly out-of-range) position `input` clamps to the marked index.
fn check_clamp(fixture: &str, encoding: PositionEncoding, input: (u32, u32)) {
    let (text, index) = parse(fixture);
    let doc = Document::new(&text, 0, "plaintext".into());
    let input = Position::new(input.0, input.1);
    assert_eq!(
        doc.char_index(input, encoding),
        index,
        "{input:?} in {fixture:?} in {encoding:?}"
    );
    assert_eq!(doc.byte_offset(input, encoding), before_mark_bytes(fixture));
}

fn before_mark_bytes(fixture: &str) -> usize {
    fixture.find(MARK).expect("the fixture has a ┃")
}

#[test]
fn round_trips_with_astral_chars() {
    check_round_trip("a🦀┃b", PositionEncoding::Utf16, (0, 3));
    check_round_trip("a🦀┃b", PositionEncoding::Utf8, (0, 5));
    check_round_trip("𐐀𐐀┃", PositionEncoding::Utf16, (0, 4));
    check_round_trip("𐐀𐐀┃", PositionEncoding::Utf8, (0, 8));
    check_round_trip("é┃中", PositionEncoding::Utf16, (0, 1));
    check_round_trip("é┃中", PositionEncoding::Utf8, (0, 2));
    check_round_trip("é中┃", PositionEncoding::Utf8, (0, 5));
}

#[test]
fn round_trips_across_line_breaks() {
    for encoding in BOTH {
        check_round_trip("┃", encoding, (0, 0));
        check_round_trip("𐐀\r\n┃x", encoding, (1, 0));
        check_round_trip("a\rb\nc\r\n┃", encoding, (3, 0));
        check_round_trip("a\r\r\n┃b", encoding, (2, 0));
        check_round_trip("中文\n\n┃", encoding, (2, 0));
        check_round_trip("ab┃\r\ncd", encoding, (0, 2));
    }
    check_round_trip("ab\r\nc🦀d┃", PositionEncoding::Utf16, (1, 4));
    check_round_trip("ab\r\nc🦀d┃", PositionEncoding::Utf8, (1, 6));
    check_round_trip("x\r🦀┃\rz", PositionEncoding::Utf16, (1, 2));
    check_round_trip("x\r🦀┃\rz", PositionEncoding::Utf8, (1, 4));
}

#[test]
fn columns_past_the_line_end_stop_before_the_terminator() {
    for encoding in BOTH {
        check_clamp("ab┃\r\ncd", encoding, (0, 3));
        check_clamp("ab┃\r\ncd", encoding, (0, 99));
        check_clamp("ab┃\rcd", encoding, (0, 3));
        check_clamp("a┃\n", encoding, (0, 5));
        check_clamp("ab\r\n┃", encoding, (1, 5));
        check_clamp("ab\r\ncd┃", encoding, (1, u32::MAX));
    }
    check_clamp("🦀┃\r\n", PositionEncoding::Utf16, (0, 3));
    check_clamp("🦀┃\r\n", PositionEncoding::Utf8, (0, 5));
}

#[test]
fn lines_past_the_end_mean_the_end_of_the_document() {
    for encoding in BOTH {
        check_clamp("ab\ncd┃", encoding, (2, 0));
        check_clamp("ab\ncd┃", encoding, (7, 3));
        check_clamp("ab\ncd\n┃", encoding, (9, 0));
        check_clamp("┃", encoding, (1, 1));
        check_clamp("ab\ncd┃", encoding, (u32::MAX, u32::MAX));
    }
}

#[test]
fn columns_inside_a_char_snap_to_its_start() {
    // The middle of a surrogate pair.
    check_clamp("┃🦀x", PositionEncoding::Utf16, (0, 1));
    check_clamp("a\n┃𐐀", PositionEncoding::Utf16, (1, 1));
    // The middle of multi-byte UTF-8 sequences.
    check_clamp("x┃🦀", PositionEncoding::Utf8, (0, 3));
    check_clamp("┃é", PositionEncoding::Utf8, (0, 1));
    check_clamp("a┃中", PositionEncoding::Utf8, (0, 2));
    check_clamp("a\r\n┃中", PositionEncoding::Utf8, (1, 2));
}

#[test]
fn char_indices_are_clamped_and_never_split_crlf() {
    for encoding in BOTH {
        let doc = Document::new("ab\r\ncd", 0, "plaintext".into());
        assert_eq!(doc.position(999, encoding), Position::new(1, 2));
        assert_eq!(doc.position(usize::MAX, encoding), Position::new(1, 2));
        // Index 3 sits between '\r' and '\n', which no position names; it reads as the end of line 0.
        assert_eq!(doc.position(3, encoding), Position::new(0, 2));
    }
}

#[test]
fn negotiate_chooses_utf8_only_when_offered() {
    use PositionEncodingKind as Kind;
    assert_eq!(PositionEncoding::negotiate(None), PositionEncoding::Utf16);
    assert_eq!(
        PositionEncoding::negotiate(Some(&[])),
        PositionEncoding::Utf16
    );
    assert_eq!(
        PositionEncoding::negotiate(Some(&[Kind::UTF16])),
        PositionEncoding::Utf16
    );
    assert_eq!(
        PositionEncoding::negotiate(Some(&[Kind::UTF32])),
        PositionEncoding::Utf16
    );
    assert_eq!(
        PositionEncoding::negotiate(Some(&[Kind::UTF32, Kind::UTF8])),
        PositionEncoding::Utf8
    );
    assert_eq!(
        PositionEncoding::negotiate(Some(&[Kind::UTF16, Kind::UTF8])),
        PositionEncoding::Utf8
    );
    assert_eq!(PositionEncoding::Utf8.kind(), Kind::UTF8);
    assert_eq!(PositionEncoding::Utf16.kind(), Kind::UTF16);
}

// ---------------------------------------------------------------------------------------------------------
// Document edits.
// ---------------------------------------------------------------------------------------------------------

fn edit(start: (u32, u32), end: (u32, u32), text: &str) -> TextDocumentContentChangeEvent {
    TextDocumentContentChangeEvent {
        range: Some(Range::new(
            Position::new(start.0, start.1),
            Position::new(end.0, end.1),
        )),
        range_length: None,
        text: text.to_string(),
    }
}

fn full(text: &str) -> TextDocumentContentChangeEvent {
    TextDocumentContentChangeEvent {
        range: None,
        range_length: None,
        text: text.to_string(),
    }
}

#[test]
fn edits_apply_in_order_and_record_the_version() {
    let mut doc = Document::new("fn main() {\r\n}\r\n", 1, "rust".into());
    assert_eq!(doc.language_id(), "rust");
    assert_eq!(doc.version(), 1);
    doc.apply_changes(
        vec![
            edit((0, 11), (0, 11), "\r\n    let 🦀 = 1;"),
            // This range refers to the text after the first change.
            edit((1, 8), (1, 10), "crab"),
        ],
        5,
        PositionEncoding::Utf16,
    );
    assert_eq!(doc.text(), "fn main() {\r\n    let crab = 1;\r\n}\r\n");
    assert_eq!(doc.rope().len_lines(), 4);
    // Versions are recorded as sent, even when they go backwards.
    doc.apply_changes(vec![full("x")], 3, PositionEncoding::Utf8);
    assert_eq!((doc.text().as_str(), doc.version()), ("x", 3));
}

#[test]
fn reversed_and_out_of_range_edits_are_normalized() {
    let mut doc = Document::new("héllo\nworld", 0, "plaintext".into());
    // End before start: the range is swapped. Column 2 is inside 'é' in UTF-8 and snaps to its start.
    doc.apply_changes(vec![edit((1, 2), (0, 2), "-")], 1, PositionEncoding::Utf8);
    assert_eq!(doc.text(), "h-rld");
    // Both ends past the document: an append.
    doc.apply_changes(vec![edit((40, 0), (9, 9), "!")], 2, PositionEncoding::Utf16);
    assert_eq!(doc.text(), "h-rld!");
    // The deprecated rangeLength is ignored; the range is authoritative.
    let mut change = edit((0, 0), (0, 1), "H");
    change.range_length = Some(1000);
    doc.apply_changes(vec![change], 3, PositionEncoding::Utf16);
    assert_eq!(doc.text(), "H-rld!");
}

#[test]
fn an_inserted_lf_after_a_cr_joins_them_into_one_break() {
    let mut doc = Document::new("a\rb", 0, "plaintext".into());
    assert_eq!(doc.rope().len_lines(), 2);
    doc.apply_changes(vec![edit((1, 0), (1, 0), "\n")], 1, PositionEncoding::Utf16);
    assert_eq!(doc.rope().len_lines(), 2);
    assert_eq!(
        doc.position(4, PositionEncoding::Utf16),
        Position::new(1, 1)
    );
    // Replacing the whole CRLF break with a lone LF keeps two lines.
    doc.apply_changes(vec![edit((0, 1), (1, 0), "\n")], 2, PositionEncoding::Utf16);
    assert_eq!(doc.text(), "a\nb");
}

// ---------------------------------------------------------------------------------------------------------
// Random edits against the model.
// ---------------------------------------------------------------------------------------------------------

/// Pieces random text is made of: line breaks of every kind, astral, multi-byte and CJK chars.
const FRAGMENTS: &[&str] = &[
    "a", "b", "xyz", " ", "\t", "\n", "\r\n", "\r", "🦀", "𐐀", "é", "中文", "ё", "\r\r\n", "\n\r",
];

fn text_strategy(max_fragments: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..=max_fragments)
        .prop_map(|parts| parts.concat())
}

/// How a position is chosen relative to the text at the moment the edit is applied.
#[derive(Debug, Clone, Copy)]
enum Seed {
    /// A line and a column within it (uniform over code units, so often inside a char).
    Inside { line: u32, column: u32 },
    /// A column past the end of some line.
    PastLineEnd { line: u32, extra: u32 },
    /// A line past the last one.
    PastLastLine { extra: u32, column: u32 },
    /// Both coordinates at `u32::MAX`.
    Max,
}

fn seed_strategy() -> impl Strategy<Value = Seed> {
    prop_oneof![
        12 => (any::<u32>(), any::<u32>()).prop_map(|(line, column)| Seed::Inside { line, column }),
        2 => (any::<u32>(), 1..5u32).prop_map(|(line, extra)| Seed::PastLineEnd { line, extra }),
        1 => (0..3u32, 0..4u32).prop_map(|(extra, column)| Seed::PastLastLine { extra, column }),
        1 => Just(Seed::Max),
    ]
}

#[derive(Debug, Clone)]
enum Step {
    /// A ranged change. `near` keeps the end on the start's line or the next, so documents do not shrink fast.
    Ranged {
        start: Seed,
        end: Seed,
        near: bool,
        text: String,
        range_length: Option<u32>,
    },
    /// A whole-document replacement (`range: None`).
    Full(String),
}

fn step_strategy() -> impl Strategy<Value = Step> {
    prop_oneof![
        40 => (seed_strategy(), seed_strategy(), prop::bool::weighted(0.75), text_strategy(6), any::<Option<u32>>())
            .prop_map(|(start, end, near, text, range_length)| Step::Ranged { start, end, near, text, range_length }),
        1 => text_strategy(40).prop_map(Step::Full),
    ]
}

/// Turns a seed into a concrete position for `text`; `near` moves the line close to `anchor`'s.
fn resolve(seed: Seed, text: &str, encoding: PositionEncoding, anchor: Option<u32>) -> Position {
    let lines = model_lines(text);
    let count = lines.len() as u32;
    let pick_line = |line: u32| match anchor {
        Some(anchor) => anchor.saturating_add(line % 2).min(count - 1),
        None => line % count,
    };
    let line_units = |line: u32| {
        let (start, end) = lines[line as usize];
        units(&text[start..end], encoding) as u32
    };
    match seed {
        Seed::Inside { line, column } => {
            let line = pick_line(line);
            Position::new(line, column % (line_units(line) + 1))
        }
        Seed::PastLineEnd { line, extra } => {
            let line = pick_line(line);
            Position::new(line, line_units(line) + extra)
        }
        Seed::PastLastLine { extra, column } => Position::new(count + extra, column),
        Seed::Max => Position::new(u32::MAX, u32::MAX),
    }
}

/// Proptest settings that keep failing seeds in `document_mirror.proptest-regressions` beside this file.
///
/// Proptest's default looks for a `lib.rs` or `main.rs` above the source and warns before falling back to
/// this same place, because integration tests live outside `src/`.
fn config(cases: u32) -> Config {
    Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::with_cases(cases)
    }
}

/// The number of cases of the edit property, and the fewest didChange notifications in each, per encoding.
const EDIT_CASES: u32 = 512;
const MIN_STEPS: usize = 20;
const MAX_STEPS: usize = 60;
// Every notification carries at least one change, so this bounds the random edits from below.
const _: () = assert!(EDIT_CASES as usize * MIN_STEPS * BOTH.len() >= 10_000);

/// A didChange notification: one change usually, sometimes a few that apply in sequence.
fn notification_strategy() -> impl Strategy<Value = Vec<Step>> {
    prop_oneof![4 => prop::collection::vec(step_strategy(), 1..=1), 1 => prop::collection::vec(step_strategy(), 2..=3)]
}

/// Drives one document through the notifications, checking it against the model after each one.
fn run_edits(
    initial: &str,
    notifications: &[Vec<Step>],
    encoding: PositionEncoding,
    edits: &AtomicUsize,
) -> Result<(), TestCaseError> {
    let mut doc = Document::new(initial, 0, "plaintext".into());
    let mut model = initial.to_string();
    for (version, steps) in (1..).zip(notifications) {
        // Positions of later changes refer to the text after the earlier ones, so they are resolved on the
        // model as it goes.
        let mut changes = Vec::new();
        for step in steps {
            let change = match step {
                Step::Full(text) => full(text),
                Step::Ranged {
                    start,
                    end,
                    near,
                    text,
                    range_length,
                } => {
                    let start = resolve(*start, &model, encoding, None);
                    let anchor = near.then_some(start.line);
                    let end = resolve(*end, &model, encoding, anchor);
                    check_position(&doc, &model, start, encoding)?;
                    TextDocumentContentChangeEvent {
                        range: Some(Range::new(start, end)),
                        range_length: *range_length,
                        text: text.clone(),
                    }
                }
            };
            model_apply(&mut model, &change, encoding);
            changes.push(change);
        }
        edits.fetch_add(changes.len(), Ordering::Relaxed);
        // The byte edits the mirror reports must replay the same change on the old text, because
        // published diagnostics follow the text through them.
        let mut replayed = doc.text();
        let texts: Vec<String> = changes.iter().map(|change| change.text.clone()).collect();
        let byte_edits = doc.apply_changes(changes, version, encoding);
        for (edit, text) in byte_edits.iter().zip(&texts) {
            prop_assert_eq!(edit.new_len, text.len());
            replayed.replace_range(edit.old.clone(), text);
        }
        prop_assert_eq!(replayed.as_str(), model.as_str());
        prop_assert_eq!(doc.text(), model.as_str());
        prop_assert_eq!(doc.version(), version);
        prop_assert_eq!(doc.rope().len_lines(), model_lines(&model).len());
    }
    Ok(())
}

/// Checks a position's char index, byte offset and the position read back against the model.
///
/// This only holds while the document and the model agree, which is the case for the first change of
/// each notification; later ones are checked through the text after the notification.
fn check_position(
    doc: &Document,
    model: &str,
    position: Position,
    encoding: PositionEncoding,
) -> Result<(), TestCaseError> {
    if doc.text() != model {
        return Ok(());
    }
    let offset = model_offset(model, position, encoding);
    let index = doc.char_index(position, encoding);
    prop_assert_eq!(doc.rope().char_to_byte(index), offset);
    prop_assert_eq!(doc.byte_offset(position, encoding), offset);
    prop_assert_eq!(
        doc.position(index, encoding),
        model_position(model, offset, encoding)
    );
    Ok(())
}

#[test]
fn random_edits_match_the_string_model() {
    let edits = AtomicUsize::new(0);
    let config = Config {
        source_file: Some(file!()),
        ..config(EDIT_CASES)
    };
    let initial = prop_oneof![4 => text_strategy(30), 1 => text_strategy(1500)];
    let strategy = (
        initial,
        prop::collection::vec(notification_strategy(), MIN_STEPS..=MAX_STEPS),
    );
    let result = TestRunner::new(config).run(&strategy, |(initial, notifications)| {
        for encoding in BOTH {
            run_edits(&initial, &notifications, encoding, &edits)?;
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
    let edits = edits.into_inner();
    eprintln!("random_edits_match_the_string_model: {edits} random edits");
    assert!(edits >= 10_000, "only {edits} random edits ran");
}

proptest! {
    #![proptest_config(config(256))]

    /// Every char index maps to the model's position, and that position maps back to the index (or, for an
    /// index between '\r' and '\n', to the '\r').
    #[test]
    fn every_char_index_round_trips(text in text_strategy(60)) {
        for encoding in BOTH {
            let doc = Document::new(&text, 0, "plaintext".into());
            for (index, (offset, _)) in text.char_indices().chain([(text.len(), ' ')]).enumerate() {
                let position = doc.position(index, encoding);
                prop_assert_eq!(position, model_position(&text, offset, encoding));
                let splits_crlf = text[..offset].ends_with('\r') && text[offset..].starts_with('\n');
                let expect = if splits_crlf { index - 1 } else { index };
                prop_assert_eq!(doc.char_index(position, encoding), expect);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// The store.
// ---------------------------------------------------------------------------------------------------------

fn uri(name: &str) -> Url {
    Url::parse(&format!("file:///project/{name}")).expect("a valid file URL")
}

#[test]
fn store_opens_changes_and_closes() {
    let mut store = DocumentStore::default();
    assert!(store.is_empty());
    store.open(uri("a.rs"), "fn a() {}\n", 1, "rust".into());
    store.open(uri("b.py"), "def b():\r\n", 1, "python".into());
    assert_eq!(store.len(), 2);

    store
        .change(
            &uri("b.py"),
            vec![edit((1, 0), (1, 0), "    pass")],
            2,
            PositionEncoding::Utf16,
        )
        .expect("b.py is open");
    let b = store.get(&uri("b.py")).expect("b.py is open");
    assert_eq!(
        (b.text().as_str(), b.version(), b.language_id()),
        ("def b():\r\n    pass", 2, "python")
    );

    store.close(&uri("a.rs")).expect("a.rs is open");
    assert_eq!(store.len(), 1);
    assert!(store.get(&uri("a.rs")).is_none());
    store.close(&uri("b.py")).expect("b.py is open");
    assert!(store.is_empty());
}

#[test]
fn store_refuses_unknown_documents() {
    let mut store = DocumentStore::default();
    let err = store
        .change(&uri("ghost.rs"), vec![full("x")], 1, PositionEncoding::Utf8)
        .expect_err("nothing is open");
    assert!(matches!(&err, DocumentError::NotOpen(u) if u == "file:///project/ghost.rs"));
    assert_eq!(
        err.to_string(),
        "document file:///project/ghost.rs is not open"
    );
    assert!(matches!(
        store.close(&uri("ghost.rs")),
        Err(DocumentError::NotOpen(_))
    ));

    // Closing twice fails the second time.
    store.open(uri("a.rs"), "", 1, "rust".into());
    assert!(store.close(&uri("a.rs")).is_ok());
    assert!(store.close(&uri("a.rs")).is_err());
}

#[test]
fn reopening_replaces_the_mirror() {
    let mut store = DocumentStore::default();
    store.open(uri("a.rs"), "old", 1, "rust".into());
    store.open(uri("a.rs"), "new", 7, "rust".into());
    assert_eq!(store.len(), 1);
    let doc = store.get(&uri("a.rs")).expect("a.rs is open");
    assert_eq!((doc.text().as_str(), doc.version()), ("new", 7));
}
