//! Which documents the model may see: `completion.exclude` keeps a file away from every model (suggestions, next edits, diagnostics, reasoning, other files' context), `completion.languages` switches suggestions and next edits off per language.

use tower_lsp::lsp_types::Url;

use crate::config::Config;

/// Whether `uri` matches `completion.exclude`: its text must never reach a model, local or remote.
pub fn excluded(config: &Config, uri: &Url) -> bool {
    if config.completion_exclude.patterns().is_empty() {
        return false;
    }
    let path = uri
        .to_file_path()
        .ok()
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_else(|| uri.path().to_string());
    config.completion_exclude.matches(&path)
}

/// Whether a document of `language_id` at `uri` gets suggestions and next edits.
pub fn suggests(config: &Config, uri: &Url, language_id: &str) -> bool {
    config.completion_languages.allows(language_id) && !excluded(config, uri)
}
