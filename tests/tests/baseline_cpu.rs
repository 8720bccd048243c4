//! The shipped baseline (x86-64-v3, `.cargo/config.toml`): the release binary runs on a CPU of that level, emulated by `qemu-x86_64 -cpu Haswell` (qemu-user), without an illegal instruction, and completes exactly as it does here on the same kernel path.

use std::path::PathBuf;
use std::process::{Command, Output};

use rill_e2e::{rill_bin, run_with_stdin, PRIME_PY};

/// The qemu CPU model of the baseline: AVX2, FMA, F16C, BMI2, no AVX-512.
const BASELINE_CPU: &str = "Haswell";

fn qemu() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("qemu-x86_64"))
            .find(|path| path.is_file())
    })
}

/// `rill complete` on `PRIME_PY` (8 tokens), under `wrapper` when given.
fn complete(wrapper: Option<(&PathBuf, &[&str])>, env: &[(&str, &str)]) -> Output {
    let rill = rill_bin();
    let mut command = match wrapper {
        Some((program, arguments)) => {
            let mut command = Command::new(program);
            command.args(arguments).arg(&rill);
            command
        }
        None => Command::new(&rill),
    };
    command
        .args(["complete", "--stdin", "--max-tokens", "8", "--threads", "2"])
        .envs(env.iter().copied());
    run_with_stdin(command, PRIME_PY)
}

#[test]
fn the_binary_completes_the_same_on_a_baseline_cpu() {
    let Some(qemu) = qemu() else {
        assert!(
            std::env::var("RILL_REQUIRE_QEMU").as_deref() != Ok("1"),
            "qemu-x86_64 is not installed (Debian: apt-get install qemu-user)"
        );
        eprintln!("skipped: qemu-x86_64 is not installed (Debian: apt-get install qemu-user)");
        return;
    };
    // candle's repacked kernels and rill's own pick AVX-512 here and AVX2 on the baseline CPU: hold
    // both at AVX2 on both sides so the same kernels run and the outputs must be equal.
    let same_path = [("MISTRALRS_FORCE_AVX2", "1"), ("RILL_KERNELS", "avx2")];
    let here = complete(None, &same_path);
    assert!(
        here.status.success(),
        "{}",
        String::from_utf8_lossy(&here.stderr)
    );
    let emulated = complete(Some((&qemu, &["-cpu", BASELINE_CPU])), &same_path);
    let stderr = String::from_utf8_lossy(&emulated.stderr);
    assert!(
        emulated.status.success() && !stderr.contains("Illegal instruction"),
        "on a {BASELINE_CPU} CPU: {} {stderr}",
        emulated.status
    );
    let (here, emulated) = (
        String::from_utf8_lossy(&here.stdout),
        String::from_utf8_lossy(&emulated.stdout),
    );
    assert!(!here.trim().is_empty());
    assert_eq!(emulated, here, "the completion differs on the baseline CPU");

    // The emulated CPU gets the AVX2 paths of rill's own kernels too.
    let version = Command::new(&qemu)
        .args(["-cpu", BASELINE_CPU])
        .arg(rill_bin())
        .arg("--version")
        .output()
        .expect("rill --version under qemu");
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains("kernels: avx2 (detected avx2;"),
        "{version}"
    );
    assert!(
        !version.contains("avx512"),
        "built beyond the baseline: {version}"
    );
}
