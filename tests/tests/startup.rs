//! Start-up end to end: requests sent right after `initialize` wait for the engine within their budget (local model and remote server alike), and documents opened while the model loads are pre-warmed once it is ready, most recently used first.

use std::time::{Duration, Instant};

use rill_e2e::fake_openai::{FakeOpenAi, Script};
use rill_e2e::{insert_text, Profile, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI};
use serde_json::{json, Value};

/// A real file of about 1,500 tokens (the first lines of CPython's textwrap.py).
const LONG_FILE: &str = include_str!("../../benches/workloads/long_file.py");

/// The inline items of a request, waiting long enough for a model to load.
fn items_of(server: &Server, id: i64) -> Vec<Value> {
    server.reply(id, Duration::from_secs(60)).inline_items()
}

/// With `engine.backend = "openai"` the first request used to find no engine (it starts only
/// once `initialized` has pulled the configuration) and answered `{"items": []}` at once.
#[test]
fn the_first_remote_completion_right_after_initialize_waits_for_the_engine() {
    let remote = FakeOpenAi::start(Script::Stream {
        pieces: vec![
            "    return".to_string(),
            " n > 1".to_string(),
            "\n".to_string(),
        ],
        delay: Duration::from_millis(10),
    });
    let settings = json!({
        "rill": {
            "engine": { "backend": "openai", "baseUrl": remote.base_url(), "fimTemplate": "none" },
            "completion": { "timeoutMs": 10000 },
            "diagnostics": { "enable": false }
        }
    });
    let mut server = Server::start(Profile::vscode().with_settings(settings));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let items = items_of(&server, id);
    assert_eq!(items.len(), 1, "one suggestion: {items:?}");
    assert_eq!(insert_text(&items[0]), "    return n > 1");
    assert_eq!(remote.requests(), 1);
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// The same with the local model: the request waits for the engine to start and the model to
/// load, within `completion.timeoutMs`.
#[test]
fn the_first_local_completion_right_after_initialize_waits_for_the_model() {
    // In the initialization options: the request is read before the pulled settings arrive.
    let options =
        json!({ "completion": { "timeoutMs": 30000 }, "diagnostics": { "enable": false } });
    let mut server = Server::start(Profile::vscode().with_initialization_options(options));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let items = items_of(&server, id);
    assert!(
        items
            .first()
            .is_some_and(|item| !insert_text(item).trim().is_empty()),
        "a suggestion: {items:?}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Editors restore their open tabs at start-up, before the model is ready. Those documents used
/// to be pre-warmed never (opened before the engine existed) or in opening order; now every open
/// document is pre-warmed when the model is ready, the most recently used first, and a
/// completion in the long one answers within the normal 2 s budget.
#[test]
fn documents_opened_while_the_model_loads_are_prewarmed_most_recent_first() {
    let settings = json!({
        "rill": { "completion": { "maxTokens": 16 }, "diagnostics": { "enable": false } }
    });
    let mut server = Server::start(Profile::vscode().with_settings(settings));
    let uris = [
        "file:///e2e/restored_a.py",
        "file:///e2e/restored_b.py",
        "file:///e2e/restored_long.py",
    ];
    server.open(uris[0], "python", PRIME_PY);
    server.open(
        uris[1],
        "python",
        "import os\n\n\ndef main():\n    print(os.getcwd())\n",
    );
    server.open(uris[2], "python", LONG_FILE);
    server.wait_until_ready();
    let deadline = Instant::now() + Duration::from_secs(60);
    let prewarmed = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter_map(|line| line.split("pre-warmed ").nth(1))
            .map(str::to_string)
            .collect()
    };
    loop {
        let done = prewarmed(&server.stderr());
        if uris.iter().all(|uri| done.iter().any(|line| line == uri)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every restored document was pre-warmed: {done:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let order = prewarmed(&server.stderr());
    let position = |uri: &str| order.iter().position(|line| line == uri).unwrap();
    assert!(
        position(uris[2]) < position(uris[1]) && position(uris[1]) < position(uris[0]),
        "pre-warmed in the order {order:?}, not the most recently opened first"
    );
    let status = server.call("rill/cacheStatus", Value::Null);
    assert_eq!(status["cachedDocuments"], 3, "{status}");
    assert!(
        status["cachedTokens"].as_u64().unwrap_or(0) > 1000,
        "{status}"
    );

    // The measurement: a completion asked a while after the load, at the end of the long
    // file, within the default 2 s budget.
    std::thread::sleep(Duration::from_secs(2));
    let end = LONG_FILE.lines().count() as u32;
    let id = server.inline_completion(uris[2], end, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    eprintln!(
        "completion after the pre-warm: {:?} in {:?}",
        reply.outcome,
        reply.at.duration_since(server.sent_at(id))
    );
    assert!(
        !reply.inline_items().is_empty(),
        "the pre-warmed document answers within the budget"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
