//! Prompts: the tokens a completion is computed from — cross-file chunks first, then the document around the cursor, as a fill-in-the-middle prompt for models that have FIM tokens and as the text before the cursor for the others.
//!
//! Layouts, from the first token (BOS where the model wants one):
//!
//! - plain (Gemma 3): `[chunks] prefix`, each chunk and the document under a comment line naming
//!   its file, e.g. `# pkg/util.py`;
//! - FIM: `[chunks] <SUF> suffix <PRE> prefix <MID>` for models trained suffix-first (llama.cpp's
//!   SPM order), else `[chunks] <PRE> prefix <SUF> suffix <MID>`;
//! - repository-level FIM (Qwen2.5-Coder): `<|repo_name|>repo\n <|file_sep|>path\nchunk …
//!   <|file_sep|>this path\n` followed by the FIM prompt.
//!
//! Everything that changes while the user types sits at the end: the chunks change only when the
//! user is idle ([`crate::context::ring`]), the suffix only when the cursor leaves its line, and
//! the prefix window starts at an anchored line ([`window_start`]), so consecutive keystrokes share
//! all but the last tokens of their prompts and the cached sequence is reused. The prefix and the
//! suffix are tokenized separately, as llama.cpp's infill does: for SentencePiece vocabularies that
//! add a space prefix (CodeLlama, whose FIM tokens are spelled `▁<PRE>`…) each piece then starts
//! with the same leading space it has in llama.cpp's own prompts.

use rill_model::fim::{self, FimTokens};
use rill_model::Tokenizer;

use crate::context::PromptContext;

/// Lines after the cursor a FIM prompt shows at most (the rest of the cursor's line included).
pub const SUFFIX_LINES: usize = 64;

/// The share of the prompt budget the suffix may take at most (llama.cpp's infill gives prefix and
/// suffix 3:1).
const SUFFIX_SHARE: usize = 4;

/// The share of the prompt budget cross-file chunks may take at most, whatever
/// `context.crossFileTokens` says: the document itself keeps at least half.
const CROSS_FILE_SHARE: usize = 2;

/// The special tokens a prompt layout uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// The token every prompt starts with, if the model wants one.
    pub bos: Option<u32>,
    pub fim: Option<FimTokens>,
    /// `<|repo_name|>` and `<|file_sep|>`, used only together with FIM tokens.
    pub repository: Option<RepositoryTokens>,
}

/// The tokens of repository-level prompts (Qwen2.5-Coder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositoryTokens {
    pub repo_name: u32,
    pub file_sep: u32,
}

impl Specials {
    /// The special tokens of the loaded model's vocabulary.
    pub fn of(tokenizer: &Tokenizer) -> Self {
        let repository = match (
            tokenizer.token_id("<|repo_name|>"),
            tokenizer.token_id("<|file_sep|>"),
        ) {
            (Some(repo_name), Some(file_sep)) => Some(RepositoryTokens {
                repo_name,
                file_sep,
            }),
            _ => None,
        };
        Self {
            bos: tokenizer.adds_bos().then(|| tokenizer.bos_id()),
            fim: tokenizer.fim(),
            repository,
        }
    }

    /// The layout in words, for the log.
    pub fn describe(&self) -> &'static str {
        match (self.fim, self.repository) {
            (None, _) => "text before the cursor, chunks under comment lines",
            (Some(fim), _) if fim.suffix_first => "fill-in-the-middle, suffix first",
            (Some(_), Some(_)) => "fill-in-the-middle, repository-level chunks",
            (Some(_), None) => "fill-in-the-middle, chunks under comment lines",
        }
    }

    /// Only the text before the cursor, with BOS: the prompt of models without FIM tokens.
    pub fn plain(bos: u32) -> Self {
        Self {
            bos: Some(bos),
            fim: None,
            repository: None,
        }
    }
}

/// What a completion's prompt is built from.
#[derive(Debug, Clone, Copy)]
pub struct PromptRequest<'a> {
    pub text_before_cursor: &'a str,
    /// Shown to FIM models only.
    pub text_after_cursor: &'a str,
    /// `completion.contextTokens`: prompt tokens at most, BOS included.
    pub context_tokens: usize,
    /// Tokens of the model's context left free for the answer (`completion.maxTokens`).
    pub reserve_tokens: usize,
    /// The model's context length.
    pub context_length: usize,
    pub cross_file: &'a PromptContext,
    /// Back the prefix up to a token boundary (see [`rill_model::healing`]).
    pub heal: bool,
}

/// A built prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub tokens: Vec<u32>,
    /// Tokens that end the answer besides the model's end-of-generation tokens (the FIM end token).
    pub stop_tokens: Vec<u32>,
    /// How many of `tokens` are cross-file context (chunks and their headers).
    pub cross_file_tokens: usize,
    /// The text the prefix was backed up over, which the answer must begin with; empty for none.
    pub heal: String,
}

/// Builds the prompt for `request` in the layout `specials` allow (see the module documentation).
pub fn build(
    tokenizer: &Tokenizer,
    specials: &Specials,
    request: &PromptRequest,
) -> rill_model::Result<Prompt> {
    let total = request.context_tokens.min(
        request
            .context_length
            .saturating_sub(request.reserve_tokens),
    );
    let room = total.saturating_sub(usize::from(specials.bos.is_some()));
    let repository = specials.repository.filter(|_| specials.fim.is_some());
    let cross_file = cross_file_tokens(
        tokenizer,
        repository,
        request.cross_file,
        request
            .cross_file
            .budget_tokens
            .min(room / CROSS_FILE_SHARE),
    )?;
    let mut tokens = Vec::with_capacity(total);
    tokens.extend(specials.bos);
    tokens.extend_from_slice(&cross_file);
    let room = room - cross_file.len();
    let Some(fim_tokens) = specials.fim else {
        let mut prefix = prefix_window(tokenizer, request.text_before_cursor, room.max(1))?;
        let heal = heal_prefix(tokenizer, request, &mut prefix)?;
        tokens.extend(prefix);
        return Ok(Prompt {
            tokens,
            stop_tokens: Vec::new(),
            cross_file_tokens: cross_file.len(),
            heal,
        });
    };
    // <PRE>, <SUF> and <MID>.
    let room = room.saturating_sub(3);
    let suffix = suffix_window(tokenizer, request.text_after_cursor, room / SUFFIX_SHARE)?;
    let mut prefix = prefix_window(
        tokenizer,
        request.text_before_cursor,
        (room - suffix.len()).max(1),
    )?;
    let heal = heal_prefix(tokenizer, request, &mut prefix)?;
    tokens.extend(fim::prompt(&fim_tokens, None, &prefix, &suffix));
    Ok(Prompt {
        tokens,
        stop_tokens: fim_tokens.end.into_iter().collect(),
        cross_file_tokens: cross_file.len(),
        heal,
    })
}

/// Takes the end of the prefix window back to a token boundary when the request asks for it and
/// the cursor ends inside what could be one token; returns the text taken back. The window's
/// first token stays: with a space-prefix vocabulary it carries a space that is not document text.
fn heal_prefix(
    tokenizer: &Tokenizer,
    request: &PromptRequest,
    prefix: &mut Vec<u32>,
) -> rill_model::Result<String> {
    if !request.heal {
        return Ok(String::new());
    }
    let healing = rill_model::healing::plan(tokenizer, prefix, 1)?;
    prefix.truncate(prefix.len() - healing.tokens);
    Ok(healing.text)
}

/// BOS and the tokens of the prompt window for a completion after `text`: the end of `text`, at
/// most `context_tokens` tokens and leaving `reserve` tokens of the model's `context_length` for
/// the answer, starting at an anchored line start (see [`window_start`]). This is the prompt of
/// models without FIM tokens when no other document is open.
pub fn prompt_tokens(
    tokenizer: &Tokenizer,
    text: &str,
    context_tokens: usize,
    reserve: usize,
    context_length: usize,
) -> rill_model::Result<Vec<u32>> {
    let request = PromptRequest {
        text_before_cursor: text,
        text_after_cursor: "",
        context_tokens,
        reserve_tokens: reserve,
        context_length,
        cross_file: &PromptContext::default(),
        heal: false,
    };
    Ok(build(tokenizer, &Specials::plain(tokenizer.bos_id()), &request)?.tokens)
}

/// The byte offset in `text` where the window of [`prompt_tokens`] for a completion after `text`
/// starts.
pub fn window_start_byte(
    tokenizer: &Tokenizer,
    text: &str,
    context_tokens: usize,
    reserve: usize,
    context_length: usize,
) -> rill_model::Result<usize> {
    let total = context_tokens.min(context_length.saturating_sub(reserve));
    // One token for BOS, as in [`prompt_tokens`].
    let room = total.saturating_sub(1);
    let tokens = tokenizer.encode(text)?;
    let lengths = token_lengths(tokenizer, &tokens)?;
    let start = window_start(text, &lengths, room.max(1));
    Ok(lengths[..start].iter().sum())
}

/// BOS and the tokens of `text[..end]` from byte `start` on, taken from the tokens of the whole of
/// `text[..end]` as [`prompt_tokens`] takes its window, so that with `start` from
/// [`window_start_byte`] this extends a completion's window instead of sliding it; `None` when no
/// token starts at `start` or there would be more than `limit` tokens.
pub fn tokens_from(
    tokenizer: &Tokenizer,
    text: &str,
    start: usize,
    end: usize,
    limit: usize,
) -> rill_model::Result<Option<Vec<u32>>> {
    if end < start {
        return Ok(None);
    }
    let tokens = tokenizer.encode(&text[..end])?;
    let lengths = token_lengths(tokenizer, &tokens)?;
    let mut offset = 0;
    let mut first = tokens.len();
    for (index, length) in lengths.iter().enumerate() {
        if offset >= start {
            first = index;
            break;
        }
        offset += length;
    }
    if offset != start {
        return Ok(None);
    }
    if tokens.len() - first + 1 > limit {
        return Ok(None);
    }
    let mut window = Vec::with_capacity(tokens.len() - first + 1);
    window.push(tokenizer.bos_id());
    window.extend_from_slice(&tokens[first..]);
    Ok(Some(window))
}

/// The tokens of the end of `text` that fit `budget`, from an anchored line start.
fn prefix_window(tokenizer: &Tokenizer, text: &str, budget: usize) -> rill_model::Result<Vec<u32>> {
    let tokens = tokenizer.encode(text)?;
    let lengths = token_lengths(tokenizer, &tokens)?;
    let start = window_start(text, &lengths, budget);
    Ok(tokens[start..].to_vec())
}

/// The tokens of the start of `text` (what follows the cursor): at most [`SUFFIX_LINES`] lines and
/// `budget` tokens, ending at a line end (or at the end of the document when all of it fits).
fn suffix_window(tokenizer: &Tokenizer, text: &str, budget: usize) -> rill_model::Result<Vec<u32>> {
    let end = text
        .match_indices('\n')
        .nth(SUFFIX_LINES - 1)
        .map_or(text.len(), |(newline, _)| newline + 1);
    let text = &text[..end];
    let tokens = tokenizer.encode(text)?;
    if tokens.len() <= budget {
        return Ok(tokens);
    }
    // Keep the tokens up to the last line end that fits. Tokens never merge across a newline
    // (newline runs are tokens of their own), so these are the tokens the shorter text has.
    let mut keep = 0;
    for (index, &id) in tokens.iter().take(budget).enumerate() {
        if tokenizer.token_bytes(id)?.ends_with(b"\n") {
            keep = index + 1;
        }
    }
    Ok(tokens[..keep].to_vec())
}

/// The number of bytes of the document each token stands for. Not the `token_bytes` lengths:
/// for vocabularies with a space prefix (Llama 2, CodeLlama) the first token also carries a space
/// that is not in the document, and counting it would shift every offset by one byte.
fn token_lengths(tokenizer: &Tokenizer, tokens: &[u32]) -> rill_model::Result<Vec<usize>> {
    tokenizer.document_lengths(tokens)
}

/// The cross-file part of a prompt: the newest chunks that fit `budget` tokens together with their
/// headers (older chunks are dropped whole), rendered with repository tokens when the model has
/// them and under comment lines otherwise. Empty when no chunk fits.
fn cross_file_tokens(
    tokenizer: &Tokenizer,
    repository: Option<RepositoryTokens>,
    context: &PromptContext,
    budget: usize,
) -> rill_model::Result<Vec<u32>> {
    if context.is_empty() {
        return Ok(Vec::new());
    }
    let header = |path: &str| -> rill_model::Result<Vec<u32>> {
        Ok(match repository {
            Some(tokens) => {
                let mut out = vec![tokens.file_sep];
                out.extend(tokenizer.encode(&format!("{path}\n"))?);
                out
            }
            None => tokenizer.encode(&comment_line(&context.language_id, path))?,
        })
    };
    // The repository name opens the part, and the current document's header closes it.
    let mut opening = Vec::new();
    if let Some(tokens) = repository {
        opening.push(tokens.repo_name);
        opening.extend(tokenizer.encode(&format!("{}\n", context.repository))?);
    }
    let closing = header(&context.document_path)?;
    let mut used = opening.len() + closing.len();
    let mut kept: Vec<Vec<u32>> = Vec::new();
    for chunk in context.chunks.iter().rev() {
        let mut rendered = header(&chunk.path)?;
        rendered.extend(tokenizer.encode(&chunk.text)?);
        if used + rendered.len() > budget {
            break;
        }
        used += rendered.len();
        kept.push(rendered);
    }
    if kept.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = opening;
    for rendered in kept.iter().rev() {
        out.extend_from_slice(rendered);
    }
    out.extend(closing);
    Ok(out)
}

/// A line naming `path` as a comment in the language `language_id` (`//` when unknown).
pub fn comment_line(language_id: &str, path: &str) -> String {
    match language_id {
        "python" | "shellscript" | "ruby" | "perl" | "r" | "yaml" | "toml" | "makefile"
        | "dockerfile" | "elixir" | "julia" | "powershell" | "nim" | "cmake" => {
            format!("# {path}\n")
        }
        "lua" | "sql" | "haskell" | "ada" | "elm" => format!("-- {path}\n"),
        "html" | "xml" | "markdown" | "vue" | "svelte" => format!("<!-- {path} -->\n"),
        "css" => format!("/* {path} */\n"),
        _ => format!("// {path}\n"),
    }
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
