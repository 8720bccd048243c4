//! Measures suggestion quality: holes cut out of real code in four languages, completed through the real `rill --stdio`, scored against the removed text, with ablations of rill's quality techniques and a plain llama.cpp baseline in the same table.
//!
//! The corpus (`benches/workloads/quality/holes.jsonl`) is written by `--generate` from source files
//! the repository ships (CPython modules, rill's own Rust, Lua and TypeScript; see
//! `benches/workloads/quality/SOURCES.md`). Each hole is a byte range of one file:
//!
//! - `whole_line`: one code line's text after its indentation (the document keeps the indentation
//!   and the line break, the cursor sits after the indentation);
//! - `mid_line`: the rest of a code line after a cut inside an identifier (at least two characters
//!   typed) or right after `(`;
//! - `multi_line`: a whole indented block body of 2–6 lines after a line that opens a block, from
//!   after the first body line's indentation to the end of the last body line.
//!
//! For each hole the document holds the file without the hole, and the bench asks for an automatic
//! inline completion at the hole, as VS Code would. One document per source file is reused, moving
//! from hole to hole in file order with a `didChange`, so the server's per-document KV cache keeps the
//! shared prefix, and each answer is awaited before the next hole.
//!
//! Scores per kind and overall: first-line exact match, edit similarity over the kind's unit (first
//! line, or the whole body for `multi_line`), shown rate, precision when shown, p50/p95 latency, and,
//! when the items carry `confidence`, the shown rate and precision a confidence gate would give.
//! `--ablations` runs the full configuration, each quality technique switched off, and all of them
//! off, each in a fresh server, plus `benches/quality_baseline.py` (llama.cpp, greedy, the same
//! prompt window), and prints one table.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, ensure, Context, Result};
use clap::Parser;
use rill_e2e::{Encoding, Profile, Server, TextModel};
use rill_server::config::Config;
use serde_json::{json, Value};

/// Where the holes live, relative to the workspace.
const HOLES_FILE: &str = "benches/workloads/quality/holes.jsonl";

/// The corpus directories, relative to the workspace; every `.py`, `.rs`, `.lua` and `.ts` file
/// directly inside them is used, in sorted order. `long_file.py` is left out because it is the
/// start of `diagnostics/textwrap.py`.
const CORPUS_DIRS: [&str; 7] = [
    "benches/workloads/edit_replay",
    "benches/workloads/diagnostics",
    "benches/workloads/crossfile/json",
    "benches/workloads/crossfile/importlib_metadata",
    "benches/workloads/quality/rust",
    "benches/workloads/quality/lua",
    "benches/workloads/quality/typescript",
];

/// Holes of each kind per language. Python has the most code in the corpus and is what most
/// users of a small model write; the other three languages are there to catch techniques that
/// only work for one syntax. 110 holes per kind, 330 in all.
const QUOTAS: [(Lang, usize); 4] = [
    (Lang::Python, 50),
    (Lang::Rust, 30),
    (Lang::Lua, 15),
    (Lang::TypeScript, 15),
];

/// The generator's default seed (the issue number); only the mid-line cut points are random.
const DEFAULT_SEED: u64 = 13;

/// Body lines of a `multi_line` hole, blank lines inside the body included.
const MIN_BODY_LINES: usize = 2;
const MAX_BODY_LINES: usize = 6;

/// Columns a tab counts for in indentation comparisons, as in the server's post-processing.
const TAB_WIDTH: usize = 4;

/// The settings every run starts from. The time budget is far above the 2 s default so that the
/// bench measures what the model would suggest, not how much of it fits in 2 s on a shared
/// two-core machine. Diagnostics are off because their background scoring does not change any
/// suggestion but would take half the CPU of the run (`--set diagnostics.enable=true` restores it).
fn base_settings() -> Value {
    json!({
        "completion": { "timeoutMs": 10000 },
        "diagnostics": { "enable": false }
    })
}

/// The ablations: one run per technique switched off, then all of them off together. The full
/// configuration is the server's defaults.
const ABLATIONS: [(&str, &str, &str); 5] = [
    ("no tokenHealing", "completion.tokenHealing", "false"),
    ("no suffixChoice", "completion.suffixChoice", "false"),
    ("minConfidence 0", "completion.minConfidence", "0"),
    (
        "codeOverComment off",
        "completion.codeOverComment",
        "\"off\"",
    ),
    ("candidates 1", "completion.candidates", "1"),
];

/// Thresholds of the confidence curve.
const CONFIDENCE_STEPS: usize = 10;

/// How long the `rill/status` of a finished completion may take after its response (the server
/// gives up after 10 s itself).
const STATUS_TIMEOUT: Duration = Duration::from_secs(11);
/// How long shutdown and exit may take.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack over `completion.timeoutMs` before a missing response fails the run.
const REPLY_SLACK: Duration = Duration::from_secs(60);

#[derive(Parser, Debug)]
#[command(about = "Suggestion quality on holes cut from real code, through rill's LSP server")]
struct Args {
    /// Write the hole corpus (benches/workloads/quality/holes.jsonl) from the source files and exit.
    #[arg(long)]
    generate: bool,
    /// Seed of the generator's random choices (mid-line cut points).
    #[arg(long, default_value_t = DEFAULT_SEED)]
    seed: u64,
    /// The holes file to read (or, with --generate, to write).
    #[arg(long)]
    holes: Option<PathBuf>,
    /// The rill binary (default: target/release/rill next to this binary, or RILL_BIN).
    #[arg(long)]
    server: Option<PathBuf>,
    /// The name of the run in the table (default "rill"; ignored with --ablations).
    #[arg(long)]
    label: Option<String>,
    /// Overrides a setting in every run: a dotted key and a JSON value, e.g.
    /// `--set completion.contextTokens=512`; a value that is not JSON is taken as a string.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Run the full configuration, one run per technique switched off and all off, and llama.cpp.
    #[arg(long)]
    ablations: bool,
    /// Holes per kind, spread evenly over the corpus (for smoke runs).
    #[arg(long)]
    limit: Option<usize>,
    /// Write every run's per-hole results (and the summary) to this JSON file, after each run.
    #[arg(long)]
    json: Option<PathBuf>,
    /// A JSON file written by benches/quality_baseline.py (or an earlier `--json`), shown as rows
    /// of the table (repeatable).
    #[arg(long)]
    baseline: Vec<PathBuf>,
    /// Run no rill server: only print the table of the --baseline files (and --llama).
    #[arg(long)]
    no_rill: bool,
    /// Also run benches/quality_baseline.py in a single (non-ablation) run.
    #[arg(long)]
    llama: bool,
    /// Do not run benches/quality_baseline.py in --ablations mode.
    #[arg(long)]
    no_llama: bool,
    /// The python that has llama_cpp (default: the venv of scripts/install-llama-cpp.sh).
    #[arg(long)]
    llama_python: Option<PathBuf>,
    /// Write each server's stderr (debug log) to DIR/<label>.log.
    #[arg(long, value_name = "DIR")]
    server_log: Option<PathBuf>,
    /// Print every hole's expected text and answer to stderr.
    #[arg(long)]
    verbose: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let workspace = workspace()?;
    let holes_path = args
        .holes
        .clone()
        .unwrap_or_else(|| workspace.join(HOLES_FILE));
    if args.generate {
        return generate(&workspace, &holes_path, args.seed);
    }
    if let Some(server) = &args.server {
        let server = server
            .canonicalize()
            .with_context(|| format!("cannot find the server binary {}", server.display()))?;
        // The e2e harness starts the binary RILL_BIN names; nothing else runs yet, so setting the
        // variable cannot race with another thread reading the environment.
        std::env::set_var("RILL_BIN", server);
    }

    let all_holes = read_holes(&holes_path)?;
    let sources = read_sources(&workspace, &all_holes)?;
    let holes = match args.limit {
        Some(limit) => limit_per_kind(&all_holes, limit),
        None => all_holes,
    };
    ensure!(!holes.is_empty(), "no holes to run");

    let mut base = base_settings();
    for assignment in &args.set {
        let (key, value) = parse_assignment(assignment)?;
        set_dotted(&mut base, &key, value);
    }
    let mut specs = Vec::new();
    if args.ablations {
        specs.push(RunSpec::new("full", base.clone()));
        let mut all_off = base.clone();
        for (label, key, value) in ABLATIONS {
            let value: Value = serde_json::from_str(value).context("an ablation value")?;
            let mut settings = base.clone();
            set_dotted(&mut settings, key, value.clone());
            set_dotted(&mut all_off, key, value);
            specs.push(RunSpec::new(label, settings));
        }
        specs.push(RunSpec::new("all off", all_off));
    } else {
        let label = args.label.clone().unwrap_or_else(|| "rill".to_string());
        specs.push(RunSpec::new(&label, base.clone()));
    }

    if args.no_rill {
        specs.clear();
    }
    let mut effective = Config::default();
    for issue in effective.apply(&base) {
        eprintln!("warning: {issue}");
    }
    let load_before = load_average();
    eprintln!(
        "{} holes ({}), {} rill run(s); load average {load_before}",
        holes.len(),
        count_by_kind(&holes),
        specs.len()
    );

    let mut runs: Vec<Run> = Vec::new();
    for path in &args.baseline {
        runs.extend(read_runs(path, &holes)?);
    }
    let run_llama = if args.ablations {
        !args.no_llama
    } else {
        args.llama
    };
    if run_llama {
        match run_llama_baseline(&args, &workspace, &holes, &effective)? {
            Some(run) => {
                runs.push(run);
                write_json(&args, &holes_path, &holes, &runs)?;
            }
            None => eprintln!("llama.cpp baseline skipped"),
        }
    }

    let mut progress = Progress::new(specs.len() * holes.len());
    for spec in &specs {
        let run = run_rill(&args, spec, &holes, &sources, &effective, &mut progress)?;
        runs.push(run);
        write_json(&args, &holes_path, &holes, &runs)?;
    }

    print_report(&holes, &runs, &load_before);
    Ok(())
}

/// The workspace root: the parent of this crate's directory.
fn workspace() -> Result<PathBuf> {
    Ok(Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has a parent directory")?
        .to_path_buf())
}

// ---------------------------------------------------------------------------------------------
// Languages and holes

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Lang {
    Python,
    Rust,
    Lua,
    TypeScript,
}

impl Lang {
    const ALL: [Self; 4] = [Self::Python, Self::Rust, Self::Lua, Self::TypeScript];

    fn of(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()? {
            "py" => Some(Self::Python),
            "rs" => Some(Self::Rust),
            "lua" => Some(Self::Lua),
            "ts" => Some(Self::TypeScript),
            _ => None,
        }
    }

    /// The LSP language id, also the name in holes.jsonl.
    fn name(self) -> &'static str {
        match self {
            Self::Python => "python",
            Self::Rust => "rust",
            Self::Lua => "lua",
            Self::TypeScript => "typescript",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|lang| lang.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Whole,
    Mid,
    Multi,
}

impl Kind {
    const ALL: [Self; 3] = [Self::Whole, Self::Mid, Self::Multi];

    fn name(self) -> &'static str {
        match self {
            Self::Whole => "whole_line",
            Self::Mid => "mid_line",
            Self::Multi => "multi_line",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    fn title(self) -> &'static str {
        match self {
            Self::Whole => "whole-line",
            Self::Mid => "mid-line",
            Self::Multi => "multi-line",
        }
    }
}

/// One hole: the bytes `start..end` of `file` are removed and the cursor put at `start`.
#[derive(Debug, Clone, PartialEq)]
struct Hole {
    id: String,
    /// Relative to the workspace, with `/`.
    file: String,
    language: Lang,
    kind: Kind,
    /// 1-based line of `start`.
    line: usize,
    start: usize,
    end: usize,
    expected: String,
}

impl Hole {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "file": self.file,
            "language": self.language.name(),
            "kind": self.kind.name(),
            "line": self.line,
            "start": self.start,
            "end": self.end,
            "expected": self.expected,
        })
    }

    fn from_json(value: &Value) -> Result<Self> {
        let text = |key: &str| {
            value[key]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| anyhow!("hole without a string `{key}`: {value}"))
        };
        let number = |key: &str| {
            value[key]
                .as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| anyhow!("hole without a number `{key}`: {value}"))
        };
        let language = text("language")?;
        let kind = text("kind")?;
        Ok(Self {
            id: text("id")?,
            file: text("file")?,
            language: Lang::from_name(&language)
                .ok_or_else(|| anyhow!("unknown language {language}"))?,
            kind: Kind::from_name(&kind).ok_or_else(|| anyhow!("unknown kind {kind}"))?,
            line: number("line")?,
            start: number("start")?,
            end: number("end")?,
            expected: text("expected")?,
        })
    }

    /// The document the editor holds at this hole: the source without the hole's bytes.
    fn document(&self, source: &str) -> String {
        let mut text = String::with_capacity(source.len());
        text.push_str(&source[..self.start]);
        text.push_str(&source[self.end..]);
        text
    }
}

fn read_holes(path: &Path) -> Result<Vec<Hole>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {}; write it with `quality_bench --generate`",
            path.display()
        )
    })?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(index, line)| {
            let value: Value = serde_json::from_str(line)
                .with_context(|| format!("{} line {}", path.display(), index + 1))?;
            Hole::from_json(&value)
        })
        .collect()
}

/// Reads every file the holes name and checks that each hole still cuts out its expected text, so
/// a source file changed after the corpus was generated fails loudly instead of scoring nonsense.
fn read_sources(workspace: &Path, holes: &[Hole]) -> Result<BTreeMap<String, String>> {
    let mut sources = BTreeMap::new();
    for hole in holes {
        if !sources.contains_key(&hole.file) {
            let path = workspace.join(&hole.file);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            sources.insert(hole.file.clone(), text);
        }
        let source = &sources[&hole.file];
        ensure!(
            source.get(hole.start..hole.end) == Some(hole.expected.as_str()),
            "hole {} no longer matches {}; regenerate the corpus with `quality_bench --generate`",
            hole.id,
            hole.file
        );
    }
    Ok(sources)
}

/// At most `limit` holes of each kind, spread evenly over the kind's holes (which are in corpus
/// order, so over the languages and files too), in their original order.
fn limit_per_kind(holes: &[Hole], limit: usize) -> Vec<Hole> {
    let mut keep = HashSet::new();
    for kind in Kind::ALL {
        let of_kind: Vec<usize> = (0..holes.len())
            .filter(|&index| holes[index].kind == kind)
            .collect();
        for index in spread(of_kind.len(), limit) {
            keep.insert(of_kind[index]);
        }
    }
    (0..holes.len())
        .filter(|index| keep.contains(index))
        .map(|index| holes[index].clone())
        .collect()
}

/// `count` indices spread evenly over `0..n` (all of them when `count >= n`): the middle of each
/// of `count` equal parts. benches/quality_baseline.py uses the same rule for its `--limit`.
fn spread(n: usize, count: usize) -> Vec<usize> {
    if count >= n {
        return (0..n).collect();
    }
    (0..count).map(|i| (2 * i + 1) * n / (2 * count)).collect()
}

fn count_by_kind(holes: &[Hole]) -> String {
    Kind::ALL
        .iter()
        .map(|&kind| {
            format!(
                "{} {}",
                holes.iter().filter(|h| h.kind == kind).count(),
                kind.title()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// The generator: a small lexer per language, line classes, hole sites, selection

/// What a byte of source is, as far as choosing holes is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Code,
    Comment,
    Str,
}

/// Classifies every byte of `text`. The lexers only know what a hole picker needs: comments,
/// string literals (multi-line ones included, so docstrings and template literals are not taken
/// for code) and everything else. Bytes of a multi-byte character share the class of its lexeme.
fn classify(text: &str, lang: Lang) -> Vec<Class> {
    let bytes = text.as_bytes();
    let mut classes = vec![Class::Code; bytes.len()];
    let mut at = 0;
    while at < bytes.len() {
        match lexeme(bytes, at, lang) {
            Some((class, end)) => {
                let end = end.clamp(at + 1, bytes.len());
                classes[at..end].fill(class);
                at = end;
            }
            None => at += 1,
        }
    }
    classes
}

/// The comment or string literal starting at `at`, as its class and end; `None` for code.
fn lexeme(bytes: &[u8], at: usize, lang: Lang) -> Option<(Class, usize)> {
    let rest = &bytes[at..];
    let before = at.checked_sub(1).map(|i| bytes[i]);
    match lang {
        Lang::Python => match rest[0] {
            b'#' => Some((Class::Comment, line_end(bytes, at))),
            quote @ (b'"' | b'\'') => {
                if rest.starts_with(&[quote; 3]) {
                    Some((Class::Str, closing(bytes, at + 3, &[quote; 3], true)))
                } else {
                    Some((Class::Str, quoted(bytes, at, quote, false)))
                }
            }
            _ => None,
        },
        Lang::Rust => {
            if rest.starts_with(b"//") {
                Some((Class::Comment, line_end(bytes, at)))
            } else if rest.starts_with(b"/*") {
                Some((Class::Comment, rust_block_comment(bytes, at)))
            } else if rest[0] == b'"' {
                Some((Class::Str, quoted(bytes, at, b'"', true)))
            } else if rest[0] == b'r' && !before.is_some_and(is_ident_byte) {
                raw_string(bytes, at).map(|end| (Class::Str, end))
            } else if rest[0] == b'b'
                && rest.get(1) == Some(&b'r')
                && !before.is_some_and(is_ident_byte)
            {
                raw_string(bytes, at + 1).map(|end| (Class::Str, end))
            } else if rest[0] == b'\'' {
                char_literal(bytes, at).map(|end| (Class::Str, end))
            } else {
                None
            }
        }
        Lang::Lua => {
            if rest.starts_with(b"--") {
                match long_bracket(bytes, at + 2) {
                    Some(end) => Some((Class::Comment, end)),
                    None => Some((Class::Comment, line_end(bytes, at))),
                }
            } else if rest[0] == b'[' {
                long_bracket(bytes, at).map(|end| (Class::Str, end))
            } else if rest[0] == b'"' || rest[0] == b'\'' {
                Some((Class::Str, quoted(bytes, at, rest[0], false)))
            } else {
                None
            }
        }
        Lang::TypeScript => {
            if rest.starts_with(b"//") {
                Some((Class::Comment, line_end(bytes, at)))
            } else if rest.starts_with(b"/*") {
                Some((Class::Comment, closing(bytes, at + 2, b"*/", false)))
            } else if rest[0] == b'"' || rest[0] == b'\'' {
                Some((Class::Str, quoted(bytes, at, rest[0], false)))
            } else if rest[0] == b'`' {
                Some((Class::Str, quoted(bytes, at, b'`', true)))
            } else {
                None
            }
        }
    }
}

fn is_ident_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// The offset of the `\n` ending the line that holds `at` (or the end of the text).
fn line_end(bytes: &[u8], at: usize) -> usize {
    bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| at + p)
}

/// The end of the first `close` at or after `from` (skipping backslash escapes when `escapes`), or
/// the end of the text when it never comes.
fn closing(bytes: &[u8], from: usize, close: &[u8], escapes: bool) -> usize {
    let mut at = from;
    while at < bytes.len() {
        if escapes && bytes[at] == b'\\' {
            at += 2;
        } else if bytes[at..].starts_with(close) {
            return at + close.len();
        } else {
            at += 1;
        }
    }
    bytes.len()
}

/// The end of a string opened by `quote` at `at`; it ends at the line end unless `multiline`.
fn quoted(bytes: &[u8], at: usize, quote: u8, multiline: bool) -> usize {
    let mut index = at + 1;
    while index < bytes.len() {
        match bytes[index] {
            b'\\' => index += 2,
            b'\n' if !multiline => return index,
            b if b == quote => return index + 1,
            _ => index += 1,
        }
    }
    bytes.len()
}

/// The end of a Rust block comment at `at`, which may nest.
fn rust_block_comment(bytes: &[u8], at: usize) -> usize {
    let mut depth = 0;
    let mut index = at;
    while index < bytes.len() {
        if bytes[index..].starts_with(b"/*") {
            depth += 1;
            index += 2;
        } else if bytes[index..].starts_with(b"*/") {
            depth -= 1;
            index += 2;
            if depth == 0 {
                return index;
            }
        } else {
            index += 1;
        }
    }
    bytes.len()
}

/// A Rust raw string `r#"…"#` starting with the `r` at `at`, if there is one.
fn raw_string(bytes: &[u8], at: usize) -> Option<usize> {
    let hashes = bytes[at + 1..].iter().take_while(|&&b| b == b'#').count();
    if bytes.get(at + 1 + hashes) != Some(&b'"') {
        return None;
    }
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    Some(closing(bytes, at + 2 + hashes, &close, false))
}

/// A Rust character literal at `at` (`'a'`, `'\n'`, `'\u{1F980}'`); `None` for a lifetime.
fn char_literal(bytes: &[u8], at: usize) -> Option<usize> {
    let next = *bytes.get(at + 1)?;
    if next == b'\\' {
        // The escaped character is skipped, so `'\''` ends at its last quote.
        let close = bytes
            .get(at + 3..)?
            .iter()
            .take(12)
            .position(|&b| b == b'\'')?;
        return Some(at + 3 + close + 1);
    }
    // The width of the UTF-8 character after the quote, from its leading byte.
    let width = match next {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    };
    (bytes.get(at + 1 + width) == Some(&b'\'')).then_some(at + 2 + width)
}

/// A Lua long bracket `[[…]]` or `[==[…]==]` opening at `at`, if there is one.
fn long_bracket(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'[') {
        return None;
    }
    let level = bytes[at + 1..].iter().take_while(|&&b| b == b'=').count();
    if bytes.get(at + 1 + level) != Some(&b'[') {
        return None;
    }
    let mut close = vec![b']'];
    close.extend(std::iter::repeat_n(b'=', level));
    close.push(b']');
    Some(closing(bytes, at + 2 + level, &close, false))
}

/// One line of a source file, with what the hole picker needs to know about it.
#[derive(Debug, Clone)]
struct LineInfo {
    /// Byte offset of the line's first byte.
    start: usize,
    /// Byte offset of the end of its content (before `\r\n` or `\n`).
    end: usize,
    /// Bytes of leading spaces and tabs.
    indent_bytes: usize,
    /// Their width, a tab counting [`TAB_WIDTH`].
    indent_width: usize,
    blank: bool,
    /// A code line: not blank, starting with code (not inside or at a comment or string) and not
    /// only closing brackets (or Lua's `end`).
    code: bool,
    /// Whether any byte of the line belongs to a comment.
    comment: bool,
}

fn line_infos(text: &str, lang: Lang, classes: &[Class]) -> Vec<LineInfo> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let newline = line_end(bytes, start);
        let end = if newline > start && bytes[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        let content = &text[start..end];
        let indent_bytes = content.len() - content.trim_start_matches([' ', '\t']).len();
        let indent_width = content[..indent_bytes]
            .bytes()
            .map(|b| if b == b'\t' { TAB_WIDTH } else { 1 })
            .sum();
        let trimmed = content.trim();
        let blank = trimmed.is_empty();
        let first = start + indent_bytes;
        let code = !blank && classes[first] == Class::Code && !lone_closer(trimmed, lang);
        let comment = classes[start..end].contains(&Class::Comment);
        lines.push(LineInfo {
            start,
            end,
            indent_bytes,
            indent_width,
            blank,
            code,
            comment,
        });
        start = newline + 1;
    }
    lines
}

/// Whether a trimmed line holds nothing but closing brackets (and the punctuation after them), or
/// Lua's block end: lines a whole-line hole would make trivial.
fn lone_closer(trimmed: &str, lang: Lang) -> bool {
    let rest = if lang == Lang::Lua {
        trimmed.strip_prefix("end").unwrap_or(trimmed)
    } else {
        trimmed
    };
    let starts_closed = rest.len() < trimmed.len() || rest.starts_with([')', ']', '}']);
    starts_closed
        && rest
            .chars()
            .all(|c| matches!(c, ')' | ']' | '}' | ',' | ';' | ':' | ' '))
}

/// Whether a code line (trimmed, without a comment) opens an indented block.
fn opens_block(trimmed: &str, lang: Lang) -> bool {
    match lang {
        Lang::Python => trimmed.ends_with(':'),
        Lang::Rust | Lang::TypeScript => trimmed.ends_with('{'),
        Lang::Lua => {
            ends_with_word(trimmed, "then")
                || ends_with_word(trimmed, "do")
                || lua_function_header(trimmed)
        }
    }
}

fn ends_with_word(text: &str, word: &str) -> bool {
    text.strip_suffix(word)
        .is_some_and(|before| !before.bytes().next_back().is_some_and(is_ident_byte))
}

/// Whether a Lua line ends with a function header: `function name(…)` or `function(…)`, the
/// parameter list closing at the end of the line.
fn lua_function_header(trimmed: &str) -> bool {
    let bytes = trimmed.as_bytes();
    let Some(found) = trimmed.rfind("function") else {
        return false;
    };
    if found > 0 && is_ident_byte(bytes[found - 1]) {
        return false;
    }
    let mut at = found + "function".len();
    while at < bytes.len() && (is_ident_byte(bytes[at]) || matches!(bytes[at], b'.' | b':' | b' '))
    {
        at += 1;
    }
    if bytes.get(at) != Some(&b'(') {
        return false;
    }
    let mut depth = 0;
    for (index, &byte) in bytes.iter().enumerate().skip(at) {
        match byte {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return index == bytes.len() - 1;
                }
            }
            _ => {}
        }
    }
    false
}

/// A place a hole could go: the removed bytes and the lines they touch (0-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Site {
    start: usize,
    end: usize,
    first_line: usize,
    last_line: usize,
}

/// A small deterministic random number generator (xorshift64*), so the corpus is reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// FNV-1a of a file's path, so each file's random choices depend on the seed and the file only,
/// not on which other files the corpus holds.
fn path_hash(path: &str) -> u64 {
    path.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Every possible hole of each kind in one file, in file order (indexed like [`Kind::ALL`]).
fn sites(text: &str, lang: Lang, rng: &mut Rng) -> [Vec<Site>; 3] {
    let classes = classify(text, lang);
    let lines = line_infos(text, lang, &classes);
    let mut whole = Vec::new();
    let mut mid = Vec::new();
    let mut multi = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.code || line.comment {
            continue;
        }
        let body_start = line.start + line.indent_bytes;
        // At least two characters, so the hole is more than a lone keyword-less token.
        if text[body_start..line.end].trim_end().len() >= 2 {
            whole.push(Site {
                start: body_start,
                end: line.end,
                first_line: index,
                last_line: index,
            });
        }
        if let Some(cut) = mid_line_cut(text, &classes, line, rng) {
            mid.push(Site {
                start: cut,
                end: line.end,
                first_line: index,
                last_line: index,
            });
        }
        if let Some(site) = block_body(text, lang, &classes, &lines, index) {
            multi.push(site);
        }
    }
    [whole, mid, multi]
}

/// The cursor of a mid-line hole in `line`, if it has a place for one: inside an identifier of at
/// least three characters (two or more typed, one or more left) or right after a `(` followed by
/// at least two characters. One place per line, chosen at random among them.
fn mid_line_cut(text: &str, classes: &[Class], line: &LineInfo, rng: &mut Rng) -> Option<usize> {
    let bytes = text.as_bytes();
    // (first byte, end) of identifiers; end == first for a `(` (the cursor goes after it).
    let mut places: Vec<(usize, usize)> = Vec::new();
    let mut at = line.start + line.indent_bytes;
    while at < line.end {
        let byte = bytes[at];
        if classes[at] != Class::Code {
            at += 1;
        } else if (byte.is_ascii_alphabetic() || byte == b'_')
            && !(at > 0 && is_ident_byte(bytes[at - 1]))
        {
            let end = at
                + bytes[at..line.end]
                    .iter()
                    .take_while(|&&b| is_ident_byte(b))
                    .count();
            if end - at >= 3 {
                places.push((at, end));
            }
            at = end;
        } else {
            if byte == b'(' && text[at + 1..line.end].trim().len() >= 2 {
                places.push((at + 1, at + 1));
            }
            at += 1;
        }
    }
    if places.is_empty() {
        return None;
    }
    let (first, end) = places[rng.below(places.len())];
    if first == end {
        return Some(first);
    }
    // Cut after 2..=len-1 characters.
    Some(first + 2 + rng.below(end - first - 2))
}

/// The block body after line `opener`, when it opens a block whose whole body is 2–6 lines that
/// starts with a code line: the bytes from after the first body line's indentation to the end of
/// the last body line.
fn block_body(
    text: &str,
    lang: Lang,
    classes: &[Class],
    lines: &[LineInfo],
    opener: usize,
) -> Option<Site> {
    let head = &lines[opener];
    if !opens_block(text[head.start..head.end].trim(), lang) {
        return None;
    }
    let first = lines.get(opener + 1)?;
    if !first.code || first.indent_width <= head.indent_width {
        return None;
    }
    // The body runs to the last non-blank line before the first non-blank line indented no deeper
    // than the opener, which must exist: a body running to the end of the file has no clear end.
    let mut last = opener + 1;
    let mut index = opener + 1;
    loop {
        let line = lines.get(index)?;
        if !line.blank {
            if line.indent_width <= head.indent_width {
                break;
            }
            last = index;
        }
        index += 1;
    }
    let body_lines = last - opener;
    if !(MIN_BODY_LINES..=MAX_BODY_LINES).contains(&body_lines) {
        return None;
    }
    let end = lines[last].end;
    // A body that ends inside a multi-line string or comment is not a block.
    if classes.get(end).is_some_and(|&class| class != Class::Code) {
        return None;
    }
    Some(Site {
        start: first.start + first.indent_bytes,
        end,
        first_line: opener + 1,
        last_line: last,
    })
}

/// The corpus files, relative to the workspace, in a fixed order.
fn corpus_files(workspace: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in CORPUS_DIRS {
        let mut names: Vec<String> = std::fs::read_dir(workspace.join(dir))
            .with_context(|| format!("cannot list {dir}"))?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.path().is_file())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| Lang::of(Path::new(name)).is_some())
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|name| format!("{dir}/{name}")));
    }
    Ok(files)
}

/// Splits `quota` over files in proportion to how many sites each has (D'Hondt: each hole goes to
/// the file with the most sites per hole already given), never more than a file has.
fn allocate(quota: usize, available: &[usize]) -> Vec<usize> {
    let mut given = vec![0; available.len()];
    for _ in 0..quota {
        let best = (0..available.len())
            .filter(|&i| given[i] < available[i])
            .max_by(|&a, &b| {
                // available[a] / (given[a] + 1) against available[b] / (given[b] + 1), without
                // floats; ties go to the earlier file.
                (available[a] * (given[b] + 1))
                    .cmp(&(available[b] * (given[a] + 1)))
                    .then(b.cmp(&a))
            });
        match best {
            Some(index) => given[index] += 1,
            None => break,
        }
    }
    given
}

/// Picks `count` of `sites`, spread evenly, skipping sites that touch a line another hole of the
/// file already uses (the next free site after the even spot is taken instead).
fn pick(sites: &[Site], count: usize, used: &mut HashSet<usize>) -> Vec<Site> {
    let mut picked = Vec::new();
    let mut taken = HashSet::new();
    for spot in spread(sites.len(), count) {
        let free = (0..sites.len())
            .map(|offset| (spot + offset) % sites.len())
            .find(|&index| {
                !taken.contains(&index)
                    && (sites[index].first_line..=sites[index].last_line)
                        .all(|line| !used.contains(&line))
            });
        if let Some(index) = free {
            taken.insert(index);
            used.extend(sites[index].first_line..=sites[index].last_line);
            picked.push(sites[index]);
        }
    }
    picked
}

/// Chooses the holes of the whole corpus. Multi-line holes are placed first (they are the rarest
/// and need several free lines), then whole-line, then mid-line ones.
fn choose_holes(files: &[(String, String)], seed: u64) -> Vec<Hole> {
    let langs: Vec<Lang> = files
        .iter()
        .map(|(path, _)| Lang::of(Path::new(path)).expect("corpus files have known extensions"))
        .collect();
    let all_sites: Vec<[Vec<Site>; 3]> = files
        .iter()
        .zip(&langs)
        .map(|((path, text), &lang)| sites(text, lang, &mut Rng::new(seed ^ path_hash(path))))
        .collect();
    // allocation[file][kind]
    let mut allocation = vec![[0usize; 3]; files.len()];
    for (lang, quota) in QUOTAS {
        let of_lang: Vec<usize> = (0..files.len()).filter(|&i| langs[i] == lang).collect();
        for kind in 0..Kind::ALL.len() {
            let available: Vec<usize> = of_lang.iter().map(|&i| all_sites[i][kind].len()).collect();
            for (&file, given) in of_lang.iter().zip(allocate(quota, &available)) {
                allocation[file][kind] = given;
            }
        }
    }
    let order = [2, 0, 1];
    let mut holes = Vec::new();
    for (file, (path, text)) in files.iter().enumerate() {
        let mut used = HashSet::new();
        let mut chosen: Vec<(Kind, Site)> = Vec::new();
        for kind in order {
            for site in pick(&all_sites[file][kind], allocation[file][kind], &mut used) {
                chosen.push((Kind::ALL[kind], site));
            }
        }
        chosen.sort_by_key(|(_, site)| site.start);
        for (kind, site) in chosen {
            holes.push(Hole {
                id: String::new(),
                file: path.clone(),
                language: langs[file],
                kind,
                line: site.first_line + 1,
                start: site.start,
                end: site.end,
                expected: text[site.start..site.end].to_string(),
            });
        }
    }
    for (index, hole) in holes.iter_mut().enumerate() {
        hole.id = format!("q{:03}", index + 1);
    }
    holes
}

fn generate(workspace: &Path, out: &Path, seed: u64) -> Result<()> {
    let files: Vec<(String, String)> = corpus_files(workspace)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(workspace.join(&path))
                .with_context(|| format!("cannot read {path}"))?;
            Ok((path, text))
        })
        .collect::<Result<_>>()?;
    let holes = choose_holes(&files, seed);
    let mut jsonl = String::new();
    for hole in &holes {
        jsonl.push_str(&hole.to_json().to_string());
        jsonl.push('\n');
    }
    std::fs::write(out, jsonl).with_context(|| format!("cannot write {}", out.display()))?;
    eprintln!(
        "wrote {} holes from {} files to {}",
        holes.len(),
        files.len(),
        out.display()
    );
    eprintln!("| language | whole-line | mid-line | multi-line | files with holes |");
    eprintln!("|---|---|---|---|---|");
    for lang in Lang::ALL {
        let count = |kind: Kind| {
            holes
                .iter()
                .filter(|h| h.language == lang && h.kind == kind)
                .count()
        };
        let files: HashSet<&str> = holes
            .iter()
            .filter(|h| h.language == lang)
            .map(|h| h.file.as_str())
            .collect();
        eprintln!(
            "| {} | {} | {} | {} | {} |",
            lang.name(),
            count(Kind::Whole),
            count(Kind::Mid),
            count(Kind::Multi),
            files.len()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settings

/// One configuration of the server to measure.
struct RunSpec {
    label: String,
    settings: Value,
}

impl RunSpec {
    fn new(label: &str, settings: Value) -> Self {
        Self {
            label: label.to_string(),
            settings,
        }
    }
}

/// `key=value` from `--set`: a dotted key and a JSON value, or a plain string.
fn parse_assignment(assignment: &str) -> Result<(String, Value)> {
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {assignment}: expected KEY=VALUE"))?;
    let key = key.trim();
    ensure!(!key.is_empty(), "--set {assignment}: empty key");
    let value =
        serde_json::from_str(value.trim()).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((key.strip_prefix("rill.").unwrap_or(key).to_string(), value))
}

/// Sets `value` at a dotted key of a nested settings object, creating the objects on the way.
fn set_dotted(settings: &mut Value, key: &str, value: Value) {
    let mut node = settings;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        if !node.is_object() {
            *node = json!({});
        }
        let map = node.as_object_mut().expect("made an object above");
        if parts.peek().is_none() {
            map.insert(part.to_string(), value);
            return;
        }
        node = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

// ---------------------------------------------------------------------------------------------
// Running rill

/// One suggestion item as the bench records it.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    /// The text inserted at the cursor (an item whose range starts before the cursor has the
    /// document's text in between taken off).
    text: String,
    confidence: Option<f64>,
}

/// What one engine answered at one hole.
#[derive(Debug, Clone, Default)]
struct Answer {
    items: Vec<Item>,
    latency_ms: f64,
    /// `rill/status` of the completion (rill only).
    status: Option<Value>,
    error: Option<String>,
}

impl Answer {
    /// The suggestion shown: the first item's text, or nothing.
    fn text(&self) -> &str {
        self.items.first().map_or("", |item| item.text.as_str())
    }

    fn confidence(&self) -> Option<f64> {
        self.items.first().and_then(|item| item.confidence)
    }
}

/// One measured configuration: answers by hole id.
struct Run {
    label: String,
    settings: Value,
    answers: HashMap<String, Answer>,
    wall_s: f64,
    note: String,
}

/// Progress over every rill run, for the ETA.
struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    last_print: Instant,
}

impl Progress {
    fn new(total: usize) -> Self {
        Self {
            total,
            done: 0,
            started: Instant::now(),
            last_print: Instant::now(),
        }
    }

    /// Counts one hole and prints the rate and the time left every 30 s (and at run ends).
    fn tick(&mut self, label: &str, in_run: usize, run_total: usize) {
        self.done += 1;
        if self.last_print.elapsed() < Duration::from_secs(30) && in_run != run_total {
            return;
        }
        self.last_print = Instant::now();
        let per_hole = self.started.elapsed().as_secs_f64() / self.done as f64;
        eprintln!(
            "[{label}] {in_run}/{run_total} holes; {per_hole:.1} s per hole; this run ~{} left, all rill runs ~{} left",
            minutes(per_hole * (run_total - in_run) as f64),
            minutes(per_hole * (self.total - self.done) as f64),
        );
    }
}

fn minutes(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

fn run_rill(
    args: &Args,
    spec: &RunSpec,
    holes: &[Hole],
    sources: &BTreeMap<String, String>,
    base: &Config,
    progress: &mut Progress,
) -> Result<Run> {
    let mut config = base.clone();
    for issue in config.apply(&spec.settings) {
        eprintln!("[{}] warning: {issue}", spec.label);
    }
    let reply_timeout = Duration::from_millis(config.timeout_ms) + REPLY_SLACK;
    eprintln!(
        "[{}] starting {} --stdio with {}",
        spec.label,
        rill_e2e::rill_bin().display(),
        spec.settings
    );
    let started = Instant::now();
    // Settings go in initializationOptions, and the same tree answers the configuration pull, so
    // the pull after `initialized` cannot take any of them back.
    let profile = Profile::vscode()
        .with_initialization_options(spec.settings.clone())
        .with_settings(json!({ "rill": spec.settings }));
    let mut server = Server::spawn(profile);
    server.initialize();
    ensure!(
        server.encoding() == Encoding::Utf16,
        "the server did not negotiate UTF-16 with a VS Code client"
    );
    server.wait_until_ready();
    eprintln!(
        "[{}] model ready after {:.1} s",
        spec.label,
        started.elapsed().as_secs_f64()
    );

    let mut answers = HashMap::new();
    let mut missing_status = 0;
    let mut index = 0;
    for (file, file_holes) in by_file(holes) {
        let source = &sources[file];
        let path = workspace()?.join(file);
        let uri = format!("file://{}", path.display());
        let language = file_holes[0].language.name();
        let mut model: Option<TextModel> = None;
        let mut version = 1;
        for hole in file_holes {
            let document = hole.document(source);
            match model.as_mut() {
                None => {
                    server.open(&uri, language, &document);
                    model = Some(TextModel::new(&document, Encoding::Utf16));
                }
                Some(model) => {
                    version += 1;
                    let change = minimal_change(model, &document);
                    server.change(&uri, version, vec![change]);
                    debug_assert_eq!(model.text(), document);
                }
            }
            let model = model.as_ref().expect("opened above");
            let (line, character) = model.position(hole.start);
            let seen = completion_statuses(&server).len();
            let id = server.inline_completion(&uri, line, character);
            let reply = server.reply(id, reply_timeout);
            let latency = reply.at.duration_since(server.sent_at(id));
            let status = wait_for_status(&server, seen);
            if status.is_none() {
                missing_status += 1;
            }
            let (items, error) = match &reply.outcome {
                Ok(result) => (parse_items(result, model.text(), hole.start), None),
                Err(err) => (Vec::new(), Some(err.to_string())),
            };
            let answer = Answer {
                items,
                latency_ms: millis(latency),
                status,
                error,
            };
            index += 1;
            if args.verbose {
                trace_hole(&spec.label, index, holes.len(), hole, &answer);
            }
            answers.insert(hole.id.clone(), answer);
            progress.tick(&spec.label, index, holes.len());
        }
        server.close(&uri);
    }

    if let Some(dir) = &args.server_log {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(format!("{}.log", spec.label.replace([' ', '/'], "_")));
        std::fs::write(&path, server.stderr())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // Not `shutdown_and_exit`: its invariant check panics on a late partial, and a benchmark
    // should keep its figures rather than lose them to such a protocol violation.
    let shutdown = server.request("shutdown", Value::Null);
    server
        .response(shutdown, EXIT_TIMEOUT)
        .map_err(|err| anyhow!("shutdown failed: {err}"))?;
    server.notify("exit", Value::Null);
    server
        .wait_for_exit(EXIT_TIMEOUT)
        .context("the server did not exit after shutdown and exit")?;
    let wall_s = started.elapsed().as_secs_f64();
    let mut notes = Vec::new();
    // Answers that took the whole time budget were cut short by it: on a loaded machine that is
    // what limits them, not the model, and `--set completion.timeoutMs=…` gives them more room.
    let budget_ms = config.timeout_ms as f64;
    let cut_short = answers
        .values()
        .filter(|a| a.latency_ms >= budget_ms)
        .count();
    if cut_short > 0 {
        notes.push(format!(
            "{cut_short} answers took the whole {budget_ms:.0} ms budget"
        ));
    }
    if missing_status > 0 {
        notes.push(format!("{missing_status} completions sent no rill/status"));
    }
    let note = notes.join("; ");
    Ok(Run {
        label: spec.label.clone(),
        settings: spec.settings.clone(),
        answers,
        wall_s,
        note,
    })
}

/// The holes grouped by file, in the order the files first appear, each group in file order.
fn by_file(holes: &[Hole]) -> Vec<(&str, Vec<&Hole>)> {
    let mut groups: Vec<(&str, Vec<&Hole>)> = Vec::new();
    for hole in holes {
        match groups.iter_mut().find(|(file, _)| *file == hole.file) {
            Some((_, group)) => group.push(hole),
            None => groups.push((&hole.file, vec![hole])),
        }
    }
    for (_, group) in &mut groups {
        group.sort_by_key(|hole| hole.start);
    }
    groups
}

/// The one-range `didChange` event that turns `model`'s text into `target` (the common start and
/// end are kept), applied to `model` as well. An editor sends such a minimal edit, and the server
/// then keeps everything before it cached.
fn minimal_change(model: &mut TextModel, target: &str) -> Value {
    let (from, to_old, to_new) = differing_range(model.text(), target);
    let start = model.position(from);
    let end = model.position(to_old);
    let text = &target[from..to_new];
    model.apply(start, end, text);
    json!({
        "range": {
            "start": { "line": start.0, "character": start.1 },
            "end": { "line": end.0, "character": end.1 }
        },
        "text": text
    })
}

/// The byte range `old[from..to_old]` that replaced by `new[from..to_new]` turns `old` into `new`,
/// with the longest common start and end kept (on character boundaries, never splitting `\r\n`).
fn differing_range(old: &str, new: &str) -> (usize, usize, usize) {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    // Whether `text` may be cut at `at`: a character boundary not between `\r` and `\n`.
    let cuttable = |text: &str, at: usize| {
        let bytes = text.as_bytes();
        text.is_char_boundary(at)
            && !(at > 0 && bytes[at - 1] == b'\r' && bytes.get(at) == Some(&b'\n'))
    };
    let mut from = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while from > 0 && !(cuttable(old, from) && cuttable(new, from)) {
        from -= 1;
    }
    let max_tail = (a.len() - from).min(b.len() - from);
    let mut tail = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(max_tail)
        .take_while(|(x, y)| x == y)
        .count();
    while tail > 0 && !(cuttable(old, a.len() - tail) && cuttable(new, b.len() - tail)) {
        tail -= 1;
    }
    (from, a.len() - tail, b.len() - tail)
}

/// The items of an inline completion result, ranked as the server sent them.
fn parse_items(result: &Value, document: &str, cursor: usize) -> Vec<Item> {
    let Some(items) = result["items"].as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .map(|item| {
            let mut text = match &item["insertText"] {
                Value::String(text) => text.clone(),
                Value::Object(snippet) => snippet
                    .get("value")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                _ => String::new(),
            };
            // An item may replace from an earlier position (e.g. to re-type a healed token);
            // what it adds at the cursor is its text after the part already in the document.
            let range_start = item["range"]["start"]["line"]
                .as_u64()
                .zip(item["range"]["start"]["character"].as_u64())
                .and_then(|(line, character)| utf16_offset(document, line, character));
            if let Some(start) = range_start.filter(|&start| start < cursor) {
                if let Some(rest) = text.strip_prefix(&document[start..cursor]) {
                    text = rest.to_string();
                }
            }
            Item {
                text,
                confidence: item["confidence"].as_f64(),
            }
        })
        .collect()
}

/// The byte offset of an LSP position (UTF-16 characters), or `None` outside the document.
fn utf16_offset(text: &str, line: u64, character: u64) -> Option<usize> {
    let mut line_start = 0;
    for _ in 0..line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line_text = &text[line_start..];
    let line_text = &line_text[..line_text.find(['\r', '\n']).unwrap_or(line_text.len())];
    let mut units = 0;
    for (offset, c) in line_text.char_indices() {
        if units >= character {
            return Some(line_start + offset);
        }
        units += c.len_utf16() as u64;
    }
    (units >= character).then_some(line_start + line_text.len())
}

/// Whether a `rill/status` reports a finished completion rather than the engine's state.
fn is_completion_status(params: &Value) -> bool {
    params.get("source").is_some() || params.get("promptTokens").is_some()
}

/// Every completion `rill/status` received so far, in order.
fn completion_statuses(server: &Server) -> Vec<Value> {
    server
        .notifications("rill/status")
        .into_iter()
        .map(|(_, params)| params)
        .filter(is_completion_status)
        .collect()
}

/// The completion `rill/status` number `seen` (counting from 0), waiting for it at most
/// [`STATUS_TIMEOUT`]; `None` then, since a completion that could not start sends none. Statuses
/// are counted rather than searched from a log index because `Server::messages` copies the whole
/// log, which grows by every streamed partial of the run, and polling that would take a core.
fn wait_for_status(server: &Server, seen: usize) -> Option<Value> {
    let deadline = Instant::now() + STATUS_TIMEOUT;
    loop {
        if let Some(status) = completion_statuses(server).into_iter().nth(seen) {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn trace_hole(label: &str, index: usize, total: usize, hole: &Hole, answer: &Answer) {
    let score = score(hole, answer.text());
    eprintln!(
        "[{label}] {index}/{total} {} {} {}:{} {:.0} ms {}{}\n    want {:?}\n    got  {:?}",
        hole.id,
        hole.kind.name(),
        hole.file,
        hole.line,
        answer.latency_ms,
        if score.first_line_exact {
            "exact"
        } else {
            "miss"
        },
        answer
            .confidence()
            .map_or_else(String::new, |c| format!(" confidence {c:.2}")),
        first_line(&hole.expected),
        first_line(answer.text()),
    );
}

// ---------------------------------------------------------------------------------------------
// The llama.cpp baseline

/// The venv python of scripts/install-llama-cpp.sh, if it exists.
fn llama_python(args: &Args) -> Option<PathBuf> {
    if let Some(python) = &args.llama_python {
        return Some(python.clone());
    }
    let venv = std::env::var_os("RILL_LLAMA_CPP_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))?;
            Some(cache.join("rill/llama-cpp-venv"))
        })?;
    let python = venv.join("bin/python");
    python.is_file().then_some(python)
}

/// Runs benches/quality_baseline.py on the same holes with the same prompt budget, and reads its
/// answers; `None` when llama.cpp is not installed.
fn run_llama_baseline(
    args: &Args,
    workspace: &Path,
    holes: &[Hole],
    config: &Config,
) -> Result<Option<Run>> {
    let Some(python) = llama_python(args) else {
        eprintln!(
            "no llama-cpp-python venv (scripts/install-llama-cpp.sh installs it; or --llama-python)"
        );
        return Ok(None);
    };
    let scratch = std::env::temp_dir().join(format!("quality_bench_{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let holes_file = scratch.join("holes.jsonl");
    let out_file = scratch.join("llama.json");
    let jsonl: String = holes.iter().map(|h| format!("{}\n", h.to_json())).collect();
    std::fs::write(&holes_file, jsonl)?;
    let mut command = Command::new(&python);
    command
        .arg(workspace.join("benches/quality_baseline.py"))
        .arg("--holes")
        .arg(&holes_file)
        .arg("--out")
        .arg(&out_file)
        .arg("--context-tokens")
        .arg(config.context_tokens.to_string())
        .arg("--max-tokens")
        .arg(config.max_tokens.to_string());
    if let Some(model) = &config.model_path {
        command.arg("--model").arg(model);
    }
    eprintln!("[llama.cpp] running {command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if status.code() == Some(3) {
        eprintln!("[llama.cpp] {} cannot import llama_cpp", python.display());
        return Ok(None);
    }
    ensure!(status.success(), "quality_baseline.py failed: {status}");
    let run = read_runs(&out_file, holes)?.remove(0);
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Some(run))
}

/// Reads the runs of a JSON file: the one run benches/quality_baseline.py writes, or every run of
/// an earlier `quality_bench --json` (so a saved run can be shown next to a new one).
fn read_runs(path: &Path, holes: &[Hole]) -> Result<Vec<Run>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let runs = match value["runs"].as_array() {
        Some(runs) => runs
            .iter()
            .map(|run| run_from_json(run, &run["results"], holes))
            .collect(),
        None => vec![run_from_json(&value, &value["holes"], holes)],
    };
    ensure!(
        runs.iter().any(|run| !run.answers.is_empty()),
        "{} answers none of these holes",
        path.display()
    );
    Ok(runs)
}

/// One run from its JSON object and its per-hole entries (`id`, `items` or `text`, `latency_ms`).
fn run_from_json(run: &Value, entries: &Value, holes: &[Hole]) -> Run {
    let known: HashSet<&str> = holes.iter().map(|h| h.id.as_str()).collect();
    let mut answers = HashMap::new();
    for entry in entries.as_array().into_iter().flatten() {
        let Some(id) = entry["id"].as_str().filter(|id| known.contains(id)) else {
            continue;
        };
        let items = match entry["items"].as_array() {
            Some(items) => items
                .iter()
                .map(|item| Item {
                    text: item["text"].as_str().unwrap_or_default().to_string(),
                    confidence: item["confidence"].as_f64(),
                })
                .collect(),
            None => {
                let text = entry["text"].as_str().unwrap_or_default();
                if text.is_empty() {
                    Vec::new()
                } else {
                    vec![Item {
                        text: text.to_string(),
                        confidence: None,
                    }]
                }
            }
        };
        answers.insert(
            id.to_string(),
            Answer {
                items,
                latency_ms: entry["latency_ms"].as_f64().unwrap_or(f64::NAN),
                status: entry.get("status").cloned().filter(|s| !s.is_null()),
                error: entry["error"].as_str().map(str::to_string),
            },
        );
    }
    let note = run["note"]
        .as_str()
        .or_else(|| run["engine"].as_str())
        .unwrap_or_default()
        .to_string();
    Run {
        label: run["label"].as_str().unwrap_or("baseline").to_string(),
        settings: run["settings"].clone(),
        answers,
        wall_s: run["wall_s"].as_f64().unwrap_or(f64::NAN),
        note,
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// How one answer scores against its hole.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HoleScore {
    shown: bool,
    /// The suggestion's first line equals the expected first line (trailing whitespace ignored).
    first_line_exact: bool,
    /// The whole unit matches: the first line for line holes, the whole body for multi-line
    /// holes (each line's trailing whitespace and trailing blank lines ignored).
    unit_exact: bool,
    /// 1 − Levenshtein distance / longer length, over the kind's unit.
    similarity: f64,
}

fn first_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or_default().trim_end()
}

/// Text with each line's trailing whitespace and the trailing blank lines dropped.
fn normalized(text: &str) -> String {
    let lines: Vec<&str> = text.split('\n').map(str::trim_end).collect();
    lines.join("\n").trim_end().to_string()
}

/// What a kind is scored on: the first line, or the whole body for multi-line holes.
fn unit(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Whole | Kind::Mid => first_line(text).to_string(),
        Kind::Multi => normalized(text),
    }
}

fn score(hole: &Hole, suggestion: &str) -> HoleScore {
    let shown = !suggestion.trim().is_empty();
    let expected = unit(hole.kind, &hole.expected);
    let got = unit(hole.kind, suggestion);
    HoleScore {
        shown,
        first_line_exact: shown && first_line(suggestion) == first_line(&hole.expected),
        unit_exact: shown && got == expected,
        similarity: edit_similarity(&got, &expected),
    }
}

/// 1 − Levenshtein distance (in characters) / the longer length; 1 for two empty texts.
fn edit_similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein(&a, &b) as f64 / longer as f64
}

fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The figures of one run over a set of holes.
#[derive(Debug, Clone, Default)]
struct Summary {
    holes: usize,
    shown: usize,
    exact: usize,
    unit_exact: usize,
    similarity: f64,
    latencies: Vec<f64>,
}

impl Summary {
    fn of<'a>(items: impl Iterator<Item = (&'a Hole, &'a Answer)>) -> Self {
        let mut summary = Self::default();
        for (hole, answer) in items {
            let score = score(hole, answer.text());
            summary.holes += 1;
            summary.shown += usize::from(score.shown);
            summary.exact += usize::from(score.first_line_exact);
            summary.unit_exact += usize::from(score.unit_exact);
            summary.similarity += score.similarity;
            if answer.latency_ms.is_finite() {
                summary.latencies.push(answer.latency_ms);
            }
        }
        summary.latencies.sort_by(f64::total_cmp);
        summary
    }

    fn exact_rate(&self) -> f64 {
        ratio(self.exact, self.holes)
    }

    fn mean_similarity(&self) -> f64 {
        if self.holes == 0 {
            f64::NAN
        } else {
            self.similarity / self.holes as f64
        }
    }

    fn shown_rate(&self) -> f64 {
        ratio(self.shown, self.holes)
    }

    fn precision(&self) -> f64 {
        ratio(self.exact, self.shown)
    }

    fn json(&self) -> Value {
        json!({
            "holes": self.holes,
            "shown": self.shown,
            "first_line_exact": self.exact,
            "unit_exact": self.unit_exact,
            "first_line_exact_rate": finite(self.exact_rate()),
            "edit_similarity": finite(self.mean_similarity()),
            "shown_rate": finite(self.shown_rate()),
            "precision_when_shown": finite(self.precision()),
            "latency_ms_p50": percentile(&self.latencies, 0.5),
            "latency_ms_p95": percentile(&self.latencies, 0.95),
        })
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        f64::NAN
    } else {
        part as f64 / whole as f64
    }
}

fn finite(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

/// The nearest-rank percentile of sorted samples; `None` without samples.
fn percentile(sorted: &[f64], fraction: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// (shown, exact) at a confidence threshold: answers below it count as empty. Answers without a
/// confidence are never gated.
fn gated(pairs: &[(&Hole, &Answer)], threshold: f64) -> (usize, usize) {
    let mut shown = 0;
    let mut exact = 0;
    for (hole, answer) in pairs {
        let score = score(hole, answer.text());
        if score.shown && answer.confidence().is_none_or(|c| c >= threshold) {
            shown += 1;
            exact += usize::from(score.first_line_exact);
        }
    }
    (shown, exact)
}

// ---------------------------------------------------------------------------------------------
// Output

/// The (hole, answer) pairs of a run, restricted to holes matching `keep`.
fn pairs<'a>(
    holes: &'a [Hole],
    run: &'a Run,
    keep: impl Fn(&Hole) -> bool,
) -> Vec<(&'a Hole, &'a Answer)> {
    holes
        .iter()
        .filter(|hole| keep(hole))
        .filter_map(|hole| run.answers.get(&hole.id).map(|answer| (hole, answer)))
        .collect()
}

fn print_report(holes: &[Hole], runs: &[Run], load_before: &str) {
    println!("## Suggestion quality");
    println!();
    println!(
        "{} holes ({}); load average before {load_before}, after {}.",
        holes.len(),
        count_by_kind(holes),
        load_average()
    );
    let sections: [(&str, Option<Kind>); 4] = [
        ("All holes", None),
        ("Whole-line holes", Some(Kind::Whole)),
        ("Mid-line holes", Some(Kind::Mid)),
        (
            "Multi-line holes (edit similarity and unit exact over the whole body)",
            Some(Kind::Multi),
        ),
    ];
    for (title, kind) in sections {
        println!();
        println!("### {title}");
        println!();
        println!("| run | holes | first-line exact | unit exact | edit similarity | shown | precision when shown | latency p50 / p95 |");
        println!("|---|---|---|---|---|---|---|---|");
        for run in runs {
            let summary =
                Summary::of(pairs(holes, run, |h| kind.is_none_or(|k| h.kind == k)).into_iter());
            println!(
                "| {} | {} | {} ({}) | {} ({}) | {} | {} ({}) | {} | {} |",
                run.label,
                summary.holes,
                fixed(summary.exact_rate()),
                summary.exact,
                fixed(ratio(summary.unit_exact, summary.holes)),
                summary.unit_exact,
                fixed(summary.mean_similarity()),
                fixed(summary.shown_rate()),
                summary.shown,
                fixed(summary.precision()),
                spread_ms(&summary.latencies),
            );
        }
    }

    println!();
    println!("### First-line exact match by language");
    println!();
    let languages: Vec<Lang> = Lang::ALL
        .into_iter()
        .filter(|lang| holes.iter().any(|h| h.language == *lang))
        .collect();
    let header: Vec<String> = languages
        .iter()
        .map(|lang| {
            format!(
                "{} ({})",
                lang.name(),
                holes.iter().filter(|h| h.language == *lang).count()
            )
        })
        .collect();
    println!("| run | {} |", header.join(" | "));
    println!("|---|{}", "---|".repeat(languages.len()));
    for run in runs {
        let cells: Vec<String> = languages
            .iter()
            .map(|&lang| {
                let summary = Summary::of(pairs(holes, run, |h| h.language == lang).into_iter());
                format!(
                    "{} / sim {}",
                    fixed(summary.exact_rate()),
                    fixed(summary.mean_similarity())
                )
            })
            .collect();
        println!("| {} | {} |", run.label, cells.join(" | "));
    }

    let with_confidence: Vec<&Run> = runs
        .iter()
        .filter(|run| run.answers.values().any(|a| a.confidence().is_some()))
        .collect();
    println!();
    if with_confidence.is_empty() {
        println!("No answer carried a `confidence`, so there is no confidence curve.");
    } else {
        println!("### Confidence gate (all holes): shown rate / precision when shown");
        println!();
        println!(
            "Answers whose first item's `confidence` is below the threshold count as empty; \
             answers without one are never gated."
        );
        println!();
        let names: Vec<&str> = with_confidence.iter().map(|r| r.label.as_str()).collect();
        println!("| threshold | {} |", names.join(" | "));
        println!("|---|{}", "---|".repeat(names.len()));
        for step in 0..CONFIDENCE_STEPS {
            let threshold = step as f64 / CONFIDENCE_STEPS as f64;
            let cells: Vec<String> = with_confidence
                .iter()
                .map(|run| {
                    let pairs = pairs(holes, run, |_| true);
                    let (shown, exact) = gated(&pairs, threshold);
                    format!(
                        "{} / {}",
                        fixed(ratio(shown, pairs.len())),
                        fixed(ratio(exact, shown))
                    )
                })
                .collect();
            println!("| {threshold:.1} | {} |", cells.join(" | "));
        }
    }

    println!();
    println!("Runs:");
    println!();
    for run in runs {
        let errors = run.answers.values().filter(|a| a.error.is_some()).count();
        let items: usize = run.answers.values().map(|a| a.items.len()).sum();
        let answered = run.answers.values().filter(|a| !a.items.is_empty()).count();
        let mut line = format!(
            "- **{}**: settings `{}`; {:.0} s wall; {:.2} items per non-empty answer",
            run.label,
            run.settings,
            run.wall_s,
            ratio(items, answered)
        );
        if errors > 0 {
            let _ = write!(line, "; {errors} error responses");
        }
        // Where the server's answers came from (`rill/status` `source`): a suggestion served from
        // an earlier generation was not computed for this hole's own prompt.
        let mut sources: BTreeMap<&str, usize> = BTreeMap::new();
        for answer in run.answers.values() {
            if let Some(source) = answer.status.as_ref().and_then(|s| s["source"].as_str()) {
                *sources.entry(source).or_default() += 1;
            }
        }
        if !sources.is_empty() {
            let listed: Vec<String> = sources.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = write!(line, "; sources: {}", listed.join(", "));
        }
        if !run.note.is_empty() {
            let _ = write!(line, "; {}", run.note);
        }
        println!("{line}");
    }
}

fn fixed(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "–".to_string()
    }
}

fn spread_ms(sorted: &[f64]) -> String {
    match (percentile(sorted, 0.5), percentile(sorted, 0.95)) {
        (Some(p50), Some(p95)) => format!("{p50:.0} / {p95:.0} ms"),
        _ => "–".to_string(),
    }
}

/// Writes every run so far to `--json`, so a long ablation run keeps what it measured even when
/// a later run fails.
fn write_json(args: &Args, holes_path: &Path, holes: &[Hole], runs: &[Run]) -> Result<()> {
    let Some(path) = &args.json else {
        return Ok(());
    };
    let runs: Vec<Value> = runs
        .iter()
        .map(|run| {
            let mut summary = serde_json::Map::new();
            for kind in Kind::ALL {
                let s = Summary::of(pairs(holes, run, |h| h.kind == kind).into_iter());
                summary.insert(kind.name().to_string(), s.json());
            }
            summary.insert(
                "all".to_string(),
                Summary::of(pairs(holes, run, |_| true).into_iter()).json(),
            );
            let results: Vec<Value> = pairs(holes, run, |_| true)
                .into_iter()
                .map(|(hole, answer)| {
                    let score = score(hole, answer.text());
                    json!({
                        "id": hole.id,
                        "file": hole.file,
                        "language": hole.language.name(),
                        "kind": hole.kind.name(),
                        "line": hole.line,
                        "expected": hole.expected,
                        "text": answer.text(),
                        "items": answer.items.iter().map(|item| json!({
                            "text": item.text,
                            "confidence": item.confidence,
                        })).collect::<Vec<_>>(),
                        "confidence": answer.confidence(),
                        "latency_ms": answer.latency_ms,
                        "first_line_exact": score.first_line_exact,
                        "unit_exact": score.unit_exact,
                        "edit_similarity": score.similarity,
                        "status": answer.status,
                        "error": answer.error,
                    })
                })
                .collect();
            json!({
                "label": run.label,
                "settings": run.settings,
                "wall_s": finite(run.wall_s),
                "note": run.note,
                "summary": summary,
                "results": results,
            })
        })
        .collect();
    let report = json!({
        "holes_file": holes_path.display().to_string(),
        "holes": holes.len(),
        "runs": runs,
    });
    std::fs::write(path, serde_json::to_string_pretty(&report)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The first three fields of /proc/loadavg, to judge whether other work shared the cores.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unavailable".to_string(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hole(kind: Kind, expected: &str) -> Hole {
        Hole {
            id: "t".to_string(),
            file: "f.py".to_string(),
            language: Lang::Python,
            kind,
            line: 1,
            start: 0,
            end: expected.len(),
            expected: expected.to_string(),
        }
    }

    #[test]
    fn exact_match_compares_first_lines_without_trailing_whitespace() {
        let h = hole(Kind::Whole, "return x + 1  ");
        assert!(score(&h, "return x + 1").first_line_exact);
        assert!(score(&h, "return x + 1 \n    more()").first_line_exact);
        assert!(!score(&h, "return x + 2").first_line_exact);
        // Leading whitespace is part of the answer: the document already has the indentation.
        assert!(!score(&h, "    return x + 1").first_line_exact);
        let empty = score(&h, "");
        assert!(!empty.shown && !empty.first_line_exact && empty.similarity == 0.0);
        assert!(!score(&h, "  \n").shown);
    }

    #[test]
    fn multi_line_units_are_whole_bodies() {
        let h = hole(Kind::Multi, "a = 1\n    b = 2\n");
        let right = score(&h, "a = 1  \n    b = 2\n\n");
        assert!(right.first_line_exact && right.unit_exact);
        assert_eq!(right.similarity, 1.0);
        let short = score(&h, "a = 1");
        assert!(short.first_line_exact && !short.unit_exact);
        assert!(short.similarity < 1.0 && short.similarity > 0.0);
        // A line hole's unit is its first line only.
        let line = hole(Kind::Mid, "rt(x)");
        assert!(score(&line, "rt(x)\nextra").unit_exact);
    }

    #[test]
    fn edit_similarity_is_one_minus_normalized_levenshtein() {
        assert_eq!(edit_similarity("", ""), 1.0);
        assert_eq!(edit_similarity("abc", "abc"), 1.0);
        assert_eq!(edit_similarity("abc", ""), 0.0);
        assert!((edit_similarity("kitten", "sitting") - (1.0 - 3.0 / 7.0)).abs() < 1e-12);
        // Characters, not bytes.
        assert!((edit_similarity("é", "e") - 0.0).abs() < 1e-12);
        assert!((edit_similarity("aé", "ae") - 0.5).abs() < 1e-12);
    }

    #[test]
    fn lexers_find_comments_and_strings() {
        let py = "x = 1  # note\ns = \"\"\"doc\n# not a comment\n\"\"\"\ny = 'a#b'\n";
        let classes = classify(py, Lang::Python);
        assert_eq!(classes[py.find("# note").unwrap()], Class::Comment);
        assert_eq!(classes[py.find("# not a").unwrap()], Class::Str);
        assert_eq!(classes[py.find("y =").unwrap()], Class::Code);
        assert_eq!(classes[py.find("#b").unwrap()], Class::Str);
        let rs = "let a = 'x'; fn f<'a>(s: &'a str) {} // c\nlet r = r#\"q\"#; /* b /* n */ c */ z = '\\''; w";
        let classes = classify(rs, Lang::Rust);
        assert_eq!(classes[rs.find("'x'").unwrap()], Class::Str);
        assert_eq!(classes[rs.find("'a>").unwrap()], Class::Code);
        assert_eq!(classes[rs.find("// c").unwrap()], Class::Comment);
        assert_eq!(classes[rs.find("r#").unwrap()], Class::Str);
        assert_eq!(classes[rs.find(" c */").unwrap()], Class::Comment);
        assert_eq!(classes[rs.find(" z").unwrap() + 1], Class::Code);
        assert_eq!(classes[rs.find("'\\''").unwrap() + 3], Class::Str);
        assert_eq!(classes[rs.find(" w").unwrap() + 1], Class::Code);
        let lua = "local s = [[a\nb]] --[[ c\nd ]] x = 1 -- e\n";
        let classes = classify(lua, Lang::Lua);
        assert_eq!(classes[lua.find("b]]").unwrap()], Class::Str);
        assert_eq!(classes[lua.find("d ]]").unwrap()], Class::Comment);
        assert_eq!(classes[lua.find("x = 1").unwrap()], Class::Code);
        assert_eq!(classes[lua.find("-- e").unwrap()], Class::Comment);
        let ts = "const t = `a\n// b`; // c\n";
        let classes = classify(ts, Lang::TypeScript);
        assert_eq!(classes[ts.find("// b").unwrap()], Class::Str);
        assert_eq!(classes[ts.find("// c").unwrap()], Class::Comment);
    }

    #[test]
    fn code_lines_exclude_comments_strings_and_lone_closers() {
        let text = "def f(x):\n    \"\"\"Doc.\"\"\"\n    # c\n    return g(\n        x,\n    )\n\n";
        let lines = line_infos(text, Lang::Python, &classify(text, Lang::Python));
        let code: Vec<bool> = lines.iter().map(|l| l.code).collect();
        assert_eq!(code, [true, false, false, true, true, false, false]);
        assert!(lone_closer("end)", Lang::Lua));
        assert!(lone_closer("});", Lang::TypeScript));
        assert!(!lone_closer("} else {", Lang::Rust));
        assert!(!lone_closer("endpoint()", Lang::Lua));
    }

    #[test]
    fn block_openers_per_language() {
        assert!(opens_block("if x:", Lang::Python));
        assert!(opens_block("fn f() {", Lang::Rust));
        assert!(opens_block("if a then", Lang::Lua));
        assert!(opens_block("for _, v in ipairs(t) do", Lang::Lua));
        assert!(opens_block("local function f(a, b)", Lang::Lua));
        assert!(opens_block("callback = function(err, result)", Lang::Lua));
        assert!(!opens_block("f(function(x) return x end)", Lang::Lua));
        assert!(!opens_block("undo", Lang::Lua));
    }

    #[test]
    fn holes_cut_the_expected_text_and_leave_the_indentation() {
        let text = "def f(x):\n    y = x + 1\n    return y\n\nz = f(2)\n";
        let [whole, mid, multi] = sites(text, Lang::Python, &mut Rng::new(1));
        // Whole-line: after the indentation to the end of the line.
        let site = whole.iter().find(|s| s.first_line == 1).unwrap();
        assert_eq!(&text[site.start..site.end], "y = x + 1");
        let h = Hole {
            id: "t".to_string(),
            file: "f.py".to_string(),
            language: Lang::Python,
            kind: Kind::Whole,
            line: 2,
            start: site.start,
            end: site.end,
            expected: text[site.start..site.end].to_string(),
        };
        assert_eq!(
            h.document(text),
            "def f(x):\n    \n    return y\n\nz = f(2)\n"
        );
        // Multi-line: the whole body of `def`, from after the first line's indentation.
        assert_eq!(multi.len(), 1);
        assert_eq!(
            &text[multi[0].start..multi[0].end],
            "y = x + 1\n    return y"
        );
        // Mid-line: each cut leaves at least two identifier characters or a `(` before it, and
        // the rest of the line is the answer.
        for site in &mid {
            let line_start = text[..site.start].rfind('\n').map_or(0, |i| i + 1);
            let before = &text[line_start..site.start];
            let typed: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(before.ends_with('(') || typed.len() >= 2, "{before:?}");
            assert_eq!(text[site.end..].chars().next(), Some('\n'));
            assert!(site.end > site.start);
        }
    }

    #[test]
    fn block_bodies_must_be_two_to_six_lines_and_end() {
        let one = "if x:\n    a()\nb()\n";
        assert!(sites(one, Lang::Python, &mut Rng::new(1))[2].is_empty());
        let seven = format!("if x:\n{}b()\n", "    a()\n".repeat(7));
        assert!(sites(&seven, Lang::Python, &mut Rng::new(1))[2].is_empty());
        let to_eof = "if x:\n    a()\n    b()\n";
        assert!(sites(to_eof, Lang::Python, &mut Rng::new(1))[2].is_empty());
        let rust = "fn f() {\n    let a = 1;\n\n    a + 1\n}\n";
        let multi = &sites(rust, Lang::Rust, &mut Rng::new(1))[2];
        assert_eq!(multi.len(), 1);
        assert_eq!(
            &rust[multi[0].start..multi[0].end],
            "let a = 1;\n\n    a + 1"
        );
    }

    #[test]
    fn selection_is_spread_and_deterministic() {
        assert_eq!(spread(10, 3), [1, 5, 8]);
        assert_eq!(spread(2, 5), [0, 1]);
        assert_eq!(allocate(5, &[10, 0, 30]), [1, 0, 4]);
        assert_eq!(allocate(10, &[2, 3]), [2, 3]);
        let files = vec![(
            "a.py".to_string(),
            "def f(x):\n    y = x + 1\n    return y\n\nz = f(2)\nw = z * 3\n".to_string(),
        )];
        let first = choose_holes(&files, 7);
        assert_eq!(first, choose_holes(&files, 7));
        assert!(!first.is_empty());
        // No two holes of a file share a line.
        let mut lines = HashSet::new();
        for h in &first {
            assert!(lines.insert(h.line), "line {} used twice", h.line);
            assert_eq!(&files[0].1[h.start..h.end], h.expected);
        }
    }

    #[test]
    fn limit_keeps_each_kind_spread() {
        let holes: Vec<Hole> = (0..9)
            .map(|i| {
                let mut h = hole(Kind::ALL[i % 3], "x");
                h.id = format!("q{i}");
                h
            })
            .collect();
        let kept: Vec<String> = limit_per_kind(&holes, 1)
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(kept, ["q3", "q4", "q5"]);
    }

    #[test]
    fn minimal_changes_keep_common_text() {
        assert_eq!(differing_range("abcXdef", "abcdef"), (3, 4, 3));
        assert_eq!(differing_range("abc", "abc"), (3, 3, 3));
        assert_eq!(differing_range("aa", "aaa"), (2, 2, 3));
        let mut model = TextModel::new("def f():\n    \n    b\n", Encoding::Utf16);
        let change = minimal_change(&mut model, "def f():\n    a\n    \n");
        assert_eq!(model.text(), "def f():\n    a\n    \n");
        assert_eq!(change["range"]["start"], json!({"line": 1, "character": 4}));
        // Multi-byte characters are never split.
        let (from, _, _) = differing_range("é", "è");
        assert_eq!(from, 0);
    }

    #[test]
    fn items_strip_text_before_the_cursor() {
        let document = "x = fo\n";
        let result = json!({"items": [
            {"insertText": "foo(1)", "range": {"start": {"line": 0, "character": 4}, "end": {"line": 0, "character": 6}}, "confidence": 0.5},
            {"insertText": "o(2)"}
        ]});
        let items = parse_items(&result, document, 6);
        assert_eq!(items[0].text, "o(1)");
        assert_eq!(items[0].confidence, Some(0.5));
        assert_eq!(items[1].text, "o(2)");
        assert_eq!(utf16_offset("a🦀b\nc", 0, 3), Some(5));
        assert_eq!(utf16_offset("a\nc", 1, 1), Some(3));
        assert_eq!(utf16_offset("a\nc", 2, 0), None);
    }

    #[test]
    fn confidence_gate_counts_low_answers_as_empty() {
        let h = hole(Kind::Whole, "a");
        let sure = Answer {
            items: vec![Item {
                text: "a".to_string(),
                confidence: Some(0.9),
            }],
            ..Answer::default()
        };
        let unsure = Answer {
            items: vec![Item {
                text: "b".to_string(),
                confidence: Some(0.2),
            }],
            ..Answer::default()
        };
        let pairs = [(&h, &sure), (&h, &unsure)];
        assert_eq!(gated(&pairs, 0.0), (2, 1));
        assert_eq!(gated(&pairs, 0.5), (1, 1));
        assert_eq!(gated(&pairs, 0.95), (0, 0));
    }

    #[test]
    fn settings_assignments_build_nested_objects() {
        let mut settings = base_settings();
        let (key, value) = parse_assignment("completion.codeOverComment=off").unwrap();
        set_dotted(&mut settings, &key, value);
        let (key, value) = parse_assignment("rill.completion.candidates=3").unwrap();
        set_dotted(&mut settings, &key, value);
        assert_eq!(settings["completion"]["codeOverComment"], json!("off"));
        assert_eq!(settings["completion"]["candidates"], json!(3));
        assert_eq!(settings["completion"]["timeoutMs"], json!(10000));
    }
}
