//! The pre-tokenizers of byte-level BPE vocabularies: how `tokenizer.ggml.pre` splits text into words before merging, as llama.cpp's regex lists do.
//!
//! llama.cpp maps each `tokenizer.ggml.pre` value to a list of regexes (`llm_tokenizer_bpe` in
//! src/llama-vocab.cpp). Each regex splits every piece the previous ones left into its matches and
//! the text between them; nothing is dropped. That is exactly a sequence of `tokenizers` `Split`
//! pre-tokenizers with the `Isolated` behaviour, followed by the GPT-2 byte-to-character mapping.
//!
//! The regexes are llama.cpp's, rewritten where its regex engine reads them differently from
//! Oniguruma (which `tokenizers` uses):
//!
//! * llama.cpp runs `std::regex` on a copy of the text in which every non-ASCII whitespace
//!   character has been replaced by `\x0B`, so a character class written with non-ASCII ranges
//!   (`[一-龥ࠀ-一가-퟿]`, `[　-。]`) never matches a whitespace character such as U+3000. Here those
//!   classes are intersected with `\S`.
//! * In `std::regex` (ECMAScript) `$` matches only at the end of the piece; in Oniguruma it also
//!   matches before a newline, so `\z` is written instead.
//! * Its case-insensitive contraction group `(?i:'s|…)` is already spelled out as `'[sS]|…` in
//!   llama.cpp, which also keeps Oniguruma from matching `'ſ` (U+017F folds to `s`).

use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::SplitDelimiterBehavior;

use super::metadata::hf_error;
use crate::error::Result;

/// GPT-2's word regex as llama.cpp writes it. The original ends with `|\s+`; without it, a
/// whitespace run the other branches leave is still its own piece, so the splits are the same.
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

/// Llama 3's word regex: up to three digits per piece, letters with one leading non-letter.
const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Qwen 2's word regex: Llama 3's, with every digit its own piece.
const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Runs of CJK ideographs, of everything from U+0800 up to them, and of Hangul (DeepSeek),
/// without the whitespace characters in those ranges (see the module documentation).
const DEEPSEEK_CJK: &str = r"[\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}&&\S]+";

/// The pre-tokenizer families llama.cpp distinguishes, for the `tokenizer.ggml.pre` values this
/// crate supports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizerKind {
    /// Files without `tokenizer.ggml.pre`, or with `default`.
    Default,
    /// GPT-2 and the vocabularies that copied it (`gpt-2`, `phi-2`, `mpt`, `olmo`…).
    Gpt2,
    /// Llama 3 and its relatives (`llama-bpe`, `llama3`, `falcon3`…), merges ignored for whole words.
    Llama3,
    /// The Llama 3 regex with merges applied as usual (`dbrx`, `smaug-bpe`).
    Llama3Regex,
    /// Qwen 2 and 2.5 (`qwen2`, `deepseek-r1-qwen`, `stablelm2`…).
    Qwen2,
    /// DeepSeek LLM (`deepseek-llm`).
    DeepSeekLlm,
    /// DeepSeek-Coder (`deepseek-coder`).
    DeepSeekCoder,
    /// StarCoder and its relatives (`starcoder`, `refact`, `smollm`, `command-r`…).
    StarCoder,
    /// Falcon (`falcon`).
    Falcon,
}

impl PreTokenizerKind {
    /// The family of a `tokenizer.ggml.pre` value; `None` for values this crate does not know.
    ///
    /// A missing value means `Default`, as in llama.cpp (which warns that quality may suffer).
    /// An unknown value is an error, also as in llama.cpp: each family splits text differently,
    /// so guessing would silently give token ids the model was not trained on.
    pub fn from_name(name: Option<&str>) -> Option<Self> {
        let Some(name) = name else {
            return Some(Self::Default);
        };
        Some(match name {
            "default" => Self::Default,
            "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es"
            | "jina-v2-de" | "a.x-4.0" | "mellum" | "modern-bert" | "mpt" | "olmo" | "jais"
            | "trillion" | "granite-docling" | "exaone4" => Self::Gpt2,
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "jina-v5-nano" => Self::Llama3,
            "dbrx" | "smaug-bpe" => Self::Llama3Regex,
            "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "megrez" | "stablelm2"
            | "hunyuan" | "solar-open" => Self::Qwen2,
            "deepseek-llm" => Self::DeepSeekLlm,
            "deepseek-coder" => Self::DeepSeekCoder,
            "starcoder" | "refact" | "command-r" | "smollm" | "codeshell" | "exaone"
            | "minerva-7b" | "mellum2" => Self::StarCoder,
            "falcon" => Self::Falcon,
            _ => return None,
        })
    }

    /// The names accepted by [`PreTokenizerKind::from_name`], for error messages.
    pub const SUPPORTED: &'static str = "default, gpt-2, llama-bpe (llama3), dbrx, qwen2, \
        deepseek-llm, deepseek-coder, starcoder, refact, smollm, command-r, falcon, and their \
        aliases";

    /// Whether a word that is itself a vocabulary entry becomes that token without merging
    /// (llama.cpp's `ignore_merges`, set for the Llama 3 family).
    pub fn ignores_merges(self) -> bool {
        self == Self::Llama3
    }

    /// Whether llama.cpp adds BOS when the file does not say (`tokenizer.ggml.add_bos_token`).
    pub fn adds_bos_by_default(self) -> bool {
        self == Self::Llama3
    }

    /// llama.cpp's regexes for this family, in the order they split the text.
    fn regexes(self) -> Vec<&'static str> {
        match self {
            Self::Default => vec![r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
            Self::Gpt2 => vec![GPT2],
            Self::Llama3 | Self::Llama3Regex => vec![LLAMA3],
            Self::Qwen2 => vec![QWEN2],
            Self::DeepSeekLlm => vec![
                r"[\r\n]",
                // Cased letters (Unicode's `LC`), exactly as llama.cpp lists them; written as
                // escapes because several (U+1FD3, U+212A…) are canonically equivalent to other
                // characters, and an editor that normalizes text would silently change the ranges.
                concat!(
                    r"\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}",
                    r"\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}",
                    r"\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}",
                    r"\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}",
                    r"\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}",
                    r"\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}",
                    r"\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}",
                    r"\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}",
                    r"\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}",
                    r"\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}",
                    r"\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}",
                    r"\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}",
                    r"\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}",
                    r"\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}",
                    r"\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}",
                    r"\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}",
                    r"\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}",
                    r"\x{1E900}-\x{1E943}]+",
                ),
                // ASCII, full-width and CJK punctuation. llama.cpp's last range starts at U+3000,
                // which is whitespace and never matched there (see the module documentation).
                r"\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3001}-\x{3002}]+",
                r"\s+\z",
                DEEPSEEK_CJK,
                r"\p{N}+",
            ],
            Self::DeepSeekCoder => vec![
                r"[\r\n]",
                r"\s?\p{L}+",
                r"\s?\p{P}+",
                DEEPSEEK_CJK,
                r"\p{N}",
            ],
            Self::StarCoder => vec![r"\p{N}", GPT2],
            Self::Falcon => vec![r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"],
        }
    }

    /// The `tokenizers` pre-tokenizer: the regex splits, then the byte-to-character mapping.
    pub fn build(self) -> Result<PreTokenizerWrapper> {
        let mut steps = Vec::new();
        for regex in self.regexes() {
            let split = Split::new(
                SplitPattern::Regex(regex.to_owned()),
                SplitDelimiterBehavior::Isolated,
                false,
            )
            .map_err(hf_error)?;
            steps.push(PreTokenizerWrapper::Split(split));
        }
        // The regexes have split the text already; the byte-level step only maps bytes to
        // characters, without GPT-2's own regex and without a leading space.
        steps.push(PreTokenizerWrapper::ByteLevel(ByteLevel::new(
            false, false, false,
        )));
        Ok(PreTokenizerWrapper::Sequence(Sequence::new(steps)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::{OffsetReferential, OffsetType, PreTokenizedString, PreTokenizer};

    /// The pieces a pre-tokenizer cuts `text` into, mapped back to the original text.
    fn pieces(kind: PreTokenizerKind, text: &str) -> Vec<String> {
        let pre = kind.build().expect("build the pre-tokenizer");
        let mut pretokenized = PreTokenizedString::from(text);
        pre.pre_tokenize(&mut pretokenized).expect("pre-tokenize");
        pretokenized
            .get_splits(OffsetReferential::Original, OffsetType::Byte)
            .into_iter()
            .map(|(_, (start, end), _)| text[start..end].to_owned())
            .collect()
    }

    #[test]
    fn every_family_builds_and_loses_no_text() {
        let text = "fn main() {\r\n\tlet x = 12345; // 中文　注释 🦀 it's\u{3000}done  \n}\n";
        for kind in [
            PreTokenizerKind::Default,
            PreTokenizerKind::Gpt2,
            PreTokenizerKind::Llama3,
            PreTokenizerKind::Llama3Regex,
            PreTokenizerKind::Qwen2,
            PreTokenizerKind::DeepSeekLlm,
            PreTokenizerKind::DeepSeekCoder,
            PreTokenizerKind::StarCoder,
            PreTokenizerKind::Falcon,
        ] {
            assert_eq!(pieces(kind, text).concat(), text, "{kind:?}");
        }
    }

    #[test]
    fn digits_are_grouped_as_each_family_expects() {
        assert_eq!(
            pieces(PreTokenizerKind::Qwen2, "x=12345"),
            ["x", "=", "1", "2", "3", "4", "5"]
        );
        assert_eq!(
            pieces(PreTokenizerKind::Llama3, "x=12345"),
            ["x", "=", "123", "45"]
        );
        assert_eq!(
            pieces(PreTokenizerKind::Gpt2, "x=12345"),
            ["x", "=", "12345"]
        );
    }

    #[test]
    fn cjk_runs_do_not_swallow_ideographic_spaces() {
        assert_eq!(
            pieces(PreTokenizerKind::DeepSeekCoder, "中文\u{3000}注释"),
            ["中文", "\u{3000}", "注释"]
        );
    }

    #[test]
    fn known_names_map_to_families_and_unknown_ones_do_not() {
        assert_eq!(
            PreTokenizerKind::from_name(None),
            Some(PreTokenizerKind::Default)
        );
        assert_eq!(
            PreTokenizerKind::from_name(Some("llama-bpe")),
            Some(PreTokenizerKind::Llama3)
        );
        assert_eq!(
            PreTokenizerKind::from_name(Some("qwen2")),
            Some(PreTokenizerKind::Qwen2)
        );
        assert_eq!(PreTokenizerKind::from_name(Some("no-such-pre")), None);
        assert!(PreTokenizerKind::Llama3.ignores_merges());
        assert!(!PreTokenizerKind::Qwen2.ignores_merges());
    }
}
