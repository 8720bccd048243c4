//! Tiny byte-level BPE vocabularies for tests: a deterministic BPE trainer over a code corpus, and a writer of tokenizer-only GGUF files that both rill and llama.cpp load.
//!
//! Nothing is downloaded: the 256 byte tokens plus merges learned here are a small but real
//! byte-level BPE, in the same format `convert_hf_to_gguf.py` writes for Qwen, Llama 3 or
//! DeepSeek-Coder (token strings in GPT-2's byte alphabet, `"left right"` merges, one type per
//! token).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{self, Content, Value};

/// GGUF token types, as llama.cpp numbers them.
pub const NORMAL: i32 = 1;
pub const CONTROL: i32 = 3;
pub const USER_DEFINED: i32 = 4;
pub const UNUSED: i32 = 5;

/// A byte-level BPE vocabulary as a GGUF file stores it.
#[derive(Clone, Debug)]
pub struct BpeVocabulary {
    /// Token strings: byte-level text for normal tokens, raw text for added ones.
    pub tokens: Vec<String>,
    /// One GGUF type per token.
    pub types: Vec<i32>,
    /// Merges, best first, as `"left right"`.
    pub merges: Vec<String>,
}

impl BpeVocabulary {
    /// The id of the token spelled `text`.
    pub fn id(&self, text: &str) -> u32 {
        self.tokens
            .iter()
            .position(|t| t == text)
            .unwrap_or_else(|| panic!("{text:?} is not in the test vocabulary")) as u32
    }

    /// Appends a token of the given type (added tokens, or whole words no merge reaches).
    pub fn push(&mut self, text: &str, kind: i32) -> u32 {
        assert!(
            !self.tokens.iter().any(|t| t == text),
            "{text:?} is already a token"
        );
        self.tokens.push(text.to_owned());
        self.types.push(kind);
        (self.tokens.len() - 1) as u32
    }

    /// Puts merges that build each of `texts` into one token in front of the existing ones,
    /// adding the intermediate tokens: first every multi-byte character from its bytes, then
    /// each text from its characters, left to right.
    ///
    /// Learned merges rarely cross the places where a pre-tokenizer cuts text (an ideographic
    /// space before a CJK word, the fourth digit of a number), so a pre-tokenizer that cuts in
    /// the wrong place would often still give the right ids. With a chain across such a place,
    /// the text merges into one token only if the pre-tokenizer leaves it in one piece, so every
    /// misplaced cut changes the ids. Ranked first, the chains are not blocked by learned merges,
    /// and building characters before texts keeps one text's chain from splitting another's
    /// characters differently.
    pub fn prepend_merge_chains(&mut self, texts: &[&str]) {
        let mut chains = Vec::new();
        let characters = texts.iter().flat_map(|text| text.chars()).map(String::from);
        let mut add_chain = |vocabulary: &mut Self, pieces: Vec<String>| {
            let mut prefix = pieces[0].clone();
            for piece in &pieces[1..] {
                let merge = format!("{prefix} {piece}");
                prefix.push_str(piece);
                if !chains.contains(&merge) {
                    chains.push(merge);
                }
                if !vocabulary.tokens.contains(&prefix) {
                    vocabulary.tokens.push(prefix.clone());
                    vocabulary.types.push(NORMAL);
                }
            }
        };
        for character in characters.collect::<Vec<_>>() {
            let bytes = to_byte_level(&character)
                .chars()
                .map(String::from)
                .collect();
            add_chain(self, bytes);
        }
        for text in texts {
            let characters = text
                .chars()
                .map(|c| to_byte_level(&c.to_string()))
                .collect();
            add_chain(self, characters);
        }
        self.merges.retain(|merge| !chains.contains(merge));
        chains.append(&mut self.merges);
        self.merges = chains;
    }
}

/// GPT-2's byte-to-character mapping: printable Latin-1 bytes stand for themselves, the other 68
/// bytes for U+0100 upwards, in order. Written independently of the crate's own table, so a
/// mistake in either shows up as a failed round trip.
pub fn byte_to_char() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (byte, slot) in table.iter_mut().enumerate() {
        let printable = (0x21..=0x7E).contains(&byte)
            || (0xA1..=0xAC).contains(&byte)
            || (0xAE..=0xFF).contains(&byte);
        *slot = if printable {
            char::from_u32(byte as u32).unwrap()
        } else {
            next += 1;
            char::from_u32(next - 1).unwrap()
        };
    }
    table
}

/// Writes `text` in the byte-level alphabet.
pub fn to_byte_level(text: &str) -> String {
    let table = byte_to_char();
    text.bytes().map(|b| table[usize::from(b)]).collect()
}

/// Cuts the training corpus into words: an optional leading space followed by a run of letters,
/// of digits or of other symbols, or a run of whitespace. (Only the trainer uses this; the
/// tokenizers under test split with their own pre-tokenizers.)
fn training_words(corpus: &str) -> Vec<String> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Letter,
        Digit,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphabetic() {
            Class::Letter
        } else if c.is_numeric() {
            Class::Digit
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let chars: Vec<char> = corpus.chars().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = i;
        // A single space sticks to the word after it, as in GPT-2.
        if chars[i] == ' ' && i + 1 < chars.len() && class(chars[i + 1]) != Class::Space {
            i += 1;
        }
        let kind = class(chars[i]);
        i += 1;
        while i < chars.len() && class(chars[i]) == kind {
            i += 1;
        }
        words.push(chars[start..i].iter().collect());
    }
    words
}

/// Learns `merge_count` merges from `corpus`: the 256 byte tokens first, then, repeatedly, the
/// most frequent adjacent pair (ties broken by the smaller pair) is merged everywhere and its
/// concatenation becomes a token. Deterministic, so every run builds the same vocabulary.
pub fn train(corpus: &str, merge_count: usize) -> BpeVocabulary {
    let alphabet = byte_to_char();
    let mut vocabulary = BpeVocabulary {
        tokens: alphabet.iter().map(|c| c.to_string()).collect(),
        types: vec![NORMAL; 256],
        merges: Vec::new(),
    };

    let mut frequencies: BTreeMap<String, usize> = BTreeMap::new();
    for word in training_words(corpus) {
        *frequencies.entry(word).or_default() += 1;
    }
    let mut words: Vec<(Vec<String>, usize)> = frequencies
        .into_iter()
        .map(|(word, count)| {
            let symbols = word
                .bytes()
                .map(|b| alphabet[usize::from(b)].to_string())
                .collect();
            (symbols, count)
        })
        .collect();

    for _ in 0..merge_count {
        let mut pairs: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        for (symbols, count) in &words {
            for pair in symbols.windows(2) {
                *pairs.entry((&pair[0], &pair[1])).or_default() += count;
            }
        }
        // The first maximum in the map's order is the smallest pair among the most frequent.
        let Some(((left, right), _)) = pairs.into_iter().fold(
            None,
            |best: Option<((&str, &str), usize)>, (pair, count)| match best {
                Some((_, best_count)) if best_count >= count => best,
                _ => Some((pair, count)),
            },
        ) else {
            break;
        };
        let (left, right) = (left.to_owned(), right.to_owned());
        let merged = format!("{left}{right}");
        vocabulary.merges.push(format!("{left} {right}"));
        if !vocabulary.tokens.contains(&merged) {
            vocabulary.tokens.push(merged.clone());
            vocabulary.types.push(NORMAL);
        }
        for (symbols, _) in &mut words {
            let mut i = 0;
            while i + 1 < symbols.len() {
                if symbols[i] == left && symbols[i + 1] == right {
                    symbols[i] = merged.clone();
                    symbols.remove(i + 1);
                }
                i += 1;
            }
        }
    }
    vocabulary
}

/// The metadata of a tokenizer-only GGUF file.
pub struct GgufSpec<'a> {
    /// `general.architecture`; llama.cpp refuses files without a known one, even vocab-only.
    pub architecture: &'a str,
    /// `tokenizer.ggml.pre`, or `None` to leave the key out.
    pub pre: Option<&'a str>,
    pub vocabulary: &'a BpeVocabulary,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`, or `None` to leave the key out.
    pub add_bos: Option<bool>,
    /// Further keys, such as `tokenizer.ggml.eot_token_id`.
    pub extra: Vec<(&'a str, Value)>,
}

impl GgufSpec<'_> {
    /// The metadata entries, in the order they are written.
    pub fn metadata(&self) -> Vec<(String, Value)> {
        let strings =
            |items: &[String]| Value::Array(items.iter().cloned().map(Value::String).collect());
        let mut entries = vec![
            (
                "general.architecture".to_owned(),
                Value::String(self.architecture.to_owned()),
            ),
            (
                "general.name".to_owned(),
                Value::String("rill test vocabulary".to_owned()),
            ),
            (
                "tokenizer.ggml.model".to_owned(),
                Value::String("gpt2".to_owned()),
            ),
            (
                "tokenizer.ggml.tokens".to_owned(),
                strings(&self.vocabulary.tokens),
            ),
            (
                "tokenizer.ggml.token_type".to_owned(),
                Value::Array(
                    self.vocabulary
                        .types
                        .iter()
                        .map(|&t| Value::I32(t))
                        .collect(),
                ),
            ),
            (
                "tokenizer.ggml.merges".to_owned(),
                strings(&self.vocabulary.merges),
            ),
        ];
        if let Some(pre) = self.pre {
            entries.push((
                "tokenizer.ggml.pre".to_owned(),
                Value::String(pre.to_owned()),
            ));
        }
        for (key, id) in [
            ("tokenizer.ggml.bos_token_id", self.bos),
            ("tokenizer.ggml.eos_token_id", self.eos),
        ] {
            if let Some(id) = id {
                entries.push((key.to_owned(), Value::U32(id)));
            }
        }
        if let Some(add_bos) = self.add_bos {
            entries.push((
                "tokenizer.ggml.add_bos_token".to_owned(),
                Value::Bool(add_bos),
            ));
        }
        for (key, value) in &self.extra {
            entries.push(((*key).to_owned(), value.clone()));
        }
        entries
    }

    /// The GGUF file's bytes (no tensors).
    pub fn to_bytes(&self) -> Vec<u8> {
        to_gguf_bytes(&self.metadata())
    }

    /// Writes the file to `dir/name` and returns its path.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.to_bytes())
            .unwrap_or_else(|err| panic!("cannot write {}: {err}", path.display()));
        path
    }

    /// The file parsed back, as `Tokenizer::from_gguf` receives it.
    pub fn content(&self) -> Content {
        content_of(&self.metadata())
    }
}

/// A GGUF file holding exactly `metadata`.
pub fn to_gguf_bytes(metadata: &[(String, Value)]) -> Vec<u8> {
    let entries: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut cursor = std::io::Cursor::new(Vec::new());
    gguf_file::write(&mut cursor, &entries, &[]).expect("write the GGUF file");
    cursor.into_inner()
}

/// `metadata` written as a GGUF file and parsed back.
pub fn content_of(metadata: &[(String, Value)]) -> Content {
    let bytes = to_gguf_bytes(metadata);
    Content::read(&mut std::io::Cursor::new(bytes)).expect("read the GGUF file back")
}

/// A fresh directory for this test's files, removed by the caller when it is done.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rill-bpe-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|err| panic!("cannot create {}: {err}", dir.display()));
    dir
}
