//! Measures how well rill's surprisal diagnostics find realistic faults injected into real code, over a grid of thresholds, at two fault densities.
//!
//! Two corpora of unmodified CPython standard library modules: the *tuning* corpus
//! `benches/workloads/diagnostics/*.py` (see `SOURCES.md` there), on which the defaults were
//! first chosen, and a *held-out* one, the other CPython modules the project ships
//! (`edit_replay/*.py`, `crossfile/json/*.py`, `crossfile/importlib_metadata/*.py`).
//!
//! - **Dense** (the tuning corpus only): faulted copies with a fault every dozen lines or so (see
//!   `benches/src/faults.rs`), each scored in full.
//! - **Realistic**: one fault per section of about `--lines-per-fault` lines (100: a user's file
//!   holds far fewer mistakes than one per dozen lines). Each fault is replayed as the server
//!   handles the edit that makes it: its line and `--lookahead` lines after it are rescored in the
//!   sequence that holds the clean file (the prefix is reused), and the flags of the rest of the
//!   file are the clean file's (the server keeps them until the idle refresh).
//!
//! Every text is scored in the regions the server scores (blocks of 40 lines after opening, the
//! edited line and its look-ahead after an edit) with the server's own functions; every threshold
//! pair of the grid is then applied to the same scores with `find_flags`, as the server would.
//!
//! A flag *hits* a fault when it starts on the fault's line and its byte range overlaps the
//! fault's changed bytes or the [`AFTER_BYTES`] bytes after them (the model is causal, so a
//! fault can only show at or after itself: a missing `self.` shows at the attribute name, a wrong
//! operator often at the operand after it). Precision is hits / flags in the faulted copies,
//! recall is faults hit / faults, and false flags are counted on the clean files per 1,000
//! non-empty lines.
//!
//! Three pipelines are compared: the thresholds alone (as before issue 15), with the lexical name
//! index (`diagnostics::names`: a flag on a name the file uses elsewhere is dropped), and with the
//! counterfactual check too (`diagnostics::confirm`: a flag stands only when the model's fix makes
//! the text after it likelier by `minGain` nats). The check needs the model for every candidate
//! flag, so it is run on the threshold cells [`CHECK_SURPRISE`] × [`CHECK_ALTERNATIVE`] only.
//! *Flicker* is the share of published flags (after the name index, before the check) that the
//! check withdraws: the squiggles a user would see appear and go.
//!
//! `--cache FILE` keeps the scores of every region and the verdict on every candidate flag (keyed
//! by the text's hash and the byte range), so a second run with other settings or another report
//! costs no model time. `--dump FILE` writes every scored text with its scores, faults and
//! verdicts, for analyses outside this binary.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

#[path = "../faults.rs"]
mod faults;

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use faults::{Fault, FaultKind};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel};
use rill_server::config::{DEFAULT_MIN_ALTERNATIVE, DEFAULT_MIN_GAIN, DEFAULT_MIN_SURPRISE};
use rill_server::diagnostics::confirm::{settle, CheckShape, Judged, Verdict};
use rill_server::diagnostics::names::{known_name, NameIndex};
use rill_server::diagnostics::prose::prose_ranges;
use rill_server::diagnostics::regions::{blocks, line_offset_after, whole_lines};
use rill_server::diagnostics::{find_flags, Fix, Flag, ScoredToken, Thresholds};
use rill_server::engine::diagnose::{judge_flags, score_text_region, PreparedText, RegionScan};
use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
use serde_json::{json, Value};

const MIN_SURPRISE: [f32; 9] = [4.0, 5.0, 6.0, 7.0, 8.0, 10.0, 12.0, 13.0, 14.0];
const MIN_ALTERNATIVE: [f32; 6] = [0.2, 0.3, 0.4, 0.5, 0.7, 0.9];
/// How far after a fault's changed bytes (on its line) a flag still counts as finding it.
const AFTER_BYTES: usize = 8;
/// The settings before issue 15, the "before" column of the reports.
const BEFORE: Thresholds = Thresholds {
    min_surprise: 12.0,
    min_alternative: 0.7,
};
/// The recommendation at the dense density: the most recall with at least this precision...
const DENSE_MIN_PRECISION: f64 = 0.5;
/// ...and at most this many false flags per 1,000 clean lines.
const DENSE_MAX_FALSE_PER_1K: f64 = 5.0;
/// The recommendation at the realistic density (the targets of issue 15).
const REALISTIC_MIN_PRECISION: f64 = 0.6;
const REALISTIC_MAX_FALSE_PER_1K: f64 = 1.0;
/// Bumped whenever what a cached region holds changes meaning.
const CACHE_VERSION: &str = "scores-1";
/// Bumped whenever the counterfactual check changes: cached verdicts of another version are
/// computed again.
const VERDICT_VERSION: &str = "verdict-3";
/// The tail the bench judges with: wider than the server's, so that the server's (and other
/// narrower ones) can be read off each verdict's per-token profile without judging again.
const MEASURED_SHAPE: CheckShape = CheckShape {
    lines: 2,
    tokens: 40,
};
/// The threshold cells the counterfactual check is measured on (each candidate flag costs a few
/// forward passes).
const CHECK_SURPRISE: [f32; 5] = [6.0, 7.0, 8.0, 10.0, 12.0];
const CHECK_ALTERNATIVE: [f32; 3] = [0.5, 0.7, 0.9];
/// `minGain` values swept at the default thresholds.
const MIN_GAINS: [f32; 9] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0];
/// Flags judged per call, as a diagnostics job judges at most this many per region.
const JUDGED_PER_CALL: usize = 8;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Density {
    Dense,
    Realistic,
    Both,
}

#[derive(Parser, Debug)]
#[command(
    about = "Benchmarks rill's surprisal diagnostics on injected faults over a threshold grid"
)]
struct Args {
    /// Which fault densities to measure.
    #[arg(long, value_enum, default_value = "both")]
    density: Density,
    /// Dense: faulted copies of the tuning corpus (each costs one scoring pass over it).
    #[arg(long, default_value_t = 4)]
    variants: usize,
    /// Dense: most faults of each kind per variant.
    #[arg(long, default_value_t = 13)]
    per_kind: usize,
    /// Dense: fewest lines between two faults of the same file and variant.
    #[arg(long, default_value_t = 12)]
    min_gap: usize,
    /// Realistic: lines per fault (each file is cut into sections this long, one fault each).
    #[arg(long, default_value_t = 100)]
    lines_per_fault: usize,
    /// Realistic: faulted copies of both corpora (each fault costs its line and the look-ahead).
    #[arg(long, default_value_t = 3)]
    realistic_variants: usize,
    /// Realistic: the fault kinds, comma-separated names (`all` for every kind).
    #[arg(
        long,
        default_value = "misspelled_keyword,misspelled_identifier,swapped_operator,wrong_variable"
    )]
    kinds: String,
    /// Realistic: lines after a fault rescored with it (`diagnostics.lookaheadLines`).
    #[arg(long, default_value_t = 20)]
    lookahead: usize,
    /// Seed of the fault injection.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Matrix threads, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Directory of `.py` files to use instead of the tuning corpus `benches/workloads/diagnostics`.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Directories of held-out `.py` files (repeatable; default: the CPython modules under
    /// `benches/workloads/edit_replay` and `benches/workloads/crossfile`). `none` for none.
    #[arg(long)]
    heldout: Vec<PathBuf>,
    /// A JSON file that keeps the scores of every region between runs.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Write every scored text with its scores, faults and verdicts as JSON to this file.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Judge no flags that the cache has no verdict on (the check's figures then count them as
    /// withdrawn): a quick report of the thresholds and the name index alone.
    #[arg(long)]
    no_judge: bool,
    /// Print every fault with the flags near it at the default thresholds (to stderr).
    #[arg(long)]
    list: bool,
    /// Print the full results as JSON on stdout (the Markdown tables then go to stderr).
    #[arg(long)]
    json: bool,
    /// Another GGUF file.
    #[arg(long)]
    model: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Tuning,
    HeldOut,
}

impl Group {
    fn name(self) -> &'static str {
        match self {
            Group::Tuning => "tuning",
            Group::HeldOut => "held-out",
        }
    }
}

/// One file of a corpus.
struct Source {
    name: String,
    group: Group,
    text: String,
    non_empty_lines: usize,
}

/// What a scored text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Clean,
    /// One fault of a realistic variant, replayed as an edit of the clean file.
    Sparse {
        variant: usize,
    },
    /// A dense variant, scored in full.
    Dense {
        variant: usize,
    },
}

/// The scores of one region of a text.
struct Region {
    range: Range<usize>,
    scored: Vec<ScoredToken>,
}

/// One scored text.
struct Scored {
    source: usize,
    kind: TextKind,
    text: String,
    line_starts: Vec<usize>,
    regions: Vec<Region>,
    faults: Vec<Fault>,
    /// The verdict of the counterfactual check on each candidate flag, by its byte range.
    verdicts: HashMap<Range<usize>, Verdict>,
    /// The names of the text's code.
    names: NameIndex,
    /// Sparse: the rescored bytes in the clean file's offsets (flags of the clean file there are
    /// replaced by this text's).
    window: Range<usize>,
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

    fn hits_any(&self, flag: &Flag) -> bool {
        self.faults.iter().any(|fault| self.hits(flag, fault))
    }
}

/// The flags of a text at some thresholds: what is published first, and what stays.
struct Stages {
    published: Vec<Flag>,
    kept: Vec<Flag>,
    /// Published flags the check rejected.
    withdrawn: usize,
    /// Published flags the check moved onto the word before them.
    moved: usize,
}

/// Which checks follow the thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pipeline {
    /// Drop flags on names the text uses elsewhere.
    names: bool,
    /// Keep only flags whose fix makes the text after them likelier by this many nats.
    min_gain: Option<f32>,
}

impl Pipeline {
    /// The thresholds alone, as before issue 15.
    const SURPRISAL: Pipeline = Pipeline {
        names: false,
        min_gain: None,
    };
    const NAMES: Pipeline = Pipeline {
        names: true,
        min_gain: None,
    };

    fn checked(min_gain: f32) -> Self {
        Pipeline {
            names: true,
            min_gain: Some(min_gain),
        }
    }

    fn label(self) -> String {
        match (self.names, self.min_gain) {
            (false, None) => "thresholds only".into(),
            (true, None) => "+ name index".into(),
            (false, Some(gain)) => format!("+ check (minGain {gain})"),
            (true, Some(gain)) => format!("+ names + check (minGain {gain})"),
        }
    }
}

/// Candidate flags of a region that the check is measured on: every flag of the check cells that
/// the name index lets through (the server judges only those).
fn candidates(text: &str, names: &NameIndex, region: &Region) -> Vec<Flag> {
    let no_open_names = NameIndex::default();
    let mut all: Vec<Flag> = Vec::new();
    for min_surprise in CHECK_SURPRISE {
        for min_alternative in CHECK_ALTERNATIVE {
            let thresholds = Thresholds {
                min_surprise,
                min_alternative,
            };
            for flag in find_flags(text, &region.scored, thresholds) {
                if region.range.contains(&flag.range.start)
                    && !known_name(&flag, text, names, &no_open_names)
                    && !all.iter().any(|other| other.range == flag.range)
                {
                    all.push(flag);
                }
            }
        }
    }
    all.sort_by_key(|flag| flag.range.start);
    all
}

/// The flags the server would publish for `doc` at `thresholds`, region by region, and those
/// that stay after the check.
fn flags_of(doc: &Scored, thresholds: Thresholds, pipeline: Pipeline) -> Stages {
    let no_open_names = NameIndex::default();
    let mut published = Vec::new();
    for region in &doc.regions {
        published.extend(
            find_flags(&doc.text, &region.scored, thresholds)
                .into_iter()
                .filter(|flag| region.range.contains(&flag.range.start))
                .filter(|flag| {
                    !pipeline.names || !known_name(flag, &doc.text, &doc.names, &no_open_names)
                }),
        );
    }
    let mut stages = Stages {
        published: published.clone(),
        kept: Vec::new(),
        withdrawn: 0,
        moved: 0,
    };
    if pipeline.min_gain.is_none() {
        stages.kept = published;
        return stages;
    }
    for flag in published {
        let range = flag.range.clone();
        let verdict = doc.verdicts.get(&range).cloned().unwrap_or_default();
        // As the server settles it, with its narrower tail read off the measured profiles.
        match settle(
            flag,
            &verdict,
            &doc.text,
            pipeline.min_gain,
            CheckShape::DEFAULT,
        ) {
            Some(kept) => {
                if kept.range != range {
                    stages.moved += 1;
                }
                stages.kept.push(kept);
            }
            None => stages.withdrawn += 1,
        }
    }
    stages.kept.sort_by_key(|flag| flag.range.start);
    stages
        .kept
        .dedup_by(|later, earlier| later.range.start < earlier.range.end);
    stages
}

/// One column's text for a row of the per-kind table.
type CellText = fn(&Cell) -> String;

/// The results of one threshold pair on one density and group.
#[derive(Debug, Clone)]
struct Cell {
    thresholds: Thresholds,
    pipeline: Pipeline,
    clean_flags: usize,
    clean_lines: usize,
    faulted_flags: usize,
    hit_flags: usize,
    found: BTreeMap<FaultKind, usize>,
    found_total: usize,
    faults_total: usize,
    /// Flags published first (in clean files and rescored fault regions) and later withdrawn.
    published: usize,
    withdrawn: usize,
    moved: usize,
}

impl Cell {
    fn new(thresholds: Thresholds, pipeline: Pipeline) -> Self {
        Self {
            thresholds,
            pipeline,
            clean_flags: 0,
            clean_lines: 0,
            faulted_flags: 0,
            hit_flags: 0,
            found: BTreeMap::new(),
            found_total: 0,
            faults_total: 0,
            published: 0,
            withdrawn: 0,
            moved: 0,
        }
    }

    fn precision(&self) -> Option<f64> {
        (self.faulted_flags > 0).then(|| self.hit_flags as f64 / self.faulted_flags as f64)
    }

    fn recall(&self) -> f64 {
        self.found_total as f64 / self.faults_total.max(1) as f64
    }

    fn false_per_1k(&self) -> f64 {
        self.clean_flags as f64 * 1000.0 / self.clean_lines.max(1) as f64
    }

    fn flicker(&self) -> Option<f64> {
        (self.published > 0).then(|| self.withdrawn as f64 / self.published as f64)
    }

    fn is(&self, thresholds: Thresholds) -> bool {
        self.thresholds.min_surprise == thresholds.min_surprise
            && self.thresholds.min_alternative == thresholds.min_alternative
    }

    fn count_withdrawn(&mut self, stages: &Stages) {
        self.published += stages.published.len();
        self.withdrawn += stages.withdrawn;
        self.moved += stages.moved;
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    configure_threads(ThreadSettings {
        threads: args.threads,
        ..ThreadSettings::default()
    });
    let workloads = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let tuning_dir = args
        .corpus
        .clone()
        .unwrap_or_else(|| workloads.join("diagnostics"));
    let heldout_dirs: Vec<PathBuf> = if args.heldout.is_empty() {
        [
            "edit_replay",
            "crossfile/json",
            "crossfile/importlib_metadata",
        ]
        .iter()
        .map(|dir| workloads.join(dir))
        .collect()
    } else {
        args.heldout
            .iter()
            .filter(|dir| dir.as_os_str() != "none")
            .cloned()
            .collect()
    };
    let mut sources = read_sources(&tuning_dir, Group::Tuning, &workloads)?;
    for dir in &heldout_dirs {
        sources.extend(read_sources(dir, Group::HeldOut, &workloads)?);
    }
    let kinds = parse_kinds(&args.kinds)?;
    let dense = args.density != Density::Realistic;
    let realistic = args.density != Density::Dense;

    // The faults: dense variants of the tuning corpus, sparse ones of every file.
    let tuning: Vec<usize> = (0..sources.len())
        .filter(|&s| sources[s].group == Group::Tuning)
        .collect();
    let tuning_texts: Vec<&str> = tuning.iter().map(|&s| sources[s].text.as_str()).collect();
    let dense_plan = if dense {
        faults::plan(
            &tuning_texts,
            args.variants,
            args.per_kind,
            args.min_gap,
            args.seed,
        )
    } else {
        Vec::new()
    };
    let all_texts: Vec<&str> = sources.iter().map(|s| s.text.as_str()).collect();
    let sparse_plan = if realistic {
        faults::plan_sparse(
            &all_texts,
            args.realistic_variants,
            args.lines_per_fault,
            &kinds,
            args.seed,
        )
    } else {
        Vec::new()
    };

    let mut cache = Cache::load(args.cache.as_deref())?;
    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    let model_id = format!(
        "{}:{}",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
    );
    cache.check_model(&model_id);
    let mut scorer = Scorer {
        path,
        loaded: None,
        store: SequenceStore::new(DEFAULT_BUDGET_BYTES),
        cache,
        tokens_scored: 0,
        judged: 0,
        seconds: 0.0,
        judge: !args.no_judge,
    };

    let mut scored: Vec<Scored> = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        let file_started = Instant::now();
        let (tokens_before, judged_before) = (scorer.tokens_scored, scorer.judged);
        // The clean file, in the blocks the server scores after `didOpen`.
        let regions = blocks(&source.text, 0..source.text.len());
        scored.push(scorer.score(s, TextKind::Clean, &source.text, regions, Vec::new())?);
        // Realistic faults, bottom up: each one's text shares the cached prefix up to its line.
        let mut sparse: Vec<(usize, faults::Site)> = sparse_plan
            .iter()
            .enumerate()
            .flat_map(|(variant, files)| files[s].iter().map(move |site| (variant, site.clone())))
            .collect();
        sparse.sort_by_key(|(_, site)| std::cmp::Reverse(site.edit.start));
        for (variant, site) in sparse {
            let (text, faults) = faults::apply(&source.text, std::slice::from_ref(&site));
            let edited = whole_lines(&text, faults[0].range.clone());
            let lookahead_end = line_offset_after(&text, edited.end, args.lookahead);
            let regions = vec![edited.clone(), edited.end..lookahead_end];
            let delta = text.len() as isize - source.text.len() as isize;
            let window = edited.start..(lookahead_end as isize - delta) as usize;
            let mut doc = scorer.score(s, TextKind::Sparse { variant }, &text, regions, faults)?;
            doc.window = window;
            scored.push(doc);
        }
        // Dense variants, in full.
        if let Some(t) = tuning.iter().position(|&index| index == s) {
            for (variant, files) in dense_plan.iter().enumerate() {
                let (text, faults) = faults::apply(&source.text, &files[t]);
                let regions = blocks(&text, 0..text.len());
                scored.push(scorer.score(
                    s,
                    TextKind::Dense { variant },
                    &text,
                    regions,
                    faults,
                )?);
            }
        }
        scorer.cache.save(args.cache.as_deref())?;
        eprintln!(
            "  {} ({}): {} tokens scored, {} flags judged, {:.1} s",
            source.name,
            source.group.name(),
            scorer.tokens_scored - tokens_before,
            scorer.judged - judged_before,
            file_started.elapsed().as_secs_f64()
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    if let Some(dump) = &args.dump {
        write_dump(dump, &scored, &sources)?;
    }

    let mut out: Box<dyn Write> = if args.json {
        Box::new(std::io::stderr().lock())
    } else {
        Box::new(std::io::stdout().lock())
    };
    let out = &mut *out;
    writeln!(
        out,
        "Scored {} tokens and judged {} flags with the model in {:.0} s (the rest came from the cache); total {seconds:.0} s.\n",
        scorer.tokens_scored, scorer.judged, scorer.seconds
    )?;
    let mut report = serde_json::Map::new();
    if realistic {
        let groups: [(&str, &[Group]); 3] = [
            ("tuning", &[Group::Tuning]),
            ("held-out", &[Group::HeldOut]),
            ("all", &[Group::Tuning, Group::HeldOut]),
        ];
        let mut realistic_json = serde_json::Map::new();
        for (name, groups) in groups {
            let selected = |doc: &Scored| groups.contains(&sources[doc.source].group);
            let lines: usize = sources
                .iter()
                .filter(|s| groups.contains(&s.group))
                .map(|s| s.non_empty_lines)
                .sum();
            if lines == 0 {
                continue;
            }
            let evaluate = |thresholds, pipeline| {
                evaluate_realistic(&scored, &selected, &sources, thresholds, pipeline)
            };
            writeln!(
                out,
                "## Realistic density, {name} corpus: {} files, {lines} non-empty lines, {} faults (one per {} lines, {} variants; {})\n",
                sources.iter().filter(|s| groups.contains(&s.group)).count(),
                evaluate(BEFORE, Pipeline::SURPRISAL).faults_total,
                args.lines_per_fault,
                args.realistic_variants,
                kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
            )?;
            let json = write_report(
                out,
                &evaluate,
                &scored,
                &selected,
                REALISTIC_MIN_PRECISION,
                REALISTIC_MAX_FALSE_PER_1K,
            )?;
            realistic_json.insert(name.to_string(), json);
        }
        report.insert("realistic".into(), Value::Object(realistic_json));
    }
    if dense {
        let selected = |doc: &Scored| {
            sources[doc.source].group == Group::Tuning
                && matches!(doc.kind, TextKind::Clean | TextKind::Dense { .. })
        };
        let evaluate = |thresholds, pipeline| {
            evaluate_dense(&scored, &selected, &sources, thresholds, pipeline)
        };
        writeln!(
            out,
            "## Dense density, tuning corpus: {} faults in {} variants (at least {} lines apart, up to {} per kind per variant)\n",
            evaluate(BEFORE, Pipeline::SURPRISAL).faults_total,
            args.variants,
            args.min_gap,
            args.per_kind
        )?;
        let json = write_report(
            out,
            &evaluate,
            &scored,
            &selected,
            DENSE_MIN_PRECISION,
            DENSE_MAX_FALSE_PER_1K,
        )?;
        report.insert("dense".into(), json);
    }
    if args.list {
        list_faults(&scored, &sources, current_defaults(), current_pipeline());
    }
    out.flush()?;
    if args.json {
        report.insert(
            "settings".into(),
            json!({
                "variants": args.variants,
                "per_kind": args.per_kind,
                "min_gap": args.min_gap,
                "lines_per_fault": args.lines_per_fault,
                "realistic_variants": args.realistic_variants,
                "kinds": kinds.iter().map(|k| k.name()).collect::<Vec<_>>(),
                "lookahead": args.lookahead,
                "seed": args.seed,
                "after_bytes": AFTER_BYTES,
                "files": sources.iter().map(|s| json!({"name": s.name, "group": s.group.name(), "non_empty_lines": s.non_empty_lines})).collect::<Vec<_>>(),
            }),
        );
        report.insert("tokens_scored".into(), json!(scorer.tokens_scored));
        report.insert("flags_judged".into(), json!(scorer.judged));
        report.insert("model_seconds".into(), json!(round(scorer.seconds, 1)));
        report.insert("total_seconds".into(), json!(round(seconds, 1)));
        println!("{}", Value::Object(report));
    }
    Ok(())
}

fn current_defaults() -> Thresholds {
    Thresholds {
        min_surprise: DEFAULT_MIN_SURPRISE,
        min_alternative: DEFAULT_MIN_ALTERNATIVE,
    }
}

/// The server's pipeline with its default settings.
fn current_pipeline() -> Pipeline {
    let config = rill_server::config::Config::default();
    if config.diagnostics_counterfactual {
        Pipeline::checked(config.diagnostics_min_gain)
    } else {
        Pipeline::NAMES
    }
}

fn read_sources(dir: &Path, group: Group, workloads: &Path) -> Result<Vec<Source>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    paths.retain(|path| path.extension().is_some_and(|ext| ext == "py"));
    paths.sort();
    anyhow::ensure!(!paths.is_empty(), "no .py files in {}", dir.display());
    paths
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
            let name = path
                .strip_prefix(workloads)
                .unwrap_or(path)
                .display()
                .to_string();
            Ok(Source {
                non_empty_lines: text.lines().filter(|l| !l.trim().is_empty()).count(),
                name,
                group,
                text,
            })
        })
        .collect()
}

fn parse_kinds(list: &str) -> Result<Vec<FaultKind>> {
    if list == "all" {
        return Ok(FaultKind::ALL.to_vec());
    }
    list.split(',')
        .map(|name| {
            FaultKind::ALL
                .into_iter()
                .find(|kind| kind.name() == name.trim())
                .with_context(|| format!("unknown fault kind {name:?}"))
        })
        .collect()
}

/// Scores texts region by region with the model and judges their candidate flags, or takes both
/// from the cache.
struct Scorer {
    path: PathBuf,
    loaded: Option<LoadedModel>,
    store: SequenceStore,
    cache: Cache,
    tokens_scored: usize,
    judged: usize,
    seconds: f64,
    /// Judge candidate flags that have no cached verdict.
    judge: bool,
}

impl Scorer {
    fn model(&mut self) -> Result<&LoadedModel> {
        if self.loaded.is_none() {
            eprintln!("loading {}", self.path.display());
            self.loaded = Some(LoadedModel::load(&self.path, LoadOptions::default())?);
        }
        self.loaded.as_ref().context("model")
    }

    fn score(
        &mut self,
        source: usize,
        kind: TextKind,
        text: &str,
        ranges: Vec<Range<usize>>,
        faults: Vec<Fault>,
    ) -> Result<Scored> {
        let hash = text_hash(text);
        let names = NameIndex::new(text, &prose_ranges(text, "python"));
        let verdict_key = |range: &Range<usize>| {
            format!("{VERDICT_VERSION}:{hash}:{}-{}", range.start, range.end)
        };
        let mut prepared: Option<PreparedText> = None;
        let mut regions = Vec::with_capacity(ranges.len());
        let mut verdicts = HashMap::new();
        for range in ranges {
            let key = format!("{hash}:{}-{}", range.start, range.end);
            let cached = self.cache.regions.get(&key).cloned();
            let missing = |cache: &Cache, region: &Region| {
                candidates(text, &names, region)
                    .into_iter()
                    .filter(|flag| !cache.verdicts.contains_key(&verdict_key(&flag.range)))
                    .collect::<Vec<_>>()
            };
            let region = match cached {
                Some(scored) => Region {
                    range: range.clone(),
                    scored,
                },
                None => Region {
                    range: range.clone(),
                    scored: Vec::new(),
                },
            };
            let needs_model = !self.cache.regions.contains_key(&key)
                || (self.judge && !missing(&self.cache, &region).is_empty());
            let region = if needs_model {
                self.model()?;
                let loaded = self.loaded.as_ref().context("model")?;
                if prepared.is_none() {
                    prepared = Some(PreparedText::new(loaded, text, "python")?);
                }
                let prepared = prepared.as_ref().context("prepared")?;
                let timer = Instant::now();
                // One key for all: each text shares what it can of the previous one's cache.
                let scan: RegionScan = score_text_region(
                    loaded,
                    &mut self.store,
                    &rill_server::engine::SequenceKey::scan("bench"),
                    text,
                    prepared,
                    range.clone(),
                )?;
                let region = Region {
                    range: range.clone(),
                    scored: scan.scored.clone(),
                };
                self.tokens_scored += scan.scored.len();
                let todo = if self.judge {
                    missing(&self.cache, &region)
                } else {
                    Vec::new()
                };
                for chunk in todo.chunks(JUDGED_PER_CALL) {
                    let judged = judge_flags(
                        loaded,
                        &mut self.store,
                        &rill_server::engine::SequenceKey::scan("bench"),
                        text,
                        prepared,
                        &scan,
                        chunk,
                        MEASURED_SHAPE,
                    )?;
                    for (flag, verdict) in chunk.iter().zip(judged) {
                        self.cache
                            .verdicts
                            .insert(verdict_key(&flag.range), verdict);
                    }
                    self.judged += chunk.len();
                }
                self.seconds += timer.elapsed().as_secs_f64();
                self.cache.regions.insert(key, region.scored.clone());
                region
            } else {
                region
            };
            for flag in candidates(text, &names, &region) {
                if let Some(verdict) = self.cache.verdicts.get(&verdict_key(&flag.range)) {
                    verdicts.insert(flag.range.clone(), verdict.clone());
                }
            }
            regions.push(region);
        }
        Ok(Scored {
            source,
            kind,
            text: text.to_string(),
            line_starts: std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
            regions,
            faults,
            verdicts,
            names,
            window: 0..0,
        })
    }
}

fn text_hash(text: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut hasher);
    format!("{:016x}{:x}", hasher.finish(), text.len())
}

/// Scores of regions and verdicts on flags, kept between runs.
#[derive(Default)]
struct Cache {
    model: String,
    regions: HashMap<String, Vec<ScoredToken>>,
    verdicts: HashMap<String, Verdict>,
}

fn fix_json(fix: &Fix) -> Value {
    json!([fix.replace.start, fix.replace.end, fix.text])
}

fn fix_from_json(value: &Value) -> Option<Fix> {
    Some(Fix {
        replace: value[0].as_u64()? as usize..value[1].as_u64()? as usize,
        text: value[2].as_str()?.to_string(),
    })
}

fn verdict_json(verdict: &Verdict) -> Value {
    json!({
        "rewrite": verdict.rewrite.as_ref().map(fix_json),
        "judged": verdict.judged.iter().map(|judged| json!({
            "fix": fix_json(&judged.fix),
            "gain": judged.gain,
            "profile": judged.profile.iter().map(|(end, gain)| json!([end, gain])).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn verdict_from_json(value: &Value) -> Option<Verdict> {
    let rewrite = match &value["rewrite"] {
        Value::Null => None,
        fix => Some(fix_from_json(fix)?),
    };
    let judged = value["judged"]
        .as_array()?
        .iter()
        .map(|judged| {
            Some(Judged {
                fix: fix_from_json(&judged["fix"])?,
                gain: judged["gain"].as_f64()? as f32,
                profile: judged["profile"]
                    .as_array()?
                    .iter()
                    .map(|entry| Some((entry[0].as_u64()? as usize, entry[1].as_f64()? as f32)))
                    .collect::<Option<Vec<_>>>()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Verdict { rewrite, judged })
}

fn tokens_json(tokens: &[ScoredToken]) -> Value {
    Value::Array(
        tokens
            .iter()
            .map(|t| {
                json!([
                    t.range.start,
                    t.range.end,
                    t.logprob,
                    t.best_text,
                    t.best_prob
                ])
            })
            .collect(),
    )
}

impl Cache {
    fn load(path: Option<&Path>) -> Result<Self> {
        let Some(path) = path.filter(|path| path.exists()) else {
            return Ok(Self::default());
        };
        let value: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        if value["version"] != CACHE_VERSION {
            eprintln!("{}: another cache version, starting afresh", path.display());
            return Ok(Self::default());
        }
        let mut cache = Cache {
            model: value["model"].as_str().unwrap_or_default().to_string(),
            ..Cache::default()
        };
        if let Some(regions) = value["regions"].as_object() {
            for (key, tokens) in regions {
                let tokens = tokens
                    .as_array()
                    .context("cached region")?
                    .iter()
                    .map(|t| {
                        Some(ScoredToken {
                            range: t[0].as_u64()? as usize..t[1].as_u64()? as usize,
                            logprob: t[2].as_f64()? as f32,
                            best_text: t[3].as_str()?.to_string(),
                            best_prob: t[4].as_f64()? as f32,
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .context("cached token")?;
                cache.regions.insert(key.clone(), tokens);
            }
        }
        if let Some(verdicts) = value["verdicts"].as_object() {
            for (key, verdict) in verdicts {
                // Verdicts of another version of the check are judged again.
                if key.starts_with(&format!("{VERDICT_VERSION}:")) {
                    let verdict = verdict_from_json(verdict).context("cached verdict")?;
                    cache.verdicts.insert(key.clone(), verdict);
                }
            }
        }
        Ok(cache)
    }

    fn check_model(&mut self, model: &str) {
        if self.model != model {
            self.regions.clear();
            self.verdicts.clear();
            self.model = model.to_string();
        }
    }

    fn save(&self, path: Option<&Path>) -> Result<()> {
        let Some(path) = path else {
            return Ok(());
        };
        let regions: serde_json::Map<String, Value> = self
            .regions
            .iter()
            .map(|(key, tokens)| (key.clone(), tokens_json(tokens)))
            .collect();
        let verdicts: serde_json::Map<String, Value> = self
            .verdicts
            .iter()
            .map(|(key, verdict)| (key.clone(), verdict_json(verdict)))
            .collect();
        let value = json!({
            "version": CACHE_VERSION,
            "model": self.model,
            "regions": regions,
            "verdicts": verdicts,
        });
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, value.to_string())?;
        std::fs::rename(&temporary, path)?;
        Ok(())
    }
}

/// Every scored text with its regions' scores, faults and verdicts.
fn write_dump(path: &Path, scored: &[Scored], sources: &[Source]) -> Result<()> {
    let docs: Vec<Value> = scored
        .iter()
        .map(|doc| {
            let (kind, variant) = match doc.kind {
                TextKind::Clean => ("clean", None),
                TextKind::Sparse { variant } => ("sparse", Some(variant)),
                TextKind::Dense { variant } => ("dense", Some(variant)),
            };
            json!({
                "source": sources[doc.source].name,
                "group": sources[doc.source].group.name(),
                "non_empty_lines": sources[doc.source].non_empty_lines,
                "kind": kind,
                "variant": variant,
                "text": doc.text,
                "window": [doc.window.start, doc.window.end],
                "regions": doc.regions.iter().map(|region| json!({
                    "start": region.range.start,
                    "end": region.range.end,
                    "tokens": tokens_json(&region.scored),
                })).collect::<Vec<_>>(),
                "faults": doc.faults.iter().map(|fault| json!({
                    "kind": fault.kind.name(),
                    "start": fault.range.start,
                    "end": fault.range.end,
                    "line": fault.line,
                    "original": fault.original,
                    "replacement": fault.replacement,
                })).collect::<Vec<_>>(),
                "verdicts": doc.verdicts.iter().map(|(range, verdict)| {
                    let mut value = verdict_json(verdict);
                    value["start"] = json!(range.start);
                    value["end"] = json!(range.end);
                    value
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    std::fs::write(path, Value::Array(docs).to_string())?;
    Ok(())
}

/// One fault per section: the flags of a faulted copy are the rescored window's around each of
/// its faults and the clean file's everywhere else.
fn evaluate_realistic(
    scored: &[Scored],
    selected: &dyn Fn(&Scored) -> bool,
    sources: &[Source],
    thresholds: Thresholds,
    pipeline: Pipeline,
) -> Cell {
    let mut cell = Cell::new(thresholds, pipeline);
    let mut clean: HashMap<usize, Vec<Flag>> = HashMap::new();
    for doc in scored.iter().filter(|doc| selected(doc)) {
        if doc.kind == TextKind::Clean {
            let stages = flags_of(doc, thresholds, pipeline);
            cell.clean_flags += stages.kept.len();
            cell.clean_lines += sources[doc.source].non_empty_lines;
            cell.count_withdrawn(&stages);
            clean.insert(doc.source, stages.kept);
        }
    }
    // (variant, source) -> the windows of its faults.
    let mut copies: BTreeMap<(usize, usize), Vec<Range<usize>>> = BTreeMap::new();
    for doc in scored.iter().filter(|doc| selected(doc)) {
        let TextKind::Sparse { variant } = doc.kind else {
            continue;
        };
        let stages = flags_of(doc, thresholds, pipeline);
        cell.count_withdrawn(&stages);
        count_faults(&mut cell, doc, &stages.kept);
        copies
            .entry((variant, doc.source))
            .or_default()
            .push(doc.window.clone());
    }
    for ((_, source), windows) in copies {
        let outside = clean.get(&source).map_or(0, |flags| {
            flags
                .iter()
                .filter(|flag| !windows.iter().any(|w| w.contains(&flag.range.start)))
                .count()
        });
        cell.faulted_flags += outside;
    }
    cell
}

/// Faulted copies scored in full.
fn evaluate_dense(
    scored: &[Scored],
    selected: &dyn Fn(&Scored) -> bool,
    sources: &[Source],
    thresholds: Thresholds,
    pipeline: Pipeline,
) -> Cell {
    let mut cell = Cell::new(thresholds, pipeline);
    for doc in scored.iter().filter(|doc| selected(doc)) {
        let stages = flags_of(doc, thresholds, pipeline);
        cell.count_withdrawn(&stages);
        match doc.kind {
            TextKind::Clean => {
                cell.clean_flags += stages.kept.len();
                cell.clean_lines += sources[doc.source].non_empty_lines;
            }
            TextKind::Dense { .. } => count_faults(&mut cell, doc, &stages.kept),
            TextKind::Sparse { .. } => {}
        }
    }
    cell
}

fn count_faults(cell: &mut Cell, doc: &Scored, flags: &[Flag]) {
    cell.faulted_flags += flags.len();
    cell.hit_flags += flags.iter().filter(|flag| doc.hits_any(flag)).count();
    for fault in &doc.faults {
        cell.faults_total += 1;
        if flags.iter().any(|flag| doc.hits(flag, fault)) {
            cell.found_total += 1;
            *cell.found.entry(fault.kind).or_insert(0) += 1;
        }
    }
}

/// The most recall with precision ≥ `min_precision` among the cells with at most
/// `max_false` false flags per 1k clean lines; else the best precision among those; else the
/// cell with the fewest false flags.
fn recommend(cells: &[Cell], min_precision: f64, max_false: f64) -> &Cell {
    let precision = |c: &Cell| c.precision().unwrap_or(-1.0);
    let quiet: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.false_per_1k() <= max_false)
        .collect();
    let recall_first = |c: &Cell| (c.recall(), precision(c), -c.false_per_1k());
    let precision_first = |c: &Cell| (precision(c), c.recall(), -c.false_per_1k());
    best(
        &mut quiet
            .iter()
            .copied()
            .filter(|c| precision(c) >= min_precision),
        &recall_first,
    )
    .or_else(|| best(&mut quiet.iter().copied(), &precision_first))
    .unwrap_or_else(|| {
        cells
            .iter()
            .min_by(|a, b| a.false_per_1k().total_cmp(&b.false_per_1k()))
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

fn cell_text(cell: &Cell) -> String {
    format!(
        "{} / {:.2} / {:.1}",
        fmt_precision(cell),
        cell.recall(),
        cell.false_per_1k()
    )
}

fn label(cell: &Cell) -> String {
    format!(
        "{}/{}",
        cell.thresholds.min_surprise, cell.thresholds.min_alternative
    )
}

/// Writes the tables of one density and group, and returns them as JSON.
fn write_report(
    out: &mut dyn Write,
    evaluate: &dyn Fn(Thresholds, Pipeline) -> Cell,
    scored: &[Scored],
    selected: &dyn Fn(&Scored) -> bool,
    min_precision: f64,
    max_false: f64,
) -> Result<Value> {
    // Every threshold cell of `surprises` × `alternatives` through `pipeline`.
    let grid = |pipeline: Pipeline, surprises: &[f32], alternatives: &[f32]| -> Vec<Cell> {
        let mut cells = Vec::new();
        for &min_surprise in surprises {
            for &min_alternative in alternatives {
                let thresholds = Thresholds {
                    min_surprise,
                    min_alternative,
                };
                cells.push(evaluate(thresholds, pipeline));
            }
        }
        cells
    };
    // The thresholds alone over the whole grid, as before issue 15.
    let before_grid = grid(Pipeline::SURPRISAL, &MIN_SURPRISE, &MIN_ALTERNATIVE);
    // The thresholds with the name index, over the whole grid (no model time: no check).
    let names_grid = grid(Pipeline::NAMES, &MIN_SURPRISE, &MIN_ALTERNATIVE);
    // The full pipeline on the cells the check is measured on, every minGain.
    let checked: Vec<Cell> = MIN_GAINS
        .into_iter()
        .flat_map(|min_gain| {
            grid(
                Pipeline::checked(min_gain),
                &CHECK_SURPRISE,
                &CHECK_ALTERNATIVE,
            )
        })
        .collect();
    let before_recommended = recommend(&before_grid, min_precision, max_false);
    // The best of both new pipelines: the name index alone, or with the check.
    let candidates: Vec<Cell> = names_grid.iter().chain(&checked).cloned().collect();
    let recommended = recommend(&candidates, min_precision, max_false);
    let pipeline = current_pipeline();
    // The check at its default minGain, on the cells it is measured on.
    let check_default = Pipeline::checked(DEFAULT_MIN_GAIN);
    let defaults: Vec<Cell> = checked
        .iter()
        .filter(|c| c.pipeline == check_default)
        .cloned()
        .collect();

    writeln!(
        out,
        "Thresholds only (as before issue 15). Each cell: precision / recall / false flags per 1k clean lines (min_surprise rows, min_alternative columns; in bold the best by the rule below).\n"
    )?;
    write_grid(
        out,
        &before_grid,
        before_recommended,
        &MIN_SURPRISE,
        &MIN_ALTERNATIVE,
    )?;
    writeln!(
        out,
        "With the name index (a flag on a name the file uses elsewhere is dropped):\n"
    )?;
    write_grid(
        out,
        &names_grid,
        recommend(&names_grid, min_precision, max_false),
        &MIN_SURPRISE,
        &MIN_ALTERNATIVE,
    )?;
    writeln!(
        out,
        "With the name index and the counterfactual check (minGain {DEFAULT_MIN_GAIN}), on the cells it is measured on (flags without a verdict count as withdrawn):\n"
    )?;
    let default_recommended = recommend(&defaults, min_precision, max_false);
    write_grid(
        out,
        &defaults,
        default_recommended,
        &CHECK_SURPRISE,
        &CHECK_ALTERNATIVE,
    )?;

    let thresholds = current_defaults();
    let mut columns: Vec<(String, Cell)> = vec![
        (
            format!(
                "{} {} (before)",
                label(&evaluate(BEFORE, Pipeline::SURPRISAL)),
                Pipeline::SURPRISAL.label()
            ),
            evaluate(BEFORE, Pipeline::SURPRISAL),
        ),
        (
            format!(
                "{} {}",
                label(&evaluate(thresholds, Pipeline::SURPRISAL)),
                Pipeline::SURPRISAL.label()
            ),
            evaluate(thresholds, Pipeline::SURPRISAL),
        ),
        (
            format!(
                "{} {}",
                label(&evaluate(thresholds, Pipeline::NAMES)),
                Pipeline::NAMES.label()
            ),
            evaluate(thresholds, Pipeline::NAMES),
        ),
        (
            format!(
                "{} {}",
                label(&evaluate(thresholds, check_default)),
                check_default.label()
            ),
            evaluate(thresholds, check_default),
        ),
        (
            format!(
                "{} {} (default)",
                label(&evaluate(thresholds, pipeline)),
                pipeline.label()
            ),
            evaluate(thresholds, pipeline),
        ),
        (
            format!(
                "{} {} (best by the rule)",
                label(recommended),
                recommended.pipeline.label()
            ),
            recommended.clone(),
        ),
    ];
    // The default pipeline is one of the columns before it: name that one the default instead.
    if let Some(position) = columns[..columns.len() - 2]
        .iter()
        .position(|(_, cell)| cell.thresholds == thresholds && cell.pipeline == pipeline)
    {
        let (_, default) = columns.remove(columns.len() - 2);
        columns[position] = (format!("{} (default)", columns[position].0), default);
    }
    write!(out, "| fault type | faults |")?;
    for (name, _) in &columns {
        write!(out, " {name} |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|---|{}", "---|".repeat(columns.len()))?;
    let mut totals: BTreeMap<FaultKind, usize> = BTreeMap::new();
    for doc in scored.iter().filter(|doc| selected(doc)) {
        if doc.kind != TextKind::Clean {
            for fault in &doc.faults {
                *totals.entry(fault.kind).or_insert(0) += 1;
            }
        }
    }
    for kind in FaultKind::ALL {
        let total = totals.get(&kind).copied().unwrap_or(0);
        if total == 0 {
            continue;
        }
        write!(out, "| {} | {total} |", kind.name())?;
        for (_, cell) in &columns {
            let found = cell.found.get(&kind).copied().unwrap_or(0);
            write!(out, " {:.2} ({found}) |", found as f64 / total as f64)?;
        }
        writeln!(out)?;
    }
    let rows: [(&str, CellText); 4] = [
        ("all (recall)", |c| {
            format!("{:.2} ({}/{})", c.recall(), c.found_total, c.faults_total)
        }),
        ("precision (hits / flags)", |c| {
            format!("{} ({}/{})", fmt_precision(c), c.hit_flags, c.faulted_flags)
        }),
        ("false flags per 1k clean lines", |c| {
            format!("{:.1} ({})", c.false_per_1k(), c.clean_flags)
        }),
        ("flicker (withdrawn / published; moved)", |c| {
            format!(
                "{} ({}/{}; {})",
                c.flicker().map_or("–".to_string(), |f| format!("{f:.2}")),
                c.withdrawn,
                c.published,
                c.moved
            )
        }),
    ];
    for (name, value) in rows {
        write!(out, "| {name} | |")?;
        for (_, cell) in &columns {
            write!(out, " {} |", value(cell))?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;

    writeln!(
        out,
        "minGain at the default thresholds {}: precision / recall / false flags per 1k clean lines / flicker.\n",
        label(&evaluate(thresholds, pipeline))
    )?;
    writeln!(
        out,
        "| minGain | precision / recall / false per 1k | flicker |"
    )?;
    writeln!(out, "|---|---|---|")?;
    let mut sweep = Vec::new();
    for min_gain in MIN_GAINS {
        let cell = evaluate(thresholds, Pipeline::checked(min_gain));
        writeln!(
            out,
            "| {min_gain} | {} | {} |",
            cell_text(&cell),
            cell.flicker()
                .map_or("–".to_string(), |f| format!("{f:.2}"))
        )?;
        sweep.push(cell_json(&cell));
    }
    writeln!(out)?;
    writeln!(
        out,
        "Best by the rule (the most recall with precision ≥ {min_precision} and at most {max_false} false flags per 1k clean lines): thresholds only {} ({}); with the new checks {} {} ({}).\n",
        label(before_recommended),
        cell_text(before_recommended),
        label(recommended),
        recommended.pipeline.label(),
        cell_text(recommended),
    )?;
    Ok(json!({
        "before_grid": before_grid.iter().map(cell_json).collect::<Vec<_>>(),
        "names_grid": names_grid.iter().map(cell_json).collect::<Vec<_>>(),
        "checked_grid": checked.iter().map(cell_json).collect::<Vec<_>>(),
        "columns": columns.iter().map(|(name, cell)| json!({"name": name, "cell": cell_json(cell)})).collect::<Vec<_>>(),
        "min_gain_sweep": sweep,
        "recommended_before": cell_json(before_recommended),
        "recommended": cell_json(recommended),
    }))
}

fn write_grid(
    out: &mut dyn Write,
    cells: &[Cell],
    recommended: &Cell,
    rows: &[f32],
    columns: &[f32],
) -> Result<()> {
    write!(out, "| min_surprise \\ min_alternative |")?;
    for alternative in columns {
        write!(out, " {alternative} |")?;
    }
    writeln!(out)?;
    writeln!(out, "|---|{}", "---|".repeat(columns.len()))?;
    for &surprise in rows {
        write!(out, "| {surprise} |")?;
        for &alternative in columns {
            let thresholds = Thresholds {
                min_surprise: surprise,
                min_alternative: alternative,
            };
            let cell = cells
                .iter()
                .find(|c| c.is(thresholds))
                .context("grid cell")?;
            let mark = if cell.is(recommended.thresholds) {
                "**"
            } else {
                ""
            };
            write!(out, " {mark}{}{mark} |", cell_text(cell))?;
        }
        writeln!(out)?;
    }
    writeln!(out)?;
    Ok(())
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
        "names": cell.pipeline.names,
        "min_gain": cell.pipeline.min_gain,
        "precision": cell.precision().map(|p| round(p, 3)),
        "recall": round(cell.recall(), 3),
        "false_flags_per_1k_clean_lines": round(cell.false_per_1k(), 2),
        "flicker": cell.flicker().map(|f| round(f, 3)),
        "clean_flags": cell.clean_flags,
        "faulted_flags": cell.faulted_flags,
        "hit_flags": cell.hit_flags,
        "faults": cell.faults_total,
        "found": cell.found_total,
        "found_by_kind": kind_map(&cell.found),
        "published": cell.published,
        "withdrawn": cell.withdrawn,
        "moved": cell.moved,
    })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// Every fault with the flags on its line, and whether one hits it (stderr).
fn list_faults(scored: &[Scored], sources: &[Source], thresholds: Thresholds, pipeline: Pipeline) {
    for doc in scored.iter().filter(|doc| doc.kind != TextKind::Clean) {
        let stages = flags_of(doc, thresholds, pipeline);
        for fault in &doc.faults {
            let near: Vec<String> = stages
                .published
                .iter()
                .filter(|flag| doc.line_of(flag.range.start) == fault.line)
                .map(|flag| {
                    let judged: Vec<String> = doc
                        .verdicts
                        .get(&flag.range)
                        .map(|verdict| {
                            verdict
                                .judged
                                .iter()
                                .map(|j| format!("{:?} {:+.1}", j.fix.text, j.gain))
                                .collect()
                        })
                        .unwrap_or_default();
                    format!(
                        "`{}` {:.1} nats (expected {:?} {:.0}%; fixes judged [{}]){}",
                        flag.text,
                        flag.surprise,
                        flag.expected,
                        flag.expected_prob * 100.0,
                        judged.join(", "),
                        if doc.hits(flag, fault) { " HIT" } else { "" },
                    )
                })
                .collect();
            let line_text = doc.text[doc.line_starts[fault.line]..]
                .lines()
                .next()
                .unwrap_or("")
                .trim();
            eprintln!(
                "{} {:?} :{} {} `{}`→`{}`: {line_text}\n    {}",
                sources[doc.source].name,
                doc.kind,
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
