//! Incremental decoding over stdio: typing what a running suggestion begins with adopts it, a
//! document is pre-warmed after it opens, closing a document frees its cache, and the memory
//! budget evicts idle documents.

use std::time::{Duration, Instant};

use rill_e2e::{cli_complete, insert_text, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI};
use serde_json::{json, Value};

/// A real file of about 1,500 tokens (the first lines of CPython's textwrap.py).
const LONG_FILE: &str = include_str!("../../benches/workloads/long_file.py");
const LONG_URI: &str = "file:///e2e/long_file.py";
/// Pre-warming 1,500 tokens takes seconds on two busy cores.
const PREWARM_TIMEOUT: Duration = Duration::from_secs(120);

fn server_with(settings: Value) -> Server {
    Server::start_ready_with(settings)
}

fn cache_status(server: &Server) -> Value {
    server.call("rill/cacheStatus", Value::Null)
}

/// Polls `rill/cacheStatus` until `done` holds, returning the last status.
fn wait_for_cache(server: &Server, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let status = cache_status(server);
        if done(&status) {
            return status;
        }
        assert!(
            started.elapsed() < PREWARM_TIMEOUT,
            "timed out waiting for {what}: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asks for a completion at (`line`, `character`) and returns the `rill/status` that reports how
/// it was served (its `source`, `reusedTokens`).
fn complete_for_status(server: &Server, uri: &str, line: u32, character: u32) -> Value {
    let mark = server.mark();
    let id = server.inline_completion(uri, line, character);
    server.response(id, DEFAULT_TIMEOUT).expect("completion");
    server
        .wait_for_notification_since(
            mark,
            "rill/status",
            |params| params.get("source").is_some(),
            DEFAULT_TIMEOUT,
        )
        .1
}

fn end_of(text: &str) -> (u32, u32) {
    let line = text.lines().count() as u32;
    // The files end with a newline, so the end is the start of the line after the last one.
    assert!(text.ends_with('\n'));
    (line, 0)
}

#[test]
fn typing_the_start_of_a_streaming_suggestion_adopts_the_running_generation() {
    let mut server = server_with(json!({ "completion": { "timeoutMs": 30000, "maxTokens": 64 } }));
    server.open(PRIME_URI, "python", PRIME_PY);

    let mark = server.mark();
    let first = server.inline_completion(PRIME_URI, 3, 0);
    // Wait for the first partial that holds at least a few characters, as a user sees ghost text.
    let (_, partial) = server.wait_for_notification_since(
        mark,
        "rill/inlineCompletion/partial",
        |params| {
            params["requestId"] == json!(first)
                && params["items"][0]["insertText"]
                    .as_str()
                    .is_some_and(|text| text.chars().count() >= 5)
        },
        DEFAULT_TIMEOUT,
    );
    let shown = insert_text(&partial["items"][0]);
    let typed: String = shown.chars().take(5).collect();

    // The user types those characters; VS Code cancels the old request and asks again.
    let at = json!({ "line": 3, "character": 0 });
    server.change(
        PRIME_URI,
        2,
        vec![json!({ "range": { "start": at, "end": at }, "text": typed })],
    );
    server.cancel(first);
    let mark = server.mark();
    let second = server.inline_completion(PRIME_URI, 3, typed.chars().count() as u32);
    let result = server
        .response(second, DEFAULT_TIMEOUT)
        .expect("the second request");
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params.get("source").is_some(),
        DEFAULT_TIMEOUT,
    );
    eprintln!("typed {typed:?}, then got {result} with {status}");
    assert_eq!(status["source"], "typedAhead", "{status}");
    let rest = insert_text(&result["items"][0]);
    assert!(!rest.is_empty(), "{result}");

    // Typed part and remainder together are where greedy decoding of the original text goes.
    let greedy = cli_complete(PRIME_PY, 64);
    let whole = format!("{typed}{rest}");
    assert!(
        greedy.starts_with(whole.trim_end()),
        "{whole:?} is not a prefix of the greedy continuation {greedy:?}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn an_opened_document_is_prewarmed_so_the_first_completion_reuses_its_prompt_and_its_first_line() {
    let mut server = server_with(json!({ "completion": { "timeoutMs": 30000, "maxTokens": 8 } }));
    server.open(LONG_URI, "python", LONG_FILE);
    // The pre-warm prefills the prompt, then decides the first line the completion there would
    // search for (the default ranks candidate lines).
    let warmed = wait_for_cache(&server, "the pre-warm of the long file", |status| {
        status["cachedTokens"].as_u64().unwrap_or(0) > 1000
            && status["firstLinesAhead"].as_u64() == Some(1)
    });
    eprintln!("pre-warmed: {warmed}");

    let (line, character) = end_of(LONG_FILE);
    let mark = server.mark();
    let id = server.inline_completion(LONG_URI, line, character);
    let reply = server.response(id, DEFAULT_TIMEOUT).expect("completion");
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params.get("source").is_some(),
        DEFAULT_TIMEOUT,
    );
    eprintln!("first completion: {status}");
    let prompt = status["promptTokens"].as_u64().unwrap_or(0);
    let reused = status["reusedTokens"].as_u64().unwrap_or(0);
    assert!(prompt > 1000, "{status}");
    assert_eq!(
        status["firstLineAhead"],
        json!(true),
        "the first line came from the pre-warm: {status}"
    );
    assert_eq!(reused, prompt, "no prompt token was recomputed: {status}");
    let items = reply["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty(), "a suggestion: {reply}");

    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    drop(server);

    // A server that never pre-warms searches at the request: deciding ahead changes when the
    // first line is decided, not what it is.
    let mut cold = server_with(json!({
        "completion": { "timeoutMs": 30000, "maxTokens": 8 },
        "engine": { "prewarm": false }
    }));
    cold.open(LONG_URI, "python", LONG_FILE);
    let id = cold.inline_completion(LONG_URI, line, character);
    let fresh = cold.response(id, DEFAULT_TIMEOUT).expect("completion");
    assert_eq!(
        fresh["items"][0]["insertText"],
        reply["items"][0]["insertText"]
    );
    assert_eq!(cold.shutdown_and_exit().code(), Some(0));
}

#[test]
fn closing_a_document_frees_its_cache() {
    let mut server = server_with(json!({ "completion": { "timeoutMs": 30000, "maxTokens": 4 } }));
    server.open(PRIME_URI, "python", PRIME_PY);
    server.open(LONG_URI, "python", LONG_FILE);
    wait_for_cache(&server, "both documents cached", |status| {
        status["cachedDocuments"] == 2
    });
    server.close(LONG_URI);
    let status = wait_for_cache(&server, "the closed document's cache freed", |status| {
        status["cachedDocuments"] == 1
    });
    let per_token = status["bytesPerCachedToken"].as_u64().unwrap();
    assert_eq!(per_token, 18 * 2 * 256 * 2, "{status}");
    assert!(
        status["cachedBytes"].as_u64().unwrap() < 300 * per_token,
        "only the short document remains: {status}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn the_memory_budget_evicts_idle_documents_but_keeps_the_edited_and_the_prewarmed_one() {
    // 16 MiB holds about 450 tokens at full size: documents of 1,500 tokens cannot all stay.
    // Idle documents stay in memory (no disk cache), so the memory budget is what decides.
    let mut server = server_with(json!({
        "engine": { "cacheBudgetMb": 16, "diskCacheMb": 0 },
        "completion": { "timeoutMs": 30000, "maxTokens": 4 }
    }));
    let documents = ["a", "b", "c"].map(|name| {
        (
            format!("file:///e2e/{name}.py"),
            format!("# file {name}\n{LONG_FILE}"),
        )
    });
    // Each step waits for what it is about, so no step's outcome depends on timing: the number of
    // documents with a first line decided ahead says whose pre-warm has finished.
    let cached = |server: &Server, count: u64, prewarmed: u64| {
        wait_for_cache(
            server,
            &format!("{count} cached documents after {prewarmed} pre-warms"),
            |status| {
                status["cachedTokens"].as_u64().unwrap_or(0) > 1000 * count
                    && status["cachedDocuments"] == count
                    && status["firstLinesAhead"].as_u64().unwrap_or(0) >= prewarmed
            },
        )
    };
    server.open(&documents[0].0, "python", &documents[0].1);
    cached(&server, 1, 1);
    // Pre-warming b evicts a, which nobody edits.
    server.open(&documents[1].0, "python", &documents[1].1);
    let status = cached(&server, 1, 2);
    eprintln!("after opening b: {status}");

    // A completion in a, a line above the pre-warmed place (so that no first line decided ahead
    // serves it), works: a is prefilled again and stays, as the edited document, next to b, the
    // pre-warmed one, although both exceed the budget.
    let (line, _) = end_of(&documents[0].1);
    let id = server.inline_completion(&documents[0].0, line - 1, 0);
    server.response(id, DEFAULT_TIMEOUT).expect("completion");
    let status = cached(&server, 2, 2);
    eprintln!("after completing in a: {status}");

    // Pre-warming c evicts b; a, being edited, stays.
    server.open(&documents[2].0, "python", &documents[2].1);
    let status = cached(&server, 2, 3);
    eprintln!("after opening c: {status}");
    // a's cache survived: a request a line earlier rolls back inside it.
    let status = complete_for_status(&server, &documents[0].0, line - 2, 0);
    eprintln!("completing in a again: {status}");
    assert_eq!(status["source"], "model", "{status}");
    assert!(
        status["reusedTokens"].as_u64().unwrap_or(0) > 1000,
        "the edited document's cache was kept: {status}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// With the disk cache on (the default), an idle document's compacted cache leaves memory for an
/// unlinked file and comes back when the user returns: no fresh prefill, even under a memory
/// budget that could not hold it.
#[test]
fn an_idle_document_waits_on_disk_and_its_next_completion_reuses_its_cache() {
    let mut server = server_with(json!({
        "engine": { "cacheBudgetMb": 16 },
        "completion": { "timeoutMs": 30000, "maxTokens": 4 }
    }));
    let documents = ["a", "b"].map(|name| {
        (
            format!("file:///e2e/{name}.py"),
            format!("# file {name}\n{LONG_FILE}"),
        )
    });
    server.open(&documents[0].0, "python", &documents[0].1);
    wait_for_cache(&server, "a pre-warmed", |status| {
        status["cachedTokens"].as_u64().unwrap_or(0) > 1000
    });
    server.open(&documents[1].0, "python", &documents[1].1);
    let status = wait_for_cache(&server, "a on disk, b pre-warmed", |status| {
        status["cachedTokens"].as_u64().unwrap_or(0) > 2000
            && status["cachedDocuments"] == 2
            && status["diskBytes"].as_u64().unwrap_or(0) > 0
    });
    eprintln!("after opening b: {status}");
    let (line, character) = end_of(&documents[0].1);
    let status = complete_for_status(&server, &documents[0].0, line, character);
    eprintln!("completing in a: {status}");
    assert!(
        status["reusedTokens"].as_u64().unwrap_or(0) > 1000,
        "a's cache came back from disk: {status}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
