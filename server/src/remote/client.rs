//! One streamed completion over HTTP: `POST {baseUrl}/v1/completions` with `stream: true`, its server-sent events decoded into text, bounded by timeouts and stopped the moment the job is cancelled.
//!
//! Cancelling drops the response, which closes the connection (HTTP/1.1) or resets the stream
//! (HTTP/2); llama.cpp, vLLM and TGI stop generating for a client that went away.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{HeaderValue, ACCEPT, AUTHORIZATION};
use serde_json::{json, Value};

use super::error::RemoteError;
use super::settings::RemoteSettings;
use super::sse::{SseDecoder, StreamItem};
use crate::engine::CancelToken;
use rill_model::GenerationParams;

/// Most bytes of an error body kept for the message.
const ERROR_BODY_LIMIT: usize = 16 * 1024;
/// How long a finished stream may take to send its last bytes (`[DONE]`), so the connection can
/// go back to the pool instead of being closed.
const DRAIN_LIMIT: Duration = Duration::from_millis(500);

/// Where the text of a completion goes.
pub trait CompletionSink {
    /// More text, in order.
    fn text(&mut self, text: &str);
    /// The job was cancelled; called at once, before any clean-up that may follow.
    fn cancelled(&mut self);
}

/// How a completion went, when it did not fail.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Non-empty text pieces received (servers send about one per token).
    pub pieces: usize,
    /// From sending the request to the first piece of text.
    pub time_to_first_text: Option<Duration>,
    /// From the first piece of text to the end.
    pub decode_time: Duration,
    pub cancelled: bool,
    /// Whether the server answered with a readable stream: proof it works.
    pub healthy: bool,
}

/// Allows one cancelled request at a time to keep waiting for the server's answer.
///
/// A request cancelled before the server answered (the user typed on) would otherwise never find
/// out that the server hangs, because `completion.timeoutMs` usually ends it before
/// `engine.timeoutMs`. Healthy servers answer the headers within milliseconds, so the wait costs
/// nothing there; one at a time bounds the connections a hung server can hold.
#[derive(Debug, Default)]
pub struct ProbeSlot(AtomicBool);

impl ProbeSlot {
    fn try_take(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    fn release(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The JSON body of a streamed completion of `prompt`.
pub fn request_body(settings: &RemoteSettings, prompt: &str, params: &GenerationParams) -> Value {
    let sampling = &params.sampling;
    let mut body = json!({
        "prompt": prompt,
        "max_tokens": params.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "stream": true,
    });
    if let Some(model) = &settings.model {
        body["model"] = json!(model);
    }
    if !params.stop.is_empty() {
        body["stop"] = json!(params.stop);
    }
    // Not in OpenAI's API, but vLLM, llama.cpp and TGI read them; sent only when they do something.
    if sampling.top_k > 0 {
        body["top_k"] = json!(sampling.top_k);
    }
    if sampling.repeat_penalty != 1.0 {
        body["repetition_penalty"] = json!(sampling.repeat_penalty);
        body["repeat_penalty"] = json!(sampling.repeat_penalty);
    }
    body
}

/// Builds the HTTP client for `settings`: rustls, a connect timeout, `TCP_NODELAY` for small chunks.
pub fn http_client(settings: &RemoteSettings) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(settings.timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|err| format!("cannot create the HTTP client: {err}"))
}

/// Runs one completion, sending its text to `sink`, until the server finishes, the job is
/// cancelled, or something fails.
pub async fn stream_completion(
    http: &reqwest::Client,
    settings: &RemoteSettings,
    body: &Value,
    cancel: &CancelToken,
    probe: &ProbeSlot,
    sink: &mut (dyn CompletionSink + Send),
) -> Result<Summary, RemoteError> {
    let url = settings.completions_url();
    let started = Instant::now();
    let mut request = http
        .post(&url)
        .header(ACCEPT, "text/event-stream")
        .json(body);
    if let Some(key) = settings.api_key() {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| RemoteError::Other {
                url: url.clone(),
                detail: format!(
                    "the API key in {} has characters an HTTP header cannot carry",
                    settings
                        .api_key_env
                        .as_deref()
                        .unwrap_or("engine.apiKeyEnv")
                ),
            })?;
        // Sensitive header values print as "Sensitive" in reqwest's and hyper's Debug output.
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let no_answer = || RemoteError::NoAnswer {
        url: url.clone(),
        timeout: settings.timeout,
    };
    let send = tokio::time::timeout(settings.timeout, request.send());
    tokio::pin!(send);
    let sent = tokio::select! {
        biased;
        () = cancel.cancelled() => {
            sink.cancelled();
            if !probe.try_take() {
                return Ok(Summary { cancelled: true, ..Summary::default() });
            }
            // Still find out whether the server answers at all; the answer itself is dropped.
            let outcome = send.await;
            probe.release();
            let response = outcome
                .map_err(|_| no_answer())?
                .map_err(|err| RemoteError::from_transport(&url, &err))?;
            let status = response.status();
            if !status.is_success() {
                let text = error_body(response, settings.timeout).await;
                return Err(RemoteError::from_status(&url, status.as_u16(), &text, settings.api_key_env.as_deref()));
            }
            return Ok(Summary { cancelled: true, ..Summary::default() });
        }
        outcome = &mut send => outcome,
    };
    let response = sent
        .map_err(|_| no_answer())?
        .map_err(|err| RemoteError::from_transport(&url, &err))?;
    let status = response.status();
    if !status.is_success() {
        let text = error_body(response, settings.timeout).await;
        return Err(RemoteError::from_status(
            &url,
            status.as_u16(),
            &text,
            settings.api_key_env.as_deref(),
        ));
    }

    let mut summary = Summary::default();
    let mut first_text_at: Option<Instant> = None;
    let mut decoder = SseDecoder::default();
    let mut stream = response.bytes_stream();
    loop {
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                sink.cancelled();
                summary.cancelled = true;
                break;
            }
            next = tokio::time::timeout(settings.timeout, stream.next()) => next,
        };
        let bytes = match next {
            Err(_) if summary.healthy => {
                return Err(RemoteError::Stalled {
                    url,
                    timeout: settings.timeout,
                })
            }
            Err(_) => return Err(no_answer()),
            Ok(None) => return Err(RemoteError::Truncated { url }),
            Ok(Some(Err(err))) => return Err(RemoteError::from_transport(&url, &err)),
            Ok(Some(Ok(bytes))) => bytes,
        };
        let mut finished = false;
        for item in decoder.push(&bytes) {
            let item = item.map_err(|err| RemoteError::from_stream(&url, &err))?;
            summary.healthy = true;
            let text = match item {
                StreamItem::Text(text) => text,
                StreamItem::Finished { text, .. } => {
                    finished = true;
                    text
                }
                StreamItem::Done => {
                    finished = true;
                    String::new()
                }
            };
            if !text.is_empty() && !cancel.is_cancelled() {
                summary.pieces += 1;
                let now = Instant::now();
                if first_text_at.is_none() {
                    first_text_at = Some(now);
                    summary.time_to_first_text = Some(now - started);
                }
                sink.text(&text);
            }
            if finished {
                break;
            }
        }
        if finished {
            // Reading the rest (`[DONE]`) lets the connection be reused; a server that dawdles
            // just has its connection closed.
            let _ = tokio::time::timeout(DRAIN_LIMIT, async {
                while let Some(Ok(_)) = stream.next().await {}
            })
            .await;
            break;
        }
    }
    summary.decode_time = first_text_at.map_or(Duration::ZERO, |at| at.elapsed());
    Ok(summary)
}

/// The start of an error response's body, or nothing if it does not come in time.
async fn error_body(response: reqwest::Response, timeout: Duration) -> String {
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    let read = tokio::time::timeout(timeout, async {
        while let Some(Ok(bytes)) = stream.next().await {
            body.extend_from_slice(&bytes);
            if body.len() >= ERROR_BODY_LIMIT {
                break;
            }
        }
    })
    .await;
    if read.is_err() {
        tracing::debug!("the error body did not arrive within {timeout:?}");
    }
    body.truncate(ERROR_BODY_LIMIT);
    String::from_utf8_lossy(&body).into_owned()
}
