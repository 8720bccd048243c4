//! Q8_0 weights times Q8_0-quantized activations on rill's own kernels (AVX2, AVX-512 VNNI).
//!
//! candle multiplies Q8_0 weights one (row, column) dot product at a time, converting both f16
//! block scales for every pair; on this model that loop took more than half of prompt processing.
//! These kernels quantize the activations once per input (shared by every matrix that reads the
//! same input: q, k and v; gate and up) and compute register tiles, so every loaded block serves
//! several dot products.
//!
//! Every output element goes through the same sequence of operations as candle's single dot
//! product, whatever the number of rows, the tiling and the kernel level, so one token decoded
//! alone gives bit-identical results to the same token inside a prompt pass. The engine's prefix
//! reuse and speculative decoding rely on that.

use std::cell::OnceCell;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};

use crate::kernels::Level;
use quantize::QuantizedRows;

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx2;
mod quantize;
#[cfg(target_arch = "x86_64")]
mod vnni;

const BLOCK: usize = 32;
const Q8_0_BYTES: usize = 34;

/// How a single row (a decoding step) is multiplied: candle's row-at-a-time loop or this module's
/// tiles. Both compute every element the same way (the bit-identity tests hold on either), but
/// which streams the weights faster depends on the CPU: candle's loop on the AMD EPYC these kernels
/// were first measured on, the tiles by about a third on an Intel Xeon with AVX-512 VNNI. So the
/// model measures both once when it loads ([`Q8Matrix::tune_single_row`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleRow {
    Candle,
    Tiles,
}

/// Forces the single-row path (`candle` or `tiles`) instead of measuring, e.g. to compare them.
pub const SINGLE_ROW_VARIABLE: &str = "RILL_SINGLE_ROW";

/// The path chosen for this process; candle's until a model has been measured.
static SINGLE_ROW: OnceLock<SingleRow> = OnceLock::new();

fn single_row() -> SingleRow {
    SINGLE_ROW.get().copied().unwrap_or(SingleRow::Candle)
}

/// The path [`SINGLE_ROW_VARIABLE`] forces, if any.
fn forced_single_row() -> Option<SingleRow> {
    match std::env::var(SINGLE_ROW_VARIABLE).ok()?.trim() {
        "candle" => Some(SingleRow::Candle),
        "tiles" => Some(SingleRow::Tiles),
        _ => None,
    }
}

/// Input rows `[rows, cols]` that one or more matrices multiply. Matrices that read the same
/// input (q, k and v; gate and up) share one of these, so the Q8_0 quantization of the
/// activations happens once, on first use by a Q8_0 matrix.
pub struct MatmulInput<'a> {
    values: &'a [f32],
    rows: usize,
    quantized: OnceCell<QuantizedRows>,
}

impl<'a> MatmulInput<'a> {
    /// `values` is `[rows, cols]`, row-major.
    pub fn new(values: &'a [f32], rows: usize) -> Self {
        Self {
            values,
            rows,
            quantized: OnceCell::new(),
        }
    }

    /// The rows as f32.
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    fn quantized(&self) -> &QuantizedRows {
        self.quantized.get_or_init(|| {
            QuantizedRows::new(self.values, self.rows, self.values.len() / self.rows)
        })
    }
}

/// A Q8_0 matrix of `rows` output features by `cols` inputs. The kernels read the blocks where
/// candle keeps them (2-byte f16 scale, then 32 quants), so no second copy of the weights exists.
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    tensor: Arc<QTensor>,
    /// candle's product over the same bytes, used for single rows (decoding): its row-at-a-time
    /// loop streams the weights faster than a one-row tile, and it computes each element
    /// exactly as the tiles of every level do.
    single_row: QMatMul,
}

impl Q8Matrix {
    /// Wraps a Q8_0 tensor when this machine can run a kernel and the shape fits it.
    pub fn from_qtensor(tensor: Arc<QTensor>) -> Option<Self> {
        if tensor.dtype() != GgmlDType::Q8_0 || !kernel_available() {
            return None;
        }
        let (rows, cols) = tensor.shape().dims2().ok()?;
        if !cols.is_multiple_of(BLOCK) || !rows.is_multiple_of(2) {
            return None;
        }
        if tensor.data().ok()?.len() != rows * cols / BLOCK * Q8_0_BYTES {
            return None;
        }
        let single_row = QMatMul::from_arc(tensor.clone()).ok()?;
        Some(Self {
            rows,
            cols,
            tensor,
            single_row,
        })
    }

    /// `matmul_into` on the kernels of `level` (at most the detected level): tests run every level.
    #[cfg(test)]
    fn matmul_at(&self, input: &MatmulInput, level: Level) -> candle_core::Result<Vec<f32>> {
        self.matmul_with(input, level, single_row())
    }

    /// `input [m, cols] · selfᵀ` written over `result` (resized to a flat `[m, rows]`), so that a
    /// caller multiplying again and again reuses one allocation (scoring: 64 rows of a 262k
    /// vocabulary are 67 MB).
    pub fn matmul_into(
        &self,
        input: &MatmulInput,
        result: &mut Vec<f32>,
    ) -> candle_core::Result<()> {
        self.matmul_with_into(input, crate::kernels::level(), single_row(), result)
    }

    /// The product on AMX tiles, written over `result`.
    #[cfg(target_arch = "x86_64")]
    fn amx_into(&self, input: &MatmulInput, result: &mut Vec<f32>) -> candle_core::Result<()> {
        let packed = amx::PackedActivations::new(input.quantized(), input.rows);
        self.fill(input.rows, result, amx::TILE, |weights, tiles, out| {
            // SAFETY: only called at `Level::AmxInt8`, which `kernels` grants after checking the
            // CPU and obtaining the kernel's permission; the tiles lie inside the matrix (its rows
            // are a multiple of 16), `packed` holds the input rows, and `fill` hands each tile
            // range to one worker with room for every row.
            unsafe { amx::columns(weights, &packed, tiles, out) }
        })
    }

    /// Measures which single-row path is faster on this machine with this matrix (the output
    /// head, the largest one, is what decoding spends its time on) and keeps it for the process;
    /// the first call decides, later ones return that choice. About 100 ms for Gemma 3's head.
    pub fn tune_single_row(&self) -> SingleRow {
        *SINGLE_ROW.get_or_init(|| {
            if let Some(forced) = forced_single_row() {
                return forced;
            }
            if crate::kernels::level() >= Level::AmxInt8 {
                // Single rows run on the AMX tiles like every product: nothing to choose.
                return SingleRow::Tiles;
            }
            let values: Vec<f32> = (0..self.cols)
                .map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0)
                .collect();
            let level = crate::kernels::level();
            let fastest = |path: SingleRow| {
                // One warm-up (page faults, the pool's threads waking), then the best of two.
                (0..3)
                    .map(|_| {
                        let input = MatmulInput::new(&values, 1);
                        let started = Instant::now();
                        let ok = self.matmul_with(&input, level, path).is_ok();
                        if ok {
                            started.elapsed()
                        } else {
                            Duration::MAX
                        }
                    })
                    .skip(1)
                    .min()
                    .unwrap_or(Duration::MAX)
            };
            let (candle, tiles) = (fastest(SingleRow::Candle), fastest(SingleRow::Tiles));
            let chosen = if tiles < candle {
                SingleRow::Tiles
            } else {
                SingleRow::Candle
            };
            tracing::debug!(
                "single rows: candle's loop {candle:?}, tiles {tiles:?} on a {}×{} matrix: {chosen:?}",
                self.rows,
                self.cols
            );
            chosen
        })
    }

    /// `matmul` on the kernels of `level`, single rows on `single_row`'s path.
    fn matmul_with(
        &self,
        input: &MatmulInput,
        level: Level,
        single_row: SingleRow,
    ) -> candle_core::Result<Vec<f32>> {
        let mut result = Vec::new();
        self.matmul_with_into(input, level, single_row, &mut result)?;
        Ok(result)
    }

    /// `matmul_with` written over `result`.
    ///
    /// At `Level::AmxInt8` every product runs on AMX tiles, a single row too: their arithmetic
    /// differs from the other levels' in the last bits (see `amx`), so one process must not mix
    /// them, or a token decoded alone would not match the same token inside a prompt pass.
    fn matmul_with_into(
        &self,
        input: &MatmulInput,
        level: Level,
        single_row: SingleRow,
        result: &mut Vec<f32>,
    ) -> candle_core::Result<()> {
        let m = input.rows;
        debug_assert_eq!(input.values.len(), m * self.cols);
        debug_assert!(level <= Level::detected());
        #[cfg(target_arch = "x86_64")]
        if level >= Level::AmxInt8 && self.rows.is_multiple_of(amx::TILE) {
            return self.amx_into(input, result);
        }
        if m == 1 && single_row == SingleRow::Candle {
            let input = Tensor::from_slice(input.values, (1, self.cols), &Device::Cpu)?;
            *result = self
                .single_row
                .forward(&input)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            return Ok(());
        }
        self.tiles_into(input, level, result)
    }

    /// `input [m, cols] · selfᵀ` on the tiles of `level` (several rows, or a single row on the
    /// tiles path), written over `result` (resized to `[m, rows]`, its allocation reused).
    fn tiles_into(
        &self,
        input: &MatmulInput,
        level: Level,
        result: &mut Vec<f32>,
    ) -> candle_core::Result<()> {
        let (m, activations) = (input.rows, input.quantized());
        self.fill(m, result, 2, |weights, pairs, out| {
            let columns = pairs.start * 2..pairs.end * 2;
            // SAFETY: a kernel is only selected when `level` says its instruction sets exist
            // (`kernel_available` for AVX2), `columns` lies inside the matrix, `activations`
            // holds `m` rows, and `fill` hands each column range to one worker with room for
            // every row.
            #[cfg(target_arch = "x86_64")]
            unsafe {
                if level >= Level::Avx512Vnni {
                    vnni::columns(weights, activations, m, columns, out)
                } else {
                    avx2::columns(weights, activations, m, columns, out)
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = (weights, activations, m, out, level);
                unreachable!("no kernel on this architecture: {columns:?}");
            }
        })
    }

    /// Resizes `result` to `[m, rows]` and has the pool's workers fill it: `work` gets the weights,
    /// a range of groups of `group` weight rows (each range goes to exactly one worker, so the
    /// writes are disjoint) and the result to write.
    fn fill(
        &self,
        m: usize,
        result: &mut Vec<f32>,
        group: usize,
        work: impl Fn(&WeightBlocks, std::ops::Range<usize>, &Out) + Sync,
    ) -> candle_core::Result<()> {
        let data = self.tensor.data()?;
        let weights = WeightBlocks {
            bytes: &data,
            blocks_per_row: self.cols / BLOCK,
        };
        // Every element is written by exactly one worker, so old contents need no clearing.
        result.resize(m * self.rows, 0.0);
        let out = Out {
            at: result.as_mut_ptr(),
            stride: self.rows,
        };
        candle_core::utils::barrier_pool()
            .execute_chunked(self.rows / group, |groups| work(&weights, groups, &out));
        Ok(())
    }
}

/// The raw Q8_0 blocks of a weight matrix.
// Only the x86 kernels read it; other architectures never build a `Q8Matrix` (`kernel_available`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct WeightBlocks<'a> {
    bytes: &'a [u8],
    blocks_per_row: usize,
}

/// The `[m, rows]` result that the pool's workers fill, each its own columns.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Out {
    at: *mut f32,
    stride: usize,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Out {
    /// The element at (`row`, `column`).
    ///
    /// # Safety
    /// The element must lie inside the result, and no other worker may write it.
    #[inline]
    unsafe fn at(&self, row: usize, column: usize) -> *mut f32 {
        // SAFETY: forwarded from the caller.
        unsafe { self.at.add(row * self.stride + column) }
    }
}

// SAFETY: workers write disjoint elements (see `Q8Matrix::matmul`).
unsafe impl Sync for Out {}

/// Whether rill's Q8_0 kernels run here at all (below AVX2, candle's kernels do the work).
pub(crate) fn kernel_available() -> bool {
    cfg!(target_arch = "x86_64") && crate::kernels::level() >= Level::Avx2
}

/// The matmul path in words, for `kernel_report::describe`.
pub(crate) fn describe() -> &'static str {
    if crate::kernels::level() >= Level::AmxInt8 {
        return "amx-int8 tiles for every row count";
    }
    if !kernel_available() {
        return "candle's";
    }
    let vnni = crate::kernels::level() >= Level::Avx512Vnni;
    match (SINGLE_ROW.get().copied().or_else(forced_single_row), vnni) {
        (Some(SingleRow::Tiles), true) => "avx512-vnni tiles for several rows and for one",
        (Some(SingleRow::Tiles), false) => "avx2 tiles for several rows and for one",
        (Some(SingleRow::Candle), true) => "avx512-vnni tiles for several rows, candle's avx2 for one",
        (Some(SingleRow::Candle), false) => "avx2 tiles for several rows, candle's avx2 for one",
        (None, true) => {
            "avx512-vnni tiles for several rows; for one, the faster of them and candle's avx2 (measured at load)"
        }
        (None, false) => {
            "avx2 tiles for several rows; for one, the faster of them and candle's avx2 (measured at load)"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use candle_core::quantized::QStorage;

    use super::*;

    fn random(len: usize, seed: u32) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    /// The kernel levels this machine can run, AVX2 and up.
    fn levels() -> Vec<Level> {
        [Level::Avx2, Level::Avx512Vnni]
            .into_iter()
            .filter(|&level| level <= Level::detected())
            .collect()
    }

    fn candle_product(q: &Arc<QTensor>, input: &[f32], m: usize, k: usize) -> Vec<f32> {
        QMatMul::from_arc(q.clone())
            .unwrap()
            .forward(&Tensor::from_vec(input.to_vec(), (m, k), &Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    }

    /// Checks every level against candle, bit for bit, for several row counts, and each row
    /// alone, on both single-row paths, against the same row inside the batch.
    fn check(q: Arc<QTensor>, n: usize, k: usize) {
        let Some(matrix) = Q8Matrix::from_qtensor(q.clone()) else {
            return; // No AVX2 here: candle's path is used instead, nothing to compare.
        };
        for m in [1, 2, 3, 4, 5, 9] {
            let input = random(m * k, 2 + m as u32);
            let reference = candle_product(&q, &input, m, k);
            for level in levels() {
                let ours = matrix
                    .matmul_at(&MatmulInput::new(&input, m), level)
                    .unwrap();
                assert_eq!(ours, reference, "{level:?} differs from candle at m = {m}");
                for row in 0..m {
                    let alone = &input[row * k..(row + 1) * k];
                    // Alone, on either single-row path: what `tune_single_row` picks changes
                    // speed, never a bit of the result.
                    for path in [SingleRow::Candle, SingleRow::Tiles] {
                        let single = matrix
                            .matmul_with(&MatmulInput::new(alone, 1), level, path)
                            .unwrap();
                        assert_eq!(
                            single,
                            ours[row * n..(row + 1) * n],
                            "{level:?}: row {row} of {m} differs when alone ({path:?})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_level_matches_candle_and_is_independent_of_row_count() {
        // 66 weight rows: the VNNI kernel's 4-row groups leave a 2-row tail.
        let (n, k) = (66, 640);
        let weights = Tensor::from_vec(random(n * k, 1), (n, k), &Device::Cpu).unwrap();
        check(
            Arc::new(QTensor::quantize(&weights, GgmlDType::Q8_0).unwrap()),
            n,
            k,
        );
    }

    #[test]
    fn extreme_weight_bytes_match_candle() {
        // Raw blocks with every byte value, -128 included (which quantizing never produces but
        // a file may hold): |w| = 128 and the unsigned-offset trick must still be exact.
        let (n, k) = (8, 256);
        let mut bytes = Vec::new();
        let scales = random(n * k / BLOCK, 9);
        for (block, scale) in scales.iter().enumerate() {
            bytes.extend(half::f16::from_f32(scale * 0.01).to_le_bytes());
            bytes.extend((0..BLOCK).map(|i| (block * 37 + i * 11) as u8));
        }
        let storage =
            QStorage::from_data(Cow::Owned(bytes), &Device::Cpu, GgmlDType::Q8_0).unwrap();
        check(Arc::new(QTensor::new(storage, (n, k)).unwrap()), n, k);
    }

    /// At `Level::AmxInt8` every element is exactly the reference arithmetic (one fused
    /// multiply-add per block), whatever the number of rows (one row takes its own kernel), and
    /// within rounding of the VNNI tiles.
    #[test]
    fn amx_products_follow_their_reference_whatever_the_row_count() {
        if Level::detected() < Level::AmxInt8 {
            return; // No AMX here.
        }
        // 48 weight rows: three AMX tiles, split between the pool's workers.
        let (n, k) = (48, 640);
        let weights = Tensor::from_vec(random(n * k, 3), (n, k), &Device::Cpu).unwrap();
        let q = Arc::new(QTensor::quantize(&weights, GgmlDType::Q8_0).unwrap());
        let matrix = Q8Matrix::from_qtensor(q).expect("AMX implies the AVX2 kernels");
        let data = matrix.tensor.data().unwrap();
        let blocks = WeightBlocks {
            bytes: &data,
            blocks_per_row: k / BLOCK,
        };
        for m in [1, 3, 16, 17, 40] {
            let input = random(m * k, 20 + m as u32);
            let batch = MatmulInput::new(&input, m);
            let ours = matrix.matmul_at(&batch, Level::AmxInt8).unwrap();
            let tiles = matrix.matmul_at(&batch, Level::Avx512Vnni).unwrap();
            for row in 0..m {
                for column in 0..n {
                    let got = ours[row * n + column];
                    let exact = amx::reference(&blocks, batch.quantized(), row, column);
                    assert_eq!(got.to_bits(), exact.to_bits(), "({row}, {column}) of {m}");
                    let near = tiles[row * n + column];
                    assert!(
                        (got - near).abs() <= 1e-4 * near.abs().max(1.0),
                        "{got} vs {near}"
                    );
                }
                let alone = MatmulInput::new(&input[row * k..(row + 1) * k], 1);
                let single = matrix.matmul_at(&alone, Level::AmxInt8).unwrap();
                assert_eq!(
                    single,
                    ours[row * n..(row + 1) * n],
                    "row {row} of {m} alone"
                );
            }
        }
    }
}
