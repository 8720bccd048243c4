//! Fill-in-the-middle prompt spellings of the model families remote servers serve, and the guess of a family from a model's name.
//!
//! A remote server tokenizes the prompt text itself and turns the spelled special tokens into
//! control tokens (llama.cpp, vLLM and TGI all do), so a FIM prompt is plain text here. Every
//! template puts the prefix before the suffix (PSM): the prompt then starts with the stable start
//! of the prefix window, which is what the server's prefix cache matches on.

use crate::config::FimTemplate;

/// The prompt for a completion between `prefix` and `suffix`.
///
/// `template` must be resolved (not `Auto`; `Auto` is treated as `None`). Without a template the
/// prompt is the prefix alone: a model without FIM training would continue the spelled tokens as
/// text.
pub fn render(template: FimTemplate, prefix: &str, suffix: &str) -> String {
    match template {
        FimTemplate::Auto | FimTemplate::None => prefix.to_string(),
        FimTemplate::Qwen => format!("<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"),
        FimTemplate::Starcoder => format!("<fim_prefix>{prefix}<fim_suffix>{suffix}<fim_middle>"),
        FimTemplate::Deepseek => {
            format!("<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>")
        }
        // CodeLlama's infilling format puts a space after <PRE> and before <SUF> and <MID>.
        FimTemplate::Codellama => format!("<PRE> {prefix} <SUF>{suffix} <MID>"),
    }
}

/// Whether prompts of this (resolved) template show the model the text after the cursor.
pub fn uses_suffix(template: FimTemplate) -> bool {
    !matches!(template, FimTemplate::Auto | FimTemplate::None)
}

/// The template to use: the configured one, or for `Auto` a guess from the model's name (served
/// names usually keep the Hugging Face repository name, `Qwen/Qwen2.5-Coder-1.5B`), `None` when
/// the name matches no known FIM family or there is no name.
pub fn resolve(configured: FimTemplate, model: Option<&str>) -> FimTemplate {
    if configured != FimTemplate::Auto {
        return configured;
    }
    let Some(model) = model else {
        return FimTemplate::None;
    };
    let name = model.to_ascii_lowercase().replace(['-', '_', ' '], "");
    if name.contains("qwen") && name.contains("coder") || name.contains("codegemma") {
        FimTemplate::Qwen
    } else if name.contains("starcoder") {
        FimTemplate::Starcoder
    } else if name.contains("deepseek") && name.contains("coder") {
        FimTemplate::Deepseek
    } else if name.contains("codellama") {
        FimTemplate::Codellama
    } else {
        FimTemplate::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_guesses_the_family_from_served_names() {
        let cases = [
            ("Qwen/Qwen2.5-Coder-1.5B", FimTemplate::Qwen),
            ("qwen2.5-coder:7b", FimTemplate::Qwen),
            ("google/codegemma-2b", FimTemplate::Qwen),
            ("bigcode/starcoder2-3b", FimTemplate::Starcoder),
            (
                "deepseek-ai/deepseek-coder-6.7b-base",
                FimTemplate::Deepseek,
            ),
            ("codellama/CodeLlama-7b-hf", FimTemplate::Codellama),
            ("code_llama-13b", FimTemplate::Codellama),
            ("gemma-3-270m", FimTemplate::None),
            ("Qwen/Qwen2.5-7B-Instruct", FimTemplate::None),
        ];
        for (name, expected) in cases {
            assert_eq!(resolve(FimTemplate::Auto, Some(name)), expected, "{name}");
        }
        assert_eq!(resolve(FimTemplate::Auto, None), FimTemplate::None);
        assert_eq!(
            resolve(FimTemplate::Deepseek, Some("gemma")),
            FimTemplate::Deepseek
        );
    }

    #[test]
    fn every_template_keeps_the_prefix_first_and_the_text_whole() {
        for template in [
            FimTemplate::Qwen,
            FimTemplate::Starcoder,
            FimTemplate::Deepseek,
            FimTemplate::Codellama,
        ] {
            let prompt = render(template, "def f(x):\n    return ", "\n\nprint(f(2))\n");
            let prefix_at = prompt.find("def f(x)").expect("prefix kept");
            let suffix_at = prompt.find("print(f(2))").expect("suffix kept");
            assert!(prefix_at < suffix_at, "{template:?}: {prompt}");
            assert!(uses_suffix(template));
        }
        assert_eq!(
            render(FimTemplate::Qwen, "a", "b"),
            "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>"
        );
        assert_eq!(render(FimTemplate::None, "a", "b"), "a");
        assert!(!uses_suffix(FimTemplate::None));
    }
}
