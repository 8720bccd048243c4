//! The fuzz campaign in benchmark mode: any seed and any number of messages (`--messages 100000 --seed N`), reporting the same figures as the CI test (crashes, hangs, mirror differences, panics, unexpected answers, peak RSS against its bound, time).

// The report on stdout is the point of this binary; progress goes to stderr.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use clap::Parser;
use rill_e2e::fuzz::{run, Options};

#[derive(Parser, Debug)]
#[command(about = "Drives rill --stdio with a seeded random campaign and prints what it found")]
struct Args {
    /// Client messages to send in all.
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    #[arg(long, default_value_t = 14)]
    seed: u64,
    /// Messages between checkpoints (answers, mirror, memory, log).
    #[arg(long, default_value_t = 50)]
    check_every: usize,
    /// Messages per server process.
    #[arg(long, default_value_t = 5000)]
    session_messages: usize,
    /// Seconds a checkpoint waits for every answer.
    #[arg(long, default_value_t = 30)]
    answer_timeout_s: u64,
    /// `engine.cacheBudgetMb` (the campaign never sets more).
    #[arg(long, default_value_t = 128)]
    cache_budget_mb: u64,
    /// Never open documents of a few hundred kilobytes.
    #[arg(long)]
    no_large_documents: bool,
    /// A progress line per checkpoint.
    #[arg(long)]
    verbose: bool,
    /// Print one JSON object instead of Markdown.
    #[arg(long)]
    json: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let report = run(&Options {
        seed: args.seed,
        messages: args.messages,
        check_every: args.check_every,
        session_messages: args.session_messages,
        answer_timeout: Duration::from_secs(args.answer_timeout_s),
        cache_budget_mb: args.cache_budget_mb,
        large_documents: !args.no_large_documents,
        verbose: args.verbose,
    });
    if args.json {
        println!("{}", report.json());
    } else {
        println!("{}", report.markdown());
    }
    if report.passed() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
