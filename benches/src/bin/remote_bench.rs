//! The remote engine's latency overhead: the same completions through rill with `engine.backend = "openai"` pointing at llama.cpp's server, straight from that server over HTTP, and from rill's local engine, on the same model and prompts.
//!
//! Each prompt is the start of `benches/workloads/long_file.py` up to a line, with the cursor on
//! the next line. For every prompt the llama.cpp server is first asked once directly (so its
//! prompt cache holds the prompt, as it would while a user types), then through rill, then
//! directly again; both measured requests therefore find the same cache state. "Answer" is when
//! the suggestion rill answers with is complete: for rill the response, for the direct stream the
//! moment its text covers that suggestion (suggestions are kept to one line with
//! `completion.multiline: never`). rill's local engine is measured afterwards in its own
//! server process, each document pre-warmed before its request, which is its usual state while a
//! user types.
//!
//! Timings are taken on the client side: for rill at the arrival of the LSP frames (first
//! `rill/inlineCompletion/partial`, response), for the direct path at the arrival of the SSE
//! events, so both include the client's reading and parsing.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rill_e2e::llama_server::LlamaServer;
use rill_e2e::{insert_text, Profile, Server};
use serde_json::{json, Value};

/// How long one completion may take before the run fails (generous: a busy shared machine).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

#[derive(Parser, Debug)]
#[command(about = "Remote-engine latency: rill -> llama.cpp server vs direct HTTP vs rill local")]
struct Args {
    /// How many prompts (cursor positions) to measure.
    #[arg(long, default_value_t = 8)]
    prompts: usize,
    /// `completion.maxTokens` for rill, `max_tokens` for the direct requests.
    #[arg(long, default_value_t = 32)]
    max_tokens: usize,
    /// Threads of the llama.cpp server and of rill's local engine.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The file whose prefixes are the prompts (default: benches/workloads/long_file.py).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Print one JSON object instead of Markdown.
    #[arg(long)]
    json: bool,
}

/// One measured completion.
#[derive(Debug, Clone, Default)]
struct Sample {
    first: Option<Duration>,
    answer: Duration,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let file = args.file.clone().unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("workloads/long_file.py")
    });
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.len() < 20 {
        bail!("{} is too short", file.display());
    }
    // Cursor positions spread over the file, at the start of a line.
    let cursors: Vec<usize> = (1..=args.prompts)
        .map(|i| 10 + (lines.len() - 20) * i / (args.prompts + 1))
        .collect();
    let prompts: Vec<String> = cursors.iter().map(|&line| lines[..line].concat()).collect();

    let Some(llama) = LlamaServer::start(args.threads) else {
        bail!("llama-cpp-python with its server extra is needed (scripts/install-llama-cpp.sh)");
    };
    eprintln!("llama_cpp.server ready at {}", llama.base_url);

    let settings = |backend: Value| {
        json!({ "rill": {
            "engine": backend,
            // One-line suggestions keep the answers comparable and the run short.
            "completion": { "maxTokens": args.max_tokens, "timeoutMs": 60000, "multiline": "never" },
            "diagnostics": { "enable": false }
        }})
    };
    let mut remote = Vec::new();
    let mut direct = Vec::new();
    let mut mismatches = 0;
    {
        let server = Server::start_ready(Profile::vscode().with_settings(settings(json!({
            "backend": "openai",
            "baseUrl": llama.base_url,
            "fimTemplate": "none",
            "timeoutMs": 60000
        }))));
        for (index, (prompt, &line)) in prompts.iter().zip(&cursors).enumerate() {
            llama.complete(prompt, args.max_tokens);
            let (through_rill, answer) = complete_through(&server, index, prompt, line)?;
            let pieces = llama.complete(prompt, args.max_tokens);
            let (straight, covered) = direct_sample(&pieces, &answer);
            if !covered {
                mismatches += 1;
            }
            eprintln!(
                "prompt {index} (line {line}): rill->server first {:?} answer {:?}; direct first {:?} answer {:?}; {answer:?}",
                through_rill.first, through_rill.answer, straight.first, straight.answer
            );
            remote.push(through_rill);
            direct.push(straight);
        }
    }
    drop(llama);

    let mut local = Vec::new();
    {
        let server = Server::start_ready(Profile::vscode().with_settings(settings(json!({
            "backend": "local",
            "threads": args.threads
        }))));
        for (index, (prompt, &line)) in prompts.iter().zip(&cursors).enumerate() {
            let (sample, answer) = complete_through(&server, index, prompt, line)?;
            eprintln!(
                "prompt {index} (line {line}): local first {:?} answer {:?}; {answer:?}",
                sample.first, sample.answer
            );
            local.push(sample);
        }
    }

    let rows = [
        ("rill -> llama_cpp.server", &remote),
        ("direct HTTP -> llama_cpp.server", &direct),
        ("rill local engine", &local),
    ];
    let firsts = |samples: &[Sample]| -> Vec<Duration> {
        samples.iter().filter_map(|sample| sample.first).collect()
    };
    let answers =
        |samples: &[Sample]| -> Vec<Duration> { samples.iter().map(|s| s.answer).collect() };
    if args.json {
        let mut object = serde_json::Map::new();
        for (name, samples) in rows {
            let key = name.replace(' ', "_");
            object.insert(
                format!("{key}_first_p50_ms"),
                json!(ms(median(firsts(samples)))),
            );
            object.insert(
                format!("{key}_answer_p50_ms"),
                json!(ms(median(answers(samples)))),
            );
        }
        object.insert("prompts".into(), json!(prompts.len()));
        object.insert("direct_text_mismatches".into(), json!(mismatches));
        println!("{}", Value::Object(object));
        return Ok(());
    }
    println!(
        "| path ({} prompts, max {} tokens, {} threads) | first text p50 | first text mean | answer p50 | answer mean |",
        prompts.len(),
        args.max_tokens,
        args.threads
    );
    println!("|---|---|---|---|---|");
    for (name, samples) in rows {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
            ms(median(firsts(samples))),
            ms(mean(&firsts(samples))),
            ms(median(answers(samples))),
            ms(mean(&answers(samples))),
        );
    }
    let overhead = |pick: &dyn Fn(&Sample) -> Option<Duration>| {
        let mut differences: Vec<f64> = remote
            .iter()
            .zip(&direct)
            .filter_map(|(r, d)| Some(ms(pick(r)?) - ms(pick(d)?)))
            .collect();
        differences.sort_by(f64::total_cmp);
        differences
            .get(differences.len() / 2)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!();
    println!(
        "Remote overhead (rill -> server minus direct, per prompt, p50): first text {:+.1} ms, answer {:+.1} ms. Direct streams that did not contain rill's answer (timed to their end instead): {mismatches}.",
        overhead(&|s| s.first),
        overhead(&|s| Some(s.answer)),
    );
    Ok(())
}

/// Opens the prompt as document `index` and asks for an inline completion at its end: the time
/// to the first partial and to the response, and the answer.
fn complete_through(
    server: &Server,
    index: usize,
    prompt: &str,
    line: usize,
) -> Result<(Sample, String)> {
    let uri = format!("file:///bench/remote_{index}.py");
    server.open(&uri, "python", prompt);
    let backend = &server.profile().settings["rill"]["engine"]["backend"];
    if backend.as_str() != Some("openai") {
        wait_for_prewarm(server, index as u64 + 1)?;
    }
    let id = server.inline_completion(&uri, line as u32, 0);
    let reply = server.reply(id, REQUEST_TIMEOUT);
    let sent = server.sent_at(id);
    let result = reply
        .outcome
        .map_err(|err| anyhow::anyhow!("completion failed: {err}"))?;
    let answer = result["items"].get(0).map(insert_text).unwrap_or_default();
    let first = server
        .notifications("rill/inlineCompletion/partial")
        .into_iter()
        .find(|(_, params)| params["requestId"] == json!(id))
        .map(|(at, _)| at.duration_since(sent));
    Ok((
        Sample {
            first,
            answer: reply.at.duration_since(sent),
        },
        answer,
    ))
}

/// Waits until the local engine has pre-warmed the `documents`-th opened document: the cache
/// report counts a document once its pre-warm job is done.
fn wait_for_prewarm(server: &Server, documents: u64) -> Result<()> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    loop {
        let status = server.call("rill/cacheStatus", Value::Null);
        if status["cachedDocuments"].as_u64().unwrap_or(0) >= documents {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the pre-warm did not finish");
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// The direct stream's first piece, and the moment its text covered `answer` (else its end);
/// false when it never did.
fn direct_sample(pieces: &[(Duration, String)], answer: &str) -> (Sample, bool) {
    let wanted = answer.trim_end();
    let mut text = String::new();
    for (at, piece) in pieces {
        text.push_str(piece);
        if text.starts_with(wanted) {
            return (
                Sample {
                    first: pieces.first().map(|(at, _)| *at),
                    answer: *at,
                },
                true,
            );
        }
    }
    let end = pieces.last().map_or(Duration::ZERO, |(at, _)| *at);
    (
        Sample {
            first: pieces.first().map(|(at, _)| *at),
            answer: end,
        },
        false,
    )
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn mean(values: &[Duration]) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.iter().sum::<Duration>() / values.len() as u32
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
