//! Measures rill's model engine (load time, prefill and decode speed, memory) and llama.cpp's on the same GGUF in the same run, and prints a Markdown table of same-run ratios (or, with `--json`, one flat JSON object).
//!
//! This is a plain binary rather than a criterion benchmark: one measurement takes seconds on a
//! two-core machine, and criterion's warm-up and sample counts would stretch a run to many minutes.
//! Each figure is the median of a few repetitions, which is robust against the odd slow repetition
//! that a shared machine produces.

// The Markdown report on stdout is the whole point of this binary, so printing there is intended;
// progress messages go to stderr so that stdout can be pasted as it is.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::sequence::PREFILL_CHUNK;
use rill_model::{GgufFile, KvCache, LoadOptions, Model, Tokenizer, Which};

/// llama.cpp's figures for this run: `benches/llama_cpp_bench.py --model-bench` (llama-cpp-python,
/// the build `compare.py` uses) on the same GGUF file, same threads, measured right before rill's.
/// Figures copied from another machine once made this table print ratios that were not true here.
struct Llama {
    figures: Option<serde_json::Value>,
    /// Where the figures come from, or why there are none.
    source: String,
}

impl Llama {
    fn measure(args: &Args, model: &Path) -> Self {
        if args.skip_llama {
            return Self::missing("not measured (--skip-llama)");
        }
        let python = args
            .llama_python
            .clone()
            .unwrap_or_else(default_llama_python);
        if !python.is_file() {
            return Self::missing(&format!(
                "not measured: no llama.cpp venv at {} (scripts/install-llama-cpp.sh installs it)",
                python.display()
            ));
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("llama_cpp_bench.py");
        eprintln!(
            "llama.cpp: {} {} --model-bench",
            python.display(),
            script.display()
        );
        let output = std::process::Command::new(&python)
            .arg(&script)
            .arg("--model-bench")
            .args(["--threads", &args.threads.to_string()])
            .arg("--model")
            .arg(model)
            .stderr(std::process::Stdio::inherit())
            .output();
        let output = match output {
            Ok(output) if output.status.success() => output,
            Ok(output) => {
                return Self::missing(&format!(
                    "not measured: llama_cpp_bench.py exited with {}",
                    output.status
                ))
            }
            Err(err) => {
                return Self::missing(&format!(
                    "not measured: cannot run {}: {err}",
                    python.display()
                ))
            }
        };
        let text = String::from_utf8_lossy(&output.stdout);
        match text.lines().rev().find_map(|line| serde_json::from_str::<serde_json::Value>(line).ok()) {
            Some(figures) => Self {
                source: format!(
                    "llama.cpp measured in this run: llama-cpp-python {} (`benches/llama_cpp_bench.py --model-bench`), {} threads; its memory figures are a Python process holding the model",
                    figures["llama_cpp_python_version"].as_str().unwrap_or("?"),
                    args.threads
                ),
                figures: Some(figures),
            },
            None => Self::missing("not measured: llama_cpp_bench.py printed no JSON"),
        }
    }

    fn missing(reason: &str) -> Self {
        Self {
            figures: None,
            source: format!("llama.cpp {reason}"),
        }
    }

    fn get(&self, key: &str) -> Option<f64> {
        self.figures.as_ref()?.get(key)?.as_f64()
    }
}

/// `${XDG_CACHE_HOME:-~/.cache}/rill/llama-cpp-venv/bin/python`, where scripts/install-llama-cpp.sh
/// puts it.
fn default_llama_python() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("rill/llama-cpp-venv/bin/python")
}

/// Prompt lengths whose prefill speed is measured.
const PREFILL_LENGTHS: [usize; 4] = [16, 128, 512, 1_536];
/// Context lengths at which decode speed is measured.
const DECODE_CONTEXTS: [usize; 2] = [300, 2_048];
/// Single-token steps timed per decode repetition.
const DECODE_STEPS: usize = 32;

#[derive(Parser, Debug)]
#[command(about = "Benchmarks rill's model engine and prints a Markdown table")]
struct Args {
    /// Worker threads for the matrix kernels, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// How often an idle worker polls for work before it parks (default: rill's own default).
    #[arg(long)]
    spin: Option<u32>,
    /// Fewer repetitions, for a quick look.
    #[arg(long)]
    quick: bool,
    /// Keeps every core busy with arithmetic for the whole run, to mimic an editor sharing the cores.
    #[arg(long)]
    contended: bool,
    /// Model file (default: the model rill itself would use).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The llama-cpp-python venv's interpreter (default: where scripts/install-llama-cpp.sh puts it).
    #[arg(long)]
    llama_python: Option<PathBuf>,
    /// Measure rill only (no ratios are printed then).
    #[arg(long)]
    skip_llama: bool,
    /// Print one flat JSON object of rill's figures instead of the Markdown table (what
    /// benches/compare.py reads).
    #[arg(long)]
    json: bool,
}

/// How many times each measurement is repeated.
struct Repetitions {
    prefill: [usize; 4],
    decode: usize,
}

impl Repetitions {
    fn new(quick: bool) -> Self {
        // Short prompts are repeated more often because each repetition is short and its
        // timing noisier; the totals stay within a couple of minutes on two cores.
        if quick {
            Self {
                prefill: [5, 3, 2, 1],
                decode: 2,
            }
        } else {
            Self {
                prefill: [15, 7, 5, 3],
                decode: 5,
            }
        }
    }
}

/// Threads that keep every core busy until dropped.
struct Contention {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Contention {
    fn start(count: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..count)
            .map(|seed| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || busy_loop(&stop, seed as u64))
            })
            .collect();
        Self { stop, threads }
    }
}

impl Drop for Contention {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            // A busy thread cannot panic, and if it did, the report would still be valid.
            let _ = thread.join();
        }
    }
}

/// Integer arithmetic that the optimizer cannot remove, checking the stop flag now and then so
/// that the flag's cache line is not a point of contention itself.
fn busy_loop(stop: &AtomicBool, seed: u64) {
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state = black_box(state);
        }
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    let middle = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[middle]
    } else {
        (samples[middle - 1] + samples[middle]) / 2.0
    }
}

fn argmax(logits: &[f32]) -> u32 {
    let (index, _) = logits
        .iter()
        .enumerate()
        .max_by(|(_, a), (_, b)| a.total_cmp(b))
        .unwrap_or((0, &0.0));
    index as u32
}

/// Runs `tokens` after what `cache` holds, in chunks of the size the engine uses for prompts, and
/// returns the logits after the last token.
fn prefill(model: &Model, cache: &mut KvCache, tokens: &[u32]) -> Result<Vec<f32>> {
    let mut logits = Vec::new();
    for chunk in tokens.chunks(PREFILL_CHUNK) {
        logits = model.forward_to_vec(chunk, cache, Which::Last)?.1;
    }
    Ok(logits)
}

/// Real code to feed the model: the model crate's own sources, tokenized as one text. Code
/// tokenizes differently from prose or random ids, and the attention cost depends on nothing
/// else, so this is as close to what an editor sends as a fixed input gets.
fn corpus_tokens(tokenizer: &Tokenizer, needed: usize) -> Result<Vec<u32>> {
    let source_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source_dir)
        .with_context(|| format!("cannot list {}", source_dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .collect();
    // Sorted so that every run feeds the same text in the same order.
    files.sort();
    let mut text = String::new();
    for file in &files {
        text.push_str(
            &std::fs::read_to_string(file)
                .with_context(|| format!("cannot read {}", file.display()))?,
        );
        text.push('\n');
    }
    let mut tokens = tokenizer.encode_with_bos(&text)?;
    if tokens.len() < 2 {
        bail!("{} gave no tokens to benchmark with", source_dir.display());
    }
    // Repeat the text (without a second BOS) if the sources ever become shorter than needed.
    let body = tokens[1..].to_vec();
    while tokens.len() < needed {
        tokens.extend_from_slice(&body);
    }
    tokens.truncate(needed);
    Ok(tokens)
}

/// A field of /proc/self/status in kB, e.g. `VmHWM` (peak resident memory).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Two decimals, enough for every figure of the JSON object.
fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

fn mb(bytes: f64) -> f64 {
    bytes / 1_000_000.0
}

/// One line of the report.
struct Row {
    metric: String,
    ours: String,
    reference: Option<f64>,
    value: f64,
    better: &'static str,
}

impl Row {
    fn new(metric: impl Into<String>, value: f64, decimals: usize) -> Self {
        Self {
            metric: metric.into(),
            ours: format!("{value:.decimals$}"),
            reference: None,
            value,
            better: "",
        }
    }

    fn compared(mut self, reference: Option<f64>, better: &'static str) -> Self {
        self.reference = reference;
        self.better = better;
        self
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let settings = ThreadSettings {
        threads: args.threads.max(1),
        spin_limit: args.spin.unwrap_or(ThreadSettings::default().spin_limit),
    };
    // candle reads its thread settings once, when its worker pool starts, so they must be in
    // place before anything touches a tensor.
    configure_threads(settings);
    let reps = Repetitions::new(args.quick);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Started before loading so that every figure, load time included, sees the same machine.
    let contention = args.contended.then(|| Contention::start(cores));

    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    // llama.cpp first, in its own process, so that both sides see the same machine in one run.
    let llama = Llama::measure(&args, &path);
    eprintln!("loading {}", path.display());
    let started = Instant::now();
    let model = Model::load(&path, LoadOptions::default())?;
    let load_s = started.elapsed().as_secs_f64();
    let rss_after_load_kb = proc_status_kb("VmRSS").unwrap_or(0);
    // Nothing but the weights has run yet, so the high-water mark is the load's own peak (the
    // issue's target: at most the file's size plus 50 MB).
    let load_peak_kb = proc_status_kb("VmHWM").unwrap_or(0);
    let file_mb = std::fs::metadata(&path).map_or(0.0, |m| m.len() as f64 / 1e6);

    // The tokenizer is built separately so that the load time above is the weights' alone. It
    // stays alive to the end, as it does in the server, so it counts in the peak memory.
    let started = Instant::now();
    let tokenizer = Tokenizer::from_gguf(GgufFile::open(&path)?.content())?;
    let tokenizer_s = started.elapsed().as_secs_f64();
    let longest = DECODE_CONTEXTS.iter().max().copied().unwrap_or(0);
    let tokens = corpus_tokens(&tokenizer, longest.max(PREFILL_LENGTHS[3]))?;

    // One untimed pass starts candle's worker pool and faults in the weights, which would
    // otherwise land in the first prefill repetition.
    prefill(&model, &mut model.new_cache(), &tokens[..16])?;

    let mut rows = vec![
        Row::new("load weights, `Model::load` (s)", load_s, 2),
        Row::new("build tokenizer (s)", tokenizer_s, 2),
    ];
    // The same figures under stable keys for `--json`; compare.py merges them with the other
    // benchmarks' objects, so the names must not clash with theirs.
    let mut figures = serde_json::Map::new();
    figures.insert("load_s".into(), round(load_s).into());
    figures.insert("tokenizer_s".into(), round(tokenizer_s).into());

    for (&length, &count) in PREFILL_LENGTHS.iter().zip(&reps.prefill) {
        eprintln!("prefill {length} tokens × {count}");
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            // A fresh cache each time: this is the cost of a document the engine has not seen,
            // including the first allocation of its cache.
            let mut cache = model.new_cache();
            let started = Instant::now();
            black_box(prefill(&model, &mut cache, &tokens[..length])?);
            samples.push(started.elapsed().as_secs_f64());
        }
        let speed = length as f64 / median(samples);
        figures.insert(format!("prefill_{length}_tps"), round(speed).into());
        let row = Row::new(format!("prefill {length} tokens (tokens/s)"), speed, 1);
        rows.push(match length {
            16 | 128 | 512 | 1_536 => row.compared(llama.get(&format!("pp{length}_tps")), "higher"),
            _ => row,
        });
    }

    let mut kv_bytes_per_token = 0;
    let mut kv_bytes_longest = 0;
    for &context in &DECODE_CONTEXTS {
        // The timed steps end at `context`, so the longest sequence never holds more than
        // `longest` positions and the memory figures below are those of a 2,048-token cache.
        let start = context - DECODE_STEPS;
        eprintln!("decode at context {start}..{context} × {}", reps.decode);
        let mut cache = model.new_cache();
        let logits = prefill(&model, &mut cache, &tokens[..start])?;
        let first = argmax(&logits);
        let mut samples = Vec::with_capacity(reps.decode);
        for _ in 0..reps.decode {
            cache.truncate(start);
            let mut next = first;
            let started = Instant::now();
            for _ in 0..DECODE_STEPS {
                let (_, logits) = model.forward_to_vec(&[next], &mut cache, Which::Last)?;
                next = argmax(&logits);
            }
            samples.push(started.elapsed().as_secs_f64());
        }
        let step_s = median(samples) / DECODE_STEPS as f64;
        figures.insert(format!("decode_{context}_tps"), round(1.0 / step_s).into());
        rows.push(
            Row::new(
                format!("decode at {context} context (tokens/s)"),
                1.0 / step_s,
                1,
            )
            .compared(llama.get("tg_tps"), "higher"),
        );
        rows.push(Row::new(
            format!("decode at {context} context (ms/token)"),
            step_s * 1_000.0,
            1,
        ));
        if context == longest {
            kv_bytes_per_token = cache.bytes_per_token();
            kv_bytes_longest = cache.bytes();
        }
    }
    drop(contention);

    let peak_kb = proc_status_kb("VmHWM").unwrap_or(0);
    rows.push(
        Row::new(
            "RSS after loading the weights (MB)",
            rss_after_load_kb as f64 / 1_000.0,
            0,
        )
        .compared(
            llama.get("rss_after_load_mb").map(|mib| mib * 1.048_576),
            "lower",
        ),
    );
    rows.push(Row::new(
        format!("peak RSS while loading the weights (MB; the file is {file_mb:.0} MB)"),
        load_peak_kb as f64 / 1_000.0,
        0,
    ));
    rows.push(
        Row::new(
            format!("peak RSS, after a {longest}-token sequence was cached (MB)"),
            peak_kb as f64 / 1_000.0,
            0,
        )
        .compared(llama.get("rss_peak_mb").map(|mib| mib * 1.048_576), "lower"),
    );
    rows.push(Row::new(
        "KV cache bytes per token",
        kv_bytes_per_token as f64,
        0,
    ));
    rows.push(Row::new(
        format!("KV cache allocated for {longest} tokens (MB)"),
        mb(kv_bytes_longest as f64),
        1,
    ));

    figures.insert(
        "rss_after_load_mb".into(),
        round(rss_after_load_kb as f64 / 1_000.0).into(),
    );
    figures.insert(
        "load_peak_rss_mb".into(),
        round(load_peak_kb as f64 / 1_000.0).into(),
    );
    figures.insert(
        "model_bench_peak_rss_mb".into(),
        round(peak_kb as f64 / 1_000.0).into(),
    );
    figures.insert("kv_bytes_per_token".into(), kv_bytes_per_token.into());
    figures.insert("model_bench_threads".into(), settings.threads.into());
    figures.insert("model_bench_quick".into(), args.quick.into());
    // llama.cpp's figures of this run, when measured, so that `--json` loses nothing the table has.
    if let Some(serde_json::Value::Object(llama_figures)) = &llama.figures {
        for (key, value) in llama_figures {
            figures.insert(format!("llama_{key}"), value.clone());
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Object(figures));
    } else {
        print_report(&args, settings, cores, &path, &rows, &llama);
    }
    drop(tokenizer);
    Ok(())
}

fn print_report(
    args: &Args,
    settings: ThreadSettings,
    cores: usize,
    path: &Path,
    rows: &[Row],
    llama: &Llama,
) {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |name| name.to_string_lossy().into_owned(),
    );
    let contended = if args.contended {
        format!(", contended ({cores} busy threads)")
    } else {
        String::new()
    };
    let quick = if args.quick { ", quick" } else { "" };
    println!(
        "### model_bench: {file}, {} threads, spin {}{contended}{quick}",
        settings.threads, settings.spin_limit
    );
    println!();
    println!("| metric | rill | llama.cpp | rill / llama.cpp | better |");
    println!("|---|---:|---:|---:|---|");
    for row in rows {
        let (reference, ratio) = match row.reference {
            Some(reference) => (
                format!("{reference:.0}"),
                format!("{:.2}", row.value / reference),
            ),
            None => ("—".to_string(), "—".to_string()),
        };
        println!(
            "| {} | {} | {reference} | {ratio} | {} |",
            row.metric, row.ours, row.better
        );
    }
    println!();
    println!(
        "Medians of repeated runs; decode steps feed back the argmax token and are compared with \
         llama.cpp's tg128 (short context). {}.",
        llama.source
    );
    if args.contended {
        println!();
        println!(
            "With --contended both sides ran while every core was kept busy, so the ratios show \
             how each engine copes with sharing the cores."
        );
    }
}
