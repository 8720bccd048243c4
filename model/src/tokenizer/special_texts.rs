//! The token spellings llama.cpp recognizes while loading a byte-level vocabulary: which ones end generation and which ones it turns into control tokens.
//!
//! Older GGUF files do not mark every special token as control, so llama.cpp finds end-of-turn
//! and fill-in-the-middle tokens by their text, adds some of them to its end-of-generation set and
//! overrides their type to control. A control token is never cut out of document text, so the
//! override changes token ids: a document that contains `<|endoftext|>` is tokenized as the
//! characters `<`, `|`, `endoftext`… even where the file calls that token user-defined. These lists
//! follow llama.cpp's `llama_vocab::impl::load` (src/llama-vocab.cpp).

/// Spellings of end-of-turn tokens (llama.cpp's EOT detection).
const END_OF_TURN: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<｜end▁of▁sentence｜>",
    "<end_of_utterance>",
];

/// Spellings of the fill-in-the-middle tokens llama.cpp detects by text.
const FIM: &[&str] = &[
    // Prefix.
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<｜fim▁begin｜>",
    "<PRE>",
    "▁<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
    // Suffix.
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<｜fim▁hole｜>",
    "<SUF>",
    "▁<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
    // Middle.
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<｜fim▁end｜>",
    "<MID>",
    "▁<MID>",
    "<|code_middle|>",
    "<|middle|>",
];

/// Spellings of the fill-in-the-middle tokens that also end generation: padding, repository name
/// and file separator. A FIM model emits them when the middle is complete.
const FIM_END: &[&str] = &[
    "<|fim_pad|>",
    "<fim-pad>",
    "<fim_pad>",
    "<PAD>",
    "[PAD]",
    "<|fim_repo|>",
    "<|repo_name|>",
    "<fim-repo>",
    "<REPO>",
    "<reponame>",
    "<|file_sep|>",
];

/// Spellings llama.cpp adds to the end-of-generation set besides the end-of-turn ones.
const END_OF_GENERATION: &[&str] = &[
    "<|eom_id|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "</s>",
    "[EOS]",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "[e~[",
];

/// Whether llama.cpp ends generation at a token spelled `text`.
pub fn ends_generation(text: &str) -> bool {
    END_OF_TURN.contains(&text) || FIM_END.contains(&text) || END_OF_GENERATION.contains(&text)
}

/// Whether llama.cpp treats a token spelled `text` as a control token whatever its GGUF type.
pub fn forced_control(text: &str) -> bool {
    ends_generation(text) || FIM.contains(&text)
}
