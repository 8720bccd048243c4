//! The `rill` binary: the language server over stdio (`rill --stdio`, `rill serve --stdio`) and command-line tools.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = rill_server::cli::Cli::parse();
    match rill_server::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rill: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
