//! The soak benchmark: the typing replay (a keystroke and an inline completion every 100 ms, as VS Code sends them) with model diagnostics on, for 30 minutes, over documents opened and closed in turn; reports the server's RSS every minute and its growth after the warm-up.
//!
//! A leak shows as memory that keeps growing while the work stays the same. The replay cycles
//! through real source files: each round opens a fresh document (a new URI) with the first 40% of
//! a file, types the next characters one keystroke at a time with a completion request after
//! each, checks the server's mirror, and closes the oldest document once more than
//! `--open-documents` are open. RSS (`VmRSS`) is sampled every `--sample-seconds`; after
//! `--warmup-minutes` a least-squares line through the samples gives the slope, and the growth
//! is that line's rise over the measured span relative to its value at the end of the warm-up.
//! The target is a growth of at most 5 %.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use rill_e2e::{Encoding, MessageKind, Profile, Server, TextModel};
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Types real files through rill --stdio for a long time and reports its memory")]
struct Args {
    /// How long to type, in minutes.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Minutes of warm-up left out of the slope.
    #[arg(long, default_value_t = 5.0)]
    warmup_minutes: f64,
    /// Seconds between RSS samples.
    #[arg(long, default_value_t = 60)]
    sample_seconds: u64,
    /// Pause between keystrokes in milliseconds.
    #[arg(long, default_value_t = 100)]
    delay_ms: u64,
    /// Keystrokes typed into each document before the next one is opened.
    #[arg(long, default_value_t = 300)]
    keys_per_document: usize,
    /// Documents open at once; the oldest is closed when one more is opened.
    #[arg(long, default_value_t = 3)]
    open_documents: usize,
    /// Settings tree answered to `workspace/configuration`, as JSON (default: the server's
    /// defaults, with diagnostics on).
    #[arg(long)]
    settings: Option<String>,
    /// Print one JSON object instead of Markdown.
    #[arg(long)]
    json: bool,
}

/// One RSS sample.
#[derive(Debug, Clone, Copy)]
struct Sample {
    minutes: f64,
    rss_mb: f64,
    peak_mb: f64,
    keystrokes: usize,
    documents: usize,
}

/// The files typed, in turn: Python and Rust of several sizes.
const FILES: &[&str] = &[
    "benches/workloads/diagnostics/textwrap.py",
    "benches/workloads/diagnostics/shlex.py",
    "benches/workloads/edit_replay/heapq.py",
    "benches/workloads/diagnostics/graphlib.py",
    "benches/workloads/edit_replay/sampling.rs",
    "benches/workloads/diagnostics/sched.py",
];

/// An open document and the requests sent to it.
struct Open {
    uri: String,
    model: TextModel,
    version: i32,
    requests: Vec<i64>,
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The least-squares line `a + b·t` through `points`.
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_t = points.iter().map(|(t, _)| t).sum::<f64>() / n;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let covariance: f64 = points
        .iter()
        .map(|(t, y)| (t - mean_t) * (y - mean_y))
        .sum();
    let variance: f64 = points.iter().map(|(t, _)| (t - mean_t).powi(2)).sum();
    if variance == 0.0 {
        return None;
    }
    let slope = covariance / variance;
    Some((mean_y - slope * mean_t, slope))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has a parent directory")?
        .to_path_buf();
    let sources: Vec<(PathBuf, String)> = FILES
        .iter()
        .map(|file| {
            let path = workspace.join(file);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))
                .map(|text| (path, text))
        })
        .collect::<Result<_>>()?;
    let settings = match &args.settings {
        Some(settings) => serde_json::from_str(settings).context("--settings is not JSON")?,
        None => json!({ "rill": { "diagnostics": { "enable": true } } }),
    };
    let mut server = Server::start_ready(
        Profile::vscode()
            .with_settings(settings)
            .with_env("RILL_LOG", "info"),
    );
    let encoding: Encoding = server.encoding();
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.minutes * 60.0);
    let sample_every = Duration::from_secs(args.sample_seconds);
    let mut next_sample = started;
    let mut samples = Vec::new();
    let mut open: VecDeque<Open> = VecDeque::new();
    let (mut keystrokes, mut documents, mut requests, mut unanswered, mut mirror_differences) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut panics = Vec::new();
    let sample = |server: &Server, keystrokes: usize, documents: usize| {
        let point = Sample {
            minutes: started.elapsed().as_secs_f64() / 60.0,
            rss_mb: mb(server.rss_bytes().unwrap_or(0)),
            peak_mb: mb(server.peak_rss_bytes().unwrap_or(0)),
            keystrokes,
            documents,
        };
        eprintln!(
            "[soak] {:>5.1} min: RSS {:.0} MB (peak {:.0} MB), {keystrokes} keystrokes, {documents} documents",
            point.minutes, point.rss_mb, point.peak_mb
        );
        point
    };
    'rounds: while Instant::now() < deadline {
        let (path, source) = &sources[documents % sources.len()];
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let uri = format!("file:///soak/{documents}/{name}");
        let language = if name.ends_with(".rs") {
            "rust"
        } else {
            "python"
        };
        let lines: Vec<&str> = source.split_inclusive('\n').collect();
        let prefix: String = lines[..lines.len() * 2 / 5].concat();
        let rest = &source[prefix.len()..];
        server.open(&uri, language, &prefix);
        documents += 1;
        let mut document = Open {
            uri: uri.clone(),
            model: TextModel::new(&prefix, encoding),
            version: 1,
            requests: Vec::new(),
        };
        let mut chars = rest.chars().peekable();
        for _ in 0..args.keys_per_document {
            let Some(c) = chars.next() else { break };
            let key = if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
                "\r\n".to_string()
            } else {
                c.to_string()
            };
            let (line, character) = document.model.end_position();
            document
                .model
                .apply((line, character), (line, character), &key);
            document.version += 1;
            server.change(
                &uri,
                document.version,
                vec![json!({
                    "range": {
                        "start": { "line": line, "character": character },
                        "end": { "line": line, "character": character }
                    },
                    "text": key
                })],
            );
            let (line, character) = document.model.end_position();
            document
                .requests
                .push(server.inline_completion(&uri, line, character));
            requests += 1;
            keystrokes += 1;
            if Instant::now() >= next_sample {
                samples.push(sample(&server, keystrokes, documents));
                next_sample += sample_every;
            }
            if Instant::now() >= deadline {
                open.push_back(document);
                break 'rounds;
            }
            std::thread::sleep(Duration::from_millis(args.delay_ms));
        }
        // Every request of this document answered, and the mirror exact.
        let wanted = std::mem::take(&mut document.requests);
        let answered = server.try_wait_until(Duration::from_secs(60), |log| {
            let count = log
                .iter()
                .filter(|message| matches!(&message.kind, MessageKind::Response { id, .. } if id.as_i64().is_some_and(|id| wanted.contains(&id))))
                .count();
            (count >= wanted.len()).then_some(count)
        });
        if answered.is_err() {
            unanswered += wanted.len();
        }
        let mirror = server.document_text(&uri);
        let exact = mirror.as_ref().is_ok_and(|mirror| {
            mirror["text"].as_str() == Some(document.model.text())
                && mirror["version"] == json!(document.version)
        });
        if !exact {
            mirror_differences += 1;
        }
        open.push_back(document);
        while open.len() > args.open_documents {
            if let Some(oldest) = open.pop_front() {
                server.close(&oldest.uri);
            }
        }
        // The client keeps no more than the current document's messages and log.
        server.clear_log();
        let stderr = server.take_stderr();
        panics.extend(
            stderr
                .lines()
                .filter(|line| line.contains("panicked at"))
                .map(str::to_string),
        );
    }
    samples.push(sample(&server, keystrokes, documents));
    let status = server.call("rill/cacheStatus", Value::Null);
    let exit = server.shutdown_and_exit();

    let measured: Vec<(f64, f64)> = samples
        .iter()
        .filter(|sample| sample.minutes >= args.warmup_minutes)
        .map(|sample| (sample.minutes, sample.rss_mb))
        .collect();
    let line = fit(&measured);
    let (slope, growth) = match (line, measured.first(), measured.last()) {
        (Some((a, b)), Some(first), Some(last)) => {
            let start = a + b * first.0;
            let end = a + b * last.0;
            (Some(b), Some((end - start) / start * 100.0))
        }
        _ => (None, None),
    };
    let peak = samples.iter().map(|s| s.peak_mb).fold(0.0, f64::max);
    let passed = growth.is_some_and(|growth| growth <= 5.0)
        && unanswered == 0
        && mirror_differences == 0
        && panics.is_empty()
        && exit.code() == Some(0);
    if args.json {
        println!(
            "{}",
            json!({
                "minutes": args.minutes,
                "warmup_minutes": args.warmup_minutes,
                "keystrokes": keystrokes,
                "documents": documents,
                "requests": requests,
                "unanswered": unanswered,
                "mirror_differences": mirror_differences,
                "panics": panics.len(),
                "samples": samples.iter().map(|s| json!({
                    "minutes": s.minutes, "rss_mb": s.rss_mb, "peak_mb": s.peak_mb
                })).collect::<Vec<_>>(),
                "slope_mb_per_minute": slope,
                "growth_percent": growth,
                "peak_mb": peak,
                "cache": status,
                "passed": passed,
            })
        );
    } else {
        println!("| minute | RSS (MB) | peak RSS (MB) | keystrokes | documents opened |");
        println!("|---|---|---|---|---|");
        for sample in &samples {
            println!(
                "| {:.1} | {:.0} | {:.0} | {} | {} |",
                sample.minutes, sample.rss_mb, sample.peak_mb, sample.keystrokes, sample.documents
            );
        }
        println!();
        println!(
            "{keystrokes} keystrokes and as many completion requests ({unanswered} unanswered) over {documents} documents, {mirror_differences} mirror differences, {} panics.",
            panics.len()
        );
        match (slope, growth) {
            (Some(slope), Some(growth)) => println!(
                "After the {} min warm-up: slope {slope:+.2} MB/min, growth {growth:+.1} % (target: at most 5 %). Peak RSS {peak:.0} MB.",
                args.warmup_minutes
            ),
            _ => println!("Too few samples after the warm-up for a slope."),
        }
        println!("Cache at the end: {status}");
    }
    ensure!(passed, "the soak did not meet its targets");
    Ok(())
}
