//! Requests that go stale: superseded by a newer request, outdated by an edit, or cancelled by the
//! client. Each must answer at once, and nothing may be streamed for it after its answer.

use std::time::Duration;

use rill_e2e::{
    insert_text, Profile, Reply, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI, REQUEST_CANCELLED,
};
use serde_json::{json, Value};

/// How soon a stale request must be answered: one decoding step on a slow CPU, with margin.
const PROMPTLY: Duration = Duration::from_millis(500);
/// The LSP spec's expectation for `$/cancelRequest`, which the server promises.
const CANCEL_LATENCY: Duration = Duration::from_millis(100);

/// Asserts that no partial of request `id` arrived after its response.
fn assert_no_partial_after(server: &Server, id: i64, reply: &Reply) {
    let late: Vec<_> = server
        .messages()
        .into_iter()
        .filter(|message| message.index > reply.index)
        .filter(|message| {
            message
                .notification("rill/inlineCompletion/partial")
                .is_some_and(|params| params["requestId"] == json!(id))
        })
        .collect();
    assert!(
        late.is_empty(),
        "partials for request {id} after its response: {late:?}"
    );
}

#[test]
fn a_newer_request_supersedes_an_older_one() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);

    let first = server.inline_completion(PRIME_URI, 3, 0);
    let second = server.inline_completion(PRIME_URI, 3, 0);
    let first_reply = server.reply(first, DEFAULT_TIMEOUT);
    let latency = first_reply.at.duration_since(server.sent_at(second));
    eprintln!("superseded request answered {latency:?} after the newer one was sent");
    assert_eq!(
        first_reply.inline_items(),
        Vec::<Value>::new(),
        "the superseded request answers empty"
    );
    assert!(
        latency <= PROMPTLY,
        "the superseded request took {latency:?} to answer"
    );

    let second_reply = server.reply(second, DEFAULT_TIMEOUT);
    let suggestion = second_reply.suggestion();
    assert!(
        !insert_text(&suggestion).trim().is_empty(),
        "the newer request completes"
    );
    assert_no_partial_after(&server, first, &first_reply);

    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn an_edit_makes_the_request_in_flight_answer_empty() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);

    let stale = server.inline_completion(PRIME_URI, 3, 0);
    server.change(
        PRIME_URI,
        2,
        vec![json!({
            "range": { "start": { "line": 3, "character": 0 }, "end": { "line": 3, "character": 0 } },
            "text": " "
        })],
    );
    let edited_at = std::time::Instant::now();
    let fresh = server.inline_completion(PRIME_URI, 3, 1);

    let stale_reply = server.reply(stale, DEFAULT_TIMEOUT);
    let latency = stale_reply.at.saturating_duration_since(edited_at);
    eprintln!("the stale request answered {latency:?} after the edit");
    assert_eq!(
        stale_reply.inline_items(),
        Vec::<Value>::new(),
        "the stale request answers empty"
    );
    assert!(
        latency <= PROMPTLY,
        "the stale request took {latency:?} to answer"
    );
    assert_no_partial_after(&server, stale, &stale_reply);

    let fresh_reply = server.reply(fresh, DEFAULT_TIMEOUT);
    let fresh_item = fresh_reply.suggestion();
    assert!(
        !insert_text(&fresh_item).trim().is_empty(),
        "the request after the edit completes: {fresh_item}"
    );
    assert_eq!(
        fresh_item["range"]["start"],
        json!({ "line": 3, "character": 1 })
    );
    for partial in server.partials_of(fresh) {
        assert_eq!(
            partial["version"], 2,
            "partials name the edited version: {partial}"
        );
    }

    let mirror = server.document_text(PRIME_URI).expect("rill/documentText");
    assert_eq!(
        mirror,
        json!({ "version": 2, "text": format!("{PRIME_PY} ") })
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn cancel_request_answers_request_cancelled_at_once() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);

    let id = server.inline_completion(PRIME_URI, 3, 0);
    // Cancel while the model is decoding: the first partial proves it is.
    server.wait_for_notification(
        "rill/inlineCompletion/partial",
        |params| params["requestId"] == json!(id),
        DEFAULT_TIMEOUT,
    );
    let cancelled_at = server.cancel(id);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let latency = reply.at.saturating_duration_since(cancelled_at);
    eprintln!(
        "cancelled request answered {latency:?} after $/cancelRequest: {:?}",
        reply.outcome
    );
    match &reply.outcome {
        Err(error) => assert_eq!(error.code, REQUEST_CANCELLED, "{error}"),
        Ok(result) => panic!(
            "the request answered {result} instead of RequestCancelled \
             (did it finish before the cancel arrived, {latency:?} later?)"
        ),
    }
    assert!(
        latency <= CANCEL_LATENCY,
        "RequestCancelled came {latency:?} after the cancel"
    );
    assert_no_partial_after(&server, id, &reply);

    // The engine is free again for the next request.
    let next = server.inline_completion(PRIME_URI, 3, 0);
    let next_reply = server.reply(next, DEFAULT_TIMEOUT);
    assert!(
        !insert_text(&next_reply.suggestion()).trim().is_empty(),
        "a request after a cancel completes"
    );

    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
