//! Next edit suggestions measured as an editor sees them: real code the project ships, one edit per case, over stdio with the real model; location top-1, exact match, silence on noise, and latency from the pause to `rill/nextEditAvailable`.
//!
//! Cases are derived from the Python workloads, deterministically:
//! - **rename**: a local variable renamed where it is assigned (expected: its next use in the
//!   block, renamed the same way), an attribute renamed where it is set (`self.x = …`; expected:
//!   the next `self.x`), a parameter renamed in its `def` (expected: its first use in the body);
//! - **parameter removed**: the last parameter of a top-level function removed from its `def`
//!   (expected: its nearest call that passes it, without that argument);
//! - **literal**: a quoted key or string repeated in the file, changed once (expected: the next
//!   occurrence, changed the same way);
//! - **noise**: a comment line, a blank line, or a new statement typed into a function, where the
//!   right answer is no suggestion at all.
//!
//! Each case opens a fresh document (pre-warming and diagnostics off, so the figure is the next
//! edit's own), asks for a completion where the edit will be (as an editor does once the cursor
//! is there, which caches the text before it), applies the edit as one `didChange`, and waits
//! for the offer. A case counts as
//! silent when nothing is offered within `--silence-ms` after the pause.

// The report on stdout (Markdown or JSON) is the whole point of this binary.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use rill_e2e::{Encoding, Profile, Server, TextModel};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Next edit suggestions: accuracy, silence on noise, latency")]
struct Args {
    /// Python files to derive the cases from (default: the diagnostics and edit-replay workloads).
    files: Vec<PathBuf>,
    /// Cases of each kind taken from each file, at most.
    #[arg(long, default_value_t = 3)]
    per_file: usize,
    /// `nextEdit.debounceMs` for the server.
    #[arg(long, default_value_t = 300)]
    debounce_ms: u64,
    /// How long after the pause an offer may come before the case counts as silent.
    #[arg(long, default_value_t = 4000)]
    silence_ms: u64,
    /// Print one flat JSON object with the headline figures instead of Markdown.
    #[arg(long)]
    json: bool,
    /// One line per case on stderr.
    #[arg(long)]
    verbose: bool,
    /// `completion.timeoutMs` for the completion asked for before each edit; the server's
    /// default (2000) leaves the cache of a long file's prompt unfinished on two cores.
    #[arg(long, default_value_t = 30_000)]
    completion_timeout_ms: u64,
    /// What renamed names become: `related` keeps the old name's meaning (`lo` → `new_lo`, as a
    /// rename that keeps the concept reads), `unrelated` picks a generic word (`lo` → `buf`).
    #[arg(long, value_enum, default_value_t = Names::Related)]
    names: Names,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Names {
    Related,
    Unrelated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rename,
    ParameterRemoved,
    Literal,
    Noise,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rename => "rename",
            Kind::ParameterRemoved => "parameter removed",
            Kind::Literal => "literal",
            Kind::Noise => "noise",
        }
    }
}

/// One case: the text, one edit of it, and the edit expected next (none for noise).
struct Case {
    kind: Kind,
    file: String,
    text: String,
    /// Byte range of `text` and its replacement: the user's edit.
    edit: (std::ops::Range<usize>, String),
    /// The expected next edit, in the text after the user's edit: byte range and new text.
    expected: Option<(std::ops::Range<usize>, String)>,
    label: String,
}

struct Outcome {
    kind: Kind,
    /// Time from the end of the pause to the offer, when one came.
    latency: Option<Duration>,
    location_hit: bool,
    exact: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the benches crate has a parent directory")?
        .to_path_buf();
    let files = if args.files.is_empty() {
        ["textwrap.py", "graphlib.py", "sched.py", "shlex.py"]
            .iter()
            .map(|name| workspace.join("benches/workloads/diagnostics").join(name))
            .chain(
                ["bisect.py", "functools.py", "heapq.py"]
                    .iter()
                    .map(|name| workspace.join("benches/workloads/edit_replay").join(name)),
            )
            .collect()
    } else {
        args.files.clone()
    };
    let mut cases = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let shown = path
            .strip_prefix(&workspace)
            .unwrap_or(path)
            .display()
            .to_string();
        cases.extend(cases_of(&shown, &text, args.per_file, args.names));
    }
    anyhow::ensure!(!cases.is_empty(), "no cases in {files:?}");
    eprintln!("{} cases from {} files", cases.len(), files.len());

    let mut profile = Profile::vscode();
    // The completion asked for before each edit must finish its prefill, as the pre-warm (off
    // here, to keep background work out of the timing) finishes it when the cursor rests before
    // an edit: otherwise a long file's completion times out after `completion.timeoutMs` with
    // part of the text before the edit uncached, and the search then pays for that prefill.
    profile.settings = json!({ "rill": {
        "nextEdit": { "debounceMs": args.debounce_ms },
        "diagnostics": { "enable": false },
        "engine": { "prewarm": false },
        "completion": { "timeoutMs": args.completion_timeout_ms }
    }});
    let server = Server::start_ready(profile);
    let mut outcomes = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let outcome = run_case(&server, index, case, &args)?;
        if args.verbose {
            eprintln!(
                "{:>3} {:<18} {:<28} {:<60} offer {:>6} hit {} exact {}",
                index,
                case.kind.name(),
                case.file,
                case.label,
                outcome
                    .latency
                    .map_or("-".to_string(), |l| format!("{}ms", l.as_millis())),
                outcome.location_hit,
                outcome.exact
            );
        }
        if args.verbose {
            for line in server
                .take_stderr()
                .lines()
                .filter(|line| line.contains("next edit"))
            {
                eprintln!(
                    "      {}",
                    line.split("next edit").nth(1).unwrap_or(line).trim()
                );
            }
        }
        outcomes.push(outcome);
    }
    report(&outcomes, &args);
    Ok(())
}

fn run_case(server: &Server, index: usize, case: &Case, args: &Args) -> Result<Outcome> {
    let uri = format!("file:///bench/next_edit/{index}.py");
    server.open(&uri, "python", &case.text);
    let model = TextModel::new(&case.text, Encoding::Utf16);
    let (start_line, start_char) = model.position(case.edit.0.start);
    let (end_line, end_char) = model.position(case.edit.0.end);
    // The user put the cursor there before editing, and the editor asked for a completion: the
    // document's cache then holds the text before the edit, as it would.
    let id = server.inline_completion(&uri, start_line, start_char);
    server
        .response(id, rill_e2e::DEFAULT_TIMEOUT)
        .map_err(|err| anyhow::anyhow!("the completion before the edit: {err}"))?;
    std::thread::sleep(Duration::from_millis(50));
    let mark = server.mark();
    server.change(
        &uri,
        2,
        vec![json!({
            "range": {
                "start": { "line": start_line, "character": start_char },
                "end": { "line": end_line, "character": end_char }
            },
            "text": case.edit.1
        })],
    );
    let pause_end = Instant::now() + Duration::from_millis(args.debounce_ms);
    let deadline = pause_end + Duration::from_millis(args.silence_ms);
    let mut offered = None;
    while Instant::now() < deadline {
        if let Some((at, params)) = server.messages().iter().skip(mark).find_map(|message| {
            message
                .notification("rill/nextEditAvailable")
                .filter(|params| params["uri"] == json!(uri))
                .map(|params| (message.at, params.clone()))
        }) {
            offered = Some((at, params));
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut outcome = Outcome {
        kind: case.kind,
        latency: offered
            .as_ref()
            .map(|(at, _)| at.saturating_duration_since(pause_end)),
        location_hit: false,
        exact: false,
    };
    if offered.is_some() {
        let id = server.request("rill/nextEdit", json!({ "textDocument": { "uri": uri } }));
        let result = server
            .response(id, rill_e2e::DEFAULT_TIMEOUT)
            .map_err(|err| anyhow::anyhow!("rill/nextEdit: {err}"))?;
        if let (Some((range, new_text)), Some(edit)) = (
            &case.expected,
            result["edits"].as_array().and_then(|e| e.first()),
        ) {
            let edited = apply(&case.text, &case.edit);
            let after = TextModel::new(&edited, Encoding::Utf16);
            let line_of = |byte: usize| after.position(byte).0;
            let got_line = edit["range"]["start"]["line"].as_u64().unwrap_or(u64::MAX) as u32;
            outcome.location_hit = got_line == line_of(range.start);
            // Exact: the document after the proposal equals the document after the expected edit.
            let proposed = apply_lsp(&edited, &after, edit);
            outcome.exact =
                proposed.as_deref() == Some(&apply(&edited, &(range.clone(), new_text.clone())));
        }
    }
    server.close(&uri);
    Ok(outcome)
}

fn apply(text: &str, edit: &(std::ops::Range<usize>, String)) -> String {
    let mut out = text.to_string();
    out.replace_range(edit.0.clone(), &edit.1);
    out
}

fn apply_lsp(text: &str, model: &TextModel, edit: &Value) -> Option<String> {
    let point = |p: &Value| -> Option<usize> {
        Some(model.offset(p["line"].as_u64()? as u32, p["character"].as_u64()? as u32))
    };
    let start = point(&edit["range"]["start"])?;
    let end = point(&edit["range"]["end"])?;
    Some(apply(
        text,
        &(start..end, edit["newText"].as_str()?.to_string()),
    ))
}

fn report(outcomes: &[Outcome], args: &Args) {
    let of = |kinds: &[Kind]| -> Vec<&Outcome> {
        outcomes
            .iter()
            .filter(|o| kinds.contains(&o.kind))
            .collect()
    };
    let propagation = of(&[Kind::Rename, Kind::ParameterRemoved, Kind::Literal]);
    let noise = of(&[Kind::Noise]);
    let percent = |count: usize, total: usize| {
        if total == 0 {
            0.0
        } else {
            100.0 * count as f64 / total as f64
        }
    };
    let top1 = percent(
        propagation.iter().filter(|o| o.location_hit).count(),
        propagation.len(),
    );
    let exact = percent(
        propagation.iter().filter(|o| o.exact).count(),
        propagation.len(),
    );
    let silent = percent(
        noise.iter().filter(|o| o.latency.is_none()).count(),
        noise.len(),
    );
    let mut latencies: Vec<f64> = outcomes
        .iter()
        .filter_map(|o| o.latency.map(|l| l.as_secs_f64() * 1000.0))
        .collect();
    latencies.sort_by(f64::total_cmp);
    let rank = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies[index.clamp(1, latencies.len()) - 1]
    };
    if args.json {
        println!(
            "{}",
            json!({
                "next_edit_cases": outcomes.len(),
                "next_edit_propagation_cases": propagation.len(),
                "next_edit_location_top1_pct": (top1 * 10.0).round() / 10.0,
                "next_edit_exact_pct": (exact * 10.0).round() / 10.0,
                "next_edit_noise_cases": noise.len(),
                "next_edit_noise_silent_pct": (silent * 10.0).round() / 10.0,
                "next_edit_latency_ms_p50": (rank(50.0) * 10.0).round() / 10.0,
                "next_edit_latency_ms_p95": (rank(95.0) * 10.0).round() / 10.0,
            })
        );
        return;
    }
    println!("## Next edit suggestions\n");
    println!("| case kind | cases | offered | location top-1 | exact match |");
    println!("|---|---:|---:|---:|---:|");
    for kind in [Kind::Rename, Kind::ParameterRemoved, Kind::Literal] {
        let cases = of(&[kind]);
        println!(
            "| {} | {} | {} | {:.0} % | {:.0} % |",
            kind.name(),
            cases.len(),
            cases.iter().filter(|o| o.latency.is_some()).count(),
            percent(cases.iter().filter(|o| o.location_hit).count(), cases.len()),
            percent(cases.iter().filter(|o| o.exact).count(), cases.len()),
        );
    }
    println!(
        "| **all propagation** | {} | {} | **{top1:.0} %** | **{exact:.0} %** |",
        propagation.len(),
        propagation.iter().filter(|o| o.latency.is_some()).count()
    );
    println!(
        "\nNoise: silent in **{silent:.0} %** of {} cases.",
        noise.len()
    );
    println!(
        "\nPause end → `rill/nextEditAvailable`: p50 **{:.0} ms**, p95 **{:.0} ms** ({} offers; debounce {} ms, 2 threads by default).",
        rank(50.0),
        rank(95.0),
        latencies.len(),
        args.debounce_ms
    );
}

/// Every case kind from one file, at most `per_file` of each.
fn cases_of(file: &str, text: &str, per_file: usize, names: Names) -> Vec<Case> {
    let mut cases = Vec::new();
    cases.extend(rename_cases(file, text, names).into_iter().take(per_file));
    cases.extend(
        parameter_rename_cases(file, text, names)
            .into_iter()
            .take(per_file.div_ceil(2)),
    );
    cases.extend(parameter_cases(file, text).into_iter().take(per_file));
    cases.extend(literal_cases(file, text).into_iter().take(per_file));
    cases.extend(noise_cases(file, text).into_iter().take(per_file));
    cases
}

/// Lines with their byte offsets.
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut offset = 0;
    text.split_inclusive('\n')
        .map(|line| {
            let start = offset;
            offset += line.len();
            (start, line.trim_end_matches(['\n', '\r']))
        })
        .collect()
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Whole-word occurrences of `name` in `text[range]` outside comments and strings, as byte
/// offsets; `dotted` picks attribute uses (`.name`) or plain ones.
fn uses(text: &str, name: &str, range: std::ops::Range<usize>, dotted: bool) -> Vec<usize> {
    let prose = rill_server::diagnostics::prose::prose_ranges(text, "python");
    text[range.clone()]
        .match_indices(name)
        .map(|(offset, _)| range.start + offset)
        .filter(|&at| {
            let before = text[..at].chars().next_back();
            let after = text[at + name.len()..].chars().next();
            !before.is_some_and(is_word)
                && !after.is_some_and(is_word)
                && (before == Some('.')) == dotted
                && !rill_server::diagnostics::prose::inside(&prose, at)
        })
        .collect()
}

/// The end (byte offset) of the block that the line at `line_index` sits in: the first later
/// non-blank line indented less.
fn block_end(lines: &[(usize, &str)], line_index: usize, text_len: usize) -> usize {
    let level = indent(lines[line_index].1);
    lines[line_index + 1..]
        .iter()
        .find(|(_, line)| !line.trim().is_empty() && indent(line) < level)
        .map_or(text_len, |(start, _)| *start)
}

const NEW_NAMES: [&str; 8] = [
    "result", "value", "acc", "current", "buf", "out", "tmp", "item",
];

fn fresh_name(text: &str, old: &str, seed: usize, names: Names) -> String {
    let unused = |name: &str| {
        uses(text, name, 0..text.len(), false).is_empty()
            && uses(text, name, 0..text.len(), true).is_empty()
    };
    if names == Names::Related {
        let related = format!("new_{}", old.trim_start_matches('_'));
        if unused(&related) {
            return related;
        }
    }
    (0..NEW_NAMES.len())
        .map(|i| NEW_NAMES[(seed + i) % NEW_NAMES.len()])
        .find(|name| unused(name))
        .unwrap_or("renamed")
        .to_string()
}

fn rename_cases(file: &str, text: &str, names: Names) -> Vec<Case> {
    let lines = lines(text);
    let mut cases = Vec::new();
    for (index, (start, line)) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if indent(line) == 0 || trimmed.starts_with('#') {
            continue;
        }
        // `name = …` or `self.name = …`
        let (dotted, name_start) = if let Some(rest) = trimmed.strip_prefix("self.") {
            (
                true,
                start + indent(line) + 5 + (trimmed.len() - 5 - rest.len()),
            )
        } else {
            (false, start + indent(line))
        };
        let name: String = text[name_start..]
            .chars()
            .take_while(|c| is_word(*c))
            .collect();
        if name.len() < 2 || name == "self" || name.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let after_name = &text[name_start + name.len()..start + line.len()];
        if !after_name.starts_with(" = ") {
            continue;
        }
        let end = if dotted {
            text.len()
        } else {
            block_end(&lines, index, text.len())
        };
        let site = name_start..name_start + name.len();
        let Some(&next) = uses(text, &name, site.end..end, dotted).first() else {
            continue;
        };
        // Only where the name is defined: an attribute's first `self.name` in the file, a local's
        // first use in its function (not a parameter, not a reassignment).
        let defined_from = if dotted {
            0
        } else {
            lines[..index]
                .iter()
                .rev()
                .find(|(_, line)| {
                    line.trim_start().starts_with("def ") && indent(line) < indent(lines[index].1)
                })
                .map_or(0, |(start, _)| *start)
        };
        if !uses(text, &name, defined_from..site.start, dotted).is_empty() {
            continue;
        }
        let new = fresh_name(text, &name, cases.len() + index, names);
        let shift = new.len() as isize - name.len() as isize;
        let next_after = (next as isize + shift) as usize;
        cases.push(Case {
            kind: Kind::Rename,
            file: file.to_string(),
            text: text.to_string(),
            edit: (site, new.clone()),
            expected: Some((next_after..next_after + name.len(), new.clone())),
            label: format!(
                "{}{name} → {new} (line {})",
                if dotted { "self." } else { "" },
                index + 1
            ),
        });
    }
    // Spread the cases over the file rather than taking its first lines only.
    spread(cases)
}

/// A parameter renamed in its `def` (expected: its first use in the body).
fn parameter_rename_cases(file: &str, text: &str, names: Names) -> Vec<Case> {
    let lines = lines(text);
    let mut cases = Vec::new();
    for (index, (start, line)) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("def ") else {
            continue;
        };
        let Some(open) = rest.find('(') else { continue };
        let Some(close) = rest.find(')') else {
            continue;
        };
        let base = start + (line.len() - trimmed.len()) + 4 + open + 1;
        let mut offset = base;
        for parameter in rest[open + 1..close].split(',') {
            let lead = parameter.len() - parameter.trim_start().len();
            let name: String = parameter
                .trim_start()
                .chars()
                .take_while(|c| is_word(*c))
                .collect();
            let site = offset + lead..offset + lead + name.len();
            offset += parameter.len() + 1;
            if name.len() < 2 || name == "self" || name == "cls" {
                continue;
            }
            let end = block_end(&lines, (index + 1).min(lines.len() - 1), text.len());
            let body = start + line.len()..end.max(start + line.len());
            let Some(&next) = uses(text, &name, body, false).first() else {
                continue;
            };
            let new = fresh_name(text, &name, cases.len() + index, names);
            let next_after = next + new.len() - name.len();
            cases.push(Case {
                kind: Kind::Rename,
                file: file.to_string(),
                text: text.to_string(),
                edit: (site, new.to_string()),
                expected: Some((next_after..next_after + name.len(), new.to_string())),
                label: format!("parameter {name} → {new} (line {})", index + 1),
            });
            break;
        }
    }
    spread(cases)
}

fn parameter_cases(file: &str, text: &str) -> Vec<Case> {
    let lines = lines(text);
    let mut cases = Vec::new();
    for (index, (start, line)) in lines.iter().enumerate() {
        let Some(rest) = line.strip_prefix("def ") else {
            continue;
        };
        let name: String = rest.chars().take_while(|c| is_word(*c)).collect();
        let open = start + 4 + name.len();
        if text.as_bytes().get(open) != Some(&b'(') {
            continue;
        }
        let Some(close) = text[open..start + line.len()].find(')') else {
            continue;
        };
        let inside = open + 1..open + close;
        let parameters: Vec<&str> = text[inside.clone()].split(',').map(str::trim).collect();
        if parameters.len() < 2
            || parameters
                .iter()
                .any(|p| p.contains(['=', '*', ':']) || p.is_empty())
        {
            continue;
        }
        // The nearest call passing every parameter.
        let call = format!("{name}(");
        let mut calls: Vec<(usize, std::ops::Range<usize>, Vec<String>)> = Vec::new();
        for (at, _) in text.match_indices(&call) {
            if at == start + 4
                || text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| is_word(c) || c == '.')
            {
                continue;
            }
            let open = at + call.len() - 1;
            let Some(close) = text[open..].find(')') else {
                continue;
            };
            let arguments = &text[open + 1..open + close];
            if arguments.contains(['(', '\n']) {
                continue;
            }
            let split: Vec<String> = arguments.split(',').map(|a| a.trim().to_string()).collect();
            if split.len() == parameters.len()
                && split.iter().all(|a| !a.is_empty() && !a.contains('='))
            {
                calls.push((at, open + 1..open + close, split));
            }
        }
        let after_def: Vec<_> = calls.iter().filter(|(at, _, _)| *at > open).collect();
        let Some((_, range, arguments)) = after_def.first().copied().or(calls.first()) else {
            continue;
        };
        let removed = format!(", {}", parameters[parameters.len() - 1]);
        let cut = inside.end - removed.len()..inside.end;
        if text[cut.clone()] != removed {
            continue;
        }
        let cut_start = cut.start;
        let shift = |at: usize| {
            if at > cut_start {
                at - removed.len()
            } else {
                at
            }
        };
        let kept = arguments[..arguments.len() - 1].join(", ");
        cases.push(Case {
            kind: Kind::ParameterRemoved,
            file: file.to_string(),
            text: text.to_string(),
            edit: (cut, String::new()),
            expected: Some((shift(range.start)..shift(range.end), kept)),
            label: format!("def {name}: last parameter removed (line {})", index + 1),
        });
    }
    spread(cases)
}

fn literal_cases(file: &str, text: &str) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for quote in ['\'', '"'] {
        let mut at = 0;
        while let Some(offset) = text[at..].find(quote) {
            let open = at + offset;
            let Some(length) = text[open + 1..].find(quote) else {
                break;
            };
            let content = &text[open + 1..open + 1 + length];
            at = open + length + 2;
            if content.len() < 3
                || !content.chars().all(is_word)
                || !seen.insert(content.to_string())
            {
                continue;
            }
            let literal = format!("{quote}{content}{quote}");
            let others: Vec<usize> = text[at..]
                .match_indices(&literal)
                .map(|(o, _)| at + o)
                .collect();
            let Some(&next) = others.first() else {
                continue;
            };
            let new = format!("{content}_v2");
            let shift = new.len() - content.len();
            cases.push(Case {
                kind: Kind::Literal,
                file: file.to_string(),
                text: text.to_string(),
                edit: (open + 1..open + 1 + length, new.clone()),
                expected: Some((
                    next + shift + 1..next + shift + 1 + content.len(),
                    new.clone(),
                )),
                label: format!("{literal} → {quote}{new}{quote}"),
            });
        }
    }
    spread(cases)
}

fn noise_cases(file: &str, text: &str) -> Vec<Case> {
    let lines = lines(text);
    let bodies: Vec<&(usize, &str)> = lines
        .iter()
        .filter(|(_, line)| {
            indent(line) >= 4
                && !line.trim().is_empty()
                && !line
                    .trim_start()
                    .starts_with(['#', '"', '\'', '@', ')', ']', '}'])
        })
        .collect();
    if bodies.is_empty() {
        return Vec::new();
    }
    let pick = |k: usize| bodies[(k * 7919 + bodies.len() / 3) % bodies.len()];
    let mut cases = Vec::new();
    let kinds = [
        ("comment line", "# keep this in sync with the docs"),
        ("blank line", ""),
        ("fresh statement", "checked = True"),
    ];
    for (k, (label, inserted)) in kinds.iter().enumerate() {
        let (start, line) = pick(k + 1);
        let pad = " ".repeat(indent(line));
        let new_line = if inserted.is_empty() {
            "\n".to_string()
        } else {
            format!("{pad}{inserted}\n")
        };
        cases.push(Case {
            kind: Kind::Noise,
            file: file.to_string(),
            text: text.to_string(),
            edit: (*start..*start, new_line),
            expected: None,
            label: format!(
                "{label} before line {}",
                text[..*start].matches('\n').count() + 1
            ),
        });
    }
    cases
}

/// Every other case, then the rest: a file's cases spread over it.
fn spread(cases: Vec<Case>) -> Vec<Case> {
    let step = (cases.len() / 4).max(1);
    let mut order: Vec<usize> = (0..cases.len()).step_by(step).collect();
    order.extend((0..cases.len()).filter(|i| i % step != 0));
    let mut slots: Vec<Option<Case>> = cases.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
