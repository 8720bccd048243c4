//! Which instruction sets the model's kernels use on this machine: rill's own kernels choose once at start (runtime detection, capped by `RILL_KERNELS`, with a scalar fallback); candle's were fixed when the binary was built (`.cargo/config.toml`).

use std::sync::OnceLock;

/// The environment variable that caps the kernel level, so the parity suite can run once per
/// path on one machine: `scalar`, `avx2`, `avx512-vnni` or `amx-int8`. Unknown values are ignored
/// (with a warning), and a cap above what the CPU has changes nothing.
pub const CAP_VARIABLE: &str = "RILL_KERNELS";

/// A kernel path of rill's own kernels, ordered from the most portable to the fastest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Plain Rust, any CPU.
    Scalar,
    /// AVX2 + FMA + F16C (the `x86-64-v3` baseline the binary is built for).
    Avx2,
    /// AVX-512 (F, BW, VL) with VNNI int8 dot products.
    Avx512Vnni,
    /// AVX-512 VNNI, with every Q8_0 product on AMX int8 tiles (`q8_matmul::amx`), whose
    /// results differ from the other levels' in the last bits; the other kernels run as at
    /// [`Level::Avx512Vnni`].
    AmxInt8,
}

impl Level {
    /// The name used by `RILL_KERNELS` and printed by `rill --version`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2",
            Level::Avx512Vnni => "avx512-vnni",
            Level::AmxInt8 => "amx-int8",
        }
    }

    /// Parses a `RILL_KERNELS` value.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "scalar" => Some(Level::Scalar),
            "avx2" => Some(Level::Avx2),
            "avx512-vnni" | "avx512" | "vnni" => Some(Level::Avx512Vnni),
            "amx-int8" | "amx" => Some(Level::AmxInt8),
            _ => None,
        }
    }

    /// The best level this CPU supports.
    pub fn detected() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let avx2 = has!("avx2") && has!("fma") && has!("f16c");
            if avx2 && has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni")
            {
                return if amx_int8_granted() {
                    Level::AmxInt8
                } else {
                    Level::Avx512Vnni
                };
            }
            if avx2 {
                return Level::Avx2;
            }
        }
        Level::Scalar
    }
}

/// Whether this CPU has AMX tiles with int8 products and the kernel lets this process use them.
///
/// `is_x86_feature_detected!("amx-int8")` is not stable, so CPUID leaf 7 is read directly
/// (EDX bit 24: AMX-TILE, bit 25: AMX-INT8). Linux saves the 8 KB of tile data on context
/// switches only for processes that asked (`arch_prctl(ARCH_REQ_XCOMP_PERM)`); without that
/// permission the first tile instruction would kill the process. Asked once; the answer is kept.
#[cfg(target_arch = "x86_64")]
fn amx_int8_granted() -> bool {
    static GRANTED: OnceLock<bool> = OnceLock::new();
    *GRANTED.get_or_init(|| {
        let info = std::arch::x86_64::__cpuid_count(7, 0);
        if info.edx & (1 << 24) == 0 || info.edx & (1 << 25) == 0 {
            return false;
        }
        #[cfg(target_os = "linux")]
        {
            const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
            const XFEATURE_XTILEDATA: libc::c_long = 18;
            // SAFETY: a plain system call with integer arguments; it changes only which register
            // state the kernel saves for this process.
            unsafe {
                libc::syscall(
                    libc::SYS_arch_prctl,
                    ARCH_REQ_XCOMP_PERM,
                    XFEATURE_XTILEDATA,
                ) == 0
            }
        }
        #[cfg(not(target_os = "linux"))]
        false
    })
}

/// The level rill's kernels use in this process: the detected one, capped by `RILL_KERNELS`.
/// Decided once, so that every pass of a process computes with the same arithmetic (prefix reuse
/// and speculative decoding rely on bit-identical results).
pub fn level() -> Level {
    static LEVEL: OnceLock<Level> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let detected = Level::detected();
        match std::env::var(CAP_VARIABLE) {
            Ok(value) => match Level::parse(&value) {
                Some(cap) => detected.min(cap),
                None => {
                    tracing::warn!(
                        "{CAP_VARIABLE}={value:?} is not one of scalar, avx2, avx512-vnni, amx-int8; ignored"
                    );
                    detected
                }
            },
            Err(_) => detected,
        }
    })
}

/// The instruction sets the build enabled (x86 levels, or NEON and its dot-product extensions on
/// arm64), which candle's `cfg(target_feature)` kernels use and every machine running the binary
/// must have.
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
        "avxvnni",
        "neon",
        "dotprod",
        "i8mm"
    );
    if features.is_empty() {
        features.push(if cfg!(target_arch = "x86_64") {
            "baseline x86-64"
        } else {
            std::env::consts::ARCH
        });
    }
    features
}
