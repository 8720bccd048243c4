//! Measures incremental decoding on the default model: keystroke → first token with a warm cache, a cold 1.5k-token prompt, and memory with ten 2k-token documents cached.
//!
//! The keystroke replay is the same as `benches/llama_cpp_bench.py` runs on llama.cpp: the file
//! `benches/workloads/long_file.py` plus eight spaces of indentation, then its real next line typed
//! one character at a time. Each keystroke tokenizes the whole new prompt (as the server does),
//! keeps the longest common token prefix of the cached sequence, runs the rest and picks the first
//! token greedily; the time of all of that is the keystroke's time to first token.
//!
//! The memory figure goes through the server's own `SequenceStore`, so the eager compaction of
//! idle documents and the memory budget count exactly as in `rill --stdio`.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel, Sequence};
use rill_server::engine::prompt::prompt_tokens;
use rill_server::engine::store::{
    CacheBudgets, SequenceStore, DEFAULT_BUDGET_BYTES, DEFAULT_DISK_BUDGET_BYTES,
};

/// The server's default prompt budget and answer reserve (`completion.contextTokens`, `maxTokens`).
const CONTEXT_TOKENS: usize = 1536;
const MAX_TOKENS: usize = 64;
/// What an editor inserts after the file on Enter, before the first keystroke.
const INDENT: &str = "        ";
/// The file's real next line, typed one character a keystroke.
const TYPED: &str = "self.break_on_hyphens = break_on_hyphens";

#[derive(Parser, Debug)]
#[command(about = "Benchmarks rill's incremental decoding and prints a table (or JSON)")]
struct Args {
    /// Matrix threads, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Repetitions of the cold prompt (the median is reported).
    #[arg(long, default_value_t = 3)]
    cold_reps: usize,
    /// Documents cached for the memory figure.
    #[arg(long, default_value_t = 10)]
    docs: usize,
    /// Tokens per document for the memory figure.
    #[arg(long, default_value_t = 2048)]
    doc_tokens: usize,
    /// Disk space for idle documents' caches, in MiB, as `engine.diskCacheMb` (0 keeps them in
    /// memory, as before that setting).
    #[arg(long, default_value_t = DEFAULT_DISK_BUDGET_BYTES >> 20)]
    disk_cache_mb: usize,
    /// Measure memory only (skip the cold prompt and the keystrokes).
    #[arg(long)]
    memory_only: bool,
    /// Print one flat JSON object instead of the Markdown table.
    #[arg(long)]
    json: bool,
    /// Another GGUF file.
    #[arg(long)]
    model: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // As `rill` does at start, so the memory figure is the server's.
    rill_model::runtime::return_large_blocks_to_the_system();
    configure_threads(ThreadSettings {
        threads: args.threads,
        ..ThreadSettings::default()
    });
    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    eprintln!("loading {}", path.display());
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    eprintln!(
        "model loaded: RSS {:.0} MB, peak so far {:.0} MB",
        proc_status_kb("VmRSS").unwrap_or(0) as f64 / 1000.0,
        proc_status_kb("VmHWM").unwrap_or(0) as f64 / 1000.0
    );
    let context_length = loaded.model.config().context_length;
    let workloads = Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads");
    let long_file = std::fs::read_to_string(workloads.join("long_file.py"))
        .context("benches/workloads/long_file.py")?;

    // Memory first, so the peak it reports is not someone else's.
    eprintln!(
        "memory: {} documents of {} tokens",
        args.docs, args.doc_tokens
    );
    let memory = memory(
        &loaded,
        args.docs,
        args.doc_tokens,
        args.disk_cache_mb << 20,
    )?;
    if args.memory_only {
        println!(
            "peak RSS {:.0} MB, now {:.0} MB, model alone {:.0} MB, cache {:.0} MB in memory + {:.0} MB on disk",
            memory.peak_rss_mb,
            proc_status_kb("VmRSS").unwrap_or(0) as f64 / 1000.0,
            memory.rss_before_mb,
            memory.cached_bytes as f64 / 1e6,
            memory.disk_bytes as f64 / 1e6
        );
        return Ok(());
    }

    let prompt = |text: &str| {
        prompt_tokens(
            &loaded.tokenizer,
            text,
            CONTEXT_TOKENS,
            MAX_TOKENS,
            context_length,
        )
    };
    let first_token = |sequence: &mut Sequence, text: &str| -> Result<f64> {
        let started = Instant::now();
        let tokens = prompt(text)?;
        let synced = sequence
            .sync(&loaded.model, &tokens, &|| false)?
            .context("never cancelled")?;
        std::hint::black_box(rill_model::sampling::argmax(&synced.logits)?);
        Ok(started.elapsed().as_secs_f64() * 1000.0)
    };

    let cold_tokens = prompt(&long_file)?.len();
    eprintln!(
        "cold prompt: {cold_tokens} tokens, {} repetitions",
        args.cold_reps
    );
    let mut cold = Vec::new();
    for _ in 0..args.cold_reps.max(1) {
        let mut sequence = Sequence::new(&loaded.model);
        cold.push(first_token(&mut sequence, &long_file)?);
    }

    eprintln!("keystrokes: typing {TYPED:?} after the file");
    let mut sequence = Sequence::new(&loaded.model);
    let mut text = format!("{long_file}{INDENT}");
    first_token(&mut sequence, &text)?;
    let mut keystrokes = Vec::new();
    for c in TYPED.chars() {
        text.push(c);
        keystrokes.push(first_token(&mut sequence, &text)?);
    }

    let result = serde_json::json!({
        "keystroke_ttft_ms_p50": round(nearest_rank(&keystrokes, 50.0)),
        "keystroke_ttft_ms_p95": round(nearest_rank(&keystrokes, 95.0)),
        "cold_prompt_ttft_ms": round(nearest_rank(&cold, 50.0)),
        "cold_prompt_tokens": cold_tokens,
        "rss_10_docs_mb": round(memory.peak_rss_mb),
        "rss_before_docs_mb": round(memory.rss_before_mb),
        "cached_mb_10_docs": round(memory.cached_bytes as f64 / 1e6),
        "disk_mb_10_docs": round(memory.disk_bytes as f64 / 1e6),
        "bytes_per_cached_token": (memory.cached_bytes + memory.disk_bytes) / memory.cached_tokens.max(1),
        "bytes_per_token_full": memory.bytes_per_token,
    });
    if args.json {
        println!("{result}");
        return Ok(());
    }
    println!("| metric | rill |");
    println!("|---|---|");
    println!(
        "| keystroke → first token, warm {cold_tokens}-token file, p50 / p95 | {:.1} / {:.1} ms |",
        nearest_rank(&keystrokes, 50.0),
        nearest_rank(&keystrokes, 95.0)
    );
    println!(
        "| cold {cold_tokens}-token prompt → first token (median of {}) | {:.0} ms |",
        cold.len(),
        nearest_rank(&cold, 50.0)
    );
    println!(
        "| peak RSS with {} cached documents of {} tokens | {:.0} MB (model alone {:.0} MB) |",
        args.docs, args.doc_tokens, memory.peak_rss_mb, memory.rss_before_mb
    );
    println!(
        "| KV cache held for them | {:.0} MB in memory, {:.0} MB on disk, {} bytes per cached token ({} for a whole cache) |",
        memory.cached_bytes as f64 / 1e6,
        memory.disk_bytes as f64 / 1e6,
        (memory.cached_bytes + memory.disk_bytes) / memory.cached_tokens.max(1),
        memory.bytes_per_token
    );
    Ok(())
}

struct Memory {
    peak_rss_mb: f64,
    rss_before_mb: f64,
    cached_bytes: usize,
    disk_bytes: usize,
    cached_tokens: usize,
    bytes_per_token: usize,
}

/// Caches `docs` documents of `doc_tokens` tokens of real code through the server's store, each
/// one edited in turn, and reports the peak resident memory.
fn memory(
    loaded: &LoadedModel,
    docs: usize,
    doc_tokens: usize,
    disk_bytes: usize,
) -> Result<Memory> {
    let rss_before_mb = proc_status_kb("VmRSS").unwrap_or(0) as f64 / 1000.0;
    let corpus = corpus(loaded, docs * doc_tokens)?;
    eprintln!(
        "  corpus tokenized: RSS {:.0} MB, peak {:.0} MB",
        proc_status_kb("VmRSS").unwrap_or(0) as f64 / 1000.0,
        proc_status_kb("VmHWM").unwrap_or(0) as f64 / 1000.0
    );
    // The engine's own store: idle documents go to disk as `rill --stdio` sends them.
    let mut store = SequenceStore::for_engine(CacheBudgets {
        memory_bytes: DEFAULT_BUDGET_BYTES,
        disk_bytes,
    });
    for (index, chunk) in corpus.chunks(doc_tokens - 1).take(docs).enumerate() {
        let document =
            rill_server::engine::SequenceKey::completion(format!("file:///bench/{index}.rs"));
        let mut tokens = vec![loaded.tokenizer.bos_id()];
        tokens.extend_from_slice(chunk);
        store.set_editing(&document);
        let sequence = store.sequence(&document, &loaded.model);
        sequence.sync(&loaded.model, &tokens, &|| false)?;
        store.enforce();
        // As the engine does whenever it goes idle, which it does between two documents opening.
        rill_model::runtime::trim();
        let report = store.report();
        eprintln!(
            "  document {index}: {} documents, {} tokens, {:.1} MB cached in memory, {:.1} MB on disk; RSS {:.0} MB, peak {:.0} MB",
            report.documents,
            report.tokens,
            report.bytes as f64 / 1e6,
            report.disk_bytes as f64 / 1e6,
            proc_status_kb("VmRSS").unwrap_or(0) as f64 / 1000.0,
            proc_status_kb("VmHWM").unwrap_or(0) as f64 / 1000.0
        );
    }
    let report = store.report();
    Ok(Memory {
        peak_rss_mb: proc_status_kb("VmHWM").unwrap_or(0) as f64 / 1000.0,
        rss_before_mb,
        cached_bytes: report.bytes,
        disk_bytes: report.disk_bytes,
        cached_tokens: report.tokens,
        bytes_per_token: report.bytes_per_token,
    })
}

/// Real code: this repository's Rust sources, tokenized as one text (repeated if too short).
fn corpus(loaded: &LoadedModel, needed: usize) -> Result<Vec<u32>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for dir in [
        "model/src",
        "server/src",
        "server/src/lsp",
        "server/src/engine",
    ] {
        for entry in std::fs::read_dir(root.join(dir))? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    // File by file, and only as many as needed: the server tokenizes one document at a time, and
    // tokenizing the whole tree at once would leave a transient no server has in the peak.
    let mut body = Vec::new();
    for file in &files {
        body.extend(loaded.tokenizer.encode(&std::fs::read_to_string(file)?)?);
        if body.len() >= needed {
            break;
        }
    }
    anyhow::ensure!(!body.is_empty(), "no Rust sources to build the corpus from");
    let mut tokens = Vec::with_capacity(needed);
    while tokens.len() < needed {
        tokens.extend_from_slice(&body);
    }
    tokens.truncate(needed);
    // As the engine does whenever it goes idle.
    rill_model::runtime::trim();
    Ok(tokens)
}

/// Nearest-rank percentile, as the llama.cpp script computes it.
fn nearest_rank(samples: &[f64], percent: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// A field of /proc/self/status in kB, e.g. `VmHWM` (peak resident memory).
fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}
