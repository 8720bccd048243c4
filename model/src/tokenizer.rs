//! Tokenizer: a `tokenizers::Tokenizer` built from GGUF metadata that reproduces llama.cpp exactly.
//!
//! A GGUF file with `tokenizer.ggml.model = "llama"` describes a SentencePiece vocabulary: token
//! strings (spaces written as `▁`), one score per token and one type per token. It carries no merge
//! list. llama.cpp tokenizes such a vocabulary in two steps, and this module rebuilds both with the
//! `tokenizers` crate:
//!
//! 1. User-defined tokens (runs of newlines, tabs and spaces, some HTML tags) are cut out of the raw
//!    text wherever they occur. Here they are non-special added tokens matched on the raw,
//!    un-normalized text. llama.cpp cuts them longest-first, `tokenizers` leftmost-longest; the two
//!    agree because no user-defined token of the vocabulary overlaps another one except within runs
//!    of the same character, where both take the longest run from the left.
//! 2. Each remaining piece has its spaces replaced by `▁` and is split into characters, and the
//!    adjacent pair whose concatenation is the highest-scoring vocabulary entry is merged until no
//!    pair is left; characters that are not in the vocabulary become `<0xXX>` byte tokens. That is a
//!    BPE whose merge ranks are the scores of the merged tokens, so the merge list is derived from
//!    the vocabulary: every split of a token into two tokens is a merge, ranked by the score of the
//!    whole.
//!
//! Control tokens (`<bos>`, `<start_of_turn>`, ...) are never produced from document text: they
//! are neither added tokens nor the result of any merge, so a file containing `<bos>` is read as
//! the characters `<`, `bos`, `>`, which is what llama.cpp does when it tokenizes without parsing
//! special tokens.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::Replace;
use tokenizers::AddedToken;

use crate::error::{ModelError, Result};
use crate::fim::FimTokens;

/// The character SentencePiece writes in place of a space inside normal tokens.
const SPACE_MARKER: &str = "\u{2581}";

/// The metadata keys this module reads.
const KEY_MODEL: &str = "tokenizer.ggml.model";
const KEY_TOKENS: &str = "tokenizer.ggml.tokens";
const KEY_SCORES: &str = "tokenizer.ggml.scores";
const KEY_TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
const KEY_BOS: &str = "tokenizer.ggml.bos_token_id";
const KEY_EOS: &str = "tokenizer.ggml.eos_token_id";
const KEY_ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
const KEY_ADD_SPACE_PREFIX: &str = "tokenizer.ggml.add_space_prefix";

/// The text of SentencePiece's unknown token.
const UNKNOWN: &str = "<unk>";

/// The text of the token that ends a chat turn in Gemma vocabularies.
const END_OF_TURN: &str = "<end_of_turn>";

/// User-defined tokens that llama.cpp turns into control tokens while loading the vocabulary.
///
/// llama.cpp picks end-of-generation tokens partly by their spelling, and any token spelled `</s>`
/// is added to that list and has its type overridden to control, even though Gemma 3 marks its
/// `</s>` (id 212, the closing HTML strikethrough tag) as an ordinary user-defined token. Because
/// llama.cpp skips control tokens when it tokenizes document text, the text `</s>` is not cut out
/// as token 212 but tokenized as plain characters, which gives `</`, `s`, `>` (no merge reaches
/// `</s>`, since neither `</s` nor `s>` is in the vocabulary). To reproduce llama.cpp's token ids
/// for such text, these tokens are neither matched in text nor used in merges. Unlike llama.cpp,
/// they still decode to their text and do not end generation: the model only emits them when it
/// means the literal tag.
const NOT_MATCHED_IN_TEXT: &[&str] = &["</s>"];

/// GGUF token types, as llama.cpp numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    /// Ordinary text, with spaces written as `▁`.
    Normal,
    /// Markers with no document text: control, unknown, unused and undefined tokens.
    Control,
    /// Raw text that is cut out of documents before anything else (spaces are real spaces).
    UserDefined,
    /// One byte of a character that has no token of its own, spelled `<0xXX>`.
    Byte,
}

impl TokenKind {
    /// Maps the GGUF `token_type` code; codes that carry no text (unknown, control, unused,
    /// undefined) all become `Control`, because none of them may appear in document text.
    fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Normal,
            4 => Self::UserDefined,
            6 => Self::Byte,
            _ => Self::Control,
        }
    }
}

/// Text to token ids and back, for one GGUF vocabulary.
///
/// Encoding goes through a `tokenizers::Tokenizer` configured to behave like llama.cpp's
/// SentencePiece tokenizer (see the module documentation). Decoding works on raw bytes, so that
/// the batch [`Tokenizer::decode`] and the streaming detokenizer replace invalid UTF-8 in exactly
/// the same way.
pub struct Tokenizer {
    /// The encoder.
    inner: tokenizers::Tokenizer,
    /// The document bytes of every token, concatenated; token `id` owns
    /// `bytes[offsets[id]..offsets[id + 1]]`.
    bytes: Vec<u8>,
    offsets: Vec<usize>,
    /// Whether each token is a control-like token that has no document text.
    control: Vec<bool>,
    bos_id: u32,
    eos_id: u32,
    add_bos: bool,
    end_of_generation: Vec<u32>,
    /// The text of each control token that has one (`<start_of_turn>`, `<bos>`…), longest first:
    /// prompts built from chat templates spell them out.
    control_texts: Vec<(String, u32)>,
    /// The fill-in-the-middle tokens, for models that have them.
    fim: Option<FimTokens>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The inner tokenizer holds the whole vocabulary and merge table, far too much to print.
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .field("add_bos", &self.add_bos)
            .field("end_of_generation", &self.end_of_generation)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Builds the tokenizer from the `tokenizer.ggml.*` metadata of a GGUF file.
    pub fn from_gguf(content: &Content) -> Result<Self> {
        let metadata = &content.metadata;

        let model = required(metadata, KEY_MODEL)?;
        let model = model
            .to_string()
            .map_err(|_| bad(KEY_MODEL, "not a string"))?;
        if model != "llama" {
            return Err(bad(
                KEY_MODEL,
                &format!(
                    "tokenizer model `{model}` is not supported; only `llama` (SentencePiece) is"
                ),
            ));
        }
        // llama.cpp prepends a space to every piece of text when this flag is true, and assumes true
        // when the key is absent. Only vocabularies without the prefix are implemented.
        let add_space_prefix = optional_bool(metadata, KEY_ADD_SPACE_PREFIX)?.unwrap_or(true);
        if add_space_prefix {
            return Err(bad(
                KEY_ADD_SPACE_PREFIX,
                "vocabularies that add a space prefix are not supported (a missing key means true)",
            ));
        }

        let tokens = array(metadata, KEY_TOKENS)?
            .iter()
            .map(|v| v.to_string().map(String::as_str))
            .collect::<std::result::Result<Vec<&str>, _>>()
            .map_err(|_| bad(KEY_TOKENS, "not an array of strings"))?;
        let n = tokens.len();
        if n == 0 || u32::try_from(n).is_err() {
            return Err(bad(
                KEY_TOKENS,
                &format!("vocabulary size {n} is out of range"),
            ));
        }
        let scores = array(metadata, KEY_SCORES)?
            .iter()
            .map(Value::to_f32)
            .collect::<std::result::Result<Vec<f32>, _>>()
            .map_err(|_| bad(KEY_SCORES, "not an array of f32"))?;
        let kinds = array(metadata, KEY_TOKEN_TYPE)?
            .iter()
            .map(|v| integer(v).map(TokenKind::from_code))
            .collect::<Option<Vec<TokenKind>>>()
            .ok_or_else(|| bad(KEY_TOKEN_TYPE, "not an array of integers"))?;
        for (key, len) in [(KEY_SCORES, scores.len()), (KEY_TOKEN_TYPE, kinds.len())] {
            if len != n {
                return Err(bad(key, &format!("{len} entries for {n} tokens")));
            }
        }

        let bos_id = token_id(metadata, KEY_BOS, n)?;
        let eos_id = token_id(metadata, KEY_EOS, n)?;
        // llama.cpp adds BOS for SentencePiece vocabularies unless the file says otherwise.
        let add_bos = optional_bool(metadata, KEY_ADD_BOS)?.unwrap_or(true);

        let (bytes, offsets) = token_bytes_table(&tokens, &kinds)?;
        let control = kinds.iter().map(|k| *k == TokenKind::Control).collect();

        // Tokens that may appear in document text: these alone take part in merges and (for the
        // user-defined ones) are cut out of the text. Control and byte tokens are excluded, and so
        // are the user-defined tokens llama.cpp treats as control.
        let matchable = |id: usize| match kinds[id] {
            TokenKind::Normal => true,
            TokenKind::UserDefined => !NOT_MATCHED_IN_TEXT.contains(&tokens[id]),
            TokenKind::Control | TokenKind::Byte => false,
        };

        let merges = derive_merges(&tokens, &scores, &matchable);
        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, text)| ((*text).to_owned(), id as u32))
            .collect();
        if vocab.len() != n {
            return Err(bad(
                KEY_TOKENS,
                "the vocabulary contains duplicate token strings",
            ));
        }
        // Byte fallback covers every character, so the unknown token is only a formality.
        let mut builder = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .byte_fallback(true);
        if tokens.contains(&UNKNOWN) {
            builder = builder.unk_token(UNKNOWN.to_owned());
        }
        let bpe = builder.build().map_err(hf_error)?;

        let mut inner = tokenizers::Tokenizer::new(bpe);
        inner.with_normalizer(Some(Replace::new(" ", SPACE_MARKER).map_err(hf_error)?));
        // The decoder is not used by `decode` (which works on bytes), but it keeps the inner
        // tokenizer a complete, faithful description of the vocabulary.
        inner.with_decoder(Some(Sequence::new(vec![
            Replace::new(SPACE_MARKER, " ").map_err(hf_error)?.into(),
            ByteFallback::new().into(),
            Fuse::new().into(),
        ])));
        let added: Vec<AddedToken> = (0..n)
            .filter(|&id| kinds[id] == TokenKind::UserDefined && matchable(id))
            .map(|id| AddedToken::from(tokens[id], false).normalized(false))
            .collect();
        inner.add_tokens(&added);

        let mut end_of_generation = vec![eos_id];
        if let Some(id) = tokens.iter().position(|t| *t == END_OF_TURN) {
            let id = id as u32;
            if id != eos_id {
                end_of_generation.push(id);
            }
        }

        let mut control_texts: Vec<(String, u32)> = (0..n)
            .filter(|&id| kinds[id] == TokenKind::Control && tokens[id].starts_with('<'))
            .map(|id| (tokens[id].to_string(), id as u32))
            .collect();
        control_texts.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));

        let by_text: HashMap<&str, u32> = tokens
            .iter()
            .enumerate()
            .map(|(id, text)| (*text, id as u32))
            .collect();
        let metadata_id = |key: &str| {
            metadata
                .get(key)
                .and_then(integer)
                .and_then(|id| u32::try_from(id).ok())
        };
        let fim = crate::fim::detect(&metadata_id, &by_text, n);

        Ok(Self {
            inner,
            bytes,
            offsets,
            control,
            bos_id,
            eos_id,
            add_bos,
            end_of_generation,
            control_texts,
            fim,
        })
    }

    /// Document text -> ids. No BOS, and text such as "<bos>" or "<start_of_turn>" in the document
    /// is NEVER turned into control tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode_fast(text, false).map_err(hf_error)?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Prompt text that spells out control tokens (a rendered chat template) -> ids: every
    /// control token's text becomes that token, the rest is encoded as document text. No BOS is
    /// added; a template that wants one writes it.
    pub fn encode_with_control(&self, text: &str) -> Result<Vec<u32>> {
        let mut ids = Vec::new();
        let mut plain_start = 0;
        let mut at = 0;
        while let Some(found) = text[at..].find('<') {
            let position = at + found;
            let control = self
                .control_texts
                .iter()
                .find(|(spelling, _)| text[position..].starts_with(spelling.as_str()));
            match control {
                Some((spelling, id)) => {
                    if plain_start < position {
                        ids.extend(self.encode(&text[plain_start..position])?);
                    }
                    ids.push(*id);
                    at = position + spelling.len();
                    plain_start = at;
                }
                None => at = position + 1,
            }
        }
        if plain_start < text.len() {
            ids.extend(self.encode(&text[plain_start..])?);
        }
        Ok(ids)
    }

    /// The text of a control token as templates spell it (`<bos>`), empty for other tokens.
    pub fn control_text(&self, id: u32) -> &str {
        self.control_texts
            .iter()
            .find(|(_, control)| *control == id)
            .map_or("", |(spelling, _)| spelling.as_str())
    }

    /// Same with BOS in front (when add_bos_token is true in the metadata).
    pub fn encode_with_bos(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self.inner.encode_fast(text, false).map_err(hf_error)?;
        let ids = encoding.get_ids();
        let mut out = Vec::with_capacity(ids.len() + 1);
        if self.add_bos {
            out.push(self.bos_id);
        }
        out.extend_from_slice(ids);
        Ok(out)
    }

    /// ids -> text; control tokens are skipped, byte-fallback tokens become bytes (invalid UTF-8
    /// replaced lossily).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            bytes.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        })
    }

    /// The raw bytes a token stands for in document text (▁ -> space, <0xXX> -> that byte, control
    /// tokens -> empty).
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        let i = id as usize;
        if i >= self.control.len() {
            return Err(ModelError::UnknownToken {
                id,
                vocab_size: self.vocab_size(),
            });
        }
        Ok(&self.bytes[self.offsets[i]..self.offsets[i + 1]])
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.control.len()
    }

    /// The beginning-of-sequence token.
    pub fn bos_id(&self) -> u32 {
        self.bos_id
    }

    /// The end-of-sequence token.
    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    /// Whether `id` is a control token (or another marker without document text, such as an
    /// unused slot); false for ids outside the vocabulary.
    pub fn is_control(&self, id: u32) -> bool {
        self.control.get(id as usize).copied().unwrap_or(false)
    }

    /// Whether prompts start with BOS (`tokenizer.ggml.add_bos_token`).
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// The id of the token spelled exactly `text` (control tokens included), if the vocabulary has one.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// The model's fill-in-the-middle tokens, `None` for models without them (Gemma 3).
    pub fn fim(&self) -> Option<FimTokens> {
        self.fim
    }

    /// Tokens that end generation: eos, and <end_of_turn> when present in the vocab.
    pub fn end_of_generation_ids(&self) -> &[u32] {
        &self.end_of_generation
    }
}

/// Derives a BPE merge list from a SentencePiece vocabulary.
///
/// Every way of writing a matchable token as the concatenation of two matchable tokens is a merge.
/// SentencePiece merges the adjacent pair whose result has the highest score, so merges are ranked
/// by the score of the merged token, highest first. Ties between different tokens fall back to the
/// token id; in the Gemma 3 vocabulary every normal token has its own score, and only
/// user-defined tokens share one, which never matters because they are cut out of the text before
/// merging. Several splits of one token share its score; they are ordered by the length of their
/// left half, so the order is deterministic. (SentencePiece would prefer the leftmost of two
/// overlapping candidates for the same token instead; that difference never showed up in 130 MB
/// of source code and 300,000 random strings compared against a port of llama.cpp.)
fn derive_merges(
    tokens: &[&str],
    scores: &[f32],
    matchable: &dyn Fn(usize) -> bool,
) -> Vec<(String, String)> {
    let index: HashMap<&str, u32> = tokens
        .iter()
        .enumerate()
        .filter(|(id, _)| matchable(*id))
        .map(|(id, text)| (*text, id as u32))
        .collect();

    // (merged token id, byte length of the left half) for every split.
    let mut splits: Vec<(u32, u32)> = Vec::new();
    for (id, text) in tokens.iter().enumerate() {
        if !matchable(id) {
            continue;
        }
        for (at, _) in text.char_indices().skip(1) {
            if index.contains_key(&text[..at]) && index.contains_key(&text[at..]) {
                splits.push((id as u32, at as u32));
            }
        }
    }
    splits.sort_unstable_by(|&(a, a_at), &(b, b_at)| {
        scores[b as usize]
            .total_cmp(&scores[a as usize])
            .then(a.cmp(&b))
            .then(a_at.cmp(&b_at))
    });
    splits
        .into_iter()
        .map(|(id, at)| {
            let (left, right) = tokens[id as usize].split_at(at as usize);
            (left.to_owned(), right.to_owned())
        })
        .collect()
}

/// Builds the table of document bytes for every token.
fn token_bytes_table(tokens: &[&str], kinds: &[TokenKind]) -> Result<(Vec<u8>, Vec<usize>)> {
    let mut bytes = Vec::with_capacity(tokens.iter().map(|t| t.len()).sum());
    let mut offsets = Vec::with_capacity(tokens.len() + 1);
    offsets.push(0);
    for (text, kind) in tokens.iter().zip(kinds) {
        match kind {
            TokenKind::Normal => {
                bytes.extend_from_slice(text.replace(SPACE_MARKER, " ").as_bytes())
            }
            TokenKind::UserDefined => bytes.extend_from_slice(text.as_bytes()),
            TokenKind::Byte => bytes.push(parse_byte_token(text).ok_or_else(|| {
                bad(
                    KEY_TOKENS,
                    &format!("byte token `{text}` is not of the form <0xXX>"),
                )
            })?),
            TokenKind::Control => {}
        }
        offsets.push(bytes.len());
    }
    Ok((bytes, offsets))
}

/// Parses a byte-fallback token such as `<0x0A>`.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

fn required<'a>(metadata: &'a HashMap<String, Value>, key: &str) -> Result<&'a Value> {
    metadata.get(key).ok_or_else(|| bad(key, "missing"))
}

fn array<'a>(metadata: &'a HashMap<String, Value>, key: &str) -> Result<&'a [Value]> {
    required(metadata, key)?
        .to_vec()
        .map(Vec::as_slice)
        .map_err(|_| bad(key, "not an array"))
}

fn optional_bool(metadata: &HashMap<String, Value>, key: &str) -> Result<Option<bool>> {
    metadata
        .get(key)
        .map(|v| v.to_bool().map_err(|_| bad(key, "not a boolean")))
        .transpose()
}

/// Reads a token id, which GGUF writers store as any integer type.
fn token_id(metadata: &HashMap<String, Value>, key: &str, vocab_size: usize) -> Result<u32> {
    let value = integer(required(metadata, key)?).ok_or_else(|| bad(key, "not an integer"))?;
    if value < 0 || value as u64 >= vocab_size as u64 {
        return Err(bad(
            key,
            &format!("token id {value} is outside the vocabulary (size {vocab_size})"),
        ));
    }
    Ok(value as u32)
}

fn integer(value: &Value) -> Option<i64> {
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

fn bad(key: &str, reason: &str) -> ModelError {
    ModelError::BadMetadata {
        key: key.to_owned(),
        reason: reason.to_owned(),
    }
}

fn hf_error(err: tokenizers::Error) -> ModelError {
    ModelError::Tokenizer(err.to_string())
}
