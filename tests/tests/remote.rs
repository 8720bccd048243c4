//! The remote engine end to end: `rill --stdio` with `engine.backend = "openai"` completing through llama.cpp's OpenAI-compatible server (`llama_cpp.server`, the default model) behind a fault-injecting proxy. Streaming, cancellation that closes the upstream connection, and failures (server down, HTTP 500, garbage events) that answer empty, show one message and recover.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rill_e2e::fault_proxy::{Fault, FaultProxy};
use rill_e2e::llama_server::LlamaServer;
use rill_e2e::{
    insert_text, Profile, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI, REQUEST_CANCELLED,
};
use serde_json::{json, Value};

/// `engine.timeoutMs` in these tests: llama_cpp.server sends its headers only with the first
/// token, which takes seconds on a busy two-core machine.
const REMOTE_TIMEOUT_MS: u64 = 15000;
/// `completion.maxTokens` in these tests.
const MAX_TOKENS: usize = 48;
/// LSP `MessageType.Error`.
const ERROR: i64 = 1;

/// rill's settings for the remote backend at `base_url`. The default model (Gemma 3 270M) has
/// no fill-in-the-middle tokens, so prompts are the text before the cursor (`fimTemplate: none`).
fn remote_settings(base_url: &str) -> Value {
    json!({
        "rill": {
            "engine": {
                "backend": "openai",
                "baseUrl": base_url,
                "model": "gemma-3-270m",
                "timeoutMs": REMOTE_TIMEOUT_MS,
                "fimTemplate": "none"
            },
            "completion": { "maxTokens": MAX_TOKENS, "timeoutMs": 20000 },
            "diagnostics": { "enable": false }
        }
    })
}

/// Error `window/showMessage`s from log index `mark` on.
fn error_messages_since(server: &Server, mark: usize) -> Vec<String> {
    server
        .messages()
        .into_iter()
        .skip(mark)
        .filter_map(|message| message.notification("window/showMessage").cloned())
        .filter(|params| params["type"] == ERROR)
        .map(|params| params["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Opens a document no earlier request has seen (so rill's suggestion cache cannot answer for the
/// server) and requests an inline completion at its end.
fn request_in_a_new_document(server: &Server) -> i64 {
    static DOCUMENTS: AtomicUsize = AtomicUsize::new(0);
    let n = DOCUMENTS.fetch_add(1, Ordering::Relaxed);
    let uri = format!("file:///e2e/remote_{n}.py");
    let text =
        format!("def scale_{n}(values):\n    return [value * {n} for value in values]\n\n\ndef ");
    server.open(&uri, "python", &text);
    server.inline_completion(&uri, 4, 4)
}

/// Requests a completion and checks it answers empty, at once, while the backend fails.
fn assert_answers_empty(server: &Server, what: &str) -> Duration {
    let id = request_in_a_new_document(server);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let took = reply.at.duration_since(server.sent_at(id));
    assert_eq!(
        reply.inline_items(),
        Vec::<Value>::new(),
        "{what}: the request answers empty"
    );
    assert!(
        took < Duration::from_millis(REMOTE_TIMEOUT_MS),
        "{what}: answered after {took:?}"
    );
    took
}

/// Waits for one error message from `mark` on and checks it mentions `needle`.
fn wait_for_error_message(server: &Server, mark: usize, needle: &str) -> String {
    let (_, params) = server.wait_for_notification_since(
        mark,
        "window/showMessage",
        |params| params["type"] == ERROR,
        DEFAULT_TIMEOUT,
    );
    let message = params["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains(needle),
        "the error message should mention {needle:?}: {message}"
    );
    message
}

/// Waits out the backoff (1 s after a first failure) and checks a completion works again.
fn assert_recovers(server: &Server) -> String {
    std::thread::sleep(Duration::from_millis(1200));
    let id = request_in_a_new_document(server);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let found = reply.inline_items();
    assert_eq!(found.len(), 1, "a completion after recovery: {found:?}");
    let text = insert_text(&found[0]);
    assert!(!text.trim().is_empty());
    text
}

#[test]
fn completions_stream_from_an_openai_compatible_server_and_survive_its_failures() {
    let Some(llama) = LlamaServer::start(1) else {
        return;
    };
    // The first request to a fresh server is slower (allocation, warm-up); make it here.
    llama.complete("def", 1);
    let mut proxy = FaultProxy::start(llama.port);
    // Start on the local engine and switch at runtime, as a user changing the setting does.
    let mut server = Server::start_ready(Profile::vscode().with_settings(json!({
        "rill": { "diagnostics": { "enable": false } }
    })));
    let mark = server.mark();
    server.change_settings(remote_settings(&proxy.base_url()));
    server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params["state"] == "ready",
        DEFAULT_TIMEOUT,
    );
    server.open(PRIME_URI, "python", PRIME_PY);

    // Streaming: several partials, each extending the last, the answer equal to the last one,
    // and the text is llama.cpp's own greedy continuation (post-processing only cuts it).
    proxy.set_fault(Fault::Pass {
        delay: Duration::from_millis(20),
    });
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let found = reply.inline_items();
    assert_eq!(found.len(), 1, "one suggestion: {found:?}");
    let answer = insert_text(&found[0]);
    let partials: Vec<String> = server
        .partials_of(id)
        .iter()
        .map(|partial| insert_text(&partial["items"][0]))
        .collect();
    eprintln!("{} partials, answer {answer:?}", partials.len());
    assert!(partials.len() >= 2, "several partials: {partials:?}");
    for pair in partials.windows(2) {
        assert!(
            pair[1].starts_with(pair[0].trim_end()),
            "{:?} does not extend {:?}",
            pair[1],
            pair[0]
        );
    }
    assert_eq!(
        partials.last(),
        Some(&answer),
        "the last partial is the answer"
    );
    let direct: String = llama
        .complete(PRIME_PY, MAX_TOKENS)
        .into_iter()
        .map(|(_, piece)| piece)
        .collect();
    assert!(
        direct.starts_with(answer.trim_end()),
        "the answer {answer:?} is not the server's continuation {direct:?}"
    );
    assert!(
        proxy.connections().iter().any(|c| c.requests > 0),
        "the completion went through the proxy"
    );

    // Cancellation: the stream is slowed down so it is still running when $/cancelRequest
    // arrives; the connection to the server must close long before the stream would have ended.
    proxy.set_fault(Fault::Pass {
        delay: Duration::from_millis(150),
    });
    let before = proxy.connections().len();
    // A document of its own, so no earlier suggestion can answer from rill's cache; a long list
    // keeps the model writing on one line.
    let numbers_uri = "file:///e2e/numbers.py";
    let numbers = "numbers = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ";
    server.open(numbers_uri, "python", numbers);
    let id = server.inline_completion(numbers_uri, 0, numbers.len() as u32);
    server.wait_for_notification(
        "rill/inlineCompletion/partial",
        |params| params["requestId"] == json!(id),
        DEFAULT_TIMEOUT,
    );
    let cancelled_at = server.cancel(id);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    match &reply.outcome {
        Err(error) => assert_eq!(error.code, REQUEST_CANCELLED, "{error}"),
        Ok(result) => assert_eq!(result["items"], json!([]), "{result}"),
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        let closed = proxy
            .connections()
            .into_iter()
            .skip(before)
            .find(|connection| connection.closed_mid_stream());
        if let Some(closed) = closed {
            break closed;
        }
        assert!(
            Instant::now() < deadline,
            "no connection closed mid-stream after the cancel: {:?}",
            proxy.connections()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let latency = closed
        .client_closed_at
        .expect("closed")
        .saturating_duration_since(cancelled_at);
    eprintln!(
        "upstream connection closed {latency:?} after $/cancelRequest, {} events in",
        closed.events
    );
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    proxy.set_fault(Fault::Pass {
        delay: Duration::ZERO,
    });

    // Server down: the request answers empty, one error message, and requests during the
    // backoff answer empty at once without a second message.
    proxy.stop();
    let mark = server.mark();
    assert_answers_empty(&server, "server down");
    wait_for_error_message(&server, mark, "cannot connect");
    let during_backoff = assert_answers_empty(&server, "during the backoff");
    eprintln!("during the backoff a request answered in {during_backoff:?}");
    assert!(during_backoff < Duration::from_millis(500));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        error_messages_since(&server, mark).len(),
        1,
        "one message per failure episode"
    );

    // The server comes back: the first request after the backoff completes again.
    proxy.resume();
    assert_recovers(&server);
    server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params["state"] == "ready",
        DEFAULT_TIMEOUT,
    );

    // HTTP 500 and garbage events: each a new episode (a success came between), each shown once.
    for (fault, needle) in [
        (Fault::Status500, "HTTP 500"),
        (Fault::GarbageEvents, "cannot read"),
    ] {
        proxy.set_fault(fault);
        let mark = server.mark();
        assert_answers_empty(&server, needle);
        let message = wait_for_error_message(&server, mark, needle);
        eprintln!("{needle}: {message}");
        server.wait_for_notification_since(
            mark,
            "rill/status",
            |params| params["state"] == "error",
            DEFAULT_TIMEOUT,
        );
        assert_answers_empty(&server, "during the backoff");
        assert_eq!(error_messages_since(&server, mark).len(), 1);
        proxy.set_fault(Fault::Pass {
            delay: Duration::ZERO,
        });
        assert_recovers(&server);
    }

    assert!(
        !server.stderr().contains("Bearer"),
        "the server logged an Authorization header"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
