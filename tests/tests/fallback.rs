//! Menu completion for Helix, which has no inline completion: a suggestion within the short fallback
//! budget, as the first item of an incomplete list, and never a partial notification.

use std::time::Duration;

use rill_e2e::{cli_complete, Profile, Server, DEFAULT_TIMEOUT, PRIME_PY, PRIME_URI};
use serde_json::json;

/// `completion.fallbackBudgetMs` by default.
const FALLBACK_BUDGET: Duration = Duration::from_millis(300);
/// What the answer may take beyond the budget: scheduling, post-processing, the pipe.
const SLACK: Duration = Duration::from_millis(700);

#[test]
fn helix_gets_a_menu_item_within_the_fallback_budget() {
    let mut server = Server::start_ready(Profile::helix());
    server.open(PRIME_URI, "python", PRIME_PY);
    // A user reads a file for a moment before typing; the server pre-warms the prompt meanwhile,
    // which is what makes the short budget reachable on a slow machine.
    std::thread::sleep(Duration::from_secs(1));

    let id = server.completion(PRIME_URI, 3, 0);
    let reply = server.reply(id, DEFAULT_TIMEOUT);
    let elapsed = reply.at.duration_since(server.sent_at(id));
    let result = reply
        .outcome
        .unwrap_or_else(|err| panic!("textDocument/completion failed: {err}"));
    eprintln!("answered in {elapsed:?}: {result}");
    assert!(
        elapsed <= FALLBACK_BUDGET + SLACK,
        "answered after {elapsed:?}, over the budget {FALLBACK_BUDGET:?} + {SLACK:?}"
    );
    assert_eq!(result["isIncomplete"], true, "{result}");
    let item = &result["items"][0];
    let new_text = item["textEdit"]["newText"]
        .as_str()
        .unwrap_or_else(|| panic!("no first item with a textEdit: {result}"));
    assert!(!new_text.trim().is_empty(), "empty suggestion: {result}");
    assert!(
        !item["label"].as_str().unwrap_or_default().is_empty(),
        "{item}"
    );
    // The cursor is at the start of an empty line, so the edit replaces nothing and inserts there.
    assert_eq!(
        item["textEdit"]["range"],
        json!({ "start": { "line": 3, "character": 0 }, "end": { "line": 3, "character": 0 } })
    );

    // What was decoded within the budget is the beginning of the greedy continuation.
    let greedy = cli_complete(PRIME_PY, 64);
    assert!(
        greedy.trim_end().starts_with(new_text.trim_end()),
        "the suggestion {new_text:?} is not a prefix of the greedy continuation {greedy:?}"
    );

    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    assert!(
        server
            .notifications("rill/inlineCompletion/partial")
            .is_empty(),
        "partials sent to a client that did not ask for them"
    );
}
