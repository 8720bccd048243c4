//! Turns parsed reasoning steps into a chain of minimal edits, dropping steps that cannot be applied safely, and renders the reasoning as code comments.
//!
//! Each step's code is the model's idea of the whole selection after that step, so consecutive steps
//! form a chain: step N starts from the code step N-1 produced. A step that has no code, changes
//! nothing or breaks bracket balance is dropped and the chain continues from the last kept step.

use super::parse::Step;

/// A step that survived the checks, with the edit that performs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// 1-based position among the kept steps.
    pub number: usize,
    pub title: String,
    pub rationale: String,
    /// The code this step starts from: the original for the first kept step, else the previous kept step's `after`.
    pub before: String,
    /// The code after this step, with the original's line endings and trailing line breaks.
    pub after: String,
    /// The minimal single replacement turning `before` into `after`.
    pub edit: TextChange,
}

/// Replaces the byte range `start..end` of a text with `new_text`.
#[derive(Debug, Clone, PartialEq)]
pub struct TextChange {
    pub start: usize,
    pub end: usize,
    pub new_text: String,
}

impl TextChange {
    /// Applies the change to `text`; `None` when the range does not fit `text` or splits a character.
    pub fn apply(&self, text: &str) -> Option<String> {
        let head = text.get(..self.start)?;
        let tail = text.get(self.end..)?;
        Some(format!("{head}{}{tail}", self.new_text))
    }
}

/// A step that was not turned into an edit, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedStep {
    pub title: String,
    pub reason: String,
}

/// The kept steps in order, and the dropped ones with their reasons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    pub dropped: Vec<DroppedStep>,
}

/// Reason given for a step without a code block.
pub const NO_CODE: &str = "no code";
/// Reason given for a step whose code equals the code it starts from.
pub const CHANGES_NOTHING: &str = "changes nothing";
/// Reason given for a step that breaks bracket balance.
pub const UNBALANCED: &str = "leaves brackets unbalanced";

/// Turns parsed steps into a chain of edits starting from `original`, treating comments and strings
/// the way most languages do (`#` and `//` comments, `/* */` blocks).
pub fn plan(original: &str, steps: &[Step]) -> Plan {
    plan_for_language(original, steps, "")
}

/// Like [`plan`], but counts brackets with the comment syntax of the LSP `language_id`, so that for
/// example Python's `//` operator is not mistaken for a comment.
pub fn plan_for_language(original: &str, steps: &[Step], language_id: &str) -> Plan {
    let syntax = CodeSyntax::for_language(language_id);
    let mut plan = Plan::default();
    let mut before = original.to_string();
    for step in steps {
        match checked_after(step, &before, original, &syntax) {
            Ok(after) => {
                let planned = PlannedStep {
                    number: plan.steps.len() + 1,
                    title: step.title.clone(),
                    rationale: step.rationale.clone(),
                    edit: minimal_change(&before, &after),
                    before: std::mem::replace(&mut before, after.clone()),
                    after,
                };
                plan.steps.push(planned);
            }
            Err(reason) => plan.dropped.push(DroppedStep {
                title: step.title.clone(),
                reason: reason.to_string(),
            }),
        }
    }
    plan
}

/// The step's normalised code, or the reason the step has to be dropped.
fn checked_after(
    step: &Step,
    before: &str,
    original: &str,
    syntax: &CodeSyntax,
) -> Result<String, &'static str> {
    // An empty block is a step with nothing to show, not a request to delete the selection.
    let code = step
        .code
        .as_deref()
        .filter(|code| !code.trim().is_empty())
        .ok_or(NO_CODE)?;
    let after = normalise_code(code, original);
    if after == before {
        return Err(CHANGES_NOTHING);
    }
    if syntax.brackets_balanced(before) && !syntax.brackets_balanced(&after) {
        return Err(UNBALANCED);
    }
    Ok(after)
}

/// The combined edit from `original` to the last kept step's code; `None` when no step was kept.
pub fn combined(plan: &Plan, original: &str) -> Option<TextChange> {
    let last = plan.steps.last()?;
    Some(minimal_change(original, &last.after))
}

/// Checks that step `index` of `plan` can be applied to `current`, the text now where the selection was.
pub fn applies_to(plan: &Plan, index: usize, current: &str) -> Result<(), String> {
    let step = plan
        .steps
        .get(index)
        .ok_or_else(|| format!("there is no step {}", index + 1))?;
    if current == step.before {
        return Ok(());
    }
    if plan.steps[index..]
        .iter()
        .any(|later| later.after == current)
    {
        return Err("already applied".to_string());
    }
    if let Some(next) = next_step_to_apply(plan, index, current) {
        return Err(format!("apply step {next} first"));
    }
    Err("the code changed since the step was planned".to_string())
}

/// Which state of the chain the document holds where the selection starts: the original or a kept
/// step's result, recognised by `following`, the text that came after the selection when the
/// chain ran (a state that is a prefix of another, such as a step that appends lines, is told
/// apart by what follows it). `rest` is the document from the selection's start. The longest
/// matching state wins; `None` when the document holds none of them.
pub fn held_state<'a>(
    plan: &'a Plan,
    original: &'a str,
    rest: &str,
    following: &str,
) -> Option<&'a str> {
    std::iter::once(original)
        .chain(plan.steps.iter().map(|step| step.after.as_str()))
        .filter(|state| {
            rest.strip_prefix(*state)
                .is_some_and(|after| after.starts_with(following))
        })
        .max_by_key(|state| state.len())
}

/// When `current` is the state before an earlier step, the number of that earlier step.
fn next_step_to_apply(plan: &Plan, index: usize, current: &str) -> Option<usize> {
    plan.steps[..index]
        .iter()
        .find(|earlier| earlier.before == current)
        .map(|earlier| earlier.number)
}

/// The smallest single replacement turning `before` into `after`: the common prefix and suffix are
/// kept, cut on character boundaries and never between the `\r` and `\n` of a line break.
pub fn minimal_change(before: &str, after: &str) -> TextChange {
    let prefix = common_prefix_len(before, after);
    let suffix = common_suffix_len(before, after, prefix);
    let end = before.len() - suffix;
    TextChange {
        start: prefix,
        end,
        new_text: after[prefix..after.len() - suffix].to_string(),
    }
}

fn common_prefix_len(before: &str, after: &str) -> usize {
    let mut len = before
        .bytes()
        .zip(after.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    while !(before.is_char_boundary(len) && after.is_char_boundary(len))
        || splits_line_break(before, len)
    {
        len -= 1;
    }
    len
}

fn common_suffix_len(before: &str, after: &str, prefix: usize) -> usize {
    let room = before.len().min(after.len()) - prefix;
    let mut len = before
        .bytes()
        .rev()
        .zip(after.bytes().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    while !(before.is_char_boundary(before.len() - len)
        && after.is_char_boundary(after.len() - len))
        || splits_line_break(before, before.len() - len)
    {
        len -= 1;
    }
    len
}

/// Whether byte offset `at` falls between a `\r` and its `\n`.
fn splits_line_break(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    at > 0 && bytes.get(at - 1) == Some(&b'\r') && bytes.get(at) == Some(&b'\n')
}

/// Gives the model's code the original's line endings, trailing line breaks and, when the model
/// dropped it, the original's common indentation.
pub fn normalise_code(code: &str, original: &str) -> String {
    let unified = code.replace("\r\n", "\n");
    let body = unified.trim_end_matches('\n');
    let reindented = restore_indentation(body, original);
    let mut after = if uses_crlf(original) {
        reindented.replace('\n', "\r\n")
    } else {
        reindented
    };
    after.push_str(trailing_line_breaks(original));
    after
}

/// Models often write an indented selection (a method body) starting at column 0; in that case the
/// original's common indentation is put back on every non-blank line.
fn restore_indentation(code: &str, original: &str) -> String {
    let original_indent = common_indentation(original);
    if original_indent.is_empty() || !common_indentation(code).is_empty() {
        return code.to_string();
    }
    code.split('\n')
        .map(|line| {
            if line.trim().is_empty() {
                line.to_string()
            } else {
                format!("{original_indent}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The leading whitespace shared by all non-blank lines.
fn common_indentation(text: &str) -> &str {
    let mut common: Option<&str> = None;
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let indent = &line[..line.len() - line.trim_start().len()];
        common = Some(match common {
            None => indent,
            Some(shared) => shared_prefix(shared, indent),
        });
    }
    common.unwrap_or_default()
}

fn shared_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let len = a
        .char_indices()
        .zip(b.chars())
        .take_while(|((_, x), y)| x == y)
        .last()
        .map_or(0, |((at, x), _)| at + x.len_utf8());
    &a[..len]
}

/// Whether the text's first line break is `\r\n`.
fn uses_crlf(text: &str) -> bool {
    text.find('\n')
        .is_some_and(|at| at > 0 && text.as_bytes()[at - 1] == b'\r')
}

fn trailing_line_breaks(text: &str) -> &str {
    &text[text.trim_end_matches(['\r', '\n']).len()..]
}

/// How a language writes comments, as far as counting brackets and writing reasoning comments need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentStyle {
    /// A line comment marker such as `#` or `//`.
    Line(&'static str),
    /// Opening and closing markers for languages without line comments, such as CSS and HTML.
    Block(&'static str, &'static str),
}

/// The comment style used to write reasoning comments for an LSP language id (`//` when unknown).
pub fn comment_style(language_id: &str) -> CommentStyle {
    match language_id.to_ascii_lowercase().as_str() {
        "python" | "ruby" | "shellscript" | "sh" | "bash" | "zsh" | "fish" | "yaml" | "toml"
        | "r" | "perl" | "makefile" | "dockerfile" | "powershell" | "elixir" | "julia" | "nim"
        | "coffeescript" | "cmake" | "nix" | "tcl" | "gdscript" | "starlark" | "graphql" => {
            CommentStyle::Line("#")
        }
        "lua" | "sql" | "haskell" | "elm" | "ada" | "purescript" | "vhdl" => {
            CommentStyle::Line("--")
        }
        "latex" | "tex" | "erlang" | "matlab" | "prolog" => CommentStyle::Line("%"),
        "clojure" | "lisp" | "scheme" | "racket" | "ini" => CommentStyle::Line(";"),
        "vb" => CommentStyle::Line("'"),
        "css" => CommentStyle::Block("/*", "*/"),
        "html" | "xml" | "markdown" | "xsl" | "svg" => CommentStyle::Block("<!--", "-->"),
        _ => CommentStyle::Line("//"),
    }
}

/// The reasoning as comments to insert above the selection, one line per `(title, rationale)` pair:
/// "Step N: title — rationale", indented with `indentation` and ending with `\n`.
pub fn reasoning_as_comments(
    steps: &[(String, String)],
    language_id: &str,
    indentation: &str,
) -> String {
    let style = comment_style(language_id);
    steps
        .iter()
        .enumerate()
        .map(|(index, (title, rationale))| {
            let text = step_comment_text(index + 1, title, rationale);
            match style {
                CommentStyle::Line(marker) => format!("{indentation}{marker} {text}\n"),
                CommentStyle::Block(open, close) => {
                    let safe = text.replace(close, " ");
                    format!("{indentation}{open} {safe} {close}\n")
                }
            }
        })
        .collect()
}

fn step_comment_text(number: usize, title: &str, rationale: &str) -> String {
    let title = single_line(title);
    let rationale = single_line(rationale);
    if rationale.is_empty() {
        format!("Step {number}: {title}")
    } else {
        format!("Step {number}: {title} — {rationale}")
    }
}

/// Joins the lines of `text` with spaces, so a comment cannot spill onto a line of code.
fn single_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The comment and string syntax bracket counting has to skip.
struct CodeSyntax {
    line_comments: &'static [&'static str],
    block_comments: bool,
}

impl CodeSyntax {
    fn for_language(language_id: &str) -> Self {
        match language_id {
            "" => CodeSyntax {
                line_comments: &["#", "//"],
                block_comments: true,
            },
            _ => match comment_style(language_id) {
                CommentStyle::Line("#") => CodeSyntax {
                    line_comments: &["#"],
                    block_comments: false,
                },
                CommentStyle::Line("--") => CodeSyntax {
                    line_comments: &["--"],
                    block_comments: false,
                },
                CommentStyle::Line("//") => CodeSyntax {
                    line_comments: &["//"],
                    block_comments: true,
                },
                _ => CodeSyntax {
                    line_comments: &[],
                    block_comments: true,
                },
            },
        }
    }

    /// Whether (), [] and {} nest properly outside strings and comments. The lexing is approximate
    /// but identical for the code before and after a step, so its mistakes mostly cancel out.
    fn brackets_balanced(&self, text: &str) -> bool {
        let mut open = Vec::new();
        let mut at = 0;
        while let Some(c) = text[at..].chars().next() {
            if let Some(skip_to) = self.skip_comment_or_string(text, at) {
                at = skip_to;
                continue;
            }
            if matches!(c, '(' | '[' | '{') {
                open.push(c);
            } else if matches!(c, ')' | ']' | '}') && open.pop() != Some(matching_open(c)) {
                return false;
            }
            at += c.len_utf8();
        }
        open.is_empty()
    }

    /// When a comment or string starts at `at`, the offset just past it.
    fn skip_comment_or_string(&self, text: &str, at: usize) -> Option<usize> {
        let rest = &text[at..];
        if self.starts_line_comment(rest) {
            return Some(at + rest.find('\n').unwrap_or(rest.len()));
        }
        if self.block_comments && rest.starts_with("/*") {
            return Some(at + 2 + rest[2..].find("*/").map_or(rest.len() - 2, |end| end + 2));
        }
        for triple in ["\"\"\"", "'''"] {
            if rest.starts_with(triple) {
                let body = &rest[3..];
                return Some(at + 3 + body.find(triple).map_or(body.len(), |end| end + 3));
            }
        }
        if let Some(body) = rest.strip_prefix('"') {
            return Some(at + 1 + closing_quote_end(body, '"', true).unwrap_or(body.len()));
        }
        if let Some(body) = rest.strip_prefix('\'') {
            // A single quote without a partner on its line is an apostrophe or a lifetime, not a string.
            if is_lifetime(text, at) {
                return None;
            }
            return closing_quote_end(body, '\'', false).map(|len| at + 1 + len);
        }
        None
    }

    fn starts_line_comment(&self, rest: &str) -> bool {
        self.line_comments.iter().any(|marker| {
            rest.starts_with(marker)
                && !(*marker == "#" && rest[1..].starts_with(['[', '(', '{', '!']))
        })
    }
}

/// The offset just past the closing quote of a string body, where `\` escapes the next character;
/// `None` when the string is not closed (on its line, unless it may span lines).
fn closing_quote_end(body: &str, quote: char, may_span_lines: bool) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in body.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return Some(at + c.len_utf8());
        } else if c == '\n' && !may_span_lines {
            return None;
        }
    }
    None
}

/// Rust lifetimes (`&'a`, `<'a>`) start with a quote that opens no string.
fn is_lifetime(text: &str, quote_at: usize) -> bool {
    let preceded = text[..quote_at].ends_with(['&', '<']);
    let followed = text[quote_at + 1..].starts_with(|c: char| c.is_alphabetic() || c == '_');
    preceded && followed
}

fn matching_open(close: char) -> char {
    match close {
        ')' => '(',
        ']' => '[',
        _ => '{',
    }
}
