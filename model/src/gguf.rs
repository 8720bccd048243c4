//! GGUF file access: opening a model file, validating it up front, and typed metadata lookups with actionable errors.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::QTensor;

use crate::error::{ModelError, Result};

mod blocks;

/// An opened GGUF file whose header has been parsed and whose tensor table has been checked
/// against the file size, so later tensor reads cannot fail half-way because of truncation.
pub struct GgufFile {
    path: PathBuf,
    reader: BufReader<File>,
    content: Content,
}

impl GgufFile {
    /// Opens and validates `path`. A missing file, a file that is not GGUF, and a truncated file
    /// each give a distinct error naming the file.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModelError::ModelMissing {
                    path: path.to_path_buf(),
                }
            } else {
                ModelError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })?;
        let file_len = file
            .metadata()
            .map_err(|source| ModelError::Io {
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let corrupt = |reason: String| ModelError::CorruptFile {
            path: path.to_path_buf(),
            reason,
        };
        if file_len < 8 {
            return Err(corrupt(format!("the file has only {file_len} bytes")));
        }
        let mut reader = BufReader::new(file);
        // A corrupt header can make the parser ask for absurd allocations and panic; such a file
        // must produce an error for that file, not take the whole server down.
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Content::read(&mut reader)));
        let content = match parsed {
            Ok(Ok(content)) => content,
            Ok(Err(err)) => return Err(corrupt(format!("cannot parse the header: {err}"))),
            Err(_) => return Err(corrupt("the header is malformed".to_string())),
        };
        let needed = required_len(&content).map_err(corrupt)?;
        if needed > file_len {
            return Err(corrupt(format!(
                "the file is truncated: its tensors need {needed} bytes but it has {file_len}"
            )));
        }
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            content,
        })
    }

    /// The path this file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parsed header: metadata and the tensor table.
    pub fn content(&self) -> &Content {
        &self.content
    }

    /// Frees the vocabulary's metadata arrays (token texts, scores, types, merges): tens of
    /// megabytes for a 262k-token vocabulary that only the tokenizer reads. The weights are read
    /// after this, so they do not count on top of it in the load's peak memory.
    pub fn drop_vocabulary_tables(&mut self) {
        self.content.metadata.retain(|key, value| {
            !(key.starts_with("tokenizer.ggml.")
                && matches!(value, candle_core::quantized::gguf_file::Value::Array(_)))
        });
    }

    /// Reads one tensor into memory, straight into the block vector the tensor keeps: candle's own
    /// reader reads the bytes and then copies them, which for the 178 MB embedding table of the
    /// default model made the load peak twice the table's size.
    pub fn tensor(&mut self, name: &str) -> Result<QTensor> {
        let bad_tensor = |reason: String| ModelError::BadTensor {
            name: name.to_string(),
            reason,
        };
        let Some(info) = self.content.tensor_infos.get(name) else {
            return Err(bad_tensor(format!(
                "not present in {}",
                self.path.display()
            )));
        };
        let (dtype, dims) = (info.ggml_dtype, info.shape.dims().to_vec());
        let elements = info.shape.elem_count();
        if !elements.is_multiple_of(dtype.block_size()) {
            return Err(bad_tensor(format!(
                "{elements} elements are not a whole number of {dtype:?} blocks"
            )));
        }
        let bytes = elements / dtype.block_size() * dtype.type_size();
        let start = self.content.tensor_data_offset.saturating_add(info.offset);
        self.reader
            .seek(SeekFrom::Start(start))
            .map_err(|err| bad_tensor(err.to_string()))?;
        let storage = blocks::read(dtype, bytes, &mut self.reader)
            .map_err(|err| bad_tensor(format!("cannot read its {bytes} bytes: {err}")))?;
        QTensor::new(storage, dims).map_err(|err| bad_tensor(err.to_string()))
    }

    /// The architecture named by `general.architecture`.
    pub fn architecture(&self) -> Result<String> {
        Ok(self.string("general.architecture")?.to_string())
    }

    fn value(&self, key: &str) -> Result<&Value> {
        self.content
            .metadata
            .get(key)
            .ok_or_else(|| ModelError::BadMetadata {
                key: key.to_string(),
                reason: "missing".to_string(),
            })
    }

    /// Whether a metadata key is present.
    pub fn has(&self, key: &str) -> bool {
        self.content.metadata.contains_key(key)
    }

    /// A string-valued metadata entry.
    pub fn string(&self, key: &str) -> Result<&str> {
        self.value(key)?
            .to_string()
            .map(String::as_str)
            .map_err(|err| bad(key, err))
    }

    /// An integer-valued metadata entry of any integer width.
    pub fn usize(&self, key: &str) -> Result<usize> {
        let value = self.value(key)?;
        let as_u64 = match value {
            Value::U8(v) => Some(u64::from(*v)),
            Value::U16(v) => Some(u64::from(*v)),
            Value::U32(v) => Some(u64::from(*v)),
            Value::U64(v) => Some(*v),
            Value::I8(v) => u64::try_from(*v).ok(),
            Value::I16(v) => u64::try_from(*v).ok(),
            Value::I32(v) => u64::try_from(*v).ok(),
            Value::I64(v) => u64::try_from(*v).ok(),
            _ => None,
        };
        as_u64
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| ModelError::BadMetadata {
                key: key.to_string(),
                reason: format!("expected a non-negative integer, found {value:?}"),
            })
    }

    /// A float-valued metadata entry.
    pub fn f32(&self, key: &str) -> Result<f32> {
        match self.value(key)? {
            Value::F32(v) => Ok(*v),
            Value::F64(v) => Ok(*v as f32),
            other => Err(ModelError::BadMetadata {
                key: key.to_string(),
                reason: format!("expected a float, found {other:?}"),
            }),
        }
    }
}

fn bad(key: &str, err: candle_core::Error) -> ModelError {
    ModelError::BadMetadata {
        key: key.to_string(),
        reason: err.to_string(),
    }
}

/// The number of bytes a file needs to hold every tensor its header announces.
fn required_len(content: &Content) -> std::result::Result<u64, String> {
    let mut end = content.tensor_data_offset;
    for (name, info) in &content.tensor_infos {
        let elements = info.shape.elem_count() as u64;
        let block = info.ggml_dtype.block_size() as u64;
        if !elements.is_multiple_of(block) {
            return Err(format!(
                "tensor `{name}` has {elements} elements, not a multiple of its block size {block}"
            ));
        }
        let bytes = elements / block * info.ggml_dtype.type_size() as u64;
        let tensor_end = content
            .tensor_data_offset
            .checked_add(info.offset)
            .and_then(|start| start.checked_add(bytes))
            .ok_or_else(|| format!("tensor `{name}` has an impossible offset"))?;
        end = end.max(tensor_end);
    }
    Ok(end)
}
