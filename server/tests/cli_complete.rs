//! End-to-end tests of the `rill` binary's command line: completion streamed to stdout, errors on stderr.

use std::io::Write;
use std::process::{Command, Stdio};

fn rill() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rill"))
}

#[test]
fn complete_streams_the_completion_to_stdout_and_statistics_to_stderr() {
    let dir = std::env::temp_dir().join(format!("rill-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prime.py");
    std::fs::write(
        &file,
        "def is_prime(n: int) -> bool:\n    if n < 2:\n        return False\n",
    )
    .unwrap();
    let output = rill()
        .args([
            "complete",
            file.to_str().unwrap(),
            "--at",
            "4:1",
            "--max-tokens",
            "12",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(output.status.success(), "{stderr}");
    // Greedy decoding of this prompt (greedy.jsonl line 1) starts with an indent, a clear choice,
    // then `for` (llama.cpp) or `if` (its runner-up by 0.24 nats): below the parity suite's clear
    // margin, so another correct summation order (another kernel level) may pick either.
    assert!(
        stdout.starts_with("    for ") || stdout.starts_with("    if "),
        "{stdout:?}"
    );
    assert!(stderr.contains("prompt 26 tokens"), "{stderr}");
    assert!(stderr.contains("time to first token"), "{stderr}");
    assert!(stderr.contains("tokens/s"), "{stderr}");
}

#[test]
fn complete_reads_stdin() {
    let mut child = rill()
        .args(["complete", "--stdin", "--max-tokens", "4"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"fn main() {\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(!String::from_utf8(output.stdout).unwrap().trim().is_empty());
}

#[test]
fn bad_input_gives_one_clear_error_and_a_failure_status() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["complete", "/nonexistent/file.py"],
            "cannot read /nonexistent/file.py",
        ),
        (
            &["complete", "--stdin", "--model", "/nonexistent/m.gguf"],
            "fetch",
        ),
        (&["complete", "--stdin", "--max-tokens", "0"], "max_tokens"),
        (&["complete", "--stdin", "--at", "0:1"], "1-based"),
    ];
    for (args, expected) in cases {
        let output = rill().args(args).stdin(Stdio::null()).output().unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?} wrote to stdout");
    }
}

#[test]
fn model_path_reports_the_resolved_file() {
    let output = rill().args(["model", "path"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = String::from_utf8(output.stdout).unwrap();
    assert!(path.trim().ends_with(".gguf"), "{path}");
}
