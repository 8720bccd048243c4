//! Runs one completion for a request handler: snapshot the document, queue the engine job, post-process the
//! growing text, stream partials, and stop at the first of: a complete suggestion, the time budget, or cancellation.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rill_model::generate::GenerationParams;
use rill_model::sampling::SamplingParams;
use tokio::sync::mpsc;
use tower_lsp::jsonrpc;
use tower_lsp::lsp_types::{NumberOrString, Position, Range, Url};

use super::session::{lock, Session};
use crate::config::Config;
use crate::engine::{
    CancelOnDrop, CancelToken, CompletionJob, CompletionStats, EngineEvent, EngineState,
};
use crate::postprocess::{choose_mode, postprocess, CursorContext};
use crate::protocol::{InlineCompletionItem, InlineCompletionPartialParams, StatusParams};

/// Lines after the cursor that post-processing looks at.
const FOLLOWING_LINES: usize = 20;
/// Longest pause between two partial notifications while text keeps arriving.
const FLUSH_INTERVAL: Duration = Duration::from_millis(30);

/// The document around the cursor, copied under the documents lock.
pub struct Snapshot {
    pub version: i32,
    pub position: Position,
    pub text_before_cursor: String,
    pub cursor: CursorContext,
}

/// Copies what a completion needs from the open document, or explains why it cannot.
pub fn snapshot(session: &Session, uri: &Url, position: Position) -> jsonrpc::Result<Snapshot> {
    let encoding = session.features().encoding;
    let documents = lock(&session.documents);
    let document = documents
        .get(uri)
        .ok_or_else(|| invalid_params(format!("document {uri} is not open")))?;
    let rope = document.rope();
    // Out-of-range positions are clamped, as the spec asks; report the clamped one back.
    let char_index = document.char_index(position, encoding);
    let position = document.position(char_index, encoding);
    let line_index = rope.char_to_line(char_index);
    let line_start = rope.line_to_char(line_index);
    let line = rope.line(line_index).to_string();
    let line = line.trim_end_matches(['\n', '\r']);
    let split = line
        .char_indices()
        .nth(char_index - line_start)
        .map_or(line.len(), |(offset, _)| offset);
    let following_lines = (line_index + 1..rope.len_lines().min(line_index + 1 + FOLLOWING_LINES))
        .map(|index| {
            rope.line(index)
                .to_string()
                .trim_end_matches(['\n', '\r'])
                .to_string()
        })
        .collect();
    Ok(Snapshot {
        version: document.version(),
        position,
        text_before_cursor: rope.slice(..char_index).to_string(),
        cursor: CursorContext {
            line_prefix: line[..split].to_string(),
            line_suffix: line[split..].to_string(),
            following_lines,
        },
    })
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
) -> jsonrpc::Result<Option<String>> {
    let config = session.config();
    if !config.enable {
        return Ok(None);
    }
    let started = Instant::now();
    let token = CancelToken::new();
    // Dropping the handler's future ($/cancelRequest) cancels the engine job through this guard.
    let _guard = CancelOnDrop(token.clone());
    let ticket = session.begin_request(uri, token.clone());
    let result = run(
        session, uri, snapshot, budget, partials, &config, &token, started,
    )
    .await;
    session.end_request(uri, ticket);
    result
}

#[allow(clippy::too_many_arguments)]
async fn run(
    session: &Arc<Session>,
    uri: &Url,
    snapshot: &Snapshot,
    budget: Duration,
    partials: Option<PartialTarget>,
    config: &Config,
    token: &CancelToken,
    started: Instant,
) -> jsonrpc::Result<Option<String>> {
    let Some(engine) = session.engine.get() else {
        return Ok(None);
    };
    if !wait_until_ready(engine.state(), budget).await {
        return Ok(None);
    }
    let mode = choose_mode(&snapshot.cursor, config.multiline);
    let (events, mut receiver) = mpsc::unbounded_channel();
    let job = CompletionJob {
        document: uri.to_string(),
        text_before_cursor: snapshot.text_before_cursor.clone(),
        context_tokens: config.context_tokens,
        params: generation_params(config),
        cancel: token.clone(),
        events,
    };
    if let Err(err) = engine.submit(job) {
        tracing::warn!("completion for {uri} not queued: {err}");
        return Ok(None);
    }

    let deadline = tokio::time::Instant::from_std(started + budget);
    let mut raw = String::new();
    let mut shown: Option<String> = None;
    let mut stopped_by_us = false;
    let mut suggestion_complete = false;
    let mut stats = None;
    let range = Range::new(snapshot.position, snapshot.position);
    let mut stream =
        partials.map(|target| PartialStream::new(target, uri.clone(), snapshot.version, range));
    loop {
        let event = tokio::select! {
            event = receiver.recv() => event,
            () = token.cancelled(), if !stopped_by_us => {
                // Superseded or made stale: answer now; the engine stops within one forward pass.
                return Ok(None);
            }
            () = tokio::time::sleep_until(deadline) => {
                token.cancel();
                stopped_by_us = true;
                break;
            }
        };
        match event {
            Some(EngineEvent::Text(text)) => {
                raw.push_str(&text);
                if let Some(suggestion) = postprocess(&raw, &snapshot.cursor, mode) {
                    shown = Some(suggestion.text.clone());
                    if suggestion.complete {
                        token.cancel();
                        stopped_by_us = true;
                        suggestion_complete = true;
                        break;
                    }
                    if let Some(stream) = stream.as_mut() {
                        if !token.is_cancelled() {
                            stream.maybe_flush(session, &suggestion.text).await;
                        }
                    }
                }
            }
            Some(EngineEvent::Done(done)) => {
                stats = Some(done);
                break;
            }
            Some(EngineEvent::Error(message)) => {
                send_status(session, StatusParams::error(message.clone())).await;
                return Err(jsonrpc::Error {
                    code: jsonrpc::ErrorCode::InternalError,
                    message: message.into(),
                    data: None,
                });
            }
            None => break,
        }
    }
    if token.is_cancelled() && !stopped_by_us {
        // Superseded by a newer request or made stale by an edit: answer empty at once.
        return Ok(None);
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
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    report_status_when_done(session.clone(), stats, receiver);
    Ok(final_text)
}

fn generation_params(config: &Config) -> GenerationParams {
    GenerationParams {
        max_tokens: config.max_tokens,
        sampling: SamplingParams {
            temperature: config.temperature,
            top_k: config.top_k,
            top_p: config.top_p,
            repeat_penalty: config.repetition_penalty,
            ..SamplingParams::greedy()
        },
        stop: Vec::new(),
    }
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

/// Sends `rill/status` once the engine has reported the job's statistics, without delaying the response.
fn report_status_when_done(
    session: Arc<Session>,
    stats: Option<CompletionStats>,
    mut receiver: mpsc::UnboundedReceiver<EngineEvent>,
) {
    tokio::spawn(async move {
        let mut stats = stats;
        while stats.is_none() {
            match receiver.recv().await {
                Some(EngineEvent::Done(done)) => stats = Some(done),
                Some(EngineEvent::Text(_)) => {}
                Some(EngineEvent::Error(_)) | None => break,
            }
        }
        if let Some(stats) = stats {
            send_status(&session, StatusParams::ready(&stats)).await;
        }
    });
}

pub async fn send_status(session: &Session, status: StatusParams) {
    session
        .client
        .send_notification::<crate::protocol::StatusNotification>(status)
        .await;
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

    /// Flushes when the text ends a word, an operator or a line, or 30 ms have passed.
    async fn maybe_flush(&mut self, session: &Session, text: &str) {
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
            .send_notification::<crate::protocol::InlineCompletionPartialNotification>(params)
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
    }
}

pub fn invalid_params(message: String) -> jsonrpc::Error {
    jsonrpc::Error {
        code: jsonrpc::ErrorCode::InvalidParams,
        message: message.into(),
        data: None,
    }
}
