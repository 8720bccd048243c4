//! Feeds the cross-file ring from the editor's events (opens, edits, completion requests), refreshes it once the user is idle, and hands each prompt its chunks.
//!
//! Every event queues the chunk around where it happened and restarts the idle wait; after
//! `engine.prewarmIdleMs` without any event the queued chunks join the ring
//! ([`crate::context::ring`]) and, if the ring changed, the document the user is in is pre-warmed
//! with its new prompt. Prompts read the ring's list as it was at the last refresh, so every
//! keystroke between two pauses sees the same chunks in front of the document.

pub mod state;

use std::sync::Arc;
use std::time::Duration;

use tower_lsp::lsp_types::Url;

use super::debounce::Pause;
use super::session::{lock, Session};
use crate::context::chunk::{self, Chunk};
use crate::context::PromptContext;
use crate::diagnostics::ByteEdit;

/// A document was opened: its first lines are what the user sees first. Returns whether it was
/// noted (see [`note`]).
pub fn on_open(session: &Session, uri: &Url) -> bool {
    note(session, uri, Some(0))
}

/// A document was edited: the lines around the first edit. No idle timer of its own: the edit's
/// pre-warm (`prewarm::schedule_after_edit`) refreshes the ring at the same pause, and a second
/// timer would refresh and pre-warm the same document again.
pub fn on_change(session: &Arc<Session>, uri: &Url, edits: &[ByteEdit]) {
    let line = edits.first().and_then(|edit| {
        let documents = lock(&session.documents);
        let rope = documents.get(uri)?.rope();
        Some(rope.byte_to_line(edit.old.start.min(rope.len_bytes())))
    });
    if queue(session, uri, line) {
        // Typing is not idle: a refresh a view scheduled earlier must not change the prompt's
        // start in the middle of it.
        let idle = Duration::from_millis(session.config().prewarm_idle_ms);
        session.pauses.postpone(&Pause::CrossFile, idle);
    }
}

/// A completion was asked at `line` of a document: the user is looking there. Returns whether it
/// was noted (see [`note`]).
pub fn on_view(session: &Session, uri: &Url, line: usize) -> bool {
    note(session, uri, Some(line))
}

/// A document was closed: its chunks leave the ring at the next refresh.
pub fn on_close(session: &Session, uri: &Url) {
    lock(&session.cross_file.ring).close(uri.as_str());
    let mut focus = lock(&session.cross_file.focus);
    if focus.as_ref() == Some(uri) {
        *focus = None;
    }
}

/// Queues the chunk around `line` of `uri` (when there is one) and makes `uri` the document whose
/// cursor surroundings the next refresh leaves out. Returns false when cross-file context is off.
fn queue(session: &Session, uri: &Url, line: Option<usize>) -> bool {
    let config = session.config();
    if !config.cross_file || !config.enable {
        return false;
    }
    // An excluded file's text never becomes another prompt's context.
    let excluded = crate::lsp::gate::excluded(&config, uri);
    if let Some(chunk) = line
        .filter(|_| !excluded)
        .and_then(|line| cut(session, uri, line, config.chunk_lines))
    {
        lock(&session.cross_file.ring).queue(chunk, config.max_chunks);
    }
    *lock(&session.cross_file.focus) = Some(uri.clone());
    true
}

/// [`queue`]s the chunk; returns whether it did (cross-file context is on), so the caller
/// schedules the idle refresh (`prewarm::refresh_when_idle`).
fn note(session: &Session, uri: &Url, line: Option<usize>) -> bool {
    queue(session, uri, line)
}

/// The document of the last event: the one the user is in.
pub fn focus(session: &Session) -> Option<Url> {
    lock(&session.cross_file.focus).clone()
}

/// Moves the queued chunks into the ring, recording where the user's cursor is; returns whether
/// the chunks changed. Pre-warming calls it too, so that a prompt prepared at a pause already
/// has the chunks the next completion will use.
pub fn refresh(session: &Session) -> bool {
    let config = session.config();
    let focus = lock(&session.cross_file.focus).clone();
    let surroundings = focus.and_then(|uri| {
        let cursor_line = {
            let cursor = lock(&session.last_cursor).get(&uri).copied();
            let documents = lock(&session.documents);
            let rope = documents.get(&uri)?.rope();
            // Without a completion yet, prompts end at the end of the document (see `prewarm`).
            cursor.map_or(rope.len_lines().saturating_sub(1), |position| {
                position.line as usize
            })
        };
        let around = cut(session, &uri, cursor_line, config.chunk_lines)?;
        Some((uri.to_string(), around.lines))
    });
    lock(&session.cross_file.ring).refresh(surroundings, config.max_chunks)
}

/// The cross-file part of a prompt in `uri`: the ring's chunks of other documents as the last
/// refresh left them.
pub fn prompt_context(session: &Session, uri: &Url) -> PromptContext {
    let config = session.config();
    if !config.cross_file || !config.enable || config.cross_file_tokens == 0 {
        return PromptContext::default();
    }
    let mut chunks = lock(&session.cross_file.ring).select(uri.as_str());
    // Cut before the file was excluded (`completion.exclude` changed since): left out too.
    chunks.retain(|chunk| {
        Url::parse(&chunk.document).map_or(true, |from| !crate::lsp::gate::excluded(&config, &from))
    });
    let language_id = lock(&session.documents)
        .get(uri)
        .map(|document| document.language_id().to_string())
        .unwrap_or_default();
    PromptContext::new(
        uri.as_str(),
        &language_id,
        &chunks,
        config.cross_file_tokens,
    )
}

/// The chunk of `size` lines around `line` of the open document `uri`.
fn cut(session: &Session, uri: &Url, line: usize, size: usize) -> Option<Chunk> {
    let documents = lock(&session.documents);
    let rope = documents.get(uri)?.rope();
    chunk::cut(uri.as_str(), rope.len_lines(), line, size, |index| {
        rope.line(index)
            .to_string()
            .trim_end_matches(['\n', '\r'])
            .to_string()
    })
}
