//! Attention kernels over blocks of cached keys and values (already converted from the f16 cache to f32): query·key dot products for a few heads and keys at once, and the weighted accumulation of values.
//!
//! The kernels work on small register tiles (up to four query rows against several keys, or four
//! rows of output against one value at a time) so that every key or value loaded from memory is
//! used by every head of its group. Each (row, key) dot product and each output element is
//! nevertheless computed with exactly the same sequence of float operations whatever the tile
//! shape, so a query gives the same bits whether it runs alone (decoding) or in a tile of many
//! (prefill): prefix reuse and speculative decoding rely on that.
//!
//! The dot product's summation order depends on the kernel level (eight lanes for scalar and
//! AVX2, sixteen for AVX-512), which is fixed once per process by [`crate::kernels::level`].

use crate::kernels::{self, Level};

/// How many rows (query heads) one kernel call handles at most.
pub const MAX_ROWS: usize = 4;

/// The attention kernels of the level this process runs at.
#[derive(Clone, Copy, Debug)]
pub struct KvKernels {
    level: Level,
}

impl KvKernels {
    pub fn detect() -> Self {
        Self::at(kernels::level())
    }

    /// The kernels of a given level (tests compare levels; the level must be supported).
    pub fn at(level: Level) -> Self {
        debug_assert!(level <= Level::detected());
        Self { level }
    }

    /// The instruction set the attention kernels use, for `rill --version`.
    pub fn describe(self) -> &'static str {
        match self.level {
            Level::Scalar => "scalar",
            Level::Avx2 => "avx2+fma (8 lanes)",
            Level::Avx512Vnni | Level::AmxInt8 => "avx512f (16 lanes)",
        }
    }

    /// `scores[r * score_stride + j] = Σ_i queries[r * head_dim + i] · keys[j * head_dim + i]`
    /// for `r < rows` (at most [`MAX_ROWS`]) and `j < keys`.
    // Plain slices and strides keep the hot loop free of wrapper types.
    #[allow(clippy::too_many_arguments)]
    pub fn dots(
        self,
        queries: &[f32],
        rows: usize,
        keys: &[f32],
        count: usize,
        head_dim: usize,
        scores: &mut [f32],
        score_stride: usize,
    ) {
        assert!(rows <= MAX_ROWS && queries.len() >= rows * head_dim);
        assert!(keys.len() >= count * head_dim);
        if rows == 0 || count == 0 {
            return;
        }
        assert!(scores.len() > (rows - 1) * score_stride + count - 1);
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the level is at most the detected one, so the CPU has AVX-512 F/BW/VL; the
            // bounds were checked above.
            Level::Avx512Vnni | Level::AmxInt8 => unsafe {
                let args = (queries, keys, head_dim, scores, score_stride);
                dispatch_rows!(rows, |R| simd::dots512::<R>(args, count))
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, with AVX2 + FMA.
            Level::Avx2 => unsafe {
                let args = (queries, keys, head_dim, scores, score_stride);
                dispatch_rows!(rows, |R| simd::dots256::<R>(args, count))
            },
            _ => {
                for r in 0..rows {
                    let query = &queries[r * head_dim..][..head_dim];
                    for j in 0..count {
                        scores[r * score_stride + j] =
                            scalar_dot(query, &keys[j * head_dim..][..head_dim]);
                    }
                }
            }
        }
    }

    /// `out[r * head_dim + i] = values[j * head_dim + i] · weights[r * weight_stride + j] +
    /// out[r * head_dim + i]` (one fused multiply-add) for `j = 0, 1, …, count - 1` in that order,
    /// for `r < rows` (at most [`MAX_ROWS`]).
    #[allow(clippy::too_many_arguments)]
    pub fn accumulate(
        self,
        weights: &[f32],
        weight_stride: usize,
        rows: usize,
        values: &[f32],
        count: usize,
        head_dim: usize,
        out: &mut [f32],
    ) {
        assert!(rows <= MAX_ROWS && out.len() >= rows * head_dim);
        assert!(values.len() >= count * head_dim);
        if rows == 0 || count == 0 {
            return;
        }
        assert!(weights.len() > (rows - 1) * weight_stride + count - 1);
        match self.level {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the CPU has AVX-512 F (the level is at most the detected one); bounds checked.
            Level::Avx512Vnni | Level::AmxInt8 => unsafe {
                let args = (weights, weight_stride, values, head_dim, out);
                dispatch_rows!(rows, |R| simd::accumulate512::<R>(args, count))
            },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, with AVX2 + FMA.
            Level::Avx2 => unsafe {
                let args = (weights, weight_stride, values, head_dim, out);
                dispatch_rows!(rows, |R| simd::accumulate256::<R>(args, count))
            },
            _ => {
                for r in 0..rows {
                    let out = &mut out[r * head_dim..][..head_dim];
                    for j in 0..count {
                        let weight = weights[r * weight_stride + j];
                        for (o, v) in out.iter_mut().zip(&values[j * head_dim..][..head_dim]) {
                            *o = v.mul_add(weight, *o);
                        }
                    }
                }
            }
        }
    }
}

/// Calls a kernel generic over its row count with the runtime `rows` (1 to 4).
#[cfg(target_arch = "x86_64")]
macro_rules! dispatch_rows {
    ($rows:expr, |R| $($call:tt)*) => {
        match $rows {
            1 => { const R: usize = 1; $($call)* }
            2 => { const R: usize = 2; $($call)* }
            3 => { const R: usize = 3; $($call)* }
            _ => { const R: usize = 4; $($call)* }
        }
    };
}
#[cfg(target_arch = "x86_64")]
use dispatch_rows;

/// The scalar dot product: eight interleaved accumulators (so that LLVM vectorizes it), summed in
/// order.
fn scalar_dot(query: &[f32], key: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (i, (q, k)) in query.iter().zip(key).enumerate() {
        acc[i % 8] = q.mul_add(*k, acc[i % 8]);
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
mod simd {
    //! The register-tiled kernels. A dot product accumulates lane `l` of the vector width over
    //! the elements `i ≡ l`, reduces the lanes with one fixed tree ([`hsum256`]), then adds the
    //! elements past the last full vector one by one; an output element is a plain chain of fused
    //! multiply-adds over the keys. Tiles only decide how many of these run side by side.

    use std::arch::x86_64::*;

    /// (queries, keys, head_dim, scores, score_stride) of [`super::KvKernels::dots`].
    pub type DotArgs<'a> = (&'a [f32], &'a [f32], usize, &'a mut [f32], usize);
    /// (weights, weight_stride, values, head_dim, out) of [`super::KvKernels::accumulate`].
    pub type AccumulateArgs<'a> = (&'a [f32], usize, &'a [f32], usize, &'a mut [f32]);

    /// Keys per AVX-512 dot tile: 4 rows × 4 keys = 16 accumulators of the 32 registers.
    const KEYS_512: usize = 4;
    /// Keys per AVX2 dot tile: 4 rows × 2 keys = 8 accumulators of the 16 registers.
    const KEYS_256: usize = 2;

    /// The lane sum of eight floats: halves, then quarters, then the last pair.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    fn hsum256(v: __m256) -> f32 {
        let quad = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair)))
    }

    /// The lane sum of sixteen floats: the two halves added, then [`hsum256`].
    #[inline]
    #[target_feature(enable = "avx512f,avx2,fma")]
    fn hsum512(v: __m512) -> f32 {
        let high = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
        hsum256(_mm256_add_ps(_mm512_castps512_ps256(v), high))
    }

    macro_rules! dots_kernel {
        ($name:ident, $features:literal, $vec:ty, $lanes:expr, $keys:expr, $zero:ident, $load:ident,
         $fmadd:ident, $hsum:ident) => {
            /// # Safety
            /// The CPU must have the enabled features; the slices must be as checked by the caller.
            #[target_feature(enable = $features)]
            pub unsafe fn $name<const R: usize>(
                (queries, keys, head_dim, scores, score_stride): DotArgs<'_>,
                count: usize,
            ) {
                /// Dot products of `R` rows with `K` keys.
                ///
                /// # Safety
                /// `q` holds `R` rows and `k` holds `K` keys of `head_dim` floats.
                #[inline]
                #[target_feature(enable = $features)]
                unsafe fn tile<const R: usize, const K: usize>(
                    q: *const f32,
                    k: *const f32,
                    head_dim: usize,
                ) -> [[f32; K]; R] {
                    let full = head_dim - head_dim % $lanes;
                    let mut acc = [[$zero(); K]; R];
                    let mut i = 0;
                    while i < full {
                        let mut kv = [$zero(); K];
                        for (s, kv) in kv.iter_mut().enumerate() {
                            // SAFETY: key s < K, element i + lanes <= head_dim.
                            *kv = unsafe { $load(k.add(s * head_dim + i)) };
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: row r < R, element i + lanes <= head_dim.
                            let qv = unsafe { $load(q.add(r * head_dim + i)) };
                            for s in 0..K {
                                acc[s] = $fmadd(qv, kv[s], acc[s]);
                            }
                        }
                        i += $lanes;
                    }
                    let mut sums = [[0.0; K]; R];
                    for r in 0..R {
                        for s in 0..K {
                            let mut sum = $hsum(acc[r][s]);
                            for e in full..head_dim {
                                // SAFETY: e < head_dim within row r and key s.
                                let (qe, ke) =
                                    unsafe { (*q.add(r * head_dim + e), *k.add(s * head_dim + e)) };
                                sum = qe.mul_add(ke, sum);
                            }
                            sums[r][s] = sum;
                        }
                    }
                    sums
                }

                let q = queries.as_ptr();
                let mut j = 0;
                // Full tiles of keys, then the remaining keys one by one with the same math.
                while j + $keys <= count {
                    // SAFETY: rows R and keys j..j + K are within the slices (checked by the caller).
                    let sums = unsafe {
                        tile::<R, { $keys }>(q, keys.as_ptr().add(j * head_dim), head_dim)
                    };
                    for (r, sums) in sums.iter().enumerate() {
                        scores[r * score_stride + j..][..$keys].copy_from_slice(sums);
                    }
                    j += $keys;
                }
                while j < count {
                    // SAFETY: as above, for key j.
                    let sums =
                        unsafe { tile::<R, 1>(q, keys.as_ptr().add(j * head_dim), head_dim) };
                    for (r, sums) in sums.iter().enumerate() {
                        scores[r * score_stride + j] = sums[0];
                    }
                    j += 1;
                }
            }
        };
    }

    dots_kernel!(
        dots512,
        "avx512f,avx512bw,avx512vl,avx2,fma",
        __m512,
        16,
        KEYS_512,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_fmadd_ps,
        hsum512
    );
    dots_kernel!(
        dots256,
        "avx2,fma",
        __m256,
        8,
        KEYS_256,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_fmadd_ps,
        hsum256
    );

    macro_rules! accumulate_kernel {
        ($name:ident, $features:literal, $vec:ty, $lanes:expr, $width:expr, $zero:ident,
         $load:ident, $store:ident, $set1:ident, $fmadd:ident) => {
            /// # Safety
            /// The CPU must have the enabled features; the slices must be as checked by the caller.
            #[target_feature(enable = $features)]
            pub unsafe fn $name<const R: usize>(
                (weights, weight_stride, values, head_dim, out): AccumulateArgs<'_>,
                count: usize,
            ) {
                /// `W` vectors of `R` output rows from element `i` on, over all `count` values.
                ///
                /// # Safety
                /// Rows `R` of `o` and values `count` of `v` hold elements `i..i + W · lanes`;
                /// `w` holds `count` weights of each row at `weight_stride`.
                #[inline]
                #[target_feature(enable = $features)]
                unsafe fn tile<const R: usize, const W: usize>(
                    o: *mut f32,
                    v: *const f32,
                    w: *const f32,
                    (i, head_dim, weight_stride, count): (usize, usize, usize, usize),
                ) {
                    let mut acc = [[$zero(); W]; R];
                    for (r, acc) in acc.iter_mut().enumerate() {
                        for (c, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: row r, elements within the head (see above).
                            *acc = unsafe { $load(o.add(r * head_dim + i + c * $lanes)) };
                        }
                    }
                    for j in 0..count {
                        let mut vv = [$zero(); W];
                        for (c, vv) in vv.iter_mut().enumerate() {
                            // SAFETY: value j < count, elements within the head.
                            *vv = unsafe { $load(v.add(j * head_dim + i + c * $lanes)) };
                        }
                        for (r, acc) in acc.iter_mut().enumerate() {
                            // SAFETY: weight (r, j) is within the weights.
                            let weight = $set1(unsafe { *w.add(r * weight_stride + j) });
                            for c in 0..W {
                                acc[c] = $fmadd(vv[c], weight, acc[c]);
                            }
                        }
                    }
                    for (r, acc) in acc.iter().enumerate() {
                        for (c, &acc) in acc.iter().enumerate() {
                            // SAFETY: as for the loads.
                            unsafe { $store(o.add(r * head_dim + i + c * $lanes), acc) };
                        }
                    }
                }

                let full = head_dim - head_dim % $lanes;
                let (o, v, w) = (out.as_mut_ptr(), values.as_ptr(), weights.as_ptr());
                let shape = |i| (i, head_dim, weight_stride, count);
                let mut i = 0;
                while i + $width * $lanes <= full {
                    // SAFETY: the caller checked rows, values and weights; i + W · lanes <= head_dim.
                    unsafe { tile::<R, { $width }>(o, v, w, shape(i)) };
                    i += $width * $lanes;
                }
                while i < full {
                    // SAFETY: as above, one vector.
                    unsafe { tile::<R, 1>(o, v, w, shape(i)) };
                    i += $lanes;
                }
                for r in 0..R {
                    for e in full..head_dim {
                        let mut sum = out[r * head_dim + e];
                        for j in 0..count {
                            sum = values[j * head_dim + e]
                                .mul_add(weights[r * weight_stride + j], sum);
                        }
                        out[r * head_dim + e] = sum;
                    }
                }
            }
        };
    }

    accumulate_kernel!(
        accumulate512,
        "avx512f,avx512bw,avx512vl,avx2,fma",
        __m512,
        16,
        4,
        _mm512_setzero_ps,
        _mm512_loadu_ps,
        _mm512_storeu_ps,
        _mm512_set1_ps,
        _mm512_fmadd_ps
    );
    accumulate_kernel!(
        accumulate256,
        "avx2,fma",
        __m256,
        8,
        2,
        _mm256_setzero_ps,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_set1_ps,
        _mm256_fmadd_ps
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels() -> Vec<Level> {
        [Level::Scalar, Level::Avx2, Level::Avx512Vnni]
            .into_iter()
            .filter(|&level| level <= Level::detected())
            .collect()
    }

    fn data(len: usize, seed: f32) -> Vec<f32> {
        (0..len).map(|i| (i as f32 * seed).sin()).collect()
    }

    #[test]
    fn every_tile_shape_gives_the_bits_of_one_row_and_one_key() {
        // 37 elements: full vectors and a tail on every level.
        for head_dim in [37, 64, 256] {
            let queries = data(4 * head_dim, 0.37);
            let keys = data(11 * head_dim, 0.11);
            for level in levels() {
                let kernels = KvKernels::at(level);
                let mut single = [0.0; 4 * 11];
                for r in 0..4 {
                    for j in 0..11 {
                        kernels.dots(
                            &queries[r * head_dim..],
                            1,
                            &keys[j * head_dim..],
                            1,
                            head_dim,
                            &mut single[r * 11 + j..],
                            11,
                        );
                    }
                }
                for rows in 1..=4 {
                    let mut tiled = vec![0.0; 4 * 11];
                    kernels.dots(&queries, rows, &keys, 11, head_dim, &mut tiled, 11);
                    assert_eq!(tiled[..rows * 11], single[..rows * 11], "{level:?} {rows}");
                }
                let naive: f32 = (0..head_dim).map(|i| queries[i] * keys[i]).sum();
                assert!((single[0] - naive).abs() < 1e-4, "{level:?}");

                let weights = data(4 * 11, 0.7);
                let mut one_by_one = data(4 * head_dim, 0.3);
                let start = one_by_one.clone();
                for r in 0..4 {
                    for j in 0..11 {
                        kernels.accumulate(
                            &weights[r * 11 + j..],
                            11,
                            1,
                            &values_row(&keys, j, head_dim),
                            1,
                            head_dim,
                            &mut one_by_one[r * head_dim..],
                        );
                    }
                }
                for rows in 1..=4 {
                    let mut tiled = start.clone();
                    kernels.accumulate(&weights, 11, rows, &keys, 11, head_dim, &mut tiled);
                    assert_eq!(
                        tiled[..rows * head_dim],
                        one_by_one[..rows * head_dim],
                        "{level:?} {rows}"
                    );
                }
            }
        }
    }

    fn values_row(values: &[f32], j: usize, head_dim: usize) -> Vec<f32> {
        values[j * head_dim..][..head_dim].to_vec()
    }
}
