//! Bad input from a client: malformed frames, unknown methods and documents, positions out of range,
//! edits to closed documents, invalid settings. The server must answer sensibly and keep serving.

use std::time::Duration;

use rill_e2e::{
    insert_text, MessageKind, Profile, Server, DEFAULT_TIMEOUT, INVALID_PARAMS, METHOD_NOT_FOUND,
    PARSE_ERROR, PRIME_PY, PRIME_URI,
};
use serde_json::{json, Value};

/// Failures collected along a sequence of checks, so that one broken behaviour does not hide the
/// others: the test fails at the end with all of them.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let what = what();
            eprintln!("FINDING: {what}");
            self.0.push(what);
        }
    }

    fn finish(self) {
        assert!(
            self.0.is_empty(),
            "{} problems:\n- {}",
            self.0.len(),
            self.0.join("\n- ")
        );
    }
}

/// Waits for the `window/showMessage` that names `key`.
fn shows_message_naming(server: &Server, key: &str, mark: usize) -> Option<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let found = server
            .messages()
            .into_iter()
            .skip(mark)
            .find_map(|message| message.notification("window/showMessage").cloned())
            .filter(|params| {
                params["message"]
                    .as_str()
                    .is_some_and(|text| text.contains(key))
            });
        if found.is_some() {
            return found;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A normal completion at the end of the prime document, for checking the server still works.
fn completes(server: &Server) -> Result<String, String> {
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let result = server
        .response(id, DEFAULT_TIMEOUT)
        .map_err(|err| err.to_string())?;
    match result["items"].as_array().map(Vec::as_slice) {
        // The best suggestion first; other candidates may follow it.
        Some([item, ..]) if !insert_text(item).trim().is_empty() => Ok(insert_text(item)),
        _ => Err(format!("no suggestion: {result}")),
    }
}

fn code_of(outcome: &Result<Value, rill_e2e::RpcError>) -> Option<i64> {
    outcome.as_ref().err().map(|error| error.code)
}

#[test]
fn bad_input_is_answered_and_the_server_keeps_serving() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);
    let mut findings = Findings::default();

    // An unknown request method.
    let id = server.request("rill/noSuchMethod", json!({}));
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    findings.check(code_of(&outcome) == Some(METHOD_NOT_FOUND), || {
        format!("unknown method should answer -32601; got {outcome:?}")
    });

    // Unknown notifications are ignored silently (the `$/` ones explicitly so by the spec).
    server.notify("$/noSuchNotification", json!({}));
    server.notify("rill/noSuchNotification", json!({ "x": 1 }));

    // Parameters of the wrong shape.
    let id = server.request("textDocument/inlineCompletion", json!("garbage"));
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    findings.check(code_of(&outcome) == Some(INVALID_PARAMS), || {
        format!("inline completion with string params should answer -32602; got {outcome:?}")
    });

    // A document that was never opened.
    let id = server.inline_completion("file:///e2e/never-opened.py", 0, 0);
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    findings.check(code_of(&outcome) == Some(INVALID_PARAMS), || {
        format!("inline completion for an unknown URI should answer -32602; got {outcome:?}")
    });

    // A position past the end of the document is clamped to the end.
    let id = server.inline_completion(PRIME_URI, 100, 100);
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    match &outcome {
        Ok(result) => match result["items"].as_array() {
            Some(items) => {
                for item in items {
                    findings.check(
                        item["range"]["start"] == json!({ "line": 3, "character": 0 }),
                        || format!("a position past the end should be clamped to 3:0; got {item}"),
                    );
                }
            }
            None => findings.check(false, || format!("clamped request without items: {result}")),
        },
        Err(error) => findings.check(false, || {
            format!("a position past the end should get a normal answer; got {error}")
        }),
    }

    // Edits to closed or never-opened documents are ignored and do not resurrect them.
    let closed = "file:///e2e/closed.py";
    server.open(closed, "python", "x = 1\n");
    server.close(closed);
    let edit = json!({
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
        "text": "y = 2\n"
    });
    server.change(closed, 2, vec![edit.clone()]);
    server.change("file:///e2e/never-opened.py", 2, vec![edit]);
    let outcome = server.document_text(closed);
    findings.check(code_of(&outcome) == Some(INVALID_PARAMS), || {
        format!("a closed document's text should be -32602 after an edit to it; got {outcome:?}")
    });
    let outcome = server.document_text(PRIME_URI);
    findings.check(
        outcome.as_ref().ok() == Some(&json!({ "version": 1, "text": PRIME_PY })),
        || format!("the open document should be unchanged; got {outcome:?}"),
    );

    // An invalid setting is reported to the user by its key, and the server keeps the previous value.
    let mark = server.mark();
    server.change_settings(json!({ "rill": { "completion": { "maxTokens": "lots" } } }));
    let message = shows_message_naming(&server, "completion.maxTokens", mark);
    findings.check(message.is_some(), || {
        format!(
            "no window/showMessage naming completion.maxTokens; messages since: {:?}",
            server.notifications("window/showMessage")
        )
    });
    eprintln!("showMessage: {message:?}");

    // After all that, completion still works.
    let completion = completes(&server);
    findings.check(completion.is_ok(), || {
        format!("completion after bad input: {completion:?}")
    });

    let status = server.shutdown_and_exit();
    findings.check(status.code() == Some(0), || format!("exit status {status}"));
    findings.finish();
}

/// A frame whose body is not JSON: the spec's answer is a parse error with a null id, and the
/// connection must survive it (the frame itself was well delimited, so nothing is out of step).
#[test]
fn malformed_json_gets_a_parse_error_and_the_server_survives() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);
    let body = br#"{"jsonrpc": "2.0", "id": 999, "method": "#;
    let mut frame = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    server.send_raw(&frame);
    let parse_error = server.wait_until("a response with a null id", DEFAULT_TIMEOUT, |messages| {
        messages.iter().find_map(|message| match &message.kind {
            MessageKind::Response {
                id: Value::Null,
                outcome,
            } => Some(outcome.clone()),
            _ => None,
        })
    });
    assert!(
        matches!(&parse_error, Err(error) if error.code == PARSE_ERROR),
        "malformed JSON should get a -32700 response with a null id; got {parse_error:?}"
    );
    let mirror = server
        .document_text(PRIME_URI)
        .expect("rill/documentText after malformed JSON");
    assert_eq!(mirror["version"], 1);
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Clients send parameterless requests with `"params": {}` or `"params": null` as well as without
/// the member; all three are the same request. Other params are still refused.
#[test]
fn parameterless_requests_accept_empty_and_null_params() {
    let mut server = Server::start_ready(Profile::vscode());
    for params in [None, Some(json!({})), Some(Value::Null)] {
        let id = 10_000
            + params
                .as_ref()
                .map_or(0, |p| if p.is_null() { 2 } else { 1 });
        let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": "rill/cacheStatus" });
        if let Some(params) = &params {
            message["params"] = params.clone();
        }
        let body = message.to_string();
        server.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
        let reply = server.wait_until("the cacheStatus answer", DEFAULT_TIMEOUT, |log| {
            log.iter().find_map(|message| match &message.kind {
                MessageKind::Response { id: got, outcome } if *got == json!(id) => {
                    Some(outcome.clone())
                }
                _ => None,
            })
        });
        let status = reply.unwrap_or_else(|err| panic!("params {params:?}: {err}"));
        assert!(status["cachedDocuments"].is_u64(), "{status}");
    }
    let id = server.request("rill/cacheStatus", json!({ "unexpected": 1 }));
    assert_eq!(
        code_of(&server.response(id, DEFAULT_TIMEOUT)),
        Some(INVALID_PARAMS)
    );
    // `shutdown` with null params, then `exit`: a clean exit.
    let body =
        json!({ "jsonrpc": "2.0", "id": 10_100, "method": "shutdown", "params": null }).to_string();
    server.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    let answer = server.wait_until("the shutdown answer", DEFAULT_TIMEOUT, |log| {
        log.iter().find_map(|message| match &message.kind {
            MessageKind::Response { id, outcome } if *id == json!(10_100) => Some(outcome.clone()),
            _ => None,
        })
    });
    assert_eq!(answer, Ok(Value::Null));
    server.notify("exit", Value::Null);
    let status = server
        .wait_for_exit(Duration::from_secs(10))
        .expect("the server exits");
    assert_eq!(status.code(), Some(0));
}

/// A reasoning chain cancelled while the client has not answered the server's
/// `window/workDoneProgress/create` yet: the answer then arrives for a request whose waiter is
/// gone, which made tower-lsp panic in the task that serves every message (found by the fuzz
/// campaign). The server must answer the cancel and keep serving.
#[test]
fn a_chain_cancelled_before_the_client_answers_its_progress_request_leaves_the_server_serving() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);
    server.pause_reading();
    let id = server.request(
        "workspace/executeCommand",
        json!({
            "command": "rill.reason",
            "arguments": [{
                "uri": PRIME_URI,
                "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 2, "character": 20 } },
                "task": "explain"
            }]
        }),
    );
    // The server asks for a progress token and waits; the client does not read yet.
    std::thread::sleep(Duration::from_millis(500));
    server.cancel(id);
    std::thread::sleep(Duration::from_millis(500));
    server.resume_reading();
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    assert!(
        matches!(&outcome, Err(error) if error.code == rill_e2e::REQUEST_CANCELLED),
        "{outcome:?}"
    );
    let status = server.call("rill/cacheStatus", Value::Null);
    assert!(status["cachedDocuments"].is_u64(), "{status}");
    assert!(!server.stderr().contains("panicked"), "the server panicked");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Found by the fuzz campaign: a reasoning chain over a range whose end comes before its start
/// sliced the document backwards and panicked. It selects the same lines as the range the right
/// way round.
#[test]
fn a_reversed_reasoning_range_selects_the_same_lines() {
    let settings = json!({ "rill": { "reasoning": { "timeoutMs": 1000, "maxSteps": 1 } } });
    let mut server = Server::start_ready(Profile::vscode().with_settings(settings));
    server.open(PRIME_URI, "python", PRIME_PY);
    let id = server.request(
        "workspace/executeCommand",
        json!({
            "command": "rill.reason",
            "arguments": [{
                "uri": PRIME_URI,
                "range": { "start": { "line": 2, "character": 20 }, "end": { "line": 0, "character": 0 } },
                "task": "explain"
            }]
        }),
    );
    let outcome = server.response(id, DEFAULT_TIMEOUT);
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(!server.stderr().contains("panicked"), "the server panicked");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
