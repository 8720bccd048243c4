//! Tokenizer and streaming detokenizer tests against llama.cpp's ground truth, using the real default model.

use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

mod common;

use candle_core::quantized::gguf_file::{Content, Value};
use common::{default_model_path, reference_file};
use rill_model::detokenizer::StreamingDetokenizer;
use rill_model::tokenizer::Tokenizer;
use rill_model::ModelError;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The GGUF header and metadata of the default model, read once per test binary.
fn content() -> &'static Content {
    static CONTENT: OnceLock<Content> = OnceLock::new();
    CONTENT.get_or_init(|| {
        let path = default_model_path();
        let mut file = std::fs::File::open(&path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
        Content::read(&mut file).unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()))
    })
}

/// The tokenizer of the default model, built once per test binary.
fn tokenizer() -> &'static Tokenizer {
    static TOKENIZER: OnceLock<Tokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| Tokenizer::from_gguf(content()).expect("build the tokenizer"))
}

/// The vocabulary as the file stores it: token strings, scores and types.
struct Vocab {
    tokens: Vec<&'static str>,
    scores: Vec<f32>,
    types: Vec<i32>,
    ids: HashMap<&'static str, u32>,
}

fn vocab() -> &'static Vocab {
    static VOCAB: OnceLock<Vocab> = OnceLock::new();
    VOCAB.get_or_init(|| {
        let metadata = &content().metadata;
        let array = |key: &str| metadata[key].to_vec().expect("metadata array");
        let tokens: Vec<&'static str> = array("tokenizer.ggml.tokens")
            .iter()
            .map(|v| v.to_string().expect("token string").as_str())
            .collect();
        let scores = array("tokenizer.ggml.scores")
            .iter()
            .map(|v| v.to_f32().expect("score"))
            .collect();
        let types = array("tokenizer.ggml.token_type")
            .iter()
            .map(|v| match v {
                Value::I32(t) => *t,
                other => panic!("unexpected token type value {other:?}"),
            })
            .collect();
        let ids = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (*t, id as u32))
            .collect();
        Vocab {
            tokens,
            scores,
            types,
            ids,
        }
    })
}

fn id_of(text: &str) -> u32 {
    *vocab()
        .ids
        .get(text)
        .unwrap_or_else(|| panic!("{text:?} is not in the vocabulary"))
}

/// The byte-fallback token for one byte.
fn byte_token(byte: u8) -> u32 {
    id_of(&format!("<0x{byte:02X}>"))
}

fn read_jsonl<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    let text = std::fs::read_to_string(reference_file(name)).expect("read reference file");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad line in {name}: {e}"))
        })
        .collect()
}

/// One line of `tokenize.jsonl`.
#[derive(serde::Deserialize)]
struct TokenizeCase {
    text: String,
    ids: Vec<u32>,
    ids_with_special: Vec<u32>,
    ids_parse_special: Vec<u32>,
    /// Token strings as llama.cpp prints them: a string, or a list of bytes for byte tokens.
    pieces: Vec<serde_json::Value>,
}

/// One line of `greedy.jsonl` (only the prompt part matters here).
#[derive(serde::Deserialize)]
struct GreedyCase {
    lang: String,
    prompt: String,
    prompt_tokens: Vec<u32>,
}

fn tokenize_cases() -> Vec<TokenizeCase> {
    let cases: Vec<TokenizeCase> = read_jsonl("tokenize.jsonl");
    assert_eq!(cases.len(), 42, "tokenize.jsonl changed size");
    cases
}

/// Real code in several languages, and the whitespace and Unicode corners of source files.
const SNIPPETS: &[&str] = &[
    "use std::collections::HashMap;\n\nfn count(words: &[&str]) -> HashMap<&str, usize> {\n    let mut m = HashMap::new();\n    for w in words {\n        *m.entry(*w).or_insert(0) += 1;\n    }\n    m\n}\n",
    "class Stack:\n    def __init__(self):\n        self._items: list[int] = []\n\n    def push(self, x: int) -> None:\n        self._items.append(x)  # O(1)\n",
    "export async function load(url: string): Promise<Response> {\n\tconst res = await fetch(url, { headers: { 'Accept': 'application/json' } });\n\tif (!res.ok) throw new Error(`HTTP ${res.status}`);\n\treturn res;\n}\n",
    "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 3; i++ {\n\t\tfmt.Printf(\"%d\\n\", i)\n\t}\n}\n",
    "#include <stdlib.h>\n\nint *alloc(size_t n) {\n    int *p = malloc(n * sizeof *p);\n    return p ? p : NULL;\n}\n",
    "SELECT u.id, COUNT(o.id) AS n\nFROM users u\nLEFT JOIN orders o ON o.user_id = u.id\nGROUP BY u.id\nHAVING n > 10;\n",
    "<!DOCTYPE html>\n<html>\n  <body>\n    <div class=\"box\"><b>bold</b> and <s>struck</s></div>\n  </body>\n</html>\n",
    "#!/bin/sh\nset -eu\nfor f in *.txt; do\n  wc -l \"$f\" | awk '{print $1}'\ndone\n",
    "line one\r\nline two\r\n\tindented with a tab\r\n\r\n",
    "astral: 🦀🚀🎉 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐐷 and math 𝑥² + 𝑦² = 𝑧²\n",
    "// 日本語のコメント: 関数を呼び出す\nlet 变量 = \"中文字符串\"; // 한국어 주석\n",
    "mixed\t \t  spaces\u{a0}and\u{3000}ideographic\u{200b}zero-width\n",
    "                                         forty-one spaces, then\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n33 newlines\n",
    "<bos><eos><start_of_turn>user\nhi<end_of_turn>\n<pad><unk><mask><unused0></s><s>[multimodal]",
];

// ---------------------------------------------------------------------------------------------
// llama.cpp's SentencePiece tokenizer, ported literally, as an independent oracle
// ---------------------------------------------------------------------------------------------

/// A direct port of llama.cpp's `llm_tokenizer_spm` with its special-token partitioning, written
/// for clarity rather than speed. The tokenizer under test is built from `tokenizers` parts, so
/// agreeing with this port on many texts checks the translation, including tie-breaking.
struct LlamaCppSpm {
    /// User-defined tokens, longest first, as llama.cpp cuts them out of raw text (its loader
    /// turns `</s>` into a control token, so that one is not cut out).
    partition: Vec<u32>,
}

/// A candidate merge in llama.cpp's priority queue: highest score first, then leftmost.
#[derive(PartialEq)]
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    size: usize,
}

impl Eq for Bigram {}

impl Ord for Bigram {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.left.cmp(&self.left))
    }
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl LlamaCppSpm {
    fn get() -> &'static Self {
        static SPM: OnceLock<LlamaCppSpm> = OnceLock::new();
        SPM.get_or_init(|| {
            let v = vocab();
            let mut partition: Vec<u32> = (0..v.tokens.len() as u32)
                .filter(|&id| v.types[id as usize] == 4 && v.tokens[id as usize] != "</s>")
                .collect();
            partition.sort_by_key(|&id| std::cmp::Reverse(v.tokens[id as usize].len()));
            LlamaCppSpm { partition }
        })
    }

    fn encode(&self, text: &str) -> Vec<u32> {
        enum Fragment<'t> {
            Raw(&'t str),
            Token(u32),
        }
        let v = vocab();
        let mut fragments = vec![Fragment::Raw(text)];
        for &id in &self.partition {
            let needle = v.tokens[id as usize];
            let mut next = Vec::with_capacity(fragments.len());
            for fragment in fragments {
                match fragment {
                    Fragment::Token(t) => next.push(Fragment::Token(t)),
                    Fragment::Raw(mut raw) => {
                        while let Some(at) = raw.find(needle) {
                            if at > 0 {
                                next.push(Fragment::Raw(&raw[..at]));
                            }
                            next.push(Fragment::Token(id));
                            raw = &raw[at + needle.len()..];
                        }
                        if !raw.is_empty() {
                            next.push(Fragment::Raw(raw));
                        }
                    }
                }
            }
            fragments = next;
        }
        let mut out = Vec::new();
        for fragment in fragments {
            match fragment {
                Fragment::Token(id) => out.push(id),
                Fragment::Raw(raw) => Self::spm(&raw.replace(' ', "\u{2581}"), &mut out),
            }
        }
        out
    }

    /// llama.cpp's `llm_tokenizer_spm_session::tokenize`: merge the best-scoring adjacent pair
    /// (any vocabulary entry counts) until none is left, then spell unknown symbols as bytes.
    fn spm(text: &str, out: &mut Vec<u32>) {
        let v = vocab();
        // (byte start, byte length) of each symbol; a length of 0 marks a merged-away symbol.
        let mut symbols: Vec<(usize, usize)> = text
            .char_indices()
            .map(|(i, c)| (i, c.len_utf8()))
            .collect();
        let n = symbols.len();
        let mut prev: Vec<isize> = (0..n as isize).map(|i| i - 1).collect();
        let mut next: Vec<isize> = (0..n as isize)
            .map(|i| if i + 1 < n as isize { i + 1 } else { -1 })
            .collect();
        let mut queue = BinaryHeap::new();
        let try_add = |queue: &mut BinaryHeap<Bigram>,
                       symbols: &[(usize, usize)],
                       left: isize,
                       right: isize| {
            if left < 0 || right < 0 {
                return;
            }
            let (start, len_l) = symbols[left as usize];
            let len_r = symbols[right as usize].1;
            let piece = &text[start..start + len_l + len_r];
            if let Some(&id) = v.ids.get(piece) {
                queue.push(Bigram {
                    score: v.scores[id as usize],
                    left: left as usize,
                    right: right as usize,
                    size: piece.len(),
                });
            }
        };
        for i in 1..n as isize {
            try_add(&mut queue, &symbols, i - 1, i);
        }
        while let Some(bigram) = queue.pop() {
            let (l, r) = (bigram.left, bigram.right);
            if symbols[l].1 == 0 || symbols[r].1 == 0 || symbols[l].1 + symbols[r].1 != bigram.size
            {
                continue;
            }
            symbols[l].1 += symbols[r].1;
            symbols[r].1 = 0;
            next[l] = next[r];
            if next[r] >= 0 {
                prev[next[r] as usize] = l as isize;
            }
            try_add(&mut queue, &symbols, prev[l], l as isize);
            try_add(&mut queue, &symbols, l as isize, next[l]);
        }
        let mut i: isize = if n > 0 { 0 } else { -1 };
        while i >= 0 {
            let (start, len) = symbols[i as usize];
            let piece = &text[start..start + len];
            match v.ids.get(piece) {
                Some(&id) => out.push(id),
                None => out.extend(piece.bytes().map(byte_token)),
            }
            i = next[i as usize];
        }
    }
}

/// Texts for the differential test: the snippets, the reference texts, this crate's own sources,
/// and pseudo-random strings over an alphabet chosen to provoke merge ties.
fn differential_corpus() -> Vec<String> {
    let mut corpus: Vec<String> = SNIPPETS.iter().map(|s| s.to_string()).collect();
    corpus.extend(tokenize_cases().into_iter().map(|c| c.text));
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .expect("read model/src")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no sources found in {}", src.display());
    corpus.extend(
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read source file")),
    );

    let alphabet: Vec<char> = "aab ba\nab  _.<>/s=éè日本🦀0\t".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..300 {
        let mut s = String::new();
        for _ in 0..40 {
            // xorshift64: small, deterministic and good enough to scatter characters.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            s.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        corpus.push(s);
    }
    corpus
}

// ---------------------------------------------------------------------------------------------
// Reference data from llama.cpp
// ---------------------------------------------------------------------------------------------

#[test]
fn encode_matches_llama_cpp_reference() {
    let tok = tokenizer();
    let mut failures = Vec::new();
    let cases = tokenize_cases();
    for case in &cases {
        let ids = tok.encode(&case.text).expect("encode");
        if ids != case.ids {
            failures.push(format!("{:?}: got {ids:?}, want {:?}", case.text, case.ids));
        }
    }
    assert!(
        failures.is_empty(),
        "{}/{} mismatches:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn encode_with_bos_matches_llama_cpp_reference() {
    let tok = tokenizer();
    for case in tokenize_cases() {
        assert_eq!(
            tok.encode_with_bos(&case.text).expect("encode"),
            case.ids_with_special,
            "text {:?}",
            case.text
        );
    }
}

#[test]
fn decode_of_reference_ids_gives_back_the_text() {
    let tok = tokenizer();
    for case in tokenize_cases() {
        assert_eq!(tok.decode(&case.ids).expect("decode"), case.text);
        // BOS is a control token and must vanish from the text.
        assert_eq!(
            tok.decode(&case.ids_with_special).expect("decode"),
            case.text
        );
    }
}

#[test]
fn token_bytes_match_reference_pieces() {
    let tok = tokenizer();
    for case in tokenize_cases() {
        assert_eq!(case.ids.len(), case.pieces.len());
        for (id, piece) in case.ids.iter().zip(&case.pieces) {
            let want: Vec<u8> = match piece {
                serde_json::Value::String(s) => s.as_bytes().to_vec(),
                serde_json::Value::Array(bytes) => bytes
                    .iter()
                    .map(|b| u8::try_from(b.as_u64().expect("byte")).expect("byte"))
                    .collect(),
                other => panic!("unexpected piece {other}"),
            };
            assert_eq!(
                tok.token_bytes(*id).expect("token bytes"),
                &want[..],
                "token {id}"
            );
        }
    }
}

#[test]
fn greedy_prompts_match_llama_cpp_reference() {
    let tok = tokenizer();
    let cases: Vec<GreedyCase> = read_jsonl("greedy.jsonl");
    assert_eq!(cases.len(), 16, "greedy.jsonl changed size");
    for case in cases {
        assert_eq!(
            tok.encode_with_bos(&case.prompt).expect("encode"),
            case.prompt_tokens,
            "{} prompt {:?}",
            case.lang,
            case.prompt
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Control and user-defined tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn control_token_text_in_documents_stays_text() {
    let tok = tokenizer();
    // The reference lines where parsing special tokens would make a difference must still be
    // tokenized as text, and must differ from the parsed version.
    let injected: Vec<TokenizeCase> = tokenize_cases()
        .into_iter()
        .filter(|c| c.ids != c.ids_parse_special)
        .collect();
    assert_eq!(
        injected.len(),
        2,
        "expected the <start_of_turn> and <bos> lines"
    );
    for case in injected {
        let ids = tok.encode(&case.text).expect("encode");
        assert_eq!(ids, case.ids);
        assert_ne!(ids, case.ids_parse_special);
    }

    // No control token at all, whatever control-token text the document holds.
    let v = vocab();
    let all_controls: String = (0..v.tokens.len())
        .filter(|&id| v.types[id] == 3)
        .take(200)
        .chain([105, 106])
        .map(|id| v.tokens[id])
        .collect();
    for text in [all_controls.as_str(), SNIPPETS[SNIPPETS.len() - 1]] {
        let ids = tok.encode(text).expect("encode");
        let controls: Vec<u32> = ids
            .iter()
            .copied()
            .filter(|&id| tok.is_control(id))
            .collect();
        assert!(
            controls.is_empty(),
            "control tokens {controls:?} from document text"
        );
        assert_eq!(tok.decode(&ids).expect("decode"), text);
    }
}

#[test]
fn closing_s_tag_is_text_like_in_llama_cpp() {
    // llama.cpp forces the user-defined token `</s>` (212) to be a control token because of its
    // spelling, so document text `</s>` is tokenized as characters, never as 212.
    let tok = tokenizer();
    let ids = tok.encode("</s>").expect("encode");
    assert_eq!(ids, vec![id_of("</"), id_of("s"), id_of(">")]);
    assert_eq!(ids, LlamaCppSpm::get().encode("</s>"));
    // The other HTML tags of the vocabulary are user-defined and are cut out whole.
    assert_eq!(tok.encode("<s>x</s>").expect("encode")[0], id_of("<s>"));
    // If the model emits 212 anyway, it means the literal tag.
    assert_eq!(tok.decode(&[212]).expect("decode"), "</s>");
    assert!(!tok.is_control(212));
}

#[test]
fn user_defined_tokens_are_cut_out_of_raw_text() {
    let tok = tokenizer();
    assert_eq!(tok.encode("<div>").expect("encode"), vec![id_of("<div>")]);
    assert_eq!(tok.encode("\t\t").expect("encode"), vec![id_of("\t\t")]);
    assert_eq!(tok.encode("[multimodal]").expect("encode"), vec![5]);
    // The longest space run is 31 spaces; longer runs are cut from the left.
    assert_eq!(
        tok.encode(&" ".repeat(40)).expect("encode"),
        vec![id_of(&" ".repeat(31)), id_of(&" ".repeat(9))]
    );
    // A single space is not user-defined: it is the normal token `▁`.
    assert_eq!(
        tok.encode("a b").expect("encode"),
        vec![id_of("a"), id_of("\u{2581}b")]
    );
}

// ---------------------------------------------------------------------------------------------
// Vocabulary facts and accessors
// ---------------------------------------------------------------------------------------------

#[test]
fn metadata_accessors() {
    let tok = tokenizer();
    assert_eq!(tok.vocab_size(), 262_144);
    assert_eq!(tok.bos_id(), 2);
    assert_eq!(tok.eos_id(), 1);
    assert_eq!(tok.end_of_generation_ids(), &[1, id_of("<end_of_turn>")]);
    assert_eq!(id_of("<end_of_turn>"), 106);
    for id in [0, 1, 2, 3, 4, 105, 106, 6, 262_143] {
        assert!(tok.is_control(id), "{id} should be control");
    }
    for id in [5, 107, 138, id_of("\u{2581}"), byte_token(0x41), id_of("a")] {
        assert!(!tok.is_control(id), "{id} should not be control");
    }
    assert!(!tok.is_control(262_144));
    assert_eq!(tok.encode("").expect("encode"), Vec::<u32>::new());
    assert_eq!(tok.encode_with_bos("").expect("encode"), vec![2]);
}

#[test]
fn token_bytes_by_kind() {
    let tok = tokenizer();
    assert_eq!(tok.token_bytes(id_of("\u{2581}the")).unwrap(), b" the");
    assert_eq!(tok.token_bytes(byte_token(0x41)).unwrap(), b"A");
    assert_eq!(tok.token_bytes(byte_token(0xF0)).unwrap(), &[0xF0]);
    assert_eq!(tok.token_bytes(138).unwrap(), b"  ");
    assert_eq!(tok.token_bytes(107).unwrap(), b"\n");
    assert!(tok.token_bytes(2).unwrap().is_empty());
    assert!(tok.token_bytes(106).unwrap().is_empty());
    match tok.token_bytes(262_144) {
        Err(ModelError::UnknownToken { id, vocab_size }) => {
            assert_eq!((id, vocab_size), (262_144, 262_144));
        }
        other => panic!("expected UnknownToken, got {other:?}"),
    }
    assert!(matches!(
        tok.decode(&[5, u32::MAX]),
        Err(ModelError::UnknownToken { .. })
    ));
}

#[test]
fn decode_skips_controls_and_replaces_invalid_utf8() {
    let tok = tokenizer();
    let ids = [2, id_of("a"), 106, byte_token(0xC3), byte_token(0xA9), 1];
    assert_eq!(tok.decode(&ids).expect("decode"), "aé");
    // A truncated character is one replacement character, like String::from_utf8_lossy.
    let ids = [id_of("a"), byte_token(0xF0), byte_token(0x9F), id_of("b")];
    assert_eq!(tok.decode(&ids).expect("decode"), "a\u{FFFD}b");
    let ids = [byte_token(0xFF), byte_token(0x80)];
    assert_eq!(tok.decode(&ids).expect("decode"), "\u{FFFD}\u{FFFD}");
}

#[test]
fn tokenizer_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Tokenizer>();
}

#[test]
fn builds_quickly() {
    let start = Instant::now();
    let tok = Tokenizer::from_gguf(content()).expect("build the tokenizer");
    let elapsed = start.elapsed();
    assert_eq!(tok.vocab_size(), 262_144);
    // The build takes well under two seconds in release builds; the generous bound only catches
    // an accidental quadratic step, not a slow machine.
    assert!(
        elapsed < Duration::from_secs(15),
        "building the tokenizer took {elapsed:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Round trips and agreement with llama.cpp's algorithm
// ---------------------------------------------------------------------------------------------

#[test]
fn round_trip_on_code_and_unicode() {
    let tok = tokenizer();
    for text in SNIPPETS {
        let ids = tok.encode(text).expect("encode");
        assert!(!ids.is_empty());
        assert_eq!(tok.decode(&ids).expect("decode"), *text, "ids {ids:?}");
        let with_bos = tok.encode_with_bos(text).expect("encode");
        assert_eq!(with_bos[0], 2);
        assert_eq!(&with_bos[1..], &ids[..]);
    }
}

#[test]
fn astral_characters_without_a_token_use_byte_fallback() {
    let tok = tokenizer();
    // U+10437 has no token of its own, so it is spelled with its four UTF-8 bytes.
    let ids = tok.encode("𐐷").expect("encode");
    let want: Vec<u32> = "𐐷".bytes().map(byte_token).collect();
    assert_eq!(ids, want);
    // The crab has a token of its own.
    assert_eq!(tok.encode("🦀").expect("encode"), vec![id_of("🦀")]);
}

#[test]
fn agrees_with_a_literal_port_of_llama_cpp() {
    let tok = tokenizer();
    let spm = LlamaCppSpm::get();
    // The port itself must reproduce the reference, or agreeing with it would mean nothing.
    for case in tokenize_cases() {
        assert_eq!(
            spm.encode(&case.text),
            case.ids,
            "port disagrees on {:?}",
            case.text
        );
    }
    let corpus = differential_corpus();
    let mut failures = Vec::new();
    for text in &corpus {
        let got = tok.encode(text).expect("encode");
        let want = spm.encode(text);
        if got != want {
            let first = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a != b)
                .unwrap_or(got.len().min(want.len()));
            let lo = first.saturating_sub(3);
            failures.push(format!(
                "text {:?}: first difference at token {first}: got {:?}, want {:?}",
                text.chars().take(80).collect::<String>(),
                &got[lo..(first + 3).min(got.len())],
                &want[lo..(first + 3).min(want.len())],
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}/{} texts differ:\n{}",
        failures.len(),
        corpus.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Streaming detokenizer
// ---------------------------------------------------------------------------------------------

/// Feeds `ids` one at a time and returns every chunk, with the final flush as the last one.
fn stream(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    let mut detok = StreamingDetokenizer::new(tok);
    let mut chunks: Vec<String> = ids
        .iter()
        .map(|&id| detok.push(id).expect("push"))
        .collect();
    chunks.push(detok.finish());
    chunks
}

#[test]
fn streaming_equals_decode_on_reference_ids() {
    let tok = tokenizer();
    for case in tokenize_cases() {
        for ids in [&case.ids, &case.ids_with_special] {
            let chunks = stream(tok, ids);
            assert_eq!(
                chunks.concat(),
                tok.decode(ids).expect("decode"),
                "text {:?}",
                case.text
            );
            assert_eq!(chunks.concat(), case.text);
        }
    }
}

#[test]
fn streaming_equals_decode_on_multibyte_text() {
    let tok = tokenizer();
    for text in [
        "日本語のコメント 🦀🚀 𐐀𐐁 \u{a0}é",
        SNIPPETS[9],
        SNIPPETS[10],
        SNIPPETS[11],
    ] {
        let ids = tok.encode(text).expect("encode");
        let chunks = stream(tok, &ids);
        assert_eq!(chunks.concat(), text);
        assert_eq!(chunks.concat(), tok.decode(&ids).expect("decode"));
        // Every chunk is whole characters: the flush has nothing left over for valid text.
        assert_eq!(chunks.last().map(String::as_str), Some(""));
    }
}

#[test]
fn streaming_holds_back_a_byte_fallback_emoji_until_complete() {
    let tok = tokenizer();
    let bytes = "🦀".as_bytes();
    assert_eq!(bytes.len(), 4);
    let mut detok = StreamingDetokenizer::new(tok);
    assert_eq!(detok.push(id_of("a")).unwrap(), "a");
    for &b in &bytes[..3] {
        assert_eq!(
            detok.push(byte_token(b)).unwrap(),
            "",
            "emitted part of the crab"
        );
    }
    assert_eq!(detok.push(byte_token(bytes[3])).unwrap(), "🦀");
    assert_eq!(detok.push(id_of("\u{2581}b")).unwrap(), " b");
    assert_eq!(detok.finish(), "");
}

#[test]
fn streaming_replaces_invalid_bytes_like_decode() {
    let tok = tokenizer();
    let cases: Vec<Vec<u32>> = vec![
        // A truncated 4-byte character, then text.
        vec![byte_token(0xF0), byte_token(0x9F), id_of("a")],
        // Stray continuation bytes and a byte that never starts a character.
        vec![
            byte_token(0x80),
            id_of("a"),
            byte_token(0xFF),
            byte_token(0xC3),
            byte_token(0xA9),
        ],
        // A truncated character at the very end, which only the flush can resolve.
        vec![id_of("a"), byte_token(0xE6), byte_token(0x97)],
        // A control token in the middle of a byte sequence contributes nothing.
        vec![byte_token(0xC3), 106, byte_token(0xA9)],
    ];
    for ids in cases {
        let chunks = stream(tok, &ids);
        assert_eq!(
            chunks.concat(),
            tok.decode(&ids).expect("decode"),
            "ids {ids:?}"
        );
    }
    let chunks = stream(tok, &[id_of("a"), byte_token(0xE6), byte_token(0x97)]);
    assert_eq!(chunks, vec!["a", "", "", "\u{FFFD}"]);
}

#[test]
fn streaming_rejects_unknown_ids_without_losing_state() {
    let tok = tokenizer();
    let mut detok = StreamingDetokenizer::new(tok);
    assert_eq!(detok.push(byte_token(0xC3)).unwrap(), "");
    assert!(matches!(
        detok.push(300_000),
        Err(ModelError::UnknownToken { id: 300_000, .. })
    ));
    assert_eq!(detok.push(byte_token(0xA9)).unwrap(), "é");
    assert_eq!(detok.finish(), "");
}
