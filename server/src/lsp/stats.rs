//! Suggestion figures kept on this machine: which answered suggestions were shown and accepted, per language and per source, and latency since start (`rill/stats`); the counts persist in the user's data directory unless `stats.persist` is off.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_lsp::lsp_types::NumberOrString;

use super::sync::lock;
use crate::rill_protocol::{Source, StatsFigures, StatsLatency, StatsResult};

/// Answered requests remembered for their show and accept reports: a client reports within
/// seconds, and the bound keeps memory flat whatever it sends.
const REMEMBERED: usize = 512;
/// Latency samples kept (the newest), for p50 and p95.
const LATENCY_SAMPLES: usize = 4096;
/// How long changed counts wait before they are written, so a burst of reports costs one write.
const WRITE_DELAY: Duration = Duration::from_secs(1);

/// An answered request, until its reports are in.
#[derive(Debug, Clone)]
pub struct Answered {
    pub language: String,
    pub source: Source,
    /// The suggestion's length in UTF-16 code units.
    pub length: u64,
}

#[derive(Debug)]
struct Reported {
    answered: Answered,
    shown: bool,
    accepted: u64,
    outcome: Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    None,
    Partial,
    Full,
}

/// The counts that persist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Counts {
    overall: StatsFigures,
    by_language: BTreeMap<String, StatsFigures>,
    by_source: BTreeMap<Source, StatsFigures>,
}

#[derive(Default)]
struct State {
    requests: HashMap<String, Reported>,
    order: VecDeque<String>,
    /// Reports that came before their request's answer was noted: a client streaming partials
    /// shows (and may accept) the first one before the response. Applied by [`Stats::answered`];
    /// the largest accepted length so far, bounded like `requests`.
    early: HashMap<String, u64>,
    early_order: VecDeque<String>,
    counts: Counts,
    latencies: VecDeque<f64>,
    /// Where the counts persist; `None` when they do not.
    path: Option<PathBuf>,
    /// Where they persist while `stats.persist` is on.
    home: Option<PathBuf>,
    write_pending: bool,
    /// A failed write is logged once, and the counts stay in memory.
    write_failed: bool,
}

/// The figures; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Stats {
    state: Arc<Mutex<State>>,
}

impl Stats {
    /// Figures persisted at `path` (loaded now: a missing file is empty, a corrupt one is logged
    /// once and replaced), or in memory only.
    pub fn new(path: Option<PathBuf>) -> Self {
        let counts = path.as_deref().map(load).unwrap_or_default();
        Self {
            state: Arc::new(Mutex::new(State {
                counts,
                home: path.clone(),
                path,
                ..State::default()
            })),
        }
    }

    /// Stops (or resumes) persisting: `stats.persist`. Counts already in memory stay.
    pub fn set_persist(&self, persist: bool) {
        let mut state = lock(&self.state);
        state.path = if persist { state.home.clone() } else { None };
    }

    /// Notes an answered request that the client may report on, and applies what it reported
    /// before this.
    pub fn answered(&self, request: &NumberOrString, answered: Answered, latency: Duration) {
        let early = self.note_answered(request, answered, latency);
        if let Some(accepted) = early {
            self.shown(request);
            if accepted > 0 {
                self.accepted(request, accepted);
            }
        }
    }

    /// Records the request; the early report waiting for it, if any.
    fn note_answered(
        &self,
        request: &NumberOrString,
        answered: Answered,
        latency: Duration,
    ) -> Option<u64> {
        let mut state = lock(&self.state);
        if state.latencies.len() == LATENCY_SAMPLES {
            state.latencies.pop_front();
        }
        state.latencies.push_back(latency.as_secs_f64() * 1000.0);
        let key = key(request);
        if state.requests.contains_key(&key) {
            return None;
        }
        if state.order.len() == REMEMBERED {
            if let Some(oldest) = state.order.pop_front() {
                state.requests.remove(&oldest);
            }
        }
        state.order.push_back(key.clone());
        let early = state.early.remove(&key);
        state.requests.insert(
            key,
            Reported {
                answered,
                shown: false,
                accepted: 0,
                outcome: Outcome::None,
            },
        );
        early
    }

    /// Keeps a report for a request not answered yet (see `State::early`).
    fn report_early(&self, request: &NumberOrString, accepted: u64) {
        let mut state = lock(&self.state);
        let key = key(request);
        if !state.early.contains_key(&key) {
            if state.early_order.len() == REMEMBERED {
                if let Some(oldest) = state.early_order.pop_front() {
                    state.early.remove(&oldest);
                }
            }
            state.early_order.push_back(key.clone());
        }
        let kept = state.early.entry(key).or_default();
        *kept = (*kept).max(accepted);
    }

    /// `rill/didShowCompletion`; false for a request not answered yet (kept until it is).
    pub fn did_show(&self, request: &NumberOrString) -> bool {
        if self.shown(request) {
            return true;
        }
        self.report_early(request, 0);
        false
    }

    /// `rill/didAcceptCompletion`; false for a request not answered yet (kept until it is).
    pub fn did_accept(&self, request: &NumberOrString, accepted_length: u64) -> bool {
        if self.accepted(request, accepted_length) {
            return true;
        }
        self.report_early(request, accepted_length);
        false
    }

    /// Counts a show of a known request; false for a request it does not know.
    fn shown(&self, request: &NumberOrString) -> bool {
        let write = {
            let mut state = lock(&self.state);
            let state = &mut *state;
            let Some(reported) = state.requests.get_mut(&key(request)) else {
                return false;
            };
            if reported.shown {
                return true;
            }
            reported.shown = true;
            for figures in slices(&mut state.counts, &reported.answered) {
                figures.shown += 1;
            }
            state.dirty()
        };
        if write {
            self.schedule_write();
        }
        true
    }

    /// Counts an accept (the cumulative accepted length) of a known request; false for a request
    /// it does not know.
    fn accepted(&self, request: &NumberOrString, accepted_length: u64) -> bool {
        if !self.shown(request) {
            return false;
        }
        let write = {
            let mut state = lock(&self.state);
            let state = &mut *state;
            let Some(reported) = state.requests.get_mut(&key(request)) else {
                return false;
            };
            let length = reported.answered.length;
            let now = accepted_length.min(length);
            if now <= reported.accepted {
                return true;
            }
            let added = now - reported.accepted;
            reported.accepted = now;
            let before = reported.outcome;
            let after = if now >= length {
                Outcome::Full
            } else {
                Outcome::Partial
            };
            reported.outcome = after;
            for figures in slices(&mut state.counts, &reported.answered) {
                figures.accepted_chars += added;
                match (before, after) {
                    (Outcome::None, Outcome::Partial) => figures.partially_accepted += 1,
                    (Outcome::None, Outcome::Full) => figures.accepted += 1,
                    (Outcome::Partial, Outcome::Full) => {
                        figures.partially_accepted -= 1;
                        figures.accepted += 1;
                    }
                    _ => {}
                }
            }
            state.dirty()
        };
        if write {
            self.schedule_write();
        }
        true
    }

    /// What `rill/stats` answers.
    pub fn report(&self) -> StatsResult {
        let state = lock(&self.state);
        let rated = |figures: &StatsFigures| StatsFigures {
            acceptance_rate: if figures.shown == 0 {
                0.0
            } else {
                (figures.accepted + figures.partially_accepted) as f64 / figures.shown as f64
            },
            ..figures.clone()
        };
        let mut sorted: Vec<f64> = state.latencies.iter().copied().collect();
        sorted.sort_by(f64::total_cmp);
        StatsResult {
            overall: rated(&state.counts.overall),
            by_language: state
                .counts
                .by_language
                .iter()
                .map(|(language, figures)| (language.clone(), rated(figures)))
                .collect(),
            by_source: state
                .counts
                .by_source
                .iter()
                .map(|(source, figures)| (*source, rated(figures)))
                .collect(),
            latency_ms: StatsLatency {
                p50: percentile(&sorted, 0.50),
                p95: percentile(&sorted, 0.95),
                samples: sorted.len() as u64,
            },
            persisted: state.path.is_some() && !state.write_failed,
            path: state.path.clone().filter(|_| !state.write_failed),
        }
    }

    /// Writes changed counts a moment after the first change (see [`WRITE_DELAY`]).
    fn schedule_write(&self) {
        let stats = self.clone();
        // Outside a runtime (unit tests) the counts are written at once.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(WRITE_DELAY).await;
                    let _ = tokio::task::spawn_blocking(move || stats.write_now()).await;
                });
            }
            Err(_) => stats.write_now(),
        }
    }

    /// Writes the counts now, if they persist and changed.
    fn write_now(&self) {
        let (path, counts) = {
            let mut state = lock(&self.state);
            state.write_pending = false;
            match &state.path {
                Some(path) if !state.write_failed => (path.clone(), state.counts.clone()),
                _ => return,
            }
        };
        if let Err(err) = store(&path, &counts) {
            tracing::warn!(
                "cannot keep the suggestion figures in {}: {err}; they stay in memory",
                path.display()
            );
            lock(&self.state).write_failed = true;
        }
    }
}

impl State {
    /// Marks the counts changed; true when a write must be scheduled (none is yet).
    fn dirty(&mut self) -> bool {
        let schedule = self.path.is_some() && !self.write_pending && !self.write_failed;
        self.write_pending |= schedule;
        schedule
    }
}

/// The figures a request counts in: overall, its language's, its source's.
fn slices<'a>(counts: &'a mut Counts, answered: &Answered) -> [&'a mut StatsFigures; 3] {
    let Counts {
        overall,
        by_language,
        by_source,
    } = counts;
    [
        overall,
        by_language.entry(answered.language.clone()).or_default(),
        by_source.entry(answered.source).or_default(),
    ]
}

fn key(request: &NumberOrString) -> String {
    match request {
        NumberOrString::Number(n) => format!("n{n}"),
        NumberOrString::String(s) => format!("s{s}"),
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    Some(sorted[index])
}

/// `$XDG_DATA_HOME/rill/stats.json`, else `~/.local/share/rill/stats.json`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".local/share")))?;
    Some(base.join("rill").join("stats.json"))
}

/// The counts in `path`: empty when there is none, and when it cannot be read (logged once).
fn load(path: &Path) -> Counts {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Counts::default(),
        Err(err) => {
            tracing::warn!(
                "cannot read the suggestion figures in {}: {err}; starting from zero",
                path.display()
            );
            return Counts::default();
        }
    };
    serde_json::from_str(&text).unwrap_or_else(|err| {
        tracing::warn!(
            "the suggestion figures in {} are not readable ({err}); starting from zero",
            path.display()
        );
        Counts::default()
    })
}

/// Writes `counts` to `path` atomically (a temporary file renamed over it).
fn store(path: &Path, counts: &Counts) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(directory)?;
    let temporary = path.with_extension("json.tmp");
    let text = serde_json::to_vec_pretty(counts).map_err(std::io::Error::other)?;
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}
