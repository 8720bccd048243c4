//! One `rill --stdio` process (or a server running in the test's own process) under test, and the client side of the conversation with it.
//!
//! A reader thread parses the server's stdout into messages, stamps each with the [`Instant`] it
//! arrived, answers the server's own requests (configuration, progress tokens, registrations) at once,
//! and forwards everything over a channel. The test thread drains that channel into a log on demand,
//! so that tests can both wait for something to happen and look back at everything that did.
//!
//! Every wait has a timeout and panics when it runs out, and a dropped `Server` whose test is
//! panicking prints the server's stderr and the message log: the failure message then carries what
//! is needed to diagnose it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::framing::{read_frame, write_frame, Frame};
use crate::profile::{configuration_section, Profile};
use crate::text::Encoding;

/// How long ordinary waits last before a test fails. Generous, because the model runs on few cores.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long loading the model may take.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The `window/logMessage` rill sends every client when its engine is ready.
pub const READY_LOG_MESSAGE: &str = "rill: ready";
/// How long the process may take to exit after `exit`.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Servers run one at a time within a test binary: each loads the model and decodes on the CPU, and
/// two at once would make the timing assertions measure contention rather than the server.
static EXCLUSIVE: Mutex<()> = Mutex::new(());

thread_local! {
    /// Set while this thread holds [`EXCLUSIVE`], to turn a self-deadlock into a clear panic.
    static HOLDS_SERVER: Cell<bool> = const { Cell::new(false) };
}

/// Why [`Server::try_wait_until`] found nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitError {
    TimedOut,
    /// The server closed its stdout.
    Closed,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error {}: {}", self.code, self.message)?;
        if let Some(data) = &self.data {
            write!(f, " ({data})")?;
        }
        Ok(())
    }
}

impl RpcError {
    fn from_json(error: &Value) -> Self {
        Self {
            code: error["code"].as_i64().unwrap_or(0),
            message: error["message"].as_str().unwrap_or_default().to_string(),
            data: error.get("data").cloned(),
        }
    }
}

/// What the server sent, in the order it arrived.
#[derive(Debug, Clone)]
pub enum MessageKind {
    /// A response; `id` is `null` for errors about unparseable requests.
    Response {
        id: Value,
        outcome: Result<Value, RpcError>,
    },
    Notification {
        method: String,
        params: Value,
    },
    /// A request to the client (already answered by the reader thread).
    Request {
        id: Value,
        method: String,
        params: Value,
    },
}

/// One message from the server, with when it arrived and its place in the log.
#[derive(Debug, Clone)]
pub struct Message {
    pub index: usize,
    pub at: Instant,
    pub kind: MessageKind,
}

impl Message {
    /// The params of a notification named `method`.
    pub fn notification(&self, method: &str) -> Option<&Value> {
        match &self.kind {
            MessageKind::Notification { method: m, params } if m == method => Some(params),
            _ => None,
        }
    }

    /// A short description for failure dumps.
    fn summary(&self, origin: Instant) -> String {
        let body = match &self.kind {
            MessageKind::Response {
                id,
                outcome: Ok(result),
            } => format!("response {id}: {result}"),
            MessageKind::Response {
                id,
                outcome: Err(error),
            } => format!("response {id}: {error}"),
            MessageKind::Notification { method, params } => {
                format!("notification {method}: {params}")
            }
            MessageKind::Request { id, method, params } => {
                format!("request {id} {method}: {params}")
            }
        };
        let mut body: String = body.chars().take(300).collect();
        if body.len() >= 300 {
            body.push('…');
        }
        format!(
            "#{} +{:.3}s {body}",
            self.index,
            self.at.duration_since(origin).as_secs_f64()
        )
    }
}

/// A response and when it arrived.
#[derive(Debug, Clone)]
pub struct Reply {
    pub at: Instant,
    /// Its place in the message log, to order it against notifications.
    pub index: usize,
    pub outcome: Result<Value, RpcError>,
}

impl Reply {
    /// The `items` of an inline-completion result; panics (failing the test) on an error or on a
    /// result without items.
    pub fn inline_items(&self) -> Vec<Value> {
        let result = self
            .outcome
            .clone()
            .unwrap_or_else(|err| panic!("inline completion failed: {err}"));
        result["items"]
            .as_array()
            .unwrap_or_else(|| panic!("result without items: {result}"))
            .clone()
    }

    /// The suggestion of a completed inline-completion answer: its first item. The answer may
    /// carry up to two alternatives behind it (`completion.candidates`), never more and never
    /// none; panics (failing the test) otherwise.
    pub fn suggestion(&self) -> Value {
        let items = self.inline_items();
        assert!(
            (1..=3).contains(&items.len()),
            "expected a suggestion and at most two alternatives: {items:?}"
        );
        items[0].clone()
    }
}

/// What the reader threads send to the test thread.
enum Event {
    Message(Instant, MessageKind),
    /// Bytes on stdout that are not a valid LSP frame.
    Violation(String),
    /// stdout closed: the process exited or is about to.
    Closed,
}

/// The server's stdin, whatever carries it.
type Input = Arc<Mutex<Option<Box<dyn Write + Send>>>>;

/// What runs the server: a child process, or whatever keeps an in-process server alive.
enum Running {
    Process(Child),
    /// Dropped with the `Server`; the in-process server stops when its input closes.
    InProcess(#[allow(dead_code)] Box<dyn std::any::Any>),
}

/// A running `rill --stdio`, or a server in this process (see [`Server::connect`]).
pub struct Server {
    profile: Profile,
    running: Running,
    /// `None` once the test closed it (an editor that crashed).
    stdin: Input,
    events: Receiver<Event>,
    log: RefCell<Vec<Message>>,
    violations: RefCell<Vec<String>>,
    closed: Cell<bool>,
    next_id: Cell<i64>,
    sent_requests: RefCell<HashMap<i64, (Instant, String)>>,
    settings: Arc<Mutex<Value>>,
    stderr: Arc<Mutex<String>>,
    started: Instant,
    initialize_result: RefCell<Option<Value>>,
    exit_status: Option<ExitStatus>,
    /// While true the reader thread stops reading stdout, as an editor that hangs.
    reading_paused: Arc<(Mutex<bool>, Condvar)>,
    /// Held by process servers only: in-process servers use no model and run side by side.
    _exclusive: Option<MutexGuard<'static, ()>>,
}

impl Server {
    /// Starts `rill --stdio` for an editor with this profile, without initializing it.
    pub fn spawn(profile: Profile) -> Self {
        assert!(
            !HOLDS_SERVER.get(),
            "this test already holds a Server; tests run one server at a time (see EXCLUSIVE)"
        );
        let exclusive = EXCLUSIVE.lock().unwrap_or_else(PoisonError::into_inner);
        HOLDS_SERVER.set(true);

        let binary = crate::rill_bin();
        let mut child = Command::new(&binary)
            .arg("--stdio")
            .env("RILL_LOG", "debug")
            .envs(profile.env.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {} --stdio: {err}", binary.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr_pipe = child.stderr.take().expect("piped stderr");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let stderr = stderr.clone();
            thread::spawn(move || collect_stderr(stderr_pipe, &stderr));
        }
        Self::over(
            profile,
            Running::Process(child),
            Box::new(stdin),
            stdout,
            stderr,
            Some(exclusive),
        )
    }

    /// A client for a server that runs in this process and talks over `input` (what the server
    /// reads) and `output` (what it writes); `keep_alive` is dropped with the `Server`. Servers
    /// connected this way do not wait for each other, and have no stderr to show.
    pub fn connect(
        profile: Profile,
        input: impl Write + Send + 'static,
        output: impl Read + Send + 'static,
        keep_alive: Box<dyn std::any::Any>,
    ) -> Self {
        Self::over(
            profile,
            Running::InProcess(keep_alive),
            Box::new(input),
            output,
            Arc::new(Mutex::new(String::new())),
            None,
        )
    }

    fn over(
        profile: Profile,
        running: Running,
        input: Box<dyn Write + Send>,
        output: impl Read + Send + 'static,
        stderr: Arc<Mutex<String>>,
        exclusive: Option<MutexGuard<'static, ()>>,
    ) -> Self {
        let stdin: Input = Arc::new(Mutex::new(Some(input)));
        let settings = Arc::new(Mutex::new(profile.settings.clone()));
        let (sender, events) = mpsc::channel();
        let reading_paused = Arc::new((Mutex::new(false), Condvar::new()));
        {
            let stdin = stdin.clone();
            let settings = settings.clone();
            let paused = reading_paused.clone();
            thread::spawn(move || read_stdout(output, &stdin, &settings, &sender, &paused));
        }
        Self {
            profile,
            running,
            stdin,
            events,
            log: RefCell::new(Vec::new()),
            violations: RefCell::new(Vec::new()),
            closed: Cell::new(false),
            next_id: Cell::new(1),
            sent_requests: RefCell::new(HashMap::new()),
            settings,
            stderr,
            started: Instant::now(),
            initialize_result: RefCell::new(None),
            exit_status: None,
            reading_paused,
            _exclusive: exclusive,
        }
    }

    /// Spawns, sends `initialize` and `initialized`, and returns the server (the model still loading).
    pub fn start(profile: Profile) -> Self {
        let server = Self::spawn(profile);
        server.initialize();
        server
    }

    /// A VS Code-like server whose `rill` settings are `settings` (pulled, as VS Code does),
    /// initialized and with the model ready.
    pub fn start_ready_with(settings: Value) -> Self {
        let server = Self::spawn(Profile::vscode());
        server.set_settings(json!({ "rill": settings }));
        server.initialize();
        server.wait_until_ready();
        server
    }

    /// Like [`Server::start`], then waits until `rill/status` says the model is ready.
    pub fn start_ready(profile: Profile) -> Self {
        let server = Self::start(profile);
        server.wait_until_ready();
        server
    }

    /// The server process's id, so a benchmark can read its CPU time from `/proc/<pid>/stat`.
    pub fn pid(&self) -> u32 {
        match &self.running {
            Running::Process(child) => child.id(),
            Running::InProcess(_) => std::process::id(),
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Sends `initialize` (returning its result) and then `initialized`.
    pub fn initialize(&self) -> Value {
        let result = self.call("initialize", self.profile.initialize_params());
        *self.initialize_result.borrow_mut() = Some(result.clone());
        self.notify("initialized", json!({}));
        result
    }

    /// The result of `initialize`; panics before it.
    pub fn initialize_result(&self) -> Value {
        self.initialize_result
            .borrow()
            .clone()
            .expect("the server is not initialized yet")
    }

    /// The negotiated position encoding.
    pub fn encoding(&self) -> Encoding {
        let result = self.initialize_result();
        Encoding::from_lsp(result["capabilities"]["positionEncoding"].as_str())
    }

    /// Waits for `rill/status` with state `ready`; fails at once on state `error`.
    pub fn wait_until_ready(&self) -> Value {
        // Clients that did not ask for `rill/status` (Helix) see the ready line in their log.
        let (_, status) = self.wait_until("the engine to be ready", READY_TIMEOUT, |messages| {
            messages.iter().find_map(|message| {
                if let Some(params) = message.notification("rill/status") {
                    assert_ne!(
                        params["state"], "error",
                        "the model failed to load: {params}"
                    );
                    return (params["state"] == "ready").then(|| ((), params.clone()));
                }
                message
                    .notification("window/logMessage")
                    .filter(|params| params["message"] == READY_LOG_MESSAGE)
                    .map(|params| ((), params.clone()))
            })
        });
        status
    }

    /// Replaces the settings the client answers `workspace/configuration` with.
    pub fn set_settings(&self, settings: Value) {
        *self.settings.lock().unwrap_or_else(PoisonError::into_inner) = settings;
    }

    /// Sends a request and returns its id.
    pub fn request(&self, method: &str, params: Value) -> i64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        with_params(&mut message, params);
        self.write(&message);
        self.sent_requests
            .borrow_mut()
            .insert(id, (Instant::now(), method.to_string()));
        id
    }

    /// When the request `id` was written to the server.
    pub fn sent_at(&self, id: i64) -> Instant {
        self.sent_requests
            .borrow()
            .get(&id)
            .unwrap_or_else(|| panic!("no request {id} was sent"))
            .0
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        let mut message = json!({ "jsonrpc": "2.0", "method": method });
        with_params(&mut message, params);
        self.write(&message);
    }

    /// Sends `$/cancelRequest` for `id` and returns when it was sent. Panics for editors that never cancel.
    pub fn cancel(&self, id: i64) -> Instant {
        assert!(
            self.profile.sends_cancel,
            "{} never sends $/cancelRequest; a test for it must not either",
            self.profile.name
        );
        self.notify("$/cancelRequest", json!({ "id": id }));
        Instant::now()
    }

    /// Writes bytes to the server's stdin as they are, for malformed input.
    pub fn send_raw(&self, bytes: &[u8]) {
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let stdin = stdin.as_mut().expect("the server's stdin is closed");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|err| panic!("writing to the server failed: {err}"));
    }

    /// Writes bytes to the server's stdin as they are, reporting a failure (the server is gone)
    /// instead of panicking, for drivers that count crashes.
    pub fn try_send_raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let stdin = stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the server's stdin is closed",
            )
        })?;
        stdin.write_all(bytes).and_then(|()| stdin.flush())
    }

    /// Writes `pieces` one after the other, `pause` apart, holding the pipe meanwhile so that no
    /// answer of the reader thread lands between them (a frame split across writes).
    pub fn try_send_raw_in_pieces(&self, pieces: &[&[u8]], pause: Duration) -> std::io::Result<()> {
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let stdin = stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the server's stdin is closed",
            )
        })?;
        for (index, piece) in pieces.iter().enumerate() {
            if index > 0 {
                thread::sleep(pause);
            }
            stdin.write_all(piece)?;
            stdin.flush()?;
        }
        Ok(())
    }

    fn write(&self, message: &Value) {
        let body = serde_json::to_vec(message).expect("serializable message");
        let mut stdin = self.stdin.lock().unwrap_or_else(PoisonError::into_inner);
        let stdin = stdin.as_mut().expect("the server's stdin is closed");
        write_frame(stdin, &body)
            .unwrap_or_else(|err| panic!("writing to the server failed ({err}); did it exit?"));
    }

    /// Waits for the response to `id`.
    pub fn reply(&self, id: i64, timeout: Duration) -> Reply {
        let method = self
            .sent_requests
            .borrow()
            .get(&id)
            .map_or_else(String::new, |(_, method)| method.clone());
        self.wait_until(
            &format!("the response to request {id} ({method})"),
            timeout,
            |log| {
                log.iter().find_map(|message| match &message.kind {
                    MessageKind::Response { id: got, outcome } if *got == json!(id) => {
                        Some(Reply {
                            at: message.at,
                            index: message.index,
                            outcome: outcome.clone(),
                        })
                    }
                    _ => None,
                })
            },
        )
    }

    /// Waits for the response to `id` and returns its result or error.
    pub fn response(&self, id: i64, timeout: Duration) -> Result<Value, RpcError> {
        self.reply(id, timeout).outcome
    }

    /// Sends a request and waits for its result; panics on an error response.
    pub fn call(&self, method: &str, params: Value) -> Value {
        let id = self.request(method, params);
        self.response(id, DEFAULT_TIMEOUT)
            .unwrap_or_else(|err| panic!("{method} failed: {err}"))
    }

    /// Every notification named `method` received so far, in order.
    pub fn notifications(&self, method: &str) -> Vec<(Instant, Value)> {
        self.drain();
        self.log
            .borrow()
            .iter()
            .filter_map(|message| {
                message
                    .notification(method)
                    .map(|params| (message.at, params.clone()))
            })
            .collect()
    }

    /// Every request the server sent to the client named `method`, with its params.
    pub fn server_requests(&self, method: &str) -> Vec<Value> {
        self.drain();
        self.log
            .borrow()
            .iter()
            .filter_map(|message| match &message.kind {
                MessageKind::Request {
                    method: m, params, ..
                } if m == method => Some(params.clone()),
                _ => None,
            })
            .collect()
    }

    /// A copy of the message log so far.
    pub fn messages(&self) -> Vec<Message> {
        self.drain();
        self.log.borrow().clone()
    }

    /// The log length now: pass it to [`Server::wait_for_notification_since`] to ignore older messages.
    pub fn mark(&self) -> usize {
        self.drain();
        self.log.borrow().len()
    }

    /// Waits for a notification named `method` whose params satisfy `pred`, received at any time.
    pub fn wait_for_notification(
        &self,
        method: &str,
        pred: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> (Instant, Value) {
        self.wait_for_notification_since(0, method, pred, timeout)
    }

    /// Waits for a notification named `method` satisfying `pred` among messages from log index `mark` on.
    pub fn wait_for_notification_since(
        &self,
        mark: usize,
        method: &str,
        mut pred: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> (Instant, Value) {
        self.wait_until(&format!("a {method} notification"), timeout, |log| {
            log.iter().skip(mark).find_map(|message| {
                message
                    .notification(method)
                    .filter(|params| pred(params))
                    .map(|params| (message.at, params.clone()))
            })
        })
    }

    /// Waits until `find` finds something in the message log (called again as messages arrive);
    /// panics, naming `what`, when the time runs out or the server closes its stdout.
    pub fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        find: impl FnMut(&[Message]) -> Option<T>,
    ) -> T {
        match self.try_wait_until(timeout, find) {
            Ok(found) => found,
            Err(WaitError::Closed) => {
                panic!("the server closed its stdout while the test waited for {what}")
            }
            Err(WaitError::TimedOut) => panic!("timed out after {timeout:?} waiting for {what}"),
        }
    }

    /// Like [`Server::wait_until`], but reports a timeout or a closed stdout instead of panicking,
    /// for drivers that count such failures (the fuzz campaign).
    pub fn try_wait_until<T>(
        &self,
        timeout: Duration,
        mut find: impl FnMut(&[Message]) -> Option<T>,
    ) -> Result<T, WaitError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            if let Some(found) = find(&self.log.borrow()) {
                return Ok(found);
            }
            if self.closed.get() {
                return Err(WaitError::Closed);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::TimedOut);
            }
            match self.events.recv_timeout(deadline - now) {
                Ok(event) => self.record(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.closed.set(true),
            }
        }
    }

    /// Empties the message log (after checking [`Server::check_invariants`] on it), so that a
    /// long run does not keep every message; indices start again at 0.
    pub fn clear_log(&self) {
        self.check_invariants();
        self.log.borrow_mut().clear();
    }

    /// Takes what the server wrote to stderr so far, leaving the buffer empty.
    pub fn take_stderr(&self) -> String {
        std::mem::take(&mut *self.stderr.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Stops reading the server's stdout, as an editor that hangs: what the server writes stays
    /// in the pipe until [`Server::resume_reading`].
    pub fn pause_reading(&self) {
        let (paused, _) = &*self.reading_paused;
        *paused.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// Reads the server's stdout again.
    pub fn resume_reading(&self) {
        let (paused, wake) = &*self.reading_paused;
        *paused.lock().unwrap_or_else(PoisonError::into_inner) = false;
        wake.notify_all();
    }

    /// Whether the server's stdout has closed (it exited or is about to).
    pub fn is_closed(&self) -> bool {
        self.drain();
        self.closed.get()
    }

    /// Moves everything the reader thread has delivered into the log, without waiting.
    fn drain(&self) {
        while let Ok(event) = self.events.try_recv() {
            self.record(event);
        }
    }

    fn record(&self, event: Event) {
        match event {
            Event::Message(at, kind) => {
                let mut log = self.log.borrow_mut();
                let index = log.len();
                log.push(Message { index, at, kind });
            }
            Event::Violation(violation) => {
                eprintln!("[{}] stdout violation: {violation}", self.profile.name);
                self.violations.borrow_mut().push(violation);
            }
            Event::Closed => self.closed.set(true),
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Checks what must hold over the whole conversation, whatever the test did:
    /// stdout carried only valid frames, and every `rill/inlineCompletion/partial` arrived before its
    /// request's response, with `seq` increasing.
    pub fn check_invariants(&self) {
        self.drain();
        let violations = self.violations.borrow();
        assert!(
            violations.is_empty(),
            "the server wrote non-LSP bytes to stdout: {violations:#?}"
        );
        let log = self.log.borrow();
        let mut last_seq: HashMap<String, u64> = HashMap::new();
        for message in log.iter() {
            let Some(params) = message.notification("rill/inlineCompletion/partial") else {
                continue;
            };
            let request_id = params["requestId"].clone();
            let seq = params["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("partial without a numeric seq: {params}"));
            if let Some(previous) = last_seq.insert(request_id.to_string(), seq) {
                assert!(
                    seq > previous,
                    "partial seq {seq} after {previous} for request {request_id}"
                );
            }
            let answered_before = log[..message.index].iter().any(|earlier| {
                matches!(&earlier.kind, MessageKind::Response { id, .. } if *id == request_id)
            });
            assert!(
                !answered_before,
                "partial #{} (seq {seq}) for request {request_id} arrived after its response",
                message.index
            );
        }
    }

    /// Sends `shutdown`, waits for its answer, sends `exit`, and waits (at most 10 s) for the process to end.
    /// Checks [`Server::check_invariants`] first.
    pub fn shutdown_and_exit(&mut self) -> ExitStatus {
        self.check_invariants();
        let id = self.request("shutdown", Value::Null);
        let result = self
            .response(id, DEFAULT_TIMEOUT)
            .unwrap_or_else(|err| panic!("shutdown failed: {err}"));
        assert_eq!(result, Value::Null, "shutdown must answer null");
        self.notify("exit", Value::Null);
        let status = self.wait_for_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!("the server did not exit within {EXIT_TIMEOUT:?} of the exit notification")
        });
        // Whatever arrived after shutdown must be valid frames too.
        self.check_invariants();
        status
    }

    /// Closes the server's stdin, as an editor that crashed does.
    pub fn close_stdin(&self) {
        self.stdin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Waits at most `timeout` for the process to end; `None` if it is still running.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            let status = match &mut self.running {
                Running::Process(child) => child.try_wait().expect("poll the server process"),
                // An in-process server has ended when it closed its output.
                Running::InProcess(_) => {
                    self.drain();
                    self.closed.get().then(ExitStatus::default)
                }
            };
            if let Some(status) = status {
                self.exit_status = Some(status);
                self.wait_for_stdout_close();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn wait_for_stdout_close(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.closed.get() && Instant::now() < deadline {
            match self.events.recv_timeout(Duration::from_millis(50)) {
                Ok(event) => self.record(event),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.closed.set(true),
            }
        }
    }

    /// Prints the message log and the server's stderr, to diagnose a failure.
    pub fn dump(&self) {
        self.drain();
        let log = self.log.borrow();
        eprintln!(
            "===== rill e2e ({}): {} messages from the server =====",
            self.profile.name,
            log.len()
        );
        let skip = log.len().saturating_sub(80);
        if skip > 0 {
            eprintln!("… {skip} earlier messages left out");
        }
        for message in log.iter().skip(skip) {
            eprintln!("{}", message.summary(self.started));
        }
        let violations = self.violations.borrow();
        if !violations.is_empty() {
            eprintln!("===== stdout violations =====\n{violations:#?}");
        }
        let stderr = self.stderr();
        let lines: Vec<&str> = stderr.lines().collect();
        let skip = lines.len().saturating_sub(200);
        eprintln!("===== server stderr ({} lines) =====", lines.len());
        if skip > 0 {
            eprintln!("… {skip} earlier lines left out");
        }
        for line in &lines[skip..] {
            eprintln!("{line}");
        }
        eprintln!("===== end of server stderr =====");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if thread::panicking() {
            self.dump();
        }
        if let (None, Running::Process(child)) = (self.exit_status, &mut self.running) {
            // Only our own child is killed: the test ended without a clean shutdown.
            let _ = child.kill();
            let _ = child.wait();
        }
        // Closing its input ends an in-process server.
        self.close_stdin();
        if self._exclusive.is_some() {
            HOLDS_SERVER.set(false);
        }
    }
}

/// Sets a message's `params`, leaving them out for `null`: JSON-RPC allows only structured params,
/// and methods without params (`shutdown`, `exit`) are sent without the member, as editors do.
fn with_params(message: &mut Value, params: Value) {
    if !params.is_null() {
        message["params"] = params;
    }
}

/// Appends the server's stderr to `buffer` until the pipe closes.
fn collect_stderr(pipe: impl Read, buffer: &Mutex<String>) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => buffer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_str(&String::from_utf8_lossy(&line)),
        }
    }
}

/// Parses frames from the server's stdout, answers its requests, and forwards everything.
fn read_stdout(
    stdout: impl Read,
    stdin: &Input,
    settings: &Mutex<Value>,
    events: &Sender<Event>,
    paused: &(Mutex<bool>, Condvar),
) {
    let mut reader = BufReader::new(stdout);
    loop {
        let frame = read_frame(&mut reader);
        // A paused client holds what it was reading when it stopped (unanswered, unrecorded)
        // and reads nothing more until it resumes.
        {
            let (flag, wake) = paused;
            let mut flag = flag.lock().unwrap_or_else(PoisonError::into_inner);
            while *flag {
                flag = wake.wait(flag).unwrap_or_else(PoisonError::into_inner);
            }
        }
        let event = match frame {
            Ok(Frame::Eof) | Err(_) => break,
            Ok(Frame::Violation(violation)) => Event::Violation(violation),
            Ok(Frame::Body(body)) => {
                let at = Instant::now();
                match classify(&body) {
                    Ok(kind) => {
                        if let MessageKind::Request { id, method, params } = &kind {
                            answer(stdin, settings, id, method, params);
                        }
                        Event::Message(at, kind)
                    }
                    Err(violation) => Event::Violation(violation),
                }
            }
        };
        if events.send(event).is_err() {
            return;
        }
    }
    let _ = events.send(Event::Closed);
}

/// Sorts a frame body into a response, notification or request; anything else is a violation.
fn classify(body: &[u8]) -> Result<MessageKind, String> {
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        format!(
            "frame body is not JSON ({err}): {:?}",
            String::from_utf8_lossy(body)
        )
    })?;
    if value["jsonrpc"] != "2.0" {
        return Err(format!("message without \"jsonrpc\": \"2.0\": {value}"));
    }
    let params = value.get("params").cloned().unwrap_or(Value::Null);
    match (value.get("method").and_then(Value::as_str), value.get("id")) {
        (Some(method), Some(id)) => Ok(MessageKind::Request {
            id: id.clone(),
            method: method.to_string(),
            params,
        }),
        (Some(method), None) => Ok(MessageKind::Notification {
            method: method.to_string(),
            params,
        }),
        (None, Some(id)) => {
            let outcome = match (value.get("result"), value.get("error")) {
                (Some(result), None) => Ok(result.clone()),
                (None, Some(error)) => Err(RpcError::from_json(error)),
                _ => {
                    return Err(format!(
                        "response needs exactly one of result and error: {value}"
                    ))
                }
            };
            Ok(MessageKind::Response {
                id: id.clone(),
                outcome,
            })
        }
        (None, None) => Err(format!("message with neither method nor id: {value}")),
    }
}

/// Answers a server-to-client request the way an editor would.
fn answer(stdin: &Input, settings: &Mutex<Value>, id: &Value, method: &str, params: &Value) {
    let reply = match method {
        "workspace/configuration" => {
            let settings = settings
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            let items = params["items"].as_array().cloned().unwrap_or_default();
            let values: Vec<Value> = items
                .iter()
                .map(|item| configuration_section(&settings, item["section"].as_str()))
                .collect();
            json!({ "jsonrpc": "2.0", "id": id, "result": values })
        }
        // The test applies edits itself (with didChange), as an editor does after accepting.
        "workspace/applyEdit" => {
            json!({ "jsonrpc": "2.0", "id": id, "result": { "applied": true } })
        }
        "window/workDoneProgress/create"
        | "client/registerCapability"
        | "client/unregisterCapability"
        | "window/showMessageRequest" => json!({ "jsonrpc": "2.0", "id": id, "result": null }),
        _ => json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": -32601, "message": format!("the e2e client does not handle {method}") }
        }),
    };
    let body = serde_json::to_vec(&reply).expect("serializable reply");
    // Written by a thread of its own: the reader must never wait for the pipe to the server
    // (the test thread may hold it, blocked on a server that waits for its output to be read).
    let stdin = stdin.clone();
    thread::spawn(move || {
        let mut stdin = stdin.lock().unwrap_or_else(PoisonError::into_inner);
        // The server may be gone already (a test of exit), or its stdin closed; then nobody
        // needs an answer.
        if let Some(stdin) = stdin.as_mut() {
            let _ = write_frame(stdin, &body);
        }
    });
}
