//! Helix as it really talks to rill: no inline completion, UTF-8 positions, no `$/cancelRequest` and a 20 s request timeout. It gets model diagnostics with quick fixes in UTF-8 columns, and a reasoning chain that answers within its timeout because `reasoning.timeoutMs` is below it.

use std::time::Duration;

use rill_e2e::{Profile, Server};
use serde_json::{json, Value};

/// Helix gives up on a request after 20 s (`editor.lsp.timeout` in its config, 20 by default).
const HELIX_TIMEOUT: Duration = Duration::from_secs(20);
const URI: &str = "file:///e2e/helix_sizes.py";
/// Scoring a 42-line file takes seconds on two busy cores.
const SCORING_TIMEOUT: Duration = Duration::from_secs(180);

/// The fixture with a non-ASCII string before the misspelling on its line, so that UTF-8 columns
/// differ from UTF-16 ones.
fn fixture() -> String {
    include_str!("../fixtures/sizes.py").replacen(
        "    retrun total",
        "    size = \"größe\" if total else retrun",
        1,
    )
}

#[test]
fn helix_gets_diagnostics_and_quick_fixes_in_utf8_and_a_chain_within_its_timeout() {
    let text = fixture();
    let profile = Profile::helix().with_settings(json!({
        "rill": { "reasoning": { "timeoutMs": 12000, "maxSteps": 2 } }
    }));
    let server = Server::start_ready(profile);
    assert_eq!(
        server.initialize_result()["capabilities"]["positionEncoding"],
        "utf-8"
    );
    server.open(URI, "python", &text);

    let is_typo = |d: &Value| {
        d["message"]
            .as_str()
            .is_some_and(|m| m.contains("`retrun`"))
    };
    let (_, published) = server.wait_for_notification(
        "textDocument/publishDiagnostics",
        |params| {
            params["uri"] == URI
                && params["diagnostics"].as_array().is_some_and(|all| {
                    all.iter()
                        .any(|d| is_typo(d) && d["range"]["start"]["line"] == 9)
                        && all.iter().any(|d| d["data"]["fix"].is_object())
                })
        },
        SCORING_TIMEOUT,
    );
    let all = published["diagnostics"].as_array().unwrap().clone();
    // Every range is in UTF-8 bytes: the flagged text starts exactly at its column's byte.
    for d in &all {
        let line = text
            .lines()
            .nth(d["range"]["start"]["line"].as_u64().unwrap() as usize)
            .unwrap();
        let column = d["range"]["start"]["character"].as_u64().unwrap() as usize;
        let message = d["message"].as_str().unwrap();
        let flagged = message.split('`').nth(1).unwrap();
        assert!(
            line.get(column..)
                .is_some_and(|rest| rest.starts_with(flagged)),
            "{d} on {line:?}"
        );
    }
    // `    size = "größe" if total else ` is 33 characters but 35 bytes.
    let diagnostic = all
        .iter()
        .find(|d| is_typo(d) && d["range"]["start"]["line"] == 9)
        .unwrap()
        .clone();
    let byte_column = text.lines().nth(9).unwrap().find("retrun").unwrap();
    assert_eq!(byte_column, 35);
    assert_eq!(diagnostic["range"]["start"]["character"], byte_column);
    assert_eq!(
        diagnostic["range"]["end"]["character"],
        byte_column + "retrun".len()
    );

    // The quick fix of a diagnostic with a fix carries exactly that edit.
    let with_fix = all
        .iter()
        .find(|d| d["data"]["fix"].is_object())
        .unwrap()
        .clone();
    let id = server.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": URI },
            "range": with_fix["range"],
            "context": { "diagnostics": [with_fix] }
        }),
    );
    let actions = server.response(id, HELIX_TIMEOUT).expect("code actions");
    let fix = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|action| action["kind"] == "quickfix" && action["edit"].is_object())
        .unwrap_or_else(|| panic!("no quick fix: {actions}"));
    let edit = &fix["edit"]["changes"][URI][0];
    assert_eq!(edit["range"], with_fix["data"]["fix"]["range"]);
    assert_eq!(edit["newText"], with_fix["data"]["fix"]["newText"]);

    // Helix asks for code actions with the diagnostics under the cursor.
    let id = server.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": URI },
            "range": diagnostic["range"],
            "context": { "diagnostics": [diagnostic] }
        }),
    );
    let actions = server.response(id, HELIX_TIMEOUT).expect("code actions");
    let actions = actions.as_array().unwrap();
    // On a diagnostic, the chain's "fix" is offered as a quick fix too.
    let reason = actions
        .iter()
        .find(|action| action["title"] == "rill: fix this step by step")
        .unwrap_or_else(|| panic!("no reasoning action: {actions:?}"));
    assert_eq!(reason["kind"], "quickfix");

    // Helix runs the command and waits at most 20 s, never cancelling: the server's own time
    // limit (12 s here) must answer first, with the steps written so far.
    let command = &reason["command"];
    let id = server.request(
        "workspace/executeCommand",
        json!({ "command": command["command"], "arguments": command["arguments"] }),
    );
    let result: Value = server
        .response(id, HELIX_TIMEOUT)
        .expect("the chain answers within Helix's timeout");
    assert_eq!(result["cancelled"], false, "{result}");
    assert!(result["steps"].is_array(), "{result}");
    let ended = server
        .notifications("$/progress")
        .into_iter()
        .any(|(_, params)| params["value"]["kind"] == "end");
    assert!(ended, "the chain's progress never ended");
}
