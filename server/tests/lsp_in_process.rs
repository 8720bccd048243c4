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

// ---- typed-ahead ----

#[test]
fn typing_the_start_of_a_streaming_suggestion_adopts_the_running_generation() {
    let profile = Profile::vscode()
        .with_settings(json!({ "rill": { "completion": { "timeoutMs": 30000 } } }));
    let mut server = support::start(profile, slow_prime(Duration::from_millis(40)));
    server.open(PRIME_URI, "python", PRIME_PY);
    let mark = server.mark();
    let first = server.inline_completion(PRIME_URI, 3, 0);
    let (_, partial) = server.wait_for_notification_since(
        mark,
        "rill/inlineCompletion/partial",
        |params| {
            params["requestId"] == json!(first)
                && insert_text(&params["items"][0]).chars().count() >= 5
        },
        DEFAULT_TIMEOUT,
    );
    let typed: String = insert_text(&partial["items"][0]).chars().take(5).collect();
    let at = json!({ "line": 3, "character": 0 });
    server.change(
        PRIME_URI,
        2,
        vec![json!({ "range": { "start": at, "end": at }, "text": typed })],
    );
    server.cancel(first);
    let mark = server.mark();
    let second = server.inline_completion(PRIME_URI, 3, typed.chars().count() as u32);
    let rest = item_text(&server.response(second, DEFAULT_TIMEOUT).unwrap());
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params.get("source").is_some(),
        DEFAULT_TIMEOUT,
    );
    assert_eq!(status["source"], "typedAhead", "{status}");
    // Mid-line now, so the rest of the line: typed part and rest are where the text goes.
    assert!(!rest.is_empty());
    assert!(
        PRIME_BODY.starts_with(&format!("{typed}{rest}")),
        "{typed:?} + {rest:?}"
    );
    assert_eq!(server.fake.completions().len(), 1, "no second generation");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

// ---- settings ----

#[test]
fn an_invalid_setting_is_reported_by_name_and_valid_ones_still_apply_live() {
    let mut server = support::start(Profile::neovim_like(), slow_prime(Duration::ZERO));
    server.open(PRIME_URI, "python", PRIME_PY);
    let mark = server.mark();
    // One bad key beside a good one: the bad one is named, the good one applies.
    server.change_settings(
        json!({ "rill": { "completion": { "maxTokens": "lots", "multiline": "always" } } }),
    );
    let (_, shown) = server.wait_for_notification_since(
        mark,
        "window/showMessage",
        |params| {
            params["message"]
                .as_str()
                .is_some_and(|m| m.contains("completion.maxTokens"))
        },
        DEFAULT_TIMEOUT,
    );
    assert!(
        !shown["message"].as_str().unwrap().contains("multiline"),
        "{shown}"
    );
    // A live change of `completion.maxTokens` caps the next generation (the fake writes 4
    // characters per "token").
    server.change_settings(json!({ "rill": { "completion": { "maxTokens": 3 } } }));
    let id = server.completion(PRIME_URI, 3, 0);
    let result = server.response(id, DEFAULT_TIMEOUT).unwrap();
    let text = result["items"][0]["textEdit"]["newText"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!text.is_empty() && text.len() <= 12, "{result}");
    // Switching completions off answers empty without asking the engine.
    let before = server.fake.completions().len();
    server.change_settings(json!({ "rill": { "enable": false } }));
    let id = server.completion(PRIME_URI, 3, 0);
    let result = server.response(id, DEFAULT_TIMEOUT).unwrap();
    assert!(
        result.is_null() || result["items"].as_array().is_some_and(Vec::is_empty),
        "{result}"
    );
    assert_eq!(server.fake.completions().len(), before);
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

// ---- engine failures and loading ----

#[test]
fn a_failing_or_panicking_job_fails_its_request_only_and_the_next_one_works() {
    let mut script = prime_script();
    script.rules.extend([
        Rule {
            when: When::PromptContains("broken".into()),
            reply: Reply::Fail("the model said no".into()),
        },
        Rule {
            when: When::PromptContains("panics".into()),
            reply: Reply::Panic("index out of bounds".into()),
        },
    ]);
    let mut server = support::start(Profile::vscode(), script);
    for (uri, text, expected) in [
        ("file:///e2e/broken.py", "# broken\n", "the model said no"),
        (
            "file:///e2e/panics.py",
            "# panics\n",
            "internal error: index out of bounds",
        ),
    ] {
        server.open(uri, "python", text);
        let id = server.inline_completion(uri, 1, 0);
        let error = server.response(id, DEFAULT_TIMEOUT).unwrap_err();
        assert!(error.message.contains(expected), "{error}");
    }
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let result = server.response(id, DEFAULT_TIMEOUT).unwrap();
    assert_eq!(
        item_text(&result).trim_end(),
        PRIME_BODY.trim_end(),
        "{result}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn a_request_while_the_model_loads_waits_within_its_budget() {
    let mut server = support::spawn(Profile::vscode(), prime_script());
    server.fake.set_state(EngineState::Loading);
    server.initialize();
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        server.fake.completions().is_empty(),
        "nothing runs before the model loads"
    );
    server.fake.set_state(EngineState::Ready);
    let result = server.response(id, DEFAULT_TIMEOUT).unwrap();
    assert_eq!(
        item_text(&result).trim_end(),
        PRIME_BODY.trim_end(),
        "{result}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

// ---- the fallback for editors without inline completion ----

#[test]
fn helix_gets_what_was_decoded_within_the_fallback_budget() {
    let script = Script {
        piece_delay: Duration::from_millis(100),
        ..prime_script()
    };
    let mut server = support::start(Profile::helix(), script);
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.completion(PRIME_URI, 3, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let elapsed = reply.at.duration_since(server.sent_at(id));
    let result = reply.outcome.unwrap();
    // The default budget is 300 ms; the whole text would take 2 s.
    assert!(
        elapsed < Duration::from_millis(800),
        "answered after {elapsed:?}"
    );
    assert_eq!(result["isIncomplete"], true, "{result}");
    let text = result["items"][0]["textEdit"]["newText"].as_str().unwrap();
    assert!(
        !text.is_empty() && PRIME_BODY.starts_with(text) && text.len() < PRIME_BODY.len(),
        "{result}"
    );
    assert!(server
        .notifications("rill/inlineCompletion/partial")
        .is_empty());
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

// ---- a client that stops reading ----

#[test]
fn partials_are_coalesced_while_the_client_does_not_read_and_no_response_is_lost() {
    let list: String = (0..60).map(|n| format!("{n}, ")).collect();
    let script = Script {
        piece_delay: Duration::from_millis(2),
        ..Script::default().otherwise(Reply::Text(list))
    };
    let profile = Profile::vscode().with_settings(
        json!({ "rill": { "completion": { "timeoutMs": 30000, "maxTokens": 200 } } }),
    );
    let mut server = support::start(profile, script);
    let big_uri = "file:///e2e/big.py";
    let big: String = (0..16_000)
        .map(|n| format!("value_{n} = {n} * 2  # padding padding padding\n"))
        .collect();
    server.open(big_uri, "python", &big);
    server.open(PRIME_URI, "python", "numbers = [\n");
    server.pause_reading();
    let mirrors: Vec<i64> = (0..3)
        .map(|_| {
            server.request(
                "rill/documentText",
                json!({ "textDocument": { "uri": big_uri } }),
            )
        })
        .collect();
    let id = server.inline_completion(PRIME_URI, 1, 0);
    std::thread::sleep(Duration::from_secs(1));
    server.resume_reading();
    for mirror in mirrors {
        let text = server.response(mirror, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(text["text"].as_str().map(str::len), Some(big.len()));
    }
    let answer = item_text(&server.response(id, DEFAULT_TIMEOUT).unwrap());
    assert!(answer.matches(", ").count() >= 10, "{answer:?}");
    let partials = server.partials_of(id);
    assert!(
        partials.len() <= 2,
        "coalesced while the client hung: {}",
        partials.len()
    );
    server.check_invariants();
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
