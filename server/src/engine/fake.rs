//! A scripted fake backend for tests of LSP behaviour: no model; deterministic text per prompt, configurable delays, failures and panics, and a record of every job it was given.
//!
//! It keeps the real engine's contract, which is what the LSP side relies on: one job at a time
//! on a thread of its own, what a searched first line will begin with before its text, text in
//! pieces with the cancel token checked before each piece, exactly
//! one `Done` or `Error` per completion, a panic turned into an error for that job only, and
//! background work answered on its own channel. What it writes is decided by a [`Script`], so a
//! test knows the text without a model and can make it slow, fail or panic on purpose.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::diagnose::DiagnoseEvent;
use super::prefer::Preference;
use super::{
    Backend, BackgroundJob, BackgroundKind, Candidate, CompletionJob, CompletionStats, EngineEvent,
    EngineState, ModelInfo, SubmitError,
};
use crate::config::Backend as BackendKind;
use crate::diagnostics::{Fix, Flag};

/// Set to a script file (see [`Script::from_json`]), this makes the `rill` binary serve from the
/// fake instead of a model: for editor tests that need a known answer (the VS Code preview of a
/// reasoning chain). It is logged loudly; users never set it.
pub const SCRIPT_VARIABLE: &str = "RILL_TEST_FAKE_SCRIPT";

/// How often a delay looks at the cancel token: a cancelled job stops within this.
const CANCEL_POLL: Duration = Duration::from_millis(2);

/// Which prompts a rule answers.
#[derive(Debug, Clone, PartialEq)]
pub enum When {
    Any,
    /// The text before the cursor (or the raw prompt) ends with this.
    PromptEndsWith(String),
    /// The text before the cursor (or the raw prompt) contains this.
    PromptContains(String),
}

/// What a rule answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// This text, in pieces (cut at the job's stop sequences and `max_tokens` pieces).
    Text(String),
    /// An `Error` event with this message.
    Fail(String),
    /// A panic with this message while the job runs.
    Panic(String),
    /// No text until cancelled (then `Done`, cancelled).
    Hang,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub when: When,
    pub reply: Reply,
}

/// What the fake does; a test may change it between requests ([`FakeBackend::script`]).
#[derive(Debug, Clone)]
pub struct Script {
    /// The first rule whose `when` matches decides; no match answers no text.
    pub rules: Vec<Rule>,
    /// Before the first piece of text.
    pub first_delay: Duration,
    /// Between pieces.
    pub piece_delay: Duration,
    /// Characters per piece (a stand-in for a token).
    pub piece_chars: usize,
    /// The confidence reported for every candidate (when the job asks for candidates).
    pub confidence: f32,
    /// Diagnostics: each occurrence of `.0` in a scored region is flagged, with `.1` as its fix.
    pub flags: Vec<(String, String)>,
    /// Before each diagnostics region is reported.
    pub region_delay: Duration,
    /// How long a next-edit search takes (its answer is the first propagated replacement).
    pub next_edit_delay: Duration,
    /// Whether the backend says it can score given text (`false` plays a remote engine).
    pub scores_text: bool,
    /// What the model's check of a reasoning result answers.
    pub preference: Preference,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            rules: Vec::new(),
            first_delay: Duration::ZERO,
            piece_delay: Duration::ZERO,
            piece_chars: 4,
            confidence: 0.9,
            flags: Vec::new(),
            region_delay: Duration::ZERO,
            next_edit_delay: Duration::ZERO,
            scores_text: true,
            preference: Preference {
                original: -1.0,
                result: -1.0,
            },
        }
    }
}

impl Script {
    /// A script read from JSON, for [`SCRIPT_VARIABLE`]:
    /// `{"rules": [{"endsWith"|"contains": "…", "text"|"fail"|"panic": "…"} | {"hang": true}],
    /// "firstDelayMs", "pieceDelayMs", "pieceChars", "confidence", "regionDelayMs",
    /// "flags": [["retrun", "return"]], "preference": {"original": -1.0, "result": -1.2},
    /// "nextEditDelayMs", "scoresText"}`,
    /// every member optional.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|err| format!("not JSON: {err}"))?;
        let mut script = Script::default();
        let millis = |key: &str| value[key].as_u64().map(Duration::from_millis);
        script.first_delay = millis("firstDelayMs").unwrap_or(script.first_delay);
        script.piece_delay = millis("pieceDelayMs").unwrap_or(script.piece_delay);
        script.region_delay = millis("regionDelayMs").unwrap_or(script.region_delay);
        script.next_edit_delay = millis("nextEditDelayMs").unwrap_or(script.next_edit_delay);
        if let Some(scores) = value["scoresText"].as_bool() {
            script.scores_text = scores;
        }
        if let Some(chars) = value["pieceChars"].as_u64() {
            script.piece_chars = chars as usize;
        }
        if let Some(confidence) = value["confidence"].as_f64() {
            script.confidence = confidence as f32;
        }
        if let (Some(original), Some(result)) = (
            value["preference"]["original"].as_f64(),
            value["preference"]["result"].as_f64(),
        ) {
            script.preference = Preference {
                original: original as f32,
                result: result as f32,
            };
        }
        for pair in value["flags"].as_array().into_iter().flatten() {
            match (pair[0].as_str(), pair[1].as_str()) {
                (Some(word), Some(fix)) => script.flags.push((word.to_string(), fix.to_string())),
                _ => return Err(format!("a flag is [word, fix]: {pair}")),
            }
        }
        for rule in value["rules"].as_array().into_iter().flatten() {
            let text = |key: &str| rule[key].as_str().map(str::to_string);
            let when = match (text("endsWith"), text("contains")) {
                (Some(suffix), _) => When::PromptEndsWith(suffix),
                (None, Some(part)) => When::PromptContains(part),
                (None, None) => When::Any,
            };
            let reply = match (text("text"), text("fail"), text("panic")) {
                (Some(answer), _, _) => Reply::Text(answer),
                (None, Some(message), _) => Reply::Fail(message),
                (None, None, Some(message)) => Reply::Panic(message),
                _ if rule["hang"] == true => Reply::Hang,
                _ => return Err(format!("a rule needs text, fail, panic or hang: {rule}")),
            };
            script.rules.push(Rule { when, reply });
        }
        Ok(script)
    }

    /// Answers prompts ending with `suffix` with `text`.
    pub fn when_ends_with(mut self, suffix: &str, text: &str) -> Self {
        self.rules.push(Rule {
            when: When::PromptEndsWith(suffix.to_string()),
            reply: Reply::Text(text.to_string()),
        });
        self
    }

    /// Answers every prompt (not matched by an earlier rule) with `reply`.
    pub fn otherwise(mut self, reply: Reply) -> Self {
        self.rules.push(Rule {
            when: When::Any,
            reply,
        });
        self
    }

    fn reply_for(&self, prompt: &str) -> Option<Reply> {
        self.rules
            .iter()
            .find(|rule| match &rule.when {
                When::Any => true,
                When::PromptEndsWith(suffix) => prompt.ends_with(suffix.as_str()),
                When::PromptContains(part) => prompt.contains(part.as_str()),
            })
            .map(|rule| rule.reply.clone())
    }
}

/// A job the fake was given, as it saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenJob {
    pub document: String,
    pub kind: SeenKind,
    /// The completion's text before the cursor or raw prompt; empty for other kinds.
    pub prompt: String,
    /// How a completion searches (its quality and parameters), or what a pre-warm was asked to
    /// decide ahead; `None` for other kinds and for a pre-warm without a lookahead.
    pub lookahead: Option<super::Lookahead>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeenKind {
    Completion,
    Diagnose,
    Prewarm,
    Prefer,
    NextEdit,
    Housekeeping,
}

/// How a completion ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// All its text was sent; the text.
    Completed(String),
    /// The cancel token stopped it; the text sent before.
    Cancelled(String),
    Failed(String),
}

enum Work {
    Complete(Box<CompletionJob>),
    Background(BackgroundJob),
}

/// The scripted fake backend. Clones share everything.
#[derive(Clone)]
pub struct FakeBackend {
    shared: Arc<Shared>,
}

struct Shared {
    script: Mutex<Script>,
    queue: Mutex<Option<std_mpsc::Sender<Work>>>,
    state: watch::Sender<EngineState>,
    model_info: Mutex<ModelInfo>,
    seen: Mutex<Vec<SeenJob>>,
    endings: Mutex<Vec<(String, Ending)>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeBackend {
    /// A ready fake that follows `script`, with its job thread started.
    pub fn new(script: Script) -> Self {
        let (sender, receiver) = std_mpsc::channel();
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            queue: Mutex::new(Some(sender)),
            state: watch::channel(EngineState::Ready).0,
            model_info: Mutex::new(ModelInfo::default()),
            seen: Mutex::new(Vec::new()),
            endings: Mutex::new(Vec::new()),
        });
        let worker = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("rill-fake-engine".to_string())
            .spawn(move || {
                while let Ok(work) = receiver.recv() {
                    let Some(shared) = worker.upgrade() else {
                        break;
                    };
                    shared.run(work);
                }
            })
            .expect("the fake engine thread starts");
        Self { shared }
    }

    /// Changes the script for the jobs that start from now on.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut lock(&self.shared.script));
    }

    /// Moves the fake to another state (loading, failed, ready again).
    pub fn set_state(&self, state: EngineState) {
        self.shared.state.send_replace(state);
    }

    /// What the LSP side learns about the "model" (a chat template makes reasoning use it).
    pub fn set_model_info(&self, info: ModelInfo) {
        *lock(&self.shared.model_info) = info;
    }

    /// Every job given so far, in order.
    pub fn jobs(&self) -> Vec<SeenJob> {
        lock(&self.shared.seen).clone()
    }

    /// The completions given so far.
    pub fn completions(&self) -> Vec<SeenJob> {
        self.jobs()
            .into_iter()
            .filter(|job| job.kind == SeenKind::Completion)
            .collect()
    }

    /// How each finished completion ended, by document, in order.
    pub fn endings(&self) -> Vec<(String, Ending)> {
        lock(&self.shared.endings).clone()
    }

    fn send(&self, work: Work) -> bool {
        lock(&self.shared.queue)
            .as_ref()
            .is_some_and(|queue| queue.send(work).is_ok())
    }
}

impl Backend for FakeBackend {
    fn kind(&self) -> Option<BackendKind> {
        None
    }

    fn scores_text(&self) -> bool {
        lock(&self.shared.script).scores_text
    }

    fn submit(&self, job: CompletionJob) -> Result<(), SubmitError> {
        if self.send(Work::Complete(Box::new(job))) {
            Ok(())
        } else {
            Err(SubmitError::Stopped)
        }
    }

    fn submit_background(&self, job: BackgroundJob) {
        self.send(Work::Background(job));
    }

    fn state(&self) -> watch::Receiver<EngineState> {
        self.shared.state.subscribe()
    }

    fn model_info(&self) -> Option<ModelInfo> {
        (*self.shared.state.borrow() == EngineState::Ready)
            .then(|| lock(&self.shared.model_info).clone())
    }

    fn shutdown(&self) {
        lock(&self.shared.queue).take();
    }
}

impl Shared {
    fn see(&self, document: &str, kind: SeenKind, prompt: &str) {
        self.see_with(document, kind, prompt, None);
    }

    fn see_with(
        &self,
        document: &str,
        kind: SeenKind,
        prompt: &str,
        lookahead: Option<super::Lookahead>,
    ) {
        lock(&self.seen).push(SeenJob {
            document: document.to_string(),
            kind,
            prompt: prompt.to_string(),
            lookahead,
        });
    }

    fn run(&self, work: Work) {
        match work {
            Work::Complete(job) => {
                self.see_with(
                    &job.sequence.document,
                    SeenKind::Completion,
                    &job.text_before_cursor,
                    Some(super::Lookahead {
                        quality: job.quality.clone(),
                        params: job.params.clone(),
                    }),
                );
                let mut sent = String::new();
                let outcome =
                    std::panic::catch_unwind(AssertUnwindSafe(|| self.complete(&job, &mut sent)));
                let (event, ending) = match outcome {
                    Ok(Ok(cancelled)) => (
                        EngineEvent::Done(CompletionStats {
                            cancelled,
                            ..CompletionStats::cancelled()
                        }),
                        if cancelled {
                            Ending::Cancelled(sent)
                        } else {
                            Ending::Completed(sent)
                        },
                    ),
                    Ok(Err(message)) => {
                        (EngineEvent::Error(message.clone()), Ending::Failed(message))
                    }
                    Err(panic) => {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|text| text.to_string()))
                            .unwrap_or_default();
                        let message = format!("internal error: {message}");
                        (EngineEvent::Error(message.clone()), Ending::Failed(message))
                    }
                };
                lock(&self.endings).push((job.sequence.to_string(), ending));
                let _ = job.events.send(event);
            }
            Work::Background(job) => self.background(job),
        }
    }

    /// Sends the scripted text; Ok(true) when cancelled, Err(message) for a scripted failure.
    fn complete(&self, job: &CompletionJob, sent: &mut String) -> Result<bool, String> {
        let script = lock(&self.script).clone();
        let reply = script.reply_for(&job.text_before_cursor);
        let searches = job.quality.searches() && !job.raw_prompt;
        let scripted = match &reply {
            Some(Reply::Text(text)) => Some(cut_at_stops(text, &job.params.stop)),
            _ => None,
        };
        if let Some(text) = scripted.as_ref().filter(|_| searches) {
            // As the real engine's line search does while it decodes: say what the text will
            // begin with (its first piece) long before the text itself.
            let first_piece: String = text.chars().take(script.piece_chars.max(1)).collect();
            let _ = job.events.send(EngineEvent::Beginnings(vec![first_piece]));
        }
        if !wait(script.first_delay, job) {
            return Ok(true);
        }
        let text = match reply {
            None | Some(Reply::Text(_)) => scripted.unwrap_or_default(),
            Some(Reply::Fail(message)) => return Err(message),
            Some(Reply::Panic(message)) => panic!("{message}"),
            Some(Reply::Hang) => {
                while !job.cancel.is_cancelled() {
                    std::thread::sleep(CANCEL_POLL);
                }
                return Ok(true);
            }
        };
        if searches {
            let first_line = text.split('\n').next().unwrap_or_default().to_string();
            let _ = job.events.send(EngineEvent::Candidates(vec![Candidate {
                text: first_line,
                confidence: script.confidence,
            }]));
        }
        let chars: Vec<char> = text.chars().collect();
        for (index, piece) in chars
            .chunks(script.piece_chars.max(1))
            .take(job.params.max_tokens.max(1))
            .enumerate()
        {
            if job.cancel.is_cancelled() || (index > 0 && !wait(script.piece_delay, job)) {
                return Ok(true);
            }
            let piece: String = piece.iter().collect();
            sent.push_str(&piece);
            let _ = job.events.send(EngineEvent::Text(piece));
        }
        Ok(job.cancel.is_cancelled())
    }

    fn background(&self, job: BackgroundJob) {
        let script = lock(&self.script).clone();
        match job.kind {
            BackgroundKind::Diagnose(diagnose) => {
                self.see(&job.document, SeenKind::Diagnose, "");
                for region in &diagnose.regions {
                    if !sleep_unless(script.region_delay, &|| diagnose.cancel.is_cancelled()) {
                        return;
                    }
                    let flags = flags_in(&diagnose.text, region, &script.flags);
                    let _ = diagnose.events.send(DiagnoseEvent::Scored {
                        region: region.clone(),
                        flags,
                    });
                }
                let _ = diagnose.events.send(DiagnoseEvent::Done);
            }
            BackgroundKind::NextEdit(next_edit) => {
                self.see(&job.document, SeenKind::NextEdit, &next_edit.text);
                if !sleep_unless(script.next_edit_delay, &|| next_edit.cancel.is_cancelled()) {
                    return;
                }
                let _ = next_edit
                    .answer
                    .send(Ok(super::next_edit::without_scoring(&next_edit)));
            }
            BackgroundKind::Prefer(prefer) => {
                self.see(&job.document, SeenKind::Prefer, &prefer.input.result);
                let _ = prefer.answer.send(Ok(Some(script.preference)));
            }
            BackgroundKind::Prewarm {
                text_before_cursor,
                lookahead,
                ..
            } => self.see_with(
                &job.document,
                SeenKind::Prewarm,
                &text_before_cursor,
                lookahead.as_deref().cloned(),
            ),
            BackgroundKind::Housekeeping => self.see(&job.document, SeenKind::Housekeeping, ""),
        }
    }
}

/// Sleeps `delay` unless the job is cancelled first; false when cancelled.
fn wait(delay: Duration, job: &CompletionJob) -> bool {
    sleep_unless(delay, &|| job.cancel.is_cancelled())
}

fn sleep_unless(delay: Duration, cancelled: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + delay;
    loop {
        if cancelled() {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep(CANCEL_POLL.min(end - now));
    }
}

/// The text up to the first stop sequence, as generation stops there.
fn cut_at_stops(text: &str, stops: &[String]) -> String {
    let end = stops
        .iter()
        .filter(|stop| !stop.is_empty())
        .filter_map(|stop| text.find(stop.as_str()))
        .min()
        .unwrap_or(text.len());
    text[..end].to_string()
}

/// A flag on every occurrence of a scripted word that starts inside `region`.
fn flags_in(text: &str, region: &Range<usize>, words: &[(String, String)]) -> Vec<Flag> {
    let mut flags = Vec::new();
    for (word, fix) in words {
        for (start, _) in text.match_indices(word.as_str()) {
            if region.contains(&start) {
                let range = start..start + word.len();
                flags.push(Flag {
                    range: range.clone(),
                    text: word.clone(),
                    surprise: 20.0,
                    expected: fix.clone(),
                    expected_prob: 0.9,
                    fix: Some(Fix {
                        replace: range,
                        text: fix.clone(),
                    }),
                });
            }
        }
    }
    flags.sort_by_key(|flag| flag.range.start);
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_script_reads_from_json_and_says_what_is_wrong() {
        let script = Script::from_json(
            r#"{"rules": [{"contains": "Steps", "text": " one\n"}, {"hang": true}],
                "pieceDelayMs": 7, "flags": [["retrun", "return"]],
                "preference": {"original": -1.0, "result": -1.5}}"#,
        )
        .unwrap();
        assert_eq!(script.piece_delay, Duration::from_millis(7));
        assert_eq!(
            script.reply_for("…Steps (at most 2):\n1."),
            Some(Reply::Text(" one\n".into()))
        );
        assert_eq!(script.reply_for("anything"), Some(Reply::Hang));
        assert_eq!(
            script.flags,
            vec![("retrun".to_string(), "return".to_string())]
        );
        assert_eq!(script.preference.drop(), 0.5);
        assert!(Script::from_json(r#"{"rules": [{"contains": "x"}]}"#)
            .unwrap_err()
            .contains("needs text"));
        assert!(Script::from_json("{").unwrap_err().contains("not JSON"));
    }
}
