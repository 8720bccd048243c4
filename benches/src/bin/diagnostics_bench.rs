//! Measures how well rill's surprisal diagnostics find realistic faults injected into real code, over a grid of thresholds.
//!
//! The corpus is `benches/workloads/diagnostics/*.py` (CPython standard library modules, see
//! `SOURCES.md` there). Each file is scored once clean and once in each of a few faulted variants
//! (see `benches/src/faults.rs` for the fault kinds); scoring runs the model once per text with
//! the server's own `score_document`, and every threshold pair of the grid is then applied to the
//! same scores with `find_flags`, as the server would.
//!
//! A flag *hits* a fault when it starts on the fault's line and its byte range overlaps the
//! fault's changed bytes or the [`AFTER_BYTES`] bytes after them (the model is causal, so a
//! fault can only show at or after itself: a missing `self.` shows at the attribute name, a wrong
//! operator often at the operand after it). Precision is hits / flags in the faulted variants,
//! recall is faults hit / faults, and false flags are counted on the clean corpus per 1,000
//! non-empty lines.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

#[path = "../faults.rs"]
mod faults;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use faults::{Fault, FaultKind};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel};
use rill_server::config::{DEFAULT_MIN_ALTERNATIVE, DEFAULT_MIN_SURPRISE};
use rill_server::diagnostics::{find_flags, Flag, ScoredToken, Thresholds};
use rill_server::engine::diagnose::score_document;
use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
use serde_json::{json, Value};

const MIN_SURPRISE: [f32; 7] = [4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0];
const MIN_ALTERNATIVE: [f32; 5] = [0.2, 0.3, 0.5, 0.7, 0.9];
/// How far after a fault's changed bytes (on its line) a flag still counts as finding it.
const AFTER_BYTES: usize = 8;
/// The recommendation: the most recall with at least this precision...
const MIN_PRECISION: f64 = 0.5;
/// ...and at most this many false flags per 1,000 clean lines.
const MAX_FALSE_PER_1K: f64 = 5.0;

#[derive(Parser, Debug)]
#[command(
    about = "Benchmarks rill's surprisal diagnostics on injected faults over a threshold grid"
)]
struct Args {
    /// Faulted copies of the corpus (each costs one scoring pass over it).
    #[arg(long, default_value_t = 4)]
    variants: usize,
    /// Most faults of each kind per variant.
    #[arg(long, default_value_t = 13)]
    per_kind: usize,
    /// Fewest lines between two faults of the same file and variant.
    #[arg(long, default_value_t = 12)]
    min_gap: usize,
    /// Seed of the fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Matrix threads, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Directory of `.py` files to use instead of `benches/workloads/diagnostics`.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Print every fault with the flags near it at the recommended thresholds (to stderr).
    #[arg(long)]
    list: bool,
    /// Print the full results as JSON on stdout (the Markdown tables then go to stderr).
    #[arg(long)]
    json: bool,
    /// Another GGUF file.
    #[arg(long)]
    model: Option<PathBuf>,
}

/// One scored text: a clean file or a faulted copy.
struct Scored {
    file: usize,
    /// `None` for the clean file.
    variant: Option<usize>,
    text: String,
    line_starts: Vec<usize>,
    tokens: Vec<ScoredToken>,
    faults: Vec<Fault>,
}

impl Scored {
    fn line_of(&self, byte: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= byte) - 1
    }

    fn hits(&self, flag: &Flag, fault: &Fault) -> bool {
        self.line_of(flag.range.start) == fault.line
            && flag.range.start < fault.range.end + AFTER_BYTES
            && flag.range.end > fault.range.start
    }
}

/// One column's text for a row of the per-kind table.
type CellText = fn(&Cell) -> String;

/// The results of one threshold pair.
#[derive(Debug, Clone)]
struct Cell {
    thresholds: Thresholds,
    clean_flags: usize,
    faulted_flags: usize,
    hit_flags: usize,
    found: BTreeMap<FaultKind, usize>,
    found_total: usize,
    faults_total: usize,
    false_per_1k: f64,
}

impl Cell {
    fn precision(&self) -> Option<f64> {
        (self.faulted_flags > 0).then(|| self.hit_flags as f64 / self.faulted_flags as f64)
    }

    fn recall(&self) -> f64 {
        self.found_total as f64 / self.faults_total.max(1) as f64
    }

    fn is(&self, min_surprise: f32, min_alternative: f32) -> bool {
        self.thresholds.min_surprise == min_surprise
            && self.thresholds.min_alternative == min_alternative
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    configure_threads(ThreadSettings {
        threads: args.threads,
        ..ThreadSettings::default()
    });
    let dir = args
        .corpus
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/diagnostics"));
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "py"));
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "no .py files in {}", dir.display());
    let names: Vec<String> = paths
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let clean: Vec<String> = paths
        .iter()
        .map(|p| std::fs::read_to_string(p).with_context(|| p.display().to_string()))
        .collect::<Result<_>>()?;
    let non_empty_lines: usize = clean
        .iter()
        .map(|text| text.lines().filter(|l| !l.trim().is_empty()).count())
        .sum();

    let texts: Vec<&str> = clean.iter().map(String::as_str).collect();
    let plan = faults::plan(
        &texts,
        args.variants,
        args.per_kind,
        args.min_gap,
        args.seed,
    );
    let mut documents: Vec<(usize, Option<usize>, String, Vec<Fault>)> = Vec::new();
    for (file, text) in clean.iter().enumerate() {
        documents.push((file, None, text.clone(), Vec::new()));
    }
    for (variant, files) in plan.iter().enumerate() {
        for (file, sites) in files.iter().enumerate() {
            let (text, faults) = faults::apply(&clean[file], sites);
            documents.push((file, Some(variant), text, faults));
        }
    }
    let mut fault_counts: BTreeMap<FaultKind, usize> = BTreeMap::new();
    for (_, _, _, faults) in &documents {
        for fault in faults {
            *fault_counts.entry(fault.kind).or_insert(0) += 1;
        }
    }
    eprintln!(
        "corpus: {} files, {non_empty_lines} non-empty lines; {} variants with {} faults ({})",
        names.len(),
        args.variants,
        fault_counts.values().sum::<usize>(),
        fault_counts
            .iter()
            .map(|(kind, count)| format!("{} {count}", kind.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    eprintln!("loading {}", path.display());
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    let scoring_started = Instant::now();
    let mut scored = Vec::with_capacity(documents.len());
    let mut tokens_scored = 0;
    for (index, (file, variant, text, faults)) in documents.into_iter().enumerate() {
        let doc_started = Instant::now();
        // One key for all: each text replaces the previous one's cache. Comments and strings are
        // skipped, as the server skips them in a Python document.
        let tokens = score_document(&loaded, &mut store, "bench", &text, "python")?;
        tokens_scored += tokens.len();
        eprintln!(
            "  [{}/{}] {} {}: {} tokens in {:.1} s",
            index + 1,
            names.len() * (args.variants + 1),
            names[file],
            variant.map_or("clean".to_string(), |v| format!("variant {v}")),
            tokens.len(),
            doc_started.elapsed().as_secs_f64()
        );
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        scored.push(Scored {
            file,
            variant,
            text,
            line_starts,
            tokens,
            faults,
        });
    }
    let scoring_seconds = scoring_started.elapsed().as_secs_f64();

    let mut cells = Vec::new();
    for &min_surprise in &MIN_SURPRISE {
        for &min_alternative in &MIN_ALTERNATIVE {
            let thresholds = Thresholds {
                min_surprise,
                min_alternative,
            };
            cells.push(evaluate(&scored, thresholds, non_empty_lines));
        }
    }
    let recommended = recommend(&cells).clone();
    let default = cells
        .iter()
        .find(|c| c.is(DEFAULT_MIN_SURPRISE, DEFAULT_MIN_ALTERNATIVE))
        .cloned()
        .unwrap_or_else(|| {
            let thresholds = Thresholds {
                min_surprise: DEFAULT_MIN_SURPRISE,
                min_alternative: DEFAULT_MIN_ALTERNATIVE,
            };
            evaluate(&scored, thresholds, non_empty_lines)
        });
    let seconds = started.elapsed().as_secs_f64();

    if args.list {
        list_faults(&scored, &names, recommended.thresholds);
    }
    // The tables go to stdout, or to stderr when stdout carries the JSON.
    let mut out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    let out = &mut *out;
    writeln!(
        out,
        "Corpus: {} files ({}), {non_empty_lines} non-empty lines; {} faulted variants, {} faults \
         ({}). Scored {tokens_scored} tokens in {scoring_seconds:.0} s ({:.0} tokens/s); total {seconds:.0} s.\n",
        names.len(),
        names.join(", "),
        args.variants,
        fault_counts.values().sum::<usize>(),
        fault_counts
            .iter()
            .map(|(kind, count)| format!("{} {count}", kind.name()))
            .collect::<Vec<_>>()
            .join(", "),
        tokens_scored as f64 / scoring_seconds.max(1e-9),
    )?;
    writeln!(
        out,
        "Each cell: precision / recall / false flags per 1k clean lines (min_surprise rows, min_alternative columns).\n"
    )?;
    write!(out, "| min_surprise \\ min_alternative |")?;
    for alternative in MIN_ALTERNATIVE {
        write!(out, " {alternative} |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|{}", "---|".repeat(MIN_ALTERNATIVE.len()))?;
    for surprise in MIN_SURPRISE {
        write!(out, "| {surprise} |")?;
        for alternative in MIN_ALTERNATIVE {
            let cell = cells
                .iter()
                .find(|c| c.is(surprise, alternative))
                .context("grid cell")?;
            let mark = if cell.is(
                recommended.thresholds.min_surprise,
                recommended.thresholds.min_alternative,
            ) {
                "**"
            } else {
                ""
            };
            write!(
                out,
                " {mark}{} / {:.2} / {:.1}{mark} |",
                fmt_precision(cell),
                cell.recall(),
                cell.false_per_1k
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    let label = |cell: &Cell| {
        format!(
            "{}/{}",
            cell.thresholds.min_surprise, cell.thresholds.min_alternative
        )
    };
    writeln!(
        out,
        "| fault type | faults | recall at {} (recommended) | recall at {} (default) |",
        label(&recommended),
        label(&default)
    )?;
    writeln!(out, "|---|---|---|---|")?;
    for kind in FaultKind::ALL {
        let total = fault_counts.get(&kind).copied().unwrap_or(0);
        let recall = |cell: &Cell| {
            let found = cell.found.get(&kind).copied().unwrap_or(0);
            format!("{:.2} ({found})", found as f64 / total.max(1) as f64)
        };
        writeln!(
            out,
            "| {} | {total} | {} | {} |",
            kind.name(),
            recall(&recommended),
            recall(&default)
        )?;
    }
    let rows: [(&str, String, CellText); 3] = [
        ("all (recall)", recommended.faults_total.to_string(), |c| {
            format!("{:.2} ({})", c.recall(), c.found_total)
        }),
        ("precision (hits / flags)", String::new(), |c| {
            format!("{} ({}/{})", fmt_precision(c), c.hit_flags, c.faulted_flags)
        }),
        ("false flags per 1k clean lines", String::new(), |c| {
            format!("{:.1} ({})", c.false_per_1k, c.clean_flags)
        }),
    ];
    for (name, total, value) in rows {
        writeln!(
            out,
            "| {name} | {total} | {} | {} |",
            value(&recommended),
            value(&default)
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Recommended: min_surprise {} / min_alternative {} ({}).",
        recommended.thresholds.min_surprise,
        recommended.thresholds.min_alternative,
        reason(&recommended)
    )?;
    out.flush()?;
    if args.json {
        let names = &names;
        let faults: Vec<Value> = scored
            .iter()
            .flat_map(|doc| {
                let found = |thresholds| {
                    let flags = find_flags(&doc.text, &doc.tokens, thresholds);
                    doc.faults
                        .iter()
                        .map(|fault| flags.iter().any(|flag| doc.hits(flag, fault)))
                        .collect::<Vec<_>>()
                };
                let (at_recommended, at_default) =
                    (found(recommended.thresholds), found(default.thresholds));
                doc.faults.iter().enumerate().map(move |(i, fault)| {
                    json!({
                        "file": names[doc.file],
                        "variant": doc.variant,
                        "kind": fault.kind.name(),
                        "line": fault.line + 1,
                        "original": fault.original,
                        "replacement": fault.replacement,
                        "start": fault.range.start,
                        "end": fault.range.end,
                        "found_recommended": at_recommended[i],
                        "found_default": at_default[i],
                    })
                })
            })
            .collect();
        let result = json!({
            "corpus": {
                "files": names,
                "non_empty_lines": non_empty_lines,
            },
            "variants": args.variants,
            "per_kind": args.per_kind,
            "min_gap": args.min_gap,
            "seed": args.seed,
            "after_bytes": AFTER_BYTES,
            "fault_counts": kind_map(&fault_counts),
            "tokens_scored": tokens_scored,
            "scoring_seconds": round(scoring_seconds, 1),
            "total_seconds": round(seconds, 1),
            "grid": cells.iter().map(cell_json).collect::<Vec<_>>(),
            "recommended": cell_json(&recommended),
            "default": cell_json(&default),
            "faults": faults,
        });
        println!("{result}");
    }

    Ok(())
}

/// Applies `thresholds` to every scored text.
fn evaluate(scored: &[Scored], thresholds: Thresholds, non_empty_lines: usize) -> Cell {
    let mut cell = Cell {
        thresholds,
        clean_flags: 0,
        faulted_flags: 0,
        hit_flags: 0,
        found: BTreeMap::new(),
        found_total: 0,
        faults_total: 0,
        false_per_1k: 0.0,
    };
    for doc in scored {
        let flags = find_flags(&doc.text, &doc.tokens, thresholds);
        if doc.variant.is_none() {
            cell.clean_flags += flags.len();
            continue;
        }
        cell.faulted_flags += flags.len();
        cell.hit_flags += flags
            .iter()
            .filter(|flag| doc.faults.iter().any(|fault| doc.hits(flag, fault)))
            .count();
        for fault in &doc.faults {
            cell.faults_total += 1;
            if flags.iter().any(|flag| doc.hits(flag, fault)) {
                cell.found_total += 1;
                *cell.found.entry(fault.kind).or_insert(0) += 1;
            }
        }
    }
    cell.false_per_1k = cell.clean_flags as f64 * 1000.0 / non_empty_lines.max(1) as f64;
    cell
}

/// The most recall with precision ≥ [`MIN_PRECISION`] among the cells with at most
/// [`MAX_FALSE_PER_1K`] false flags per 1k clean lines; else the best precision among those; else
/// the cell with the fewest false flags.
fn recommend(cells: &[Cell]) -> &Cell {
    let precision = |c: &Cell| c.precision().unwrap_or(-1.0);
    let quiet: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.false_per_1k <= MAX_FALSE_PER_1K)
        .collect();
    let recall_first = |c: &Cell| (c.recall(), precision(c), -c.false_per_1k);
    let precision_first = |c: &Cell| (precision(c), c.recall(), -c.false_per_1k);
    best(
        &mut quiet
            .iter()
            .copied()
            .filter(|c| precision(c) >= MIN_PRECISION),
        &recall_first,
    )
    .or_else(|| best(&mut quiet.iter().copied(), &precision_first))
    .unwrap_or_else(|| {
        cells
            .iter()
            .min_by(|a, b| a.false_per_1k.total_cmp(&b.false_per_1k))
            .unwrap_or(&cells[0])
    })
}

/// The cell with the largest `key` (compared in order, NaN as equal).
fn best<'a>(
    cells: &mut dyn Iterator<Item = &'a Cell>,
    key: &dyn Fn(&Cell) -> (f64, f64, f64),
) -> Option<&'a Cell> {
    cells
        .map(|c| (key(c), c))
        .max_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal))
        .map(|(_, c)| c)
}

fn reason(cell: &Cell) -> String {
    let precision = cell.precision().unwrap_or(0.0);
    if cell.false_per_1k > MAX_FALSE_PER_1K {
        format!(
            "no setting has at most {MAX_FALSE_PER_1K} false flags per 1k clean lines; this one has the fewest"
        )
    } else if precision >= MIN_PRECISION {
        format!(
            "the highest recall, {:.2}, with precision ≥ {MIN_PRECISION} ({precision:.2}) and {:.1} false flags per 1k clean lines",
            cell.recall(),
            cell.false_per_1k
        )
    } else {
        format!(
            "no setting reaches precision {MIN_PRECISION} with at most {MAX_FALSE_PER_1K} false flags per 1k clean lines; this one has the best precision, {precision:.2}"
        )
    }
}

fn fmt_precision(cell: &Cell) -> String {
    cell.precision()
        .map_or_else(|| "–".to_string(), |p| format!("{p:.2}"))
}

fn kind_map(counts: &BTreeMap<FaultKind, usize>) -> Value {
    Value::Object(
        FaultKind::ALL
            .iter()
            .map(|kind| {
                (
                    kind.name().to_string(),
                    json!(counts.get(kind).copied().unwrap_or(0)),
                )
            })
            .collect(),
    )
}

fn cell_json(cell: &Cell) -> Value {
    json!({
        "min_surprise": round(f64::from(cell.thresholds.min_surprise), 2),
        "min_alternative": round(f64::from(cell.thresholds.min_alternative), 2),
        "precision": cell.precision().map(|p| round(p, 3)),
        "recall": round(cell.recall(), 3),
        "false_flags_per_1k_clean_lines": round(cell.false_per_1k, 2),
        "clean_flags": cell.clean_flags,
        "faulted_flags": cell.faulted_flags,
        "hit_flags": cell.hit_flags,
        "faults": cell.faults_total,
        "found": cell.found_total,
        "found_by_kind": kind_map(&cell.found),
    })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Every fault with the flags on its line, and whether one hits it (stderr).
fn list_faults(scored: &[Scored], names: &[String], thresholds: Thresholds) {
    for doc in scored.iter().filter(|doc| doc.variant.is_some()) {
        let flags = find_flags(&doc.text, &doc.tokens, thresholds);
        for fault in &doc.faults {
            let near: Vec<String> = flags
                .iter()
                .filter(|flag| doc.line_of(flag.range.start) == fault.line)
                .map(|flag| {
                    format!(
                        "`{}` {:.1} nats (expected {:?} {:.0}%){}",
                        flag.text,
                        flag.surprise,
                        flag.expected,
                        flag.expected_prob * 100.0,
                        if doc.hits(flag, fault) { " HIT" } else { "" }
                    )
                })
                .collect();
            let line_text = doc.text[doc.line_starts[fault.line]..]
                .lines()
                .next()
                .unwrap_or("")
                .trim();
            eprintln!(
                "{} v{} :{} {} `{}`→`{}`: {line_text}\n    {}",
                names[doc.file],
                doc.variant.unwrap_or(0),
                fault.line + 1,
                fault.kind.name(),
                fault.original,
                fault.replacement,
                if near.is_empty() {
                    "no flag".to_string()
                } else {
                    near.join("; ")
                }
            );
        }
    }
}
