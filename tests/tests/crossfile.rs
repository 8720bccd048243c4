//! Cross-file context over stdio: with two documents open, a completion in the second is computed from a prompt that carries a chunk of the first, and the default model uses it to name a function only the first one defines.

use std::time::Duration;

use rill_e2e::{insert_text, Profile, Server, DEFAULT_TIMEOUT};
use serde_json::{json, Value};

/// A module that defines a function with a name no model would guess.
const PRICING_URI: &str = "file:///e2e/shop/pricing.py";
const PRICING: &str = "\
\"\"\"Prices of baskets.\"\"\"


def frobnicate_basket_total(items, discount):
    \"\"\"The total price of the items, with the discount taken off.\"\"\"
    subtotal = sum(item.price * item.quantity for item in items)
    return round(subtotal * (1 - discount), 2)
";

/// The module that uses it: the cursor ends the last line, in the middle of the function's name.
const MAIN_URI: &str = "file:///e2e/shop/main.py";
const MAIN: &str = "\
from pricing import *

items = load_items()
total = frob";

/// Long enough for the ring's refresh (after `engine.prewarmIdleMs` of quiet) and its pre-warm.
const IDLE_WAIT: Duration = Duration::from_millis(1500);

/// Opens both documents in a fresh server with `context.crossFile` set as given, waits for the
/// user to be idle, and completes at the end of `main.py`. Returns the suggestion and the number
/// of prompt tokens `rill/status` reported for it.
fn complete_in_main(cross_file: bool) -> (String, u64) {
    let mut server = Server::spawn(Profile::vscode());
    server.set_settings(json!({ "rill": {
        // The gate is off: this test is about what the prompt holds, not about confidence.
        "completion": { "timeoutMs": 60000, "maxTokens": 16, "minConfidence": 0 },
        "diagnostics": { "enable": false },
        "context": { "crossFile": cross_file },
    } }));
    server.initialize();
    server.wait_until_ready();
    server.open(PRICING_URI, "python", PRICING);
    server.open(MAIN_URI, "python", MAIN);
    std::thread::sleep(IDLE_WAIT);

    let mark = server.mark();
    let last_line = MAIN.lines().count() as u32 - 1;
    let column = MAIN.lines().last().unwrap().len() as u32;
    let id = server.inline_completion(MAIN_URI, last_line, column);
    let result = server
        .response(id, DEFAULT_TIMEOUT)
        .unwrap_or_else(|err| panic!("inline completion failed: {err}"));
    let suggestion = result["items"]
        .as_array()
        .and_then(|items| items.first())
        .map(insert_text)
        .unwrap_or_default();
    let (_, status) = server.wait_for_notification_since(
        mark,
        "rill/status",
        |params: &Value| params.get("promptTokens").is_some(),
        DEFAULT_TIMEOUT,
    );
    let prompt_tokens = status["promptTokens"].as_u64().expect("promptTokens");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    (suggestion, prompt_tokens)
}

#[test]
fn a_completion_sees_the_other_open_document_and_uses_its_definitions() {
    let (without, plain_tokens) = complete_in_main(false);
    let (with, cross_file_tokens) = complete_in_main(true);
    eprintln!("without the ring ({plain_tokens} prompt tokens): {without:?}");
    eprintln!("with the ring ({cross_file_tokens} prompt tokens): {with:?}");

    // The prompt grew by pricing.py (one chunk holds all of it) and two comment lines naming the
    // files: Python source tokenizes to between one and eight characters per token.
    let added = cross_file_tokens.saturating_sub(plain_tokens) as usize;
    let chunk_chars = PRICING.len() + "# pricing.py\n# main.py\n".len();
    assert!(
        (chunk_chars / 8..=chunk_chars).contains(&added),
        "the prompt grew by {added} tokens for a chunk of {chunk_chars} characters"
    );

    // Only the other document defines the name the cursor is in.
    assert!(
        with.starts_with("nicate_basket_total"),
        "with pricing.py in the prompt the model should complete its function: {with:?}"
    );
    assert!(
        !without.contains("nicate_basket_total"),
        "without the other document the name cannot be known: {without:?}"
    );
}
