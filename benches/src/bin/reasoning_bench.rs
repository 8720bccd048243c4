//! Measures what rill's reasoning chains (`rill.reason`) do to real code: whether `fix` repairs an injected fault, and whether `improve` ever applies a result that breaks a correct function, with the guards on.
//!
//! The corpus is `benches/workloads/reasoning/cases.py` (see `SOURCES.md` there): small functions
//! from the CPython modules the benches ship, each with a buggy copy holding one injected fault and
//! a check (Python assertions) that passes on the correct function and fails on the buggy one.
//! Every check is run against both versions before the models are started, and a case whose
//! check does not tell them apart stops the bench: a broken case would make every figure wrong.
//!
//! For each model one `rill --stdio` is started with `reasoning.apply: "immediately"` (the fake
//! client of the e2e harness answers `workspace/applyEdit` with `applied: true`, so `applied`
//! means "passed every guard and was written"). For each case a document holding the prelude and
//! the function is opened and the chain runs over the function's lines:
//!
//! - `fix` on the buggy version: **fixed** (applied, the check passes), **harm** (applied, the check
//!   still fails), **rejected** (a guard's `rejectedBy`), **nothing** (no kept step, not applied);
//! - `improve` on the correct version: **kept correct** (applied, the check passes), **harm**
//!   (applied, the check fails: a working function broken by a result the guards let through, the
//!   number that must stay 0), **rejected**, **nothing**.
//!
//! The result of an applied chain is the last kept step's `after` (the selection's new text); it
//! is run with the prelude and the check by `python3` with a 5-second limit, a timeout counting as
//! a failing check.

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;
use rill_e2e::{Profile, Server};
use serde_json::{json, Value};

/// How long one check may run before it counts as failing (a fault can make a loop endless).
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Extra time, beyond `reasoning.timeoutMs`, that the server gets to answer a chain: the guards,
/// the edit and the answer come after the model stops.
const ANSWER_SLACK: Duration = Duration::from_secs(120);

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModelChoice {
    /// The default Gemma 3 270M base model (few-shot prompt).
    Default,
    /// SmolLM2-135M-Instruct (its chat template).
    Smollm2,
    Both,
}

#[derive(Parser, Debug)]
#[command(about = "Runs rill's fix and improve reasoning chains over functions with checks")]
struct Args {
    /// Which model to run the chains with.
    #[arg(long, value_enum, default_value = "both")]
    model: ModelChoice,
    /// Use only the first N cases of the corpus.
    #[arg(long)]
    limit: Option<usize>,
    /// `reasoning.timeoutMs`: a chain still writing then goes on with the steps written so far.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
    /// `reasoning.maxSteps`.
    #[arg(long, default_value_t = 2)]
    max_steps: u64,
    /// The corpus script (it prints the cases as JSON).
    #[arg(long)]
    cases: Option<PathBuf>,
    /// The Python interpreter that runs the corpus script and the checks.
    #[arg(long, default_value = "python3")]
    python: String,
    /// One line per case and task, and the code of every harmful result.
    #[arg(long)]
    verbose: bool,
    /// Print one JSON object instead of Markdown.
    #[arg(long)]
    json: bool,
    /// Instead of running chains, measure the guard "the model must prefer the result" in
    /// process: how the model scores each true fix (buggy → correct), each injected bug
    /// (correct → buggy) and a gross rewrite (the body's statements in reverse order), against the
    /// code it replaces, with the bound the server uses.
    #[arg(long)]
    preference: bool,
}

/// One function of the corpus.
#[derive(Debug, Clone)]
struct Case {
    name: String,
    kind: String,
    prelude: String,
    correct: String,
    buggy: String,
    check: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Task {
    Fix,
    Improve,
}

impl Task {
    fn name(self) -> &'static str {
        match self {
            Task::Fix => "fix",
            Task::Improve => "improve",
        }
    }
}

/// What one chain did.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// Applied and the check passes (fixed, or kept correct).
    Good,
    /// Applied and the check fails.
    Harm,
    /// A guard refused the result; its reason.
    Rejected(String),
    /// No kept step and nothing applied; why the first written step was dropped, if one was.
    Nothing(Option<String>),
    /// Kept steps, no guard refused them, and still not applied; the server's reason.
    NotApplied(String),
    /// The request failed or the server did not answer in time.
    Error(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Good => "good",
            Outcome::Harm => "harm",
            Outcome::Rejected(_) => "rejected",
            Outcome::Nothing(_) => "nothing",
            Outcome::NotApplied(_) => "not_applied",
            Outcome::Error(_) => "error",
        }
    }
}

/// One chain's record.
#[derive(Debug, Clone)]
struct Run {
    case: usize,
    task: Task,
    outcome: Outcome,
    seconds: f64,
    timed_out: bool,
    steps: usize,
    /// The applied code (the selection's new text), when something was applied.
    result: Option<String>,
    /// The last line of the check's error output, for a failing check.
    check_error: Option<String>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let script = args.cases.clone().unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workloads/reasoning/cases.py")
    });
    let mut cases = load_cases(&args.python, &script)?;
    if let Some(limit) = args.limit {
        cases.truncate(limit);
    }
    verify_cases(&args.python, &cases)?;
    eprintln!(
        "{} cases verified: every check passes on the correct function and fails on the buggy one",
        cases.len()
    );

    let models: Vec<(&str, PathBuf)> = match args.model {
        ModelChoice::Default => vec![("default (Gemma 3 270M)", rill_e2e::model_path())],
        ModelChoice::Smollm2 => vec![("SmolLM2-135M-Instruct", rill_e2e::smollm2_path())],
        ModelChoice::Both => vec![
            ("default (Gemma 3 270M)", rill_e2e::model_path()),
            ("SmolLM2-135M-Instruct", rill_e2e::smollm2_path()),
        ],
    };
    if args.preference {
        for (label, path) in &models {
            ensure!(path.is_file(), "the model {} is missing", path.display());
            preference_report(label, path, &cases)?;
        }
        return Ok(());
    }
    let mut reports = Vec::new();
    for (label, path) in &models {
        ensure!(path.is_file(), "the model {} is missing", path.display());
        let runs = run_model(&args, label, path, &cases)?;
        reports.push((label.to_string(), path.clone(), runs));
    }

    if args.json {
        let models: Vec<Value> = reports
            .iter()
            .map(|(label, path, runs)| {
                json!({
                    "model": label,
                    "path": path,
                    "fix": summary_json(runs, Task::Fix),
                    "improve": summary_json(runs, Task::Improve),
                    "runs": runs.iter().map(|run| json!({
                        "case": cases[run.case].name,
                        "kind": cases[run.case].kind,
                        "task": run.task.name(),
                        "outcome": run.outcome.label(),
                        "reason": match &run.outcome {
                            Outcome::Rejected(reason) | Outcome::NotApplied(reason) | Outcome::Error(reason) => Some(reason.clone()),
                            Outcome::Nothing(dropped) => dropped.clone(),
                            _ => None,
                        },
                        "seconds": run.seconds,
                        "timedOut": run.timed_out,
                        "steps": run.steps,
                        "result": run.result,
                        "checkError": run.check_error,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "cases": cases.len(),
                "timeoutMs": args.timeout_ms,
                "maxSteps": args.max_steps,
                "models": models,
            }))?
        );
        return Ok(());
    }

    println!(
        "reasoning_bench: {} cases, reasoning.timeoutMs {}, maxSteps {}, apply immediately\n",
        cases.len(),
        args.timeout_ms,
        args.max_steps
    );
    for (label, _, runs) in &reports {
        println!("### {label}\n");
        print_table(runs);
        print_reasons(runs);
        print_harm(runs, &cases);
        if args.verbose {
            print_runs(runs, &cases);
        }
    }
    Ok(())
}

/// Runs the corpus script and reads the cases it prints.
fn load_cases(python: &str, script: &Path) -> Result<Vec<Case>> {
    let output = Command::new(python)
        .arg(script)
        .output()
        .with_context(|| format!("run {python} {}", script.display()))?;
    ensure!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let value: Value = serde_json::from_slice(&output.stdout).context("the cases' JSON")?;
    let field = |case: &Value, name: &str| -> Result<String> {
        case[name]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("a case without `{name}`: {case}"))
    };
    let mut cases = Vec::new();
    for case in value.as_array().context("the cases are a JSON array")? {
        cases.push(Case {
            name: field(case, "name")?,
            kind: field(case, "kind")?,
            prelude: field(case, "prelude")?,
            correct: field(case, "correct")?,
            buggy: field(case, "buggy")?,
            check: field(case, "check")?,
        });
    }
    ensure!(!cases.is_empty(), "{} has no cases", script.display());
    Ok(cases)
}

/// Refuses a corpus where some check does not pass on the correct function and fail on the buggy one.
fn verify_cases(python: &str, cases: &[Case]) -> Result<()> {
    let mut broken = Vec::new();
    for case in cases {
        ensure!(
            case.correct.is_ascii() && case.buggy.is_ascii() && case.prelude.is_ascii(),
            "{}: the document must be ASCII (positions are counted in bytes here)",
            case.name
        );
        if let Err(error) = run_check(python, case, &case.correct) {
            broken.push(format!(
                "{}: the check fails on the correct function: {error}",
                case.name
            ));
        }
        if run_check(python, case, &case.buggy).is_ok() {
            broken.push(format!(
                "{}: the check passes on the buggy function",
                case.name
            ));
        }
    }
    if !broken.is_empty() {
        bail!("broken cases:\n{}", broken.join("\n"));
    }
    Ok(())
}

/// The document's text before the function: the prelude and two blank lines, as PEP 8 spaces a module.
fn head(case: &Case) -> String {
    if case.prelude.is_empty() {
        String::new()
    } else {
        format!("{}\n\n\n", case.prelude.trim_end())
    }
}

/// Runs `code` (the function's text) with the case's prelude and check; `Err` holds why it failed.
fn run_check(python: &str, case: &Case, code: &str) -> std::result::Result<(), String> {
    let mut code = code.to_string();
    if !code.ends_with('\n') {
        code.push('\n');
    }
    let program = format!("{}{code}\n\n{}", head(case), case.check);
    let dir = std::env::temp_dir();
    let unique = format!("rill-reasoning-{}-{}", std::process::id(), next_serial());
    let file = dir.join(format!("{unique}.py"));
    let errors = dir.join(format!("{unique}.err"));
    fs::write(&file, program).map_err(|error| format!("write {}: {error}", file.display()))?;
    let result = (|| {
        let stderr = fs::File::create(&errors).map_err(|error| error.to_string())?;
        let mut child = Command::new(python)
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|error| format!("start {python}: {error}"))?;
        let start = Instant::now();
        loop {
            match child.try_wait().map_err(|error| error.to_string())? {
                Some(status) if status.success() => return Ok(()),
                Some(_) => {
                    let text = fs::read_to_string(&errors).unwrap_or_default();
                    let last = text.lines().last().unwrap_or("(no output)").to_string();
                    return Err(last);
                }
                None if start.elapsed() > CHECK_TIMEOUT => {
                    // Our own child: a fault (or a model's rewrite) that loops forever.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("timed out after {} s", CHECK_TIMEOUT.as_secs()));
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    })();
    let _ = fs::remove_file(&file);
    let _ = fs::remove_file(&errors);
    result
}

/// A counter for unique temporary file names within this process.
fn next_serial() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Starts one server with the model and runs both tasks over every case.
fn run_model(args: &Args, label: &str, model: &Path, cases: &[Case]) -> Result<Vec<Run>> {
    eprintln!("{label}: starting rill --stdio with {}", model.display());
    let server = Server::spawn(Profile::vscode());
    server.set_settings(json!({ "rill": {
        "model": { "path": model },
        "diagnostics": { "enable": false },
        "reasoning": {
            "timeoutMs": args.timeout_ms,
            "maxSteps": args.max_steps,
            "apply": "immediately"
        }
    }}));
    server.initialize();
    server.wait_until_ready();
    let mut runs = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        for task in [Task::Fix, Task::Improve] {
            let run = run_chain(args, &server, index, case, task);
            eprintln!(
                "{label}: {}/{} {} {}: {}{} ({:.1} s, {} steps{})",
                index + 1,
                cases.len(),
                case.name,
                task.name(),
                run.outcome.label(),
                match &run.outcome {
                    Outcome::Rejected(reason)
                    | Outcome::NotApplied(reason)
                    | Outcome::Error(reason)
                    | Outcome::Nothing(Some(reason)) => format!(": {reason}"),
                    _ => String::new(),
                },
                run.seconds,
                run.steps,
                if run.timed_out { ", timed out" } else { "" }
            );
            runs.push(run);
        }
    }
    Ok(runs)
}

/// Opens the case's document for the task, runs the chain over the function and judges the result.
fn run_chain(args: &Args, server: &Server, index: usize, case: &Case, task: Task) -> Run {
    let code = match task {
        Task::Fix => &case.buggy,
        Task::Improve => &case.correct,
    };
    let head = head(case);
    let uri = format!("file:///bench/reasoning/{index:02}_{}.py", task.name());
    server.open(&uri, "python", &format!("{head}{code}"));
    let first = head.lines().count();
    let last = first + code.lines().count();
    let selection = json!({
        "start": { "line": first, "character": 0 },
        "end": { "line": last, "character": 0 }
    });
    let start = Instant::now();
    let id = server.request(
        "workspace/executeCommand",
        json!({ "command": "rill.reason", "arguments": [{ "uri": uri, "range": selection, "task": task.name() }] }),
    );
    let answer = server.response(id, Duration::from_millis(args.timeout_ms) + ANSWER_SLACK);
    let seconds = start.elapsed().as_secs_f64();
    server.close(&uri);
    let mut run = Run {
        case: index,
        task,
        outcome: Outcome::Nothing(None),
        seconds,
        timed_out: false,
        steps: 0,
        result: None,
        check_error: None,
    };
    let result = match answer {
        Ok(result) => result,
        Err(error) => {
            run.outcome = Outcome::Error(format!("{error:?}"));
            return run;
        }
    };
    run.timed_out = result["timedOut"] == true;
    run.steps = result["steps"].as_array().map_or(0, Vec::len);
    let kept = result["kept"].as_array().cloned().unwrap_or_default();
    if result["applied"] == true {
        let after = kept
            .last()
            .and_then(|step| step["after"].as_str())
            .unwrap_or_default()
            .to_string();
        match run_check(&args.python, case, &after) {
            Ok(()) => run.outcome = Outcome::Good,
            Err(error) => {
                run.outcome = Outcome::Harm;
                run.check_error = Some(error);
            }
        }
        run.result = Some(after);
    } else if let Some(reason) = result["rejectedBy"].as_str() {
        run.outcome = Outcome::Rejected(reason.to_string());
    } else if kept.is_empty() {
        let dropped = result["dropped"]
            .as_array()
            .and_then(|dropped| dropped.first())
            .and_then(|step| step["reason"].as_str())
            .map(str::to_string);
        run.outcome = Outcome::Nothing(dropped);
    } else {
        let reason = result["notApplied"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        run.outcome = Outcome::NotApplied(reason);
    }
    run
}

/// The guard a rejection came from, from the start of its reason (server/src/reasoning/guards.rs).
fn guard_of(reason: &str) -> String {
    let known = [
        ("the result looks like", "other language"),
        ("the result copies the prompt's example", "copied example"),
        ("a step repeats the prompt's own text", "copied reasoning"),
        (
            "the result is not about the selection",
            "not about the selection",
        ),
    ];
    for (prefix, name) in known {
        if reason.starts_with(prefix) {
            return name.to_string();
        }
    }
    if reason.contains("which no step said to change") {
        return "definitions kept".to_string();
    }
    // An unknown guard: its first words, so that a new one still shows up as its own row.
    reason
        .split_whitespace()
        .take(5)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Counts of one task's outcomes.
#[derive(Default)]
struct Summary {
    cases: usize,
    applied: usize,
    good: usize,
    harm: usize,
    rejected: usize,
    nothing: usize,
    not_applied: usize,
    errors: usize,
    timed_out: usize,
    seconds: f64,
    by_guard: BTreeMap<String, usize>,
}

fn summarize(runs: &[Run], task: Task) -> Summary {
    let mut summary = Summary::default();
    for run in runs.iter().filter(|run| run.task == task) {
        summary.cases += 1;
        summary.seconds += run.seconds;
        summary.timed_out += usize::from(run.timed_out);
        match &run.outcome {
            Outcome::Good => {
                summary.applied += 1;
                summary.good += 1;
            }
            Outcome::Harm => {
                summary.applied += 1;
                summary.harm += 1;
            }
            Outcome::Rejected(reason) => {
                summary.rejected += 1;
                *summary.by_guard.entry(guard_of(reason)).or_default() += 1;
            }
            Outcome::Nothing(_) => summary.nothing += 1,
            Outcome::NotApplied(_) => summary.not_applied += 1,
            Outcome::Error(_) => summary.errors += 1,
        }
    }
    summary
}

fn summary_json(runs: &[Run], task: Task) -> Value {
    let summary = summarize(runs, task);
    json!({
        "cases": summary.cases,
        "applied": summary.applied,
        "good": summary.good,
        "harm": summary.harm,
        "harmRate": ratio(summary.harm, summary.cases),
        "rejected": summary.rejected,
        "rejectedBy": summary.by_guard,
        "nothing": summary.nothing,
        "notApplied": summary.not_applied,
        "errors": summary.errors,
        "timedOut": summary.timed_out,
        "meanSeconds": summary.seconds / summary.cases.max(1) as f64,
    })
}

fn ratio(part: usize, whole: usize) -> f64 {
    part as f64 / whole.max(1) as f64
}

fn print_table(runs: &[Run]) {
    println!("| task | cases | applied | fixed / kept correct | harm (rate) | rejected by guards | nothing | other | timed out | mean s |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for task in [Task::Fix, Task::Improve] {
        let s = summarize(runs, task);
        println!(
            "| {} | {} | {} | {} | {} ({:.1} %) | {} | {} | {} | {} | {:.1} |",
            task.name(),
            s.cases,
            s.applied,
            s.good,
            s.harm,
            100.0 * ratio(s.harm, s.cases),
            s.rejected,
            s.nothing,
            s.not_applied + s.errors,
            s.timed_out,
            s.seconds / s.cases.max(1) as f64
        );
    }
    println!();
}

/// The rejections per guard and task.
fn print_reasons(runs: &[Run]) {
    let fix = summarize(runs, Task::Fix).by_guard;
    let improve = summarize(runs, Task::Improve).by_guard;
    if fix.is_empty() && improve.is_empty() {
        println!("No result was rejected by a guard.\n");
        return;
    }
    let mut guards: Vec<&String> = fix.keys().chain(improve.keys()).collect();
    guards.sort();
    guards.dedup();
    println!("| guard | fix | improve |");
    println!("|---|---:|---:|");
    for guard in guards {
        println!(
            "| {guard} | {} | {} |",
            fix.get(guard).copied().unwrap_or(0),
            improve.get(guard).copied().unwrap_or(0)
        );
    }
    println!();
}

/// Every applied result whose check fails, with its code: what the guards let through.
fn print_harm(runs: &[Run], cases: &[Case]) {
    let harmful: Vec<&Run> = runs
        .iter()
        .filter(|run| run.outcome == Outcome::Harm)
        .collect();
    if harmful.is_empty() {
        println!("No applied result failed its check.\n");
        return;
    }
    println!("Applied results that fail their check:\n");
    for run in harmful {
        let case = &cases[run.case];
        println!(
            "- `{}` ({}, fault {}): {}\n\n```python\n{}\n```\n",
            case.name,
            run.task.name(),
            case.kind,
            run.check_error.as_deref().unwrap_or(""),
            run.result.as_deref().unwrap_or("").trim_end()
        );
    }
}

fn print_runs(runs: &[Run], cases: &[Case]) {
    println!("| case | fault | task | outcome | steps | s |");
    println!("|---|---|---|---|---:|---:|");
    for run in runs {
        let case = &cases[run.case];
        let detail = match &run.outcome {
            Outcome::Rejected(reason)
            | Outcome::NotApplied(reason)
            | Outcome::Error(reason)
            | Outcome::Nothing(Some(reason)) => {
                format!("{}: {}", run.outcome.label(), reason.replace('|', "\\|"))
            }
            Outcome::Harm => format!(
                "harm: {}",
                run.check_error.as_deref().unwrap_or("").replace('|', "\\|")
            ),
            other => other.label().to_string(),
        };
        println!(
            "| {} | {} | {} | {} | {}{} | {:.1} |",
            case.name,
            case.kind,
            run.task.name(),
            detail,
            run.steps,
            if run.timed_out { " (timed out)" } else { "" },
            run.seconds
        );
    }
    println!();
}

/// `--preference`: the model's check of a result, measured on the corpus without chains.
fn preference_report(label: &str, path: &Path, cases: &[Case]) -> Result<()> {
    use rill_server::engine::prefer::{compare, PreferInput};
    use rill_server::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
    use rill_server::reasoning::guards::MAX_PREFERENCE_DROP;

    let loaded = rill_model::LoadedModel::load(path, rill_model::LoadOptions::default())?;
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    let mut drops: [Vec<(f32, &str)>; 3] = Default::default();
    for case in cases {
        let reversed = reverse_body(&case.correct);
        let pairs = [
            (&case.buggy, &case.correct),
            (&case.correct, &case.buggy),
            (&case.correct, &reversed),
        ];
        for (kind, (original, result)) in pairs.into_iter().enumerate() {
            let input = PreferInput {
                context: case.prelude.clone(),
                original: original.clone(),
                result: result.clone(),
                following: String::new(),
            };
            let preference = compare(
                &loaded,
                &mut store,
                &rill_server::engine::SequenceKey::reasoning("bench"),
                &input,
                &|| false,
            )?
            .context("not cancelled")?;
            drops[kind].push((preference.drop(), &case.name));
        }
    }
    println!("### {label}: the model's check (drop in nats per token; rejected above {MAX_PREFERENCE_DROP})\n");
    println!("| result | cases | min | median | max | rejected |");
    println!("|---|---:|---:|---:|---:|---:|");
    let labels = [
        "true fix (buggy → correct)",
        "injected bug (correct → buggy)",
        "body reversed (correct → reversed)",
    ];
    for (label, values) in labels.iter().zip(drops.iter_mut()) {
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        let rejected = values
            .iter()
            .filter(|(drop, _)| *drop > MAX_PREFERENCE_DROP)
            .count();
        println!(
            "| {label} | {} | {:+.3} ({}) | {:+.3} | {:+.3} ({}) | {rejected} |",
            values.len(),
            values[0].0,
            values[0].1,
            values[values.len() / 2].0,
            values[values.len() - 1].0,
            values[values.len() - 1].1,
        );
    }
    println!();
    Ok(())
}

/// The function with the statements of its body in reverse order (the `def` line stays first):
/// still Python with the same names, so only the model's check can tell it is wrong.
fn reverse_body(code: &str) -> String {
    let mut lines: Vec<&str> = code.lines().collect();
    if lines.len() > 2 {
        lines[1..].reverse();
    }
    let mut reversed = lines.join("\n");
    reversed.push('\n');
    reversed
}
