//! Bad input to the model crate gives typed, actionable errors and never panics.

mod common;

use std::io::Write;
use std::path::PathBuf;

use common::{default_model_path, model};
use rill_model::{LoadOptions, Model, ModelError, Which};

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("rill-test-{}-{name}", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
    path
}

fn prefix_of_model(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut bytes = vec![0; len];
    std::fs::File::open(default_model_path())
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes
}

#[test]
fn missing_file_names_the_fetch_command() {
    let err = Model::load(
        std::path::Path::new("/nonexistent/rill.gguf"),
        LoadOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ModelError::ModelMissing { .. }), "{err}");
    assert!(err.to_string().contains("fetch-model"), "{err}");
}

#[test]
fn garbage_is_not_gguf() {
    let path = temp_file("garbage.gguf", b"this is certainly not a gguf file at all");
    let err = Model::load(&path, LoadOptions::default()).unwrap_err();
    assert!(matches!(err, ModelError::CorruptFile { .. }), "{err}");
    assert!(err.to_string().contains("garbage.gguf"), "{err}");
}

#[test]
fn truncated_header_and_truncated_tensors_are_reported() {
    for (len, expected) in [(1 << 20, "header"), (20 << 20, "truncated")] {
        let path = temp_file(&format!("cut-{len}.gguf"), &prefix_of_model(len));
        let err = Model::load(&path, LoadOptions::default()).unwrap_err();
        assert!(matches!(err, ModelError::CorruptFile { .. }), "{err}");
        assert!(err.to_string().contains(expected), "{len}: {err}");
        std::fs::remove_file(path).ok();
    }
}

#[test]
fn other_architectures_are_rejected_with_the_supported_list() {
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::quantized::{GgmlDType, QTensor};
    let tensor = QTensor::quantize(
        &candle_core::Tensor::zeros((32,), candle_core::DType::F32, &candle_core::Device::Cpu)
            .unwrap(),
        GgmlDType::F32,
    )
    .unwrap();
    let path = std::env::temp_dir().join(format!("rill-test-{}-mamba.gguf", std::process::id()));
    let mut file = std::fs::File::create(&path).unwrap();
    let arch = Value::String("mamba".to_string());
    gguf_file::write(
        &mut file,
        &[("general.architecture", &arch)],
        &[("output_norm.weight", &tensor)],
    )
    .unwrap();
    drop(file);
    let err = Model::load(&path, LoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, ModelError::UnsupportedArchitecture { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("gemma3"), "{err}");
}

#[test]
fn forward_rejects_empty_input_unknown_tokens_bad_positions_and_overflow() {
    let model = model();
    let mut cache = model.new_cache();
    assert!(matches!(
        model.forward(&[], &mut cache, Which::Last),
        Err(ModelError::EmptyInput)
    ));
    let vocab = model.config().vocab_size as u32;
    assert!(matches!(
        model.forward(&[2, vocab], &mut cache, Which::Last),
        Err(ModelError::UnknownToken { id, .. }) if id == vocab
    ));
    assert!(matches!(
        model.forward(&[2, 100], &mut cache, Which::Positions(&[2])),
        Err(ModelError::BadLogitPosition {
            position: 2,
            len: 2
        })
    ));
    // None of the failed passes may have grown the cache.
    assert_eq!(cache.len(), 0);
    let logits = model
        .forward(&[2, 100], &mut cache, Which::Positions(&[1, 0]))
        .unwrap();
    assert_eq!(logits.dims(), &[2, model.config().vocab_size]);
    assert_eq!(cache.len(), 2);
    let too_many = vec![100u32; model.config().context_length];
    assert!(matches!(
        model.forward(&too_many, &mut cache, Which::Last),
        Err(ModelError::ContextOverflow { .. })
    ));
    assert_eq!(cache.len(), 2);
}
