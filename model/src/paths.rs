//! Where rill looks for its model: explicit path, then `RILL_MODEL`, then the user cache.

use std::path::{Path, PathBuf};

use crate::error::{ModelError, Result};

/// File name of the default model in the cache directory.
pub const DEFAULT_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

/// `$XDG_CACHE_HOME/rill`, else `~/.cache/rill`: the models, and idle documents' KV caches
/// while the server runs.
pub fn rill_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("rill"))
}

/// `$XDG_CACHE_HOME/rill/models`, else `~/.cache/rill/models`.
pub fn model_cache_dir() -> Option<PathBuf> {
    Some(rill_cache_dir()?.join("models"))
}

/// Resolves the model file: `explicit` (from config or the command line) wins, then the
/// `RILL_MODEL` environment variable, then the default model in the cache directory.
/// The chosen file must exist; otherwise the error names the fetch command.
pub fn resolve_model_path(explicit: Option<&Path>) -> Result<PathBuf> {
    let env = std::env::var_os("RILL_MODEL").filter(|value| !value.is_empty());
    let candidate = match (explicit, env) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => model_cache_dir()
            .map(|dir| dir.join(DEFAULT_MODEL_FILE))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_FILE)),
    };
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(ModelError::ModelMissing { path: candidate })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_wins_and_missing_file_names_the_fetch_command() {
        let missing = Path::new("/nonexistent/model.gguf");
        let err = resolve_model_path(Some(missing)).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("/nonexistent/model.gguf"), "{message}");
        assert!(message.contains("fetch"), "{message}");
        let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
        assert_eq!(resolve_model_path(Some(&here)).unwrap(), here);
    }
}
