//! SentencePiece vocabularies with and without `tokenizer.ggml.add_space_prefix` (Llama 2 and CodeLlama add it, Gemma 3 does not): token ids, document offsets and round trips equal llama.cpp's on tiny GGUF files written here.

mod common;

use candle_core::quantized::gguf_file::Value;
use common::bpe_gguf::{content_of, scratch_dir, to_gguf_bytes};
use rill_model::tokenizer::Tokenizer;

/// Normal pieces of the test vocabulary, besides the single characters of [`TEXTS`]: code words
/// with and without the space marker, so that a missing or extra space changes the ids.
const PIECES: &[&str] = &[
    "\u{2581}",
    "\u{2581}\u{2581}",
    "\u{2581}\u{2581}\u{2581}\u{2581}",
    "\u{2581}def",
    "def",
    "\u{2581}return",
    "return",
    "re",
    "turn",
    "\u{2581}x",
    "\u{2581}f",
    "\u{2581}if",
    "\u{2581}fn",
    "fn",
    "in",
    "\u{2581}in",
    "\u{2581}main",
    "main",
    "():",
    "()",
    "\u{2581}=",
    "\u{2581}1",
    "\u{2581}é",
    "é",
    "日本",
    "\u{2581}日本",
    "語",
    "\u{2581}<",
    "EOT",
];

/// Tokens that are not normal pieces: `(text, GGUF token type)`.
const SPECIALS: &[(&str, i32)] = &[
    ("<unk>", 2),
    ("<s>", 3),
    ("</s>", 3),
    ("<EOT>", 3),
    ("<PRE>", 3),
    ("\n\n", 4),
    ("<br>", 4),
];

/// Texts compared with llama.cpp.
const TEXTS: &[&str] = &[
    "",
    " ",
    "  ",
    "\n",
    "x",
    "def f():\n    return x\n",
    " def f():\n    return x\n",
    "    return x = 1  \n",
    "def main():\n\n    if x in f():\n        return 1\n\n\n",
    "fn main() {\n\tx = 1;\n}\n   ",
    "\n\ndef f(): return 1",
    "a<br>b <br> c<br><br>",
    "日本語 é é\u{2581}x ▁def 🦀\n",
    "<EOT>x<PRE> def f()<EOT>\n\n<s>return</s>",
    "<s> def<EOT><EOT> x\n<PRE>",
    "<unk>x <EOT",
];

/// The metadata of a SentencePiece vocabulary; `add_space_prefix` `None` leaves the key out.
fn metadata(add_space_prefix: Option<bool>) -> Vec<(String, Value)> {
    let mut tokens: Vec<String> = Vec::new();
    let mut types: Vec<i32> = Vec::new();
    for (text, kind) in SPECIALS {
        tokens.push((*text).to_owned());
        types.push(*kind);
    }
    for byte in 0..=255u8 {
        tokens.push(format!("<0x{byte:02X}>"));
        types.push(6);
    }
    let mut pieces: Vec<String> = PIECES.iter().map(|p| (*p).to_owned()).collect();
    for text in TEXTS {
        for c in text.chars() {
            let piece = if c == ' ' {
                "\u{2581}".to_owned()
            } else {
                c.to_string()
            };
            // Leave some characters to byte fallback, as real vocabularies do for rare ones.
            if !pieces.contains(&piece) && !matches!(c, '\n' | '\t' | '🦀' | '語') {
                pieces.push(piece);
            }
        }
    }
    for piece in pieces {
        if !tokens.contains(&piece) {
            tokens.push(piece);
            types.push(1);
        }
    }
    // Longer pieces score higher, so merges prefer them, as in real SentencePiece models.
    let scores = tokens
        .iter()
        .enumerate()
        .map(|(id, text)| {
            let normal = types[id] == 1;
            Value::F32(if normal {
                text.chars().count() as f32 - id as f32 * 1e-3
            } else {
                0.0
            })
        })
        .collect();
    let id = |text: &str| Value::U32(tokens.iter().position(|t| t == text).unwrap() as u32);
    let key = |name: &str| format!("tokenizer.ggml.{name}");
    let mut entries = vec![
        (
            "general.architecture".to_owned(),
            Value::String("llama".into()),
        ),
        (
            "general.name".to_owned(),
            Value::String("rill test vocabulary".into()),
        ),
        (key("model"), Value::String("llama".into())),
        (key("unknown_token_id"), id("<unk>")),
        (key("bos_token_id"), id("<s>")),
        (key("eos_token_id"), id("</s>")),
        (key("add_bos_token"), Value::Bool(true)),
        (key("scores"), Value::Array(scores)),
        (
            key("token_type"),
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        (
            key("tokens"),
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
    ];
    if let Some(add) = add_space_prefix {
        entries.push((key("add_space_prefix"), Value::Bool(add)));
    }
    entries
}

fn tokenizer(add_space_prefix: Option<bool>) -> Tokenizer {
    Tokenizer::from_gguf(&content_of(&metadata(add_space_prefix))).expect("build the tokenizer")
}

/// Our ids, offsets and round trips equal llama.cpp's for one setting of the flag.
fn compare_with_llama_cpp(add_space_prefix: Option<bool>, name: &str) {
    let Some(python) = common::llama_cpp::python() else {
        return;
    };
    let dir = scratch_dir(name);
    let model = dir.join("vocab.gguf");
    std::fs::write(&model, to_gguf_bytes(&metadata(add_space_prefix))).unwrap();
    let texts = dir.join("texts.json");
    std::fs::write(&texts, serde_json::to_string(TEXTS).unwrap()).unwrap();
    let report = common::llama_cpp::run_script(
        &python,
        "bpe_tokenize.py",
        &[model.to_str().unwrap(), texts.to_str().unwrap()],
    );
    std::fs::remove_dir_all(&dir).ok();

    let ours = tokenizer(add_space_prefix);
    assert_eq!(ours.adds_space_prefix(), add_space_prefix != Some(false));
    let ids_of = |value: &serde_json::Value| -> Vec<u32> {
        serde_json::from_value(value.clone()).expect("a list of ids")
    };
    for (text, case) in TEXTS.iter().zip(report["cases"].as_array().unwrap()) {
        let ids = ours.encode(text).unwrap();
        assert_eq!(ids, ids_of(&case["ids"]), "encode({text:?})");
        assert_eq!(
            ours.encode_with_control(text).unwrap(),
            ids_of(&case["ids_special"]),
            "encode_with_control({text:?})"
        );
        assert_eq!(
            ours.encode_with_bos(text).unwrap(),
            ids_of(&case["ids_bos"]),
            "encode_with_bos({text:?})"
        );
        let detok = hex_bytes(case["detok"].as_str().unwrap());
        assert_eq!(
            ours.decode_text(&ids).unwrap().as_bytes(),
            detok.as_slice(),
            "decode_text(encode({text:?}))"
        );
        // Document lengths add up to the text, and each token's text is its slice of the
        // document, apart from the synthetic space. (A literal `▁` in the document is read as a
        // space by SentencePiece, with or without the prefix, so such text has no byte-exact
        // offsets; it is only compared for ids.)
        if text.contains('\u{2581}') {
            continue;
        }
        let lengths = ours.document_lengths(&ids).unwrap();
        assert_eq!(lengths.iter().sum::<usize>(), text.len(), "{text:?}");
        let mut at = 0;
        for (&id, &length) in ids.iter().zip(&lengths) {
            let bytes = ours.token_bytes(id).unwrap();
            assert_eq!(
                &bytes[bytes.len() - length..],
                &text.as_bytes()[at..at + length],
                "{text:?}"
            );
            at += length;
        }
    }
    // `token_bytes` stays the raw text of every token, as llama.cpp's pieces.
    for (id, piece) in report["pieces"].as_array().unwrap().iter().enumerate() {
        if !ours.is_control(id as u32) {
            assert_eq!(
                ours.token_bytes(id as u32).unwrap(),
                hex_bytes(piece.as_str().unwrap()).as_slice(),
                "token {id}"
            );
        }
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn space_prefix_true_matches_llama_cpp() {
    compare_with_llama_cpp(Some(true), "true");
}

#[test]
fn space_prefix_missing_matches_llama_cpp() {
    compare_with_llama_cpp(None, "missing");
}

#[test]
fn space_prefix_false_matches_llama_cpp() {
    compare_with_llama_cpp(Some(false), "false");
}

/// Without llama.cpp: the prefix is exactly one space in front of each piece of text, and
/// `decode_text` removes it again for text without user-defined tokens.
#[test]
fn prefix_is_one_space_per_piece_and_round_trips() {
    let spaced = tokenizer(Some(true));
    let plain = tokenizer(Some(false));
    for text in ["def f():\n    return x\n", "  x", "日本語 é", "x"] {
        let ids = spaced.encode(text).unwrap();
        assert_eq!(ids, plain.encode(&format!(" {text}")).unwrap(), "{text:?}");
        assert_eq!(spaced.decode(&ids).unwrap(), format!(" {text}"));
        assert_eq!(spaced.decode_text(&ids).unwrap(), text);
        assert_eq!(
            plain.decode_text(&plain.encode(text).unwrap()).unwrap(),
            text
        );
        let lengths = spaced.document_lengths(&ids).unwrap();
        assert_eq!(lengths.iter().sum::<usize>(), text.len());
        assert_eq!(
            plain
                .document_lengths(&plain.encode(text).unwrap())
                .unwrap(),
            plain
                .encode(text)
                .unwrap()
                .iter()
                .map(|&id| plain.token_bytes(id).unwrap().len())
                .collect::<Vec<_>>()
        );
    }
    // After a user-defined token, the next piece of text gets its own space.
    let ids = spaced.encode("x\n\nx").unwrap();
    assert_eq!(spaced.decode(&ids).unwrap(), " x\n\n x");
    assert_eq!(
        spaced.document_lengths(&ids).unwrap().iter().sum::<usize>(),
        4
    );
    assert!(spaced.encode("").unwrap().is_empty());
}
