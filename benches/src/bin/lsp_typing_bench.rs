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
//!
//! Besides latency it measures how many completions the server answered without new model work
//! (`rill/status` `source` `typedAhead` or `cache`), the server process's CPU time per keystroke,
//! and, in a separate phase, the first completion in a long file that the server pre-warmed while
//! it sat open. `--json` prints those headline figures as one flat JSON object instead of Markdown.

// The report on stdout (Markdown or JSON) is the whole point of this binary, so printing there is
// intended; progress messages go to stderr so that stdout can be pasted or parsed as it is.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
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
/// How long to wait, after the last answer, for the `rill/status` of every completed request. The
/// server sends a new generation's status only when the engine reports the generation's end and
/// gives up after 10 s, so this is a little longer than that.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long no new `rill/status` must arrive before the typing phase's statuses count as complete.
/// A status for a reused suggestion follows its answer within milliseconds and one for a new
/// generation follows the generation's end, which comes well within this once the answers are in.
const SETTLE_QUIET: Duration = Duration::from_secs(1);

#[derive(Parser, Debug)]
#[command(
    about = "Replays typing a file through rill's LSP server and prints a Markdown table (or JSON)"
)]
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
    /// Pause between keystrokes in milliseconds; 100 ms is 10 characters per second, a brisk typist.
    #[arg(long, default_value_t = 100)]
    delay_ms: u64,
    /// The typist's rhythm: `steady` (every keystroke `--delay-ms` apart) or `natural` (around
    /// `--delay-ms` within a word, slower after a space or punctuation, a pause at each line end).
    #[arg(long, value_enum, default_value_t = Rhythm::Steady)]
    rhythm: Rhythm,
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
    /// The file of the pre-warm phase, opened as a fresh document before the typing replay
    /// (default: benches/workloads/long_file.py, about 1,500 tokens).
    #[arg(long)]
    prewarm_file: Option<PathBuf>,
    /// How long the pre-warm phase's document sits open before its first completion is requested.
    #[arg(long, default_value_t = 5000)]
    prewarm_wait_ms: u64,
    /// Print only one flat JSON object with the headline figures on stdout, instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Write the server's stderr (its log at debug level) to this file at the end, to see what
    /// the engine did between the messages, e.g. when a pre-warm finished.
    #[arg(long)]
    server_log: Option<PathBuf>,
}

/// How the keystrokes are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Rhythm {
    Steady,
    Natural,
}

/// Gaps between keystrokes: `gaps[i]` comes before keystroke `i` (the first is zero).
///
/// The natural rhythm stands for how people type code: keystrokes within a word come at about the
/// base pace with some spread, the key after a space or punctuation mark comes later (the next word
/// is being chosen), and a new line starts after a pause. The spread is a fixed pseudo-random
/// sequence, so runs (and rill with and without a setting) get the same rhythm.
fn gaps(keys: &[String], base: Duration, rhythm: Rhythm) -> Vec<Duration> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        // xorshift64*: plenty for spreading keystrokes, and no dependency.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut out = Vec::with_capacity(keys.len());
    let mut previous: Option<&str> = None;
    for key in keys {
        let factor = match (rhythm, previous) {
            (_, None) => 0.0,
            (Rhythm::Steady, Some(_)) => 1.0,
            (Rhythm::Natural, Some(prev)) => {
                let after = prev.chars().last().unwrap_or(' ');
                let (low, high) = if after == '\n' {
                    (4.0, 8.0)
                } else if after.is_alphanumeric() || after == '_' {
                    (0.6, 1.4)
                } else {
                    (1.5, 3.0)
                };
                low + (high - low) * uniform()
            }
        };
        out.push(base.mul_f64(factor));
        previous = Some(key);
    }
    out
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
    /// The JSON-RPC error, for [`Outcome::Error`].
    error: Option<String>,
}

/// One `rill/status` sent for a completion that ran to its end (not superseded).
struct Status {
    index: usize,
    params: Value,
}

/// The pre-warm phase: a long file opened in a fresh document, left alone while the server
/// prefills it in the background, then one completion at its end.
struct Prewarm {
    shown_path: String,
    lines: usize,
    waited: Duration,
    /// Request → first `rill/inlineCompletion/partial`, if one came.
    to_first_partial: Option<Duration>,
    /// Request → response.
    to_reply: Duration,
    items: bool,
    suggestion: String,
    status: Option<Value>,
    /// `rill/cacheStatus` right before the request and right after its status.
    cache_before: Option<Value>,
    cache_after: Option<Value>,
}

/// Whether a `rill/status` reports a finished completion rather than the engine's state: such a
/// status carries `source` (or, from servers older than that field, `promptTokens`).
fn is_completion_status(params: &Value) -> bool {
    params.get("source").is_some() || params.get("promptTokens").is_some()
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
    let shown_path = shown(&file, &workspace);
    let uri = format!("file://{}", file.display());
    let prewarm_file = args
        .prewarm_file
        .clone()
        .unwrap_or_else(|| workspace.join("benches/workloads/long_file.py"));
    let prewarm_file = prewarm_file
        .canonicalize()
        .with_context(|| format!("cannot find {}", prewarm_file.display()))?;
    let prewarm_source = std::fs::read_to_string(&prewarm_file)
        .with_context(|| format!("cannot read {}", prewarm_file.display()))?;
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

    // The pre-warm phase runs first, on an idle engine: after the typing replay the engine would
    // still be pre-warming the typed document when the long file opens, and the figure would
    // measure that queue instead of the first completion in a file a user just opened.
    let prewarm = prewarm_phase(
        &server,
        &prewarm_file,
        &prewarm_source,
        &workspace,
        Duration::from_millis(args.prewarm_wait_ms),
    )?;

    let mut model = TextModel::new(&prefix, Encoding::Utf16);
    let mut version = 1;
    server.open(&uri, language(&file), &prefix);

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
        "typing {} keystrokes, {} ms apart ({:?} rhythm)",
        keys.len(),
        args.delay_ms,
        args.rhythm
    );
    let schedule: Vec<Duration> = gaps(&keys, delay, args.rhythm)
        .iter()
        .scan(Duration::ZERO, |at, gap| {
            *at += *gap;
            Some(*at)
        })
        .collect();
    // The model's work is read around the typing too, from the engine's own counters.
    let work_before = cache_status(&server);
    // The server's CPU time is read around the typing and its answers only, so neither loading
    // the model nor the warm-up's prefill is charged to the keystrokes.
    let cpu_before = cpu_seconds(server.pid());
    let typing_mark = server.mark();
    let typing_started = Instant::now();
    let mut sent = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        // Keystrokes keep a fixed rhythm from the first one, so time spent writing to the pipe
        // does not stretch the run.
        let due = typing_started + schedule[index];
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
    // Every request answered with items ran to its end, so its `rill/status` is due: at once for
    // a reused suggestion, at the generation's end for a new one. The statuses carry no request
    // id and may arrive after later answers, so they are counted, not matched, once they stopped
    // coming; the CPU time is read only then, so the last generation's work is included.
    let with_items = timelines(&server.messages(), &sent)
        .iter()
        .filter(|t| t.outcome == Outcome::Items)
        .count();
    settle_statuses(&server, typing_mark, with_items);
    let cpu_after = cpu_seconds(server.pid());
    let work_after = cache_status(&server);
    let work = Work::between(work_before.as_ref(), work_after.as_ref());
    let cpu_per_keystroke = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| (after - before) / sent.len() as f64);

    // The mirror must equal what was typed, or the figures describe some other document.
    let mirror = server
        .document_text(&uri)
        .map_err(|err| anyhow!("rill/documentText failed: {err}"))?;
    ensure!(
        mirror["text"].as_str() == Some(model.text()),
        "the server's copy of the document differs from the typed text"
    );
    let statuses: Vec<Status> = server
        .messages()
        .iter()
        .skip(typing_mark)
        .filter_map(|m| {
            m.notification("rill/status")
                .filter(|params| is_completion_status(params))
                .map(|params| Status {
                    index: m.index,
                    params: params.clone(),
                })
        })
        .collect();

    let messages = server.messages();
    if let Some(path) = &args.server_log {
        std::fs::write(path, server.stderr())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    // Not `shutdown_and_exit`: its invariant check panics on a late partial, and a benchmark
    // should report such a protocol violation next to its figures rather than lose them.
    let shutdown = server.request("shutdown", Value::Null);
    server
        .response(shutdown, DRAIN_TIMEOUT)
        .map_err(|err| anyhow!("shutdown failed: {err}"))?;
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
        prewarm: &prewarm,
        cpu_per_keystroke,
        work,
        ready_after,
        typed_for,
        load_before: &load_before,
        load_after: &load_after,
        late_partials: &late,
    };
    if args.json {
        eprintln!("load average (1/5/15 min) before / after: {load_before} / {load_after}");
        println!("{}", report.json());
    } else {
        report.print();
    }
    Ok(())
}

/// `file` relative to the workspace when it lies inside it, for the report.
fn shown(file: &Path, workspace: &Path) -> String {
    file.strip_prefix(workspace)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The LSP language id for a file, from its extension.
fn language(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("rs") => "rust",
        Some("py") => "python",
        Some("lua") => "lua",
        _ => "plaintext",
    }
}

/// Opens `source` as a fresh document, waits `wait` while the server pre-warms it in the
/// background, then times one completion at its end: the first completion a user gets after
/// opening a file and reading it for a moment. The document is closed afterwards, so that no
/// pre-warm left over from it runs during the typing replay and its CPU time.
fn prewarm_phase(
    server: &Server,
    file: &Path,
    source: &str,
    workspace: &Path,
    wait: Duration,
) -> Result<Prewarm> {
    let uri = format!("file://{}", file.display());
    let shown_path = shown(file, workspace);
    let lines = source.split_inclusive('\n').count();
    eprintln!(
        "pre-warm phase: opening {shown_path} ({lines} lines), completing at its end after {:.1} s",
        wait.as_secs_f64()
    );
    server.open(&uri, language(file), source);
    thread::sleep(wait);
    let (line, character) = TextModel::new(source, Encoding::Utf16).end_position();
    // The engine publishes its cache report after each piece of work, a pre-warm that finished
    // or yielded included, so this shows whether the pre-warm was done when the request came.
    let cache_before = cache_status(server);
    let mark = server.mark();
    let id = server.inline_completion(&uri, line, character);
    let reply = server.reply(id, WARMUP_TIMEOUT);
    let sent = server.sent_at(id);
    let status = wait_for_status(server, mark);
    let first_partial = server.messages().iter().skip(mark).find_map(|m| {
        m.notification("rill/inlineCompletion/partial")
            .filter(|params| params["requestId"] == json!(id))
            .map(|_| m.at)
    });
    let items = reply
        .outcome
        .as_ref()
        .ok()
        .and_then(|result| result["items"].as_array())
        .is_some_and(|items| !items.is_empty());
    let suggestion = reply
        .outcome
        .as_ref()
        .ok()
        .and_then(|result| result["items"].as_array())
        .and_then(|items| items.first())
        .map(rill_e2e::insert_text)
        .unwrap_or_default();
    let cache_after = cache_status(server);
    server.close(&uri);
    Ok(Prewarm {
        shown_path,
        lines,
        waited: wait,
        to_first_partial: first_partial.map(|at| at.duration_since(sent)),
        to_reply: reply.at.duration_since(sent),
        items,
        suggestion,
        status,
        cache_before,
        cache_after,
    })
}

/// The model's work over the typing, from two `rill/cacheStatus` answers.
#[derive(Clone, Copy, Debug)]
struct Work {
    /// Forward passes completion requests caused.
    completion_passes: u64,
    completion_tokens: u64,
    /// Forward passes of all kinds (pre-warming, diagnostics and next edits too).
    passes: u64,
}

impl Work {
    /// `None` when either answer is missing or comes from a server without the counters.
    fn between(before: Option<&Value>, after: Option<&Value>) -> Option<Self> {
        let (before, after) = (before?, after?);
        let delta = |key: &str| Some(after[key].as_u64()?.saturating_sub(before[key].as_u64()?));
        Some(Self {
            completion_passes: delta("completionPasses")?,
            completion_tokens: delta("completionTokens")?,
            passes: delta("modelPasses")?,
        })
    }
}

/// The answer to `rill/cacheStatus`, or `None` from a server that does not know the request.
fn cache_status(server: &Server) -> Option<Value> {
    let id = server.request("rill/cacheStatus", Value::Null);
    server.response(id, DRAIN_TIMEOUT).ok()
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
            let error = outcome.as_ref().err().map(ToString::to_string);
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
                error,
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

/// Waits for the first `rill/status` of a finished completion after log index `mark`, or gives up
/// quietly: a completion stopped by its time budget may end without one, and the report then
/// says so instead of failing the run.
fn wait_for_status(server: &Server, mark: usize) -> Option<Value> {
    let deadline = Instant::now() + STATUS_TIMEOUT;
    loop {
        let found = server.messages().into_iter().skip(mark).find_map(|m| {
            m.notification("rill/status")
                .filter(|params| is_completion_status(params))
                .cloned()
        });
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until at least `expected` completion statuses arrived after log index `mark` and then no
/// new one for [`SETTLE_QUIET`], or [`SETTLE_TIMEOUT`] passed. `expected` is a lower bound (the
/// answers with items); completed requests that answered empty send one too, which the quiet
/// period lets arrive.
fn settle_statuses(server: &Server, mark: usize, expected: usize) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut seen = usize::MAX;
    let mut changed = Instant::now();
    loop {
        let count = server
            .messages()
            .iter()
            .skip(mark)
            .filter(|m| {
                m.notification("rill/status")
                    .is_some_and(is_completion_status)
            })
            .count();
        if count != seen {
            seen = count;
            changed = Instant::now();
        }
        if (count >= expected && changed.elapsed() >= SETTLE_QUIET) || Instant::now() >= deadline {
            if count < expected {
                eprintln!("only {count} of at least {expected} completion statuses arrived");
            }
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// The CPU time (user + system, all threads) process `pid` has used so far, in seconds, from
/// fields 14 and 15 of `/proc/<pid>/stat`; `None` where that file cannot be read (not Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces, so the fields are counted
    // from after its closing parenthesis, where field 3 (the state) begins.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some((utime + stime) as f64 / clock_ticks_per_second())
}

/// The unit of the `/proc` CPU times (`sysconf(_SC_CLK_TCK)`), asked of `getconf` because the
/// crate does not link libc; 100, the value on every common Linux architecture, if that fails.
fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|ticks| *ticks > 0.0)
        .unwrap_or(100.0)
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
    prewarm: &'a Prewarm,
    /// Server CPU seconds per keystroke over the typing and its answers.
    cpu_per_keystroke: Option<f64>,
    /// The model's work over the same span, from `rill/cacheStatus`.
    work: Option<Work>,
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

    /// Keystroke → first partial in milliseconds, sorted, for every request that sent a partial.
    /// Superseded requests count too: their partials were shown as ghost text before the next
    /// keystroke replaced them, which is what streaming is for.
    fn to_any_partial(&self) -> Vec<f64> {
        let mut samples: Vec<f64> = self
            .keys
            .iter()
            .zip(self.timelines)
            .filter_map(|(k, t)| t.first_partial.map(|at| millis(at.duration_since(k.at))))
            .collect();
        samples.sort_by(f64::total_cmp);
        samples
    }

    /// How many completed requests of the typing phase each `source` served, as (typed-ahead,
    /// cache, model, statuses with a source). Each completed request sends exactly one status, so
    /// counting statuses counts requests without having to match them to their answers.
    fn sources(&self) -> (usize, usize, usize, usize) {
        let of = |name: &str| {
            self.statuses
                .iter()
                .filter(|s| s.params["source"] == json!(name))
                .count()
        };
        let with_source = self
            .statuses
            .iter()
            .filter(|s| s.params.get("source").is_some())
            .count();
        (of("typedAhead"), of("cache"), of("model"), with_source)
    }

    /// The share of completed requests served without new model work; `None` when no status
    /// carried a `source` (a server older than that field).
    fn served_without_model(&self) -> Option<f64> {
        let (typed_ahead, cache, _, with_source) = self.sources();
        (with_source > 0).then(|| (typed_ahead + cache) as f64 / with_source as f64)
    }

    /// The pre-warmed first completion: to its first partial if it sent one, else to its answer.
    fn prewarmed_first_completion(&self) -> Duration {
        self.prewarm
            .to_first_partial
            .unwrap_or(self.prewarm.to_reply)
    }

    /// The headline figures as one flat JSON object, for scripts that fill the performance table.
    /// Keystroke → first partial in milliseconds, sorted, for the requests answered with items:
    /// the suggestions the user was shown.
    fn shown_first_partial(&self) -> Vec<f64> {
        let mut samples: Vec<f64> = self
            .keys
            .iter()
            .zip(self.timelines)
            .filter(|(_, t)| t.outcome == Outcome::Items)
            .filter_map(|(k, t)| t.first_partial.map(|at| millis(at.duration_since(k.at))))
            .collect();
        samples.sort_by(f64::total_cmp);
        samples
    }

    fn json(&self) -> Value {
        let partials = self.to_any_partial();
        let shown = self.shown_first_partial();
        let per_key = |value: u64| value as f64 / self.keys.len() as f64;
        json!({
            "rhythm": format!("{:?}", self.args.rhythm).to_lowercase(),
            "keystrokes": self.keys.len(),
            "shown": self.count(Outcome::Items),
            "shown_first_partial_ms_p50": percentile(&shown, 0.5),
            "shown_first_partial_ms_p95": percentile(&shown, 0.95),
            "completion_passes_per_keystroke": self.work.map(|w| per_key(w.completion_passes)),
            "completion_tokens_per_keystroke": self.work.map(|w| per_key(w.completion_tokens)),
            "model_passes_per_keystroke": self.work.map(|w| per_key(w.passes)),
            "first_partial_ms_p50": percentile(&partials, 0.5),
            "first_partial_ms_p95": percentile(&partials, 0.95),
            "prewarmed_first_completion_ms": millis(self.prewarmed_first_completion()),
            "served_without_model_fraction": self.served_without_model(),
            "cpu_seconds_per_keystroke": self.cpu_per_keystroke,
        })
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
            "`{}`: lines 1–{} of {} opened, then {} keystrokes typed {} ms apart, {:?} rhythm \
             (VS Code profile: UTF-16, inline completion, streaming; settings: {}).",
            self.shown_path,
            self.open_lines,
            self.total_lines,
            keys.len(),
            self.args.delay_ms,
            self.args.rhythm,
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
        // The distinct messages are listed because an error during typing is a server bug to
        // chase, and the count alone does not say which.
        let mut errors: Vec<&str> = timelines
            .iter()
            .filter_map(|t| t.error.as_deref())
            .collect();
        errors.sort_unstable();
        errors.dedup();
        println!(
            "| error responses | {}{} |",
            self.count(Outcome::Error),
            if errors.is_empty() {
                String::new()
            } else {
                format!(": {}", errors.join("; ").replace('|', "\\|"))
            }
        );
        println!(
            "| keystroke → first partial, p50 / p95 (responses with items) | {} |",
            spread(to_first_partial)
        );
        println!(
            "| keystroke → first partial, p50 / p95 (every request that sent one) | {} |",
            spread(self.to_any_partial())
        );
        println!(
            "| keystroke → final response, p50 / p95 (responses with items) | {} |",
            spread(to_final)
        );
        println!(
            "| next keystroke → superseded empty answer, p50 / p95 | {} |",
            spread(supersede_delay)
        );
        let (typed_ahead, cache, from_model, with_source) = self.sources();
        let accepted: u64 = self
            .statuses
            .iter()
            .filter_map(|s| s.params["acceptedChars"].as_u64())
            .sum();
        println!(
            "| completed requests served without new model work (`source` typedAhead / cache / model) | {} of {} = {} ({typed_ahead} / {cache} / {from_model}; {} of {} keystrokes; {accepted} characters accepted) |",
            typed_ahead + cache,
            with_source,
            self.served_without_model()
                .map_or_else(|| "–".to_string(), |f| format!("{:.1}%", f * 100.0)),
            typed_ahead + cache,
            keys.len()
        );
        println!(
            "| server CPU time per keystroke (utime + stime, typing until the last status) | {} |",
            self.cpu_per_keystroke.map_or_else(
                || "– (no /proc)".to_string(),
                |cpu| format!(
                    "{:.3} s ({:.1} s over {} keystrokes)",
                    cpu,
                    cpu * keys.len() as f64,
                    keys.len()
                )
            )
        );
        println!(
            "| model work per keystroke: completion passes / tokens; all passes (pre-warm, diagnostics, next edits too) | {} |",
            self.work.map_or_else(
                || "– (no counters in `rill/cacheStatus`)".to_string(),
                |w| format!(
                    "{:.2} / {:.1}; {:.2} ({} / {} / {} over {} keystrokes)",
                    w.completion_passes as f64 / keys.len() as f64,
                    w.completion_tokens as f64 / keys.len() as f64,
                    w.passes as f64 / keys.len() as f64,
                    w.completion_passes,
                    w.completion_tokens,
                    w.passes,
                    keys.len()
                )
            )
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
        // Statuses carry no request id and a new generation's status follows the generation's
        // end, so the last status is the pause's only as a rule: a generation it adopted may end
        // after it.
        if let Some(status) = self.statuses.last().map(|s| &s.params) {
            println!(
                "| last `rill/status`: source / promptTokens / reusedTokens / TTFT / tokens/s / generated | {} / {} / {} / {} ms / {} / {} |",
                status["source"].as_str().unwrap_or("–"),
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
                    "| warm-up completion right after opening, request → answer | {:.0} ms ({status}) |",
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
            "| completions not superseded, typing and pause (`rill/status` sent) | {} (median reused share of the prompt over new generations {}) |",
            self.statuses.len(),
            percentile(&reuse, 0.5).map_or_else(|| "–".to_string(), |p| format!("{p:.1}%"))
        );
        self.print_prewarm();
        let late = self
            .late_partials
            .iter()
            .take(5)
            .map(|(id, seq)| format!("request {id} seq {seq}"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| partials after their request's response (protocol violation; warm-up and pre-warm phase included) | {}{} |",
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
             \"after request\" is the last answer before it, with how many keystrokes in it was sent; \
             a new generation's status follows the generation's end, so this pairing is approximate):"
        );
        println!();
        println!("| after request | keystroke | source | acceptedChars | promptTokens | reusedTokens | TTFT ms | tokens/s | generated | suggestion |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
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
                "| {request} | {keystroke} | {} | {} | {} | {} | {} | {} | {} | {suggestion} |",
                status.params["source"].as_str().unwrap_or("–"),
                field(&status.params, "acceptedChars"),
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

    /// The pre-warm phase's rows of the main table.
    fn print_prewarm(&self) {
        let prewarm = self.prewarm;
        let opened = format!(
            "`{}`, {} lines, opened {:.1} s before",
            prewarm.shown_path,
            prewarm.lines,
            prewarm.waited.as_secs_f64()
        );
        println!(
            "| pre-warmed first completion ({opened}): request → first partial | {} |",
            prewarm.to_first_partial.map_or_else(
                || "– (no partial)".to_string(),
                |took| format!("{:.0} ms", millis(took))
            )
        );
        let status = prewarm.status.as_ref().map_or_else(
            || "no status".to_string(),
            |s| {
                format!(
                    "source {}, promptTokens {}, reusedTokens {}, TTFT {} ms, generated {}",
                    s["source"].as_str().unwrap_or("–"),
                    field(s, "promptTokens"),
                    field(s, "reusedTokens"),
                    field(s, "timeToFirstTokenMs"),
                    field(s, "generatedTokens")
                )
            },
        );
        println!(
            "| pre-warmed first completion: request → response | {:.0} ms ({}, {}; {status}) |",
            millis(prewarm.to_reply),
            if prewarm.items { "items" } else { "empty" },
            preview(&prewarm.suggestion)
        );
        let cache = |status: &Option<Value>| {
            status.as_ref().map_or_else(
                || "–".to_string(),
                |cache| {
                    format!(
                        "{} / {} / {:.1} / {}",
                        field(cache, "cachedDocuments"),
                        field(cache, "cachedTokens"),
                        cache["cachedBytes"].as_f64().unwrap_or(f64::NAN) / 1e6,
                        field(cache, "bytesPerCachedToken")
                    )
                },
            )
        };
        println!(
            "| pre-warm phase `rill/cacheStatus` before the request → after it: documents / tokens / MB / bytes per token | {} → {} |",
            cache(&prewarm.cache_before),
            cache(&prewarm.cache_after)
        );
    }
}
