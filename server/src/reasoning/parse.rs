//! Tolerant parser of the numbered reasoning steps a model writes: step headers, rationales and code blocks, with notes on whatever was malformed.
//!
//! The default model is a small base model, so the parser expects sloppy output: other header styles
//! ("Step 1:", "**Step 1:**", "### Step 1", "1)"), rationales on the title line, missing or unusual code
//! fences, duplicated or skipped numbers, chatter around the steps and output cut off mid-step. Anything
//! it repairs or ignores is described in [`ParsedChain::problems`] so the user can see why a step is
//! missing.

use std::collections::HashSet;

/// One step of the model's reasoning chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based position among the steps that were kept, whatever number the model wrote.
    pub number: usize,
    /// The one-line title, without markdown emphasis.
    pub title: String,
    /// The one-line rationale, empty when the model gave none.
    pub rationale: String,
    /// The complete code after this step, lines joined with `\n` and no trailing newline; `None` when
    /// the step has no code or the output stopped inside it.
    pub code: Option<String>,
}

/// Everything the parser could recover from the model's output.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedChain {
    pub steps: Vec<Step>,
    /// Human-readable notes about malformed output, in the order they were found.
    pub problems: Vec<String>,
    /// Whether the output stopped in the middle of a step (inside its code block or its title line).
    pub truncated: bool,
}

/// Parses the model's output into steps, keeping at most `max_steps` of them.
pub fn parse_steps(text: &str, max_steps: usize) -> ParsedChain {
    let scanned = scan(text);
    finish(scanned, max_steps)
}

/// Titles of the steps whose title line is complete so far, for progress reports while the output streams.
///
/// This is exactly the titles of `parse_steps` (without a step limit) on the text up to its last line
/// break, so a title is reported only once its line has ended, and each report's titles are a prefix
/// of the next report's.
pub fn completed_titles(text: &str) -> Vec<String> {
    let complete_lines = match text.rfind('\n') {
        Some(last_break) => &text[..=last_break],
        None => "",
    };
    parse_steps(complete_lines, usize::MAX)
        .steps
        .into_iter()
        .map(|step| step.title)
        .collect()
}

/// A step as the model wrote it, before duplicates, empty titles and the step limit are dealt with.
#[derive(Debug, Default)]
struct RawStep {
    model_number: usize,
    title: String,
    inline_rationale: Option<String>,
    explicit_rationale: Option<String>,
    code: CodeState,
    /// Lines after the header that are neither a rationale line nor inside a fence.
    loose_lines: Vec<String>,
    /// The output ended on this step's title line, so the title may be cut short.
    title_cut: bool,
}

#[derive(Debug, Default)]
enum CodeState {
    #[default]
    Missing,
    Unclosed,
    Closed(String),
}

/// A code fence that has been opened and not yet closed.
struct OpenFence {
    marker: char,
    marker_len: usize,
    indent: usize,
    lines: Vec<String>,
    /// Index of the step whose code this fence holds; `None` for fences in chatter.
    owner: Option<usize>,
}

/// The result of the line-by-line pass.
#[derive(Default)]
struct Scan {
    steps: Vec<RawStep>,
}

fn scan(text: &str) -> Scan {
    let mut scan = Scan::default();
    let mut fence: Option<OpenFence> = None;
    for raw_line in text.split_inclusive('\n') {
        let terminated = raw_line.ends_with('\n');
        let line = raw_line.trim_end_matches('\n').trim_end_matches('\r');
        fence = match fence {
            Some(open) => continue_fence(&mut scan, open, line),
            None => scan_outside_fence(&mut scan, line, terminated),
        };
    }
    scan
}

/// Handles a line inside an open fence; returns the fence if it is still open afterwards.
fn continue_fence(scan: &mut Scan, mut open: OpenFence, line: &str) -> Option<OpenFence> {
    if is_closing_fence(line, &open) {
        if let Some(step) = open.owner.and_then(|index| scan.steps.get_mut(index)) {
            step.code = CodeState::Closed(open.lines.join("\n"));
        }
        return None;
    }
    open.lines.push(strip_indent(line, open.indent).to_string());
    Some(open)
}

/// Handles a line outside any fence; returns a fence if the line opens one.
fn scan_outside_fence(scan: &mut Scan, line: &str, terminated: bool) -> Option<OpenFence> {
    if let Some((marker, marker_len, indent)) = opening_fence(line) {
        let owner = claim_code(scan);
        return Some(OpenFence {
            marker,
            marker_len,
            indent,
            lines: Vec::new(),
            owner,
        });
    }
    if let Some(header) = parse_header(line) {
        scan.steps.push(RawStep {
            model_number: header.number,
            title: header.title,
            inline_rationale: header.inline_rationale,
            title_cut: !terminated,
            ..RawStep::default()
        });
        return None;
    }
    // Lines before the first header are chatter and carry nothing we need.
    if let Some(step) = scan.steps.last_mut() {
        add_body_line(step, line, terminated);
    }
    None
}

/// Makes a newly opened fence the current step's code if that step has none yet; later fences in the
/// same step are chatter (a repeat of the code, a diff) and are ignored.
fn claim_code(scan: &mut Scan) -> Option<usize> {
    let index = scan.steps.len().checked_sub(1)?;
    let step = scan.steps.get_mut(index)?;
    if matches!(step.code, CodeState::Missing) {
        step.code = CodeState::Unclosed;
        Some(index)
    } else {
        None
    }
}

fn add_body_line(step: &mut RawStep, line: &str, terminated: bool) {
    if let Some(rationale) = rationale_line(line) {
        if step.explicit_rationale.is_none() && !rationale.is_empty() {
            step.explicit_rationale = Some(rationale);
        }
        return;
    }
    if step.title.is_empty() && could_be_title(line) {
        // "### Step 1" alone on its line: the title follows on the next one.
        let (title, inline_rationale) = split_title(line);
        step.title = title;
        step.inline_rationale = inline_rationale;
        step.title_cut = !terminated;
        return;
    }
    if matches!(step.code, CodeState::Closed(_)) {
        // Text after a step's code block is commentary, not part of the step.
        return;
    }
    step.loose_lines.push(line.to_string());
}

/// Whether a line after a bare "### Step 1" header can be its title rather than code.
fn could_be_title(line: &str) -> bool {
    let trimmed = line.trim();
    let first_word = trimmed.split_whitespace().next().unwrap_or_default();
    !trimmed.is_empty()
        && !line.starts_with([' ', '\t'])
        && !trimmed.ends_with([';', '{', '}'])
        && !trimmed.starts_with(['#', '/', '@'])
        && !CODE_KEYWORDS.contains(&first_word)
}

/// A recognised step header line.
struct Header {
    number: usize,
    title: String,
    inline_rationale: Option<String>,
}

/// Recognises "1. Title", "1) Title", "Step 1: Title", "**Step 1:** Title", "### Step 1 - Title" and similar.
fn parse_header(line: &str) -> Option<Header> {
    let unindented = line.trim_start_matches(' ');
    // Deeper indentation means the line belongs to code or a nested list, not a step header.
    if line.len() - unindented.len() > 3 {
        return None;
    }
    let without_heading = strip_heading_marks(unindented);
    let without_emphasis = strip_emphasis_start(without_heading);
    let (number, rest) =
        step_word_number(without_emphasis).or_else(|| bare_number(without_emphasis))?;
    let (title, inline_rationale) = split_title(rest);
    Some(Header {
        number,
        title,
        inline_rationale,
    })
}

/// Strips a markdown heading marker ("### ") from the start of a line.
fn strip_heading_marks(text: &str) -> &str {
    let without_hashes = text.trim_start_matches('#');
    if without_hashes.len() < text.len() && without_hashes.starts_with([' ', '\t']) {
        without_hashes.trim_start()
    } else {
        text
    }
}

/// Strips markdown bold or italic markers. Underscores are left alone because they start names like `__init__`.
fn strip_emphasis_start(text: &str) -> &str {
    text.trim_start_matches('*').trim_start()
}

/// Parses "Step 12" (any case) followed by an optional separator; returns the number and the rest.
fn step_word_number(text: &str) -> Option<(usize, &str)> {
    let word = text.get(..4)?;
    if !word.eq_ignore_ascii_case("step") {
        return None;
    }
    let after_word = text.get(4..)?.trim_start();
    let (number, rest) = leading_number(after_word)?;
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return None;
    }
    let rest = rest.trim_start_matches('*').trim_start();
    let rest = rest
        .strip_prefix([':', '.', ')', '-', '—', '–'])
        .unwrap_or(rest);
    Some((number, rest))
}

/// Parses "12." or "12)" followed by whitespace or the end of the line.
fn bare_number(text: &str) -> Option<(usize, &str)> {
    let (number, rest) = leading_number(text)?;
    let rest = rest.strip_prefix(['.', ')'])?;
    if rest.is_empty() || rest.starts_with([' ', '\t', '*']) {
        Some((number, rest))
    } else {
        None
    }
}

/// Parses up to three leading digits; longer numbers are years or data, not step numbers.
fn leading_number(text: &str) -> Option<(usize, &str)> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let number = text.get(..digits)?.parse().ok()?;
    Some((number, text.get(digits..)?))
}

/// Separators between a title and a rationale on the same line, most specific first.
const INLINE_SEPARATORS: [&str; 4] = [" — ", " – ", ": because ", " - "];

/// Splits a header's text into its title and an optional rationale written on the same line.
fn split_title(text: &str) -> (String, Option<String>) {
    if let Some(split) = split_bold_title(text) {
        return split;
    }
    for separator in INLINE_SEPARATORS {
        if let Some(at) = find_outside_backticks(text, separator) {
            let title = clean_title(&text[..at]);
            let rationale = clean_rationale(&text[at + separator.len()..]);
            return (title, (!rationale.is_empty()).then_some(rationale));
        }
    }
    (clean_title(text), None)
}

/// Splits "**Title**: rationale", the way instruct models like to write headers.
fn split_bold_title(text: &str) -> Option<(String, Option<String>)> {
    let inner = text.trim_start().strip_prefix("**")?;
    let close = inner.find("**")?;
    let title = clean_title(&inner[..close]);
    let rest = inner[close + 2..]
        .trim_start()
        .trim_start_matches([':', '-', '—', '–', '.']);
    let rationale = clean_rationale(rest);
    Some((title, (!rationale.is_empty()).then_some(rationale)))
}

/// Finds `needle` in `text` outside `inline code`, so "Use `a - b`" is not split at its minus sign.
fn find_outside_backticks(text: &str, needle: &str) -> Option<usize> {
    let mut inside_code = false;
    for (at, c) in text.char_indices() {
        if c == '`' {
            inside_code = !inside_code;
        } else if !inside_code && text[at..].starts_with(needle) {
            return Some(at);
        }
    }
    None
}

fn clean_title(text: &str) -> String {
    let trimmed = text
        .trim()
        .trim_start_matches(['*', ':', '-', '—', '–'])
        .trim_end_matches('*')
        .trim();
    trimmed.trim_end_matches(':').trim().to_string()
}

fn clean_rationale(text: &str) -> String {
    text.trim().trim_matches('*').trim().to_string()
}

/// Words that introduce a rationale line ("Why: ...", "**Because:** ...").
const RATIONALE_LABELS: [&str; 4] = ["why", "because", "rationale", "reason"];

/// Recognises a rationale line and returns its text (possibly empty when the text is on the next line).
fn rationale_line(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let unbulleted = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .unwrap_or(trimmed);
    let text = unbulleted.trim_start_matches('*');
    let label = RATIONALE_LABELS.iter().find(|label| {
        text.get(..label.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(label))
    })?;
    let after_label = text.get(label.len()..)?.trim_start_matches('*');
    let after_colon = after_label.strip_prefix(':')?;
    Some(clean_rationale(after_colon))
}

/// Recognises an opening fence; returns its marker character, marker length and indentation.
fn opening_fence(line: &str) -> Option<(char, usize, usize)> {
    let unindented = line.trim_start_matches(' ');
    let indent = line.len() - unindented.len();
    let marker = unindented
        .chars()
        .next()
        .filter(|c| *c == '`' || *c == '~')?;
    let marker_len = unindented.chars().take_while(|c| *c == marker).count();
    if marker_len < 3 {
        return None;
    }
    // A backtick fence's info string cannot contain backticks; "```x```" is inline code.
    let info = &unindented[marker_len..];
    if marker == '`' && info.contains('`') {
        return None;
    }
    Some((marker, marker_len, indent))
}

fn is_closing_fence(line: &str, open: &OpenFence) -> bool {
    let trimmed = line.trim();
    let marker_len = trimmed.chars().take_while(|c| *c == open.marker).count();
    marker_len >= open.marker_len && marker_len == trimmed.chars().count()
}

/// Removes up to `indent` leading spaces, undoing the indentation of a fence nested in a list item.
fn strip_indent(line: &str, indent: usize) -> &str {
    let spaces = line.bytes().take(indent).take_while(|b| *b == b' ').count();
    &line[spaces..]
}

/// Turns the scanned steps into the final chain: rationales and code resolved, empty titles and
/// duplicates skipped, numbers checked, the step limit applied.
fn finish(scan: Scan, max_steps: usize) -> ParsedChain {
    let mut chain = ParsedChain::default();
    if scan.steps.is_empty() {
        chain.problems.push("no numbered steps found".to_string());
        return chain;
    }
    let kept = keep_distinct_titled(scan.steps, &mut chain.problems);
    note_unordered_numbers(&kept, &mut chain.problems);
    let total = kept.len();
    for (index, raw) in kept.into_iter().enumerate() {
        if index == max_steps {
            chain.problems.push(format!(
                "the model wrote {total} steps; kept the first {max_steps}"
            ));
            break;
        }
        let step = resolve_step(raw, index + 1, &mut chain);
        chain.steps.push(step);
    }
    chain
}

/// Skips steps without a title and steps whose number was already used, noting each.
fn keep_distinct_titled(raw_steps: Vec<RawStep>, problems: &mut Vec<String>) -> Vec<RawStep> {
    let mut seen = HashSet::new();
    let mut kept = Vec::new();
    for raw in raw_steps {
        if raw.title.is_empty() {
            problems.push(format!(
                "step {} has no title; skipped it",
                raw.model_number
            ));
        } else if !seen.insert(raw.model_number) {
            problems.push(format!(
                "step {} appears twice; kept the first",
                raw.model_number
            ));
        } else {
            kept.push(raw);
        }
    }
    kept
}

fn note_unordered_numbers(kept: &[RawStep], problems: &mut Vec<String>) {
    let in_order = kept
        .iter()
        .enumerate()
        .all(|(index, raw)| raw.model_number == index + 1);
    if in_order {
        return;
    }
    let numbers: Vec<String> = kept
        .iter()
        .map(|raw| raw.model_number.to_string())
        .collect();
    problems.push(format!(
        "steps were numbered {}; renumbered them in order of appearance",
        numbers.join(", ")
    ));
}

fn resolve_step(raw: RawStep, number: usize, chain: &mut ParsedChain) -> Step {
    let (prose_rationale, unfenced_lines) = split_loose_lines(&raw.loose_lines);
    let code = match raw.code {
        CodeState::Closed(code) => Some(code),
        CodeState::Unclosed => {
            chain.truncated = true;
            chain
                .problems
                .push(format!("the output stopped inside step {number}'s code"));
            None
        }
        CodeState::Missing => unfenced_code(unfenced_lines, number, &mut chain.problems),
    };
    if raw.title_cut {
        chain.truncated = true;
        chain
            .problems
            .push(format!("the output stopped in step {number}'s title"));
    }
    let rationale = raw
        .explicit_rationale
        .or(raw.inline_rationale)
        .or(prose_rationale)
        .unwrap_or_default();
    Step {
        number,
        title: raw.title,
        rationale,
        code,
    }
}

/// Separates a prose rationale (the first loose line, when it reads like a sentence) from the lines
/// that might be unfenced code.
fn split_loose_lines(loose_lines: &[String]) -> (Option<String>, &[String]) {
    let start = loose_lines
        .iter()
        .position(|line| !line.trim().is_empty())
        .unwrap_or(loose_lines.len());
    let rest = &loose_lines[start..];
    match rest.first() {
        Some(first) if looks_like_prose(first) => (Some(clean_rationale(first)), &rest[1..]),
        _ => (None, rest),
    }
}

/// Accepts lines without a fence as the step's code only when every line plausibly is code.
fn unfenced_code(lines: &[String], number: usize, problems: &mut Vec<String>) -> Option<String> {
    let lines = trim_blank_lines(skip_label_lines(lines));
    let non_blank: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
    if non_blank.is_empty() || non_blank.iter().any(|line| looks_like_prose(line)) {
        return None;
    }
    let code_like = non_blank
        .iter()
        .filter(|line| looks_like_code(line))
        .count();
    // Lines like "total" or "else:" are neutral; most lines must carry a clear code signal.
    if code_like * 2 < non_blank.len() {
        return None;
    }
    problems.push(format!(
        "step {number}'s code had no fence; took the lines after its title as code"
    ));
    Some(lines.join("\n"))
}

/// Skips leading labels such as "Code:" or "Updated code:" that introduce unfenced code.
fn skip_label_lines(lines: &[String]) -> &[String] {
    let labels = lines
        .iter()
        .take_while(|line| line.trim().is_empty() || is_label(line))
        .count();
    &lines[labels..]
}

fn is_label(line: &str) -> bool {
    let trimmed = line.trim();
    let Some(body) = trimmed.strip_suffix(':') else {
        return false;
    };
    body.starts_with(|c: char| c.is_uppercase())
        && body
            .chars()
            .all(|c| c.is_alphanumeric() || c == ' ' || c == '\'')
}

fn trim_blank_lines(lines: &[String]) -> &[String] {
    let start = lines
        .iter()
        .position(|line| !line.trim().is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|line| !line.trim().is_empty())
        .map_or(start, |last| last + 1);
    &lines[start..end]
}

/// Characters that rarely appear in prose but constantly in code.
const CODE_CHARACTERS: [char; 9] = ['(', ')', '{', '}', '[', ']', ';', '=', '"'];

/// Keywords that start lines of code in common languages.
const CODE_KEYWORDS: [&str; 30] = [
    "def", "fn", "return", "let", "const", "var", "import", "from", "class", "if", "elif", "else",
    "for", "while", "pub", "use", "package", "func", "end", "try", "except", "catch", "finally",
    "struct", "impl", "match", "async", "await", "raise", "throw",
];

/// Whether a line shows a clear sign of being code: indentation, code punctuation, a comment marker
/// or a leading keyword.
fn looks_like_code(line: &str) -> bool {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return false;
    }
    let indented = line.starts_with(['\t', ' ']);
    let first_word = trimmed
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    indented
        || trimmed.contains(CODE_CHARACTERS)
        || trimmed.starts_with(['#', '/', '@'])
        || CODE_KEYWORDS.contains(&first_word)
}

/// Whether a line reads like an English sentence rather than code: a capitalised first word that is
/// not a shouted keyword, at least four words, mostly plain words, and no code-like line ending.
fn looks_like_prose(line: &str) -> bool {
    let trimmed = line.trim();
    let text = trimmed
        .strip_prefix("- ")
        .or_else(|| trimmed.strip_prefix("* "))
        .unwrap_or(trimmed);
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some(first_word) = words.first() else {
        return false;
    };
    let capitalised = first_word.starts_with(|c: char| c.is_uppercase());
    let shouted = first_word.chars().count() > 1 && first_word.chars().all(|c| c.is_uppercase());
    let plain = words.iter().filter(|word| is_plain_word(word)).count();
    capitalised
        && !shouted
        && words.len() >= 4
        && plain * 4 >= words.len() * 3
        && !text.ends_with([';', '{', '(', ',', '\\', '='])
}

fn is_plain_word(word: &str) -> bool {
    let core = word
        .trim_start_matches(['(', '"', '\'', '`'])
        .trim_end_matches([',', '.', ':', ';', '!', '?', ')', '"', '\'', '`']);
    !core.is_empty()
        && core
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
}
