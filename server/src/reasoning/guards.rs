//! Checks a reasoning chain's result must pass before anything is applied: it is in the document's language, it is about the selection, it is not copied from the prompt's worked examples, and it keeps the selection's definitions.
//!
//! A small model asked to reason in steps often answers with something other than the selection:
//! the worked example of the prompt (JavaScript in a Python file), or a rewrite that drops the
//! function it was asked to fix. Every check here is lexical and cheap, and each was written from
//! such an output (see `server/tests/reasoning_guards.rs`). A result that fails one is not
//! applied, and the reason is given in words.

use std::collections::HashSet;

use super::prompt::{worked_example_code, ReasoningTask};

/// Words in a row that make an n-gram for the copy check: long enough that ordinary code shares
/// none with the examples by chance (`for value in values` is three).
const COPY_NGRAM: usize = 4;
/// Words in a row that make an n-gram for the check of a step's reasoning: prose shares short
/// runs (`when the list is empty`) by chance, so it takes more.
const PROSE_NGRAM: usize = 6;
/// The result must keep at least this share of the selection's own names.
const MIN_NAMES_KEPT: f64 = 0.5;
/// How much less likely than the original, in nats per token, the model may find a result (with
/// the text after it) before it is rejected. Measured with `reasoning_bench --preference` on its
/// 47 functions: every true fix (buggy → correct) scores between 0.47 better and 0.06 worse than
/// the buggy code with either model, so none comes near the bound, while 42 of 47 (Gemma) and 43
/// of 47 (SmolLM2) functions with their body's statements reversed score beyond it (median 0.6).
pub const MAX_PREFERENCE_DROP: f32 = 0.35;

/// Why a result was not applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Rejection {
    /// The result holds syntax of another language (`marker`, typical of `language`).
    OtherLanguage {
        marker: &'static str,
        language: &'static str,
    },
    /// The result repeats a run of words from the prompt's worked examples.
    CopiedExample { words: String },
    /// A step's title or reason repeats the prompt's examples or instructions instead of speaking
    /// of this code.
    CopiedReasoning { words: String },
    /// The result keeps too few of the selection's names to be about it.
    Unrelated { kept: usize, of: usize },
    /// The result changes only comments or strings, not the code.
    OnlyProse,
    /// A function or type the selection defines is gone or has lost parameters.
    DefinitionChanged { name: String, detail: &'static str },
    /// The model finds the result much less likely than the original, in the file's context
    /// (mean log probability per token of each, with the text after the selection).
    ModelPrefersOriginal { original: f32, result: f32 },
    /// The model could not score the result, so the check did not run.
    Unchecked { reason: String },
}

impl Rejection {
    /// The reason in words, for the summary and the log.
    pub fn describe(&self, document_language: &str) -> String {
        match self {
            Rejection::OtherLanguage { marker, language } => format!(
                "the result looks like {language}, not {document_language} (it has `{marker}`)"
            ),
            Rejection::CopiedExample { words } => format!(
                "the result copies the prompt's example (`{words}`) instead of changing the selection"
            ),
            Rejection::CopiedReasoning { words } => format!(
                "a step repeats the prompt's own text (`{words}`) instead of reasoning about this code"
            ),
            Rejection::Unrelated { kept, of } => format!(
                "the result is not about the selection (it keeps {kept} of its {of} names)"
            ),
            Rejection::OnlyProse => {
                "the result changes only comments or strings, not the code".to_string()
            }
            Rejection::DefinitionChanged { name, detail } => {
                format!("the result {detail} `{name}`, which no step said to change")
            }
            Rejection::ModelPrefersOriginal { original, result } => format!(
                "the model finds the result much less likely than the code it replaces \
                 ({:.2} vs {:.2} nats per token)",
                -result, -original
            ),
            Rejection::Unchecked { reason } => {
                format!("the model could not check the result ({reason})")
            }
        }
    }
}

/// What the checks look at.
#[derive(Debug, Clone, Copy)]
pub struct Proposal<'a> {
    pub task: ReasoningTask,
    /// The document's LSP language id.
    pub language_id: &'a str,
    /// The selection as it was.
    pub original: &'a str,
    /// The selection after the last kept step.
    pub result: &'a str,
    /// The titles and rationales of the kept steps: a step may say it renames something.
    pub step_text: &'a str,
    /// rill's own texts in the prompt (examples, instructions: [`super::prompt::instruction_texts`]),
    /// which no step may repeat as its reasoning.
    pub instructions: &'a [String],
}

/// Every check, in order; the first that fails decides.
pub fn check(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    same_language(proposal)?;
    changes_code(proposal)?;
    not_copied(proposal)?;
    reasoning_not_copied(proposal)?;
    about_the_selection(proposal)?;
    definitions_kept(proposal)?;
    Ok(())
}

/// The last check, once the model has scored both versions (mean log probability per token): a
/// result much less likely than the original is rejected.
pub fn model_prefers(original: f32, result: f32) -> Result<(), Rejection> {
    if original - result > MAX_PREFERENCE_DROP || !result.is_finite() {
        return Err(Rejection::ModelPrefersOriginal { original, result });
    }
    Ok(())
}

/// The check of an explanation (nothing is applied): its steps must not repeat the prompt's own
/// text (recorded: "`mul` is a typo; the sum is stored in `total`" for `def mul(a, b): return a *
/// b`, the fix example's reason with the name swapped).
pub fn check_explanation(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    reasoning_not_copied(proposal)
}

/// Syntax families, each with markers that never appear in the others' code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Python,
    /// JavaScript, TypeScript and their JSX dialects.
    JavaScript,
    Rust,
    /// C, C++, Java, C#, Go and the like: braces, no `def`, no `fn`/`function` keywords checked.
    OtherBraces,
}

impl Family {
    fn of(language_id: &str) -> Option<Self> {
        match language_id {
            "python" => Some(Family::Python),
            "javascript" | "typescript" | "javascriptreact" | "typescriptreact" => {
                Some(Family::JavaScript)
            }
            "rust" => Some(Family::Rust),
            "c" | "cpp" | "java" | "csharp" | "go" | "kotlin" | "swift" => {
                Some(Family::OtherBraces)
            }
            _ => None,
        }
    }
}

/// A marker: how a code line (comments and strings blanked) shows a family.
struct Marker {
    text: &'static str,
    language: &'static str,
    found: fn(&str) -> bool,
}

const PYTHON_MARKERS: &[Marker] = &[
    Marker {
        text: "def …:",
        language: "Python",
        found: |line| {
            let line = line.trim();
            line.starts_with("def ") && line.ends_with(':')
        },
    },
    Marker {
        text: "elif",
        language: "Python",
        found: |line| line.trim_start().starts_with("elif "),
    },
];

const BRACE_MARKERS: &[Marker] = &[
    Marker {
        // A block opened with a brace (`if (x) {`, `} else {`), not a dict or set literal
        // (`x = {`, `f({`), which Python writes too.
        text: ") {",
        language: "a language with braces",
        found: |line| {
            let line = line.trim_end();
            line.ends_with(") {")
                || line.ends_with("else {")
                || line.trim_start().starts_with("} else")
        },
    },
    Marker {
        text: ";",
        language: "a language with semicolons",
        found: |line| line.trim_end().ends_with(';'),
    },
];

const JAVASCRIPT_MARKERS: &[Marker] = &[
    Marker {
        text: "function",
        language: "JavaScript",
        found: |line| has_word_followed(line, "function", &[' ', '(']),
    },
    Marker {
        text: "=>",
        language: "JavaScript",
        found: |line| line.contains("=>"),
    },
    Marker {
        text: "var",
        language: "JavaScript",
        found: |line| line.trim_start().starts_with("var "),
    },
    Marker {
        text: "===",
        language: "JavaScript",
        found: |line| line.contains("===") || line.contains("!=="),
    },
];

const RUST_MARKERS: &[Marker] = &[Marker {
    text: "fn",
    language: "Rust",
    found: |line| {
        let line = line.trim_start();
        ["fn ", "pub fn ", "pub(crate) fn "]
            .iter()
            .any(|start| line.starts_with(start))
    },
}];

/// The markers that betray another language than `family`.
fn foreign_markers(family: Family) -> Vec<&'static Marker> {
    let all = |markers: &'static [Marker]| markers.iter().collect::<Vec<_>>();
    match family {
        Family::Python => [
            all(BRACE_MARKERS),
            all(JAVASCRIPT_MARKERS),
            all(RUST_MARKERS),
        ]
        .concat(),
        Family::JavaScript => [all(PYTHON_MARKERS), all(RUST_MARKERS)].concat(),
        Family::Rust => [all(PYTHON_MARKERS), all(JAVASCRIPT_MARKERS)]
            .concat()
            .into_iter()
            // `=>` is Rust too (match arms).
            .filter(|marker| marker.text != "=>")
            .collect(),
        Family::OtherBraces => all(PYTHON_MARKERS),
    }
}

/// `fix` and `improve` must change code: a result that rewrites only a docstring or a comment
/// leaves the problem where it was (recorded from the default model on the reasoning benchmark:
/// a "fix" of `retrun returnitem` that edited the docstring and kept the misspelled keyword).
fn changes_code(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    let Some(family) = Family::of(proposal.language_id) else {
        return Ok(());
    };
    let code = |text: &str| -> Vec<String> {
        code_lines(text, family)
            .into_iter()
            .map(|line| line.trim_end().to_string())
            .filter(|line| !line.is_empty())
            .collect()
    };
    if code(proposal.original) == code(proposal.result) {
        return Err(Rejection::OnlyProse);
    }
    Ok(())
}

/// The result must not show another language's syntax that the original does not show.
fn same_language(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    let Some(family) = Family::of(proposal.language_id) else {
        return Ok(());
    };
    let original = code_lines(proposal.original, family);
    let result = code_lines(proposal.result, family);
    for marker in foreign_markers(family) {
        let in_result = result.iter().any(|line| (marker.found)(line));
        let in_original = original.iter().any(|line| (marker.found)(line));
        if in_result && !in_original {
            return Err(Rejection::OtherLanguage {
                marker: marker.text,
                language: marker.language,
            });
        }
    }
    Ok(())
}

/// The lines of `text` with comments and string literals blanked, as far as a lexical pass can
/// tell, so that a `;` in a string or a comment is not taken for syntax.
fn code_lines(text: &str, family: Family) -> Vec<String> {
    let comment = if family == Family::Python { "#" } else { "//" };
    text.lines()
        .map(|line| {
            let mut out = String::with_capacity(line.len());
            let mut quote: Option<char> = None;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match quote {
                    Some(q) => {
                        if c == '\\' {
                            chars.next();
                        } else if c == q {
                            quote = None;
                            out.push(c);
                        }
                    }
                    None => {
                        if c == '"' || c == '\'' || c == '`' {
                            quote = Some(c);
                            out.push(c);
                        } else if comment.starts_with(c)
                            && (comment.len() == 1 || chars.peek() == Some(&'/'))
                        {
                            break;
                        } else {
                            out.push(c);
                        }
                    }
                }
            }
            out
        })
        .collect()
}

/// Whether `line` has the word `word` followed by one of `next`.
fn has_word_followed(line: &str, word: &str, next: &[char]) -> bool {
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && after.is_some_and(|c| next.contains(&c))
    })
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The words (names, keywords, numbers) of `text`, in order.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|word| !word.is_empty())
        .collect()
}

fn ngrams<'a>(words: &[&'a str]) -> HashSet<Vec<&'a str>> {
    words.windows(COPY_NGRAM).map(<[&str]>::to_vec).collect()
}

/// The result must not repeat a run of words from the worked examples that the selection does not
/// hold itself. A run that is one of the selection's own with one word changed is the selection
/// edited, not copied: fixing `total += values` to `total += value` may happen to spell the fix
/// example's words (found by the in-process test of a true fix).
fn not_copied(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    let original = ngrams(&words(proposal.original));
    let examples: HashSet<Vec<&str>> = worked_example_code()
        .iter()
        .flat_map(|code| ngrams(&words(code)))
        .collect();
    let one_word_from_original = |gram: &[&str]| {
        original.iter().any(|own| {
            own.iter()
                .zip(gram)
                .filter(|(own, word)| own != word)
                .count()
                <= 1
        })
    };
    let result_words = words(proposal.result);
    for gram in result_words.windows(COPY_NGRAM) {
        let gram = gram.to_vec();
        if examples.contains(&gram) && !one_word_from_original(&gram) {
            return Err(Rejection::CopiedExample {
                words: gram.join(" "),
            });
        }
    }
    Ok(())
}

/// The steps' titles and reasons must not be the prompt's own: a step titled as an example's step
/// or as a sentence of the instructions, or repeating six words in a row of them, was written from
/// the prompt, not from this code (recorded: "Handle an empty list — dividing by `len(paths)` raises ZeroDivisionError
/// when the list is empty" on a function that divides by nothing).
fn reasoning_not_copied(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    // Titles: a step titled as a line or a sentence of the prompt's own text (an example's step,
    // the format's placeholder `<step title, one line>`, "Use at most 2 small steps.").
    let normal = |text: &str| {
        text.trim()
            .trim_end_matches(['.', ':'])
            .trim()
            .to_lowercase()
    };
    let prompt_sentences: HashSet<String> = proposal
        .instructions
        .iter()
        .flat_map(|text| text.lines())
        .flat_map(|line| {
            let line = step_title(line).unwrap_or(line);
            std::iter::once(line).chain(line.split(". "))
        })
        .map(normal)
        .filter(|sentence| sentence.len() > 3)
        .collect();
    for line in proposal.step_text.lines() {
        let title = normal(step_title(line).unwrap_or(line));
        if prompt_sentences.contains(&title) {
            return Err(Rejection::CopiedReasoning { words: title });
        }
    }
    // Reasons: six words in a row of the prompt's own text that the selection does not hold.
    let lowercase = |text: &str| text.to_lowercase();
    let prompt_words = lowercase(&proposal.instructions.concat());
    let prompt_grams: HashSet<Vec<&str>> = words(&prompt_words)
        .windows(PROSE_NGRAM)
        .map(<[&str]>::to_vec)
        .collect();
    let original = lowercase(proposal.original);
    let original_grams: HashSet<Vec<&str>> = words(&original)
        .windows(PROSE_NGRAM)
        .map(<[&str]>::to_vec)
        .collect();
    let said = lowercase(proposal.step_text);
    for gram in words(&said).windows(PROSE_NGRAM) {
        let gram = gram.to_vec();
        if prompt_grams.contains(&gram) && !original_grams.contains(&gram) {
            return Err(Rejection::CopiedReasoning {
                words: gram.join(" "),
            });
        }
    }
    Ok(())
}

/// The title of a step line of the output format (`2. Handle an empty list`).
fn step_title(line: &str) -> Option<&str> {
    let (number, title) = line.split_once(". ")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(title.trim())
}

/// Words every language's code is full of, which say nothing about what the code is about.
const COMMON_WORDS: &[&str] = &[
    "def", "return", "if", "else", "elif", "for", "while", "in", "not", "and", "or", "is", "None",
    "True", "False", "self", "fn", "let", "mut", "pub", "const", "var", "function", "class",
    "struct", "impl", "use", "import", "from", "as", "new", "this", "null", "true", "false",
];

/// The selection's own names: words of its code (not of its comments and strings) that are not
/// keywords, numbers or one letter.
fn own_names(text: &str, family: Option<Family>) -> HashSet<String> {
    let code = match family {
        Some(family) => code_lines(text, family).join("\n"),
        None => text.to_string(),
    };
    words(&code)
        .into_iter()
        .map(str::to_string)
        .filter(|word| {
            word.chars().count() > 1
                && !word.starts_with(|c: char| c.is_ascii_digit())
                && !COMMON_WORDS.contains(&word.as_str())
        })
        .collect()
}

/// The result must keep most of the selection's names.
fn about_the_selection(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    let family = Family::of(proposal.language_id);
    let original = own_names(proposal.original, family);
    if original.is_empty() {
        return Ok(());
    }
    let result = own_names(proposal.result, family);
    let kept = original.intersection(&result).count();
    if (kept as f64) < MIN_NAMES_KEPT * original.len() as f64 {
        return Err(Rejection::Unrelated {
            kept,
            of: original.len(),
        });
    }
    Ok(())
}

/// Keywords that start a definition whose name follows.
const DEFINITION_KEYWORDS: &[&str] = &["def", "class", "fn", "function", "struct", "enum", "trait"];

/// Each definition of `text`: its name and its parameter names (the first name of each
/// comma-separated parameter between the first parentheses of its line, `mut` skipped; a type
/// written first, as in C, is not told apart, so such languages compare type and name alike).
fn definitions(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line_words = words(line);
        let Some(index) = line_words
            .iter()
            .position(|word| DEFINITION_KEYWORDS.contains(word))
        else {
            continue;
        };
        let Some(name) = line_words.get(index + 1) else {
            continue;
        };
        found.push((*name, parameter_names(line)));
    }
    found
}

/// The parameter names of a definition line: see [`definitions`].
fn parameter_names(line: &str) -> Vec<&str> {
    let Some(open) = line.find('(') else {
        return Vec::new();
    };
    let mut depth = 0usize;
    let mut end = line.len();
    for (at, c) in line[open..].char_indices() {
        match c {
            '(' | '[' | '<' | '{' => depth += 1,
            ')' | ']' | '>' | '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    end = open + at;
                    break;
                }
            }
            _ => {}
        }
    }
    let inside = &line[open + 1..end.max(open + 1)];
    // Commas at depth 0 only: `Dict[str, int]` is one parameter's type.
    let mut names = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let mut pieces = Vec::new();
    for (at, c) in inside.char_indices() {
        match c {
            '(' | '[' | '<' | '{' => depth += 1,
            ')' | ']' | '>' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                pieces.push(&inside[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    pieces.push(&inside[start..]);
    for piece in pieces {
        if let Some(name) = words(piece).into_iter().find(|word| *word != "mut") {
            names.push(name);
        }
    }
    names
}

/// `fix` and `improve` keep every function and type the selection defines, with every parameter
/// name, unless a step says it renames or removes something.
fn definitions_kept(proposal: &Proposal<'_>) -> Result<(), Rejection> {
    if !proposal.task.edits_code() {
        return Ok(());
    }
    let said = proposal.step_text.to_lowercase();
    if ["rename", "remove", "delete", "drop"]
        .iter()
        .any(|verb| said.contains(verb))
    {
        return Ok(());
    }
    let result = definitions(proposal.result);
    for (name, parameters) in definitions(proposal.original) {
        let Some((_, now)) = result.iter().find(|(other, _)| *other == name) else {
            return Err(Rejection::DefinitionChanged {
                name: name.to_string(),
                detail: "no longer defines",
            });
        };
        if parameters.iter().any(|parameter| !now.contains(parameter)) {
            return Err(Rejection::DefinitionChanged {
                name: name.to_string(),
                detail: "changes the parameters of",
            });
        }
    }
    Ok(())
}
