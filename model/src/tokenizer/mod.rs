//! Tokenizer: text to token ids and back for the vocabulary in a GGUF file, reproducing llama.cpp's token ids exactly.
//!
//! Two vocabulary types are supported, chosen by `tokenizer.ggml.model`:
//!
//! * `llama`: SentencePiece vocabularies (Gemma 3), see `sentencepiece.rs`.
//! * `gpt2`: byte-level BPE vocabularies with a merge list (Qwen 2.5, Llama 3, DeepSeek-Coder,
//!   StarCoder…), see `byte_level.rs`; their pre-tokenizer regexes live in `pre_tokenizers.rs`.
//!
//! Both are encoded by a `tokenizers::Tokenizer` configured to behave like llama.cpp, and both are
//! decoded from one table of raw bytes per token, so the batch [`Tokenizer::decode`] and the
//! streaming detokenizer treat every vocabulary the same way.

mod byte_level;
mod metadata;
mod pre_tokenizers;
mod sentencepiece;
mod special_texts;

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Content;

use crate::error::{ModelError, Result};
use crate::fim::FimTokens;
use metadata::{bad, hf_error, integer, KEY_MODEL};

/// Everything a vocabulary-specific builder produces; [`Tokenizer`] adds what is common.
struct Parts {
    /// The encoder of document text.
    inner: tokenizers::Tokenizer,
    /// The document bytes of each token (empty for control tokens).
    bytes: TokenBytes,
    /// Whether each token is a control-like token that has no document text.
    control: Vec<bool>,
    bos_id: u32,
    eos_id: u32,
    add_bos: bool,
    end_of_generation: Vec<u32>,
    /// The text of each control token that prompts may spell out, longest first.
    control_texts: Vec<(String, u32)>,
}

/// The document bytes of every token, concatenated; token `id` owns
/// `bytes[offsets[id]..offsets[id + 1]]`.
struct TokenBytes {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl TokenBytes {
    fn with_capacity(tokens: usize, bytes: usize) -> Self {
        let mut offsets = Vec::with_capacity(tokens + 1);
        offsets.push(0);
        Self {
            bytes: Vec::with_capacity(bytes),
            offsets,
        }
    }

    /// Appends the bytes of the next token.
    fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.offsets.push(self.bytes.len());
    }

    fn get(&self, id: usize) -> &[u8] {
        &self.bytes[self.offsets[id]..self.offsets[id + 1]]
    }
}

/// Text to token ids and back, for one GGUF vocabulary.
///
/// Encoding goes through a `tokenizers::Tokenizer` configured to behave like llama.cpp's tokenizer
/// for the vocabulary type (see the module documentation). Decoding works on raw bytes, so that
/// the batch [`Tokenizer::decode`] and the streaming detokenizer replace invalid UTF-8 in exactly
/// the same way.
pub struct Tokenizer {
    /// The encoder.
    inner: tokenizers::Tokenizer,
    bytes: TokenBytes,
    /// Whether each token is a control-like token that has no document text.
    control: Vec<bool>,
    bos_id: u32,
    eos_id: u32,
    add_bos: bool,
    end_of_generation: Vec<u32>,
    /// The text of each control token that prompts spell out (`<start_of_turn>`, `<|im_start|>`…),
    /// longest first: prompts built from chat templates spell them out.
    control_texts: Vec<(String, u32)>,
    /// For each byte, whether some control text starts with it; lets [`Tokenizer::encode_with_control`]
    /// skip the positions where no control token can begin.
    control_first_bytes: [bool; 256],
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

        let model = metadata::required(metadata, KEY_MODEL)?
            .to_string()
            .map_err(|_| bad(KEY_MODEL, "not a string"))?;
        let parts = match model.as_str() {
            "llama" => sentencepiece::build(metadata)?,
            "gpt2" => byte_level::build(metadata)?,
            other => {
                return Err(bad(
                    KEY_MODEL,
                    &format!(
                        "tokenizer model `{other}` is not supported; supported: `llama` \
                         (SentencePiece) and `gpt2` (byte-level BPE)"
                    ),
                ))
            }
        };

        // Both builders have validated the token list already, so it can be read again as is.
        let tokens = metadata::tokens(metadata)?;
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
        let fim = crate::fim::detect(&metadata_id, &by_text, tokens.len());

        let mut control_first_bytes = [false; 256];
        for (text, _) in &parts.control_texts {
            control_first_bytes[usize::from(text.as_bytes()[0])] = true;
        }

        Ok(Self {
            inner: parts.inner,
            bytes: parts.bytes,
            control: parts.control,
            bos_id: parts.bos_id,
            eos_id: parts.eos_id,
            add_bos: parts.add_bos,
            end_of_generation: parts.end_of_generation,
            control_texts: parts.control_texts,
            control_first_bytes,
            fim,
        })
    }

    /// Document text -> ids. No BOS, and text such as "<bos>" or "<|im_start|>" in the document
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
        let bytes = text.as_bytes();
        while at < bytes.len() {
            if !self.control_first_bytes[usize::from(bytes[at])] {
                at += 1;
                continue;
            }
            // Control texts are sorted longest first, so the first match is the longest one.
            let control = self
                .control_texts
                .iter()
                .find(|(spelling, _)| bytes[at..].starts_with(spelling.as_bytes()));
            match control {
                Some((spelling, id)) => {
                    if plain_start < at {
                        ids.extend(self.encode(&text[plain_start..at])?);
                    }
                    ids.push(*id);
                    at += spelling.len();
                    plain_start = at;
                }
                None => at += 1,
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

    /// ids -> text; control tokens are skipped, byte tokens become bytes (invalid UTF-8 replaced
    /// lossily).
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

    /// The raw bytes a token stands for in document text (SentencePiece: ▁ -> space, <0xXX> ->
    /// that byte; byte-level BPE: each character mapped back to its byte; control tokens -> empty).
    pub fn token_bytes(&self, id: u32) -> Result<&[u8]> {
        let i = id as usize;
        if i >= self.control.len() {
            return Err(ModelError::UnknownToken {
                id,
                vocab_size: self.vocab_size(),
            });
        }
        Ok(self.bytes.get(i))
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

    /// Whether prompts start with BOS (`tokenizer.ggml.add_bos_token`, else llama.cpp's default
    /// for the vocabulary type).
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

    /// Tokens that end generation: eos, and the end-of-turn tokens of the vocabulary
    /// (`<end_of_turn>` for Gemma; for byte-level vocabularies the set llama.cpp uses, such as
    /// `<|im_end|>`, `<|eot_id|>` and `<|fim_pad|>`).
    pub fn end_of_generation_ids(&self) -> &[u32] {
        &self.end_of_generation
    }
}
