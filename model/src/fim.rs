//! Fill-in-the-middle: which special tokens a model uses to complete between a prefix and a suffix, found from GGUF metadata or from the token texts each model family is known to use, and the prompts built with them.
//!
//! A FIM model sees the text after the cursor too, so it can close a bracket that is already
//! there instead of writing a second one. Two orders exist: prefix-suffix-middle (PSM) and
//! suffix-prefix-middle (SPM). SPM puts the suffix first, so while the user types at the cursor
//! (the prefix grows, the suffix stays) the cached tokens reach up to the cursor; PSM's cache ends
//! where the prefix starts to differ. SPM is preferred where the model was trained with it.

use std::collections::HashMap;

/// The FIM tokens of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FimTokens {
    pub prefix: u32,
    pub suffix: u32,
    pub middle: u32,
    /// Ends the middle when the model has one (`<|fim_pad|>`, `<EOT>`), besides end-of-sequence.
    pub end: Option<u32>,
    /// Whether the model was trained with suffix-first prompts too.
    pub suffix_first: bool,
}

/// GGUF metadata keys llama.cpp writes for FIM tokens.
pub const KEY_PREFIX: &str = "tokenizer.ggml.fim_pre_token_id";
pub const KEY_SUFFIX: &str = "tokenizer.ggml.fim_suf_token_id";
pub const KEY_MIDDLE: &str = "tokenizer.ggml.fim_mid_token_id";
pub const KEY_PAD: &str = "tokenizer.ggml.fim_pad_token_id";

/// Token texts of the families that predate the metadata keys: (prefix, suffix, middle, end,
/// suffix-first).
const KNOWN_FAMILIES: [(&str, &str, &str, Option<&str>, bool); 5] = [
    // Qwen2.5-Coder (no SPM training).
    (
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
        Some("<|fim_pad|>"),
        false,
    ),
    // StarCoder and StarCoder 2, Granite Code.
    (
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
        Some("<fim_pad>"),
        false,
    ),
    // DeepSeek-Coder.
    (
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
        None,
        false,
    ),
    // CodeLlama (trained with both orders).
    ("▁<PRE>", "▁<SUF>", "▁<MID>", Some("▁<EOT>"), true),
    ("<PRE>", "<SUF>", "<MID>", Some("<EOT>"), true),
];

/// Finds the FIM tokens: from the metadata ids when all three are present (and inside the
/// vocabulary), else from the known token texts. `None` for models without FIM (Gemma 3).
pub fn detect(
    metadata_id: &dyn Fn(&str) -> Option<u32>,
    vocabulary: &HashMap<&str, u32>,
    vocab_size: usize,
) -> Option<FimTokens> {
    let in_vocab = |id: u32| (id as usize) < vocab_size;
    if let (Some(prefix), Some(suffix), Some(middle)) = (
        metadata_id(KEY_PREFIX),
        metadata_id(KEY_SUFFIX),
        metadata_id(KEY_MIDDLE),
    ) {
        if [prefix, suffix, middle].into_iter().all(in_vocab) {
            // Metadata does not say which orders the model saw; only CodeLlama-style vocabularies did SPM.
            let suffix_first =
                vocabulary.contains_key("▁<SUF>") || vocabulary.contains_key("<SUF>");
            return Some(FimTokens {
                prefix,
                suffix,
                middle,
                end: metadata_id(KEY_PAD).filter(|&id| in_vocab(id)),
                suffix_first,
            });
        }
    }
    KNOWN_FAMILIES
        .iter()
        .find_map(|&(prefix, suffix, middle, end, suffix_first)| {
            Some(FimTokens {
                prefix: *vocabulary.get(prefix)?,
                suffix: *vocabulary.get(suffix)?,
                middle: *vocabulary.get(middle)?,
                end: end.and_then(|text| vocabulary.get(text).copied()),
                suffix_first,
            })
        })
}

/// The prompt for a completion between `prefix` and `suffix` (already tokenized, no BOS), in the
/// order the model prefers: SPM `<SUF> suffix <PRE> prefix <MID>` when it was trained with it,
/// else PSM `<PRE> prefix <SUF> suffix <MID>`.
pub fn prompt(tokens: &FimTokens, bos: Option<u32>, prefix: &[u32], suffix: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(prefix.len() + suffix.len() + 4);
    out.extend(bos);
    if tokens.suffix_first {
        out.push(tokens.suffix);
        out.extend_from_slice(suffix);
        out.push(tokens.prefix);
        out.extend_from_slice(prefix);
    } else {
        out.push(tokens.prefix);
        out.extend_from_slice(prefix);
        out.push(tokens.suffix);
        out.extend_from_slice(suffix);
    }
    out.push(tokens.middle);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary(texts: &[&'static str]) -> HashMap<&'static str, u32> {
        texts
            .iter()
            .enumerate()
            .map(|(id, text)| (*text, id as u32 + 10))
            .collect()
    }

    #[test]
    fn metadata_ids_win_over_token_texts() {
        let vocab = vocabulary(&["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]);
        let ids: HashMap<&str, u32> = [
            (KEY_PREFIX, 1),
            (KEY_SUFFIX, 2),
            (KEY_MIDDLE, 3),
            (KEY_PAD, 4),
        ]
        .into();
        let found = detect(&|key| ids.get(key).copied(), &vocab, 100).unwrap();
        assert_eq!(
            (found.prefix, found.suffix, found.middle, found.end),
            (1, 2, 3, Some(4))
        );
        assert!(!found.suffix_first);
    }

    #[test]
    fn ids_outside_the_vocabulary_fall_back_to_texts() {
        let vocab = vocabulary(&[
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<|fim_pad|>",
        ]);
        let found = detect(&|_| Some(5000), &vocab, 100).unwrap();
        assert_eq!(
            (found.prefix, found.suffix, found.middle, found.end),
            (10, 11, 12, Some(13))
        );
    }

    #[test]
    fn each_known_family_is_found_and_gemma_has_none() {
        let deepseek = vocabulary(&["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"]);
        assert_eq!(
            detect(&|_| None, &deepseek, 100).map(|t| t.middle),
            Some(12)
        );
        let starcoder = vocabulary(&["<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<fim_pad>"]);
        let found = detect(&|_| None, &starcoder, 100).unwrap();
        assert_eq!((found.prefix, found.end), (10, Some(13)));
        let codellama = vocabulary(&["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"]);
        let found = detect(&|_| None, &codellama, 100).unwrap();
        assert!(found.suffix_first);
        assert_eq!(found.end, Some(13));
        let gemma = vocabulary(&["<bos>", "<start_of_turn>", "<end_of_turn>"]);
        assert_eq!(detect(&|_| None, &gemma, 100), None);
    }

    #[test]
    fn prompts_follow_the_preferred_order() {
        let psm = FimTokens {
            prefix: 1,
            suffix: 2,
            middle: 3,
            end: None,
            suffix_first: false,
        };
        assert_eq!(
            prompt(&psm, Some(0), &[10, 11], &[20]),
            [0, 1, 10, 11, 2, 20, 3]
        );
        let spm = FimTokens {
            suffix_first: true,
            ..psm
        };
        assert_eq!(prompt(&spm, None, &[10, 11], &[20]), [2, 20, 1, 10, 11, 3]);
    }

    #[test]
    fn suffix_first_prompts_keep_their_start_while_the_prefix_grows() {
        let spm = FimTokens {
            prefix: 1,
            suffix: 2,
            middle: 3,
            end: None,
            suffix_first: true,
        };
        let before = prompt(&spm, None, &[10], &[20, 21]);
        let after = prompt(&spm, None, &[10, 11], &[20, 21]);
        // Everything up to the typed token is shared, so only the new token and <MID> are computed.
        let shared = before
            .iter()
            .zip(&after)
            .take_while(|(a, b)| a == b)
            .count();
        assert_eq!(shared, before.len() - 1);
    }
}
