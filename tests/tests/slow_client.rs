//! A client that stops reading: while its editor hangs, a streaming suggestion's partial results must not pile up in the server; they are coalesced (each newer one replaces the queued one of its request), and every response still arrives, in order, once the client reads again.

use std::time::Duration;

use rill_e2e::{insert_text, Profile, Server, DEFAULT_TIMEOUT};
use serde_json::{json, Value};

/// Streaming token by token (no candidate search before the first text), a long single line.
fn settings() -> Value {
    json!({
        "rill": {
            "completion": {
                "maxTokens": 40,
                "timeoutMs": 15000,
                "candidates": 1,
                "suffixChoice": false,
                "codeOverComment": "off"
            },
            "diagnostics": { "enable": false },
            "engine": { "prewarm": false }
        }
    })
}

/// Opens a document holding the start of a long list and asks for its continuation; returns
/// the request id.
fn request_list(server: &Server, uri: &str, first: u32) -> i64 {
    let text: String = (first..first + 12).map(|n| format!("{n}, ")).collect();
    let line = format!("numbers = [{text}");
    server.open(uri, "python", &line);
    server.inline_completion(uri, 0, line.len() as u32)
}

/// The partials' texts and the answer of request `id`.
fn outcome(server: &Server, id: i64) -> (Vec<String>, String) {
    let reply = server.reply(id, Duration::from_secs(60));
    let items = reply.inline_items();
    let answer = items.first().map(insert_text).unwrap_or_default();
    let partials = server
        .partials_of(id)
        .iter()
        .map(|partial| insert_text(&partial["items"][0]))
        .collect();
    (partials, answer)
}

#[test]
fn partials_are_coalesced_while_the_client_does_not_read_and_no_response_is_lost() {
    let mut server = Server::start_ready(Profile::vscode().with_settings(settings()));

    // A client that reads: the list streams as many partials.
    let id = request_list(&server, "file:///e2e/list_read.py", 1);
    let (partials, answer) = outcome(&server, id);
    eprintln!(
        "read at once: {} partials, answer {answer:?}",
        partials.len()
    );
    assert!(
        partials.len() >= 4,
        "the control should stream several partials: {partials:?}"
    );

    // A client that hangs: a megabyte-sized answer fills the pipe and the server's write buffers,
    // then the same kind of suggestion streams while nobody reads.
    let big_uri = "file:///e2e/big.py";
    let big: String = (0..16_000)
        .map(|n| format!("value_{n} = {n} * 2  # padding padding padding\n"))
        .collect();
    server.open(big_uri, "python", &big);
    server.pause_reading();
    let texts: Vec<i64> = (0..3)
        .map(|_| {
            server.request(
                "rill/documentText",
                json!({ "textDocument": { "uri": big_uri } }),
            )
        })
        .collect();
    let id = request_list(&server, "file:///e2e/list_hung.py", 101);
    // Long enough for the whole suggestion to be decoded while the client does not read.
    std::thread::sleep(Duration::from_secs(10));
    server.resume_reading();

    for text in texts {
        let mirror = server
            .response(text, DEFAULT_TIMEOUT)
            .expect("rill/documentText while the client hung");
        assert_eq!(mirror["text"].as_str().map(str::len), Some(big.len()));
    }
    let (partials, answer) = outcome(&server, id);
    eprintln!(
        "after the hang: {} partials, answer {answer:?}",
        partials.len()
    );
    assert!(
        answer.matches(", ").count() >= 3,
        "the suggestion should be long enough to have streamed: {answer:?}"
    );
    assert!(
        partials.len() <= 2,
        "partials piled up while the client did not read: {partials:?}"
    );
    assert_eq!(
        partials.last(),
        Some(&answer),
        "the last partial is still the answer"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
