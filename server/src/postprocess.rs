//! Turns the model's raw, still-growing continuation of the text before the cursor into the suggestion shown to the user.
//!
//! The model has no fill-in-the-middle training, so it only ever sees the text before the cursor; the text after
//! the cursor (the rest of the line and the next few lines) is used here alone, to decide where the suggestion
//! stops. [`postprocess`] is meant to be called after every decoded token with everything decoded so far, and it
//! is built so that the shown suggestion only ever grows while decoding goes on (see the monotonicity property
//! in `server/tests/postprocess.rs`): text that a later token could still take back is held back until that
//! token has been seen. Only the standard library is used, so that the integration tests can include this file
//! directly.
//!
//! Indentation widths count a space as one column and a tab as [`TAB_WIDTH`] columns (not up to the next tab
//! stop), and the same rule is applied to the document and to the completion, so mixed indentation is compared
//! consistently even where it is not laid out exactly as an editor would show it.

/// The number of columns a tab counts for when indentation widths are compared.
pub const TAB_WIDTH: usize = 4;

/// The user's `completion.multiline` setting: let rill decide, or force one of the two modes.
pub use crate::config::Multiline;

/// What the editor has around the cursor.
#[derive(Debug, Clone)]
pub struct CursorContext {
    /// The text of the cursor's line before the cursor.
    pub line_prefix: String,
    /// The text of the cursor's line after the cursor, without the line terminator.
    pub line_suffix: String,
    /// The next few (at most 20) lines after the cursor's line, without terminators.
    pub following_lines: Vec<String>,
}

/// Whether a suggestion may span several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The suggestion ends at the end of the cursor's line.
    SingleLine,
    /// The suggestion may go on for several lines, up to the end of the block it is in.
    MultiLine,
}

/// The suggestion to show, and whether it is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The text to insert at the cursor; never empty or whitespace-only, and without trailing whitespace.
    pub text: String,
    /// True when more tokens cannot change the result, so the caller can stop decoding.
    pub complete: bool,
}

/// Chooses between a single-line and a multi-line suggestion for the cursor position in `ctx`.
///
/// With [`Multiline::Auto`], a blank line (only whitespace on either side of the cursor) gets a multi-line
/// suggestion, because the user is about to write new lines. A line that opens a block, with nothing after the
/// cursor but closing brackets, also gets one, because the body comes next. Every other line with text on it
/// gets a single-line suggestion, which completes what the user is writing on that line.
pub fn choose_mode(ctx: &CursorContext, setting: Multiline) -> Mode {
    match setting {
        Multiline::Always => Mode::MultiLine,
        Multiline::Never => Mode::SingleLine,
        Multiline::Auto => {
            if line_is_blank(ctx)
                || (opens_block(&ctx.line_prefix) && only_closing_brackets(&ctx.line_suffix))
            {
                Mode::MultiLine
            } else {
                Mode::SingleLine
            }
        }
    }
}

/// Post-processes the raw continuation decoded so far into the suggestion to show.
///
/// `complete` is true when more tokens cannot change the result (a stop condition was hit), so the caller can
/// stop decoding. Returns `None` when there is nothing worth showing (yet): the result is empty, whitespace-only,
/// or only repeats the text after the cursor. Note that `None` can also be final (for example when the model's
/// first line is empty in single-line mode); the caller's token limit ends decoding in that case.
///
/// Because a line that is still being decoded can turn out to end the block (a closing bracket line, or a copy
/// of the next line of the document), such a line is held back until its newline arrives. When decoding ends
/// for another reason (end of sequence, token limit), the caller may append `'\n'` to `raw` to let that last
/// line through: a trailing newline never adds text of its own.
pub fn postprocess(raw: &str, ctx: &CursorContext, mode: Mode) -> Option<Suggestion> {
    let suffix = ctx.line_suffix.trim();
    let (kept, complete) = match mode {
        Mode::SingleLine => single_line(raw, suffix),
        Mode::MultiLine => multi_line(raw, ctx, suffix),
    };
    let joined = kept
        .iter()
        .map(|line| line.trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    let text = joined.trim_end();
    if text.trim().is_empty() {
        return None;
    }
    // A one-line suggestion that is just the text already after the cursor would only duplicate it. Text that
    // starts on a new line is left alone: there it is new content, not a copy of the rest of this line.
    if !suffix.is_empty() && !text.contains('\n') && text.trim() == suffix {
        return None;
    }
    Some(Suggestion {
        text: text.to_string(),
        complete,
    })
}

/// The single-line rule: the rest of the cursor's line, ended by the first newline or by the text after the
/// cursor showing up in it.
fn single_line<'a>(raw: &'a str, suffix: &str) -> (Vec<&'a str>, bool) {
    let (line, terminated) = match raw.split_once('\n') {
        Some((line, _)) => (line, true),
        None => (raw, false),
    };
    let (shown, _) = cut_at_suffix(line, suffix, terminated);
    (vec![shown], terminated)
}

/// How the indentation of the completion's lines is judged in multi-line mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// The cursor's line is blank. The base is the indentation of the first non-blank completion line (never
    /// less than the cursor's column), and a line indented less than the base ends the suggestion. Taking the
    /// completion's own indentation matters because many editors strip the indentation of empty lines, which
    /// leaves the cursor in column 0 of a line that belongs to an indented block.
    Blank,
    /// The cursor's line opens a block. The body must be indented more than the cursor's line; a line that is
    /// not (other than one closing-bracket line at exactly that indentation) ends the suggestion.
    Opened,
    /// Multi-line was forced on a line that neither is blank nor opens a block: the completion continues a
    /// statement, and a line indented less than the cursor's line ends the suggestion.
    Continued,
}

/// The multi-line rule: whole lines up to the end of the block by indentation, two blank lines in a row, or a
/// copy of the document's next line.
fn multi_line<'a>(raw: &'a str, ctx: &CursorContext, suffix: &str) -> (Vec<&'a str>, bool) {
    let kind = if line_is_blank(ctx) {
        Block::Blank
    } else if opens_block(&ctx.line_prefix) {
        Block::Opened
    } else {
        Block::Continued
    };
    let prefix_width = indent_width(&ctx.line_prefix);
    let mut base = match kind {
        Block::Blank => None,
        Block::Opened | Block::Continued => Some(prefix_width),
    };
    let next_line = ctx
        .following_lines
        .iter()
        .map(|line| line.trim())
        .find(|line| !line.is_empty());

    let mut kept = Vec::new();
    let mut blank_run = 0;
    let mut lines = raw.split('\n').enumerate().peekable();
    while let Some((index, line)) = lines.next() {
        // Only a line followed by a newline is finished; the last piece of `raw` may still grow.
        let terminated = lines.peek().is_some();
        let first = index == 0;

        if first && kind != Block::Blank {
            // The first piece continues the cursor's own line, whose indentation is the user's, not the
            // model's. If the model finishes the line with the text already after the cursor, the suggestion
            // ends there.
            let (shown, found) = cut_at_suffix(line, suffix, terminated);
            kept.push(shown);
            if found && terminated {
                return (kept, true);
            }
            continue;
        }

        if line.trim().is_empty() {
            if terminated {
                blank_run += 1;
                if blank_run >= 2 {
                    return (kept, true);
                }
            }
            kept.push(line);
            continue;
        }
        blank_run = 0;

        // On a blank cursor line the first piece is a whole line that starts at the cursor's column.
        let indent = if first {
            prefix_width + indent_width(line)
        } else {
            indent_width(line)
        };
        let base = *base.get_or_insert(indent.max(prefix_width));
        let trimmed = line.trim();

        // Once a line has a non-blank character its indentation is fixed, so a dedent can end the suggestion
        // right away, without waiting for the rest of the line.
        let dedented = match kind {
            Block::Opened => {
                indent < base || (indent == base && closing_line(trimmed) == Closing::No)
            }
            Block::Blank | Block::Continued => indent < base,
        };
        if dedented {
            return (kept, true);
        }

        if let Some(next_line) = next_line {
            if terminated && trimmed == next_line {
                return (kept, true);
            }
            // A line that may still turn into a copy of the next line is held back, so that the suggestion
            // never shows text it would take back later.
            if !terminated && next_line.starts_with(trimmed) {
                return (kept, false);
            }
        }

        if kind == Block::Opened && indent == base {
            // Only (the start of) a closing-bracket line gets here. Whether it is one is known at its newline:
            // `}` may still become `} else {`, which ends the block instead.
            if !terminated {
                return (kept, false);
            }
            // When text after the cursor remains (`foo(┃)`), the document already closes the block on the
            // cursor's line, so the model's closing line would be a second copy.
            if closing_line(trimmed) == Closing::Yes && suffix.is_empty() {
                kept.push(line);
            }
            return (kept, true);
        }

        kept.push(line);
    }
    (kept, false)
}

/// Cuts `line` (a continuation of the cursor's line) where it starts repeating `suffix`, the trimmed text after
/// the cursor. Returns the part to show and whether `suffix` was found.
///
/// The cut is at the last occurrence, so that `foo(` continued with `a, f(b))` before a `)` gives `a, f(b)`.
/// While the line is unfinished, a later occurrence can still appear, which only moves the cut to the right;
/// a tail of the line that could be the start of one is held back, so what is shown never has to shrink.
fn cut_at_suffix<'a>(line: &'a str, suffix: &str, terminated: bool) -> (&'a str, bool) {
    if suffix.is_empty() {
        return (line, false);
    }
    if let Some(at) = line.rfind(suffix) {
        return (&line[..at], true);
    }
    if !terminated {
        // `char_indices` only yields character boundaries, so the slices below cannot split a character.
        if let Some((at, _)) = line
            .char_indices()
            .find(|&(at, _)| suffix.starts_with(&line[at..]))
        {
            return (&line[..at], false);
        }
    }
    (line, false)
}

/// Whether a trimmed line closes a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// It does not, and no continuation of it will.
    No,
    /// It is only the start of a closing line (`en` of `end`), or of nothing of the kind.
    Prefix,
    /// It is a closing line: closing brackets and/or a closing keyword, optionally ended by `;` or `,`.
    Yes,
}

/// Keywords that close a block on a line of their own (Ruby, Lua, shell).
const CLOSING_KEYWORDS: [&str; 4] = ["end", "fi", "done", "esac"];

/// Classifies a trimmed line as a closing line: an optional closing keyword, then closing brackets, then at most
/// one `;` or `,` (`}`, `});`, `)`, `],`, `end`, `end)`, `fi`).
fn closing_line(trimmed: &str) -> Closing {
    if trimmed.is_empty() {
        return Closing::Prefix;
    }
    let mut rest = trimmed;
    let mut has_closer = false;
    if let Some(keyword) = CLOSING_KEYWORDS.iter().find(|k| trimmed.starts_with(*k)) {
        rest = &trimmed[keyword.len()..];
        has_closer = true;
    } else if CLOSING_KEYWORDS.iter().any(|k| k.starts_with(trimmed)) {
        return Closing::Prefix;
    }
    let mut chars = rest.chars().peekable();
    while chars.next_if(|c| matches!(c, ')' | ']' | '}')).is_some() {
        has_closer = true;
    }
    if !has_closer {
        return Closing::No;
    }
    chars.next_if(|c| matches!(c, ';' | ','));
    if chars.next().is_some() {
        Closing::No
    } else {
        Closing::Yes
    }
}

/// Whether the cursor's line is blank: only whitespace on either side of the cursor.
fn line_is_blank(ctx: &CursorContext) -> bool {
    ctx.line_prefix.trim().is_empty() && ctx.line_suffix.trim().is_empty()
}

/// Whether the text before the cursor ends by opening a block whose body goes on the next lines.
///
/// Punctuation openers are `:`, `{`, `(`, `[` and `=>`; `::` (a path, as in `std::`) is not one. Word openers
/// are `do`, `then`, `else` and `begin` as whole words. `->` is left out on purpose: in Rust, C++ and C it is
/// followed by a return type or a member on the same line far more often than by a block.
fn opens_block(prefix: &str) -> bool {
    let text = prefix.trim_end();
    if text.ends_with("::") {
        return false;
    }
    if [":", "{", "(", "[", "=>"].iter().any(|o| text.ends_with(o)) {
        return true;
    }
    ["do", "then", "else", "begin"].iter().any(|word| {
        text.strip_suffix(word).is_some_and(|before| {
            !before
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
    })
}

/// Whether the text after the cursor is nothing but closing brackets (and the punctuation that ends a
/// statement), which a multi-line body may still go in front of.
fn only_closing_brackets(suffix: &str) -> bool {
    suffix
        .chars()
        .all(|c| c.is_whitespace() || matches!(c, ')' | ']' | '}' | ';' | ','))
}

/// The width of a line's leading whitespace: a tab counts [`TAB_WIDTH`] columns, any other whitespace one.
fn indent_width(line: &str) -> usize {
    line.chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { TAB_WIDTH } else { 1 })
        .sum()
}
