//! Background pre-warming: after a document opens and whenever typing pauses, the engine prefills the prompt the next completion will most likely use, so that completion finds its prefix cached.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp::lsp_types::Url;

use super::completion_input;
use super::cross_file;
use super::debounce::Pause;
use super::session::{lock, Session};
use crate::engine::{BackgroundJob, BackgroundKind, EngineState};

/// Queues a pre-warm of `uri` at low priority. The prompt is the one a completion at the position
/// of the document's last completion request would use (the text before it, the text after it for
/// FIM models, and the cross-file chunks), or at the end of the document when there was none:
/// for models without FIM every prompt inside the document is a prefix of the whole text, so its
/// cache serves a first request anywhere.
pub fn request(session: &Session, uri: &Url) {
    let config = session.config();
    if !config.prewarm || !config.enable {
        return;
    }
    let Some(engine) = session.engine.get() else {
        return;
    };
    if *engine.state().borrow() == EngineState::Loading {
        // Every open document is pre-warmed once the model is ready (`open_documents`), most
        // recently used first; queued now, they would run in the order they were opened.
        return;
    }
    let cursor = lock(&session.last_cursor).get(uri).copied();
    let Some(snapshot) = completion_input::peek_snapshot(session, uri, cursor) else {
        return;
    };
    if !crate::lsp::gate::suggests(&config, uri, &snapshot.language_id) {
        return;
    }
    if snapshot.text_before_cursor.is_empty() && snapshot.text_after_cursor.is_empty() {
        return;
    }
    let lookahead = completion_input::lookahead(&snapshot, &config).map(Box::new);
    engine.submit_background(BackgroundJob {
        document: uri.to_string(),
        kind: BackgroundKind::Prewarm {
            text_before_cursor: snapshot.text_before_cursor,
            text_after_cursor: snapshot.text_after_cursor,
            context_tokens: config.context_tokens,
            reserve_tokens: config.max_tokens,
            cross_file: cross_file::prompt_context(session, uri),
            heal: config.token_healing,
            lookahead,
        },
    });
}

/// Queues a pre-warm of every open document, most recently used first (the inbox runs pre-warms
/// of equal priority in arrival order), when the engine becomes ready: documents opened while the
/// model loaded, or before the engine existed, would otherwise wait for their first edit.
pub fn open_documents(session: &Session) {
    let uris = lock(&session.documents).uris_by_recency();
    for uri in uris {
        request(session, &uri);
    }
}

/// Pre-warms `uri` once typing has paused for `engine.prewarmIdleMs`: every edit restarts the wait.
pub fn schedule_after_edit(session: &Arc<Session>, uri: &Url) {
    let idle = Duration::from_millis(session.config().prewarm_idle_ms);
    let (waiting, uri) = (session.clone(), uri.clone());
    session
        .pauses
        .bump(Pause::Prewarm(uri.clone()), idle, async move {
            // The chunks queued while typing join the ring now, before the prompt is prepared.
            cross_file::refresh(&waiting);
            request(&waiting, &uri);
        });
}

/// After a cross-file event (an open, a completion request), once the user has been idle for
/// `engine.prewarmIdleMs` with no later event: the queued chunks join the ring and, if it changed,
/// the document the user is in is pre-warmed with its new prompt.
pub fn refresh_when_idle(session: &Arc<Session>, noted: bool) {
    if !noted {
        return;
    }
    let idle = Duration::from_millis(session.config().prewarm_idle_ms);
    let waiting = session.clone();
    session.pauses.bump(Pause::CrossFile, idle, async move {
        let focus = cross_file::focus(&waiting);
        if cross_file::refresh(&waiting) {
            if let Some(focus) = focus {
                request(&waiting, &focus);
            }
        }
    });
}

/// Forgets a closed document's pre-warm state.
pub fn forget(session: &Session, uri: &Url) {
    session.pauses.cancel(&Pause::Prewarm(uri.clone()));
    lock(&session.last_cursor).remove(uri);
}
