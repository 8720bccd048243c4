//! SentencePiece vocabularies (`tokenizer.ggml.model = "llama"`: Gemma 3, Llama 2, CodeLlama) rebuilt as a `tokenizers` BPE that reproduces llama.cpp exactly.
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
//! When `tokenizer.ggml.add_space_prefix` is true (or missing, Llama 2 and CodeLlama), llama.cpp
//! puts a space in front of every piece of text it tokenizes after a special token or at the start,
//! so that the first word is spelled like a word inside a sentence (`▁def`). `Tokenizer::encode`
//! does that, and cuts out the user-defined tokens itself to know where the pieces start.
//!
//! Control tokens (`<bos>`, `<start_of_turn>`, ...) are never produced from document text: they
//! are neither added tokens nor the result of any merge, so a file containing `<bos>` is read as
//! the characters `<`, `bos`, `>`, which is what llama.cpp does when it tokenizes without parsing
//! special tokens.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::Replace;
use tokenizers::AddedToken;

use super::metadata::{
    self, array, bad, hf_error, optional_bool, Metadata, KEY_ADD_BOS, KEY_BOS, KEY_EOS, KEY_TOKENS,
};
use super::{Parts, SpacePrefix, TokenBytes};
use crate::error::Result;

/// The character SentencePiece writes in place of a space inside normal tokens.
const SPACE_MARKER: &str = "\u{2581}";

/// The metadata keys only SentencePiece vocabularies use.
const KEY_SCORES: &str = "tokenizer.ggml.scores";
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

/// Builds the encoder and token tables of a SentencePiece vocabulary.
pub(super) fn build(metadata: &Metadata) -> Result<Parts> {
    // llama.cpp prepends a space to the pieces of text between special tokens when this flag is
    // true (Llama 2, CodeLlama), and assumes true when the key is absent.
    let add_space_prefix = optional_bool(metadata, KEY_ADD_SPACE_PREFIX)?.unwrap_or(true);

    let tokens = metadata::tokens(metadata)?;
    let n = tokens.len();
    let scores = array(metadata, KEY_SCORES)?
        .iter()
        .map(Value::to_f32)
        .collect::<std::result::Result<Vec<f32>, _>>()
        .map_err(|_| bad(KEY_SCORES, "not an array of f32"))?;
    if scores.len() != n {
        return Err(bad(
            KEY_SCORES,
            &format!("{} entries for {n} tokens", scores.len()),
        ));
    }
    let kinds: Vec<TokenKind> = metadata::token_type_codes(metadata, n)?
        .into_iter()
        .map(TokenKind::from_code)
        .collect();

    let bos_id = metadata::token_id(metadata, KEY_BOS, n)?;
    let eos_id = metadata::token_id(metadata, KEY_EOS, n)?;
    // llama.cpp adds BOS for SentencePiece vocabularies unless the file says otherwise.
    let add_bos = optional_bool(metadata, KEY_ADD_BOS)?.unwrap_or(true);

    let bytes = token_bytes_table(&tokens, &kinds)?;
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
    // Without a space prefix, the inner tokenizer cuts user-defined tokens out of the text itself.
    // With one, `Tokenizer::encode` cuts them out first, because llama.cpp puts the space in front
    // of each piece of text between them, which the inner tokenizer cannot do.
    let user_defined: Vec<(String, u32)> = (0..n)
        .filter(|&id| kinds[id] == TokenKind::UserDefined && matchable(id))
        .map(|id| (tokens[id].to_owned(), id as u32))
        .collect();
    let space_prefix = if add_space_prefix {
        Some(SpacePrefix::new(
            user_defined,
            kinds
                .iter()
                .map(|k| matches!(k, TokenKind::Normal | TokenKind::Byte))
                .collect(),
        ))
    } else {
        let added: Vec<AddedToken> = user_defined
            .iter()
            .map(|(text, _)| AddedToken::from(text.as_str(), false).normalized(false))
            .collect();
        inner.add_tokens(&added);
        None
    };

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

    Ok(Parts {
        inner,
        bytes,
        control,
        bos_id,
        eos_id,
        add_bos,
        end_of_generation,
        control_texts,
        space_prefix,
    })
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
fn token_bytes_table(tokens: &[&str], kinds: &[TokenKind]) -> Result<TokenBytes> {
    let mut table = TokenBytes::with_capacity(tokens.len(), tokens.iter().map(|t| t.len()).sum());
    for (text, kind) in tokens.iter().zip(kinds) {
        match kind {
            TokenKind::Normal => table.push(text.replace(SPACE_MARKER, " ").as_bytes()),
            TokenKind::UserDefined => table.push(text.as_bytes()),
            TokenKind::Byte => table.push(&[parse_byte_token(text).ok_or_else(|| {
                bad(
                    KEY_TOKENS,
                    &format!("byte token `{text}` is not of the form <0xXX>"),
                )
            })?]),
            TokenKind::Control => table.push(&[]),
        }
    }
    Ok(table)
}

/// Parses a byte-fallback token such as `<0x0A>`.
pub(super) fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
