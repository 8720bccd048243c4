//! Suggestions by prompt: every engine generation is kept with the text it continued, so a request whose text extends that prompt by what the suggestion begins with is served from it — while it is still being generated (typed-ahead) or after (the completion cache).
//!
//! The model's output depends only on the text before the cursor (the prompt), so a generation for
//! prefix `P` that produced `G` also answers any request at `P + t` where `t` is a beginning of `G`:
//! the remainder is `G[t..]`, with no model work. The lookup scans the document's recent
//! generations for one whose prefix the new text extends by at most [`MAX_TYPED_CHARS`]
//! characters, which is llama.vim's "nearby" cache lookup; backspacing back onto an earlier
//! prefix finds that prefix's generation again.
//!
//! A generation outlives the request that started it: a request cancelled because the user typed
//! leaves it running for [`ORPHAN_GRACE`], time for the next request to adopt it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tower_lsp::lsp_types::Url;

use super::sync::lock;
use crate::engine::{CancelToken, Candidate, CompletionStats};

/// How far back (in characters) a request may be from a cached generation's prefix.
pub const MAX_TYPED_CHARS: usize = 128;
/// Generations kept per document; the oldest beyond this are dropped.
const PER_DOCUMENT: usize = 16;
/// How long a generation nobody listens to keeps running, waiting to be adopted.
pub const ORPHAN_GRACE: Duration = Duration::from_millis(250);

/// How a generation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    /// The engine finished (or was stopped); statistics attached.
    Done(CompletionStats),
    /// The engine reported an error.
    Error(String),
}

/// What a generation has produced so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Raw model text, before post-processing.
    pub raw: String,
    /// The candidate first lines the engine chose among, best first (the raw text continues the
    /// first); `None` when it streamed without a search (sampling, the remote engine).
    pub candidates: Option<Vec<Candidate>>,
    /// While `raw` is still empty, what it will begin with one of, as far as the engine knows yet
    /// (see `EngineEvent::Beginnings`); `None` when it has not said.
    pub beginnings: Option<Vec<String>>,
    pub finish: Option<Finish>,
}

impl Progress {
    /// Whether this generation may still write `typed` (text the user typed after its prompt):
    /// its text so far says it, or stops short of it without contradicting it.
    fn may_write(&self, typed: &str) -> bool {
        let agrees = |text: &str| text.starts_with(typed) || typed.starts_with(text);
        match &self.beginnings {
            Some(beginnings) if self.raw.is_empty() => beginnings.iter().any(|b| agrees(b)),
            _ => agrees(&self.raw),
        }
    }
}

/// One engine generation and everyone listening to it.
pub struct Generation {
    /// The text before the cursor the generation continues.
    pub prefix: String,
    progress: watch::Sender<Progress>,
    /// Cancels the engine job.
    job: CancelToken,
    listeners: AtomicUsize,
    /// Set when a request found the suggestion complete and stopped the engine on purpose: the
    /// text then is a whole suggestion even though the engine reports a cancellation.
    complete: AtomicBool,
    /// Set when the document's text moved where this generation cannot serve it while a request
    /// still listened (a superseded one, finishing its answer): when that last listener goes, no
    /// later request can adopt the generation, so it stops at once instead of after the grace.
    abandoned: AtomicBool,
}

pub use crate::rill_protocol::Source;

impl Generation {
    pub fn new(prefix: String, job: CancelToken) -> Arc<Self> {
        Arc::new(Self {
            prefix,
            progress: watch::channel(Progress::default()).0,
            job,
            listeners: AtomicUsize::new(0),
            complete: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    pub fn progress(&self) -> Progress {
        self.progress.borrow().clone()
    }

    pub fn set_candidates(&self, candidates: Vec<Candidate>) {
        self.progress
            .send_modify(|progress| progress.candidates = Some(candidates));
    }

    /// Records what the text will begin with without waking the listeners: only
    /// [`Suggestions::stop_unreachable`] reads it, on the next keystroke, and a request woken on
    /// every decode step of a search would only find its text unchanged.
    pub fn set_beginnings(&self, beginnings: Vec<String>) {
        self.progress.send_if_modified(|progress| {
            progress.beginnings = Some(beginnings);
            false
        });
    }

    pub fn push_text(&self, text: &str) {
        self.progress
            .send_modify(|progress| progress.raw.push_str(text));
    }

    pub fn finish(&self, finish: Finish) {
        self.progress.send_modify(|progress| {
            progress.finish.get_or_insert(finish);
        });
    }

    pub fn is_running(&self) -> bool {
        self.progress.borrow().finish.is_none()
    }

    /// Stops the engine because the suggestion is whole; the text stays reusable.
    pub fn stop_complete(&self) {
        self.complete.store(true, Ordering::Release);
        self.job.cancel();
    }

    /// Stops the engine; the text so far stays usable only while... nothing more comes.
    pub fn stop(&self) {
        self.job.cancel();
    }

    /// Whether a finished generation's text is a whole suggestion (not cut short).
    fn is_whole(&self) -> bool {
        match &self.progress.borrow().finish {
            None => false,
            Some(Finish::Error(_)) => false,
            Some(Finish::Done(stats)) => !stats.cancelled || self.complete.load(Ordering::Acquire),
        }
    }

    pub fn listeners(&self) -> usize {
        self.listeners.load(Ordering::Acquire)
    }

    /// Registers a listener; the generation keeps running while one is attached.
    pub fn attach(self: &Arc<Self>) -> Listener {
        self.listeners.fetch_add(1, Ordering::AcqRel);
        Listener(self.clone())
    }
}

/// A request's attachment to a generation; dropping it detaches.
pub struct Listener(Arc<Generation>);

impl Drop for Listener {
    fn drop(&mut self) {
        let left = self.0.listeners.fetch_sub(1, Ordering::SeqCst) - 1;
        if left == 0 && self.0.is_running() {
            if self.0.abandoned.load(Ordering::SeqCst) {
                self.0.stop();
                return;
            }
            // Nobody listens: give the next keystroke's request a moment to adopt the generation,
            // then stop the engine so it does not work for nobody.
            let generation = self.0.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    tokio::time::sleep(ORPHAN_GRACE).await;
                    if generation.listeners() == 0 {
                        generation.stop();
                    }
                });
            } else {
                generation.stop();
            }
        }
    }
}

/// A match for a request: the generation and how many bytes of its text the user has typed.
pub struct Match {
    pub generation: Arc<Generation>,
    pub typed_bytes: usize,
    pub source: Source,
}

/// Every document's recent generations.
#[derive(Default)]
pub struct Suggestions {
    by_document: Mutex<HashMap<Url, Vec<Arc<Generation>>>>,
    /// When each document last asked for a generation, to tell a typing burst from a pause.
    last_started: Mutex<HashMap<Url, std::time::Instant>>,
}

impl Suggestions {
    /// Records that `uri` starts a new generation now and returns how long ago the previous one
    /// started (`None` for the first).
    pub fn note_start(&self, uri: &Url) -> Option<Duration> {
        let now = std::time::Instant::now();
        lock(&self.last_started)
            .insert(uri.clone(), now)
            .map(|previous| now - previous)
    }

    /// Finds a generation that answers a request at `text_before_cursor`: one whose prefix this
    /// text extends by at most [`MAX_TYPED_CHARS`] characters that its text begins with, and which
    /// still runs or left more than the typed part. The newest match wins.
    pub fn find(&self, uri: &Url, text_before_cursor: &str) -> Option<Match> {
        let by_document = lock(&self.by_document);
        let generations = by_document.get(uri)?;
        generations.iter().rev().find_map(|generation| {
            let typed = text_before_cursor.strip_prefix(generation.prefix.as_str())?;
            if typed.chars().count() > MAX_TYPED_CHARS {
                return None;
            }
            let progress = generation.progress.borrow();
            if !progress.raw.starts_with(typed) {
                return None;
            }
            // A stopped generation that has not reported its end yet gets no more text.
            let running = progress.finish.is_none() && !generation.job.is_cancelled();
            drop(progress);
            let source = if running {
                Source::TypedAhead
            } else if generation.is_whole() && generation.progress.borrow().raw.len() > typed.len()
            {
                Source::Cache
            } else {
                return None;
            };
            Some(Match {
                generation: generation.clone(),
                typed_bytes: typed.len(),
                source,
            })
        })
    }

    /// Records a new generation for `uri`, dropping the oldest beyond the per-document limit.
    pub fn insert(&self, uri: &Url, generation: Arc<Generation>) {
        let mut by_document = lock(&self.by_document);
        let generations = by_document.entry(uri.clone()).or_default();
        generations.retain(|old| old.prefix != generation.prefix || old.is_running());
        generations.push(generation);
        if generations.len() > PER_DOCUMENT {
            let excess = generations.len() - PER_DOCUMENT;
            generations.drain(..excess);
        }
    }

    /// Stops every running generation of `uri`.
    pub fn stop_running(&self, uri: &Url) {
        if let Some(generations) = lock(&self.by_document).get(uri) {
            for generation in generations.iter().filter(|g| g.is_running()) {
                generation.stop();
            }
        }
    }

    /// Stops every running generation nobody listens to: a new engine job is about to start and
    /// must not wait behind them.
    pub fn stop_orphans(&self) {
        for generation in lock(&self.by_document).values().flatten() {
            if generation.is_running() && generation.listeners() == 0 {
                generation.stop();
            }
        }
    }

    /// Stops the running generations of `uri` that can no longer serve the text before the
    /// cursor: it left their prompt, or the user typed something their text does not say (while
    /// the first line is still searched: none of the texts the search may still choose). Waiting
    /// out [`ORPHAN_GRACE`] for them would only decode for nobody. One a request still listens to
    /// (a superseded request finishing its answer) stops when that request lets go. A generation
    /// whose text the typed part merely ran ahead of keeps running: it may still write what was
    /// typed.
    pub fn stop_unreachable(&self, uri: &Url, text_before_cursor: &str) {
        let Some(generations) = lock(&self.by_document).get(uri).cloned() else {
            return;
        };
        for generation in generations {
            if !generation.is_running() {
                continue;
            }
            let reachable = text_before_cursor
                .strip_prefix(generation.prefix.as_str())
                .is_some_and(|typed| generation.progress.borrow().may_write(typed));
            if reachable {
                continue;
            }
            // Sequentially consistent on both sides (here and in `Listener::drop`), so that a
            // listener leaving meanwhile either sees the mark or is seen gone here.
            generation.abandoned.store(true, Ordering::SeqCst);
            if generation.listeners.load(Ordering::SeqCst) == 0 {
                generation.stop();
            }
        }
    }

    /// Forgets a closed document's generations, stopping any still running.
    pub fn forget(&self, uri: &Url) {
        lock(&self.last_started).remove(uri);
        if let Some(generations) = lock(&self.by_document).remove(uri) {
            for generation in generations {
                generation.stop();
            }
        }
    }

    /// Forgets everything (the settings changed what a suggestion would be).
    pub fn clear(&self) {
        let all: Vec<_> = lock(&self.by_document).drain().collect();
        for generation in all.into_iter().flat_map(|(_, generations)| generations) {
            generation.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri() -> Url {
        Url::parse("file:///a.py").unwrap()
    }

    fn stats(cancelled: bool) -> CompletionStats {
        CompletionStats {
            cancelled,
            ..CompletionStats::cancelled()
        }
    }

    fn generation(prefix: &str, raw: &str, finish: Option<Finish>) -> Arc<Generation> {
        let generation = Generation::new(prefix.to_string(), CancelToken::new());
        generation.push_text(raw);
        if let Some(finish) = finish {
            generation.finish(finish);
        }
        generation
    }

    #[test]
    fn orphans_the_typed_text_left_behind_stop_and_the_others_run_on() {
        let suggestions = Suggestions::default();
        let diverged = generation("x = ", "total", None);
        let behind = generation("x = ", "to", None);
        let other_line = generation("y = ", "1", None);
        let listened = generation("x = ", "count", None);
        let listener = listened.attach();
        for generation in [&diverged, &behind, &other_line, &listened] {
            suggestions.insert(&uri(), generation.clone());
        }
        suggestions.stop_unreachable(&uri(), "x = tox");
        assert!(diverged.job.is_cancelled(), "typed `x` where it says `t`");
        assert!(other_line.job.is_cancelled(), "the cursor left its prompt");
        assert!(!behind.job.is_cancelled(), "it may still write `x`");
        assert!(
            !listened.job.is_cancelled(),
            "a request still listens to it"
        );
        // Its listener leaving stops it at once: no later request can adopt it, so it gets no
        // grace (the runtime would otherwise give it `ORPHAN_GRACE`).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        drop(listener);
        assert!(
            listened.job.is_cancelled(),
            "abandoned once the text left it"
        );
        let reachable = generation("x = ", "tox + 1", None);
        suggestions.insert(&uri(), reachable.clone());
        suggestions.stop_unreachable(&uri(), "x = tox");
        drop(reachable.attach());
        assert!(
            !reachable.job.is_cancelled(),
            "one the text can still reach waits out the grace"
        );
    }

    #[test]
    fn beginnings_are_kept_without_waking_the_listeners() {
        let generation = generation("of the first ", "", None);
        let mut progress = generation.subscribe();
        progress.mark_unchanged();
        generation.set_beginnings(vec!["element".to_string()]);
        assert!(!progress.has_changed().unwrap(), "no text to look at yet");
        assert_eq!(
            progress.borrow().beginnings.as_deref(),
            Some(&["element".to_string()][..])
        );
        generation.push_text("el");
        assert!(progress.has_changed().unwrap(), "text wakes them");
    }

    #[test]
    fn a_generation_still_searching_stops_once_none_of_its_beginnings_fits() {
        let suggestions = Suggestions::default();
        let searching = |beginnings: Option<&[&str]>| {
            let generation = generation("of the first ", "", None);
            if let Some(beginnings) = beginnings {
                generation.set_beginnings(beginnings.iter().map(|b| b.to_string()).collect());
            }
            suggestions.insert(&uri(), generation.clone());
            generation
        };
        let unknown = searching(None);
        let elsewhere = searching(Some(&["element", "entry", "item"]));
        let one_fits = searching(Some(&["entry", "max"]));
        let shorter = searching(Some(&["m"]));
        suggestions.stop_unreachable(&uri(), "of the first maxi");
        assert!(
            !unknown.job.is_cancelled(),
            "nothing known yet: it may write it"
        );
        assert!(elsewhere.job.is_cancelled(), "no beginning says `maxi`");
        assert!(!one_fits.job.is_cancelled(), "`max` may go on to `maxi`");
        assert!(!shorter.job.is_cancelled(), "`m` may go on to `maxi`");
        // Once text comes, the text decides, whatever the search said.
        one_fits.push_text("entry point");
        suggestions.stop_unreachable(&uri(), "of the first maxi");
        assert!(one_fits.job.is_cancelled(), "its text says `entry`");
    }

    fn check(suggestions: &Suggestions, text: &str, expect: Option<(&str, usize, Source)>) {
        let found = suggestions
            .find(&uri(), text)
            .map(|m| (m.generation.prefix.clone(), m.typed_bytes, m.source));
        assert_eq!(
            found,
            expect.map(|(prefix, typed, source)| (prefix.to_string(), typed, source)),
            "request at {text:?}"
        );
    }

    #[test]
    fn typing_the_beginning_of_a_running_suggestion_adopts_it() {
        let suggestions = Suggestions::default();
        suggestions.insert(&uri(), generation("def f(", "x, y):", None));
        check(
            &suggestions,
            "def f(",
            Some(("def f(", 0, Source::TypedAhead)),
        );
        check(
            &suggestions,
            "def f(x, ",
            Some(("def f(", 3, Source::TypedAhead)),
        );
        check(&suggestions, "def f(z", None);
        check(&suggestions, "def f", None);
    }

    #[test]
    fn a_finished_whole_suggestion_serves_the_rest_from_the_cache() {
        let suggestions = Suggestions::default();
        suggestions.insert(
            &uri(),
            generation("x = ", "compute()\n", Some(Finish::Done(stats(false)))),
        );
        check(&suggestions, "x = comp", Some(("x = ", 4, Source::Cache)));
        // Everything typed: nothing left to suggest, so the model has to run.
        check(&suggestions, "x = compute()\n", None);
    }

    #[test]
    fn a_cut_short_suggestion_is_not_reused_once_finished_unless_it_was_whole() {
        let suggestions = Suggestions::default();
        let cut = generation("a", "bcd", Some(Finish::Done(stats(true))));
        suggestions.insert(&uri(), cut);
        check(&suggestions, "ab", None);
        let whole = generation("q", "rst", None);
        whole.stop_complete();
        whole.finish(Finish::Done(stats(true)));
        suggestions.insert(&uri(), whole);
        check(&suggestions, "qr", Some(("q", 1, Source::Cache)));
        let failed = generation("e", "rror", Some(Finish::Error("x".into())));
        suggestions.insert(&uri(), failed);
        check(&suggestions, "er", None);
    }

    #[test]
    fn the_nearby_lookup_scans_back_at_most_128_characters() {
        let suggestions = Suggestions::default();
        let long = "é".repeat(200);
        suggestions.insert(&uri(), generation("p", &long, None));
        let within = format!("p{}", "é".repeat(128));
        check(&suggestions, &within, Some(("p", 256, Source::TypedAhead)));
        let beyond = format!("p{}", "é".repeat(129));
        check(&suggestions, &beyond, None);
    }

    #[test]
    fn backspace_finds_the_earlier_prefix_again_and_the_newest_match_wins() {
        let suggestions = Suggestions::default();
        let done = || Some(Finish::Done(stats(false)));
        suggestions.insert(&uri(), generation("for i", " in range(n):", done()));
        suggestions.insert(&uri(), generation("for i in", " range(n):", done()));
        check(
            &suggestions,
            "for i in r",
            Some(("for i in", 2, Source::Cache)),
        );
        check(&suggestions, "for i ", Some(("for i", 1, Source::Cache)));
    }

    #[test]
    fn a_stopped_generation_is_not_adopted_before_it_reports_its_end() {
        let suggestions = Suggestions::default();
        let stopped = generation("a", "bcd", None);
        stopped.stop();
        suggestions.insert(&uri(), stopped);
        check(&suggestions, "ab", None);
    }

    #[test]
    fn forgetting_a_document_stops_its_generations() {
        let suggestions = Suggestions::default();
        let job = CancelToken::new();
        suggestions.insert(&uri(), Generation::new("a".into(), job.clone()));
        suggestions.forget(&uri());
        assert!(job.is_cancelled());
        check(&suggestions, "a", None);
    }

    #[test]
    fn orphans_are_stopped_but_listened_generations_keep_running() {
        let suggestions = Suggestions::default();
        let (orphan_job, listened_job) = (CancelToken::new(), CancelToken::new());
        let orphan = Generation::new("a".into(), orphan_job.clone());
        let listened = Generation::new("b".into(), listened_job.clone());
        suggestions.insert(&uri(), orphan);
        suggestions.insert(&uri(), listened.clone());
        let _listener = listened.attach();
        suggestions.stop_orphans();
        assert!(orphan_job.is_cancelled());
        assert!(!listened_job.is_cancelled());
    }
}
