//! Reading `tokenizer.ggml.*` values out of GGUF metadata, with errors that name the key at fault.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;

use crate::error::ModelError;
use crate::error::Result;

/// The GGUF metadata of one file, as candle parses it.
pub type Metadata = HashMap<String, Value>;

/// The metadata keys shared by every vocabulary type.
pub const KEY_MODEL: &str = "tokenizer.ggml.model";
pub const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
pub const KEY_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
pub const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
pub const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
pub const KEY_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";

pub fn required<'a>(metadata: &'a Metadata, key: &str) -> Result<&'a Value> {
    metadata.get(key).ok_or_else(|| bad(key, "missing"))
}

pub fn array<'a>(metadata: &'a Metadata, key: &str) -> Result<&'a [Value]> {
    required(metadata, key)?
        .to_vec()
        .map(Vec::as_slice)
        .map_err(|_| bad(key, "not an array"))
}

/// An array of strings, such as the token list or the merge list.
pub fn string_array<'a>(metadata: &'a Metadata, key: &str) -> Result<Vec<&'a str>> {
    array(metadata, key)?
        .iter()
        .map(|v| v.to_string().map(String::as_str))
        .collect::<std::result::Result<Vec<&str>, _>>()
        .map_err(|_| bad(key, "not an array of strings"))
}

/// The token list, which must be non-empty and small enough for `u32` ids.
pub fn tokens(metadata: &Metadata) -> Result<Vec<&str>> {
    let tokens = string_array(metadata, KEY_TOKENS)?;
    let n = tokens.len();
    if n == 0 || u32::try_from(n).is_err() {
        return Err(bad(
            KEY_TOKENS,
            &format!("vocabulary size {n} is out of range"),
        ));
    }
    Ok(tokens)
}

/// The raw GGUF token type codes, one per token.
pub fn token_type_codes(metadata: &Metadata, vocab_size: usize) -> Result<Vec<i64>> {
    let codes = array(metadata, KEY_TOKEN_TYPE)?
        .iter()
        .map(integer)
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| bad(KEY_TOKEN_TYPE, "not an array of integers"))?;
    if codes.len() != vocab_size {
        return Err(bad(
            KEY_TOKEN_TYPE,
            &format!("{} entries for {vocab_size} tokens", codes.len()),
        ));
    }
    Ok(codes)
}

pub fn optional_bool(metadata: &Metadata, key: &str) -> Result<Option<bool>> {
    metadata
        .get(key)
        .map(|v| v.to_bool().map_err(|_| bad(key, "not a boolean")))
        .transpose()
}

pub fn optional_string<'a>(metadata: &'a Metadata, key: &str) -> Result<Option<&'a str>> {
    metadata
        .get(key)
        .map(|v| {
            v.to_string()
                .map(String::as_str)
                .map_err(|_| bad(key, "not a string"))
        })
        .transpose()
}

/// Reads a token id, which GGUF writers store as any integer type.
pub fn token_id(metadata: &Metadata, key: &str, vocab_size: usize) -> Result<u32> {
    checked_token_id(required(metadata, key)?, key, vocab_size)
}

/// Reads a token id that may be absent.
pub fn optional_token_id(metadata: &Metadata, key: &str, vocab_size: usize) -> Result<Option<u32>> {
    metadata
        .get(key)
        .map(|value| checked_token_id(value, key, vocab_size))
        .transpose()
}

fn checked_token_id(value: &Value, key: &str, vocab_size: usize) -> Result<u32> {
    let value = integer(value).ok_or_else(|| bad(key, "not an integer"))?;
    if value < 0 || value as u64 >= vocab_size as u64 {
        return Err(bad(
            key,
            &format!("token id {value} is outside the vocabulary (size {vocab_size})"),
        ));
    }
    Ok(value as u32)
}

pub fn integer(value: &Value) -> Option<i64> {
    match *value {
        Value::U8(v) => Some(v.into()),
        Value::I8(v) => Some(v.into()),
        Value::U16(v) => Some(v.into()),
        Value::I16(v) => Some(v.into()),
        Value::U32(v) => Some(v.into()),
        Value::I32(v) => Some(v.into()),
        Value::U64(v) => i64::try_from(v).ok(),
        Value::I64(v) => Some(v),
        _ => None,
    }
}

pub fn bad(key: &str, reason: &str) -> ModelError {
    ModelError::BadMetadata {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

pub fn hf_error(err: tokenizers::Error) -> ModelError {
    ModelError::Tokenizer(err.to_string())
}
