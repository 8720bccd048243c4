//! Inline completion for VS Code: the streamed suggestion is the model's greedy continuation cut by
//! post-processing, and the statistics after it show the per-document cache at work.

use rill_e2e::{cli_complete, insert_text, Profile, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI};
use serde_json::{json, Value};

/// The best item of an inline completion result (the one partials stream), or a panic naming
/// what came instead. Other candidates may follow it; `tests/quality.rs` checks them.
fn only_item(result: &Value) -> &Value {
    let items = result["items"]
        .as_array()
        .unwrap_or_else(|| panic!("inline completion result without items: {result}"));
    assert!(
        (1..=3).contains(&items.len()),
        "expected a suggestion and at most two alternatives: {result}"
    );
    &items[0]
}

#[test]
fn inline_completion_streams_the_greedy_continuation() {
    let mut server = Server::start_ready(Profile::vscode());
    server.open(PRIME_URI, "python", PRIME_PY);

    let mark = server.mark();
    let id = server.inline_completion(PRIME_URI, 3, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let result = reply
        .outcome
        .clone()
        .unwrap_or_else(|err| panic!("inline completion failed: {err}"));
    let item = only_item(&result);
    let text = insert_text(item);
    eprintln!(
        "suggestion after {:?}: {text:?}",
        reply.at.duration_since(server.sent_at(id))
    );
    assert!(!text.trim().is_empty(), "empty suggestion: {result}");
    assert_eq!(
        item["range"],
        json!({ "start": { "line": 3, "character": 0 }, "end": { "line": 3, "character": 0 } }),
        "the suggestion is inserted at the cursor"
    );

    // Partials: in seq order, each a prefix of the next, the last one equal to the answer.
    let partials = server.partials_of(id);
    assert!(
        !partials.is_empty(),
        "no rill/inlineCompletion/partial for a streaming client"
    );
    let mut previous: Option<(u64, String)> = None;
    for partial in &partials {
        assert_eq!(partial["uri"], PRIME_URI, "{partial}");
        assert_eq!(partial["version"], 1, "{partial}");
        let seq = partial["seq"].as_u64().expect("numeric seq");
        let partial_text = insert_text(&partial["items"][0]);
        assert_eq!(partial["items"][0]["range"], item["range"], "{partial}");
        if let Some((previous_seq, previous_text)) = &previous {
            assert!(seq > *previous_seq, "seq {seq} after {previous_seq}");
            assert!(
                partial_text
                    .trim_end()
                    .starts_with(previous_text.trim_end()),
                "partial {seq} {partial_text:?} does not extend the previous one {previous_text:?}"
            );
        }
        previous = Some((seq, partial_text));
    }
    let (_, last) = previous.expect("at least one partial");
    assert_eq!(last, text, "the last partial must equal the response");
    let messages = server.messages();
    let last_partial_index = messages
        .iter()
        .rfind(|message| {
            message
                .notification("rill/inlineCompletion/partial")
                .is_some_and(|params| params["requestId"] == json!(id))
        })
        .map(|message| message.index)
        .expect("the partials are in the log");
    assert!(
        last_partial_index < reply.index,
        "partials must precede the response"
    );

    // The status after the completion carries its statistics.
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params| params.get("promptTokens").is_some(),
        DEFAULT_TIMEOUT,
    );
    eprintln!("status: {status}");
    assert_eq!(status["state"], "ready", "{status}");
    assert!(
        status["promptTokens"].as_u64().is_some_and(|n| n > 0),
        "{status}"
    );
    for key in ["reusedTokens", "timeToFirstTokenMs", "tokensPerSecond"] {
        assert!(
            status[key].is_number(),
            "status lacks a numeric {key}: {status}"
        );
    }

    // The suggestion must be where greedy decoding of the same text goes (cut by post-processing).
    let greedy = cli_complete(PRIME_PY, 64);
    eprintln!("greedy continuation: {greedy:?}");
    assert!(
        greedy.trim_end().starts_with(text.trim_end()),
        "the suggestion {text:?} is not a prefix of the greedy continuation {greedy:?}"
    );

    // A client with inline completion gets no menu entries: they would duplicate the ghost text.
    let id = server.completion(PRIME_URI, 3, 0);
    let menu = server
        .response(id, DEFAULT_TIMEOUT)
        .expect("textDocument/completion");
    assert_eq!(menu, Value::Null, "menu completion for an inline client");

    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// Asking again at the same place is answered from the completion cache with the same suggestion;
/// typing the suggestion's first characters is answered with the rest of it; typing something else
/// runs the model again on the document's cached prompt prefix.
#[test]
fn repeated_requests_reuse_the_cached_suggestion_and_prompt() {
    let mut server = Server::spawn(Profile::vscode());
    // A generous time budget: only a suggestion that ended on its own is reused, and this test
    // must not depend on how fast a loaded machine decodes. The client's answer to the server's
    // configuration pull at `initialized` carries it.
    server
        .set_settings(json!({ "rill": { "completion": { "timeoutMs": 30000, "maxTokens": 24 } } }));
    server.initialize();
    server.wait_until_ready();
    server.open(PRIME_URI, "python", PRIME_PY);
    let ask = |server: &Server, character: u32| {
        let mark = server.mark();
        let id = server.inline_completion(PRIME_URI, 3, character);
        let result = server
            .response(id, DEFAULT_TIMEOUT)
            .expect("inline completion");
        let (_, status) = server.wait_for_notification_since(
            mark,
            "rill/status",
            |params| params.get("source").is_some(),
            DEFAULT_TIMEOUT,
        );
        eprintln!("{result} {status}");
        (result, status)
    };
    let insert = |server: &Server, version: i32, character: u32, text: &str| {
        let at = json!({ "line": 3, "character": character });
        server.change(
            PRIME_URI,
            version,
            vec![json!({ "range": { "start": at, "end": at }, "text": text })],
        );
    };

    let (first, status) = ask(&server, 0);
    let suggestion = insert_text(only_item(&first));
    assert_eq!(status["source"], "model", "{status}");

    let (again, status) = ask(&server, 0);
    assert_eq!(status["source"], "cache", "{status}");
    assert_eq!(insert_text(only_item(&again)), suggestion);

    // Type the suggestion's first characters: the rest comes without model work.
    let typed: String = suggestion.chars().take(4).collect();
    assert!(!typed.is_empty() && typed.len() < suggestion.len());
    insert(&server, 2, 0, &typed);
    let column = typed.chars().count() as u32;
    let (rest, status) = ask(&server, column);
    assert_eq!(status["source"], "cache", "{status}");
    assert_eq!(status["acceptedChars"], column, "{status}");
    assert_eq!(
        insert_text(only_item(&rest)),
        suggestion[typed.len()..],
        "the rest of the suggestion"
    );

    // Type something else: the model runs again, on the cached prefix.
    insert(&server, 3, column, "zq");
    let (_, status) = ask(&server, column + 2);
    assert_eq!(status["source"], "model", "{status}");
    let reused = status["reusedTokens"].as_u64().unwrap_or(0);
    let prompt = status["promptTokens"].as_u64().unwrap_or(0);
    assert!(
        reused > 0 && reused < prompt,
        "an edit at the cursor should reuse the cached prefix: {status}"
    );
    assert!(
        status["cachedTokens"].as_u64().unwrap_or(0) > 0
            && status["cachedBytes"].as_u64().unwrap_or(0) > 0
            && status["cachedDocuments"] == 1,
        "the status reports what the cache holds: {status}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
