//! `rill --version` names the kernel paths this machine gets (runtime-chosen ones and the build's instruction sets), for bug reports about speed or illegal instructions.

use std::process::Command;

#[test]
fn the_long_version_names_the_kernel_paths() {
    let output = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("--version")
        .output()
        .expect("rill runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("rill "), "{text}");
    let kernels = text
        .lines()
        .find(|line| line.starts_with("kernels: "))
        .unwrap_or_else(|| panic!("no kernels line in {text:?}"));
    for part in ["quantized matmul ", "KV attention ", "candle built for "] {
        assert!(kernels.contains(part), "{kernels}");
    }
    let matmul = kernels
        .split("quantized matmul ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default();
    assert!(
        ["avx2+fma", "scalar"].contains(&matmul),
        "an unknown path: {matmul:?}"
    );
    // The short form stays one line, as scripts expect.
    let short = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("-V")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&short.stdout).lines().count(), 1);
}
