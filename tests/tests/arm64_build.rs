//! The linux-arm64 server (the arm64 .vsix's binary, cross-built with `cargo build --release -p rill --target aarch64-unknown-linux-gnu`) runs under `qemu-aarch64` and completes as the x86 build does.
//!
//! The arm64 build has none of rill's x86 kernels: every product goes through candle's NEON code
//! and rill's scalar attention. Its greedy text must be the text one of the x86 builds' kernel
//! paths writes (they differ only at a known close call of this prompt, see `cli_complete`), so a
//! wrong result on the other architecture cannot hide behind "it ran".

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rill_e2e::{rill_bin, run_with_stdin, PRIME_PY};

const TARGET: &str = "aarch64-unknown-linux-gnu";
/// Where Debian's `libc6-arm64-cross` puts the arm64 C library qemu-user loads the binary with.
const SYSROOT: &str = "/usr/aarch64-linux-gnu";

fn arm64_binary() -> PathBuf {
    std::env::var_os("RILL_ARM64_BIN").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join(TARGET)
                .join("release")
                .join("rill")
        },
        PathBuf::from,
    )
}

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|path| path.is_file())
    })
}

/// The arm64 binary and qemu-aarch64, or `None` (the test is skipped) unless `RILL_REQUIRE_ARM64`
/// says they must be there, as `scripts/test` does after building it.
fn setup() -> Option<(PathBuf, PathBuf)> {
    let binary = arm64_binary();
    let qemu = on_path("qemu-aarch64");
    match (binary.is_file(), qemu, Path::new(SYSROOT).is_dir()) {
        (true, Some(qemu), true) => Some((binary, qemu)),
        (has_binary, qemu, sysroot) => {
            let why = format!(
                "arm64 binary at {} {}, qemu-aarch64 {}, {SYSROOT} {}",
                binary.display(),
                if has_binary { "found" } else { "missing" },
                if qemu.is_some() { "found" } else { "missing" },
                if sysroot { "found" } else { "missing" },
            );
            assert!(
                std::env::var("RILL_REQUIRE_ARM64").as_deref() != Ok("1"),
                "RILL_REQUIRE_ARM64=1 but {why}"
            );
            eprintln!("skipped: {why}");
            None
        }
    }
}

fn arm64(binary: &Path, qemu: &Path, arguments: &[&str]) -> Command {
    let mut command = Command::new(qemu);
    command.args(["-L", SYSROOT]).arg(binary).args(arguments);
    command
}

fn complete(mut command: Command, env: &[(&str, &str)]) -> Output {
    command
        .args(["complete", "--stdin", "--max-tokens", "8", "--threads", "2"])
        .envs(env.iter().copied());
    run_with_stdin(command, PRIME_PY)
}

fn text(output: &Output) -> String {
    assert!(
        output.status.success(),
        "rill complete failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).expect("UTF-8 completion")
}

#[test]
fn the_arm64_binary_names_its_kernels_and_completes_like_an_x86_kernel_path() {
    let Some((binary, qemu)) = setup() else {
        return;
    };
    let version = arm64(&binary, &qemu, &["--version"])
        .output()
        .expect("qemu-aarch64 runs");
    let version = String::from_utf8_lossy(&version.stdout).to_string();
    assert!(
        version.contains("kernels: scalar") && version.contains("neon"),
        "the arm64 build names its paths: {version}"
    );

    let on_arm64 = text(&complete(arm64(&binary, &qemu, &[]), &[]));
    assert!(!on_arm64.trim().is_empty(), "an empty completion on arm64");
    let x86: Vec<String> = [("RILL_KERNELS", "scalar"), ("RILL_KERNELS", "avx512-vnni")]
        .iter()
        .map(|setting| text(&complete(Command::new(rill_bin()), &[*setting])))
        .collect();
    assert!(
        x86.contains(&on_arm64),
        "arm64 wrote {on_arm64:?}; the x86 kernel paths wrote {x86:?}"
    );
}
