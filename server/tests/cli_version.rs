//! `rill --version` names the kernel paths this machine gets (runtime-chosen ones and the build's instruction sets), for bug reports about speed or illegal instructions.

use std::process::Command;

fn kernels_line(cap: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rill"));
    command.arg("--version").env_remove("RILL_KERNELS");
    if let Some(cap) = cap {
        command.env("RILL_KERNELS", cap);
    }
    let output = command.output().expect("rill runs");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(text.starts_with("rill "), "{text}");
    text.lines()
        .find(|line| line.starts_with("kernels: "))
        .unwrap_or_else(|| panic!("no kernels line in {text:?}"))
        .to_string()
}

/// The level a kernels line names first.
fn level(line: &str) -> &str {
    line["kernels: ".len()..]
        .split(' ')
        .next()
        .unwrap_or_default()
}

#[test]
fn the_long_version_names_the_kernel_paths() {
    let kernels = kernels_line(None);
    for part in [
        "Q8_0 matmul ",
        "KV attention ",
        "activations ",
        "candle built for ",
    ] {
        assert!(kernels.contains(part), "{kernels}");
    }
    assert!(
        ["scalar", "avx2", "avx512-vnni", "amx-int8"].contains(&level(&kernels)),
        "an unknown level: {kernels}"
    );
    // The short form stays one line, as scripts expect.
    let short = Command::new(env!("CARGO_BIN_EXE_rill"))
        .arg("-V")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&short.stdout).lines().count(), 1);
}

#[test]
fn rill_kernels_caps_the_level_and_an_unknown_value_changes_nothing() {
    let scalar = kernels_line(Some("scalar"));
    assert_eq!(level(&scalar), "scalar", "{scalar}");
    assert!(scalar.contains("Q8_0 matmul candle"), "{scalar}");
    let detected = kernels_line(None);
    assert_eq!(
        level(&kernels_line(Some("fastest-please"))),
        level(&detected),
        "{detected}"
    );
}
