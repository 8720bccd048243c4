//! Measures speculative (prompt-lookup) decoding against plain greedy decoding on real files re-typed with small changes, and prints a Markdown table (or, with `--json`, one JSON object).
//!
//! The workload is what prompt lookup is for: each prompt is a real source file cut just after the
//! first line of a function that nearly repeats an earlier one (see
//! `benches/workloads/edit_replay/README.md`), so much of the continuation can be copied from the
//! prompt. Both modes generate the same tokens (the binary checks that), so the only difference
//! is how many forward passes they take and what those passes cost.

// The report on stdout is the whole point of this binary, so printing there is intended; progress
// messages go to stderr so that stdout can be redirected as it is.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use rill_model::generate::{generate, prepare_prompt, Generation, GenerationParams};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{DraftParams, LoadOptions, LoadedModel, Sequence, Tokenizer};

/// The cases: a file of the workload and the start of the line after which it is cut.
const CASES: [(&str, &str); 5] = [
    ("bisect.py", "def bisect_left("),
    ("heapq.py", "def _siftup_max("),
    ("heapq.py", "def nlargest("),
    ("functools.py", "def _ge_from_le("),
    ("sampling.rs", "    fn min_p_excludes_unlikely_tokens() {"),
];

/// Which prompts to run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// Real files re-typed with small changes (`benches/workloads/edit_replay`), where prompt
    /// lookup is expected to pay off.
    EditReplay,
    /// The llama.cpp reference prompts (`tests/reference/greedy.jsonl`): short, ordinary
    /// completions where most drafts are wrong, to see what drafting costs when it does not help.
    Reference,
}

#[derive(Parser, Debug)]
#[command(about = "Benchmarks speculative decoding against plain greedy decoding")]
struct Args {
    /// The prompts to run.
    #[arg(long, value_enum, default_value_t = Workload::EditReplay)]
    workload: Workload,
    /// Worker threads for the matrix kernels, including the calling thread.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Tokens generated per request.
    #[arg(long, default_value_t = 128)]
    tokens: usize,
    /// Timed runs per case and mode; each figure is the median.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Most prompt tokens taken from the end of the cut file (the server's default window).
    #[arg(long, default_value_t = 1536)]
    context_tokens: usize,
    /// `DraftParams::max_draft` of the speculative runs (default: rill's default).
    #[arg(long)]
    max_draft: Option<usize>,
    /// `DraftParams::max_ngram` of the speculative runs (default: rill's default).
    #[arg(long)]
    max_ngram: Option<usize>,
    /// Print one flat JSON object instead of the Markdown table.
    #[arg(long)]
    json: bool,
    /// Model file (default: the model rill itself would use).
    #[arg(long)]
    model: Option<PathBuf>,
}

/// What one case measured, in one mode.
#[derive(Default)]
struct Measured {
    /// Median decode time (from the first generated token to the end).
    decode: Duration,
    /// Tokens generated after the first, the ones the decode time covers.
    decode_tokens: usize,
    forward_passes: usize,
    drafted: usize,
    accepted: usize,
}

impl Measured {
    fn tokens_per_second(&self) -> f64 {
        per_second(self.decode_tokens, self.decode)
    }
}

fn per_second(tokens: usize, time: Duration) -> f64 {
    let seconds = time.as_secs_f64();
    if seconds == 0.0 {
        0.0
    } else {
        tokens as f64 / seconds
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let middle = samples.len() / 2;
    if samples.len() % 2 == 1 {
        samples[middle]
    } else {
        (samples[middle - 1] + samples[middle]) / 2
    }
}

/// One case: its label, prompt and the results of both modes.
struct Case {
    label: String,
    prompt_tokens: usize,
    plain: Measured,
    speculative: Measured,
}

/// The text of `file` up to and including the first line that starts with `line_start`.
fn cut_after_line(dir: &Path, file: &str, line_start: &str) -> Result<String> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let Some(found) = text.find(&format!("\n{line_start}")) else {
        bail!(
            "{line_start:?} is not at the start of a line in {}",
            path.display()
        );
    };
    let line = found + 1;
    let end = text[line..].find('\n').map_or(text.len(), |i| line + i + 1);
    Ok(text[..end].to_string())
}

/// The prompts of the chosen workload, with a label each.
fn prompts(args: &Args, tokenizer: &Tokenizer) -> Result<Vec<(String, Vec<u32>)>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut prompts = Vec::new();
    match args.workload {
        Workload::EditReplay => {
            let dir = root.join("workloads/edit_replay");
            for (file, line_start) in CASES {
                let text = cut_after_line(&dir, file, line_start)?;
                let prompt = prepare_prompt(
                    tokenizer,
                    &text,
                    args.context_tokens + args.tokens,
                    args.tokens,
                )?;
                prompts.push((
                    format!("{file} after `{}`", line_start.trim()),
                    prompt.tokens,
                ));
            }
        }
        Workload::Reference => {
            let path = root.join("../tests/reference/greedy.jsonl");
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            for (index, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
                let case: serde_json::Value = serde_json::from_str(line)
                    .with_context(|| format!("line {} of {}", index + 1, path.display()))?;
                let tokens = serde_json::from_value(case["prompt_tokens"].clone())
                    .with_context(|| format!("prompt_tokens of case {index}"))?;
                let lang = case["lang"].as_str().unwrap_or("?");
                prompts.push((format!("greedy.jsonl #{index} ({lang})"), tokens));
            }
        }
    }
    Ok(prompts)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".to_string())
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.reps == 0 || args.tokens < 2 {
        bail!("--reps must be at least 1 and --tokens at least 2");
    }
    let settings = ThreadSettings {
        threads: args.threads.max(1),
        ..ThreadSettings::default()
    };
    // candle reads its thread settings once, when its worker pool starts, so they must be in
    // place before anything touches a tensor.
    configure_threads(settings);
    let defaults = DraftParams::default();
    let draft = DraftParams {
        max_draft: args.max_draft.unwrap_or(defaults.max_draft),
        max_ngram: args.max_ngram.unwrap_or(defaults.max_ngram),
    };
    let load_before = load_average();

    let path = rill_model::paths::resolve_model_path(args.model.as_deref())?;
    eprintln!("loading {}", path.display());
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    let (model, tokenizer) = (&loaded.model, &loaded.tokenizer);

    let params = |draft| GenerationParams {
        max_tokens: args.tokens,
        draft,
        ..GenerationParams::default()
    };
    let plain_params = params(DraftParams::disabled());
    let speculative_params = params(draft);
    speculative_params.validate()?;

    // One untimed pass starts candle's worker pool and faults in the weights, which would
    // otherwise land in the first timed run.
    Sequence::new(model).sync(model, &[tokenizer.bos_id()], &|| false)?;

    let mut cases = Vec::new();
    for (label, prompt) in prompts(&args, tokenizer)? {
        eprintln!(
            "{label}: {} prompt tokens × {} runs",
            prompt.len(),
            args.reps
        );
        // One sequence per mode, as the engine keeps one per document: the prompt is processed
        // once, and every later run recomputes only its last token, so the runs time decoding.
        let mut sequences = [Sequence::new(model), Sequence::new(model)];
        let mut runs: [Vec<Generation>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..args.reps {
            // The modes alternate so that a change in the machine's load hits both alike.
            for (mode, params) in [&plain_params, &speculative_params].into_iter().enumerate() {
                let generation = generate(
                    model,
                    tokenizer,
                    &mut sequences[mode],
                    &prompt,
                    params,
                    &|| false,
                    |_| {},
                )?;
                runs[mode].push(generation);
            }
        }
        let [plain_runs, speculative_runs] = runs;
        if plain_runs
            .iter()
            .chain(&speculative_runs)
            .any(|run| run.tokens != plain_runs[0].tokens)
        {
            bail!("{label}: speculative decoding generated other tokens than plain decoding");
        }
        let measure = |runs: &[Generation]| {
            let first = &runs[0];
            Measured {
                decode: median(runs.iter().map(|run| run.decode_time).collect()),
                decode_tokens: first.tokens.len().saturating_sub(1),
                forward_passes: first.forward_passes,
                drafted: first.drafted_tokens,
                accepted: first.accepted_tokens,
            }
        };
        cases.push(Case {
            label,
            prompt_tokens: prompt.len(),
            plain: measure(&plain_runs),
            speculative: measure(&speculative_runs),
        });
    }
    let load_after = load_average();

    let total = |pick: fn(&Case) -> &Measured| {
        cases
            .iter()
            .map(pick)
            .fold(Measured::default(), |sum, m| Measured {
                decode: sum.decode + m.decode,
                decode_tokens: sum.decode_tokens + m.decode_tokens,
                forward_passes: sum.forward_passes + m.forward_passes,
                drafted: sum.drafted + m.drafted,
                accepted: sum.accepted + m.accepted,
            })
    };
    let plain = total(|case| &case.plain);
    let speculative = total(|case| &case.speculative);
    let plain_tps = plain.tokens_per_second();
    let speculative_tps = speculative.tokens_per_second();

    if args.json {
        let report = serde_json::json!({
            "decode_tps_plain": plain_tps,
            "decode_tps_speculative": speculative_tps,
            "speculative_speedup": ratio(speculative_tps, plain_tps),
            "acceptance_rate": ratio(speculative.accepted as f64, speculative.drafted as f64),
            "tokens_per_forward": ratio(
                speculative.decode_tokens as f64,
                speculative.forward_passes as f64
            ),
        });
        println!("{report}");
        return Ok(());
    }

    println!(
        "### speculative_bench: {} workload, {} threads, {} tokens per request, max_draft {}, \
         max_ngram {}, median of {} runs",
        match args.workload {
            Workload::EditReplay => "edit-replay",
            Workload::Reference => "reference",
        },
        settings.threads,
        args.tokens,
        draft.max_draft,
        draft.max_ngram,
        args.reps
    );
    println!();
    println!(
        "| case | prompt tokens | plain (tokens/s) | speculative (tokens/s) | speedup | accepted / drafted | tokens per pass |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |label: &str, prompt: String, plain: &Measured, speculative: &Measured| {
        println!(
            "| {label} | {prompt} | {:.1} | {:.1} | {:.2} | {} / {} ({:.0} %) | {:.2} |",
            plain.tokens_per_second(),
            speculative.tokens_per_second(),
            ratio(speculative.tokens_per_second(), plain.tokens_per_second()),
            speculative.accepted,
            speculative.drafted,
            100.0 * ratio(speculative.accepted as f64, speculative.drafted as f64),
            ratio(
                speculative.decode_tokens as f64,
                speculative.forward_passes as f64
            ),
        );
    };
    for case in &cases {
        row(
            &case.label,
            case.prompt_tokens.to_string(),
            &case.plain,
            &case.speculative,
        );
    }
    row("**all cases**", "—".to_string(), &plain, &speculative);
    println!();
    println!(
        "Decode speed counts the tokens after the first over the time from the first token to the \
         end, so prompt processing is excluded; both modes generated identical tokens. Load \
         average (1, 5, 15 min) before: {load_before}, after: {load_after}."
    );
    Ok(())
}
