//! Adaptive triggering without a model: the scripted fake backend counts the generations rill starts while a scripted typist types, with `completion.adaptiveDelay` on and off.
//!
//! The fake always writes text the typist does not type next, so without the adaptive wait every
//! keystroke in a word starts a generation; with it, a keystroke in a word waits about one and a half
//! of the typist's intervals and the next keystroke supersedes it before any model work starts.

mod support;

use std::time::{Duration, Instant};

use rill_e2e::{insert_text, Profile, Server, DEFAULT_TIMEOUT};
use rill_server::engine::fake::{Reply, Script};
use serde_json::{json, Value};

const URI: &str = "file:///tmp/rill-adaptive/typing.py";
/// The typist's rhythm: 10 characters a second.
const GAP: Duration = Duration::from_millis(100);

/// A fake whose every suggestion starts with a character nobody types here.
fn script() -> Script {
    Script::default().otherwise(Reply::Text("@never_typed()\n".to_string()))
}

fn profile(adaptive: bool) -> Profile {
    Profile::vscode().with_settings(json!({
        "rill": { "completion": { "adaptiveDelay": adaptive, "timeoutMs": 5000 } }
    }))
}

/// Types `text` at the end of the one-line document, one keystroke every [`GAP`], each followed at
/// once by an automatic inline completion as VS Code sends it; returns the requests' ids.
fn type_text(server: &Server, version: &mut i32, text: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let started = Instant::now();
    for (index, key) in text.chars().enumerate() {
        if let Some(wait) = (started + GAP * index as u32).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let line = server.document_text(URI).expect("the mirror")["text"]
            .as_str()
            .unwrap_or_default()
            .encode_utf16()
            .count() as u32;
        let at = json!({ "line": 0, "character": line });
        *version += 1;
        server.change(
            URI,
            *version,
            vec![json!({ "range": { "start": at, "end": at }, "text": key.to_string() })],
        );
        ids.push(server.inline_completion(URI, 0, line + 1));
    }
    ids
}

/// Generations the fake was asked for.
fn generations(server: &support::InProcess) -> usize {
    server.fake.completions().len()
}

fn answered_with_items(server: &Server, id: i64) -> bool {
    let reply = server.response(id, DEFAULT_TIMEOUT).expect("an answer");
    reply["items"]
        .as_array()
        .is_some_and(|items| items.iter().any(|item| !insert_text(item).is_empty()))
}

fn run(adaptive: bool) -> (usize, bool) {
    let mut server = support::start(profile(adaptive), script());
    server.open(URI, "python", "x = ");
    let mut version = 1;
    let ids = type_text(&server, &mut version, "total_count");
    // The typist stops in the word: the last request is served after the wait.
    let last = *ids.last().expect("keystrokes");
    let shown = answered_with_items(&server, last);
    for id in &ids {
        let _: Value = server
            .response(*id, DEFAULT_TIMEOUT)
            .expect("every request is answered");
    }
    server.check_invariants();
    assert_eq!(
        server.backend_starts(),
        1,
        "one engine for the whole session"
    );
    let count = generations(&server);
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    (count, shown)
}

#[test]
fn keystrokes_in_a_word_start_no_model_work_while_typing_goes_on_and_a_pause_is_still_served() {
    let (without, shown_without) = run(false);
    let (with, shown_with) = run(true);
    assert!(
        shown_without && shown_with,
        "the pause at the end is served in both"
    );
    // 11 keystrokes: without the wait each starts a generation the next one makes stale.
    assert!(
        without >= 10,
        "without adaptive triggering: {without} generations"
    );
    // With it, only the keystrokes before the rhythm is known (three gaps) and the last one: 5,
    // and 2 to spare for a keystroke a loaded machine sends half an interval late.
    assert!(
        with <= 7,
        "with adaptive triggering: {with} generations (without: {without})"
    );
}

#[test]
fn a_word_boundary_and_an_explicit_request_do_not_wait() {
    let mut server = support::start(profile(true), script());
    server.open(URI, "python", "x = ");
    let mut version = 1;
    let word = type_text(&server, &mut version, "total");
    // The typist pauses in the word: its last request waits, then is served.
    assert!(answered_with_items(
        &server,
        *word.last().expect("keystrokes")
    ));
    let before = generations(&server);
    // A space ends the word: its request starts the model at once, within one interval (a wait
    // would be one and a half).
    let ids = type_text(&server, &mut version, " ");
    support::eventually("the boundary's generation", GAP, || {
        (generations(&server) > before).then_some(())
    });
    server.response(ids[0], DEFAULT_TIMEOUT).expect("answered");
    // An explicit request in a word (triggerKind Invoked) starts at once too.
    let before = generations(&server);
    type_text(&server, &mut version, "a");
    let line = "x = total a".encode_utf16().count() as u32;
    let explicit = server.request(
        "textDocument/inlineCompletion",
        json!({
            "textDocument": { "uri": URI },
            "position": { "line": 0, "character": line },
            "context": { "triggerKind": 1 }
        }),
    );
    support::eventually("the explicit request's generation", GAP, || {
        (generations(&server) > before).then_some(())
    });
    server
        .response(explicit, DEFAULT_TIMEOUT)
        .expect("answered");
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// The time a fake generation searches before its first text.
const SEARCH: Duration = Duration::from_millis(1500);

#[test]
fn a_search_the_typing_contradicts_stops_at_once_and_one_it_agrees_with_runs_on() {
    // Every suggestion after a space takes `SEARCH` to decide and begins with `elem`, which the
    // fake says at once, as the engine's line search does while it decodes.
    let script = Script {
        first_delay: SEARCH,
        ..Script::default()
    }
    .when_ends_with(" ", "element\n")
    .otherwise(Reply::Text("@never_typed()\n".to_string()));
    let mut server = support::start(profile(true), script);
    server.open(URI, "python", "x = ");
    let mut version = 1;
    // Enough keystrokes for the rhythm to be known; the pause after them waits out one search.
    let word = type_text(&server, &mut version, "total");
    server
        .response(*word.last().expect("keystrokes"), DEFAULT_TIMEOUT)
        .expect("answered");
    let cancelled = |server: &support::InProcess| {
        server
            .fake
            .endings()
            .iter()
            .filter(|(_, ending)| matches!(ending, rill_server::engine::fake::Ending::Cancelled(_)))
            .count()
    };
    // A space starts a search at once; `m` contradicts `elem`, so that search stops within the
    // keystroke interval: the typist's next keystroke is not waited for, nor the search's end.
    let before = cancelled(&server);
    type_text(&server, &mut version, " ");
    std::thread::sleep(GAP);
    type_text(&server, &mut version, "m");
    support::eventually("the contradicted search's end", GAP, || {
        (cancelled(&server) > before).then_some(())
    });
    // `e` agrees with `elem`: that search runs on while the typist may still be typing it (until
    // the pause's own request starts new work, at least 1.2 intervals after the keystroke).
    let before = cancelled(&server);
    let ids = type_text(&server, &mut version, " e");
    std::thread::sleep(GAP / 2);
    assert_eq!(cancelled(&server), before, "the agreeing search runs on");
    server
        .response(*ids.last().expect("keystrokes"), DEFAULT_TIMEOUT)
        .expect("the pause is answered");
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
