//! Measures what cross-file context does for completions: holes at lines of real multi-file code that use a name defined in another file, completed by the default model with the ring off and on.
//!
//! The workload is two packages of CPython's standard library (`benches/workloads/crossfile/`,
//! see its `SOURCES.md`). Holes are picked mechanically: a top-level `def`, `class` or assignment
//! in file A defines a name (four characters or more) that file B does not define; every code
//! line of B (not a comment, not inside a docstring) that uses it is a hole, with the cursor after
//! the line's indentation and the rest of the line as the expected answer (at most
//! `--max-per-file` holes per file, spread over it). For each hole the default
//! model completes greedily up to the end of the line from the prompt the server would build
//! (`rill_server::engine::prompt::build`) under three rings, fed as the server feeds them
//! (`rill_server::context`):
//!
//! - `off`: `context.crossFile: false`, the single-file prompt;
//! - `opened`: every other file of the package opened first, then B: the ring holds the first
//!   `context.chunkLines` lines of each;
//! - `visited`: the same, then the user looked at the name's definition (a completion request there)
//!   before coming back to B: the chunk around the definition is the newest.
//!
//! Scores: the share of holes whose first line is exactly the rest of the line, the share whose
//! first line contains the name, and the mean edit similarity (1 − Levenshtein distance / longer
//! length).

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use rill_model::generate::{generate, GenerationParams};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel, Sequence};
use rill_server::config::Config;
use rill_server::context::chunk::{self, Chunk};
use rill_server::context::ring::Ring;
use rill_server::context::PromptContext;
use rill_server::engine::prompt::{build, PromptRequest, Specials};

/// The packages of the workload, each a folder of `.py` files.
const PACKAGES: [&str; 2] = ["json", "importlib_metadata"];

/// Tokens generated at most per hole: every expected rest of line is shorter.
const MAX_TOKENS: usize = 32;

#[derive(Parser, Debug)]
#[command(
    about = "Completes holes that need another file's names, with the cross-file ring off and on"
)]
struct Args {
    /// Matrix threads, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Only the first N holes (in workload order), for a quick look.
    #[arg(long)]
    limit: Option<usize>,
    /// `context.chunkLines` (the server's default unless given).
    #[arg(long)]
    chunk_lines: Option<usize>,
    /// `context.crossFileTokens` (the server's default unless given).
    #[arg(long)]
    cross_file_tokens: Option<usize>,
    /// `completion.contextTokens` (the server's default unless given).
    #[arg(long)]
    context_tokens: Option<usize>,
    /// Most holes per file, evenly spread over its holes.
    #[arg(long, default_value_t = 3)]
    max_per_file: usize,
    /// Print every hole's answers.
    #[arg(long)]
    verbose: bool,
    /// Another GGUF file.
    #[arg(long)]
    model: Option<PathBuf>,
}

/// One file of a package.
struct SourceFile {
    uri: String,
    text: String,
}

impl SourceFile {
    fn lines(&self) -> Vec<&str> {
        self.text.split('\n').collect()
    }
}

/// A place to complete.
struct Hole {
    package: usize,
    /// Index of the file in its package.
    file: usize,
    line: usize,
    /// Byte column of the name in the line.
    column: usize,
    name: String,
    /// The file and line defining the name.
    defined_in: usize,
    defined_at: usize,
    expected: String,
}

/// The three rings compared.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Scenario {
    Off,
    Opened,
    Visited,
}

const SCENARIOS: [Scenario; 3] = [Scenario::Off, Scenario::Opened, Scenario::Visited];

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Opened => "opened",
            Self::Visited => "visited",
        }
    }
}

#[derive(Default, Clone)]
struct Score {
    holes: usize,
    exact: usize,
    name_first: usize,
    similarity: f64,
    prompt_tokens: usize,
    cross_file_tokens: usize,
    seconds: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    configure_threads(ThreadSettings {
        threads: args.threads,
        ..ThreadSettings::default()
    });
    let defaults = Config::default();
    let chunk_lines = args.chunk_lines.unwrap_or(defaults.chunk_lines);
    let budget = args.cross_file_tokens.unwrap_or(defaults.cross_file_tokens);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/crossfile");
    let packages = PACKAGES
        .iter()
        .map(|name| read_package(&root, name))
        .collect::<Result<Vec<_>>>()?;
    let mut holes: Vec<Hole> = packages
        .iter()
        .enumerate()
        .flat_map(|(index, files)| find_holes(index, files))
        .collect();
    holes = spread(holes, args.max_per_file);
    let context_tokens = args.context_tokens.unwrap_or(defaults.context_tokens);
    if let Some(limit) = args.limit {
        holes.truncate(limit);
    }
    eprintln!("{} holes", holes.len());
    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    let specials = Specials::of(&loaded.tokenizer);
    let params = GenerationParams {
        max_tokens: MAX_TOKENS,
        stop: vec!["\n".to_string()],
        ..GenerationParams::default()
    };
    let mut scores: HashMap<Scenario, Score> = HashMap::new();
    let mut sequence = Sequence::new(&loaded.model);
    for scenario in SCENARIOS {
        // Later lines first: each prompt then starts with the previous one's, as while editing.
        let mut order: Vec<&Hole> = holes.iter().collect();
        order.sort_by_key(|hole| (hole.package, hole.file, std::cmp::Reverse(hole.line)));
        for hole in order {
            let files = &packages[hole.package];
            let target = &files[hole.file];
            let offset = line_offset(&target.text, hole.line) + hole.column;
            let context = match scenario {
                Scenario::Off => PromptContext::default(),
                _ => ring_context(files, hole, scenario, chunk_lines, budget),
            };
            let request = PromptRequest {
                text_before_cursor: &target.text[..offset],
                text_after_cursor: &target.text[offset..],
                context_tokens,
                reserve_tokens: defaults.max_tokens,
                context_length: loaded.model.config().context_length,
                cross_file: &context,
                heal: false,
            };
            let prompt = build(&loaded.tokenizer, &specials, &request)?;
            let mut params = params.clone();
            params.stop_tokens = prompt.stop_tokens.clone();
            let started = Instant::now();
            let generation = generate(
                &loaded.model,
                &loaded.tokenizer,
                &mut sequence,
                &prompt.tokens,
                &params,
                &|| false,
                |_| {},
            )?;
            let answer = generation.text.lines().next().unwrap_or("").trim_end();
            let score = scores.entry(scenario).or_default();
            score.holes += 1;
            score.exact += usize::from(answer == hole.expected);
            score.name_first += usize::from(answer.contains(&hole.name));
            score.similarity += similarity(answer, &hole.expected);
            score.prompt_tokens += prompt.tokens.len();
            score.cross_file_tokens += prompt.cross_file_tokens;
            score.seconds += started.elapsed().as_secs_f64();
            if args.verbose {
                eprintln!(
                    "{:8} {}:{} {:?} -> {:?}",
                    scenario.name(),
                    short(&target.uri),
                    hole.line + 1,
                    hole.expected,
                    answer
                );
            }
        }
        eprintln!("{} done", scenario.name());
    }
    println!(
        "{} holes in {} files; chunkLines {chunk_lines}, crossFileTokens {budget}, contextTokens {}, greedy, first line only",
        holes.len(),
        packages.iter().map(Vec::len).sum::<usize>(),
        context_tokens
    );
    println!();
    println!("| ring | exact line | has the name | edit similarity | prompt tokens (cross-file) | s per hole |");
    println!("|---|---|---|---|---|---|");
    for scenario in SCENARIOS {
        let score = scores.get(&scenario).cloned().unwrap_or_default();
        let n = score.holes.max(1) as f64;
        println!(
            "| {} | {}/{} ({:.0}%) | {}/{} ({:.0}%) | {:.3} | {:.0} ({:.0}) | {:.2} |",
            scenario.name(),
            score.exact,
            score.holes,
            100.0 * score.exact as f64 / n,
            score.name_first,
            score.holes,
            100.0 * score.name_first as f64 / n,
            score.similarity / n,
            score.prompt_tokens as f64 / n,
            score.cross_file_tokens as f64 / n,
            score.seconds / n
        );
    }
    Ok(())
}

fn read_package(root: &Path, name: &str) -> Result<Vec<SourceFile>> {
    let folder = root.join(name);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| folder.display().to_string())?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "py"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text =
                std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            Ok(SourceFile {
                uri: format!("file:///workspace/{name}/{file}"),
                text,
            })
        })
        .collect()
}

/// The top-level names a file defines, with their line: `def name`, `class name`, `name =`.
fn definitions(file: &SourceFile) -> Vec<(String, usize)> {
    file.lines()
        .iter()
        .enumerate()
        .filter_map(|(index, line)| {
            let rest = line
                .strip_prefix("def ")
                .or_else(|| line.strip_prefix("class "))
                .unwrap_or(line);
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let after = rest[name.len()..].trim_start();
            let defines =
                rest.len() != line.len() || after.starts_with('=') && !after.starts_with("==");
            (defines && name.len() >= 4 && !name.starts_with(char::is_numeric))
                .then_some((name, index))
        })
        .collect()
}

/// Byte offset of a whole-word occurrence of `name` in `line`.
fn find_word(line: &str, name: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(name).map(|(at, _)| at).find(|&at| {
        !line[..at].chars().next_back().is_some_and(is_word)
            && !line[at + name.len()..].chars().next().is_some_and(is_word)
    })
}

/// Every hole of a package (see the module documentation).
fn find_holes(package: usize, files: &[SourceFile]) -> Vec<Hole> {
    let defined: Vec<Vec<(String, usize)>> = files.iter().map(definitions).collect();
    let mut holes = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let own: HashSet<&str> = defined[index]
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        let mut in_docstring = false;
        for (line_index, line) in file.lines().iter().enumerate() {
            let quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
            let was_inside = in_docstring;
            in_docstring ^= quotes % 2 == 1;
            let code = line.trim();
            if was_inside || quotes > 0 || code.is_empty() || code.starts_with('#') {
                continue;
            }
            let found = defined.iter().enumerate().find_map(|(other, names)| {
                if other == index {
                    return None;
                }
                names.iter().find_map(|(name, at)| {
                    if own.contains(name.as_str()) {
                        return None;
                    }
                    let column = find_word(line, name)?;
                    Some((other, *at, name.clone(), column))
                })
            });
            if let Some((defined_in, defined_at, name, _)) = found {
                let column = line.len() - line.trim_start().len();
                holes.push(Hole {
                    package,
                    file: index,
                    line: line_index,
                    column,
                    expected: line[column..].trim_end().to_string(),
                    name,
                    defined_in,
                    defined_at,
                });
            }
        }
    }
    holes
}

/// The cross-file part of the prompt at `hole` after the events of `scenario`, fed to a ring
/// exactly as the server feeds it (see `rill_server::lsp::cross_file`).
fn ring_context(
    files: &[SourceFile],
    hole: &Hole,
    scenario: Scenario,
    chunk_lines: usize,
    budget: usize,
) -> PromptContext {
    let defaults = Config::default();
    let mut ring = Ring::default();
    let cut = |file: &SourceFile, line: usize| -> Option<Chunk> {
        let lines = file.lines();
        chunk::cut(&file.uri, lines.len(), line, chunk_lines, |index| {
            lines[index].to_string()
        })
    };
    let target = &files[hole.file];
    // Opening a document queues its first lines; the target is opened last.
    for (index, file) in files.iter().enumerate() {
        if index != hole.file {
            ring.queue_opt(cut(file, 0), defaults.max_chunks);
        }
    }
    ring.queue_opt(cut(target, 0), defaults.max_chunks);
    if scenario == Scenario::Visited {
        let defining = &files[hole.defined_in];
        ring.queue_opt(cut(defining, hole.defined_at), defaults.max_chunks);
    }
    // Back in the target at the hole: a view there, then the pause that refreshes the ring.
    ring.queue_opt(cut(target, hole.line), defaults.max_chunks);
    let surroundings = cut(target, hole.line).map(|chunk| chunk.lines);
    ring.refresh(
        surroundings.map(|lines| (target.uri.clone(), lines)),
        defaults.max_chunks,
    );
    let chunks: Vec<Arc<Chunk>> = ring.select(&target.uri);
    PromptContext::new(&target.uri, "python", &chunks, budget)
}

/// Queues an optional chunk (a file too short for one has none).
trait QueueOpt {
    fn queue_opt(&mut self, chunk: Option<Chunk>, max_chunks: usize);
}

impl QueueOpt for Ring {
    fn queue_opt(&mut self, chunk: Option<Chunk>, max_chunks: usize) {
        if let Some(chunk) = chunk {
            self.queue(chunk, max_chunks);
        }
    }
}

/// At most `per_file` holes of each file, evenly spaced among its holes.
fn spread(holes: Vec<Hole>, per_file: usize) -> Vec<Hole> {
    let mut by_file: Vec<Vec<Hole>> = Vec::new();
    for hole in holes {
        match by_file.last_mut() {
            Some(group) if group[0].package == hole.package && group[0].file == hole.file => {
                group.push(hole)
            }
            _ => by_file.push(vec![hole]),
        }
    }
    by_file
        .into_iter()
        .flat_map(|group| {
            let count = group.len();
            let keep = per_file.min(count);
            let picks: HashSet<usize> = (0..keep).map(|i| i * count / keep.max(1)).collect();
            group
                .into_iter()
                .enumerate()
                .filter(move |(index, _)| picks.contains(index))
                .map(|(_, hole)| hole)
        })
        .collect()
}

fn line_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n').take(line).map(str::len).sum()
}

fn short(uri: &str) -> &str {
    uri.strip_prefix("file:///workspace/").unwrap_or(uri)
}

/// 1 − Levenshtein distance (in characters) / the longer length; 1 for two empty strings.
fn similarity(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    1.0 - previous[b.len()] as f64 / longer as f64
}
