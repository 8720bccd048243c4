//! A request the client cancels while the real engine decodes it: it answers at once and nothing is streamed for it after its answer. (Superseding and edits that make a request stale are LSP logic, tested without a model in `server/tests/lsp_in_process.rs`.)

use std::time::Duration;

use rill_e2e::{
    insert_text, Profile, Reply, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI, REQUEST_CANCELLED,
};
use serde_json::json;

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
