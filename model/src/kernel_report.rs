//! The kernel paths in words, for `rill --version` and bug reports: the level `kernels` chose and what each kernel family does at it (kept apart from `kernels` so that the kernels can ask for the level without a module cycle).

use crate::kernels::{compiled_features, level, Level, CAP_VARIABLE};

/// The kernel paths in words, for `rill --version` and bug reports.
pub fn describe() -> String {
    let matmul = crate::q8_matmul::describe();
    let attention = crate::kv_kernels::KvKernels::detect().describe();
    let activations = match level() {
        Level::Scalar => "scalar",
        Level::Avx2 => "avx2+fma",
        Level::Avx512Vnni | Level::AmxInt8 => "avx512f",
    };
    format!(
        "kernels: {} (detected {}; Q8_0 matmul {matmul}, KV attention {attention}, activations {activations}; chosen at start, cap with {CAP_VARIABLE}); \
         candle built for {}",
        level().name(),
        Level::detected().name(),
        compiled_features().join(" ")
    )
}
