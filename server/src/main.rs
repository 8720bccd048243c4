//! The `rill` binary: the language server over stdio (`rill --stdio`, `rill serve --stdio`) and command-line tools.

use clap::{CommandFactory, FromArgMatches};

fn main() -> std::process::ExitCode {
    // `rill --version` also names the kernel paths this machine gets, for bug reports.
    let long_version = format!(
        "{}\n{}",
        env!("CARGO_PKG_VERSION"),
        rill_model::kernel_report::describe()
    );
    let matches = rill_server::cli::Cli::command()
        .long_version(&*Box::leak(long_version.into_boxed_str()))
        .get_matches();
    let args = match rill_server::cli::Cli::from_arg_matches(&matches) {
        Ok(args) => args,
        Err(err) => err.exit(),
    };
    match rill_server::cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rill: error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
