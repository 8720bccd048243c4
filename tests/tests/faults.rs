//! Fault injection end to end: a broken model file set at runtime, a panic inside the engine (through the `RILL_TEST_PANIC_ON` test hook), and a remote completion server that dies or stalls mid-stream. Each time the server says what went wrong, keeps serving, and never crashes.

use std::time::Duration;

use rill_e2e::fake_openai::{FakeOpenAi, Script};
use rill_e2e::{insert_text, model_path, Profile, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI};
use serde_json::{json, Value};

/// LSP `MessageType.Error`.
const ERROR: i64 = 1;
/// JSON-RPC internal error.
const INTERNAL_ERROR: i64 = -32603;

/// The first suggestion of an inline completion at the end of the prime document.
fn suggestion(server: &Server) -> String {
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let items = server.reply(id, DEFAULT_TIMEOUT).inline_items();
    items.first().map(insert_text).unwrap_or_default()
}

/// Waits for an error `window/showMessage` from `mark` on and returns its text.
fn error_message_since(server: &Server, mark: usize) -> String {
    let (_, params) = server.wait_for_notification_since(
        mark,
        "window/showMessage",
        |params| params["type"] == ERROR,
        Duration::from_secs(60),
    );
    params["message"].as_str().unwrap_or_default().to_string()
}

/// `model.path` switched at runtime to a truncated GGUF: a clear message naming the file, the
/// error in `rill/status`, and the model in use keeps serving. A later switch to a good file
/// loads it.
#[test]
fn a_truncated_model_set_at_runtime_is_reported_and_the_old_model_keeps_serving() {
    let directory = std::env::temp_dir().join(format!("rill-e2e-faults-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("a temporary directory");
    let truncated = directory.join("truncated.gguf");
    let original = std::fs::read(model_path()).expect("the default model");
    std::fs::write(&truncated, &original[..original.len() / 3]).expect("write the truncated copy");
    drop(original);

    let settings = |extra: Value| {
        let mut settings = json!({
            "rill": { "diagnostics": { "enable": false }, "completion": { "timeoutMs": 20000 } }
        });
        if let (Some(rill), Value::Object(extra)) = (settings["rill"].as_object_mut(), extra) {
            rill.extend(extra);
        }
        settings
    };
    let mut server = Server::start_ready(Profile::vscode().with_settings(settings(json!({}))));
    server.open(PRIME_URI, "python", PRIME_PY);
    let before = suggestion(&server);
    assert!(!before.trim().is_empty());

    let mark = server.mark();
    server.change_settings(settings(json!({ "model": { "path": truncated } })));
    let message = error_message_since(&server, mark);
    eprintln!("message: {message}");
    assert!(
        message.contains("truncated.gguf") && message.contains("model.path"),
        "the message names the file and the setting: {message}"
    );
    assert!(message.contains("previous model"), "{message}");
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params["message"].is_string(),
        DEFAULT_TIMEOUT,
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("truncated.gguf"),
        "{status}"
    );
    // The old model still answers, and a new document is served too.
    let first_line = |text: &str| text.lines().next().unwrap_or_default().to_string();
    assert_eq!(first_line(&suggestion(&server)), first_line(&before));
    server.open("file:///e2e/after.py", "python", "def add(a, b):\n");
    let id = server.inline_completion("file:///e2e/after.py", 1, 0);
    assert!(!server.reply(id, DEFAULT_TIMEOUT).inline_items().is_empty());

    // Settings that do not touch model.path do not try the broken file again.
    let mark = server.mark();
    server.change_settings(settings(json!({
        "model": { "path": truncated },
        "engine": { "prewarm": false }
    })));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.messages()[mark..]
            .iter()
            .all(|message| message.notification("window/showMessage").is_none()),
        "the broken file was loaded again"
    );

    // A good file replaces the model in use.
    let mark = server.mark();
    server.change_settings(settings(json!({ "model": { "path": model_path() } })));
    server.wait_until("the new model", Duration::from_secs(60), |_| {
        server
            .stderr()
            .contains("now serving the model at")
            .then_some(())
    });
    assert!(!suggestion(&server).trim().is_empty());
    assert!(
        server.messages()[mark..]
            .iter()
            .all(|message| message.notification("window/showMessage").is_none()),
        "no error for a good file"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    let _ = std::fs::remove_dir_all(&directory);
}

/// A panic inside the engine fails the request whose job panicked, with an internal error, and
/// the next request is served as usual.
#[test]
fn an_engine_panic_fails_that_request_and_the_next_one_works() {
    let marker = "PANIC_HERE";
    let mut server = Server::start_ready(
        Profile::vscode()
            .with_env("RILL_TEST_PANIC_ON", marker)
            .with_settings(json!({
                "rill": { "diagnostics": { "enable": false }, "completion": { "timeoutMs": 20000 } }
            })),
    );
    let poisoned = "file:///e2e/poisoned.py";
    server.open(poisoned, "python", &format!("# {marker}\ndef f(x):\n"));
    let id = server.inline_completion(poisoned, 2, 0);
    let error = server
        .response(id, DEFAULT_TIMEOUT)
        .expect_err("the panicking job's request fails");
    eprintln!("error: {error}");
    assert_eq!(error.code, INTERNAL_ERROR);
    assert!(
        error.message.contains("internal error in the engine"),
        "{error}"
    );
    assert!(server.stderr().contains("engine panicked"));

    server.open(PRIME_URI, "python", PRIME_PY);
    assert!(
        !suggestion(&server).trim().is_empty(),
        "the next request works"
    );
    let status = server.call("rill/cacheStatus", Value::Null);
    assert!(status["cachedDocuments"].as_u64().is_some(), "{status}");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Remote settings for a server at `base_url`, answering within `timeout_ms`.
fn remote(base_url: &str, timeout_ms: u64) -> Value {
    json!({
        "rill": {
            "engine": {
                "backend": "openai",
                "baseUrl": base_url,
                "fimTemplate": "none",
                "timeoutMs": timeout_ms
            },
            "completion": { "timeoutMs": 10000 },
            "diagnostics": { "enable": false }
        }
    })
}

/// The remote server dies mid-stream, then stalls mid-stream: each request answers empty well
/// within its budget, each failure is shown once, and after the backoff the server is used again.
#[test]
fn a_remote_server_that_dies_or_stalls_mid_stream_is_reported_and_recovered_from() {
    let fake = FakeOpenAi::start(Script::DieAfter {
        pieces: vec!["    return".to_string(), " n".to_string()],
    });
    let mut server =
        Server::start_ready(Profile::vscode().with_settings(remote(&fake.base_url(), 800)));
    server.open(PRIME_URI, "python", PRIME_PY);
    for (script, needle) in [
        (
            Script::DieAfter {
                pieces: vec!["    return".to_string(), " n".to_string()],
            },
            "ended before",
        ),
        (
            Script::StallAfter {
                pieces: vec!["    return".to_string()],
            },
            "sent nothing",
        ),
    ] {
        fake.set_script(script);
        let mark = server.mark();
        let document = format!("file:///e2e/remote_{}.py", needle.replace(' ', "_"));
        server.open(&document, "python", PRIME_PY);
        let id = server.inline_completion(&document, 3, 0);
        let reply = server.reply(id, DEFAULT_TIMEOUT);
        let took = reply.at.duration_since(server.sent_at(id));
        assert_eq!(reply.inline_items(), Vec::<Value>::new(), "{needle}");
        assert!(
            took < Duration::from_secs(5),
            "{needle}: answered after {took:?}"
        );
        let message = error_message_since(&server, mark);
        eprintln!("{needle}: {message} (answered in {took:?})");
        assert!(message.contains(needle), "{message}");

        // The server recovers: after the backoff, the next completion streams again.
        fake.set_script(Script::Stream {
            pieces: vec![
                "    return".to_string(),
                " n > 1".to_string(),
                "\n".to_string(),
            ],
            delay: Duration::from_millis(5),
        });
        std::thread::sleep(Duration::from_millis(1200));
        let fresh = format!("file:///e2e/recovered_{}.py", needle.replace(' ', "_"));
        server.open(&fresh, "python", PRIME_PY);
        let id = server.inline_completion(&fresh, 3, 0);
        let items = server.reply(id, DEFAULT_TIMEOUT).inline_items();
        assert_eq!(
            items.first().map(insert_text).as_deref(),
            Some("    return n > 1")
        );
    }
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// `model.path` changed while the model still loads (found by the fuzz campaign): the new path
/// waits for that load instead of starting a second one beside it (two models in memory at
/// once), and a path that cannot be loaded leaves the loaded model serving.
#[test]
fn a_model_path_set_while_the_model_loads_is_applied_after_that_load() {
    let mut server = Server::start(Profile::vscode().with_settings(json!({
        "rill": { "diagnostics": { "enable": false }, "completion": { "timeoutMs": 20000 } }
    })));
    // The engine has started (with the settings pulled after `initialized`) and loads.
    server.wait_for_notification(
        "rill/status",
        |params| params["state"] == "loading",
        DEFAULT_TIMEOUT,
    );
    let mark = server.mark();
    server.change_settings(json!({
        "rill": {
            "diagnostics": { "enable": false },
            "completion": { "timeoutMs": 20000 },
            "model": { "path": "/nonexistent/model.gguf" }
        }
    }));
    server.wait_until_ready();
    let message = error_message_since(&server, mark);
    assert!(message.contains("/nonexistent/model.gguf"), "{message}");
    assert!(message.contains("previous model"), "{message}");
    server.open(PRIME_URI, "python", PRIME_PY);
    assert!(
        !suggestion(&server).trim().is_empty(),
        "the loaded model serves"
    );
    assert_eq!(
        server.stderr().matches("model loaded in").count(),
        1,
        "one model was loaded"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
