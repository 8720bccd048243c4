//! Reads a tensor's bytes from a GGUF file directly into the typed block vector candle keeps, so loading never holds two copies of a tensor.

use std::io::Read;

use candle_core::quantized::k_quants::{
    BlockQ2K, BlockQ3K, BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K,
    BlockQ8K, BlockQ8_0, BlockQ8_1, GgmlType,
};
use candle_core::quantized::{GgmlDType, QStorage};
use half::{bf16, f16};

/// `bytes` bytes of `dtype` blocks from `reader`'s current position, as CPU storage.
pub(super) fn read(
    dtype: GgmlDType,
    bytes: usize,
    reader: &mut impl Read,
) -> std::io::Result<QStorage> {
    macro_rules! typed {
        ($($variant:ident => $block:ty),* $(,)?) => {
            match dtype {
                $(GgmlDType::$variant => QStorage::Cpu(Box::new(read_blocks::<$block>(bytes, reader)?)),)*
            }
        };
    }
    Ok(typed!(
        F32 => f32,
        F16 => f16,
        BF16 => bf16,
        Q4_0 => BlockQ4_0,
        Q4_1 => BlockQ4_1,
        Q5_0 => BlockQ5_0,
        Q5_1 => BlockQ5_1,
        Q8_0 => BlockQ8_0,
        Q8_1 => BlockQ8_1,
        Q2K => BlockQ2K,
        Q3K => BlockQ3K,
        Q4K => BlockQ4K,
        Q5K => BlockQ5K,
        Q6K => BlockQ6K,
        Q8K => BlockQ8K,
    ))
}

fn read_blocks<T: GgmlType>(bytes: usize, reader: &mut impl Read) -> std::io::Result<Vec<T>> {
    let size = std::mem::size_of::<T>();
    if size == 0 || !bytes.is_multiple_of(size) {
        return Err(std::io::Error::other(format!(
            "{bytes} bytes are not a whole number of {size}-byte blocks"
        )));
    }
    let count = bytes / size;
    let mut blocks: Vec<T> = Vec::with_capacity(count);
    // SAFETY: the block types are plain old data (f16/f32 scales and byte arrays, `repr(C)` as
    // GGUF lays them out), so every bit pattern is a valid value. The capacity is zeroed before it
    // is handed to `read_exact` as bytes, and the length is set only once all of it was read.
    unsafe {
        let spare = blocks.as_mut_ptr().cast::<u8>();
        std::ptr::write_bytes(spare, 0, bytes);
        reader.read_exact(std::slice::from_raw_parts_mut(spare, bytes))?;
        blocks.set_len(count);
    }
    Ok(blocks)
}
