//! Command-line interface: argument definitions and dispatch to one module per subcommand.

mod complete;
mod cursor;
mod model_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// rill: a local-first AI code-completion language server.
#[derive(Debug, Parser)]
#[command(name = "rill", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Complete code at a position of a file (or of stdin), streaming the completion to stdout.
    Complete(complete::CompleteArgs),
    /// Manage the model file.
    #[command(subcommand)]
    Model(model_cmd::ModelCommand),
}

/// Options shared by every command that runs the model.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// GGUF model file (default: $RILL_MODEL, else the default model in the user cache).
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Threads for the matrix kernels (default: the number of cores, at most 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Complete(args) => complete::run(args),
        Command::Model(command) => model_cmd::run(command),
    }
}
