//! Lossless Q5_0 → Q8_0 repacking of quantized weights, so that they hit candle's SIMD kernels.
//!
//! candle has only a scalar dot-product loop for Q5_0 but a SIMD one for Q8_0. A Q5_0 value is
//! `d * (q - 16)` with `q` in 0..32, so keeping the block scale `d` and storing `q - 16` as an i8
//! gives a Q8_0 block with exactly the same values: the conversion loses nothing and the
//! matrix products become about twice as fast, for 1.5× the bytes of those tensors.

use std::borrow::Cow;

use candle_core::quantized::{GgmlDType, QStorage, QTensor};
use candle_core::Device;

use crate::error::{ModelError, Result};

const BLOCK: usize = 32;
const Q5_0_BYTES: usize = 22;
const Q8_0_BYTES: usize = 34;

/// Repacks a Q5_0 tensor as an equal-valued Q8_0 tensor; other types are returned unchanged.
pub fn q5_0_to_q8_0(tensor: QTensor, name: &str) -> Result<QTensor> {
    if tensor.dtype() != GgmlDType::Q5_0 {
        return Ok(tensor);
    }
    let shape = tensor.shape().clone();
    let source = tensor.data()?;
    if source.len() % Q5_0_BYTES != 0 {
        return Err(ModelError::BadTensor {
            name: name.to_string(),
            reason: format!(
                "{} bytes is not a whole number of Q5_0 blocks",
                source.len()
            ),
        });
    }
    let blocks = source.len() / Q5_0_BYTES;
    let mut packed = vec![0u8; blocks * Q8_0_BYTES];
    for (src, dst) in source
        .chunks_exact(Q5_0_BYTES)
        .zip(packed.chunks_exact_mut(Q8_0_BYTES))
    {
        // Layout of a Q5_0 block: f16 scale, 32 high bits, then 16 bytes of low nibbles where
        // byte j holds element j (low nibble) and element j + 16 (high nibble).
        dst[..2].copy_from_slice(&src[..2]);
        let high_bits = u32::from_le_bytes([src[2], src[3], src[4], src[5]]);
        let nibbles = &src[6..22];
        for j in 0..BLOCK / 2 {
            let low = nibbles[j] & 0x0f | (((high_bits >> j) & 1) as u8) << 4;
            let high = nibbles[j] >> 4 | (((high_bits >> (j + 16)) & 1) as u8) << 4;
            dst[2 + j] = (low as i8 - 16) as u8;
            dst[2 + j + 16] = (high as i8 - 16) as u8;
        }
    }
    drop(source);
    let storage = QStorage::from_data(Cow::Owned(packed), &Device::Cpu, GgmlDType::Q8_0)?;
    Ok(QTensor::new(storage, shape)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Tensor;

    #[test]
    fn q5_0_repacking_is_lossless() {
        let values: Vec<f32> = (0..4 * 64)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let source = Tensor::from_vec(values, (4, 64), &Device::Cpu).unwrap();
        let q5 = QTensor::quantize(&source, GgmlDType::Q5_0).unwrap();
        let expected = q5.dequantize(&Device::Cpu).unwrap();
        let q8 = q5_0_to_q8_0(q5, "test").unwrap();
        assert_eq!(q8.dtype(), GgmlDType::Q8_0);
        let actual = q8.dequantize(&Device::Cpu).unwrap();
        let diff = (expected - actual)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert_eq!(diff.to_scalar::<f32>().unwrap(), 0.0);
    }
}
