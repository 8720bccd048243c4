//! `rill complete`: streams a completion for a cursor position to stdout, with timing statistics on stderr.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use rill_model::generate::{generate, prepare_prompt, GenerationParams};
use rill_model::runtime::{configure_threads, ThreadSettings};
use rill_model::sampling::SamplingParams;
use rill_model::{LoadOptions, LoadedModel, Sequence};

use super::cursor::Cursor;
use super::ModelArgs;

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// File to complete in.
    #[arg(required_unless_present = "stdin", conflicts_with = "stdin")]
    pub file: Option<PathBuf>,
    /// Read the text from stdin instead of a file.
    #[arg(long)]
    pub stdin: bool,
    /// Cursor as LINE:COL, 1-based, columns counted in characters (default: end of the text).
    #[arg(long, value_name = "LINE:COL")]
    pub at: Option<Cursor>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Keep only the k most likely tokens (0: off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Keep the most likely tokens up to this cumulative probability (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Drop tokens less likely than this fraction of the best one (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub min_p: f32,
    /// Penalty for recently seen tokens (1: off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Seed of the sampler's random numbers.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop before this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
}

pub fn run(args: CompleteArgs) -> anyhow::Result<()> {
    let mut threads = ThreadSettings::default();
    if let Some(count) = args.model.threads {
        threads.threads = usize::from(count);
    }
    configure_threads(threads);

    let text = read_text(&args)?;
    let cursor = match args.at {
        Some(cursor) => cursor.byte_offset(&text)?,
        None => text.len(),
    };
    let params = GenerationParams {
        max_tokens: args.max_tokens,
        sampling: SamplingParams {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            min_p: args.min_p,
            repeat_penalty: args.repeat_penalty,
            seed: args.seed,
            ..SamplingParams::greedy()
        },
        stop: args.stop.clone(),
        ..GenerationParams::default()
    };
    params.validate()?;

    let path = rill_model::paths::resolve_model_path(args.model.model.as_deref())?;
    let load_started = Instant::now();
    let loaded = LoadedModel::load(&path, LoadOptions::default())?;
    let load_time = load_started.elapsed();
    let context = loaded.model.config().context_length;
    let prompt = prepare_prompt(
        &loaded.tokenizer,
        &text[..cursor],
        context,
        params.max_tokens,
    )?;
    if prompt.truncated > 0 {
        eprintln!(
            "rill: the text before the cursor is longer than the context; dropped its first {} tokens",
            prompt.truncated
        );
    }

    let mut sequence = Sequence::new(&loaded.model);
    let mut stdout = std::io::stdout().lock();
    let mut write_error = None;
    let generation = generate(
        &loaded.model,
        &loaded.tokenizer,
        &mut sequence,
        &prompt.tokens,
        &params,
        &|| false,
        |piece| {
            if write_error.is_none() {
                if let Err(err) = stdout
                    .write_all(piece.as_bytes())
                    .and_then(|()| stdout.flush())
                {
                    write_error = Some(err);
                }
            }
        },
    )?;
    if let Some(err) = write_error {
        return Err(err).context("writing the completion to stdout");
    }
    writeln!(stdout)?;
    eprintln!(
        "rill: model {} loaded in {:.2} s; prompt {} tokens; time to first token {:.1} ms; {} tokens at {:.1} tokens/s; finished: {:?}",
        path.display(),
        load_time.as_secs_f64(),
        generation.prompt_tokens,
        generation.time_to_first_token.as_secs_f64() * 1000.0,
        generation.tokens.len(),
        generation.tokens_per_second(),
        generation.finish,
    );
    Ok(())
}

fn read_text(args: &CompleteArgs) -> anyhow::Result<String> {
    let bytes = if args.stdin {
        let mut buffer = Vec::new();
        std::io::stdin().read_to_end(&mut buffer)?;
        buffer
    } else {
        let Some(file) = &args.file else {
            bail!("give a FILE or --stdin");
        };
        std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    String::from_utf8(bytes).context("the text is not valid UTF-8")
}
