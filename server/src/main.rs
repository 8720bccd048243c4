//! The `rill` binary: command-line entry point (completion from the terminal, model management).

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rill: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
