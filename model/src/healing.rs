//! Token healing: when a prompt ends inside what would normally be one token (indentation before a keyword, `retu`, an open quote), back it up to the previous token boundary and let the model write the removed bytes itself, constrained to them.
//!
//! A tokenizer splits `    return` into `▁▁▁` + `▁return` (Gemma) or `   ` + ` return` (byte-level
//! BPE), but a document that ends at the cursor after the indentation tokenizes as `▁▁▁▁`: a
//! boundary the model almost never saw before a keyword, so it writes a comment or nothing. Healing
//! drops the prompt's last token(s) and makes the first generated token(s) spell the dropped bytes
//! (or begin with them), so the model chooses the tokenization it would have used had it written
//! the text itself. When the model's own choice is the dropped token, decoding continues exactly
//! as without healing.

use crate::error::Result;
use crate::tokenizer::Tokenizer;

/// Bytes healing may take back at most: one ordinary token, or a run of indentation.
pub const MAX_HEAL_BYTES: usize = 64;

/// Tokens healing may take back at most: a partial identifier is rarely split into more.
const MAX_HEAL_TOKENS: usize = 4;

/// What healing took off the end of a prompt.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Healing {
    /// How many tokens were removed from the end of the prompt.
    pub tokens: usize,
    /// The text those tokens stood for, which the generated text must begin with. Empty when
    /// nothing was healed.
    pub text: String,
}

impl Healing {
    /// Nothing healed.
    pub fn none() -> Self {
        Self::default()
    }

    pub fn is_active(&self) -> bool {
        !self.text.is_empty()
    }
}

/// Decides how many tokens at the end of `tokens` to take back. `tokens[..protected]` are never
/// taken (BOS, cross-file context, the first token of a window whose space prefix is not document
/// text). Returns [`Healing::none`] when nothing should be taken back.
///
/// Takes back the longest run of last tokens (at most [`MAX_HEAL_TOKENS`]) whose joined bytes are
/// a proper beginning of some other token: `retu`, split as `re` + `tu`, is the beginning of
/// `return`, so both go and the model writes `return` itself. A run never reaches back over a
/// line break, and never starts with a bare line break: healing one would let the model answer
/// with a blank line where the user is about to write. Control tokens and bytes that are not
/// whole UTF-8 characters are never taken.
pub fn plan(tokenizer: &Tokenizer, tokens: &[u32], protected: usize) -> Result<Healing> {
    let mut best = Healing::none();
    let mut bytes: Vec<u8> = Vec::new();
    for taken in 1..=MAX_HEAL_TOKENS {
        if tokens.len() < protected + taken {
            break;
        }
        let id = tokens[tokens.len() - taken];
        if tokenizer.is_control(id) {
            break;
        }
        let piece = tokenizer.token_bytes(id)?;
        let only_newlines = piece.iter().all(|&b| b == b'\n' || b == b'\r');
        if piece.is_empty() || only_newlines || (taken > 1 && piece.contains(&b'\n')) {
            break;
        }
        if piece.len() + bytes.len() > MAX_HEAL_BYTES {
            break;
        }
        let mut joined = piece.to_vec();
        joined.extend_from_slice(&bytes);
        bytes = joined;
        if !extensible(tokenizer, &bytes) {
            break;
        }
        if let Ok(text) = std::str::from_utf8(&bytes) {
            best = Healing {
                tokens: taken,
                text: text.to_string(),
            };
        }
    }
    Ok(best)
}

/// Whether some token other than `piece` itself begins with `piece`'s bytes.
fn extensible(tokenizer: &Tokenizer, piece: &[u8]) -> bool {
    (0..tokenizer.vocab_size() as u32).any(|id| {
        !tokenizer.is_control(id)
            && tokenizer
                .token_bytes(id)
                .is_ok_and(|bytes| bytes.len() > piece.len() && bytes.starts_with(piece))
    })
}

/// The constraint on the next token while healed bytes are still owed: the token must begin with
/// `owed`, or be a non-empty beginning of it (then the rest is owed by the next token).
///
/// Sets the logits of every other token to -infinity. Returns false when no token qualifies
/// (the caller then drops the constraint: the model writes freely, as without healing).
pub fn mask(tokenizer: &Tokenizer, owed: &[u8], logits: &mut [f32]) -> bool {
    let mut any = false;
    for (id, logit) in logits.iter_mut().enumerate() {
        if allowed(tokenizer, owed, id as u32) {
            any |= *logit != f32::NEG_INFINITY;
        } else {
            *logit = f32::NEG_INFINITY;
        }
    }
    any
}

/// Whether token `id` may come next while `owed` bytes are owed.
pub fn allowed(tokenizer: &Tokenizer, owed: &[u8], id: u32) -> bool {
    if tokenizer.is_control(id) {
        return false;
    }
    match tokenizer.token_bytes(id) {
        Ok(bytes) if !bytes.is_empty() => bytes.starts_with(owed) || owed.starts_with(bytes),
        _ => false,
    }
}

/// The healed bytes still owed after token `id` was chosen with `owed` bytes owed.
pub fn remaining<'a>(tokenizer: &Tokenizer, owed: &'a [u8], id: u32) -> &'a [u8] {
    let len = tokenizer.token_bytes(id).map_or(0, <[u8]>::len);
    owed.get(len..).unwrap_or(&[])
}

/// Strips the healed text from the front of a growing output stream: the first `owed` bytes of
/// the decoded text are the user's own and must not be suggested again.
#[derive(Debug, Clone)]
pub struct Stripper {
    owed: usize,
}

impl Stripper {
    pub fn new(healing: &Healing) -> Self {
        Self {
            owed: healing.text.len(),
        }
    }

    /// The constraint was dropped (no token could spell the owed bytes): nothing more is stripped.
    pub fn give_up(&mut self) {
        self.owed = 0;
    }

    /// The part of `piece` that is new text.
    pub fn strip<'a>(&mut self, piece: &'a str) -> &'a str {
        if self.owed == 0 {
            return piece;
        }
        // Healed bytes are whole characters and the constraint made the output begin with them,
        // so the cut falls on a character boundary; `get` guards the impossible case anyway.
        let cut = self.owed.min(piece.len());
        self.owed -= cut;
        piece.get(cut..).unwrap_or("")
    }
}
