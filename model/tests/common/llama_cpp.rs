//! Access to llama.cpp through the `llama-cpp-python` venv (scripts/install-llama-cpp.sh): the independent implementation our parity tests compare with.

use std::path::PathBuf;
use std::process::Command;

/// Set (to anything but `0`) where the venv must exist, as in CI: a missing venv then fails the
/// test instead of skipping it.
pub const REQUIRE_VAR: &str = "RILL_REQUIRE_LLAMA_CPP";

/// The venv's Python interpreter: `$RILL_LLAMA_CPP_VENV/bin/python`, else the cache location the
/// install script uses. `None` (after printing why and how to install it) when it is missing and
/// not required.
pub fn python() -> Option<PathBuf> {
    let venv = std::env::var_os("RILL_LLAMA_CPP_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| {
                    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache"))
                })?;
            Some(cache.join("rill/llama-cpp-venv"))
        })?;
    let python = venv.join("bin/python");
    let importable = python.is_file()
        && Command::new(&python)
            .args(["-c", "import llama_cpp"])
            .output()
            .is_ok_and(|output| output.status.success());
    if importable {
        return Some(python);
    }
    let message = format!(
        "llama-cpp-python is not importable from {}; build it with scripts/install-llama-cpp.sh",
        python.display()
    );
    if std::env::var(REQUIRE_VAR).is_ok_and(|value| value != "0") {
        panic!("{message} ({REQUIRE_VAR} is set, so this test may not skip)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// Runs `model/tests/llama_cpp/<script>` with `args` in the venv and parses its standard output as
/// JSON. Panics with the script's standard error when it fails.
pub fn run_script(python: &PathBuf, script: &str, args: &[&str]) -> serde_json::Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/llama_cpp")
        .join(script);
    let output = Command::new(python)
        .arg(&path)
        .args(args)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", path.display()));
    assert!(
        output.status.success(),
        "{} failed:\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "{} printed no JSON ({err}):\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}
