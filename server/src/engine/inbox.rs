//! The engine's inbox: a bounded queue of interactive jobs, one pending background job per document, and housekeeping requests, behind one lock and condition variable.
//!
//! The engine thread takes work in priority order: interactive completions first (oldest first),
//! then background work (oldest first). Background work runs in small chunks and asks
//! [`Inbox::interactive_waiting`] between chunks, so a completion never waits behind more than one
//! chunk. Background work runs whenever nothing interactive is queued, so it cannot starve while
//! the user is idle. The interactive queue is bounded; background work is bounded by the number
//! of documents, because a newer request for a document replaces the older one.

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::key::BackgroundKey;
use super::store::CacheBudgets;
use super::{BackgroundJob, CompletionJob, CompletionStats, EngineEvent};

/// What the engine thread should do next.
pub(super) enum Work {
    Complete(Box<CompletionJob>),
    Background(BackgroundJob),
    Shutdown,
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("the engine is busy ({0} jobs queued)")]
    Busy(usize),
    #[error("the engine has stopped")]
    Stopped,
    /// The remote server failed recently and is not asked again until its backoff ends.
    #[error("the completion server is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Default)]
struct State {
    interactive: VecDeque<Box<CompletionJob>>,
    /// Pending background work by document and kind, with an arrival number for oldest-first order.
    background: HashMap<BackgroundKey, (u64, BackgroundJob)>,
    arrivals: u64,
    forgotten: Vec<String>,
    cache_budget_bytes: Option<CacheBudgets>,
    shutdown: bool,
    stopped: bool,
}

/// Shared between the async side (which fills it) and the engine thread (which drains it).
pub(super) struct Inbox {
    state: Mutex<State>,
    wake: Condvar,
    capacity: usize,
}

impl Inbox {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            capacity,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a push, pop or assignment, so a poisoned lock still holds consistent data.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        let mut state = self.lock();
        if state.stopped {
            return Err(SubmitError::Stopped);
        }
        // Jobs already cancelled (superseded while queued) do not count against the bound.
        // Each dropped job still gets its last event, because its listener waits for one.
        let (cancelled, waiting): (VecDeque<_>, VecDeque<_>) =
            std::mem::take(&mut state.interactive)
                .into_iter()
                .partition(|queued| queued.cancel.is_cancelled());
        state.interactive = waiting;
        for job in cancelled {
            let _ = job
                .events
                .send(EngineEvent::Done(CompletionStats::cancelled()));
        }
        if state.interactive.len() >= self.capacity {
            return Err(SubmitError::Busy(self.capacity));
        }
        state.interactive.push_back(Box::new(job));
        self.wake.notify_one();
        Ok(())
    }

    /// Queues background work, replacing any of the same kind still pending for the same document.
    pub(super) fn submit_background(&self, job: BackgroundJob) {
        let mut state = self.lock();
        if state.stopped {
            return;
        }
        state.arrivals += 1;
        let arrival = state.arrivals;
        state.background.insert(job.key(), (arrival, job));
        self.wake.notify_one();
    }

    /// Puts back background work that was interrupted, unless newer work for its document arrived.
    pub(super) fn resume_background(&self, job: BackgroundJob) {
        let mut state = self.lock();
        if !state.background.contains_key(&job.key()) && !state.stopped {
            // Arrival 0 sorts first: interrupted work continues before work that came later.
            state.background.insert(job.key(), (0, job));
        }
    }

    pub(super) fn forget(&self, document: &str) {
        let mut state = self.lock();
        state
            .background
            .retain(|pending, _| pending.document != document);
        state.forgotten.push(document.to_string());
        self.wake.notify_one();
    }

    pub(super) fn set_cache_budget(&self, budgets: CacheBudgets) {
        self.lock().cache_budget_bytes = Some(budgets);
        self.wake.notify_one();
    }

    pub(super) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.wake.notify_one();
    }

    /// True when an interactive job is queued: background work yields at its next chunk.
    pub(super) fn interactive_waiting(&self) -> bool {
        self.lock()
            .interactive
            .iter()
            .any(|job| !job.cancel.is_cancelled())
    }

    /// True when background work more urgent than `priority` (lower is more urgent) is pending:
    /// pre-warming yields to the rescoring of an edited region, which the user waits to see.
    pub(super) fn urgent_background_waiting(&self, priority: u8) -> bool {
        self.lock()
            .background
            .values()
            .any(|(_, job)| job.priority() < priority)
    }

    /// True when nothing at all waits: the engine is about to sleep.
    pub(super) fn is_idle(&self) -> bool {
        let state = self.lock();
        state.interactive.is_empty()
            && state.background.is_empty()
            && state.forgotten.is_empty()
            && state.cache_budget_bytes.is_none()
    }

    /// Documents closed since the last call.
    pub(super) fn take_forgotten(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().forgotten)
    }

    /// A new memory budget, if one was set since the last call.
    pub(super) fn take_cache_budget(&self) -> Option<CacheBudgets> {
        self.lock().cache_budget_bytes.take()
    }

    /// Blocks until there is work, then returns the most urgent.
    pub(super) fn next(&self) -> Work {
        let mut state = self.lock();
        loop {
            if state.shutdown {
                state.stopped = true;
                return Work::Shutdown;
            }
            if let Some(job) = state.interactive.pop_front() {
                return Work::Complete(job);
            }
            // Housekeeping has to run even when no job follows, so closing a document frees its
            // memory at once; the engine applies it on any wake-up.
            if !state.forgotten.is_empty() || state.cache_budget_bytes.is_some() {
                return Work::Background(BackgroundJob::housekeeping());
            }
            let oldest = state
                .background
                .iter()
                .min_by_key(|(_, (arrival, job))| (job.priority(), *arrival))
                .map(|(key, _)| key.clone());
            if let Some(key) = oldest {
                if let Some((_, job)) = state.background.remove(&key) {
                    return Work::Background(job);
                }
            }
            state = self
                .wake
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{BackgroundKind, CancelToken};
    use rill_model::GenerationParams;

    fn job(document: &str) -> (CompletionJob, CancelToken) {
        let cancel = CancelToken::new();
        let (events, _) = tokio::sync::mpsc::unbounded_channel();
        (
            CompletionJob {
                sequence: crate::engine::SequenceKey::completion(document),
                text_before_cursor: String::new(),
                text_after_cursor: String::new(),
                context_tokens: 100,
                cross_file: Default::default(),
                raw_prompt: false,
                params: GenerationParams::default(),
                quality: Default::default(),
                cancel: cancel.clone(),
                events,
            },
            cancel,
        )
    }

    fn prewarm(document: &str, text: &str) -> BackgroundJob {
        BackgroundJob {
            document: document.to_string(),
            kind: BackgroundKind::Prewarm {
                text_before_cursor: text.to_string(),
                text_after_cursor: String::new(),
                context_tokens: 100,
                reserve_tokens: 10,
                cross_file: Default::default(),
                heal: false,
                lookahead: None,
            },
        }
    }

    fn document_of(work: Work) -> String {
        match work {
            Work::Complete(job) => format!("complete {}", job.sequence),
            Work::Background(job) => format!("background {}", job.document),
            Work::Shutdown => "shutdown".to_string(),
        }
    }

    #[test]
    fn interactive_work_comes_before_background_work() {
        let inbox = Inbox::new(4);
        inbox.submit_background(prewarm("a", "x"));
        inbox.submit(job("b").0).unwrap();
        assert!(inbox.interactive_waiting());
        assert_eq!(document_of(inbox.next()), "complete b");
        assert!(!inbox.interactive_waiting());
        assert_eq!(document_of(inbox.next()), "background a");
    }

    #[test]
    fn newer_background_work_replaces_older_for_the_same_document() {
        let inbox = Inbox::new(4);
        inbox.submit_background(prewarm("a", "old"));
        inbox.submit_background(prewarm("b", "b"));
        inbox.submit_background(prewarm("a", "new"));
        // "b" is now the oldest pending request.
        assert_eq!(document_of(inbox.next()), "background b");
        match inbox.next() {
            Work::Background(BackgroundJob {
                kind:
                    BackgroundKind::Prewarm {
                        text_before_cursor, ..
                    },
                ..
            }) => assert_eq!(text_before_cursor, "new"),
            _ => panic!("expected the newer prewarm"),
        }
    }

    #[test]
    fn interrupted_work_resumes_first_unless_superseded() {
        let inbox = Inbox::new(4);
        inbox.submit_background(prewarm("b", "b"));
        inbox.resume_background(prewarm("a", "interrupted"));
        assert_eq!(document_of(inbox.next()), "background a");
        inbox.submit_background(prewarm("c", "newer"));
        inbox.resume_background(prewarm("c", "stale"));
        let mut texts = Vec::new();
        for _ in 0..2 {
            if let Work::Background(BackgroundJob {
                kind:
                    BackgroundKind::Prewarm {
                        text_before_cursor, ..
                    },
                ..
            }) = inbox.next()
            {
                texts.push(text_before_cursor);
            }
        }
        assert_eq!(texts, ["b", "newer"]);
    }

    #[test]
    fn the_interactive_queue_is_bounded_but_cancelled_jobs_do_not_count() {
        let inbox = Inbox::new(2);
        let (first, first_cancel) = job("a");
        inbox.submit(first).unwrap();
        inbox.submit(job("a").0).unwrap();
        assert_eq!(inbox.submit(job("a").0), Err(SubmitError::Busy(2)));
        first_cancel.cancel();
        inbox.submit(job("a").0).unwrap();
    }

    #[test]
    fn closing_a_document_drops_its_background_work_and_wakes_housekeeping() {
        let inbox = Inbox::new(2);
        inbox.submit_background(prewarm("a", "x"));
        inbox.forget("a");
        assert_eq!(document_of(inbox.next()), "background ");
        assert_eq!(inbox.take_forgotten(), ["a"]);
        inbox.shutdown();
        assert_eq!(document_of(inbox.next()), "shutdown");
        assert_eq!(inbox.submit(job("a").0), Err(SubmitError::Stopped));
    }
}
