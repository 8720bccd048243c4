//! Byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`: Qwen 2.5, Llama 3, DeepSeek-Coder, StarCoder…) rebuilt as a `tokenizers` BPE that reproduces llama.cpp.
//!
//! Such a file stores token strings in GPT-2's byte-level alphabet (every byte is written as one
//! printable character, a space as `Ġ`), a ranked merge list (`"Ġ t"`, `"Ġt he"`…), one type
//! per token and the name of a pre-tokenizer (`tokenizer.ggml.pre`). llama.cpp tokenizes document
//! text in three steps, which map one to one onto `tokenizers` parts:
//!
//! 1. User-defined tokens (added tokens such as `<tool_call>`, stored as raw text) are cut out
//!    of the raw text: non-special added tokens matched on the un-normalized text.
//! 2. The rest is split into words by the pre-tokenizer's regexes and each word's bytes are
//!    mapped to the byte-level alphabet (see [`super::pre_tokenizers`]).
//! 3. Each word is merged by rank, lowest first and leftmost among equals: a `tokenizers` BPE
//!    with the file's merges. For the Llama 3 family a word that is itself a token is taken whole
//!    (`ignore_merges`).
//!
//! Control tokens (`<|im_start|>`, `<|endoftext|>`…) are never cut out of document text; llama.cpp
//! also treats tokens with certain spellings as control whatever their stored type (see
//! [`super::special_texts`]).

use std::collections::HashMap;

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::AddedToken;

use super::metadata::{
    self, bad, hf_error, integer, optional_bool, optional_string, string_array, Metadata,
    KEY_ADD_BOS, KEY_BOS, KEY_EOS, KEY_TOKENS, KEY_TOKEN_TYPE,
};
use super::pre_tokenizers::PreTokenizerKind;
use super::sentencepiece::parse_byte_token;
use super::special_texts;
use super::{Parts, TokenBytes};
use crate::error::Result;

/// The metadata keys only byte-level vocabularies use.
const KEY_MERGES: &str = "tokenizer.ggml.merges";
const KEY_PRE: &str = "tokenizer.ggml.pre";

/// Keys of tokens that end generation besides end-of-sequence, when the file names them.
const END_OF_GENERATION_KEYS: &[&str] = &[
    "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",
    "tokenizer.ggml.fim_pad_token_id",
    "tokenizer.ggml.fim_rep_token_id",
    "tokenizer.ggml.fim_sep_token_id",
];

/// The id llama.cpp assumes for BOS and EOS of a byte-level vocabulary whose file names neither.
const DEFAULT_BOS_EOS: u32 = 11;

/// GGUF token types, as llama.cpp numbers them, reduced to what tokenizing needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokenKind {
    /// Ordinary text in the byte-level alphabet, produced by merges.
    Normal,
    /// A control token that prompts may spell out (control and unknown types).
    Control,
    /// A marker without text that is never matched, not even in prompts (unused, undefined).
    Unused,
    /// Raw text cut out of documents before anything else.
    UserDefined,
    /// One byte, spelled `<0xXX>` or as its byte-level character.
    Byte,
}

impl TokenKind {
    fn from_code(code: i64) -> Self {
        match code {
            1 => Self::Normal,
            2 | 3 => Self::Control,
            4 => Self::UserDefined,
            6 => Self::Byte,
            _ => Self::Unused,
        }
    }

    fn has_text(self) -> bool {
        matches!(self, Self::Normal | Self::UserDefined | Self::Byte)
    }
}

/// Builds the encoder and token tables of a byte-level BPE vocabulary.
pub(super) fn build(metadata: &Metadata) -> Result<Parts> {
    let pre_name = optional_string(metadata, KEY_PRE)?;
    let pre = PreTokenizerKind::from_name(pre_name).ok_or_else(|| {
        bad(
            KEY_PRE,
            &format!(
                "pre-tokenizer `{}` is not supported; supported: {}",
                pre_name.unwrap_or_default(),
                PreTokenizerKind::SUPPORTED
            ),
        )
    })?;

    let tokens = metadata::tokens(metadata)?;
    let n = tokens.len();
    // llama.cpp reads every token as normal when the file has no types.
    let codes = if metadata.contains_key(KEY_TOKEN_TYPE) {
        metadata::token_type_codes(metadata, n)?
    } else {
        vec![1; n]
    };
    let kinds: Vec<TokenKind> = tokens
        .iter()
        .zip(codes)
        .map(|(text, code)| {
            if special_texts::forced_control(text) {
                TokenKind::Control
            } else {
                TokenKind::from_code(code)
            }
        })
        .collect();

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
    let merges = parse_merges(&string_array(metadata, KEY_MERGES)?, &vocab)?;

    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .ignore_merges(pre.ignores_merges())
        .build()
        .map_err(hf_error)?;
    let mut inner = tokenizers::Tokenizer::new(bpe);
    inner.with_pre_tokenizer(Some(pre.build()?));
    // The decoder is not used by `decode` (which works on bytes), but it keeps the inner
    // tokenizer a complete, faithful description of the vocabulary.
    inner.with_decoder(Some(ByteLevelDecoder::new(false, false, false)));
    let added: Vec<AddedToken> = (0..n)
        .filter(|&id| kinds[id] == TokenKind::UserDefined)
        .map(|id| AddedToken::from(tokens[id], false).normalized(false))
        .collect();
    inner.add_tokens(&added);

    let (bos_id, eos_id, add_bos) = bos_and_eos(metadata, pre, n)?;

    Ok(Parts {
        inner,
        bytes: token_bytes_table(&tokens, &kinds)?,
        control: kinds.iter().map(|kind| !kind.has_text()).collect(),
        bos_id,
        eos_id,
        add_bos,
        end_of_generation: end_of_generation(metadata, &tokens, eos_id),
        control_texts: control_texts(&tokens, &kinds),
        space_prefix: None,
    })
}

/// Parses `"left right"` merges, checking that both halves and their concatenation are tokens.
///
/// The halves are separated by the first space after the first byte, as llama.cpp reads them.
/// A merge listed twice keeps its first (best) rank, also as in llama.cpp.
fn parse_merges(lines: &[&str], vocab: &Vocab) -> Result<Vec<(String, String)>> {
    let mut seen = std::collections::HashSet::with_capacity(lines.len());
    let mut merges = Vec::with_capacity(lines.len());
    for (rank, line) in lines.iter().enumerate() {
        // A space byte is always a character boundary, so slicing there is safe.
        let space = line
            .bytes()
            .skip(1)
            .position(|byte| byte == b' ')
            .map(|at| at + 1);
        let Some((left, right)) = space.map(|at| (&line[..at], &line[at + 1..])) else {
            return Err(bad(
                KEY_MERGES,
                &format!("merge {rank} `{line}` is not two tokens separated by a space"),
            ));
        };
        for part in [left, right] {
            if !vocab.contains_key(part) {
                return Err(bad(
                    KEY_MERGES,
                    &format!("merge {rank} `{line}` names `{part}`, which is not a token"),
                ));
            }
        }
        if !vocab.contains_key(&format!("{left}{right}")) {
            return Err(bad(
                KEY_MERGES,
                &format!("merge {rank} `{line}` makes `{left}{right}`, which is not a token"),
            ));
        }
        if seen.insert((left, right)) {
            merges.push((left.to_owned(), right.to_owned()));
        }
    }
    Ok(merges)
}

/// BOS, EOS and whether prompts start with BOS.
///
/// llama.cpp assumes id 11 for both when the file names neither, and adds BOS by default only
/// for the Llama 3 family; `tokenizer.ggml.add_bos_token` overrides that default.
fn bos_and_eos(metadata: &Metadata, pre: PreTokenizerKind, n: usize) -> Result<(u32, u32, bool)> {
    let default = (DEFAULT_BOS_EOS as usize) < n;
    let eos_id = match metadata::optional_token_id(metadata, KEY_EOS, n)? {
        Some(id) => id,
        None if default => DEFAULT_BOS_EOS,
        None => return Err(bad(KEY_EOS, "missing")),
    };
    let add_bos = optional_bool(metadata, KEY_ADD_BOS)?.unwrap_or(pre.adds_bos_by_default());
    let bos_id = match metadata::optional_token_id(metadata, KEY_BOS, n)? {
        Some(id) => id,
        None if default => DEFAULT_BOS_EOS,
        None if add_bos => return Err(bad(KEY_BOS, "missing, but BOS is to be added")),
        // Never put into a prompt, since BOS is not added; EOS is a harmless stand-in.
        None => eos_id,
    };
    Ok((bos_id, eos_id, add_bos))
}

/// EOS first, then every other token llama.cpp ends generation at: those the metadata names
/// (end of turn, end of message, FIM padding, repository and file separators) and those spelled
/// like one (`<|im_end|>`, `<|eot_id|>`, `<|endoftext|>`, `<|fim_pad|>`…).
fn end_of_generation(metadata: &Metadata, tokens: &[&str], eos_id: u32) -> Vec<u32> {
    let n = tokens.len();
    let from_metadata = END_OF_GENERATION_KEYS.iter().filter_map(|key| {
        // llama.cpp ignores such an id when it lies outside the vocabulary, and so does this.
        let id = metadata.get(*key).and_then(integer)?;
        u32::try_from(id).ok().filter(|&id| (id as usize) < n)
    });
    let by_text = tokens
        .iter()
        .enumerate()
        .filter(|(_, text)| special_texts::ends_generation(text))
        .map(|(id, _)| id as u32);
    let mut others: Vec<u32> = from_metadata
        .chain(by_text)
        .filter(|&id| id != eos_id)
        .collect();
    others.sort_unstable();
    others.dedup();
    let mut ids = vec![eos_id];
    ids.extend(others);
    ids
}

/// The control tokens a rendered prompt may spell out, longest first. llama.cpp matches control
/// and unknown tokens when it parses special tokens, but not unused ones.
fn control_texts(tokens: &[&str], kinds: &[TokenKind]) -> Vec<(String, u32)> {
    let mut texts: Vec<(String, u32)> = (0..tokens.len())
        .filter(|&id| kinds[id] == TokenKind::Control && !tokens[id].is_empty())
        .map(|id| (tokens[id].to_owned(), id as u32))
        .collect();
    texts.sort_by_key(|(text, _)| std::cmp::Reverse(text.len()));
    texts
}

/// Builds the table of document bytes for every token.
fn token_bytes_table(tokens: &[&str], kinds: &[TokenKind]) -> Result<TokenBytes> {
    let alphabet = ByteAlphabet::new();
    let mut table = TokenBytes::with_capacity(tokens.len(), tokens.iter().map(|t| t.len()).sum());
    let mut scratch = Vec::new();
    for (text, kind) in tokens.iter().zip(kinds) {
        match kind {
            TokenKind::Normal => {
                alphabet.decode(text, &mut scratch);
                table.push(&scratch);
            }
            TokenKind::UserDefined => table.push(text.as_bytes()),
            TokenKind::Byte => {
                let byte = parse_byte_token(text).or_else(|| alphabet.single_byte(text));
                table.push(&[byte.ok_or_else(|| {
                    bad(
                        KEY_TOKENS,
                        &format!(
                            "byte token `{text}` is neither <0xXX> nor one byte-level character"
                        ),
                    )
                })?]);
            }
            TokenKind::Control | TokenKind::Unused => table.push(&[]),
        }
    }
    Ok(table)
}

/// GPT-2's reversible mapping between bytes and printable characters.
///
/// Bytes that are printable Latin-1 characters (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for
/// themselves; the other 68 bytes, in increasing order, are written as U+0100, U+0101… so that no
/// token string contains a space or a control character.
struct ByteAlphabet {
    byte_of_char: HashMap<char, u8>,
}

impl ByteAlphabet {
    fn new() -> Self {
        let mut byte_of_char = HashMap::with_capacity(256);
        let mut next_stand_in = 0x100u32;
        for byte in 0..=255u8 {
            let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            let ch = if printable {
                char::from(byte)
            } else {
                let ch = char::from_u32(next_stand_in).expect("U+0100..U+0143 are characters");
                next_stand_in += 1;
                ch
            };
            byte_of_char.insert(ch, byte);
        }
        Self { byte_of_char }
    }

    /// Appends the bytes a byte-level string stands for to `out` (after clearing it). A character
    /// outside the alphabet, which only a malformed vocabulary contains, stands for its own UTF-8.
    fn decode(&self, text: &str, out: &mut Vec<u8>) {
        out.clear();
        for ch in text.chars() {
            match self.byte_of_char.get(&ch) {
                Some(&byte) => out.push(byte),
                None => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
    }

    /// The byte of a string that is exactly one byte-level character.
    fn single_byte(&self, text: &str) -> Option<u8> {
        let mut chars = text.chars();
        let ch = chars.next()?;
        match chars.next() {
            None => self.byte_of_char.get(&ch).copied(),
            Some(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_alphabet_is_gpt2s() {
        let alphabet = ByteAlphabet::new();
        assert_eq!(alphabet.byte_of_char.len(), 256);
        let mut bytes = Vec::new();
        // Space, newline and tab are GPT-2's well-known stand-ins.
        alphabet.decode("ĠĊĉhello", &mut bytes);
        assert_eq!(bytes, b" \n\thello");
        // "é" is C3 A9 in UTF-8: both bytes are printable Latin-1 and stand for themselves.
        alphabet.decode("Ã©", &mut bytes);
        assert_eq!(bytes, "é".as_bytes());
        assert_eq!(alphabet.single_byte("Ġ"), Some(b' '));
        assert_eq!(alphabet.single_byte("Ġt"), None);
    }

    #[test]
    fn merges_split_at_the_first_space_after_the_first_byte() {
        let vocab: Vocab = [("a", 0), ("b", 1), ("ab", 2), (" ", 3), ("  ", 4)]
            .into_iter()
            .map(|(text, id)| (text.to_owned(), id))
            .collect();
        let merges = parse_merges(&["a b", "a b", "   "], &vocab).expect("valid merges");
        let multibyte: Vocab = [("Ġ", 0), ("t", 1), ("Ġt", 2)]
            .into_iter()
            .map(|(text, id)| (text.to_owned(), id))
            .collect();
        assert_eq!(
            parse_merges(&["Ġ t"], &multibyte).expect("valid merge"),
            [("Ġ".to_owned(), "t".to_owned())]
        );
        // The duplicate keeps its first rank; "   " is the merge of " " with " ".
        assert_eq!(
            merges,
            [
                ("a".to_owned(), "b".to_owned()),
                (" ".to_owned(), " ".to_owned())
            ]
        );
        assert!(parse_merges(&["ab"], &vocab).is_err());
        assert!(parse_merges(&["a c"], &vocab).is_err());
        assert!(parse_merges(&["b a"], &vocab).is_err());
    }
}
