//! Document synchronization under load: a thousand incremental edits back to back, in the negotiated
//! position encoding, must leave the server's mirror equal to the client's copy.

use rill_e2e::{Encoding, Profile, Rng, Server, TextModel};
use serde_json::json;

const URI: &str = "file:///e2e/crab.rs";
const INITIAL: &str = "fn main() {\r\n    let crab = \"🦀\";\n    println!(\"{crab} é\");\r\n}\n";
const EDITS: i32 = 1000;

/// Where two texts first differ, with some context, for a readable failure.
fn first_difference(expected: &str, actual: &str) -> String {
    let offset = expected
        .char_indices()
        .zip(actual.chars())
        .find(|((_, a), b)| a != b)
        .map_or(expected.len().min(actual.len()), |((offset, _), _)| offset);
    let context = |text: &str| {
        let start = text.floor_char_boundary_compat(offset.saturating_sub(40));
        let end = text.floor_char_boundary_compat((offset + 40).min(text.len()));
        format!("{:?}", &text[start..end])
    };
    format!(
        "first difference at byte {offset} (lengths {} and {}): client {} vs server {}",
        expected.len(),
        actual.len(),
        context(expected),
        context(actual)
    )
}

/// `str::floor_char_boundary` is unstable; this is the same for the failure message above.
trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, index: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, index: usize) -> usize {
        let mut index = index.min(self.len());
        while !self.is_char_boundary(index) {
            index -= 1;
        }
        index
    }
}

fn flood(profile: Profile, expected: Encoding, seed: u64) {
    let mut server = Server::start(profile);
    assert_eq!(server.encoding(), expected, "negotiated encoding");
    server.open(URI, "rust", INITIAL);
    let mut model = TextModel::new(INITIAL, expected);
    let mut rng = Rng::new(seed);
    let mut largest = 0;
    for version in 2..EDITS + 2 {
        // Editors batch several changes into one notification now and then (multi-cursor edits).
        let count = if rng.below(5) == 0 {
            2 + rng.below(2)
        } else {
            1
        };
        let changes = (0..count).map(|_| model.random_edit(&mut rng)).collect();
        server.change(URI, version, changes);
        largest = largest.max(model.text().len());
    }
    let mirror = server.document_text(URI).expect("rill/documentText");
    assert_eq!(mirror["version"], json!(EDITS + 1), "the mirror's version");
    let text = mirror["text"].as_str().expect("text in rill/documentText");
    assert!(
        text == model.text(),
        "the mirror differs from the client's copy after {EDITS} edits: {}",
        first_difference(model.text(), text)
    );
    eprintln!(
        "mirror matches: {} bytes (at most {largest} on the way), {} lines, {} crabs, {} CRLFs",
        text.len(),
        text.lines().count(),
        text.matches('🦀').count(),
        text.matches("\r\n").count()
    );
    // Guard the generator itself: a flood that shrinks the document to nothing proves little.
    assert!(
        largest > 1000,
        "the edits never grew the document past {largest} bytes"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn a_thousand_utf16_edits_from_vscode_keep_the_mirror_exact() {
    flood(Profile::vscode(), Encoding::Utf16, 0x5eed_0016);
}

#[test]
fn a_thousand_utf8_edits_from_helix_keep_the_mirror_exact() {
    flood(Profile::helix(), Encoding::Utf8, 0x5eed_0008);
}

/// A change without a range replaces the whole document, which LSP allows even under incremental sync.
#[test]
fn a_change_without_range_replaces_the_document() {
    let mut server = Server::start(Profile::vscode());
    server.open(URI, "rust", INITIAL);
    server.change(URI, 2, vec![json!({ "text": "fresh 🦀\r\ntext\n" })]);
    server.change(
        URI,
        3,
        vec![json!({
            "range": { "start": { "line": 1, "character": 4 }, "end": { "line": 1, "character": 4 } },
            "text": "!"
        })],
    );
    let mirror = server.document_text(URI).expect("rill/documentText");
    assert_eq!(
        mirror,
        json!({ "version": 3, "text": "fresh 🦀\r\ntext!\n" })
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Edits interleaved with completion requests, as while typing: every request is answered (the
/// superseded and stale ones empty), and the mirror still matches the client's copy at the end.
#[test]
fn edits_interleaved_with_completions_keep_the_mirror_exact() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(URI, "rust", INITIAL);
    let mut model = TextModel::new(INITIAL, Encoding::Utf16);
    let mut rng = Rng::new(0x5eed_1234);
    let mut requests = Vec::new();
    for version in 2..202 {
        let change = model.random_edit(&mut rng);
        let end = change["range"]["start"].clone();
        server.change(URI, version, vec![change]);
        if version % 10 == 0 {
            let line = end["line"].as_u64().expect("line") as u32;
            let character = end["character"].as_u64().expect("character") as u32;
            requests.push(server.inline_completion(URI, line, character));
        }
    }
    for id in requests {
        let result = server
            .response(id, rill_e2e::DEFAULT_TIMEOUT)
            .unwrap_or_else(|err| panic!("inline completion {id} failed: {err}"));
        assert!(result["items"].is_array(), "{result}");
    }
    let mirror = server.document_text(URI).expect("rill/documentText");
    assert_eq!(mirror["version"], json!(201));
    let text = mirror["text"].as_str().expect("text");
    assert!(
        text == model.text(),
        "the mirror differs: {}",
        first_difference(model.text(), text)
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
