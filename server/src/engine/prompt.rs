//! Prompt windows: the tokens of the text before the cursor that fit the budget, cut at a whole line.

use rill_model::Tokenizer;

/// BOS and the tokens of the prompt window for a completion after `text`: the end of `text`, at
/// most `context_tokens` tokens and leaving `reserve` tokens of the model's `context_length` for
/// the answer, starting at an anchored line start (see [`window_start`]).
pub fn prompt_tokens(
    tokenizer: &Tokenizer,
    text: &str,
    context_tokens: usize,
    reserve: usize,
    context_length: usize,
) -> rill_model::Result<Vec<u32>> {
    let budget = context_tokens
        .min(context_length.saturating_sub(reserve))
        .saturating_sub(1)
        .max(1);
    let tokens = tokenizer.encode(text)?;
    let lengths = tokens
        .iter()
        .map(|&id| tokenizer.token_bytes(id).map(<[u8]>::len))
        .collect::<rill_model::Result<Vec<_>>>()?;
    let start = window_start(text, &lengths, budget);
    let mut prompt = Vec::with_capacity(tokens.len() - start + 1);
    prompt.push(tokenizer.bos_id());
    prompt.extend_from_slice(&tokens[start..]);
    Ok(prompt)
}

/// Picks where the prompt starts. `tokens` is the tokenization of `text` (without BOS) and
/// `token_lengths[i]` the number of bytes of `text` token `i` stands for. Returns the index of
/// the first token to keep so that at most `budget` tokens remain, moved forward to the first
/// token that starts a non-empty line, because a cut in the middle of a line gives the model a
/// truncated statement to continue and changes how the first tokens of the window tokenize.
///
/// Cutting at the start of a non-empty line is safe: the tokenizer never merges across a
/// newline (newline runs are tokens of their own), so the kept tokens are exactly the tokens the
/// kept text would have on its own.
pub fn window_start(text: &str, token_lengths: &[usize], budget: usize) -> usize {
    let count = token_lengths.len();
    if count <= budget {
        return 0;
    }
    // Anchor the start: it moves only in steps of a quarter of the budget, so while the user types
    // (each keystroke adds a token or so at the end) the first tokens, and with them the cached
    // prefix, stay the same for hundreds of keystrokes instead of sliding every time.
    let step = (budget / 4).max(1);
    let target = (count - budget).div_ceil(step) * step;
    let bytes = text.as_bytes();
    let mut offset: usize = token_lengths[..target].iter().sum();
    for (index, length) in token_lengths.iter().enumerate().skip(target) {
        let starts_line = offset > 0 && bytes[offset - 1] == b'\n';
        let non_empty = offset < bytes.len() && bytes[offset] != b'\n' && bytes[offset] != b'\r';
        if starts_line && non_empty {
            return index;
        }
        offset += length;
    }
    // No line start inside the window (one enormous line): keep the anchored window as it is.
    target.min(count - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits text into one "token" per character, enough to test the line logic.
    fn char_tokens(text: &str) -> Vec<usize> {
        text.chars().map(char::len_utf8).collect()
    }

    #[test]
    fn short_text_is_kept_whole() {
        let text = "a\nb\n";
        assert_eq!(window_start(text, &char_tokens(text), 10), 0);
    }

    #[test]
    fn cut_moves_forward_to_a_non_empty_line() {
        let text = "line one\n\nline three\nend";
        let lengths = char_tokens(text);
        let start = window_start(text, &lengths, 16);
        let kept: String = text.chars().skip(start).collect();
        assert_eq!(kept, "line three\nend");
    }

    #[test]
    fn one_long_line_keeps_at_most_the_budget() {
        let text = "x".repeat(50);
        let start = window_start(&text, &char_tokens(&text), 10);
        assert!((40..50).contains(&start), "{start}");
    }

    #[test]
    fn the_start_stays_put_while_typing_at_the_end() {
        let mut text = String::new();
        for line in 0..200 {
            text.push_str(&format!("line {line}\n"));
        }
        let mut starts = std::collections::HashSet::new();
        for extra in 0..40 {
            let typed = format!("{text}{}", "y".repeat(extra));
            starts.insert(window_start(&typed, &char_tokens(&typed), 400));
        }
        // 40 keystrokes grow the text by 40 tokens, less than a quarter of the budget.
        assert!(
            starts.len() <= 2,
            "the start moved {} times",
            starts.len() - 1
        );
    }
}
