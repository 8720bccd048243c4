//! Command-line interface: argument definitions and dispatch to one module per subcommand.

mod complete;
mod cursor;
mod diagnose;
mod model_cmd;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// rill: a local-first AI code-completion language server.
#[derive(Debug, Parser)]
#[command(name = "rill", version, about)]
pub struct Cli {
    /// Serve LSP over stdin/stdout (what editors pass; the same as `rill serve --stdio`).
    #[arg(long, global = true)]
    pub stdio: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the language server (over stdio, the only transport).
    Serve,
    /// Complete code at a position of a file (or of stdin), streaming the completion to stdout.
    Complete(complete::CompleteArgs),
    /// Print the spans of a file the model finds very unlikely, with its suggestion for each.
    Diagnose(diagnose::DiagnoseArgs),
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
    /// Threads for the matrix kernels (default: every core, at most 8).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Before the model loads, so every KV-cache block is allocated under this policy.
    rill_model::runtime::return_large_blocks_to_the_system();
    match cli.command {
        None | Some(Command::Serve) => serve(),
        Some(Command::Complete(args)) => complete::run(args),
        Some(Command::Diagnose(args)) => diagnose::run(args),
        Some(Command::Model(command)) => model_cmd::run(command),
    }
}

/// Starts the language server. Logs go to stderr (stdout carries the protocol), filtered by
/// `RILL_LOG` (default `warn`), and information to the editor's log (see [`crate::logging`]).
fn serve() -> anyhow::Result<()> {
    crate::logging::init_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = runtime.block_on(crate::lsp::serve_stdio());
    // The stdin reader is a blocking thread that only returns when stdin closes; an editor may
    // keep the pipe open after `exit`, so do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    if let Some(code) = code {
        std::process::exit(code);
    }
    Ok(())
}
