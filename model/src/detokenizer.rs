//! Streaming detokenizer: turns generated token ids into text without ever emitting half a UTF-8 character.
//!
//! A character can be spread over several tokens, either because it has no token of its own and
//! is spelled with byte-fallback tokens (`<0xF0>`, `<0x9F>`, ...), or because a token ends in the
//! middle of one. The detokenizer therefore keeps the bytes of an unfinished character until the
//! token that completes it arrives. Invalid bytes are replaced by U+FFFD exactly as
//! [`String::from_utf8_lossy`] would replace them in the whole output, so the concatenated stream
//! always equals [`Tokenizer::decode`] of the same ids.

use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Incremental `ids -> text` for one generated sequence.
#[derive(Debug)]
pub struct StreamingDetokenizer<'a> {
    tokenizer: &'a Tokenizer,
    /// Bytes of a character that is not complete yet (at most three bytes).
    pending: Vec<u8>,
}

impl<'a> StreamingDetokenizer<'a> {
    /// Starts an empty stream.
    pub fn new(tokenizer: &'a Tokenizer) -> Self {
        Self {
            tokenizer,
            pending: Vec::with_capacity(4),
        }
    }

    /// Feed one generated id; returns newly completed text (possibly empty). Never emits half a
    /// UTF-8 character or a dangling byte-fallback sequence.
    ///
    /// An id outside the vocabulary is an error and leaves the stream unchanged.
    pub fn push(&mut self, id: u32) -> Result<String> {
        let bytes = self.tokenizer.token_bytes(id)?;
        self.pending.extend_from_slice(bytes);

        let mut out = String::new();
        let mut consumed = 0;
        loop {
            let rest = &self.pending[consumed..];
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(text);
                    consumed = self.pending.len();
                    break;
                }
                Err(err) => {
                    let valid = err.valid_up_to();
                    out.push_str(&String::from_utf8_lossy(&rest[..valid]));
                    match err.error_len() {
                        // These bytes can never start a valid character, whatever follows; they
                        // get one replacement character, like `from_utf8_lossy` gives them.
                        Some(invalid) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            consumed += valid + invalid;
                        }
                        // The text ends inside a character that later bytes may still complete.
                        None => {
                            consumed += valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..consumed);
        Ok(out)
    }

    /// Flushes what is left (invalid leftover bytes become U+FFFD).
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}
