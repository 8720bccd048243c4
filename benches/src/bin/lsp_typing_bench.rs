//! Replays typing a real source file character by character through `rill --stdio`, as VS Code does, and reports keystroke latency.
//!
//! Each keystroke is an incremental `textDocument/didChange` followed at once by an automatic
//! `textDocument/inlineCompletion` at the new cursor, without waiting for earlier answers: that is
//! what VS Code's inline completion provider does, and it leaves superseding stale requests to the
//! server. The figures are taken on the client side of the pipe (the harness stamps each message
//! with the instant its frame arrived), so they include framing, scheduling and post-processing,
//! which is what a user waits for.
//!
//! It drives the real release binary through `rill-e2e`'s harness rather than the engine directly,
//! because supersession, streaming flushes and the per-document KV cache only show their cost when
//! requests overlap the way an editor makes them overlap.

// The Markdown report on stdout is the whole point of this binary, so printing there is intended;
// progress messages go to stderr so that stdout can be pasted as it is.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use rill_e2e::{Encoding, MessageKind, Profile, Server, TextModel};
use serde_json::{json, Value};

/// How long to wait for the answers still outstanding after the last keystroke. Far above the
/// server's 2 s completion budget, so that only a hung server makes the run fail.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long to wait for the `rill/status` that follows a completed request. The server sends it
/// after the response, once the engine has reported the job's statistics.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to exit after `exit`; the protocol document promises about 50 ms.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the warm-up completion may take: it prefills the whole prompt window from scratch.
const WARMUP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Parser, Debug)]
#[command(about = "Replays typing a file through rill's LSP server and prints a Markdown table")]
struct Args {
    /// The file whose typing is replayed (default: model/src/sampling.rs of this repository).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Lines of the file the document holds when it is opened (default: the first 40% of them).
    #[arg(long)]
    lines: Option<usize>,
    /// Characters typed after the opened lines, one keystroke each (a CRLF pair is one keystroke).
    #[arg(long, default_value_t = 300)]
    chars: usize,
    /// Pause between keystrokes in milliseconds; 80 ms is a fast typist.
    #[arg(long, default_value_t = 80)]
    delay_ms: u64,
    /// How many of the last completions' `rill/status` figures to list.
    #[arg(long, default_value_t = 8)]
    status_rows: usize,
    /// Settings tree the client answers `workspace/configuration` with, as JSON, e.g.
    /// `{"rill":{"completion":{"contextTokens":512}}}` (default: none, the server's defaults).
    #[arg(long)]
    settings: Option<String>,
    /// Print one line per keystroke to stderr: key, outcome, time to first partial and to answer.
    #[arg(long)]
    trace: bool,
    /// Skip the completion requested right after opening the document. Without it, the first
    /// keystroke pays for prefilling the whole prompt window, as when typing starts at once.
    #[arg(long)]
    no_warmup: bool,
}

/// One keystroke and the request sent right after it.
struct Keystroke {
    /// The text inserted ("\n" for Enter).
    text: String,
    /// When the `didChange` was written: the moment the user pressed the key, as far as the
    /// server can know.
    at: Instant,
    request_id: i64,
}

/// What the server answered to one inline completion request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A suggestion.
    Items,
    /// `{ "items": [] }` that arrived after the next keystroke: superseded or made stale. A
    /// completion that finished with nothing but took longer than the gap between keys lands here
    /// too; the wire does not tell them apart, and at typing speed that case is rare.
    Superseded,
    /// `{ "items": [] }` before the next keystroke: the model had nothing to suggest.
    NoSuggestion,
    /// A JSON-RPC error.
    Error,
}

/// The timeline of one request, taken from the message log.
struct Timeline {
    outcome: Outcome,
    first_partial: Option<Instant>,
    partials: usize,
    reply_at: Instant,
    reply_index: usize,
    suggestion: String,
}

/// One `rill/status` with measurements: the figures of a completion that ran to its end.
struct Status {
    index: usize,
    params: Value,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let load_before = load_average();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has a parent directory")?
        .to_path_buf();
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| workspace.join("model/src/sampling.rs"));
    let file = file
        .canonicalize()
        .with_context(|| format!("cannot find {}", file.display()))?;
    let source = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let total_lines = source.split_inclusive('\n').count();
    let open_lines = args.lines.unwrap_or(total_lines * 2 / 5).min(total_lines);
    let prefix: String = source.split_inclusive('\n').take(open_lines).collect();
    let keys = keystrokes(&source[prefix.len()..], args.chars);
    ensure!(
        !keys.is_empty(),
        "nothing left to type after line {open_lines} of {}",
        file.display()
    );
    let shown_path = file
        .strip_prefix(&workspace)
        .unwrap_or(&file)
        .display()
        .to_string();
    let uri = format!("file://{}", file.display());
    let language = match file.extension().and_then(|e| e.to_str()) {
        Some("rs") => "rust",
        Some("py") => "python",
        Some("lua") => "lua",
        _ => "plaintext",
    };
    let delay = Duration::from_millis(args.delay_ms);
    let binary = rill_e2e::rill_bin();

    eprintln!("starting {} --stdio (VS Code profile)", binary.display());
    let started = Instant::now();
    let mut profile = Profile::vscode();
    if let Some(settings) = &args.settings {
        let settings: Value = serde_json::from_str(settings).context("--settings is not JSON")?;
        profile = profile.with_settings(settings);
    }
    let mut server = Server::spawn(profile);
    server.initialize();
    if server.encoding() != Encoding::Utf16 {
        bail!("the server did not negotiate UTF-16 with a VS Code client");
    }
    server.wait_until_ready();
    let ready_after = started.elapsed();
    eprintln!("model ready after {:.1} s", ready_after.as_secs_f64());

    let mut model = TextModel::new(&prefix, Encoding::Utf16);
    let mut version = 1;
    server.open(&uri, language, &prefix);

    // The warm-up stands for the pause between opening a file and typing in it: one completion at
    // the cursor starts filling the document's KV cache, so the first keystrokes are not charged
    // with a prefill no editor session would make them wait for.
    let warmup = if args.no_warmup {
        None
    } else {
        eprintln!("warm-up completion at the end of line {open_lines}");
        let (line, character) = model.end_position();
        let mark = server.mark();
        let sent = Instant::now();
        let id = server.inline_completion(&uri, line, character);
        let reply = server.reply(id, WARMUP_TIMEOUT);
        let status = wait_for_status(&server, mark);
        Some((reply.at.duration_since(sent), status))
    };

    eprintln!(
        "typing {} keystrokes, {} ms apart",
        keys.len(),
        args.delay_ms
    );
    let typing_mark = server.mark();
    let typing_started = Instant::now();
    let mut sent = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        // Keystrokes keep a fixed rhythm from the first one, so time spent writing to the pipe
        // does not stretch the run.
        let due = typing_started + delay * index as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        // The document ends at the cursor: it holds the opened lines plus what was typed.
        let (line, character) = model.end_position();
        model.apply((line, character), (line, character), key);
        version += 1;
        let at = Instant::now();
        server.change(
            &uri,
            version,
            vec![json!({
                "range": {
                    "start": { "line": line, "character": character },
                    "end": { "line": line, "character": character }
                },
                "text": key
            })],
        );
        let (line, character) = model.end_position();
        let request_id = server.inline_completion(&uri, line, character);
        sent.push(Keystroke {
            text: key.clone(),
            at,
            request_id,
        });
    }
    let typed_for = typing_started.elapsed();

    eprintln!("waiting for the outstanding answers");
    let ids: Vec<i64> = sent.iter().map(|k| k.request_id).collect();
    server.wait_until("every inline completion answer", DRAIN_TIMEOUT, |log| {
        let ours = |id: &Value| id.as_i64().is_some_and(|id| ids.contains(&id));
        let answered = log
            .iter()
            .filter(|m| matches!(&m.kind, MessageKind::Response { id, .. } if ours(id)))
            .count();
        (answered >= ids.len()).then_some(())
    });
    // The last request is never superseded: it is the pause after typing stops, so its status
    // comes too. Wait for it so the status table includes it.
    let last_reply_index = server.reply(ids[ids.len() - 1], DRAIN_TIMEOUT).index;
    let last_status = wait_for_status(&server, last_reply_index);

    // The mirror must equal what was typed, or the figures describe some other document.
    let mirror = server
        .document_text(&uri)
        .map_err(|err| anyhow::anyhow!("rill/documentText failed: {err}"))?;
    ensure!(
        mirror["text"].as_str() == Some(model.text()),
        "the server's copy of the document differs from the typed text"
    );
    let messages = server.messages();
    // Not `shutdown_and_exit`: its invariant check panics on a late partial, and a benchmark
    // should report such a protocol violation next to its figures rather than lose them.
    let shutdown = server.request("shutdown", Value::Null);
    server
        .response(shutdown, DRAIN_TIMEOUT)
        .map_err(|err| anyhow::anyhow!("shutdown failed: {err}"))?;
    server.notify("exit", Value::Null);
    let status = server
        .wait_for_exit(EXIT_TIMEOUT)
        .context("the server did not exit after shutdown and exit")?;
    ensure!(status.success(), "the server exited with {status}");
    let load_after = load_average();

    let timelines = timelines(&messages, &sent);
    if args.trace {
        for (index, (key, timeline)) in sent.iter().zip(&timelines).enumerate() {
            let partial = timeline.first_partial.map_or_else(
                || "-".to_string(),
                |at| format!("{:.0}", millis(at.duration_since(key.at))),
            );
            eprintln!(
                "{:>4} {:>6} {:<13} partial {:>5} ms  answer {:>5} ms  {}",
                index + 1,
                format!("{:?}", key.text),
                format!("{:?}", timeline.outcome),
                partial,
                format!("{:.0}", millis(timeline.reply_at.duration_since(key.at))),
                preview(&timeline.suggestion)
            );
        }
    }
    let statuses: Vec<Status> = messages
        .iter()
        .skip(typing_mark)
        .filter_map(|m| {
            m.notification("rill/status")
                .filter(|params| params.get("promptTokens").is_some())
                .map(|params| Status {
                    index: m.index,
                    params: params.clone(),
                })
        })
        .collect();

    let late = late_partials(&messages);
    let report = Report {
        args: &args,
        shown_path: &shown_path,
        binary: &binary,
        total_lines,
        open_lines,
        keys: &sent,
        timelines: &timelines,
        statuses: &statuses,
        warmup: warmup.as_ref(),
        last_status: last_status.as_ref(),
        ready_after,
        typed_for,
        load_before: &load_before,
        load_after: &load_after,
        late_partials: &late,
    };
    report.print();
    Ok(())
}

/// The first `count` keystrokes of `rest`: one character each, except that a CRLF pair is one
/// Enter, as an editor inserts it.
fn keystrokes(rest: &str, count: usize) -> Vec<String> {
    let mut keys = Vec::new();
    let mut chars = rest.chars().peekable();
    while keys.len() < count {
        let Some(c) = chars.next() else { break };
        if c == '\r' && chars.peek() == Some(&'\n') {
            chars.next();
            keys.push("\r\n".to_string());
        } else {
            keys.push(c.to_string());
        }
    }
    keys
}

/// Reads each request's partials and response from the log.
fn timelines(messages: &[rill_e2e::Message], keys: &[Keystroke]) -> Vec<Timeline> {
    let mut replies: HashMap<i64, (Instant, usize, Result<Value, rill_e2e::RpcError>)> =
        HashMap::new();
    let mut partials: HashMap<i64, (Instant, usize)> = HashMap::new();
    for message in messages {
        match &message.kind {
            MessageKind::Response { id, outcome } => {
                if let Some(id) = id.as_i64() {
                    replies.insert(id, (message.at, message.index, outcome.clone()));
                }
            }
            MessageKind::Notification { method, params }
                if method == "rill/inlineCompletion/partial" =>
            {
                if let Some(id) = params["requestId"].as_i64() {
                    partials.entry(id).or_insert((message.at, 0)).1 += 1;
                }
            }
            _ => {}
        }
    }
    keys.iter()
        .enumerate()
        .map(|(index, key)| {
            let (reply_at, reply_index, outcome) = replies
                .remove(&key.request_id)
                .expect("every request was answered before the log was read");
            let suggestion = outcome
                .as_ref()
                .ok()
                .and_then(|result| result["items"].as_array())
                .and_then(|items| items.first())
                .map(rill_e2e::insert_text)
                .unwrap_or_default();
            let next_keystroke = keys.get(index + 1).map(|next| next.at);
            let outcome = match &outcome {
                Err(_) => Outcome::Error,
                Ok(result) if result["items"].as_array().is_some_and(|i| !i.is_empty()) => {
                    Outcome::Items
                }
                // Edits and newer requests are what make the server answer empty early, so an
                // empty answer after the next keystroke is counted as superseded.
                Ok(_) if next_keystroke.is_some_and(|next| reply_at >= next) => Outcome::Superseded,
                Ok(_) => Outcome::NoSuggestion,
            };
            let (first_partial, count) = partials
                .get(&key.request_id)
                .map_or((None, 0), |&(at, count)| (Some(at), count));
            Timeline {
                outcome,
                first_partial,
                partials: count,
                reply_at,
                reply_index,
                suggestion,
            }
        })
        .collect()
}

/// The partials that arrived after their request's response, as (request id, seq): the protocol
/// says none may, and a client that trusts it shows ghost text for an answered request.
fn late_partials(messages: &[rill_e2e::Message]) -> Vec<(i64, u64)> {
    let mut answered = std::collections::HashSet::new();
    let mut late = Vec::new();
    for message in messages {
        match &message.kind {
            MessageKind::Response { id, .. } => {
                answered.insert(id.as_i64());
            }
            MessageKind::Notification { method, params }
                if method == "rill/inlineCompletion/partial" =>
            {
                let id = params["requestId"].as_i64();
                if answered.contains(&id) {
                    late.push((id.unwrap_or(-1), params["seq"].as_u64().unwrap_or(0)));
                }
            }
            _ => {}
        }
    }
    late
}

/// Waits for the first `rill/status` with measurements after log index `mark`, or gives up
/// quietly: a completion stopped by its time budget may end without one, and the report then
/// says so instead of failing the run.
fn wait_for_status(server: &Server, mark: usize) -> Option<Value> {
    let deadline = Instant::now() + STATUS_TIMEOUT;
    loop {
        let found = server.messages().into_iter().skip(mark).find_map(|m| {
            m.notification("rill/status")
                .filter(|params| params.get("promptTokens").is_some())
                .cloned()
        });
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The first three fields of /proc/loadavg (1, 5 and 15 minutes), to judge whether other work
/// shared the cores during the run.
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

/// The nearest-rank percentile, in milliseconds; `None` without samples.
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

/// "p50 / p95 (n = N)" for a set of durations.
fn spread(mut samples: Vec<f64>) -> String {
    samples.sort_by(f64::total_cmp);
    match (percentile(&samples, 0.5), percentile(&samples, 0.95)) {
        (Some(p50), Some(p95)) => format!("{p50:.0} ms / {p95:.0} ms (n = {})", samples.len()),
        _ => "– (no samples)".to_string(),
    }
}

fn field(params: &Value, key: &str) -> String {
    match &params[key] {
        Value::Number(n) if n.is_f64() => format!("{:.1}", n.as_f64().unwrap_or_default()),
        Value::Number(n) => n.to_string(),
        _ => "–".to_string(),
    }
}

/// The suggestion's first line, shortened, for the report.
fn preview(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default();
    let mut shown: String = first.chars().take(40).collect();
    if first.chars().count() > 40 || text.lines().count() > 1 {
        shown.push('…');
    }
    format!("`{}`", shown.replace('`', "'").replace('|', "\\|"))
}

struct Report<'a> {
    args: &'a Args,
    shown_path: &'a str,
    binary: &'a Path,
    total_lines: usize,
    open_lines: usize,
    keys: &'a [Keystroke],
    timelines: &'a [Timeline],
    statuses: &'a [Status],
    warmup: Option<&'a (Duration, Option<Value>)>,
    last_status: Option<&'a Value>,
    ready_after: Duration,
    typed_for: Duration,
    load_before: &'a str,
    load_after: &'a str,
    late_partials: &'a [(i64, u64)],
}

impl Report<'_> {
    fn count(&self, outcome: Outcome) -> usize {
        self.timelines
            .iter()
            .filter(|t| t.outcome == outcome)
            .count()
    }

    fn print(&self) {
        let keys = self.keys;
        let timelines = self.timelines;
        let newlines = keys.iter().filter(|k| k.text.ends_with('\n')).count();
        let with_items: Vec<(&Keystroke, &Timeline)> = keys
            .iter()
            .zip(timelines)
            .filter(|(_, t)| t.outcome == Outcome::Items)
            .collect();
        let to_first_partial = with_items
            .iter()
            .filter_map(|(k, t)| t.first_partial.map(|at| millis(at.duration_since(k.at))))
            .collect();
        let to_final = with_items
            .iter()
            .map(|(k, t)| millis(t.reply_at.duration_since(k.at)))
            .collect();
        // Superseded requests count here too: their partials were shown as ghost text before
        // the next keystroke replaced them, which is what streaming is for.
        let to_any_partial = keys
            .iter()
            .zip(timelines)
            .filter_map(|(k, t)| t.first_partial.map(|at| millis(at.duration_since(k.at))))
            .collect();
        // How fast abandoned work is answered once the next keystroke arrives: the time the
        // server's old request still holds the engine.
        let supersede_delay = keys
            .iter()
            .zip(timelines)
            .enumerate()
            .filter(|(_, (_, t))| t.outcome == Outcome::Superseded)
            .filter_map(|(index, (_, t))| {
                keys.get(index + 1)
                    .map(|next| millis(t.reply_at.duration_since(next.at)))
            })
            .collect();
        let superseded_with_partials = timelines
            .iter()
            .filter(|t| t.outcome == Outcome::Superseded && t.partials > 0)
            .count();

        println!("## LSP typing replay");
        println!();
        println!(
            "`{}`: lines 1–{} of {} opened, then {} keystrokes typed {} ms apart \
             (VS Code profile: UTF-16, inline completion, streaming; settings: {}).",
            self.shown_path,
            self.open_lines,
            self.total_lines,
            keys.len(),
            self.args.delay_ms,
            self.args
                .settings
                .as_deref()
                .map_or_else(|| "server defaults".to_string(), |s| format!("`{s}`"))
        );
        println!();
        println!("| metric | value |");
        println!("|---|---|");
        println!("| keystrokes | {} ({} newlines) |", keys.len(), newlines);
        println!("| inline completion requests | {} |", timelines.len());
        println!("| responses with items | {} |", self.count(Outcome::Items));
        println!(
            "| empty responses, superseded (answered after the next keystroke) | {} ({} of them had sent partials) |",
            self.count(Outcome::Superseded),
            superseded_with_partials
        );
        println!(
            "| empty responses before the next keystroke (no suggestion) | {} |",
            self.count(Outcome::NoSuggestion)
        );
        println!("| error responses | {} |", self.count(Outcome::Error));
        println!(
            "| keystroke → first partial, p50 / p95 (responses with items) | {} |",
            spread(to_first_partial)
        );
        println!(
            "| keystroke → first partial, p50 / p95 (every request that sent one) | {} |",
            spread(to_any_partial)
        );
        println!(
            "| keystroke → final response, p50 / p95 (responses with items) | {} |",
            spread(to_final)
        );
        println!(
            "| next keystroke → superseded empty answer, p50 / p95 | {} |",
            spread(supersede_delay)
        );
        let (last_key, last) = (&keys[keys.len() - 1], &timelines[timelines.len() - 1]);
        let pause_partial = last.first_partial.map_or_else(
            || "– (no partial)".to_string(),
            |at| format!("{:.0} ms", millis(at.duration_since(last_key.at))),
        );
        println!("| pause after typing: last keystroke → first partial | {pause_partial} |");
        println!(
            "| pause after typing: last keystroke → final response | {:.0} ms ({}, {} partials, {}) |",
            millis(last.reply_at.duration_since(last_key.at)),
            match last.outcome {
                Outcome::Items => "items",
                Outcome::Error => "error",
                _ => "empty",
            },
            last.partials,
            preview(&last.suggestion)
        );
        if let Some(status) = self.last_status {
            println!(
                "| pause: promptTokens / reusedTokens / TTFT / tokens/s / generated | {} / {} / {} ms / {} / {} |",
                field(status, "promptTokens"),
                field(status, "reusedTokens"),
                field(status, "timeToFirstTokenMs"),
                field(status, "tokensPerSecond"),
                field(status, "generatedTokens")
            );
        }
        match self.warmup {
            Some((took, status)) => {
                let status = status.as_ref().map_or_else(
                    || "no status".to_string(),
                    |s| {
                        format!(
                            "promptTokens {}, reusedTokens {}, TTFT {} ms, generated {}",
                            field(s, "promptTokens"),
                            field(s, "reusedTokens"),
                            field(s, "timeToFirstTokenMs"),
                            field(s, "generatedTokens")
                        )
                    },
                );
                println!(
                    "| warm-up completion after opening (empty cache), request → answer | {:.0} ms ({status}) |",
                    millis(*took)
                );
            }
            None => println!("| warm-up completion after opening | skipped (`--no-warmup`) |"),
        }
        let mut reuse: Vec<f64> = self
            .statuses
            .iter()
            .filter_map(|s| {
                let prompt = s.params["promptTokens"].as_f64()?;
                let reused = s.params["reusedTokens"].as_f64()?;
                (prompt > 0.0).then_some(reused / prompt * 100.0)
            })
            .collect();
        reuse.sort_by(f64::total_cmp);
        println!(
            "| completions not superseded, typing and pause (`rill/status` with figures) | {} (median reused share of the prompt {}) |",
            self.statuses.len(),
            percentile(&reuse, 0.5).map_or_else(|| "–".to_string(), |p| format!("{p:.1}%"))
        );
        let late = self
            .late_partials
            .iter()
            .take(5)
            .map(|(id, seq)| format!("request {id} seq {seq}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| partials after their request's response (protocol violation; warm-up included) | {}{} |",
            self.late_partials.len(),
            if late.is_empty() { String::new() } else { format!(": {late}") }
        );
        println!(
            "| typing took / model ready after | {:.1} s / {:.1} s |",
            self.typed_for.as_secs_f64(),
            self.ready_after.as_secs_f64()
        );
        println!(
            "| load average (1/5/15 min) before / after | {} / {} |",
            self.load_before, self.load_after
        );
        println!();

        let rows = self.statuses.len().min(self.args.status_rows);
        println!(
            "Last {rows} `rill/status` figures (one per completion that was not superseded; \
             \"after request\" is the last answer before it, with how many keystrokes in it was sent):"
        );
        println!();
        println!("| after request | keystroke | promptTokens | reusedTokens | TTFT ms | tokens/s | generated | suggestion |");
        println!("|---|---|---|---|---|---|---|---|");
        for status in &self.statuses[self.statuses.len() - rows..] {
            // The status follows its completion's response, so the completion is the request
            // with items (or a completed empty one) answered last before it.
            let owner = timelines
                .iter()
                .enumerate()
                .filter(|(_, t)| t.outcome != Outcome::Superseded && t.reply_index < status.index)
                .max_by_key(|(_, t)| t.reply_index);
            let (request, keystroke, suggestion) = owner.map_or_else(
                || ("–".to_string(), "–".to_string(), String::new()),
                |(index, t)| {
                    (
                        keys[index].request_id.to_string(),
                        format!("{} of {}", index + 1, keys.len()),
                        preview(&t.suggestion),
                    )
                },
            );
            println!(
                "| {request} | {keystroke} | {} | {} | {} | {} | {} | {suggestion} |",
                field(&status.params, "promptTokens"),
                field(&status.params, "reusedTokens"),
                field(&status.params, "timeToFirstTokenMs"),
                field(&status.params, "tokensPerSecond"),
                field(&status.params, "generatedTokens"),
            );
        }
        let unfinished_prefill = self
            .statuses
            .iter()
            .map(|s| &s.params)
            .chain(self.warmup.and_then(|(_, s)| s.as_ref()))
            .any(|s| s["generatedTokens"] == json!(0) && s["timeToFirstTokenMs"] == json!(0.0));
        if unfinished_prefill {
            // rill's generate() returns its stats with reused_tokens still 0 when cancellation or
            // the time budget stops the prefill, so such a row says nothing about cache reuse.
            println!();
            println!(
                "Rows with 0 generated tokens and TTFT 0 are completions whose time budget ran out \
                 during the prefill; rill reports reusedTokens 0 for them whatever it reused."
            );
        }
        println!();
        println!("rill binary: `{}`", self.binary.display());
    }
}
