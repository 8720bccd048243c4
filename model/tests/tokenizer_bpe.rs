//! Byte-level BPE (`gpt2`) tokenizers built from tiny GGUF files the tests write themselves: token ids equal llama.cpp's for each pre-tokenizer, round trips, special tokens and load errors.

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use candle_core::quantized::gguf_file::Value;
use common::bpe_gguf::{
    self, content_of, scratch_dir, to_byte_level, BpeVocabulary, GgufSpec, CONTROL, NORMAL, UNUSED,
    USER_DEFINED,
};
use rill_model::detokenizer::StreamingDetokenizer;
use rill_model::tokenizer::Tokenizer;
use rill_model::ModelError;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The code the test vocabulary's merges are learned from: indentation, operators, keywords
/// and digit runs, so that the merges look like a real code tokenizer's.
const TRAINING_CORPUS: &[&str] = &[
    "use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<&str, usize> {\n    let mut counts = HashMap::new();\n    for word in words {\n        *counts.entry(*word).or_insert(0) += 1;\n    }\n    counts\n}\n",
    "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\nclass Stack:\n    def __init__(self):\n        self.items = []\n",
    "export function debounce(fn, ms) {\n  let timer = null;\n  return (...args) => {\n    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), ms);\n  };\n}\n",
    "#include <stdio.h>\n\nint main(void) {\n\tfor (int i = 0; i < 10; i++) {\n\t\tprintf(\"%d\\n\", i);\n\t}\n\treturn 0;\n}\n",
    "SELECT id, name FROM users WHERE created_at > '2024-01-01' ORDER BY id LIMIT 100;\n",
    "const PORT = 8080; const TIMEOUT_MS = 30000; let total = 1234567890 + 9876543210;\n",
    "// the quick brown fox jumps over the lazy dog; it's what we're told they've done\n",
    "if err != nil {\n\t\treturn nil, fmt.Errorf(\"read %s: %w\", path, err)\n\t}\n",
    "// 注释\u{3000}中文\u{3000}注释。변수\u{3000}이름 — 日本語のコメント\n",
    "x = 1234567890; y = 42; it's we're they've I'll\r\n\r\n",
];

/// Texts compared with llama.cpp: code in several languages, Unicode (CJK, Hangul, emoji and
/// other astral characters, combining marks, non-ASCII whitespace), whitespace runs, tabs, CRLF,
/// digit runs, contractions, punctuation, and special-token spellings inside documents.
const PARITY_TEXTS: &[&str] = &[
    "",
    " ",
    "\n",
    "hello world",
    " leading space and trailing space ",
    "fn main() {\n    println!(\"Hello, world!\");\n}\n",
    "def f(x):\n\treturn x ** 2  # square\n\n\n",
    "line one\r\nline two\r\n\r\n\tindented\r\n",
    "x = 1234567890; y = 12; z = 123; w = 1_000_000; pi = 3.14159\n",
    "it's what we're told: they've, I'd, you'll, I'm, don't; IT'S WE'RE THEY'VE I'D YOU'LL I'M\n",
    "// 日本語のコメント: 関数を呼び出す\nlet 变量 = \"中文字符串\"; // 한국어 주석\n",
    "astral: 🦀🚀🎉 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐷 and math 𝑥² + 𝑦² = 𝑧²\n",
    "emoji with modifiers: 👍🏽 👨‍👩‍👧 🇫🇷 and combining: é (e\u{301}) ñ (n\u{303})\n",
    "mixed\t \t  spaces\u{a0}and\u{3000}ideographic\u{200b}zero-width\u{2028}sep\u{85}nel\n",
    "                                         forty-one spaces\n\n\n\n\n\n\n\n\n\n\n\n\nthirteen newlines\n",
    "\t\t\ttabs\t\t\tthen\u{b}vertical\u{c}formfeed\n",
    "a+b-c*d/e%f==g!=h<=i>=j&&k||l^m~n?o:p;q,r.s'#t$u@v`w|x\\y\n",
    "fn f<'a>(s: &'a str) -> Result<Vec<u8>, Box<dyn Error>> { Ok(vec![]) }\n",
    "<|endoftext|><|im_start|>user\nhi<|im_end|>\n<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>",
    "<tool_call>{\"name\": \"f\"}</tool_call> and <|fim_pad|> and <|file_sep|><|repo_name|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|end_of_text|>",
    "<｜begin▁of▁sentence｜><｜fim▁begin｜>def f():<｜fim▁hole｜>\n<｜fim▁end｜><｜end▁of▁sentence｜><|EOT|>",
    "<fim_prefix>x<fim_suffix>y<fim_middle><|unused_0|><<|>|>",
    " zebra quux zebra zebras quuxes Zebra ZEBRA\n",
    "Ünïcödé Ελληνικά Кириллица עברית العربية हिन्दी ไทย\n",
    "µ ſ K Å ﬁ Ｆｕｌｌｗｉｄｔｈ！？ １２３ ①②③ ½ Ⅻ\n",
    "«quotes» “curly” ‘single’ — dash … ellipsis、読点。句点\n",
    "SELECT * FROM t WHERE a = 'x''y' AND b IN (1, 2, 3);\n",
    "    \n    \n  \t \n",
    "end with spaces   ",
    "end with newline spaces\n   ",
    "'s 're 've 'm 'll 'd 'S 'RE 'x ' s",
    "0\n00\n000\n0000\n00000\n000000\n0000000\n",
    "\u{0}\u{1}\u{7f}\u{80}\u{9f}\u{ad}\u{fffd}\u{feff}\u{e000}\u{10ffff}",
];

/// Texts that straddle places where some pre-tokenizer cuts and others do not: digits against
/// digits, letters and spaces; contractions; whitespace against newlines and letters;
/// punctuation runs; CJK against ideographic spaces and punctuation; non-ASCII whitespace. The
/// test vocabulary merges each into one token (see `BpeVocabulary::prepend_merge_chains`).
const BOUNDARY_TEXTS: &[&str] = &[
    "1234567",
    " 12345",
    "x12",
    "12x",
    "it's",
    " we're",
    "'re",
    "'ll",
    "'ve",
    "'d",
    "'Sab",
    "'sab",
    "THEY'VE",
    ";\n",
    ");\r\n",
    "\r\n\r\n",
    "  \n  ",
    "\n\n\n",
    "    let",
    "\t\tfor",
    " \t x",
    "   ",
    "=>",
    " == ",
    "::new",
    "a.b",
    "?.",
    "$x",
    "+=",
    "`x`",
    "</",
    "<|",
    "中文\u{3000}注释",
    "\u{3000}中文",
    "\u{3000}注释",
    "！\u{3000}！",
    "注释。",
    "변수\u{3000}",
    "日本語の",
    "\u{a0}and",
    " 🦀🦀",
    "²+",
    "½",
    "e\u{301}",
    "Ελληνικά",
    "ＦＵＬＬ！",
];

/// The trained part of the test vocabulary, learned once per test binary, with merge chains
/// across pre-tokenizer boundaries in front.
fn trained() -> &'static BpeVocabulary {
    static TRAINED: OnceLock<BpeVocabulary> = OnceLock::new();
    TRAINED.get_or_init(|| {
        let mut vocabulary = bpe_gguf::train(&TRAINING_CORPUS.concat(), 500);
        vocabulary.prepend_merge_chains(BOUNDARY_TEXTS);
        vocabulary
    })
}

/// Whole words that are vocabulary entries no merge produces: only a tokenizer that ignores
/// merges for whole words (Llama 3) emits them.
const WHOLE_WORDS: &[&str] = &[" zebra", " quux"];

/// One model family's vocabulary: the trained tokens plus its special tokens, written as the
/// family's GGUF files are.
struct Family {
    architecture: &'static str,
    pre: Option<&'static str>,
    /// Added tokens and their GGUF types.
    added: &'static [(&'static str, i32)],
    bos: &'static str,
    eos: &'static str,
    add_bos: Option<bool>,
}

const QWEN2: Family = Family {
    architecture: "qwen2",
    pre: Some("qwen2"),
    added: &[
        ("<|endoftext|>", CONTROL),
        ("<|im_start|>", CONTROL),
        ("<|im_end|>", CONTROL),
        ("<|fim_prefix|>", CONTROL),
        ("<|fim_middle|>", CONTROL),
        ("<|fim_suffix|>", CONTROL),
        // Stored as user-defined on purpose: llama.cpp makes it control because of its spelling.
        ("<|fim_pad|>", USER_DEFINED),
        ("<|repo_name|>", CONTROL),
        ("<|file_sep|>", CONTROL),
        ("<tool_call>", USER_DEFINED),
        ("</tool_call>", USER_DEFINED),
    ],
    bos: "<|endoftext|>",
    eos: "<|endoftext|>",
    add_bos: Some(false),
};

const LLAMA_BPE: Family = Family {
    architecture: "llama",
    pre: Some("llama-bpe"),
    added: &[
        ("<|begin_of_text|>", CONTROL),
        ("<|end_of_text|>", CONTROL),
        ("<|start_header_id|>", CONTROL),
        ("<|end_header_id|>", CONTROL),
        ("<|eot_id|>", CONTROL),
        ("<|unused_0|>", UNUSED),
    ],
    bos: "<|begin_of_text|>",
    eos: "<|end_of_text|>",
    // Left out: llama.cpp adds BOS by default for this family.
    add_bos: None,
};

const DEEPSEEK_CODER: Family = Family {
    architecture: "llama",
    pre: Some("deepseek-coder"),
    added: &[
        ("<｜begin▁of▁sentence｜>", CONTROL),
        ("<｜end▁of▁sentence｜>", CONTROL),
        ("<｜fim▁hole｜>", USER_DEFINED),
        ("<｜fim▁begin｜>", USER_DEFINED),
        ("<｜fim▁end｜>", USER_DEFINED),
        ("<|EOT|>", CONTROL),
    ],
    bos: "<｜begin▁of▁sentence｜>",
    eos: "<｜end▁of▁sentence｜>",
    add_bos: Some(true),
};

const DEEPSEEK_LLM: Family = Family {
    architecture: "llama",
    pre: Some("deepseek-llm"),
    added: &[
        ("<｜begin▁of▁sentence｜>", CONTROL),
        ("<｜end▁of▁sentence｜>", CONTROL),
    ],
    bos: "<｜begin▁of▁sentence｜>",
    eos: "<｜end▁of▁sentence｜>",
    add_bos: Some(true),
};

const GPT2: Family = Family {
    architecture: "gpt2",
    pre: Some("gpt-2"),
    added: &[("<|endoftext|>", CONTROL)],
    bos: "<|endoftext|>",
    eos: "<|endoftext|>",
    add_bos: None,
};

/// A file without `tokenizer.ggml.pre`: llama.cpp falls back to its default regexes.
const NO_PRE: Family = Family { pre: None, ..GPT2 };

const STARCODER: Family = Family {
    architecture: "starcoder",
    pre: Some("starcoder"),
    added: &[
        ("<|endoftext|>", CONTROL),
        ("<fim_prefix>", CONTROL),
        ("<fim_middle>", CONTROL),
        ("<fim_suffix>", CONTROL),
        ("<fim_pad>", CONTROL),
        ("<filename>", CONTROL),
    ],
    bos: "<|endoftext|>",
    eos: "<|endoftext|>",
    add_bos: None,
};

const FALCON: Family = Family {
    architecture: "falcon",
    pre: Some("falcon"),
    added: &[("<|endoftext|>", CONTROL)],
    bos: "<|endoftext|>",
    eos: "<|endoftext|>",
    add_bos: None,
};

impl Family {
    fn vocabulary(&self) -> BpeVocabulary {
        let mut vocabulary = trained().clone();
        for word in WHOLE_WORDS {
            vocabulary.push(&to_byte_level(word), NORMAL);
        }
        for (text, kind) in self.added {
            vocabulary.push(text, *kind);
        }
        vocabulary
    }

    fn spec<'a>(&self, vocabulary: &'a BpeVocabulary) -> GgufSpec<'a> {
        GgufSpec {
            architecture: self.architecture,
            pre: self.pre,
            vocabulary,
            bos: Some(vocabulary.id(self.bos)),
            eos: Some(vocabulary.id(self.eos)),
            add_bos: self.add_bos,
            extra: Vec::new(),
        }
    }

    fn tokenizer(&self) -> (BpeVocabulary, Tokenizer) {
        let vocabulary = self.vocabulary();
        let tokenizer =
            Tokenizer::from_gguf(&self.spec(&vocabulary).content()).expect("build the tokenizer");
        (vocabulary, tokenizer)
    }
}

/// Texts for round trips and parity: the texts above plus pseudo-random strings over an alphabet of
/// characters that sit on the pre-tokenizers' boundaries.
fn round_trip_texts() -> Vec<String> {
    let mut texts: Vec<String> = PARITY_TEXTS
        .iter()
        .chain(BOUNDARY_TEXTS)
        .map(|s| s.to_string())
        .collect();
    let alphabet: Vec<char> = "ab Z_09'sre\n\r\t .,<|>中文🦀é\u{3000}\u{a0}+-="
        .chars()
        .collect();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..200 {
        let mut text = String::new();
        for _ in 0..32 {
            // xorshift64: small, deterministic and good enough to scatter characters.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        texts.push(text);
    }
    texts
}

// ---------------------------------------------------------------------------------------------
// Parity with llama.cpp
// ---------------------------------------------------------------------------------------------

/// What `bpe_tokenize.py` reports for one file.
#[derive(serde::Deserialize)]
struct LlamaCppReport {
    cases: Vec<LlamaCppCase>,
    n_tokens: usize,
    pieces: Vec<String>,
    eog: Vec<u32>,
    control: Vec<u32>,
    bos: Option<u32>,
    eos: Option<u32>,
    add_bos: bool,
    fim: [Option<u32>; 3],
}

#[derive(serde::Deserialize)]
struct LlamaCppCase {
    ids: Vec<u32>,
    ids_special: Vec<u32>,
    ids_bos: Vec<u32>,
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex byte"))
        .collect()
}

/// Writes the family's GGUF file, tokenizes the parity texts and the round-trip texts with
/// llama.cpp and with rill, and compares everything. Skips when llama-cpp-python is missing.
fn assert_matches_llama_cpp(family: &Family, name: &str) {
    let Some(python) = common::llama_cpp::python() else {
        return;
    };
    let vocabulary = family.vocabulary();
    let spec = family.spec(&vocabulary);
    let dir = scratch_dir(name);
    let model = spec.write(&dir, "vocab.gguf");
    let texts = round_trip_texts();
    let texts_path = dir.join("texts.json");
    std::fs::write(&texts_path, serde_json::to_string(&texts).unwrap()).unwrap();
    let report = common::llama_cpp::run_script(
        &python,
        "bpe_tokenize.py",
        &[model.to_str().unwrap(), texts_path.to_str().unwrap()],
    );
    std::fs::remove_dir_all(&dir).ok();
    let report: LlamaCppReport = serde_json::from_value(report).expect("parse the report");

    let tokenizer = Tokenizer::from_gguf(&spec.content()).expect("build the tokenizer");
    assert_eq!(tokenizer.vocab_size(), report.n_tokens);

    let mut failures = Vec::new();
    for (text, case) in texts.iter().zip(&report.cases) {
        let checks = [
            ("encode", tokenizer.encode(text).unwrap(), &case.ids),
            (
                "encode_with_control",
                tokenizer.encode_with_control(text).unwrap(),
                &case.ids_special,
            ),
            (
                "encode_with_bos",
                tokenizer.encode_with_bos(text).unwrap(),
                &case.ids_bos,
            ),
        ];
        for (what, ours, theirs) in checks {
            if &ours != theirs {
                failures.push(format!(
                    "{what} {text:?}:\n  rill      {ours:?}\n  llama.cpp {theirs:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} differences from llama.cpp:\n{}",
        failures.len(),
        failures.join("\n")
    );

    for (id, piece) in report.pieces.iter().enumerate() {
        assert_eq!(
            tokenizer.token_bytes(id as u32).unwrap(),
            hex_to_bytes(piece),
            "{name}: bytes of token {id} ({:?})",
            vocabulary.tokens[id]
        );
    }
    let ours: BTreeSet<u32> = tokenizer.end_of_generation_ids().iter().copied().collect();
    let theirs: BTreeSet<u32> = report.eog.iter().copied().collect();
    assert_eq!(ours, theirs, "{name}: end-of-generation tokens");
    for id in report.control {
        assert!(tokenizer.is_control(id), "{name}: token {id} is control");
    }
    assert_eq!(Some(tokenizer.bos_id()), report.bos, "{name}: BOS");
    assert_eq!(Some(tokenizer.eos_id()), report.eos, "{name}: EOS");
    assert_eq!(tokenizer.adds_bos(), report.add_bos, "{name}: add BOS");
    let fim = tokenizer.fim().map(|f| [f.prefix, f.suffix, f.middle]);
    match report.fim {
        [Some(prefix), Some(suffix), Some(middle)] => {
            assert_eq!(fim, Some([prefix, suffix, middle]), "{name}: FIM tokens")
        }
        _ => assert_eq!(fim, None, "{name}: FIM tokens"),
    }
}

#[test]
fn qwen2_matches_llama_cpp() {
    assert_matches_llama_cpp(&QWEN2, "qwen2");
}

#[test]
fn llama_bpe_matches_llama_cpp() {
    assert_matches_llama_cpp(&LLAMA_BPE, "llama-bpe");
}

#[test]
fn deepseek_coder_matches_llama_cpp() {
    assert_matches_llama_cpp(&DEEPSEEK_CODER, "deepseek-coder");
}

#[test]
fn deepseek_llm_matches_llama_cpp() {
    assert_matches_llama_cpp(&DEEPSEEK_LLM, "deepseek-llm");
}

#[test]
fn gpt2_matches_llama_cpp() {
    assert_matches_llama_cpp(&GPT2, "gpt-2");
}

#[test]
fn missing_pre_matches_llama_cpp_default() {
    assert_matches_llama_cpp(&NO_PRE, "no-pre");
}

#[test]
fn starcoder_matches_llama_cpp() {
    assert_matches_llama_cpp(&STARCODER, "starcoder");
}

#[test]
fn falcon_matches_llama_cpp() {
    assert_matches_llama_cpp(&FALCON, "falcon");
}

// ---------------------------------------------------------------------------------------------
// Behaviour that needs no llama.cpp
// ---------------------------------------------------------------------------------------------

const ALL_FAMILIES: [&Family; 8] = [
    &QWEN2,
    &LLAMA_BPE,
    &DEEPSEEK_CODER,
    &DEEPSEEK_LLM,
    &GPT2,
    &NO_PRE,
    &STARCODER,
    &FALCON,
];

#[test]
fn decode_and_token_bytes_give_back_the_text() {
    let texts = round_trip_texts();
    for family in ALL_FAMILIES {
        let (_, tokenizer) = family.tokenizer();
        for text in &texts {
            let ids = tokenizer.encode(text).unwrap();
            assert_eq!(&tokenizer.decode(&ids).unwrap(), text, "{:?}", family.pre);
            let bytes: Vec<u8> = ids
                .iter()
                .flat_map(|&id| tokenizer.token_bytes(id).unwrap().to_vec())
                .collect();
            assert_eq!(bytes, text.as_bytes(), "{:?}", family.pre);
        }
    }
}

#[test]
fn streaming_detokenizer_equals_decode() {
    let (_, tokenizer) = QWEN2.tokenizer();
    for text in PARITY_TEXTS {
        let ids = tokenizer.encode_with_control(text).unwrap();
        let mut detokenizer = StreamingDetokenizer::new(&tokenizer);
        let mut streamed: String = ids
            .iter()
            .map(|&id| detokenizer.push(id).unwrap())
            .collect();
        streamed.push_str(&detokenizer.finish());
        assert_eq!(streamed, tokenizer.decode(&ids).unwrap());
    }
}

#[test]
fn merges_make_multi_byte_tokens() {
    let (_, tokenizer) = QWEN2.tokenizer();
    let text = TRAINING_CORPUS[0];
    let ids = tokenizer.encode(text).unwrap();
    // Learned merges cover the training text, so it takes far fewer tokens than bytes.
    assert!(
        ids.len() * 2 < text.len(),
        "{} tokens for {} bytes",
        ids.len(),
        text.len()
    );
}

/// Token boundaries (byte offsets) of `text`'s encoding.
fn boundaries(tokenizer: &Tokenizer, text: &str) -> BTreeSet<usize> {
    let mut at = 0;
    let mut cuts = BTreeSet::new();
    for id in tokenizer.encode(text).unwrap() {
        at += tokenizer.token_bytes(id).unwrap().len();
        cuts.insert(at);
    }
    cuts
}

#[test]
fn digits_split_as_each_pre_tokenizer_says() {
    let text = "1234567890";
    let (_, qwen) = QWEN2.tokenizer();
    // Qwen 2 makes every digit its own word.
    assert_eq!(boundaries(&qwen, text), (1..=10).collect());
    let (_, llama) = LLAMA_BPE.tokenizer();
    // Llama 3 cuts digit runs into groups of at most three.
    let cuts = boundaries(&llama, text);
    assert!(
        [3, 6, 9, 10].iter().all(|cut| cuts.contains(cut)),
        "{cuts:?}"
    );
    let (_, gpt2) = GPT2.tokenizer();
    // GPT-2 keeps the run as one word, so merges may cross those group boundaries.
    assert!(boundaries(&gpt2, text).len() < cuts.len());
}

#[test]
fn llama_bpe_takes_whole_words_that_are_tokens() {
    let (vocabulary, llama) = LLAMA_BPE.tokenizer();
    let zebra = vocabulary.id(&to_byte_level(" zebra"));
    assert_eq!(llama.encode(" zebra").unwrap(), [zebra]);
    // Without ignore_merges the word is merged from its bytes, and no merge reaches it.
    let (vocabulary, qwen) = QWEN2.tokenizer();
    let ids = qwen.encode(" zebra").unwrap();
    assert!(ids.len() > 1, "{ids:?}");
    assert!(!ids.contains(&vocabulary.id(&to_byte_level(" zebra"))));
}

#[test]
fn control_tokens_in_documents_stay_text() {
    let (vocabulary, tokenizer) = QWEN2.tokenizer();
    let text = "a<|im_start|>b<|endoftext|>c";
    let plain = tokenizer.encode(text).unwrap();
    for control in ["<|im_start|>", "<|endoftext|>"] {
        assert!(!plain.contains(&vocabulary.id(control)));
    }
    assert_eq!(tokenizer.decode(&plain).unwrap(), text);

    let parsed = tokenizer.encode_with_control(text).unwrap();
    let mut expected = tokenizer.encode("a").unwrap();
    expected.push(vocabulary.id("<|im_start|>"));
    expected.extend(tokenizer.encode("b").unwrap());
    expected.push(vocabulary.id("<|endoftext|>"));
    expected.extend(tokenizer.encode("c").unwrap());
    assert_eq!(parsed, expected);
    // Control tokens have no document text.
    assert_eq!(tokenizer.decode(&parsed).unwrap(), "abc");
    assert_eq!(
        tokenizer.control_text(vocabulary.id("<|im_start|>")),
        "<|im_start|>"
    );
}

#[test]
fn user_defined_tokens_are_cut_out_of_documents() {
    let (vocabulary, tokenizer) = QWEN2.tokenizer();
    let ids = tokenizer.encode("x<tool_call>y</tool_call>").unwrap();
    assert!(ids.contains(&vocabulary.id("<tool_call>")));
    assert_eq!(ids.last(), Some(&vocabulary.id("</tool_call>")));
    assert!(!tokenizer.is_control(vocabulary.id("<tool_call>")));
    assert_eq!(
        tokenizer.token_bytes(vocabulary.id("<tool_call>")).unwrap(),
        b"<tool_call>"
    );
}

#[test]
fn spellings_llama_cpp_treats_as_control_are_control() {
    // `<|fim_pad|>` is stored as user-defined, but llama.cpp makes it a control token that ends
    // generation, so documents never produce it.
    let (vocabulary, tokenizer) = QWEN2.tokenizer();
    let pad = vocabulary.id("<|fim_pad|>");
    assert!(tokenizer.is_control(pad));
    assert!(!tokenizer.encode("<|fim_pad|>").unwrap().contains(&pad));
    assert_eq!(tokenizer.encode_with_control("<|fim_pad|>").unwrap(), [pad]);
    assert_eq!(tokenizer.token_bytes(pad).unwrap(), b"");
}

#[test]
fn end_of_generation_covers_end_of_turn_and_fim_end_tokens() {
    let (vocabulary, qwen) = QWEN2.tokenizer();
    let eog = qwen.end_of_generation_ids();
    // EOS first; <|endoftext|> is EOS (and padding) here and is listed once.
    assert_eq!(eog[0], vocabulary.id("<|endoftext|>"));
    assert_eq!(
        eog.iter()
            .filter(|&&id| id == vocabulary.id("<|endoftext|>"))
            .count(),
        1
    );
    for text in ["<|im_end|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"] {
        assert!(eog.contains(&vocabulary.id(text)), "{text}");
    }
    for text in ["<|im_start|>", "<|fim_prefix|>", "<|fim_middle|>"] {
        assert!(!eog.contains(&vocabulary.id(text)), "{text}");
    }

    let (vocabulary, llama) = LLAMA_BPE.tokenizer();
    let eog: BTreeSet<u32> = llama.end_of_generation_ids().iter().copied().collect();
    let expected: BTreeSet<u32> = ["<|end_of_text|>", "<|eot_id|>"]
        .iter()
        .map(|t| vocabulary.id(t))
        .collect();
    assert_eq!(eog, expected);
}

#[test]
fn an_eot_id_in_the_metadata_ends_generation() {
    let vocabulary = GPT2.vocabulary();
    let mut spec = GPT2.spec(&vocabulary);
    let eot = vocabulary.id(&to_byte_level(" zebra"));
    spec.extra
        .push(("tokenizer.ggml.eot_token_id", Value::U32(eot)));
    let tokenizer = Tokenizer::from_gguf(&spec.content()).unwrap();
    assert!(tokenizer.end_of_generation_ids().contains(&eot));
}

#[test]
fn fim_tokens_are_found_for_qwen_and_deepseek_coder() {
    let (vocabulary, qwen) = QWEN2.tokenizer();
    let fim = qwen.fim().expect("Qwen has FIM tokens");
    assert_eq!(
        (fim.prefix, fim.suffix, fim.middle, fim.end),
        (
            vocabulary.id("<|fim_prefix|>"),
            vocabulary.id("<|fim_suffix|>"),
            vocabulary.id("<|fim_middle|>"),
            Some(vocabulary.id("<|fim_pad|>"))
        )
    );
    let (vocabulary, deepseek) = DEEPSEEK_CODER.tokenizer();
    let fim = deepseek.fim().expect("DeepSeek-Coder has FIM tokens");
    assert_eq!(
        (fim.prefix, fim.suffix, fim.middle),
        (
            vocabulary.id("<｜fim▁begin｜>"),
            vocabulary.id("<｜fim▁hole｜>"),
            vocabulary.id("<｜fim▁end｜>")
        )
    );
    let (_, gpt2) = GPT2.tokenizer();
    assert_eq!(gpt2.fim(), None);
}

#[test]
fn bos_is_added_by_family_default_unless_the_file_says() {
    let (vocabulary, llama) = LLAMA_BPE.tokenizer();
    assert!(llama.adds_bos());
    assert_eq!(
        llama.encode_with_bos("hi").unwrap()[0],
        vocabulary.id("<|begin_of_text|>")
    );
    let (_, gpt2) = GPT2.tokenizer();
    assert!(!gpt2.adds_bos());
    assert_eq!(
        gpt2.encode_with_bos("hi").unwrap(),
        gpt2.encode("hi").unwrap()
    );
    let vocabulary = LLAMA_BPE.vocabulary();
    let mut spec = LLAMA_BPE.spec(&vocabulary);
    spec.add_bos = Some(false);
    assert!(!Tokenizer::from_gguf(&spec.content()).unwrap().adds_bos());
}

#[test]
fn token_ids_and_accessors() {
    let (vocabulary, tokenizer) = QWEN2.tokenizer();
    assert_eq!(tokenizer.vocab_size(), vocabulary.tokens.len());
    assert_eq!(
        tokenizer.token_id("<|im_end|>"),
        Some(vocabulary.id("<|im_end|>"))
    );
    // Byte-level spellings are looked up as stored: "Ġ" is the token of the space byte.
    let space = tokenizer.token_id("Ġ").expect("the space byte has a token");
    assert_eq!(space, vocabulary.id("Ġ"));
    assert_eq!(tokenizer.token_bytes(space).unwrap(), b" ");
    assert_eq!(tokenizer.token_id("no such token"), None);
    assert!(matches!(
        tokenizer.token_bytes(vocabulary.tokens.len() as u32),
        Err(ModelError::UnknownToken { .. })
    ));
    assert!(!tokenizer.is_control(vocabulary.tokens.len() as u32));
}

// ---------------------------------------------------------------------------------------------
// Load errors
// ---------------------------------------------------------------------------------------------

/// The error `from_gguf` gives for `metadata`, as text.
fn load_error(metadata: &[(String, Value)]) -> String {
    match Tokenizer::from_gguf(&content_of(metadata)) {
        Ok(_) => panic!("the tokenizer should not load"),
        Err(err) => err.to_string(),
    }
}

/// The QWEN2 file's metadata with `key` replaced by `value` (or removed when `None`).
fn qwen2_metadata_with(key: &str, value: Option<Value>) -> Vec<(String, Value)> {
    let vocabulary = QWEN2.vocabulary();
    let mut metadata: Vec<(String, Value)> = QWEN2
        .spec(&vocabulary)
        .metadata()
        .into_iter()
        .filter(|(k, _)| k != key)
        .collect();
    if let Some(value) = value {
        metadata.push((key.to_owned(), value));
    }
    metadata
}

fn strings(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| Value::String(s.to_string())).collect())
}

#[test]
fn missing_merges_are_an_error() {
    let error = load_error(&qwen2_metadata_with("tokenizer.ggml.merges", None));
    assert!(
        error.contains("tokenizer.ggml.merges") && error.contains("missing"),
        "{error}"
    );
}

#[test]
fn merges_naming_unknown_tokens_are_an_error() {
    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.merges",
        Some(strings(&["Ġ t", "no_such_token x"])),
    ));
    assert!(error.contains("no_such_token"), "{error}");
    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.merges",
        Some(strings(&["q z"])),
    ));
    assert!(error.contains("not a token"), "{error}");
    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.merges",
        Some(strings(&["nospace"])),
    ));
    assert!(error.contains("separated by a space"), "{error}");
}

#[test]
fn unknown_pre_tokenizers_are_an_error() {
    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.pre",
        Some(Value::String("no-such-pre".to_owned())),
    ));
    assert!(
        error.contains("no-such-pre") && error.contains("qwen2"),
        "{error}"
    );
}

#[test]
fn an_empty_vocabulary_is_an_error() {
    let metadata: Vec<(String, Value)> =
        qwen2_metadata_with("tokenizer.ggml.tokens", Some(strings(&[])))
            .into_iter()
            .filter(|(k, _)| !k.ends_with("_token_id"))
            .collect();
    let error = load_error(&metadata);
    assert!(error.contains("tokenizer.ggml.tokens"), "{error}");
}

#[test]
fn duplicate_tokens_and_bad_ids_are_errors() {
    let mut vocabulary = QWEN2.vocabulary();
    vocabulary.tokens.push("<|im_end|>".to_owned());
    vocabulary.types.push(CONTROL);
    let error = match Tokenizer::from_gguf(&QWEN2.spec(&vocabulary).content()) {
        Ok(_) => panic!("duplicates should not load"),
        Err(err) => err.to_string(),
    };
    assert!(error.contains("duplicate"), "{error}");

    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.eos_token_id",
        Some(Value::U32(1_000_000)),
    ));
    assert!(error.contains("eos_token_id"), "{error}");
}

#[test]
fn unsupported_tokenizer_models_are_an_error() {
    let error = load_error(&qwen2_metadata_with(
        "tokenizer.ggml.model",
        Some(Value::String("bert".to_owned())),
    ));
    assert!(error.contains("bert") && error.contains("gpt2"), "{error}");
}
