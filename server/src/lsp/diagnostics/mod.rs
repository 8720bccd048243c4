//! Model diagnostics in the editor: when to score which region of a document, the flags kept per document as the text changes, and publishing them in order.
//!
//! After `didOpen` the whole document is scored in blocks. After an edit the flags the edit touched
//! are dropped at once, later ones move with the text, and once typing pauses for
//! `diagnostics.debounceMs` the edited lines and `diagnostics.lookaheadLines` after them are scored
//! again (published as soon as they are done). The rest of the document, whose context changed
//! but whose flags rarely do, is rescored only after [`REFRESH_IDLE`] of further quiet. Every edit
//! cancels the document's running job, so no flag computed for old text is ever published.

pub mod state;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tower_lsp::lsp_types::{Diagnostic, DiagnosticSeverity, NumberOrString, Url};

use super::debounce::Pause;
use super::session::{lock, Session};
use crate::config::Config;
use crate::diagnostics::names::NameIndex;
use crate::diagnostics::prose::prose_ranges;
use crate::diagnostics::regions::{blocks, line_offset_after, whole_lines};
use crate::diagnostics::{ByteEdit, Fix, Flag, Thresholds};
use crate::documents::{Document, PositionEncoding};
use crate::engine::diagnose::{DiagnoseEvent, DiagnoseJob, DiagnoseKind};
use crate::engine::{BackgroundJob, BackgroundKind, CancelToken};
use state::DocumentFlags;

/// Quiet time after the edited region was rescored before the rest of the document is.
pub const REFRESH_IDLE: Duration = Duration::from_millis(1500);

/// The diagnostic code of a model flag.
pub const CODE: &str = "unlikely-token";

/// Starts the task that publishes in order (call once the client can receive notifications).
pub fn start_publisher(session: &Arc<Session>) {
    let (sender, mut receiver) = mpsc::unbounded_channel::<Url>();
    if session.diagnostics.publisher.set(sender).is_err() {
        return;
    }
    let session = Arc::downgrade(session);
    tokio::spawn(async move {
        while let Some(uri) = receiver.recv().await {
            let Some(session) = session.upgrade() else {
                break;
            };
            // Publishing the latest state (not a queued snapshot) keeps stale flags from flashing.
            let (diagnostics, version) = current_diagnostics(&session, &uri);
            session
                .client
                .publish_diagnostics(uri, diagnostics, version)
                .await;
        }
    });
}

/// Scores a newly opened document from the top.
pub fn on_open(session: &Arc<Session>, uri: &Url) {
    let config = session.config();
    if !config.diagnostics_enable || !config.enable {
        return;
    }
    let Some((text, _)) = snapshot(session, uri) else {
        return;
    };
    let edits = {
        let mut documents = lock(&session.diagnostics.documents);
        let state = documents.entry(uri.clone()).or_default();
        cancel_job(state);
        state.flags.clear();
        state.scanned = false;
        state.edits
    };
    let regions = blocks(&text, 0..text.len());
    submit(
        session,
        uri,
        text,
        regions,
        edits,
        &config,
        DiagnoseKind::Opened,
        None,
    );
}

/// Follows an edit: drops the flags it touched, moves the rest, and schedules rescoring.
pub fn on_change(session: &Arc<Session>, uri: &Url, edits: &[ByteEdit]) {
    let count = {
        let mut documents = lock(&session.diagnostics.documents);
        let state = documents.entry(uri.clone()).or_default();
        cancel_job(state);
        let had_flags = !state.flags.flags().is_empty();
        for edit in edits {
            state.flags.apply_edit(edit);
            state.dirty = Some(follow_dirty(state.dirty.take(), edit));
        }
        state.edits += 1;
        if had_flags {
            session.diagnostics.publish(uri);
        }
        state.edits
    };
    let config = session.config();
    if !config.diagnostics_enable || !config.enable {
        return;
    }
    let debounce = Duration::from_millis(config.diagnostics_debounce_ms);
    let (waiting, edited) = (session.clone(), uri.clone());
    session
        .pauses
        .bump(Pause::Rescore(uri.clone()), debounce, async move {
            rescore_after_edit(&waiting, &edited, count).await;
        });
}

/// Forgets a closed document and clears its diagnostics in the editor.
pub fn on_close(session: &Arc<Session>, uri: &Url) {
    session.pauses.cancel(&Pause::Rescore(uri.clone()));
    if let Some(mut state) = lock(&session.diagnostics.documents).remove(uri) {
        cancel_job(&mut state);
    }
    let (session, uri) = (session.clone(), uri.clone());
    tokio::spawn(async move {
        session
            .client
            .publish_diagnostics(uri, Vec::new(), None)
            .await;
    });
}

/// Applies new settings: turning diagnostics off clears them, other changes rescore every document.
pub fn on_config_change(session: &Arc<Session>, old: &Config, new: &Config) {
    let relevant = |config: &Config| {
        (
            config.diagnostics_enable && config.enable,
            config.diagnostics_min_surprise.to_bits(),
            config.diagnostics_min_alternative.to_bits(),
            config.diagnostics_counterfactual,
            config.diagnostics_min_gain.to_bits(),
        )
    };
    if relevant(old) == relevant(new) {
        return;
    }
    // Every open document, including those opened while diagnostics were off.
    let open = lock(&session.documents).uris();
    for uri in open {
        if new.diagnostics_enable && new.enable {
            on_open(session, &uri);
        } else {
            if let Some(state) = lock(&session.diagnostics.documents).get_mut(&uri) {
                cancel_job(state);
                state.flags.clear();
                state.scanned = false;
            }
            session.diagnostics.publish(&uri);
        }
    }
}

async fn rescore_after_edit(session: &Arc<Session>, uri: &Url, count: u64) {
    let config = session.config();
    let Some((text, _)) = snapshot(session, uri) else {
        return;
    };
    let dirty = {
        let mut documents = lock(&session.diagnostics.documents);
        let Some(state) = documents.get_mut(uri) else {
            return;
        };
        if state.edits != count {
            return;
        }
        state.dirty.take().unwrap_or(0..0)
    };
    let edited = whole_lines(&text, dirty);
    let lookahead_end = line_offset_after(&text, edited.end, config.diagnostics_lookahead_lines);
    let regions = vec![edited.clone(), edited.end..lookahead_end];
    let (finished_sender, finished) = tokio::sync::oneshot::channel();
    submit(
        session,
        uri,
        text.clone(),
        regions,
        count,
        &config,
        DiagnoseKind::EditedRegion,
        Some(finished_sender),
    );
    if finished.await.is_err() {
        return;
    }
    tokio::time::sleep(REFRESH_IDLE).await;
    let still_current = lock(&session.diagnostics.documents)
        .get(uri)
        .is_some_and(|state| state.edits == count);
    let scanned = lock(&session.diagnostics.documents)
        .get(uri)
        .is_some_and(|state| state.scanned);
    let mut rest = if scanned {
        Vec::new()
    } else {
        blocks(&text, 0..edited.start)
    };
    rest.extend(blocks(&text, lookahead_end..text.len()));
    if still_current && !rest.is_empty() {
        submit(
            session,
            uri,
            text,
            rest,
            count,
            &config,
            DiagnoseKind::Refresh,
            None,
        );
    }
}

/// Queues a job scoring `regions` of `text` (the document after `edits` edits) and a task that
/// applies its results while the document is unchanged; `finished` fires when every region is done.
/// `kind` decides its priority against pre-warming (see [`DiagnoseKind`]).
#[allow(clippy::too_many_arguments)]
fn submit(
    session: &Arc<Session>,
    uri: &Url,
    text: Arc<str>,
    regions: Vec<Range<usize>>,
    edits: u64,
    config: &Config,
    kind: DiagnoseKind,
    finished: Option<tokio::sync::oneshot::Sender<()>>,
) {
    if crate::lsp::gate::excluded(config, uri) {
        return;
    }
    let Some(engine) = session.engine.get() else {
        return;
    };
    let language_id = lock(&session.documents)
        .get(uri)
        .map(|document| document.language_id().to_string())
        .unwrap_or_default();
    let open_names = Arc::new(open_names(session, uri));
    let cancel = CancelToken::new();
    {
        let mut documents = lock(&session.diagnostics.documents);
        let state = documents.entry(uri.clone()).or_default();
        if state.edits != edits {
            return;
        }
        cancel_job(state);
        state.job = Some(cancel.clone());
    }
    let (events, mut received) = mpsc::unbounded_channel();
    engine.submit_background(BackgroundJob {
        document: uri.to_string(),
        kind: BackgroundKind::Diagnose(Box::new(DiagnoseJob {
            text,
            language_id,
            regions,
            context_tokens: config.context_tokens,
            reserve_tokens: config.max_tokens,
            thresholds: Thresholds {
                min_surprise: config.diagnostics_min_surprise,
                min_alternative: config.diagnostics_min_alternative,
            },
            min_gain: config
                .diagnostics_counterfactual
                .then_some(config.diagnostics_min_gain),
            open_names,
            kind,
            cancel: cancel.clone(),
            events,
        })),
    });
    let (session, uri) = (session.clone(), uri.clone());
    tokio::spawn(async move {
        let mut finished = finished;
        while let Some(event) = received.recv().await {
            match event {
                DiagnoseEvent::Scored { region, flags } => {
                    let mut documents = lock(&session.diagnostics.documents);
                    let Some(state) = documents.get_mut(&uri) else {
                        return;
                    };
                    // An edit since the snapshot makes these offsets wrong: drop them.
                    if state.edits != edits || cancel.is_cancelled() {
                        return;
                    }
                    state.flags.replace_region(region, flags);
                    session.diagnostics.publish(&uri);
                }
                DiagnoseEvent::Done => {
                    if let Some(state) = lock(&session.diagnostics.documents).get_mut(&uri) {
                        // This job is over: the document has nothing pending unless a newer job runs.
                        if state.job.as_ref().is_some_and(|job| job.same_as(&cancel)) {
                            state.job = None;
                        }
                        // A scan from the top, or the refresh after an edit, covered the rest.
                        if kind != DiagnoseKind::EditedRegion && state.edits == edits {
                            state.scanned = true;
                        }
                    }
                    if let Some(finished) = finished.take() {
                        let _ = finished.send(());
                    }
                }
                DiagnoseEvent::Failed(reason) => {
                    tracing::warn!("diagnostics for {uri} failed: {reason}");
                    return;
                }
            }
        }
    });
}

/// The names of every open document but `uri`: a name defined in another file the user has open
/// is not a typo either.
fn open_names(session: &Session, uri: &Url) -> NameIndex {
    let others: Vec<(String, String)> = {
        let documents = lock(&session.documents);
        documents
            .uris()
            .into_iter()
            .filter(|other| other != uri)
            .filter_map(|other| {
                let document = documents.get(&other)?;
                Some((document.text(), document.language_id().to_string()))
            })
            .collect()
    };
    let mut names = NameIndex::default();
    for (text, language_id) in others {
        names.extend(&NameIndex::new(&text, &prose_ranges(&text, &language_id)));
    }
    names
}

fn cancel_job(state: &mut DocumentFlags) {
    if let Some(job) = state.job.take() {
        job.cancel();
    }
}

/// The document's text and version.
/// The document's text and version; only the rope is cloned under the lock.
fn snapshot(session: &Session, uri: &Url) -> Option<(Arc<str>, i32)> {
    let document = lock(&session.documents).get(uri)?.snapshot();
    Some((
        Arc::from(document.rope.to_string().as_str()),
        document.version,
    ))
}

/// The current flags of `uri` as LSP diagnostics, with the document version they belong to.
fn current_diagnostics(session: &Session, uri: &Url) -> (Vec<Diagnostic>, Option<i32>) {
    let encoding = session.features().encoding;
    let flags = session.diagnostics.flags(uri);
    let documents = lock(&session.documents);
    let Some(document) = documents.get(uri) else {
        return (Vec::new(), None);
    };
    let diagnostics = flags
        .iter()
        .map(|flag| to_diagnostic(document, flag, encoding))
        .collect();
    (diagnostics, Some(document.version()))
}

/// The LSP diagnostic of a flag; its `data` carries the model's fix for the quick fix action.
pub fn to_diagnostic(document: &Document, flag: &Flag, encoding: PositionEncoding) -> Diagnostic {
    let data = flag.fix.as_ref().map(|fix| {
        serde_json::json!({
            "fix": {
                "range": document.range_of_bytes(&fix.replace, encoding),
                "newText": fix.text,
            }
        })
    });
    Diagnostic {
        range: document.range_of_bytes(&flag.range, encoding),
        severity: Some(DiagnosticSeverity::INFORMATION),
        code: Some(NumberOrString::String(CODE.to_string())),
        source: Some("rill".to_string()),
        message: flag.message(),
        data,
        ..Diagnostic::default()
    }
}

/// The title of a flag's quick fix.
pub fn fix_title(flag: &Flag, fix: &Fix, text: &str) -> String {
    let old = text.get(fix.replace.clone()).unwrap_or(&flag.text);
    if old.is_empty() {
        format!("rill: insert `{}`", fix.text)
    } else {
        format!("rill: replace `{old}` with `{}`", fix.text)
    }
}

/// Where the edited byte range lies after `edit`, given where it lay before.
fn follow_dirty(dirty: Option<Range<usize>>, edit: &ByteEdit) -> Range<usize> {
    let new_end = edit.old.start + edit.new_len;
    let Some(dirty) = dirty else {
        return edit.old.start..new_end;
    };
    let delta = edit.new_len as isize - edit.old.len() as isize;
    // Offsets after the edit shift with it; offsets inside it collapse onto its start.
    let moved = |offset: usize| {
        if offset >= edit.old.end {
            (offset as isize + delta) as usize
        } else {
            offset.min(edit.old.start)
        }
    };
    dirty.start.min(edit.old.start).min(moved(dirty.start))..moved(dirty.end).max(new_end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dirty_range_follows_edits() {
        // Typing "x" at 10, then "y" at 11: dirty 10..12.
        let first = follow_dirty(
            None,
            &ByteEdit {
                old: 10..10,
                new_len: 1,
            },
        );
        let second = follow_dirty(
            Some(first),
            &ByteEdit {
                old: 11..11,
                new_len: 1,
            },
        );
        assert_eq!(second, 10..12);
        // An insertion before the dirty range moves it.
        let moved = follow_dirty(
            Some(10..12),
            &ByteEdit {
                old: 0..0,
                new_len: 3,
            },
        );
        assert_eq!(moved, 0..15);
    }
}
