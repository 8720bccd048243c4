//! `rill diagnose`: prints the spans of a file the model finds very unlikely, with its own suggestion for each, as the language server would publish them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::{LoadOptions, LoadedModel};

use super::ModelArgs;
use crate::config::{DEFAULT_MIN_ALTERNATIVE, DEFAULT_MIN_GAIN, DEFAULT_MIN_SURPRISE};
use crate::diagnostics::{Flag, Thresholds};
use crate::engine::diagnose::{self, DiagnoseEvent, DiagnoseJob, DiagnoseKind};
use crate::engine::store::{SequenceStore, DEFAULT_BUDGET_BYTES};
use crate::engine::CancelToken;

#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// File to check.
    pub file: PathBuf,
    /// Flag tokens whose log probability is below minus this (nats).
    #[arg(long, default_value_t = DEFAULT_MIN_SURPRISE)]
    pub min_surprise: f32,
    /// ...when the model's own choice there is at least this likely.
    #[arg(long, default_value_t = DEFAULT_MIN_ALTERNATIVE)]
    pub min_alternative: f32,
    /// Keep a flag only when a fix makes the text after it likelier (the server's
    /// `diagnostics.counterfactual`, off by default there too).
    #[arg(long)]
    pub counterfactual: bool,
    /// With `--counterfactual`: by at least this many nats.
    #[arg(long, default_value_t = DEFAULT_MIN_GAIN)]
    pub min_gain: f32,
    /// Language id (comments and strings are not scored); default: from the file's extension.
    #[arg(long)]
    pub language: Option<String>,
    /// Print one JSON object per flag instead of `file:line:column: message`.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DiagnoseArgs) -> anyhow::Result<()> {
    let mut threads = ThreadSettings::default();
    if let Some(count) = args.model.threads {
        threads.threads = usize::from(count);
    }
    configure_threads(threads);
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {} as UTF-8 text", args.file.display()))?;
    let path = rill_model::paths::resolve_model_path(args.model.model.as_deref())?;
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    let started = Instant::now();
    let (events, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut job = DiagnoseJob {
        text: Arc::from(text.as_str()),
        language_id: args
            .language
            .clone()
            .unwrap_or_else(|| language_of(&args.file).to_string()),
        regions: std::iter::once(0..text.len()).collect(),
        context_tokens: usize::MAX,
        reserve_tokens: 0,
        thresholds: Thresholds {
            min_surprise: args.min_surprise,
            min_alternative: args.min_alternative,
        },
        min_gain: args.counterfactual.then_some(args.min_gain),
        open_names: Arc::default(),
        kind: DiagnoseKind::Opened,
        cancel: CancelToken::new(),
        events,
    };
    let mut store = SequenceStore::new(DEFAULT_BUDGET_BYTES);
    diagnose::run(&loaded, &mut store, "file", &mut job, &|| false)?;
    // A region with flags is reported twice (as scored, then with fixes): the last report of each
    // region is its answer.
    let mut regions: std::collections::BTreeMap<usize, Vec<Flag>> = Default::default();
    while let Ok(event) = received.try_recv() {
        match event {
            DiagnoseEvent::Scored { region, flags } => {
                regions.insert(region.start, flags);
            }
            DiagnoseEvent::Failed(reason) => anyhow::bail!("scoring failed: {reason}"),
            DiagnoseEvent::Done => {}
        }
    }
    let mut stdout = std::io::stdout().lock();
    let mut count = 0;
    for flag in regions.values().flatten() {
        count += 1;
        print_flag(&mut stdout, &args, &text, flag)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    // Every token is a position the scan runs the model over (the output head is applied only
    // where a flag could be, but the forward pass covers all of them).
    let positions = loaded.tokenizer.encode(&text).map_or(0, |ids| ids.len());
    eprintln!(
        "rill: {count} flags in {} lines, scored in {seconds:.1} s ({positions} positions, {:.0} per second)",
        text.lines().count(),
        positions as f64 / seconds.max(1e-9)
    );
    Ok(())
}

fn print_flag(
    out: &mut impl Write,
    args: &DiagnoseArgs,
    text: &str,
    flag: &Flag,
) -> anyhow::Result<()> {
    let before = &text[..flag.range.start];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    if args.json {
        let fix = flag.fix.as_ref().map(|fix| {
            serde_json::json!({"start": fix.replace.start, "end": fix.replace.end, "text": fix.text})
        });
        let value = serde_json::json!({
            "line": line,
            "column": column,
            "start": flag.range.start,
            "end": flag.range.end,
            "text": flag.text,
            "surprise": flag.surprise,
            "expected": flag.expected,
            "expectedProb": flag.expected_prob,
            "message": flag.message(),
            "fix": fix,
        });
        writeln!(out, "{value}")?;
    } else {
        writeln!(
            out,
            "{}:{line}:{column}: {}",
            args.file.display(),
            flag.message()
        )?;
    }
    Ok(())
}

/// The LSP language id editors give files with this extension (the common ones).
fn language_of(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|extension| extension.to_str()) {
        Some("py") => "python",
        Some("rs") => "rust",
        Some("js" | "mjs" | "cjs") => "javascript",
        Some("ts") => "typescript",
        Some("go") => "go",
        Some("c" | "h") => "c",
        Some("cc" | "cpp" | "hpp") => "cpp",
        Some("java") => "java",
        Some("rb") => "ruby",
        Some("sh") => "shellscript",
        Some("lua") => "lua",
        _ => "",
    }
}
