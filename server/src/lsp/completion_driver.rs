//! Runs one completion for a request handler: snapshot the document, queue the engine job, post-process the
//! growing text, stream partials, and stop at the first of: a complete suggestion, the time budget, or cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tower_lsp::jsonrpc;
use tower_lsp::lsp_types::{NumberOrString, Range, Url};

use super::completion_input::{generation_params, quality, Snapshot};
use super::cross_file;
use super::rhythm::{Bounds, Place};
use super::session::{lock, Session};
use super::suggestions::{Finish, Generation, Progress, Source};
use crate::config::Config;
use crate::engine::{
    CancelOnDrop, CancelToken, CompletionJob, EngineEvent, EngineHandle, EngineState, SequenceKey,
};
use crate::postprocess::{choose_mode, postprocess};
use crate::protocol::InlineCompletionItem;
use crate::rill_protocol::{
    InlineCompletionPartialParams, NextEditMode, StatusParams, StatusState,
};

/// Longest pause between two partial notifications while text keeps arriving.
const FLUSH_INTERVAL: Duration = Duration::from_millis(30);
/// tower-lsp writes notifications and responses from two queues: a pause this long lets queued
/// partials leave before the response, which clients expect to come last.
const PARTIAL_DRAIN: Duration = Duration::from_millis(5);
/// How long the status report waits for a generation's statistics.
const STATUS_WAIT: Duration = Duration::from_secs(10);

/// What a completion answers: the suggestion, and the other candidates, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    /// The first line's geometric-mean token probability, when the engine measured it.
    pub confidence: Option<f32>,
    /// Other suggestions, post-processed like `text`, distinct from it and from each other.
    pub alternatives: Vec<String>,
    /// How it was served.
    pub source: Source,
    /// From the request to its first text (a partial, or the answer when nothing streamed).
    pub latency: Duration,
}

/// Who asked for the completion, which decides whether it may wait for a pause in typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The editor asked on its own as the user typed: new model work waits as `rhythm` says.
    Automatic,
    /// The user asked, or the client waits for the answer before showing anything: no wait.
    Explicit,
}

/// Where partial results go when the client streams.
pub struct PartialTarget {
    pub request_id: NumberOrString,
}

/// Runs the completion. `Ok(None)` means "answer empty": disabled, model not ready, engine busy,
/// or the request went stale (superseded or edited) before it finished.
pub async fn drive(
    session: &Arc<Session>,
    uri: &Url,
    snapshot: &Snapshot,
    budget: Duration,
    partials: Option<PartialTarget>,
    trigger: Trigger,
) -> jsonrpc::Result<Option<Answer>> {
    let config = session.config();
    // Nothing but whitespace before the cursor: the model has nothing to continue, and what it
    // writes from nothing is noise.
    if !config.enable || snapshot.text_before_cursor.trim().is_empty() {
        return Ok(None);
    }
    if !super::gate::suggests(&config, uri, &snapshot.language_id) {
        tracing::debug!("no completion for {uri}: completion.exclude or completion.languages");
        return Ok(None);
    }
    let started = Instant::now();
    // The user is looking here: the lines around the cursor become context for other documents.
    let viewed = cross_file::on_view(session, uri, snapshot.position.line as usize);
    super::prewarm::refresh_when_idle(session, viewed);
    let token = CancelToken::new();
    // Dropping the handler's future ($/cancelRequest) cancels this request's token; its generation
    // stops once no request listens to it (after `suggestions::ORPHAN_GRACE`).
    let _guard = CancelOnDrop(token.clone());
    let ticket = session.begin_request(uri, token.clone());
    let request = Request {
        session,
        uri,
        snapshot,
        config: &config,
        token: &token,
        budget,
        started,
        trigger,
    };
    let result = run(&request, partials).await;
    session.end_request(uri, ticket);
    result
}

/// One completion request as the driver serves it.
struct Request<'a> {
    session: &'a Arc<Session>,
    uri: &'a Url,
    snapshot: &'a Snapshot,
    config: &'a Config,
    /// Cancelled when the request goes stale (superseded, edited, `$/cancelRequest`).
    token: &'a CancelToken,
    budget: Duration,
    started: Instant,
    trigger: Trigger,
}

impl Request<'_> {
    /// What is left of the time budget.
    fn left(&self) -> Duration {
        self.budget.saturating_sub(self.started.elapsed())
    }
}

/// The engine once it has started and loaded, waiting within the budget; a newer request or an
/// edit (the token) ends the wait at once.
async fn ready_engine<'a>(request: &Request<'a>) -> Option<&'a EngineHandle> {
    let (session, uri, token) = (request.session, request.uri, request.token);
    let engine = tokio::select! {
        engine = session.engine_within(request.left()) => engine,
        () = token.cancelled() => None,
    };
    let Some(engine) = engine else {
        tracing::debug!("completion for {uri} answered empty: the engine has not started");
        return None;
    };
    let ready = tokio::select! {
        ready = wait_until_ready(engine.state(), request.left()) => ready,
        () = token.cancelled() => false,
    };
    if !ready {
        tracing::debug!("completion for {uri} answered empty: the model is not ready");
        return None;
    }
    Some(engine)
}

/// The generation that serves the request: a running or finished one the text typed since its
/// prompt matches, or a new one. With the bytes the user typed since its prompt, its source, and
/// how long the request waited before starting new model work (see `rhythm`). `None` when there
/// is nothing to serve, or the request went stale while it waited.
async fn generation_for(
    request: &Request<'_>,
    engine: &EngineHandle,
) -> Option<(Arc<Generation>, usize, Source, Duration)> {
    let (session, uri, snapshot) = (request.session, request.uri, request.snapshot);
    if let Some(found) = session.suggestions.find(uri, &snapshot.text_before_cursor) {
        return Some((
            found.generation,
            found.typed_bytes,
            found.source,
            Duration::ZERO,
        ));
    }
    // Nothing serves this text: what the user typed made the orphaned generations useless, and
    // they must not decode on while this request waits for a pause.
    session
        .suggestions
        .stop_unreachable(uri, &snapshot.text_before_cursor);
    let waited = wait_for_pause(request).await?;
    // A generation started during the wait (an explicit request at the same place) serves too;
    // without a wait nothing can have changed since the lookup above.
    let found = if waited.is_zero() {
        None
    } else {
        session.suggestions.find(uri, &snapshot.text_before_cursor)
    };
    match found {
        Some(found) => Some((found.generation, found.typed_bytes, found.source, waited)),
        None => start_generation(
            session,
            engine,
            uri,
            snapshot,
            request.config,
            request.budget,
        )
        .map(|generation| (generation, 0, Source::Model, waited)),
    }
}

/// Waits as adaptive triggering says before new model work (see `rhythm`); how long it waited, or
/// `None` when the request went stale (a keystroke, `$/cancelRequest`) meanwhile.
async fn wait_for_pause(request: &Request<'_>) -> Option<Duration> {
    if request.trigger == Trigger::Explicit {
        return Some(Duration::ZERO);
    }
    let (config, snapshot) = (request.config, request.snapshot);
    let bounds = Bounds {
        adaptive: config.adaptive_delay,
        min: Duration::from_millis(config.delay_min_ms),
        max: Duration::from_millis(config.delay_max_ms),
    };
    // Only the characters on each side of the cursor matter (a line break is a boundary).
    let place = Place::of(&snapshot.text_before_cursor, &snapshot.text_after_cursor);
    let delay = lock(&request.session.rhythm)
        .delay(place, bounds)
        .min(request.left());
    if delay.is_zero() {
        return Some(Duration::ZERO);
    }
    let waiting = Instant::now();
    tokio::select! {
        () = tokio::time::sleep(delay) => Some(waiting.elapsed()),
        () = request.token.cancelled() => {
            tracing::debug!("completion for {} went stale while it waited for a pause", request.uri);
            None
        }
    }
}

async fn run(
    request: &Request<'_>,
    partials: Option<PartialTarget>,
) -> jsonrpc::Result<Option<Answer>> {
    let Request {
        session,
        uri,
        snapshot,
        config,
        token,
        budget,
        started,
        ..
    } = *request;
    let Some(engine) = ready_engine(request).await else {
        return Ok(None);
    };
    let mode = choose_mode(&snapshot.cursor, config.multiline);
    let Some((generation, typed, source, waited)) = generation_for(request, engine).await else {
        return Ok(None);
    };
    let _listener = generation.attach();
    let mut progress = generation.subscribe();

    let deadline = tokio::time::Instant::from_std(started + budget);
    let mut shown: Option<String> = None;
    let mut first_text: Option<Duration> = None;
    let mut suggestion_complete = false;
    let mut timed_out = false;
    let range = Range::new(snapshot.position, snapshot.position);
    let mut stream =
        partials.map(|target| PartialStream::new(target, uri.clone(), snapshot.version, range));
    let raw = loop {
        let current = progress.borrow_and_update().clone();
        // The generation's text begins with what the user typed since its prompt (that is how it
        // was found), and it only grows, so the remainder starts right after the typed part.
        let raw = current.raw[typed..].to_string();
        if below_confidence(&current, config.min_confidence) {
            tracing::debug!("completion for {uri} answered empty: below completion.minConfidence");
            // Unsure: stay silent, and let the engine stop if nobody else listens. The status
            // still reports the work the engine did.
            if generation.listeners() == 1 {
                generation.stop();
            }
            report_status_when_done(session.clone(), generation.clone(), source, typed);
            return Ok(None);
        }
        if let Some(suggestion) = postprocess(&raw, &snapshot.cursor, mode) {
            shown = Some(suggestion.text.clone());
            first_text.get_or_insert_with(|| started.elapsed());
            if suggestion.complete {
                generation.stop_complete();
                suggestion_complete = true;
                break raw;
            }
            if let Some(stream) = stream.as_mut() {
                if !token.is_cancelled() {
                    stream.maybe_flush(session, &suggestion.text).await;
                }
            }
        }
        match current.finish {
            Some(Finish::Error(_)) if token.is_cancelled() => return Ok(None),
            // The remote engine reports failures itself, once per episode (`remote_notices`):
            // the request answers empty like one made during its backoff.
            Some(Finish::Error(message)) if engine.reports_failures_itself() => {
                tracing::debug!("remote completion for {uri} failed: {message}");
                return Ok(None);
            }
            Some(Finish::Error(message)) => {
                send_status(session, StatusParams::error(message.clone())).await;
                return Err(jsonrpc::Error {
                    code: jsonrpc::ErrorCode::InternalError,
                    message: message.into(),
                    data: None,
                });
            }
            Some(Finish::Done(_)) => break raw,
            None => {}
        }
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    break raw;
                }
            }
            () = token.cancelled() => {
                // Superseded or made stale: answer now. The generation runs on a moment in case
                // the next request can adopt it (see `suggestions`).
                break raw;
            }
            () = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break raw;
            }
        }
    };
    if token.is_cancelled() {
        if stream.as_ref().is_some_and(|stream| stream.seq > 0) {
            // Partials already queued must leave before the (empty) response, as below.
            tokio::time::sleep(PARTIAL_DRAIN).await;
        }
        return Ok(None);
    }
    if timed_out && generation.listeners() == 1 {
        generation.stop();
    }
    // When decoding ended for another reason than a complete suggestion (end of text, token limit,
    // time budget), the last line is final too: a newline lets post-processing release it.
    let final_raw = if suggestion_complete { raw } else { raw + "\n" };
    let final_text = postprocess(&final_raw, &snapshot.cursor, mode)
        .map(|s| s.text)
        .or(shown);
    if let (Some(stream), Some(text)) = (stream.as_mut(), final_text.as_ref()) {
        stream.flush(session, text).await;
        if stream.seq > 0 {
            // tower-lsp writes notifications and responses from two queues; a short pause lets
            // the last partial leave before the response, which clients expect to come last.
            tokio::time::sleep(PARTIAL_DRAIN).await;
        }
    }
    let progress = generation.progress();
    report_status_when_done(session.clone(), generation, source, typed);
    if let (Source::Model, Some(first)) = (source, first_text) {
        lock(&session.rhythm).on_model_latency(first.saturating_sub(waited));
    }
    let latency = first_text.unwrap_or_else(|| started.elapsed());
    Ok(final_text.map(|text| Answer {
        source,
        latency,
        ..answer(text, &progress, typed, snapshot, mode, config)
    }))
}

/// Whether the engine measured the suggestion's first line and found it below `min_confidence`.
fn below_confidence(progress: &Progress, min_confidence: f32) -> bool {
    min_confidence > 0.0
        && progress.candidates.as_ref().is_some_and(|candidates| {
            candidates
                .first()
                .is_none_or(|best| best.confidence < min_confidence)
        })
}

/// The answer for `text`: its confidence and the other candidates that still fit what the user
/// typed since the generation's prompt, post-processed the same way.
fn answer(
    text: String,
    progress: &Progress,
    typed: usize,
    snapshot: &Snapshot,
    mode: crate::postprocess::Mode,
    config: &Config,
) -> Answer {
    let candidates = progress.candidates.as_deref().unwrap_or_default();
    let typed_text = &progress.raw[..typed.min(progress.raw.len())];
    let mut alternatives: Vec<String> = Vec::new();
    for candidate in candidates.iter().skip(1) {
        if alternatives.len() + 1 >= config.candidates {
            break;
        }
        let Some(rest) = candidate.text.strip_prefix(typed_text) else {
            continue;
        };
        // A candidate is a first line: whatever the model would write after it is not known, so
        // it ends there.
        let Some(suggestion) = postprocess(&format!("{rest}\n"), &snapshot.cursor, mode) else {
            continue;
        };
        let first_line = |t: &str| t.lines().next().unwrap_or_default().trim_end().to_string();
        if first_line(&suggestion.text) == first_line(&text)
            || alternatives
                .iter()
                .any(|known| first_line(known) == first_line(&suggestion.text))
        {
            continue;
        }
        alternatives.push(suggestion.text);
    }
    Answer {
        confidence: candidates.first().map(|best| best.confidence),
        text,
        alternatives,
        source: Source::Model,
        latency: Duration::ZERO,
    }
}

/// Queues a new engine job for the snapshot and records its generation; `None` when the engine
/// cannot take it (busy or stopped).
fn start_generation(
    session: &Arc<Session>,
    engine: &EngineHandle,
    uri: &Url,
    snapshot: &Snapshot,
    config: &Config,
    budget: Duration,
) -> Option<Arc<Generation>> {
    // Whatever still runs for this document belongs to a superseded request, and generations
    // nobody listens to would only delay this one: the engine runs one job at a time.
    session.suggestions.stop_running(uri);
    session.suggestions.stop_orphans();
    let job_token = CancelToken::new();
    let generation = Generation::new(snapshot.text_before_cursor.clone(), job_token.clone());
    let (events, receiver) = mpsc::unbounded_channel();
    let job = CompletionJob {
        sequence: SequenceKey::completion(uri.as_str()),
        text_before_cursor: snapshot.text_before_cursor.clone(),
        text_after_cursor: snapshot.text_after_cursor.clone(),
        context_tokens: config.context_tokens,
        cross_file: cross_file::prompt_context(session, uri),
        raw_prompt: false,
        params: generation_params(config),
        quality: quality(
            snapshot,
            config,
            budget,
            session.suggestions.note_start(uri),
        ),
        cancel: job_token,
        events,
    };
    match engine.submit(job) {
        Ok(()) => {}
        // The remote backend is backing off after a failure it has already reported.
        Err(err @ crate::engine::SubmitError::Unavailable(_)) => {
            tracing::debug!("completion for {uri} not sent: {err}");
            return None;
        }
        Err(err) => {
            tracing::warn!("completion for {uri} not queued: {err}");
            return None;
        }
    }
    session.suggestions.insert(uri, generation.clone());
    tokio::spawn(pump(generation.clone(), receiver));
    Some(generation)
}

/// Moves the engine's events into the generation, where every listening request sees them.
async fn pump(generation: Arc<Generation>, mut events: mpsc::UnboundedReceiver<EngineEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Text(text) => generation.push_text(&text),
            EngineEvent::Candidates(candidates) => generation.set_candidates(candidates),
            EngineEvent::Beginnings(beginnings) => generation.set_beginnings(beginnings),
            EngineEvent::Done(stats) => {
                generation.finish(Finish::Done(stats));
                return;
            }
            EngineEvent::Error(message) => {
                generation.finish(Finish::Error(message));
                return;
            }
        }
    }
    generation.finish(Finish::Error("the engine stopped".to_string()));
}

/// Waits until the model is loaded, at most `budget`. False when it failed or took too long.
async fn wait_until_ready(
    mut state: tokio::sync::watch::Receiver<EngineState>,
    budget: Duration,
) -> bool {
    let ready = tokio::time::timeout(budget, async {
        loop {
            match &*state.borrow_and_update() {
                EngineState::Ready => return true,
                EngineState::Failed(_) => return false,
                EngineState::Loading => {}
            }
            if state.changed().await.is_err() {
                return false;
            }
        }
    })
    .await;
    ready.unwrap_or(false)
}

/// Sends `rill/status` for a finished request without delaying its response: for a new
/// generation once the engine has reported its statistics, for a reused one at once.
fn report_status_when_done(
    session: Arc<Session>,
    generation: Arc<Generation>,
    source: Source,
    typed_bytes: usize,
) {
    tokio::spawn(async move {
        let mut progress = generation.subscribe();
        let stats = if source == Source::Model {
            let finished = tokio::time::timeout(
                STATUS_WAIT,
                progress.wait_for(|progress| progress.finish.is_some()),
            )
            .await;
            match finished.ok().and_then(Result::ok).map(|p| p.finish.clone()) {
                Some(Some(Finish::Done(stats))) => Some(stats),
                _ => return,
            }
        } else {
            None
        };
        let mut status = match &stats {
            Some(stats) => StatusParams::ready(stats),
            None => StatusParams::ready_idle(),
        };
        status.source = Some(source);
        if source != Source::Model {
            let raw = generation.progress().raw;
            status.accepted_chars = Some(raw[..typed_bytes.min(raw.len())].chars().count());
        }
        if let Some(engine) = session.engine.get() {
            let cache = engine.cache_report();
            status.cached_documents = Some(cache.documents);
            status.cached_tokens = Some(cache.tokens);
            status.cached_bytes = Some(cache.bytes);
            status.disk_bytes = Some(cache.disk_bytes);
            status.bytes_per_cached_token = Some(cache.bytes_per_token);
        }
        send_status(&session, status).await;
    });
}

pub async fn send_status(session: &Session, mut status: StatusParams) {
    if !session.features().status {
        return;
    }
    if status.state == StatusState::Ready {
        status.next_edits = Some(next_edit_mode(session));
    }
    session
        .client
        .send_notification::<crate::rill_protocol::StatusNotification>(status)
        .await;
}

/// How next edits are found now: the remote engine has no scoring (see `rill/status`).
fn next_edit_mode(session: &Session) -> NextEditMode {
    let config = session.config();
    if !config.enable || !config.next_edit_enable {
        NextEditMode::Off
    } else if session
        .engine
        .get()
        .is_some_and(|engine| !engine.scores_text())
    {
        NextEditMode::PropagationOnly
    } else {
        NextEditMode::Model
    }
}

/// Cumulative partial results, flushed when the text reaches a natural boundary or has waited long enough.
struct PartialStream {
    target: PartialTarget,
    uri: Url,
    version: i32,
    range: Range,
    seq: u64,
    last_sent: String,
    last_flush: Instant,
}

impl PartialStream {
    fn new(target: PartialTarget, uri: Url, version: i32, range: Range) -> Self {
        Self {
            target,
            uri,
            version,
            range,
            seq: 0,
            last_sent: String::new(),
            last_flush: Instant::now(),
        }
    }

    /// Flushes when the text ends a word, an operator or a line, or 30 ms have passed, unless
    /// the client is behind on reading (it gets the last partial, before the response).
    async fn maybe_flush(&mut self, session: &Session, text: &str) {
        if session.congestion.is_congested() {
            return;
        }
        let at_boundary = text
            .chars()
            .last()
            .is_some_and(|c| !c.is_alphanumeric() && c != '_');
        if at_boundary || self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush(session, text).await;
        }
    }

    async fn flush(&mut self, session: &Session, text: &str) {
        if text == self.last_sent {
            return;
        }
        self.seq += 1;
        self.last_sent = text.to_string();
        self.last_flush = Instant::now();
        let params = InlineCompletionPartialParams {
            request_id: self.target.request_id.clone(),
            uri: self.uri.clone(),
            version: self.version,
            seq: self.seq,
            items: vec![inline_item(text, Some(self.range))],
        };
        session
            .client
            .send_notification::<crate::rill_protocol::InlineCompletionPartialNotification>(params)
            .await;
    }
}

/// An inline completion item inserting `text` over `range`.
pub fn inline_item(text: &str, range: Option<Range>) -> InlineCompletionItem {
    InlineCompletionItem {
        insert_text: text.to_string().into(),
        filter_text: None,
        range,
        command: None,
        confidence: None,
    }
}
