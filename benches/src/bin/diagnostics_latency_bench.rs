//! Measures how soon rescored diagnostics reach the editor after an edit: from the end of the debounce to the `publishDiagnostics` of the new version, in a ~500-line real file with a warm cache.
//!
//! The file (CPython's textwrap.py, 491 lines) is opened and scored from the top; once the scan is
//! quiet, keywords at sites spread over the file are misspelled (`return` → `retrun`) and fixed
//! again, as a user would, one site at a time from the bottom up. Going up keeps the cache warm the
//! way real editing does: everything above an edit is unchanged, so its cached state stays valid.
//! Each edit is timed on the client side of the pipe, through the real `rill --stdio`: the figure
//! is the time from the end of the debounce to the first publish for the new version that arrives
//! after it, which is what the user waits for once they stop typing.
//!
//! The first publish carries the flags as scored; the server then judges them (the counterfactual
//! check) and publishes again, withdrawing those it rejects. The bench waits until the edited
//! region is settled (`rill/diagnosticsStatus` says nothing is pending) and reports how long that
//! took and the *flicker*: the share of flags that appeared in a first publish and were gone when
//! the region settled.

// A benchmark's report goes to stdout.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use clap::Parser;
use rill_e2e::{Profile, Server};
use serde_json::{json, Value};

#[derive(Debug, Parser)]
#[command(about = "Latency of diagnostics after an edit, through rill --stdio")]
struct Args {
    /// The file to edit (default: benches/workloads/diagnostics/textwrap.py).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Edit sites (lines holding `return`), spread over the file.
    #[arg(long, default_value_t = 8)]
    sites: usize,
    /// `diagnostics.debounceMs`.
    #[arg(long, default_value_t = 150)]
    debounce_ms: u64,
    /// Print one flat JSON object instead of Markdown.
    #[arg(long)]
    json: bool,
}

const URI: &str = "file:///bench/textwrap.py";

fn main() -> Result<()> {
    let args = Args::parse();
    let path = args.file.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads/diagnostics/textwrap.py")
    });
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let server = Server::spawn(Profile::vscode());
    server.set_settings(json!({ "rill": { "diagnostics": { "debounceMs": args.debounce_ms } } }));
    server.initialize();
    server.wait_until_ready();

    let opened = Instant::now();
    server.open(URI, "python", &text);
    let scan_done = wait_until_scored(&server)?;
    let initial = last_diagnostics(&server);
    let scan_seconds = scan_done.duration_since(opened).as_secs_f64();

    let sites = edit_sites(&text, args.sites);
    ensure!(
        !sites.is_empty(),
        "no `return` lines to edit in {}",
        path.display()
    );
    let mut version = 1;
    let mut latencies = Vec::new();
    let mut settle_latencies = Vec::new();
    let mut flagged = 0;
    let mut kept = 0;
    let (mut appeared, mut withdrawn) = (0, 0);
    let mut settled_before: Vec<Value> = ranges_of(
        &server
            .notifications("textDocument/publishDiagnostics")
            .last()
            .map(|(_, params)| params.clone())
            .unwrap_or(Value::Null),
    );
    for &(line, column) in sites.iter().rev() {
        for (old, new) in [("return", "retrun"), ("retrun", "return")] {
            version += 1;
            let mark = server.mark();
            let range = json!({
                "start": { "line": line, "character": column },
                "end": { "line": line, "character": column + old.len() }
            });
            server.change(URI, version, vec![json!({ "range": range, "text": new })]);
            let edited = Instant::now();
            let debounce_end = edited + Duration::from_millis(args.debounce_ms);
            // The publish made at once for the edit (flags moved or dropped) does not count:
            // only one that arrives after the debounce carries rescored flags.
            let (at, params) = server.wait_until(
                "diagnostics rescored after the edit",
                Duration::from_secs(120),
                |log| {
                    log.iter().skip(mark).find_map(|message| {
                        message
                            .notification("textDocument/publishDiagnostics")
                            .filter(|params| {
                                params["version"] == version && message.at >= debounce_end
                            })
                            .map(|params| (message.at, params.clone()))
                    })
                },
            );
            let latency = at.saturating_duration_since(debounce_end);
            latencies.push(latency.as_secs_f64() * 1000.0);
            if new == "retrun" && flags_line(&params, line) {
                flagged += 1;
            }
            // Settled: the edited region's job is over (the idle refresh starts 1.5 s later).
            wait_until_scored(&server)?;
            let (settled_at, settled) = server
                .notifications("textDocument/publishDiagnostics")
                .into_iter()
                .rev()
                .find(|(_, params)| params["version"] == version)
                .context("no publish for the version")?;
            settle_latencies.push(
                settled_at
                    .saturating_duration_since(debounce_end)
                    .as_secs_f64()
                    * 1000.0,
            );
            if new == "retrun" && flags_line(&settled, line) {
                kept += 1;
            }
            // Flags that were not there before the edit and appeared in any publish of this
            // version, against those still there once it settled.
            let settled_ranges = ranges_of(&settled);
            let mut seen: Vec<Value> = Vec::new();
            for (_, published) in server
                .notifications("textDocument/publishDiagnostics")
                .into_iter()
                .filter(|(_, params)| params["version"] == version)
            {
                for range in ranges_of(&published) {
                    if !settled_before.contains(&range) && !seen.contains(&range) {
                        seen.push(range);
                    }
                }
            }
            appeared += seen.len();
            withdrawn += seen
                .iter()
                .filter(|range| !settled_ranges.contains(range))
                .count();
            settled_before = settled_ranges;
            // A short pause, as between two edits of a user who looks at the result.
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    latencies.sort_by(f64::total_cmp);
    settle_latencies.sort_by(f64::total_cmp);
    let percentile =
        |values: &[f64], p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
    let (p50, p95, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies[latencies.len() - 1],
    );
    let (settle_p50, settle_p95) = (
        percentile(&settle_latencies, 0.5),
        percentile(&settle_latencies, 0.95),
    );
    let flicker = withdrawn as f64 / appeared.max(1) as f64;
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    let lines = text.lines().count();
    if args.json {
        println!(
            "{}",
            json!({
                "lines": lines,
                "initialScanSeconds": scan_seconds,
                "initialFlags": initial,
                "edits": latencies.len(),
                "p50Ms": p50,
                "p95Ms": p95,
                "maxMs": max,
                "typosFlagged": flagged,
                "typosKept": kept,
                "typos": sites.len(),
                "settledP50Ms": settle_p50,
                "settledP95Ms": settle_p95,
                "flagsAppeared": appeared,
                "flagsWithdrawn": withdrawn,
                "flicker": flicker,
                "loadAverage": load,
            })
        );
    } else {
        println!("| file | lines | initial scan | flags | edits | after debounce p50 | p95 | max | typos flagged (first / settled) | settled p50 / p95 | flicker | load average |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {} | {lines} | {scan_seconds:.1} s | {initial} | {} | {p50:.0} ms | {p95:.0} ms | {max:.0} ms | {flagged} / {kept} of {} | {settle_p50:.0} / {settle_p95:.0} ms | {flicker:.2} ({withdrawn}/{appeared}) | {load} |",
            path.file_name().and_then(|name| name.to_str()).unwrap_or("?"),
            latencies.len(),
            sites.len()
        );
    }
    Ok(())
}

/// Waits until `rill/diagnosticsStatus` reports the document scored (nothing pending).
fn wait_until_scored(server: &Server) -> Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        let status = server.call(
            "rill/diagnosticsStatus",
            json!({ "textDocument": { "uri": URI } }),
        );
        if status["pending"] == false {
            return Ok(Instant::now());
        }
        ensure!(
            Instant::now() < deadline,
            "the initial scan never finished: {status}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn last_diagnostics(server: &Server) -> usize {
    server
        .notifications("textDocument/publishDiagnostics")
        .last()
        .and_then(|(_, params)| params["diagnostics"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// The ranges of a publish's diagnostics.
fn ranges_of(params: &Value) -> Vec<Value> {
    params["diagnostics"]
        .as_array()
        .map(|all| all.iter().map(|d| d["range"].clone()).collect())
        .unwrap_or_default()
}

fn flags_line(params: &Value, line: usize) -> bool {
    params["diagnostics"]
        .as_array()
        .is_some_and(|all| all.iter().any(|d| d["range"]["start"]["line"] == line))
}

/// `count` lines holding `return ` (0-based line, column), evenly spread over the file.
fn edit_sites(text: &str, count: usize) -> Vec<(usize, usize)> {
    let all: Vec<(usize, usize)> = text
        .lines()
        .enumerate()
        .filter_map(|(line, content)| {
            let column = content.find("return ")?;
            // Only code: not inside a comment or a docstring line that starts with prose.
            let before = &content[..column];
            (before.trim().is_empty()).then_some((line, column))
        })
        .collect();
    if all.len() <= count {
        return all;
    }
    (0..count)
        .map(|index| all[index * all.len() / count])
        .collect()
}
