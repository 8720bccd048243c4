//! The remote engine: runs each completion job as its own task on the tokio runtime, gates requests with the failure backoff, and reports failure episodes as notices for the LSP side to show.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::backoff::{Backoff, Failure};
use super::client::{self, CompletionSink, ProbeSlot, Summary};
use super::error::RemoteError;
use super::settings::RemoteSettings;
use crate::engine::{CompletionJob, CompletionStats, EngineEvent, SubmitError};

/// What the LSP side should tell the user about the remote server.
pub use crate::engine::BackendNotice as RemoteNotice;

/// Completions from an OpenAI-compatible server.
pub struct RemoteEngine {
    connection: Mutex<Connection>,
    backoff: Mutex<Backoff>,
    notices: mpsc::UnboundedSender<RemoteNotice>,
    runtime: tokio::runtime::Handle,
    probe: Arc<ProbeSlot>,
}

/// The settings and the HTTP client made for them, replaced together.
#[derive(Clone)]
struct Connection {
    settings: RemoteSettings,
    http: reqwest::Client,
}

impl RemoteEngine {
    /// A remote engine running its requests on `runtime` and sending notices to `notices`.
    pub fn new(
        settings: RemoteSettings,
        notices: mpsc::UnboundedSender<RemoteNotice>,
        runtime: tokio::runtime::Handle,
    ) -> Result<Self, String> {
        let http = client::http_client(&settings)?;
        Ok(Self {
            connection: Mutex::new(Connection { settings, http }),
            backoff: Mutex::new(Backoff::default()),
            notices,
            runtime,
            probe: Arc::new(ProbeSlot::default()),
        })
    }

    /// Uses new settings from the next request on. A changed server or timeout gets a fresh start:
    /// the backoff of the old one says nothing about it.
    pub fn update(&self, settings: RemoteSettings) -> Result<(), String> {
        let mut connection = lock(&self.connection);
        if connection.settings == settings {
            return Ok(());
        }
        connection.http = client::http_client(&settings)?;
        connection.settings = settings;
        lock(&self.backoff).record_success();
        Ok(())
    }

    /// The settings in use.
    pub fn settings(&self) -> RemoteSettings {
        lock(&self.connection).settings.clone()
    }

    /// Starts the job on the runtime, or refuses it at once while backing off after a failure.
    pub fn submit(self: &Arc<Self>, job: CompletionJob) -> Result<(), SubmitError> {
        if let Some((reason, wait)) = lock(&self.backoff).blocked(Instant::now()) {
            return Err(SubmitError::Unavailable(format!(
                "{reason} (retrying in {:.1} s)",
                wait.as_secs_f64()
            )));
        }
        let engine = self.clone();
        self.runtime.spawn(async move { engine.run(job).await });
        Ok(())
    }

    async fn run(&self, job: CompletionJob) {
        let Connection { settings, http } = lock(&self.connection).clone();
        let mut sink = JobSink {
            events: job.events,
            finished: false,
        };
        if job.cancel.is_cancelled() {
            sink.finish(EngineEvent::Done(CompletionStats::cancelled()));
            return;
        }
        let prompt = super::prompt::build(
            &job.text_before_cursor,
            &job.text_after_cursor,
            job.raw_prompt,
            job.context_tokens,
            settings.fim(),
        );
        let body = client::request_body(&settings, &prompt, &job.params);
        let started = Instant::now();
        let outcome =
            client::stream_completion(&http, &settings, &body, &job.cancel, &self.probe, &mut sink)
                .await;
        match outcome {
            Ok(summary) => {
                if summary.healthy {
                    self.succeeded(&settings);
                }
                sink.finish(EngineEvent::Done(stats(&summary)));
            }
            Err(error) => {
                self.failed(started, &error);
                sink.finish(EngineEvent::Error(error.to_string()));
            }
        }
    }

    fn succeeded(&self, settings: &RemoteSettings) {
        if lock(&self.backoff).record_success() {
            tracing::info!("{} answers again", settings.completions_url());
            let _ = self.notices.send(RemoteNotice::Recovered);
        }
    }

    fn failed(&self, started: Instant, error: &RemoteError) {
        let message = error.to_string();
        let now = Instant::now();
        let outcome = lock(&self.backoff).record_failure(started, now, &message);
        let wait = lock(&self.backoff)
            .blocked(now)
            .map_or(Duration::ZERO, |(_, wait)| wait);
        match outcome {
            Failure::NewEpisode => {
                tracing::warn!("remote completion failed: {message}; retrying in {wait:?}");
                let _ = self.notices.send(RemoteNotice::Failed(message));
            }
            Failure::Retried => {
                tracing::warn!("remote completion failed again: {message}; retrying in {wait:?}")
            }
            Failure::AlreadyKnown => tracing::debug!("remote completion failed: {message}"),
        }
    }
}

/// The statistics the status bar shows. Servers do not say how many tokens the prompt had or
/// reused, so those stay 0; generated tokens are counted as text pieces (one per token on the
/// servers rill was tested with).
fn stats(summary: &Summary) -> CompletionStats {
    let seconds = summary.decode_time.as_secs_f64();
    CompletionStats {
        prompt_tokens: 0,
        reused_tokens: 0,
        generated_tokens: summary.pieces,
        time_to_first_token: summary.time_to_first_text.unwrap_or_default(),
        tokens_per_second: if seconds > 0.0 && summary.pieces > 1 {
            (summary.pieces - 1) as f64 / seconds
        } else {
            0.0
        },
        cancelled: summary.cancelled,
        forward_passes: summary.pieces,
        accepted_draft_tokens: 0,
        first_line_ahead: false,
    }
}

/// A job's event channel that sends exactly one last event, and nothing after it: a cancelled
/// job is answered at once, even while the request keeps waiting for the server (see
/// [`ProbeSlot`]).
struct JobSink {
    events: mpsc::UnboundedSender<EngineEvent>,
    finished: bool,
}

impl JobSink {
    fn finish(&mut self, event: EngineEvent) {
        if !self.finished {
            self.finished = true;
            let _ = self.events.send(event);
        }
    }
}

impl CompletionSink for JobSink {
    fn text(&mut self, text: &str) {
        if !self.finished {
            let _ = self.events.send(EngineEvent::Text(text.to_string()));
        }
    }

    fn cancelled(&mut self) {
        self.finish(EngineEvent::Done(CompletionStats::cancelled()));
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
