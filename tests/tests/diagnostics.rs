//! Model diagnostics and reasoning chains over stdio with the real default model: a misspelling is flagged with a quick fix and the flag goes once it is fixed, an edit changes only its region's diagnostics, and a reasoning chain reports progress, offers step actions whose edits apply, and stops when cancelled.

use std::time::Duration;

use rill_e2e::Server;
use serde_json::{json, Value};

/// Real-looking code with `retrun` injected twice, 32 lines apart.
const SIZES: &str = include_str!("../fixtures/sizes.py");
const SIZES_URI: &str = "file:///e2e/sizes.py";
/// Scoring a 42-line file takes seconds on two busy cores.
const SCORING_TIMEOUT: Duration = Duration::from_secs(180);

fn server_with(settings: Value) -> Server {
    Server::start_ready_with(settings)
}

/// Waits (from log index `mark` on) for a publishDiagnostics of `uri` at `version` satisfying `pred`.
fn wait_for_diagnostics(
    server: &Server,
    mark: usize,
    version: i64,
    mut pred: impl FnMut(&[Value]) -> bool,
) -> Vec<Value> {
    let (_, params) = server.wait_for_notification_since(
        mark,
        "textDocument/publishDiagnostics",
        |params| {
            params["uri"] == SIZES_URI
                && params["version"] == version
                && pred(
                    params["diagnostics"]
                        .as_array()
                        .map_or(&[][..], Vec::as_slice),
                )
        },
        SCORING_TIMEOUT,
    );
    params["diagnostics"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn on_line(diagnostics: &[Value], line: u64) -> Option<&Value> {
    diagnostics
        .iter()
        .find(|diagnostic| diagnostic["range"]["start"]["line"] == line)
}

/// Applies one LSP text edit to `text` (UTF-16 positions; the fixture is ASCII).
fn apply_edit(text: &str, edit: &Value) -> String {
    rill_e2e::apply_text_edit(text, edit, rill_e2e::Encoding::Utf16)
}

#[test]
fn a_misspelling_is_flagged_with_a_quick_fix_and_the_flag_goes_once_fixed() {
    // The thresholds this fixture was written for: the second `retrun` is much less surprising than
    // the first (the model has seen it once): llama.cpp scores it 10.8 nats, rill 10–11.5 depending
    // on the kernel level, under the default `minSurprise` of 13. At 10 exactly the two faults are
    // flagged at every level (`RILL_KERNELS`), given alternatives of at least 70 % (`return` has 80 %).
    let server = server_with(
        json!({ "diagnostics": { "lookaheadLines": 5, "minSurprise": 10.0, "minAlternative": 0.7 } }),
    );
    let mark = server.mark();
    server.open(SIZES_URI, "python", SIZES);
    // Flags are published as soon as a region is scored, and again once their fixes are decoded.
    let diagnostics = wait_for_diagnostics(&server, mark, 1, |diagnostics| {
        on_line(diagnostics, 9).is_some_and(|d| d["data"]["fix"].is_object())
            && on_line(diagnostics, 41).is_some_and(|d| d["data"]["fix"].is_object())
    });
    let first = on_line(&diagnostics, 9).unwrap().clone();
    assert_eq!(first["source"], "rill");
    assert_eq!(first["code"], "unlikely-token");
    assert_eq!(first["range"]["start"]["character"], 4);
    assert_eq!(first["range"]["end"]["character"], 10);
    let message = first["message"].as_str().unwrap();
    assert!(
        message.contains("`retrun`") && message.contains("`return`"),
        "{message}"
    );
    // Clean lines are not flagged: everything flagged is one of the two injected faults.
    assert_eq!(diagnostics.len(), 2, "{diagnostics:?}");

    // The quick fix replaces exactly the misspelling.
    let actions = server.call(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": SIZES_URI },
            "range": first["range"],
            "context": { "diagnostics": [first] }
        }),
    );
    let quick_fix = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "quickfix" && action["edit"].is_object())
        .unwrap_or_else(|| panic!("no quick fix in {actions}"))
        .clone();
    let edits = quick_fix["edit"]["changes"][SIZES_URI].as_array().unwrap();
    assert_eq!(edits.len(), 1);
    let fixed = apply_edit(SIZES, &edits[0]);
    assert_eq!(fixed, SIZES.replacen("retrun total", "return total", 1));

    // Apply it as the editor would; the first flag goes, the other one stays exactly as it was.
    let mark = server.mark();
    server.change(
        SIZES_URI,
        2,
        vec![json!({ "range": edits[0]["range"], "text": edits[0]["newText"] })],
    );
    let after = wait_for_diagnostics(&server, mark, 2, |diagnostics| {
        on_line(diagnostics, 9).is_none() && on_line(diagnostics, 41).is_some()
    });
    let status = server.call(
        "rill/diagnosticsStatus",
        json!({ "textDocument": { "uri": SIZES_URI } }),
    );
    assert_eq!(status["version"], 2, "{status}");
    assert_eq!(on_line(&after, 41), on_line(&diagnostics, 41));
    let text = server.document_text(SIZES_URI).unwrap();
    assert_eq!(text["text"], fixed);
}

#[test]
fn an_edit_rescores_only_its_region_and_reintroducing_the_fault_flags_it_again() {
    let server = server_with(
        json!({ "diagnostics": { "lookaheadLines": 3, "debounceMs": 100, "minSurprise": 10.0, "minAlternative": 0.7 } }),
    );
    let mark = server.mark();
    server.open(SIZES_URI, "python", SIZES);
    let before = wait_for_diagnostics(&server, mark, 1, |diagnostics| {
        diagnostics.len() >= 2 && diagnostics.iter().all(|d| d["data"]["fix"].is_object())
    });

    // Misspell `sort` on line 15 (0-based) and fix nothing else.
    let mark = server.mark();
    server.change(
        SIZES_URI,
        2,
        vec![json!({
            "range": { "start": { "line": 15, "character": 10 }, "end": { "line": 15, "character": 14 } },
            "text": "srot"
        })],
    );
    let after = wait_for_diagnostics(&server, mark, 2, |diagnostics| {
        on_line(diagnostics, 15).is_some()
    });
    let flagged = on_line(&after, 15).unwrap();
    assert!(
        flagged["message"].as_str().unwrap().contains("srot"),
        "{flagged}"
    );
    // Flags outside the edited region are the same objects as before the edit.
    for line in [9, 41] {
        assert_eq!(on_line(&after, line), on_line(&before, line), "line {line}");
    }
}

#[test]
fn turning_diagnostics_on_scores_documents_opened_while_they_were_off() {
    let server = server_with(json!({ "diagnostics": { "enable": false } }));
    server.open(SIZES_URI, "python", SIZES);
    std::thread::sleep(Duration::from_secs(2));
    let status = server.call(
        "rill/diagnosticsStatus",
        json!({ "textDocument": { "uri": SIZES_URI } }),
    );
    assert_eq!(status["flags"], 0, "{status}");
    let mark = server.mark();
    server.change_settings(json!({ "rill": { "diagnostics": { "enable": true } } }));
    let diagnostics = wait_for_diagnostics(&server, mark, 1, |diagnostics| {
        on_line(diagnostics, 9).is_some()
    });
    assert!(on_line(&diagnostics, 9).unwrap()["message"]
        .as_str()
        .unwrap()
        .contains("retrun"));
    // And off again clears them.
    let mark = server.mark();
    server.change_settings(json!({ "rill": { "diagnostics": { "enable": false } } }));
    wait_for_diagnostics(&server, mark, 1, <[Value]>::is_empty);
}

/// A call of a helper defined further down: `quux_frob` surprises the model where it is first
/// used. The two documents share every byte up to that call, so the model scores it the same in
/// both; only the name index tells them apart.
const HELPER_CALLED: &str = "import math\n\n\ndef area(shape):\n    return quux_frob(shape) * 2\n";
const HELPER_DEFINED: &str = "import math\n\n\ndef area(shape):\n    return quux_frob(shape) * 2\n\n\ndef perimeter(shape):\n    return quux_frob(shape) + math.pi\n\n\ndef quux_frob(shape):\n    return shape.width * shape.height\n";

#[test]
fn a_name_the_file_uses_elsewhere_is_not_flagged_where_a_name_used_once_is() {
    // Low thresholds, so that the call is flagged on surprise alone.
    let server =
        server_with(json!({ "diagnostics": { "minSurprise": 6.0, "minAlternative": 0.1 } }));
    let flags_of = |uri: &str, text: &str| -> Vec<Value> {
        let mark = server.mark();
        server.open(uri, "python", text);
        // The document is one region: its first publish with a flag holds all of its flags.
        let (_, params) = server.wait_for_notification_since(
            mark,
            "textDocument/publishDiagnostics",
            |params| {
                params["uri"] == uri
                    && params["diagnostics"]
                        .as_array()
                        .is_some_and(|diagnostics| !diagnostics.is_empty())
            },
            SCORING_TIMEOUT,
        );
        params["diagnostics"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let called = flags_of("file:///e2e/called.py", HELPER_CALLED);
    let call = on_line(&called, 4).unwrap_or_else(|| panic!("the call is flagged: {called:?}"));
    assert!(
        call["message"].as_str().unwrap().contains("`quux_frob`"),
        "{call}"
    );
    let defined = flags_of("file:///e2e/defined.py", HELPER_DEFINED);
    assert!(
        on_line(&defined, 4).is_none(),
        "a helper the file defines and calls twice is not a typo: {defined:?}"
    );
}
