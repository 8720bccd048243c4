//! Remote prompts: the windows of text before and after the cursor that fit the budget, with a start anchored so that the server's prefix cache keeps matching while the user types.
//!
//! The remote server tokenizes the prompt itself, so windows are measured in bytes: an assumed
//! [`BYTES_PER_TOKEN`] turns `completion.contextTokens` into a byte budget (source code averages
//! three to four bytes per token, so the estimate errs on the short side). Like the local engine's
//! window (`engine::prompt::window_start`), the prefix window starts at a line start that moves
//! only in steps of a quarter of the budget: the first bytes of the prompt, which servers match
//! against their cache (llama.cpp's `cache_prompt`, vLLM's automatic prefix caching), stay the
//! same for hundreds of keystrokes instead of sliding with every one.

use crate::config::FimTemplate;

/// Assumed bytes per token when turning a token budget into a byte budget.
pub const BYTES_PER_TOKEN: usize = 3;

/// The prompt text for a completion job.
///
/// Raw prompts (reasoning chains, already written for the model) go as they are. Otherwise the
/// text before the cursor is cut to its window and, with a FIM template, the text after the
/// cursor to its own (a quarter of the budget, whole lines) and both are spelled with the template.
pub fn build(
    text_before_cursor: &str,
    text_after_cursor: &str,
    raw_prompt: bool,
    context_tokens: usize,
    template: FimTemplate,
) -> String {
    if raw_prompt {
        return text_before_cursor.to_string();
    }
    let budget = context_tokens.saturating_mul(BYTES_PER_TOKEN).max(1);
    if !super::fim::uses_suffix(template) {
        return prefix_window(text_before_cursor, budget).to_string();
    }
    // A fixed split, so that the prefix window does not move when the suffix changes length.
    let suffix_budget = (budget / 4).max(1);
    let prefix = prefix_window(text_before_cursor, budget - suffix_budget);
    let suffix = suffix_window(text_after_cursor, suffix_budget);
    super::fim::render(template, prefix, suffix)
}

/// The end of `text`, at most `budget` bytes, starting at the start of a non-empty line at or
/// after an anchored offset (a multiple of a quarter of the budget). One enormous line without a
/// line start in the window is cut at the anchored offset (moved to a character boundary).
pub fn prefix_window(text: &str, budget: usize) -> &str {
    if text.len() <= budget {
        return text;
    }
    let step = (budget / 4).max(1);
    let target = (text.len() - budget).div_ceil(step) * step;
    let bytes = text.as_bytes();
    let line_start = (target.max(1)..bytes.len()).find(|&offset| {
        bytes[offset - 1] == b'\n' && bytes[offset] != b'\n' && bytes[offset] != b'\r'
    });
    let start = line_start.unwrap_or_else(|| {
        (target.min(text.len())..=text.len())
            .find(|&offset| text.is_char_boundary(offset))
            .unwrap_or(text.len())
    });
    &text[start..]
}

/// The start of `text`, at most `budget` bytes, ending after a whole line when one fits.
pub fn suffix_window(text: &str, budget: usize) -> &str {
    if text.len() <= budget {
        return text;
    }
    if let Some(newline) = text.as_bytes()[..budget].iter().rposition(|&b| b == b'\n') {
        return &text[..=newline];
    }
    let end = (0..=budget)
        .rev()
        .find(|&offset| text.is_char_boundary(offset))
        .unwrap_or(0);
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered_lines(count: usize) -> String {
        (0..count).map(|line| format!("line {line}\n")).collect()
    }

    #[test]
    fn short_text_is_kept_whole() {
        assert_eq!(prefix_window("a\nb", 100), "a\nb");
        assert_eq!(suffix_window("a\nb", 100), "a\nb");
    }

    #[test]
    fn the_prefix_window_starts_at_a_non_empty_line_within_budget() {
        let text = format!("{}\n\nlast line", numbered_lines(100));
        let window = prefix_window(&text, 200);
        assert!(window.len() <= 200, "{}", window.len());
        assert!(window.starts_with("line "), "{window:?}");
        assert!(text.ends_with(window));
    }

    #[test]
    fn the_prefix_start_stays_put_while_typing() {
        let text = numbered_lines(500);
        let mut starts = std::collections::HashSet::new();
        for typed in 0..100 {
            let typed_text = format!("{text}{}", "y".repeat(typed));
            let window = prefix_window(&typed_text, 1200);
            starts.insert(typed_text.len() - window.len());
        }
        // 100 keystrokes add 100 bytes, a third of the 300-byte step.
        assert!(
            starts.len() <= 2,
            "the start moved {} times",
            starts.len() - 1
        );
    }

    #[test]
    fn one_long_line_is_cut_on_a_character_boundary() {
        let text = "é".repeat(500);
        let window = prefix_window(&text, 101);
        assert!(window.len() <= 101 && !window.is_empty());
        assert!(text.ends_with(window));
        let suffix = suffix_window(&text, 101);
        assert_eq!(suffix.len(), 100);
    }

    #[test]
    fn the_suffix_window_keeps_whole_lines() {
        let text = numbered_lines(50);
        let window = suffix_window(&text, 40);
        assert!(window.ends_with('\n') && window.len() <= 40, "{window:?}");
        assert!(text.starts_with(window));
    }

    #[test]
    fn fim_prompts_show_the_suffix_and_plain_prompts_do_not() {
        let fim = build(
            "def f():\n    ",
            "\nprint(f())\n",
            false,
            100,
            FimTemplate::Qwen,
        );
        assert_eq!(
            fim,
            "<|fim_prefix|>def f():\n    <|fim_suffix|>\nprint(f())\n<|fim_middle|>"
        );
        let plain = build(
            "def f():\n    ",
            "\nprint(f())\n",
            false,
            100,
            FimTemplate::None,
        );
        assert_eq!(plain, "def f():\n    ");
        let raw = build("<start>x", "ignored", true, 1, FimTemplate::Qwen);
        assert_eq!(raw, "<start>x");
    }
}
