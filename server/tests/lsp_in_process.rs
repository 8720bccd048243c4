//! LSP behaviour without a model: rill's real LSP side in this process, driven by the end-to-end harness's client, with the scripted fake backend writing the "model's" text.
//!
//! Each test scripts what the fake writes, how slowly and when it fails, and checks what the
//! editor sees: lifecycle, streaming order, supersede, typed-ahead, cancellation, settings,
//! diagnostics scheduling, reasoning chains, the fallback budget and a slow client. What needs a
//! real model's output (parity with llama.cpp, suggestion quality, the real editors) stays in the
//! end-to-end suites under `tests/`.

mod support;

use std::time::{Duration, Instant};

use rill_e2e::{
    insert_text, Profile, DEFAULT_TIMEOUT, INVALID_PARAMS, PRIME_PY, PRIME_URI, REQUEST_CANCELLED,
};
use rill_server::engine::fake::{Ending, Reply, Rule, Script, SeenKind, When};
use rill_server::engine::prefer::Preference;
use rill_server::engine::EngineState;
use serde_json::{json, Value};

/// What the fake writes after [`PRIME_PY`].
const PRIME_BODY: &str = "    for divisor in range(2, n):\n        if n % divisor == 0:\n            return False\n    return True\n";

/// How soon a stale request must be answered (the real server's promise is one decoding step).
const PROMPTLY: Duration = Duration::from_millis(300);

fn prime_script() -> Script {
    Script::default().when_ends_with(PRIME_PY, PRIME_BODY)
}

/// A script whose text for [`PRIME_PY`] arrives slowly: a piece every `every`.
fn slow_prime(every: Duration) -> Script {
    Script {
        piece_delay: every,
        ..prime_script()
    }
}

fn item_text(result: &Value) -> String {
    result["items"]
        .as_array()
        .and_then(|items| items.first())
        .map(insert_text)
        .unwrap_or_default()
}

// ---- lifecycle ----

#[test]
fn vscode_and_helix_negotiate_their_encodings_and_see_the_engine_ready() {
    for (profile, encoding) in [(Profile::vscode(), "utf-16"), (Profile::helix(), "utf-8")] {
        let mut server = support::spawn(profile, prime_script());
        let result = server.initialize();
        assert_eq!(
            result["capabilities"]["positionEncoding"], encoding,
            "{result}"
        );
        let status = server.wait_until_ready();
        assert_eq!(status["state"], "ready", "{status}");
        assert_eq!(server.backend_starts(), 1);
        assert_eq!(server.shutdown_and_exit().code(), Some(0));
    }
}

#[test]
fn a_repeated_initialized_starts_no_second_engine() {
    let mut server = support::start(Profile::vscode(), prime_script());
    for _ in 0..5 {
        server.notify("initialized", json!({}));
    }
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    assert!(!item_text(&server.response(id, DEFAULT_TIMEOUT).unwrap()).is_empty());
    assert_eq!(
        server.backend_starts(),
        1,
        "one engine, however many `initialized`"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn requests_before_initialize_and_after_shutdown_are_refused_with_their_codes() {
    let server = support::spawn(Profile::vscode(), prime_script());
    let early = server.request(
        "textDocument/completion",
        json!({
            "textDocument": { "uri": PRIME_URI }, "position": { "line": 0, "character": 0 }
        }),
    );
    let error = server.response(early, DEFAULT_TIMEOUT).unwrap_err();
    assert_eq!(error.code, -32002, "server not initialized: {error}");
    server.initialize();
    let shutdown = server.request("shutdown", Value::Null);
    assert_eq!(
        server.response(shutdown, DEFAULT_TIMEOUT).unwrap(),
        Value::Null
    );
    let late = server.request("rill/cacheStatus", Value::Null);
    let error = server.response(late, DEFAULT_TIMEOUT).unwrap_err();
    assert_eq!(
        error.code, -32600,
        "invalid request after shutdown: {error}"
    );
    assert!(server.fake.completions().is_empty());
}

// ---- streaming ----

#[test]
fn partials_stream_in_order_each_extending_the_last_and_the_answer_completes_them() {
    let mut server = support::start(Profile::vscode(), slow_prime(Duration::from_millis(5)));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let answer = insert_text(&reply.suggestion());
    assert!(PRIME_BODY.starts_with(answer.trim_end()), "{answer:?}");
    let partials = server.partials_of(id);
    assert!(partials.len() >= 2, "streamed in pieces: {partials:?}");
    let mut previous = String::new();
    for partial in &partials {
        let text = insert_text(&partial["items"][0]);
        assert!(
            text.starts_with(&previous),
            "a partial changed what was shown: {previous:?} then {text:?}"
        );
        previous = text;
    }
    assert!(
        answer.starts_with(&previous),
        "{previous:?} then {answer:?}"
    );
    // Seq increases and no partial follows its response.
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

// ---- supersede and cancellation ----

#[test]
fn a_newer_request_supersedes_an_older_one_which_answers_empty_at_once() {
    let mut server = support::start(Profile::vscode(), slow_prime(Duration::from_millis(50)));
    server.open(PRIME_URI, "python", PRIME_PY);
    let first = server.inline_completion(PRIME_URI, 3, 0);
    std::thread::sleep(Duration::from_millis(100));
    let second = server.inline_completion(PRIME_URI, 3, 0);
    let first_reply = server.reply(first, DEFAULT_TIMEOUT);
    let waited = first_reply.at.duration_since(server.sent_at(second));
    assert_eq!(first_reply.inline_items(), Vec::<Value>::new());
    assert!(waited <= PROMPTLY, "the superseded request took {waited:?}");
    let second_reply = server.reply(second, DEFAULT_TIMEOUT);
    assert_eq!(
        insert_text(&second_reply.suggestion()).trim_end(),
        PRIME_BODY.trim_end()
    );
    // The same prompt: the newer request took over the running generation instead of starting
    // another one.
    assert_eq!(
        server.fake.completions().len(),
        1,
        "{:?}",
        server.fake.jobs()
    );
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn a_newer_request_elsewhere_stops_the_older_ones_generation() {
    let script = Script {
        piece_delay: Duration::from_millis(50),
        ..Script::default().otherwise(Reply::Text("x = 1\n".repeat(20)))
    };
    let mut server = support::start(Profile::vscode(), script);
    server.open(PRIME_URI, "python", PRIME_PY);
    let first = server.inline_completion(PRIME_URI, 3, 0);
    support::eventually("the first job to start", DEFAULT_TIMEOUT, || {
        (!server.fake.completions().is_empty()).then_some(())
    });
    let second = server.inline_completion(PRIME_URI, 1, 0);
    assert_eq!(
        server.reply(first, DEFAULT_TIMEOUT).inline_items(),
        Vec::<Value>::new()
    );
    server.reply(second, DEFAULT_TIMEOUT);
    let endings = server.fake.endings();
    assert!(
        matches!(endings.first(), Some((_, Ending::Cancelled(_)))),
        "the first generation is stopped, not finished: {endings:?}"
    );
    assert_eq!(server.fake.completions().len(), 2);
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn an_edit_makes_the_request_in_flight_answer_empty_and_stops_its_job() {
    let mut server = support::start(Profile::vscode(), slow_prime(Duration::from_millis(50)));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    std::thread::sleep(Duration::from_millis(100));
    let at = json!({ "line": 3, "character": 0 });
    let edited = Instant::now();
    server.change(
        PRIME_URI,
        2,
        vec![json!({ "range": { "start": at, "end": at }, "text": "#" })],
    );
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    assert!(reply.at.duration_since(edited) <= PROMPTLY);
    assert_eq!(reply.inline_items(), Vec::<Value>::new());
    support::eventually("the job to stop", DEFAULT_TIMEOUT, || {
        server.fake.endings().first().cloned()
    });
    assert!(matches!(server.fake.endings()[0].1, Ending::Cancelled(_)));
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn cancel_request_answers_request_cancelled_at_once() {
    let mut server = support::start(Profile::vscode(), Script::default().otherwise(Reply::Hang));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    support::eventually("the job to start", DEFAULT_TIMEOUT, || {
        (!server.fake.completions().is_empty()).then_some(())
    });
    let cancelled = server.cancel(id);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    assert!(reply.at.duration_since(cancelled) <= Duration::from_millis(100));
    assert_eq!(reply.outcome.unwrap_err().code, REQUEST_CANCELLED);
    support::eventually("the hanging job to be stopped", DEFAULT_TIMEOUT, || {
        server.fake.endings().first().cloned()
    });
    assert_eq!(server.fake.endings()[0].1, Ending::Cancelled(String::new()));
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
