//! The enumerated settings' values: each value's settings name and user-facing description, declared
//! once per enum and used by validation, the error messages and the generated settings alike.

use std::fmt;

use serde_json::Value;

use super::shape::Shape;
use super::values::{expect_string, one_of, Choice, SettingValue};

/// Declares a settings enum: each variant with the name the settings spell it with and the description
/// VS Code shows for it (`enumDescriptions`), which is also the variant's rustdoc.
macro_rules! setting_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $text:literal: $description:literal,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub enum $name {
            $(
                #[doc = $description]
                $(#[$variant_meta])*
                $variant,
            )*
        }

        impl $name {
            /// Every value, in the spelling the settings use.
            pub const NAMES: [&'static str; [$($text),*].len()] = [$($text),*];

            /// What each value means, in the order of `NAMES` (VS Code's `enumDescriptions`).
            pub const DESCRIPTIONS: [&'static str; [$($text),*].len()] = [$($description),*];

            /// Every value, in the order of `NAMES`.
            pub const ALL: [Self; [$($text),*].len()] = [$(Self::$variant),*];

            /// The spelling the settings use for this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// The value a settings string names, or `None` for anything else (matching is exact).
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl SettingValue for $name {
            type Rule = Choice;

            fn parse(_: &Choice, value: &Value) -> Result<Self, String> {
                let name = expect_string(value)?;
                Self::from_name(name).ok_or_else(|| one_of(&Self::NAMES, name))
            }

            fn shape(_: &Choice, default: &Self) -> Shape {
                Shape::choices(default.as_str(), &Self::NAMES, &Self::DESCRIPTIONS)
            }
        }
    };
}

setting_enum! {
    /// When a completion may span several lines (`completion.multiline`).
    pub enum Multiline {
        #[default]
        Auto = "auto": "Decide from the code around the cursor (for example an empty function body allows \
            several lines).",
        Always = "always": "Always allow several lines.",
        Never = "never": "Stop at the end of the current line.",
    }
}

setting_enum! {
    /// How a reasoning chain's result reaches the document (`reasoning.apply`).
    pub enum ApplyMode {
        #[default]
        Preview = "preview": "Send the chain's result as an edit the editor previews before anything changes \
            (VS Code's refactor preview); editors without a preview get it as a code action instead.",
        Immediately = "immediately": "Apply the chain's result at once (undo it if it is wrong).",
    }
}

setting_enum! {
    /// What happens to a suggestion that is only a comment where code is expected
    /// (`completion.codeOverComment`).
    pub enum CommentPolicy {
        Off = "off": "Show a comment-only suggestion as the model wrote it.",
        Drop = "drop": "Drop it: another candidate, or nothing, is shown.",
        #[default]
        Continue = "continue": "Decode past the comment line and show the code that follows it.",
    }
}

setting_enum! {
    /// Where completions are computed (`engine.backend`).
    pub enum Backend {
        #[default]
        Local = "local": "The model in the server process (`rill.model.path`).",
        Openai = "openai": "An OpenAI-compatible completions server at `rill.engine.baseUrl` (vLLM, TGI, \
            llama.cpp's server, Ollama). Model diagnostics and pre-warming are off with it.",
    }
}

setting_enum! {
    /// How the remote backend spells a fill-in-the-middle prompt (`engine.fimTemplate`).
    pub enum FimTemplate {
        #[default]
        Auto = "auto": "Guess from `rill.engine.model` (Qwen2.5-Coder and CodeGemma, StarCoder, \
            DeepSeek-Coder, CodeLlama); otherwise `none`.",
        None = "none": "No fill-in-the-middle: the prompt is the text before the cursor.",
        Qwen = "qwen": "`<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>` (Qwen2.5-Coder, CodeGemma).",
        Starcoder = "starcoder": "`<fim_prefix>…<fim_suffix>…<fim_middle>` (StarCoder, StarCoder 2).",
        Deepseek = "deepseek": "`<｜fim▁begin｜>…<｜fim▁hole｜>…<｜fim▁end｜>` (DeepSeek-Coder).",
        Codellama = "codellama": "`<PRE> … <SUF>… <MID>` (CodeLlama).",
    }
}
