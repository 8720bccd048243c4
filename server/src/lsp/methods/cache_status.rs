//! `rill/cacheStatus`: what the engine's KV caches hold now (documents, tokens, bytes) and the model work done since loading.

use crate::lsp::session::Session;
use crate::rill_protocol::CacheStatus;

pub fn handle(session: &Session) -> CacheStatus {
    let report = session
        .engine
        .get()
        .map(|engine| engine.cache_report())
        .unwrap_or_default();
    CacheStatus {
        cached_documents: report.documents,
        cached_tokens: report.tokens,
        cached_bytes: report.bytes,
        disk_bytes: report.disk_bytes,
        bytes_per_cached_token: report.bytes_per_token,
        first_lines_ahead: report.first_lines_ahead,
        model_passes: report.work.passes,
        model_tokens: report.work.tokens,
        completion_passes: report.completion_work.passes,
        completion_tokens: report.completion_work.tokens,
    }
}
