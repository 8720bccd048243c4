//! Reasoning chains through a real instruct model's chat template (SmolLM2-135M-Instruct, a Llama-architecture GGUF with byte-level BPE): the chain is prompted with the template, parsed, guarded, and whatever the model writes is either applied because it passed every guard or not applied with the guard's reason.

use std::time::Duration;

use rill_e2e::{smollm2_path, Profile, Server};
use serde_json::{json, Value};

const URI: &str = "file:///e2e/mean.py";
/// A function with a misspelled keyword: what "fix step by step" is for.
const BUGGY: &str = "import math\n\n\ndef mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n    retrun total / len(xs)\n";

fn chain(server: &Server, task: &str) -> Value {
    let selection =
        json!({ "start": { "line": 3, "character": 0 }, "end": { "line": 8, "character": 0 } });
    let id = server.request(
        "workspace/executeCommand",
        json!({ "command": "rill.reason", "arguments": [{ "uri": URI, "range": selection, "task": task }] }),
    );
    server
        .response(id, Duration::from_secs(300))
        .expect("the chain answers")
}

#[test]
fn an_instruct_models_chain_goes_through_its_chat_template_and_the_guards() {
    let model = smollm2_path();
    let settings = json!({ "rill": {
        "model": { "path": model },
        "diagnostics": { "enable": false },
        "reasoning": { "timeoutMs": 120000, "maxSteps": 2 }
    }});
    let server = Server::spawn(Profile::vscode().with_env("RILL_LOG", "info"));
    server.set_settings(settings);
    server.initialize();
    server.wait_until_ready();
    server.open(URI, "python", BUGGY);
    for task in ["fix", "improve"] {
        let result = chain(&server, task);
        eprintln!("SmolLM2 {task} chain: {result}");
        let output = result["output"].as_str().unwrap();
        // The chat path: the model answers in the step format the template's message asks for.
        assert!(output.starts_with("1."), "{output}");
        assert!(!result["steps"].as_array().unwrap().is_empty(), "{result}");
        let applied = result["applied"] == true;
        let rejected = result["rejectedBy"].as_str();
        if applied {
            // Applied only after passing every guard: still Python, still `mean(xs)`.
            assert!(rejected.is_none(), "{result}");
            let last = result["kept"].as_array().unwrap().last().unwrap()["after"]
                .as_str()
                .unwrap()
                .to_string();
            assert!(last.contains("def mean(xs"), "{last}");
            assert!(!last.contains('{') && !last.contains("function"), "{last}");
        } else if let Some(reason) = rejected {
            assert!(!reason.is_empty());
            assert!(result["kept"].as_array().unwrap().is_empty(), "{result}");
        }
    }
    // The log names the chat template path.
    let log = server.stderr();
    assert!(log.contains("chat template"), "{log}");
}
