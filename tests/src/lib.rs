//! Harness for rill's end-to-end tests: a real LSP client that drives `rill --stdio` over pipes.
//!
//! The tests under `tests/` never call into the server's code. They start the `rill` binary the way an
//! editor does, speak JSON-RPC with `Content-Length` framing to it, and check what comes back. The
//! pieces are:
//!
//! - [`Server`]: one running server process, with a reader thread that records every message it sends
//!   (with the [`Instant`](std::time::Instant) it arrived) and answers its requests to the client;
//! - [`Profile`]: the capabilities and settings of an editor (VS Code, Helix, a Neovim-like client);
//! - [`TextModel`]: the client's own copy of a document, to generate edits in a position encoding and to
//!   compare against the server's mirror;
//! - [`rill_bin`] and [`cli_complete`]: the binary under test and its command-line completion, the
//!   reference the server's suggestions are compared against;
//! - [`llama_server`] and [`fault_proxy`]: llama.cpp's OpenAI-compatible server and a
//!   fault-injecting proxy in front of it, for the remote engine (`engine.backend = "openai"`);
//!   [`fake_openai`], a scripted stand-in for such a server when no model server is needed;
//! - [`fuzz`]: the seeded random campaign that drives the server with valid, mutated, misordered
//!   and malformed messages (the `fuzz` test and `fuzz_bench`);
//! - [`Server::peak_rss_bytes`]: the server process's memory, from `/proc`.

pub mod fake_openai;
pub mod fault_proxy;
mod framing;
pub mod fuzz;
pub mod llama_server;
mod memory;
mod profile;
mod requests;
mod server;
mod text;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use profile::Profile;
pub use server::{
    Message, MessageKind, Reply, RpcError, Server, WaitError, DEFAULT_TIMEOUT, READY_LOG_MESSAGE,
};
pub use text::{Encoding, Rng, TextModel};

/// The Python document most tests complete in: the cursor goes on the empty last line (line 3).
pub const PRIME_PY: &str = "def is_prime(n: int) -> bool:\n    if n < 2:\n        return False\n";

/// The URI tests open [`PRIME_PY`] under.
pub const PRIME_URI: &str = "file:///e2e/prime.py";

/// JSON-RPC error code of a request that could not be parsed.
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC error code of an unknown method.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// JSON-RPC error code of bad parameters (rill also uses it for documents that are not open).
pub const INVALID_PARAMS: i64 = -32602;
/// LSP error code of a request the client cancelled with `$/cancelRequest`.
pub const REQUEST_CANCELLED: i64 = -32800;

/// The `rill` binary under test.
///
/// `RILL_BIN` wins when set. Otherwise the binary is the one cargo built next to this test executable:
/// tests run from `target/<profile>/deps/`, and `rill` lives in `target/<profile>/`. Because this crate is
/// a workspace member, `cargo test --workspace` builds `rill` before it runs these tests.
pub fn rill_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("RILL_BIN") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "RILL_BIN is set to {}, which is not a file",
            path.display()
        );
        return path;
    }
    let exe = std::env::current_exe().expect("the path of the test executable");
    let name = format!("rill{}", std::env::consts::EXE_SUFFIX);
    for dir in exe.ancestors().skip(1) {
        let candidate = dir.join(&name);
        if candidate.is_file() {
            return candidate;
        }
        // Stop at the profile directory (the parent of `deps/`): looking higher would find a binary
        // from another profile, which may be stale.
        if dir.file_name().is_some_and(|name| name == "deps") {
            if let Some(profile_dir) = dir.parent() {
                let candidate = profile_dir.join(&name);
                if candidate.is_file() {
                    return candidate;
                }
                panic!(
                    "no rill binary at {}; run `cargo build --release -p rill` (or set RILL_BIN)",
                    candidate.display()
                );
            }
        }
    }
    panic!(
        "cannot find the rill binary above {}; run `cargo build --release -p rill` (or set RILL_BIN)",
        exe.display()
    );
}

/// The GGUF file the server loads by default: `RILL_MODEL`, else the default model in the cache
/// (`$XDG_CACHE_HOME/rill/models/`, else `~/.cache/rill/models/`), as the server resolves it.
pub fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("RILL_MODEL").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_default();
    cache.join("rill/models/gemma-3-270m-q4_k_m.gguf")
}

/// SmolLM2-135M-Instruct (Q4_1), the real instruct model with a chat template that
/// `scripts/fetch-smollm2.py` puts next to the default model; `RILL_SMOLLM2` overrides the path.
/// Tests that need it fail with a clear message when it is missing.
pub fn smollm2_path() -> PathBuf {
    if let Some(path) = std::env::var_os("RILL_SMOLLM2").filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let path = model_path().with_file_name("smollm2-135m-instruct-q4_1.gguf");
    assert!(
        path.is_file(),
        "{} is missing: run `python3 scripts/fetch-smollm2.py` (scripts/test does)",
        path.display()
    );
    path
}

/// The completion `rill complete --stdin` prints for `text` (cursor at its end), without the final newline.
///
/// With its defaults the command decodes greedily, so this is the model's own continuation of the
/// prompt: the reference that the server's post-processed suggestions must be a prefix of. Call it while
/// a [`Server`] is held, so that it does not compete for the CPU with another test's server.
pub fn cli_complete(text: &str, max_tokens: usize) -> String {
    let mut command = Command::new(rill_bin());
    command.args([
        "complete",
        "--stdin",
        "--max-tokens",
        &max_tokens.to_string(),
    ]);
    let output = run_with_stdin(command, text);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "`rill complete` failed ({}): {stderr}",
        output.status
    );
    let stdout = String::from_utf8(output.stdout).expect("`rill complete` printed UTF-8");
    stdout
        .strip_suffix('\n')
        .unwrap_or_else(|| panic!("`rill complete` output lacks its final newline: {stdout:?}"))
        .to_string()
}

/// The text of an inline completion item's `insertText`, which LSP allows as a string or a snippet.
pub fn insert_text(item: &serde_json::Value) -> String {
    match &item["insertText"] {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Object(snippet) => snippet
            .get("value")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| panic!("snippet insertText without a value: {item}"))
            .to_string(),
        other => panic!("insertText is neither a string nor a snippet: {other}"),
    }
}

/// `text` after an LSP `TextEdit` (as JSON), its positions counted in `encoding`.
pub fn apply_text_edit(text: &str, edit: &serde_json::Value, encoding: Encoding) -> String {
    let position = |at: &serde_json::Value| {
        let number = |key: &str| {
            at[key]
                .as_u64()
                .unwrap_or_else(|| panic!("a position without {key}: {at}")) as u32
        };
        (number("line"), number("character"))
    };
    let mut model = TextModel::new(text, encoding);
    model.apply(
        position(&edit["range"]["start"]),
        position(&edit["range"]["end"]),
        edit["newText"]
            .as_str()
            .unwrap_or_else(|| panic!("an edit without newText: {edit}")),
    );
    model.text().to_string()
}

/// Runs `command` with `text` on its stdin and returns what it printed (its stdout and stderr
/// piped), for `rill complete --stdin` however it is launched (directly, or under qemu).
pub fn run_with_stdin(mut command: Command, text: &str) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(text.as_bytes())
        .expect("write to the command's stdin");
    child.wait_with_output().expect("wait for the command")
}
