//! Attention kernels over f16 keys and values: the dot product of an f32 query with an f16 key, and the f16-weighted accumulation of values.
//!
//! The KV cache stores f16 (as llama.cpp does by default): it halves the memory of every cached
//! document and the memory traffic of attention over long contexts. The conversion is fused into the
//! arithmetic (F16C converts eight halves per instruction) so that no f32 copy of the cache is made.

use half::f16;

/// The kernels the running CPU supports, picked once per attention call.
#[derive(Clone, Copy)]
pub struct KvKernels {
    simd: bool,
}

impl KvKernels {
    pub fn detect() -> Self {
        Self {
            simd: crate::kernels::level() >= crate::kernels::Level::Avx2,
        }
    }

    /// Whether the AVX2/FMA/F16C path runs (else the scalar one).
    pub fn uses_simd(self) -> bool {
        self.simd
    }

    /// `Σ query[i] · key[i]`.
    #[inline]
    pub fn dot(self, query: &[f32], key: &[f16]) -> f32 {
        debug_assert_eq!(query.len(), key.len());
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: the CPU supports AVX2, FMA and F16C (checked in `detect`).
            return unsafe { simd::dot(query, key) };
        }
        let mut acc = [0.0f32; 8];
        for (i, (q, k)) in query.iter().zip(key).enumerate() {
            acc[i % 8] = q.mul_add(k.to_f32(), acc[i % 8]);
        }
        acc.iter().sum()
    }

    /// `out[i] += weight · values[i]`.
    #[inline]
    pub fn axpy(self, weight: f32, values: &[f16], out: &mut [f32]) {
        debug_assert_eq!(values.len(), out.len());
        #[cfg(target_arch = "x86_64")]
        if self.simd {
            // SAFETY: as in `dot`.
            return unsafe { simd::axpy(weight, values, out) };
        }
        for (o, v) in out.iter_mut().zip(values) {
            *o = v.to_f32().mul_add(weight, *o);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::*;

    use half::f16;

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot(query: &[f32], key: &[f16]) -> f32 {
        let n = query.len().min(key.len());
        let full = n - n % 8;
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= n, within both slices.
            let (q, k) = unsafe {
                (
                    _mm256_loadu_ps(query.as_ptr().add(i)),
                    _mm256_cvtph_ps(_mm_loadu_si128(key.as_ptr().add(i).cast())),
                )
            };
            acc = _mm256_fmadd_ps(q, k, acc);
            i += 8;
        }
        let mut lanes = [0.0f32; 8];
        // SAFETY: `lanes` holds exactly eight floats.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut sum = lanes.iter().sum::<f32>();
        for j in full..n {
            sum = query[j].mul_add(key[j].to_f32(), sum);
        }
        sum
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn axpy(weight: f32, values: &[f16], out: &mut [f32]) {
        let n = values.len().min(out.len());
        let full = n - n % 8;
        let w = _mm256_set1_ps(weight);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= n, within both slices.
            unsafe {
                let v = _mm256_cvtph_ps(_mm_loadu_si128(values.as_ptr().add(i).cast()));
                let o = _mm256_loadu_ps(out.as_ptr().add(i));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_fmadd_ps(v, w, o));
            }
            i += 8;
        }
        for j in full..n {
            out[j] = values[j].to_f32().mul_add(weight, out[j]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(values: &[f32]) -> Vec<f16> {
        values.iter().map(|&v| f16::from_f32(v)).collect()
    }

    #[test]
    fn simd_and_scalar_kernels_agree_with_a_naive_sum() {
        let query: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let key = halves(&(0..37).map(|i| (i as f32 * 0.11).cos()).collect::<Vec<_>>());
        let naive: f32 = query.iter().zip(&key).map(|(q, k)| q * k.to_f32()).sum();
        for kernels in [KvKernels::detect(), KvKernels { simd: false }] {
            assert!((kernels.dot(&query, &key) - naive).abs() < 1e-4);
            let mut out = vec![1.0f32; 37];
            kernels.axpy(0.5, &key, &mut out);
            for (o, k) in out.iter().zip(&key) {
                assert!((o - (1.0 + 0.5 * k.to_f32())).abs() < 1e-6);
            }
        }
    }
}
