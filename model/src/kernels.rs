//! Which instruction sets the model's kernels use on this machine: rill's own kernels choose once at start (runtime detection, with a scalar fallback); candle's were fixed when the binary was built (`.cargo/config.toml`).

/// The kernel paths in words, for `rill --version` and bug reports.
pub fn describe() -> String {
    let matmul = if crate::q8_matmul::kernel_available() {
        "avx2+fma"
    } else {
        "scalar"
    };
    let attention = if crate::kv_kernels::KvKernels::detect().uses_simd() {
        "avx2+fma+f16c"
    } else {
        "scalar"
    };
    format!(
        "kernels: quantized matmul {matmul}, KV attention {attention} (chosen at start); \
         candle built for {}",
        compiled_features().join(" ")
    )
}

/// The x86 instruction sets the build enabled, which candle's `cfg(target_feature)` kernels use
/// and every machine running the binary must have.
pub fn compiled_features() -> Vec<&'static str> {
    let mut features = Vec::new();
    macro_rules! note {
        ($($feature:literal),*) => {
            $(if cfg!(target_feature = $feature) {
                features.push($feature);
            })*
        };
    }
    note!(
        "sse4.2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "bmi2",
        "avx512f",
        "avx512bw",
        "avx512vnni",
        "avxvnni"
    );
    if features.is_empty() {
        features.push("baseline x86-64");
    }
    features
}
