//! Prompt windows on the real tokenizer: while the user types at the end of a long file, the prompt's first tokens stay put, so the cached prefix is reused.

use rill_model::{GgufFile, Tokenizer};
use rill_server::engine::prompt::{prompt_tokens, tokens_from, window_start_byte};

/// A real file of about 1,500 tokens (the first lines of CPython's textwrap.py).
const LONG_FILE: &str = include_str!("../../benches/workloads/long_file.py");
const CONTEXT_TOKENS: usize = 1536;
const MAX_TOKENS: usize = 64;
const CONTEXT_LENGTH: usize = 32768;

fn tokenizer() -> Tokenizer {
    let path = rill_model::paths::resolve_model_path(None)
        .expect("the default model (run scripts/fetch-model.py)");
    let file = GgufFile::open(&path).unwrap();
    Tokenizer::from_gguf(file.content()).unwrap()
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn two_hundred_keystrokes_at_the_end_of_a_long_file_reuse_the_prompt() {
    let tokenizer = tokenizer();
    // Twice the file: longer than the prompt budget, so the window must be cut and anchored.
    let base = format!("{LONG_FILE}{LONG_FILE}");
    let typed = "    def wrap_lines(self, text, width=70):\n        \"\"\"Wrap every line of text.\"\"\"\n        lines = []\n        for line in text.splitlines():\n            lines.extend(self.wrap(line))\n        return lines\n";
    assert!(typed.chars().count() >= 200);
    let mut previous = prompt_tokens(
        &tokenizer,
        &base,
        CONTEXT_TOKENS,
        MAX_TOKENS,
        CONTEXT_LENGTH,
    )
    .unwrap();
    assert!(previous.len() <= CONTEXT_TOKENS);
    assert!(
        tokenizer.encode(&base).unwrap().len() > CONTEXT_TOKENS,
        "the file must overflow the budget"
    );
    let (mut reused, mut total) = (0usize, 0usize);
    let mut text = base.clone();
    for c in typed.chars().take(200) {
        text.push(c);
        let prompt = prompt_tokens(
            &tokenizer,
            &text,
            CONTEXT_TOKENS,
            MAX_TOKENS,
            CONTEXT_LENGTH,
        )
        .unwrap();
        assert!(prompt.len() <= CONTEXT_TOKENS, "{}", prompt.len());
        reused += common_prefix(&previous, &prompt);
        total += prompt.len();
        previous = prompt;
    }
    let fraction = reused as f64 / total as f64;
    eprintln!(
        "reused {reused} of {total} prompt tokens ({:.1} %)",
        fraction * 100.0
    );
    assert!(fraction >= 0.95, "only {:.1} % reused", fraction * 100.0);
}

#[test]
fn an_edit_inside_a_word_or_a_multibyte_character_keeps_the_prefix_before_it() {
    let tokenizer = tokenizer();
    let text = "def résumé_naïve(über_value):\n    return über_value + 1\n";
    let original =
        prompt_tokens(&tokenizer, text, CONTEXT_TOKENS, MAX_TOKENS, CONTEXT_LENGTH).unwrap();
    // Insert inside "über_value" (after its multi-byte first character) on the second line.
    let at = text.rfind("ber_value").unwrap();
    let edited = format!("{}X{}", &text[..at], &text[at..]);
    let prompt = prompt_tokens(
        &tokenizer,
        &edited,
        CONTEXT_TOKENS,
        MAX_TOKENS,
        CONTEXT_LENGTH,
    )
    .unwrap();
    let common = common_prefix(&original, &prompt);
    // Everything on the first line is untouched; at most a token or two before the edit re-tokenize.
    let first_line = tokenizer
        .encode("def résumé_naïve(über_value):\n")
        .unwrap()
        .len();
    assert!(common > first_line, "{common} <= {first_line}");
    assert_eq!(
        tokenizer.decode(&prompt[1..]).unwrap(),
        edited,
        "the prompt is the whole edited text"
    );
}

#[test]
fn a_window_extended_below_the_cursor_starts_with_the_completion_window() {
    let tokenizer = tokenizer();
    let text = format!("{LONG_FILE}{LONG_FILE}");
    // The cursor two thirds in; the line scored thirty lines below it.
    let cursor = text[..text.len() * 2 / 3].rfind('\n').unwrap() + 1;
    let below = cursor
        + text[cursor..]
            .match_indices('\n')
            .nth(30)
            .map(|(index, _)| index + 1)
            .unwrap();
    let window = prompt_tokens(
        &tokenizer,
        &text[..cursor],
        CONTEXT_TOKENS,
        MAX_TOKENS,
        CONTEXT_LENGTH,
    )
    .unwrap();
    let start = window_start_byte(
        &tokenizer,
        &text[..cursor],
        CONTEXT_TOKENS,
        MAX_TOKENS,
        CONTEXT_LENGTH,
    )
    .unwrap();
    assert!(start > 0, "the file is longer than the window");
    let at_cursor = tokens_from(&tokenizer, &text, start, cursor, 2 * CONTEXT_TOKENS)
        .unwrap()
        .expect("a token starts at the window's start");
    assert_eq!(at_cursor, window);
    let extended = tokens_from(&tokenizer, &text, start, below, 2 * CONTEXT_TOKENS)
        .unwrap()
        .unwrap();
    assert!(
        extended.len() > window.len() + 100,
        "{} tokens",
        extended.len()
    );
    assert!(common_prefix(&extended, &window) + 2 >= window.len());
    // The window a completion there would take slides instead, and shares far less.
    let slid = prompt_tokens(
        &tokenizer,
        &text[..below],
        CONTEXT_TOKENS,
        MAX_TOKENS,
        CONTEXT_LENGTH,
    )
    .unwrap();
    assert!(common_prefix(&slid, &window) < window.len() / 2);
    // Too long for the limit: the caller falls back to the sliding window.
    assert_eq!(
        tokens_from(&tokenizer, &text, start, below, window.len()).unwrap(),
        None
    );
}
