//! The server's shared state: open documents, configuration, client features, the engine and in-flight requests.
//!
//! Every piece sits behind a synchronous lock that is never held across an `.await`, so a
//! notification handler applies its change before it first yields and edits keep arrival order.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tower_lsp::lsp_types::{Position, Url};
use tower_lsp::Client;

use super::capabilities::ClientFeatures;
use super::cross_file::state::CrossFile;
use super::debounce::Debouncer;
use super::diagnostics::state::Diagnostics;
use super::next_edit::state::NextEdits;
use super::reasoning::chains::Chains;
use super::stdout_filter::Congestion;
use super::suggestions::Suggestions;
use crate::config::Config;
use crate::documents::DocumentStore;
use crate::engine::{CancelToken, EngineHandle, Starter};

pub struct Session {
    pub client: Client,
    pub documents: Mutex<DocumentStore>,
    /// The settings now, replaced whole by every change: readers hold a snapshot that a change
    /// never alters under them, and taking one costs a reference count.
    config: Mutex<Arc<Config>>,
    pub features: OnceLock<ClientFeatures>,
    /// Starts the backend the settings name (the real ones, or a test's fake).
    pub starter: Starter,
    /// Set while the client is behind on reading what the server writes.
    pub congestion: Congestion,
    pub engine: OnceLock<EngineHandle>,
    /// Becomes true once `engine` is set: requests that arrive before (while `initialized` still
    /// pulls the configuration) wait on it within their budget instead of answering empty.
    engine_started: tokio::sync::watch::Sender<bool>,
    /// Set by the first `initialized`; a repeat is ignored (it would start a second engine).
    pub initialized: AtomicBool,
    /// Configuration problems found before the client could show messages (in `initialize`).
    pub pending_config_issues: Mutex<Vec<String>>,
    /// The completion request currently running for each document; a newer one cancels it.
    in_flight: Mutex<HashMap<Url, (u64, CancelToken)>>,
    next_ticket: std::sync::atomic::AtomicU64,
    /// Recent generations by prompt, for typed-ahead and the completion cache.
    pub suggestions: Suggestions,
    /// Where each document's last completion was asked, so background pre-warming can prepare
    /// the prompt the next one will most likely use.
    pub last_cursor: Mutex<HashMap<Url, Position>>,
    /// What waits for typing to pause: rescoring, pre-warming, the cross-file refresh.
    pub pauses: Debouncer,
    /// Model diagnostics: flags per document and their scheduling.
    pub diagnostics: Diagnostics,
    /// Reasoning chains: the last one per document and the running ones.
    pub chains: Chains,
    /// The ring of chunks of recently opened, edited and viewed documents that prompts show.
    pub cross_file: CrossFile,
    /// Next edit suggestions: edit history, the offer and the turned-down offers per document.
    pub next_edits: NextEdits,
    /// Shown and accepted suggestions (`rill/stats`).
    pub stats: super::stats::Stats,
    /// The user's typing rhythm and the model's latency, for adaptive triggering.
    pub rhythm: Mutex<super::rhythm::Rhythm>,
}

/// Sends a request to the client from a task of its own and waits for the answer. The caller may
/// be dropped while it waits (a request cancelled with `$/cancelRequest`), and tower-lsp 0.20
/// panics, taking the whole server down, when an answer arrives for a request whose waiter is
/// gone; the task keeps waiting in its place.
pub async fn client_request<R>(
    session: &Session,
    params: R::Params,
) -> tower_lsp::jsonrpc::Result<R::Result>
where
    R: tower_lsp::lsp_types::request::Request,
    R::Params: Send + 'static,
    R::Result: Send + 'static,
{
    let client = session.client.clone();
    tokio::spawn(async move { client.send_request::<R>(params).await })
        .await
        .unwrap_or_else(|_| Err(tower_lsp::jsonrpc::Error::internal_error()))
}

pub use super::sync::lock;

impl Session {
    pub fn new(
        client: Client,
        starter: Starter,
        congestion: Congestion,
        stats: super::stats::Stats,
    ) -> Self {
        Self {
            client,
            starter,
            congestion,
            documents: Mutex::new(DocumentStore::default()),
            config: Mutex::new(Arc::new(Config::default())),
            features: OnceLock::new(),
            engine: OnceLock::new(),
            engine_started: tokio::sync::watch::channel(false).0,
            initialized: AtomicBool::new(false),
            pending_config_issues: Mutex::new(Vec::new()),
            in_flight: Mutex::new(HashMap::new()),
            next_ticket: std::sync::atomic::AtomicU64::new(0),
            suggestions: Suggestions::default(),
            last_cursor: Mutex::new(HashMap::new()),
            pauses: Debouncer::default(),
            diagnostics: Default::default(),
            chains: Default::default(),
            cross_file: Default::default(),
            next_edits: Default::default(),
            stats,
            rhythm: Default::default(),
        }
    }

    /// Installs the engine (once; false if one was installed already) and wakes the requests
    /// waiting for it.
    pub fn set_engine(&self, engine: EngineHandle) -> bool {
        if self.engine.set(engine).is_err() {
            return false;
        }
        self.engine_started.send_replace(true);
        true
    }

    /// The engine, waiting at most `budget` for `initialized` to start it: the engine counts as
    /// starting from `initialize` on, so a request sent right after it is not answered empty
    /// just because the configuration pull has not come back yet.
    pub async fn engine_within(&self, budget: Duration) -> Option<&EngineHandle> {
        if let Some(engine) = self.engine.get() {
            return Some(engine);
        }
        let mut started = self.engine_started.subscribe();
        let _ = tokio::time::timeout(budget, started.wait_for(|started| *started)).await;
        self.engine.get()
    }

    pub fn features(&self) -> ClientFeatures {
        self.features.get().copied().unwrap_or_default()
    }

    /// A snapshot of the settings.
    pub fn config(&self) -> Arc<Config> {
        lock(&self.config).clone()
    }

    /// Applies a settings object (see [`Config::apply`]) and returns the problems found, the
    /// settings before and after.
    pub fn apply_settings(
        &self,
        settings: &serde_json::Value,
    ) -> (Vec<crate::config::ConfigIssue>, Arc<Config>, Arc<Config>) {
        let mut current = lock(&self.config);
        let old = current.clone();
        let mut new = (*old).clone();
        let issues = new.apply(settings);
        // The stats module owns its file; the setting only says whether it is written.
        self.stats.set_persist(new.stats_persist);
        *current = Arc::new(new);
        (issues, old, current.clone())
    }

    /// Registers a new completion request for `uri`, cancelling the one it supersedes.
    /// Returns a ticket to release the slot with.
    pub fn begin_request(&self, uri: &Url, token: CancelToken) -> u64 {
        let ticket = self
            .next_ticket
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some((_, previous)) = lock(&self.in_flight).insert(uri.clone(), (ticket, token)) {
            previous.cancel();
        }
        ticket
    }

    /// Releases the slot if it still belongs to `ticket`.
    pub fn end_request(&self, uri: &Url, ticket: u64) {
        let mut in_flight = lock(&self.in_flight);
        if in_flight
            .get(uri)
            .is_some_and(|(owner, _)| *owner == ticket)
        {
            in_flight.remove(uri);
        }
    }

    /// Cancels whatever completion runs for `uri` (an edit made it stale, or the document closed).
    pub fn cancel_requests_for(&self, uri: &Url) {
        if let Some((_, token)) = lock(&self.in_flight).remove(uri) {
            token.cancel();
        }
    }
}
