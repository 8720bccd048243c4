//! Tokenizer: text to token ids and back for the vocabulary in a GGUF file, reproducing llama.cpp's token ids exactly.
//!
//! Two vocabulary types are supported, chosen by `tokenizer.ggml.model`:
//!
//! * `llama`: SentencePiece vocabularies (Gemma 3, Llama 2, CodeLlama), see `sentencepiece.rs`.
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
    /// Set for SentencePiece vocabularies that put a space in front of each piece of text.
    space_prefix: Option<SpacePrefix>,
}

/// What [`Tokenizer`] needs to put a space in front of each piece of text the way llama.cpp does
/// for SentencePiece vocabularies with `tokenizer.ggml.add_space_prefix` (Llama 2, CodeLlama).
///
/// llama.cpp cuts the user-defined tokens out of the text first (each token in turn, longest
/// first, every occurrence from the left), then tokenizes each remaining piece of text with a
/// space in front of it, because every such piece follows a special token or the start.
struct SpacePrefix {
    /// The user-defined tokens that are cut out of document text, longest first.
    user_defined: Vec<(String, u32)>,
    /// Whether each token is a normal or byte token, that is, one that the merges of a piece of
    /// text produce; any other token ends a piece, so the token after it starts a new one.
    in_text: Vec<bool>,
}

impl SpacePrefix {
    fn new(mut user_defined: Vec<(String, u32)>, in_text: Vec<bool>) -> Self {
        // A stable sort keeps tokens of equal length in id order, so the result is deterministic.
        user_defined.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
        Self {
            user_defined,
            in_text,
        }
    }

    /// Splits `text` into pieces of text and user-defined tokens as llama.cpp's
    /// `tokenizer_st_partition` does without parsing special tokens.
    fn partition<'t>(&self, text: &'t str) -> Vec<Fragment<'t>> {
        // llama.cpp makes no fragment of empty text, so empty text gets no space either.
        if text.is_empty() {
            return Vec::new();
        }
        let mut fragments = vec![Fragment::Text(text)];
        for (spelling, id) in &self.user_defined {
            if !fragments
                .iter()
                .any(|f| matches!(f, Fragment::Text(t) if t.contains(spelling.as_str())))
            {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(mut rest) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(at) = rest.find(spelling.as_str()) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Token(*id));
                    rest = &rest[at + spelling.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }
}

/// A piece of document text, or a token cut out of it.
enum Fragment<'t> {
    Text(&'t str),
    Token(u32),
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
    /// Set for SentencePiece vocabularies that put a space in front of each piece of text.
    space_prefix: Option<SpacePrefix>,
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
            space_prefix: parts.space_prefix,
        })
    }

    /// Document text -> ids. No BOS, and text such as "<bos>" or "<|im_start|>" in the document
    /// is NEVER turned into control tokens.
    ///
    /// For SentencePiece vocabularies with a space prefix (see [`Tokenizer::adds_space_prefix`])
    /// the ids stand for the text with a space in front of it (and in front of every piece of text
    /// after a user-defined token), exactly as llama.cpp tokenizes it; use
    /// [`Tokenizer::document_lengths`] to map the ids back to offsets in `text`.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let Some(space_prefix) = &self.space_prefix else {
            let encoding = self.inner.encode_fast(text, false).map_err(hf_error)?;
            return Ok(encoding.get_ids().to_vec());
        };
        let mut ids = Vec::new();
        let mut spaced = String::new();
        for fragment in space_prefix.partition(text) {
            match fragment {
                Fragment::Token(id) => ids.push(id),
                Fragment::Text(piece) => {
                    // Every piece of text follows the start or a user-defined token, so llama.cpp
                    // puts a space in front of each of them.
                    spaced.clear();
                    spaced.push(' ');
                    spaced.push_str(piece);
                    let encoding = self.inner.encode_fast(spaced.as_str(), false);
                    ids.extend_from_slice(encoding.map_err(hf_error)?.get_ids());
                }
            }
        }
        Ok(ids)
    }

    /// Whether [`Tokenizer::encode`] puts a space in front of each piece of text, as llama.cpp
    /// does for SentencePiece vocabularies with `tokenizer.ggml.add_space_prefix` true or missing
    /// (Llama 2, CodeLlama). False for Gemma 3 and every byte-level vocabulary.
    pub fn adds_space_prefix(&self) -> bool {
        self.space_prefix.is_some()
    }

    /// The number of bytes of the document text each of `ids` stands for, where `ids` come from
    /// [`Tokenizer::encode`] or [`Tokenizer::encode_with_control`] (or a contiguous part of such
    /// ids that starts at a piece of text): the length of [`Tokenizer::token_bytes`], less the
    /// space that the encoder put in front of a piece of text and that is not in the document.
    /// Summing these lengths gives offsets into the encoded text. Equal to the `token_bytes`
    /// lengths for vocabularies without a space prefix.
    pub fn document_lengths(&self, ids: &[u32]) -> Result<Vec<usize>> {
        let mut lengths = Vec::with_capacity(ids.len());
        let mut starts_piece = true;
        for &id in ids {
            let bytes = self.token_bytes(id)?;
            let mut length = bytes.len();
            if let Some(space_prefix) = &self.space_prefix {
                let in_text = space_prefix.in_text[id as usize];
                // The first token of a piece of text carries the synthetic space; it is a normal
                // token that starts with a space whenever the vocabulary can spell `▁`.
                if starts_piece && in_text && bytes.first() == Some(&b' ') {
                    length -= 1;
                }
                starts_piece = !in_text;
            }
            lengths.push(length);
        }
        Ok(lengths)
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
        let ids = self.encode(text)?;
        let mut out = Vec::with_capacity(ids.len() + 1);
        if self.add_bos {
            out.push(self.bos_id);
        }
        out.extend_from_slice(&ids);
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

    /// ids from [`Tokenizer::encode`] -> the text again: like [`Tokenizer::decode`], but for
    /// vocabularies with a space prefix the leading space of the first token is removed, as
    /// llama.cpp's `llama_detokenize` does (only there: the space the encoder puts after a
    /// user-defined token stays, as in llama.cpp). Use [`Tokenizer::decode`] for generated tokens,
    /// which continue a text and whose spaces are real.
    pub fn decode_text(&self, ids: &[u32]) -> Result<String> {
        let mut text = self.decode(ids)?;
        if self.space_prefix.is_some() && text.starts_with(' ') {
            // llama.cpp strips the space only from the first token's own text; a first token
            // without text (a control token) ends the stripping without removing anything.
            if ids.first().is_some_and(|&id| !self.is_control(id)) {
                text.remove(0);
            }
        }
        Ok(text)
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
