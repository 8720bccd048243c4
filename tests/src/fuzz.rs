//! The fuzz campaign: a seeded random client that drives the real `rill --stdio` with valid, mutated, misordered and malformed messages, and checks after every few dozen of them that the server still answers, that its mirror of every document is exact, and that its memory stays bounded.
//!
//! One campaign runs a sequence of server sessions (processes). Each session may start with
//! messages sent before `initialize`, initializes as one of three editor profiles (UTF-16 with
//! inline completion and pulled settings, UTF-8 with the completion fallback, UTF-8 with pushed
//! settings), then sends random messages:
//!
//! - valid edits, checked against an independent model of each document ([`TextModel`]):
//!   astral characters, CR, LF and CRLF line ends, non-breaking line separators, batches of
//!   changes, whole-document replacements, and positions out of range, inside a surrogate pair
//!   or reversed, which the specification says to clamp;
//! - every request and notification rill handles, with valid params and with mutated ones
//!   (wrong types, missing and extra fields, extreme numbers, junk URIs);
//! - cancels, settings changes (valid and invalid, `model.path` set to files that cannot be
//!   loaded among them; never a switch of backend, whose model reload would double the model's
//!   memory for a moment), large documents, lifecycle misorderings
//!   (a second `initialize`, repeated `initialized`, requests before `initialize` and after
//!   `shutdown`) and malformed frames (bad JSON, JSON that is not JSON-RPC, invalid UTF-8,
//!   garbage between frames, bad headers, frames split across writes);
//!
//! and ends with `shutdown` and `exit`, `exit` alone, or a closed pipe. Every
//! [`Options::check_every`] messages a checkpoint waits (at most [`Options::answer_timeout`])
//! for every request to be answered as it must be, compares each open document's mirror with
//! its model, reads the process's peak RSS and scans its log for panics. The [`Report`] counts
//! crashes, hangs, mirror differences, panics and unexpected answers; all must be zero.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{MessageKind, RpcError, Server, WaitError};
use crate::text::{Encoding, Rng, TextModel};
use crate::Profile;

/// JSON-RPC and LSP error codes the campaign expects.
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const SERVER_NOT_INITIALIZED: i64 = -32002;
const REQUEST_CANCELLED: i64 = -32800;

/// Ids of the campaign's own requests start here, above any the harness uses.
const FIRST_ID: i64 = 1_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    /// Client messages to send in all (checkpoint requests not counted).
    pub messages: usize,
    /// Messages between checkpoints.
    pub check_every: usize,
    /// Messages per server session; a new process starts after each.
    pub session_messages: usize,
    /// How long a checkpoint waits for every answer.
    pub answer_timeout: Duration,
    /// `engine.cacheBudgetMb`, the largest value the campaign ever sets.
    pub cache_budget_mb: u64,
    /// Whether documents of a few hundred kilobytes are opened now and then.
    pub large_documents: bool,
    /// Print a line per checkpoint to stderr (otherwise one per ten).
    pub verbose: bool,
}

impl Options {
    /// The campaign CI runs: 2,000 messages of one seed.
    pub fn ci(seed: u64) -> Self {
        Self {
            seed,
            messages: 2000,
            check_every: 50,
            session_messages: 1000,
            answer_timeout: Duration::from_secs(30),
            // A small budget, so that cache eviction runs often and a leak past it shows.
            cache_budget_mb: 128,
            large_documents: true,
            verbose: false,
        }
    }
}

/// What a campaign found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub seed: u64,
    pub messages: usize,
    pub requests: usize,
    pub answered: usize,
    pub sessions: usize,
    pub checkpoints: usize,
    pub mirror_checks: usize,
    /// Completion requests answered with at least one suggestion.
    pub suggestions: usize,
    /// Server processes that ended on their own, with what they last logged.
    pub crashes: Vec<String>,
    /// Requests not answered within the timeout, and processes that did not exit.
    pub hangs: Vec<String>,
    pub mirror_differences: Vec<String>,
    /// Panic messages in the server's log.
    pub panics: Vec<String>,
    /// Answers of the wrong kind (an error where a result was due, the wrong error code, more
    /// error responses with a null id than malformed messages were sent).
    pub unexpected: Vec<String>,
    pub peak_rss_bytes: u64,
    /// The model file's size.
    pub model_bytes: u64,
    /// What the loaded model occupies in memory: the resident set of a fresh server once the
    /// model is ready, before any document is opened (the weights as the kernels use them, the
    /// tokenizer, the process itself). Larger than the file while Q5_0 tensors are widened.
    pub model_resident_bytes: u64,
    /// The model (as resident) plus `engine.cacheBudgetMb` plus 150 MB.
    pub rss_bound_bytes: u64,
    pub elapsed: Duration,
    /// Messages sent per kind.
    pub kinds: BTreeMap<&'static str, usize>,
}

impl Report {
    /// Whether every target holds: no crash, no hang, no mirror difference, no panic, no
    /// unexpected answer, every request answered, peak RSS within the bound.
    pub fn passed(&self) -> bool {
        self.crashes.is_empty()
            && self.hangs.is_empty()
            && self.mirror_differences.is_empty()
            && self.panics.is_empty()
            && self.unexpected.is_empty()
            && self.answered == self.requests
            && self.peak_rss_bytes <= self.rss_bound_bytes
    }

    /// A Markdown summary.
    pub fn markdown(&self) -> String {
        let mb = |bytes: u64| bytes as f64 / (1u64 << 20) as f64;
        let mut out = format!(
            "| figure | value |\n|---|---|\n\
             | seed | {} |\n| messages | {} |\n| requests answered | {} / {} |\n\
             | sessions (processes) | {} |\n| checkpoints | {} |\n| mirror checks | {} |\n\
             | completions with a suggestion | {} |\n\
             | crashes | {} |\n| hangs | {} |\n| mirror differences | {} |\n| panics | {} |\n\
             | unexpected answers | {} |\n| peak RSS | {:.0} MB (bound {:.0} MB: model resident {:.0} MB + budget + 150 MB; file {:.0} MB) |\n\
             | time | {:.1} s |\n",
            self.seed,
            self.messages,
            self.answered,
            self.requests,
            self.sessions,
            self.checkpoints,
            self.mirror_checks,
            self.suggestions,
            self.crashes.len(),
            self.hangs.len(),
            self.mirror_differences.len(),
            self.panics.len(),
            self.unexpected.len(),
            mb(self.peak_rss_bytes),
            mb(self.rss_bound_bytes),
            mb(self.model_resident_bytes),
            mb(self.model_bytes),
            self.elapsed.as_secs_f64(),
        );
        let kinds: Vec<String> = self
            .kinds
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        out.push_str(&format!("\nMessages by kind: {}.\n", kinds.join(", ")));
        for (what, list) in [
            ("crash", &self.crashes),
            ("hang", &self.hangs),
            ("mirror difference", &self.mirror_differences),
            ("panic", &self.panics),
            ("unexpected answer", &self.unexpected),
        ] {
            for finding in list.iter().take(10) {
                out.push_str(&format!("\n- {what}: {finding}"));
            }
        }
        out
    }

    /// The headline figures as one JSON object.
    pub fn json(&self) -> Value {
        json!({
            "seed": self.seed,
            "messages": self.messages,
            "requests": self.requests,
            "answered": self.answered,
            "sessions": self.sessions,
            "checkpoints": self.checkpoints,
            "mirror_checks": self.mirror_checks,
            "suggestions": self.suggestions,
            "crashes": self.crashes.len(),
            "hangs": self.hangs.len(),
            "mirror_differences": self.mirror_differences.len(),
            "panics": self.panics.len(),
            "unexpected": self.unexpected.len(),
            "peak_rss_mb": self.peak_rss_bytes >> 20,
            "rss_bound_mb": self.rss_bound_bytes >> 20,
            "model_mb": self.model_bytes >> 20,
            "model_resident_mb": self.model_resident_bytes >> 20,
            "seconds": self.elapsed.as_secs_f64(),
            "passed": self.passed(),
        })
    }
}

/// Runs a campaign.
pub fn run(options: &Options) -> Report {
    // Measured before the clock starts: the campaign's time is its messages'.
    let model_resident_bytes = model_resident_bytes(options.cache_budget_mb);
    let started = Instant::now();
    let model_bytes = std::fs::metadata(crate::model_path())
        .map(|metadata| metadata.len())
        .unwrap_or(0);
    let mut campaign = Campaign {
        options,
        rng: Rng::new(options.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        report: Report {
            seed: options.seed,
            model_bytes,
            model_resident_bytes,
            rss_bound_bytes: model_resident_bytes + (options.cache_budget_mb << 20) + (150 << 20),
            ..Report::default()
        },
        broken_model: broken_model_file(),
        next_id: FIRST_ID,
        started,
    };
    while campaign.report.messages < options.messages {
        campaign.session();
    }
    if let Some(path) = &campaign.broken_model {
        let _ = std::fs::remove_file(path);
    }
    campaign.report.elapsed = started.elapsed();
    campaign.report
}

/// The resident set of a server with the campaign's settings once its model is ready and before
/// any document is open: the memory the model itself takes, which the bound adds the cache budget
/// and a margin to. Measured in the same run, so the bound follows the build and the model.
fn model_resident_bytes(cache_budget_mb: u64) -> u64 {
    let settings = base_settings(cache_budget_mb);
    let mut server = Server::start_ready(
        Profile::vscode()
            .with_settings(settings.clone())
            .with_initialization_options(settings),
    );
    let resident = server
        .rss_bytes()
        .expect("the server's resident set from /proc");
    server.shutdown_and_exit();
    resident
}

/// A copy of the first 8 MiB of the model: a GGUF whose header reads but whose tensors are cut
/// off, for `model.path` settings that must fail to load.
fn broken_model_file() -> Option<PathBuf> {
    use std::io::Read;
    let mut start = vec![0; 8 << 20];
    let mut file = std::fs::File::open(crate::model_path()).ok()?;
    file.read_exact(&mut start).ok()?;
    let path =
        std::env::temp_dir().join(format!("rill-fuzz-{}-truncated.gguf", std::process::id()));
    std::fs::write(&path, start).ok()?;
    Some(path)
}

struct Campaign<'a> {
    options: &'a Options,
    rng: Rng,
    report: Report,
    broken_model: Option<PathBuf>,
    next_id: i64,
    started: Instant,
}

/// The editors a session plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Editor {
    VsCode,
    Helix,
    NeovimLike,
}

/// One document as the campaign knows it.
struct Doc {
    uri: String,
    model: TextModel,
    version: i32,
    open: bool,
}

/// What a request must be answered with.
#[derive(Debug, Clone)]
enum Expect {
    /// A result.
    Result,
    /// An error with this code.
    Error(i64),
    /// Any answer (mutated params).
    Any,
    /// A `rill/documentText` result with this version and text.
    Mirror { version: i32, text: String },
}

struct Pending {
    method: String,
    expect: Expect,
    cancelled: bool,
}

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    BeforeInitialize,
    Running,
    ShutDown,
}

struct Session {
    server: Server,
    editor: Editor,
    encoding: Encoding,
    docs: Vec<Doc>,
    pending: HashMap<i64, Pending>,
    recent: VecDeque<i64>,
    /// Error responses with a null id the malformed messages of this window should get.
    null_min: usize,
    null_max: usize,
    /// Null-id errors already counted in the current message log (it is cleared at checkpoints).
    nulls_seen: usize,
    phase: Phase,
    documents_made: usize,
    /// The last stderr lines, for crash reports.
    log_tail: VecDeque<String>,
    /// The base settings plus the valid changes so far (what a pulling client answers).
    settings: Value,
    index: usize,
}

/// The settings every session starts with: short, cheap completions and chains, diagnostics on,
/// a small cache budget.
fn base_settings(cache_budget_mb: u64) -> Value {
    json!({
        "rill": {
            "engine": { "cacheBudgetMb": cache_budget_mb, "prewarmIdleMs": 200 },
            "completion": {
                "maxTokens": 8,
                "timeoutMs": 1500,
                "fallbackBudgetMs": 1000,
                "contextTokens": 256,
                "candidates": 1,
                "suffixChoice": false
            },
            "reasoning": { "timeoutMs": 1000, "maxSteps": 1 },
            "diagnostics": { "enable": true, "debounceMs": 100 }
        }
    })
}

/// Text pieces edits insert: typing, astral characters, combining marks, every line end, and
/// characters that look like line ends but are not ones in LSP.
const SNIPPETS: &[&str] = &[
    "x",
    "a",
    " ",
    "_",
    "(",
    ")",
    ":",
    "\t",
    "🦀",
    "é",
    "e\u{301}",
    "日本",
    "𝔘𝔫𝔦",
    "👩‍👩‍👧",
    "\n",
    "\r\n",
    "\r",
    "\u{2028}",
    "\u{85}",
    "\u{c}",
    "\u{feff}",
    "fn ",
    "def f(x):\n    return x\n",
    "    let crab = \"🦀\";\r\n",
    "🦀🦀\rz",
    "a\r\nb\nc\rd",
    "line one\nline two 🦀\r\nline three\n",
    "\t}\n",
    "// comment ✓\n",
    "if x:\r\n    pass\r\n",
];

/// One of `choices`, at random.
fn pick<T: Copy>(rng: &mut Rng, choices: &[T]) -> T {
    choices[rng.below(choices.len())]
}

/// Values of the wrong type for any field.
fn junk(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(-1),
        3 => json!(4_294_967_296u64),
        4 => json!(1e300),
        5 => json!(""),
        6 => json!("🦀\u{0}\u{2028}"),
        7 => json!("x".repeat(10_000)),
        8 => json!([]),
        9 => json!([1, "a", null, { "b": [] }]),
        10 => json!({}),
        11 => json!({ "a": { "b": [1.5] } }),
        12 => {
            let mut value = json!(0);
            for _ in 0..60 {
                value = json!([value]);
            }
            value
        }
        _ => json!(0.5),
    }
}

/// Every path to a value inside `value`, as keys and indices.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(json!(key));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                prefix.push(json!(index));
                out.push(prefix.clone());
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// The parent of the value at `path` and the last step, to change or remove it.
fn at_path<'v>(value: &'v mut Value, path: &[Value]) -> Option<(&'v mut Value, Value)> {
    let (last, parents) = path.split_last()?;
    let mut node = value;
    for step in parents {
        node = match step {
            Value::String(key) => node.get_mut(key.as_str())?,
            Value::Number(index) => node.get_mut(index.as_u64()? as usize)?,
            _ => return None,
        };
    }
    Some((node, last.clone()))
}

/// Params changed in one random way: any outcome is possible.
fn mutate(rng: &mut Rng, mut params: Value) -> Value {
    let mut all = Vec::new();
    paths(&params, &mut Vec::new(), &mut all);
    let kind = if all.is_empty() { 0 } else { rng.below(9) };
    let path = if all.is_empty() {
        Vec::new()
    } else {
        all[rng.below(all.len())].clone()
    };
    match kind {
        0 => return junk(rng),
        1 => {
            // Remove a field or element.
            if let Some((parent, step)) = at_path(&mut params, &path) {
                match (parent, step) {
                    (Value::Object(map), Value::String(key)) => {
                        map.remove(&key);
                    }
                    (Value::Array(items), Value::Number(index)) => {
                        let index = index.as_u64().unwrap_or(0) as usize;
                        if index < items.len() {
                            items.remove(index);
                        }
                    }
                    _ => {}
                }
            }
        }
        2 | 3 => {
            let replacement = junk(rng);
            set_at(&mut params, &path, replacement);
        }
        4 => {
            if let Value::Object(map) = &mut params {
                map.insert("unexpectedField🦀".to_string(), junk(rng));
            }
        }
        5 => {
            let extreme = [
                json!(u32::MAX),
                json!(-1),
                json!(9_007_199_254_740_993u64),
                json!(i64::MIN),
                json!(2.5),
            ][rng.below(5)]
            .clone();
            set_at(&mut params, &path, extreme);
        }
        6 => {
            let text = ["", "🦀", "\u{0}", "\r\n\r\n", "file:///", "::"][rng.below(6)];
            set_at(&mut params, &path, json!(text));
        }
        7 => return json!([params]),
        _ => {
            let uri = [
                "not a uri",
                "",
                "file://",
                "http://example.com/a.py",
                "file:///fuzz/never-opened.py",
                "untitled:Untitled-1",
            ][rng.below(6)];
            if params.get("textDocument").is_some() {
                params["textDocument"]["uri"] = json!(uri);
            } else {
                set_at(&mut params, &path, json!(uri));
            }
        }
    }
    params
}

fn set_at(params: &mut Value, path: &[Value], replacement: Value) {
    if let Some((parent, step)) = at_path(params, path) {
        match (parent, step) {
            (Value::Object(map), Value::String(key)) => {
                map.insert(key, replacement);
            }
            (Value::Array(items), Value::Number(index)) => {
                if let Some(item) = items.get_mut(index.as_u64().unwrap_or(0) as usize) {
                    *item = replacement;
                }
            }
            _ => {}
        }
    }
}

/// Random source-like text of about `bytes` bytes, with every kind of line end.
fn random_text(rng: &mut Rng, bytes: usize) -> String {
    let mut text = String::new();
    while text.len() < bytes {
        let line = match rng.below(6) {
            0 => format!("def function_{}(value):", rng.below(1000)),
            1 => format!(
                "    return value * {} + 🦀_{}",
                rng.below(100),
                rng.below(10)
            ),
            2 => "    # é日本 👩‍👩‍👧 comment".to_string(),
            3 => format!("x_{} = [{}]", rng.below(100), rng.below(1_000_000)),
            4 => String::new(),
            _ => format!("print(\"{}\")", "𝔘".repeat(rng.below(4))),
        };
        text.push_str(&line);
        text.push_str(["\n", "\n", "\n", "\r\n", "\r"][rng.below(5)]);
    }
    text
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

impl Campaign<'_> {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn count(&mut self, kind: &'static str) {
        *self.report.kinds.entry(kind).or_default() += 1;
    }

    /// Runs one server session of at most `options.session_messages` messages.
    fn session(&mut self) {
        let editor = [Editor::VsCode, Editor::Helix, Editor::NeovimLike][self.rng.below(3)];
        let settings = base_settings(self.options.cache_budget_mb);
        let profile = match editor {
            Editor::VsCode => Profile::vscode(),
            Editor::Helix => Profile::helix(),
            Editor::NeovimLike => Profile::neovim_like(),
        }
        .with_settings(settings.clone())
        .with_initialization_options(settings.clone())
        .with_env("RILL_LOG", "info");
        self.report.sessions += 1;
        let mut session = Session {
            server: Server::spawn(profile),
            editor,
            encoding: Encoding::Utf16,
            docs: Vec::new(),
            pending: HashMap::new(),
            recent: VecDeque::new(),
            null_min: 0,
            null_max: 0,
            nulls_seen: 0,
            phase: Phase::BeforeInitialize,
            documents_made: 0,
            log_tail: VecDeque::new(),
            settings,
            index: self.report.sessions,
        };
        let budget = self.options.session_messages;
        let first = self.report.messages;
        let outcome = self.drive(&mut session, first + budget);
        if outcome.is_ok() {
            self.end_session(&mut session);
        } else {
            self.collect_log(&mut session);
        }
        self.note_rss(&session);
    }

    /// Sends messages until the campaign or this session has sent enough; `Err` when the
    /// session cannot go on (crash or hang, already reported).
    fn drive(&mut self, session: &mut Session, until: usize) -> Result<(), ()> {
        // Misordered messages before `initialize`, as a client in a hurry sends them.
        if self.rng.below(3) == 0 {
            for _ in 0..1 + self.rng.below(3) {
                self.before_initialize(session)?;
            }
        }
        self.initialize(session)?;
        // An action may send several messages: a checkpoint follows the first that reaches the
        // next multiple of `check_every`.
        let mut next_check = self.report.messages + self.options.check_every;
        loop {
            let total = self.report.messages;
            if total >= self.options.messages || total >= until {
                break;
            }
            self.action(session)?;
            if self.report.messages >= next_check {
                self.checkpoint(session)?;
                next_check = self.report.messages + self.options.check_every;
            }
        }
        self.checkpoint(session)
    }

    /// Writes `bytes`; a failed write means the server is gone.
    fn send(&mut self, session: &mut Session, bytes: &[u8], kind: &'static str) -> Result<(), ()> {
        self.report.messages += 1;
        self.count(kind);
        if session.server.try_send_raw(bytes).is_err() {
            self.crashed(session, "writing to the server failed");
            return Err(());
        }
        Ok(())
    }

    fn send_json(
        &mut self,
        session: &mut Session,
        message: &Value,
        kind: &'static str,
    ) -> Result<(), ()> {
        let body = serde_json::to_vec(message).unwrap_or_default();
        self.send(session, &frame(&body), kind)
    }

    fn request(
        &mut self,
        session: &mut Session,
        method: &str,
        params: Option<Value>,
        expect: Expect,
        kind: &'static str,
    ) -> Result<i64, ()> {
        let id = self.id();
        let mut message = json!({ "jsonrpc": "2.0", "id": id, "method": method });
        if let Some(params) = params {
            message["params"] = params;
        }
        session.pending.insert(
            id,
            Pending {
                method: method.to_string(),
                expect,
                cancelled: false,
            },
        );
        session.recent.push_back(id);
        if session.recent.len() > 16 {
            session.recent.pop_front();
        }
        self.report.requests += 1;
        self.send_json(session, &message, kind)?;
        Ok(id)
    }

    fn notify(
        &mut self,
        session: &mut Session,
        method: &str,
        params: Option<Value>,
        kind: &'static str,
    ) -> Result<(), ()> {
        let mut message = json!({ "jsonrpc": "2.0", "method": method });
        if let Some(params) = params {
            message["params"] = params;
        }
        self.send_json(session, &message, kind)
    }

    fn crashed(&mut self, session: &mut Session, what: &str) {
        self.collect_log(session);
        let tail: Vec<String> = session
            .log_tail
            .iter()
            .rev()
            .take(8)
            .rev()
            .cloned()
            .collect();
        self.report.crashes.push(format!(
            "session {} ({:?}) at message {}: {what}; last log lines: {}",
            session.index,
            session.editor,
            self.report.messages,
            tail.join(" | ")
        ));
    }

    /// Moves the server's new log lines into the tail and reports panics among them.
    fn collect_log(&mut self, session: &mut Session) {
        let stderr = session.server.take_stderr();
        // With RILL_FUZZ_LOG_DIR set, every session's whole log is kept there, to look into.
        if let Some(directory) = std::env::var_os("RILL_FUZZ_LOG_DIR") {
            use std::io::Write;
            let path = PathBuf::from(directory).join(format!("session-{}.log", session.index));
            if let Ok(mut file) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = file.write_all(stderr.as_bytes());
            }
        }
        let mut lines = stderr.lines().peekable();
        while let Some(line) = lines.next() {
            if line.contains("panicked at") {
                let message = lines.peek().copied().unwrap_or_default();
                self.report
                    .panics
                    .push(format!("session {}: {line} {message}", session.index));
            }
            session.log_tail.push_back(line.chars().take(300).collect());
            if session.log_tail.len() > 50 {
                session.log_tail.pop_front();
            }
        }
    }

    fn note_rss(&mut self, session: &Session) {
        if let Some(peak) = session.server.peak_rss_bytes() {
            self.report.peak_rss_bytes = self.report.peak_rss_bytes.max(peak);
        }
    }

    fn before_initialize(&mut self, session: &mut Session) -> Result<(), ()> {
        match self.rng.below(4) {
            0 => {
                let params = json!({ "textDocument": { "uri": "file:///fuzz/early.py" } });
                self.request(
                    session,
                    "rill/documentText",
                    Some(params),
                    Expect::Error(SERVER_NOT_INITIALIZED),
                    "before initialize",
                )?;
            }
            1 => {
                self.request(
                    session,
                    "rill/cacheStatus",
                    None,
                    Expect::Error(SERVER_NOT_INITIALIZED),
                    "before initialize",
                )?;
            }
            2 => {
                // Dropped: the document is not open afterwards.
                let params = json!({ "textDocument": {
                    "uri": "file:///fuzz/early.py", "languageId": "python", "version": 1, "text": "x = 1\n"
                } });
                self.notify(
                    session,
                    "textDocument/didOpen",
                    Some(params),
                    "before initialize",
                )?;
                session.docs.push(Doc {
                    uri: "file:///fuzz/early.py".to_string(),
                    model: TextModel::new("", Encoding::Utf16),
                    version: 0,
                    open: false,
                });
            }
            _ => self.malformed(session)?,
        }
        Ok(())
    }

    fn initialize(&mut self, session: &mut Session) -> Result<(), ()> {
        let params = session.server.profile().initialize_params();
        let id = self.request(
            session,
            "initialize",
            Some(params),
            Expect::Result,
            "initialize",
        )?;
        // Now and then a second one right behind the first, before its answer.
        if self.rng.below(8) == 0 {
            let mut second = session.server.profile().initialize_params();
            second["initializationOptions"] = json!({ "enable": false });
            self.request(
                session,
                "initialize",
                Some(second),
                Expect::Error(INVALID_REQUEST),
                "lifecycle",
            )?;
        }
        let timeout = self.options.answer_timeout;
        let result = session.server.try_wait_until(timeout, |log| {
            log.iter().find_map(|message| match &message.kind {
                MessageKind::Response { id: got, outcome } if *got == json!(id) => {
                    Some(outcome.clone())
                }
                _ => None,
            })
        });
        let result = match result {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                self.report
                    .unexpected
                    .push(format!("initialize failed: {error}"));
                return Err(());
            }
            Err(WaitError::Closed) => {
                self.crashed(session, "closed during initialize");
                return Err(());
            }
            Err(WaitError::TimedOut) => {
                self.report.hangs.push(format!(
                    "session {}: initialize not answered",
                    session.index
                ));
                return Err(());
            }
        };
        session.encoding = Encoding::from_lsp(result["capabilities"]["positionEncoding"].as_str());
        for doc in &mut session.docs {
            doc.model = TextModel::new(doc.model.text(), session.encoding);
        }
        session.phase = Phase::Running;
        self.notify(session, "initialized", Some(json!({})), "initialize")?;
        if self.rng.below(6) == 0 {
            self.notify(session, "initialized", Some(json!({})), "lifecycle")?;
        }
        Ok(())
    }

    /// One random message.
    fn action(&mut self, session: &mut Session) -> Result<(), ()> {
        match self.rng.below(100) {
            0..=33 => self.edit(session),
            34..=47 => self.complete(session),
            48..=52 => self.cancel(session),
            53..=57 => self.open(session),
            58..=60 => self.close(session),
            61..=63 => self.configure(session),
            64..=69 => self.inspect(session),
            70..=73 => self.code_action(session),
            74..=75 => self.reason(session),
            76..=84 => self.mutated_request(session),
            85..=91 => self.mutated_notification(session),
            92..=96 => self.malformed(session),
            97 => self.lifecycle(session),
            _ => self.client_response(session),
        }
    }

    /// An open document, opening one first when none is.
    fn open_doc(&mut self, session: &mut Session) -> Result<usize, ()> {
        if let Some(index) = self.pick_open(session) {
            return Ok(index);
        }
        self.open_new(session, false)
    }

    fn pick_open(&mut self, session: &Session) -> Option<usize> {
        let open: Vec<usize> = (0..session.docs.len())
            .filter(|&index| session.docs[index].open)
            .collect();
        (!open.is_empty()).then(|| open[self.rng.below(open.len())])
    }

    /// A random edit point of `model`, near the end more often (where typing happens).
    fn point(&mut self, model: &TextModel) -> usize {
        let len = model.text().len();
        let mut offset = if self.rng.below(3) == 0 {
            len.saturating_sub(self.rng.below(64))
        } else {
            self.rng.below(len + 1)
        };
        while !model.is_edit_point(offset) {
            offset = offset.saturating_sub(1);
        }
        offset
    }

    /// Generates one change for `model`, applies it there, and returns it.
    fn change(&mut self, model: &mut TextModel) -> Value {
        let snippet = |rng: &mut Rng| SNIPPETS[rng.below(SNIPPETS.len())].to_string();
        let range = |start: (u32, u32), end: (u32, u32)| {
            json!({
                "start": { "line": start.0, "character": start.1 },
                "end": { "line": end.0, "character": end.1 }
            })
        };
        match self.rng.below(20) {
            // Typing.
            0..=9 => {
                let at = self.point(model);
                let text = snippet(&mut self.rng);
                let position = model.position(at);
                model.replace_bytes(at, at, &text);
                json!({ "range": range(position, position), "text": text })
            }
            // Deleting, or replacing with a paste.
            10..=15 => {
                let from = self.point(model);
                let mut to = (from + 1 + self.rng.below(24)).min(model.text().len());
                while !model.is_edit_point(to) {
                    to -= 1;
                }
                let to = to.max(from);
                let text = if self.rng.below(2) == 0 {
                    String::new()
                } else {
                    format!("{}{}", snippet(&mut self.rng), snippet(&mut self.rng))
                };
                let (start, end) = (model.position(from), model.position(to));
                model.replace_bytes(from, to, &text);
                let mut change = json!({ "range": range(start, end), "text": text });
                if self.rng.below(4) == 0 {
                    // The deprecated rangeLength, sometimes wrong: the range wins.
                    change["rangeLength"] = json!(self.rng.below(50));
                }
                change
            }
            // The whole document.
            16 => {
                let text = if self.rng.below(2) == 0 {
                    format!("{}{}", model.text(), snippet(&mut self.rng))
                } else {
                    let size = self.rng.below(400);
                    random_text(&mut self.rng, size)
                };
                model.set_text(&text);
                json!({ "text": text })
            }
            // Positions out of range or inside a character: clamped.
            17 | 18 => {
                let (lines, _) = model.end_position();
                let line = match self.rng.below(3) {
                    0 => lines + 1 + self.rng.below(5) as u32,
                    1 => self.rng.below(lines as usize + 1) as u32,
                    _ => u32::MAX,
                };
                let character = match self.rng.below(3) {
                    0 => u32::MAX,
                    1 => self.rng.below(200) as u32,
                    _ => 1,
                };
                let at = model.clamped_offset(line, character);
                let text = snippet(&mut self.rng);
                model.replace_bytes(at, at, &text);
                json!({ "range": range((line, character), (line, character)), "text": text })
            }
            // A range whose end comes before its start: swapped.
            _ => {
                let from = self.point(model);
                let mut to = (from + 1 + self.rng.below(8)).min(model.text().len());
                while !model.is_edit_point(to) {
                    to -= 1;
                }
                let to = to.max(from);
                let (start, end) = (model.position(from), model.position(to));
                model.replace_bytes(from, to, "");
                json!({ "range": range(end, start), "text": "" })
            }
        }
    }

    fn edit(&mut self, session: &mut Session) -> Result<(), ()> {
        let index = self.open_doc(session)?;
        let count = if self.rng.below(5) == 0 {
            2 + self.rng.below(3)
        } else {
            1
        };
        let mut model = session.docs[index].model.clone();
        let changes: Vec<Value> = (0..count).map(|_| self.change(&mut model)).collect();
        let doc = &mut session.docs[index];
        doc.model = model;
        doc.version = doc.version.wrapping_add(1);
        let params = json!({
            "textDocument": { "uri": doc.uri, "version": doc.version },
            "contentChanges": changes
        });
        self.notify(session, "textDocument/didChange", Some(params), "edit")
    }

    /// A position in `index`'s document, sometimes out of range.
    fn position(&mut self, session: &Session, index: usize) -> Value {
        let model = &session.docs[index].model;
        if self.rng.below(8) == 0 {
            return json!({ "line": self.rng.below(1000), "character": self.rng.below(1000) });
        }
        let mut offset = self.rng.below(model.text().len() + 1);
        while !model.is_edit_point(offset) {
            offset -= 1;
        }
        let (line, character) = model.position(offset);
        json!({ "line": line, "character": character })
    }

    /// A document for a request: usually open, sometimes closed or never opened.
    fn target(&mut self, session: &mut Session) -> Result<(String, Option<usize>), ()> {
        if self.rng.below(10) == 0 {
            let closed: Vec<usize> = (0..session.docs.len())
                .filter(|&index| !session.docs[index].open)
                .collect();
            if !closed.is_empty() && self.rng.below(2) == 0 {
                let index = closed[self.rng.below(closed.len())];
                return Ok((session.docs[index].uri.clone(), None));
            }
            return Ok(("file:///fuzz/never-opened.py".to_string(), None));
        }
        let index = self.open_doc(session)?;
        Ok((session.docs[index].uri.clone(), Some(index)))
    }

    fn complete(&mut self, session: &mut Session) -> Result<(), ()> {
        let (uri, index) = self.target(session)?;
        // Now and then the user pauses at the end of what they typed and reads the suggestion:
        // the request runs to its end instead of being superseded by the next edit, so the
        // model's own path (prefill, decoding, streaming) is exercised.
        let awaited = self.rng.below(12) == 0;
        let position = match index {
            Some(index) if awaited => {
                let (line, character) = session.docs[index].model.end_position();
                json!({ "line": line, "character": character })
            }
            Some(index) => self.position(session, index),
            None => json!({ "line": 0, "character": 0 }),
        };
        let inline = match session.editor {
            Editor::VsCode => self.rng.below(8) != 0,
            _ => self.rng.below(8) == 0,
        };
        // A client with inline completion gets `null` from the menu fallback before the
        // document is even looked at.
        let expect = if index.is_some() || (!inline && session.editor == Editor::VsCode) {
            Expect::Result
        } else {
            Expect::Error(INVALID_PARAMS)
        };
        let (method, context) = if inline {
            (
                "textDocument/inlineCompletion",
                json!({ "triggerKind": 1 + self.rng.below(2) }),
            )
        } else {
            ("textDocument/completion", json!({ "triggerKind": 1 }))
        };
        let params =
            json!({ "textDocument": { "uri": uri }, "position": position, "context": context });
        let id = self.request(session, method, Some(params), expect, "completion")?;
        if awaited {
            let timeout = self.options.answer_timeout;
            let answered = session.server.try_wait_until(timeout, |log| {
                log.iter().any(|message| {
                    matches!(&message.kind, MessageKind::Response { id: got, .. } if *got == json!(id))
                })
                .then_some(())
            });
            match answered {
                Ok(()) => {}
                Err(WaitError::Closed) => {
                    self.crashed(session, "closed while a completion ran");
                    return Err(());
                }
                Err(WaitError::TimedOut) => {
                    self.collect_log(session);
                    diagnose_hang(session);
                    self.report.hangs.push(format!(
                        "session {} at message {}: completion {id} not answered within {timeout:?}",
                        session.index, self.report.messages
                    ));
                    return Err(());
                }
            }
        }
        Ok(())
    }

    fn cancel(&mut self, session: &mut Session) -> Result<(), ()> {
        let id = match self.rng.below(6) {
            0 => json!(self.rng.below(1000)),
            1 => json!("not-a-request"),
            _ => {
                let Some(&id) = session
                    .recent
                    .get(self.rng.below(session.recent.len().max(1)))
                else {
                    return self.notify(
                        session,
                        "$/cancelRequest",
                        Some(json!({ "id": 1 })),
                        "cancel",
                    );
                };
                if let Some(pending) = session.pending.get_mut(&id) {
                    pending.cancelled = true;
                }
                json!(id)
            }
        };
        self.notify(
            session,
            "$/cancelRequest",
            Some(json!({ "id": id })),
            "cancel",
        )
    }

    fn open_new(&mut self, session: &mut Session, allow_large: bool) -> Result<usize, ()> {
        session.documents_made += 1;
        let n = session.documents_made;
        let uri = match self.rng.below(6) {
            0 => format!("file:///fuzz/s{}/déjà vu {n}.rs", session.index),
            1 => format!("untitled:Untitled-{n}"),
            2 => format!("file:///fuzz/s{}/%F0%9F%A6%80{n}.py", session.index),
            _ => format!("file:///fuzz/s{}/doc{n}.py", session.index),
        };
        let large = allow_large && self.options.large_documents && self.rng.below(15) == 0;
        let bytes = if large {
            100_000 + self.rng.below(200_000)
        } else {
            self.rng.below(2000)
        };
        let text = random_text(&mut self.rng, bytes);
        let language = ["python", "rust", "javascript", "plaintext", "🦀lang"][self.rng.below(5)];
        let version = self.rng.below(1000) as i32;
        let params = json!({ "textDocument": {
            "uri": uri, "languageId": language, "version": version, "text": text
        } });
        self.notify(
            session,
            "textDocument/didOpen",
            Some(params),
            if large { "open large" } else { "open" },
        )?;
        session.docs.push(Doc {
            uri,
            model: TextModel::new(&text, session.encoding),
            version,
            open: true,
        });
        Ok(session.docs.len() - 1)
    }

    fn open(&mut self, session: &mut Session) -> Result<(), ()> {
        // Reopening an open document replaces its text.
        if self.rng.below(5) == 0 {
            if let Some(index) = self.pick_open(session) {
                let text = random_text(&mut self.rng, 300);
                let doc = &mut session.docs[index];
                doc.model.set_text(&text);
                doc.version = 1;
                let params = json!({ "textDocument": {
                    "uri": doc.uri, "languageId": "python", "version": 1, "text": text
                } });
                return self.notify(session, "textDocument/didOpen", Some(params), "reopen");
            }
        }
        self.open_new(session, true).map(drop)
    }

    fn close(&mut self, session: &mut Session) -> Result<(), ()> {
        let Some(index) = (if self.rng.below(5) == 0 {
            (!session.docs.is_empty()).then(|| self.rng.below(session.docs.len()))
        } else {
            self.pick_open(session)
        }) else {
            return self.open_new(session, false).map(drop);
        };
        session.docs[index].open = false;
        let params = json!({ "textDocument": { "uri": session.docs[index].uri } });
        self.notify(session, "textDocument/didClose", Some(params), "close")
    }

    /// Sends a settings tree the way the session's editor does.
    fn change_settings(
        &mut self,
        session: &mut Session,
        settings: Value,
        valid: bool,
    ) -> Result<(), ()> {
        if valid {
            session.settings = settings.clone();
        }
        if session.editor != Editor::NeovimLike {
            session.server.set_settings(settings.clone());
        }
        let params = json!({ "settings": settings });
        self.notify(
            session,
            "workspace/didChangeConfiguration",
            Some(params),
            "settings",
        )
    }

    fn configure(&mut self, session: &mut Session) -> Result<(), ()> {
        let mut settings = session.settings.clone();
        let rill = &mut settings["rill"];
        let r = &mut self.rng;
        if r.below(10) < 7 {
            // A valid change of a few keys, within what keeps the campaign's bounds.
            for _ in 0..1 + r.below(3) {
                match r.below(16) {
                    0 => rill["completion"]["maxTokens"] = json!(4 + r.below(9)),
                    1 => rill["completion"]["timeoutMs"] = json!(300 + r.below(1200)),
                    2 => rill["completion"]["contextTokens"] = json!(128 + r.below(257)),
                    3 => rill["completion"]["candidates"] = json!(1 + r.below(2)),
                    4 => {
                        rill["engine"]["cacheBudgetMb"] =
                            json!(pick(r, &[16u64, 32, 64]).min(self.options.cache_budget_mb))
                    }
                    5 => rill["diagnostics"]["enable"] = json!(r.below(3) != 0),
                    6 => rill["diagnostics"]["lookaheadLines"] = json!(r.below(40)),
                    7 => rill["engine"]["prewarm"] = json!(r.below(4) != 0),
                    8 => rill["streaming"] = json!(r.below(2) == 0),
                    9 => rill["enable"] = json!(r.below(10) != 0),
                    10 => rill["context"]["crossFile"] = json!(r.below(2) == 0),
                    11 => {
                        rill["completion"]["multiline"] =
                            json!(pick(r, &["auto", "always", "never"]))
                    }
                    12 => {
                        rill["completion"]["temperature"] = json!(pick(r, &[0.0, 0.8]));
                        rill["completion"]["topK"] = json!(r.below(50));
                    }
                    13 => {
                        rill["completion"]["codeOverComment"] =
                            json!(pick(r, &["off", "drop", "continue"]))
                    }
                    14 => {
                        // A model file that cannot be loaded, or back to the default.
                        let path = match (r.below(3), &self.broken_model) {
                            (0, Some(path)) => json!(path),
                            (1, _) => json!("/nonexistent/rill-fuzz.gguf"),
                            _ => json!(""),
                        };
                        rill["model"]["path"] = path;
                    }
                    _ => {
                        rill["reasoning"]["timeoutMs"] = json!(1000 + r.below(500));
                    }
                }
            }
            return self.change_settings(session, settings, true);
        }
        // Invalid: wrong types and ranges (reported, previous values kept), unknown keys, and
        // settings that are not objects at all.
        let invalid = match r.below(8) {
            0 => json!({ "rill": { "completion": { "maxTokens": "lots" } } }),
            1 => json!({ "rill": { "engine": { "cacheBudgetMb": -5 } } }),
            2 => json!({ "rill": { "completion": { "timeoutMs": 1e12 } } }),
            3 => json!({ "rill": { "noSuchKey": { "deeper": [1, 2] }, "enable": "yes" } }),
            4 => json!({ "rill": "not an object" }),
            5 => json!([1, 2, 3]),
            6 => {
                json!({ "rill": { "engine": { "backend": "quantum" }, "completion": { "multiline": 7 } } })
            }
            _ => json!("rill"),
        };
        self.change_settings(session, invalid, false)
    }

    fn inspect(&mut self, session: &mut Session) -> Result<(), ()> {
        match self.rng.below(4) {
            0 | 1 => {
                let (uri, index) = self.target(session)?;
                let expect = match index {
                    Some(index) => Expect::Mirror {
                        version: session.docs[index].version,
                        text: session.docs[index].model.text().to_string(),
                    },
                    None => Expect::Error(INVALID_PARAMS),
                };
                let params = json!({ "textDocument": { "uri": uri } });
                self.request(
                    session,
                    "rill/documentText",
                    Some(params),
                    expect,
                    "inspect",
                )?;
            }
            2 => {
                let (params, expect) = match self.rng.below(4) {
                    0 => (None, Expect::Result),
                    1 => (Some(json!({})), Expect::Result),
                    2 => (Some(Value::Null), Expect::Result),
                    _ => (Some(json!({ "x": 1 })), Expect::Error(INVALID_PARAMS)),
                };
                self.request(session, "rill/cacheStatus", params, expect, "inspect")?;
            }
            _ => {
                let (uri, index) = self.target(session)?;
                let expect = if index.is_some() {
                    Expect::Result
                } else {
                    Expect::Error(INVALID_PARAMS)
                };
                let params = json!({ "textDocument": { "uri": uri } });
                self.request(
                    session,
                    "rill/diagnosticsStatus",
                    Some(params),
                    expect,
                    "inspect",
                )?;
            }
        }
        Ok(())
    }

    fn range(&mut self, session: &Session, index: Option<usize>) -> Value {
        match index {
            Some(index) => {
                let (a, b) = (self.position(session, index), self.position(session, index));
                json!({ "start": a, "end": b })
            }
            None => {
                json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } })
            }
        }
    }

    fn code_action(&mut self, session: &mut Session) -> Result<(), ()> {
        let (uri, index) = self.target(session)?;
        let range = self.range(session, index);
        let mut context = json!({ "diagnostics": [] });
        if self.rng.below(3) == 0 {
            context["diagnostics"] = json!([{
                "range": range, "message": "unusual `retrun`", "source": "rill", "code": "unlikely-token"
            }]);
        }
        if self.rng.below(4) == 0 {
            let kind = ["quickfix", "refactor", "source"][self.rng.below(3)];
            context["only"] = json!([kind]);
        }
        let params = json!({ "textDocument": { "uri": uri }, "range": range, "context": context });
        let expect = if index.is_some() {
            Expect::Result
        } else {
            Expect::Error(INVALID_PARAMS)
        };
        self.request(
            session,
            "textDocument/codeAction",
            Some(params),
            expect,
            "code action",
        )
        .map(drop)
    }

    fn reason(&mut self, session: &mut Session) -> Result<(), ()> {
        let (uri, index) = self.target(session)?;
        let range = self.range(session, index);
        let task = ["fix", "explain", "improve", "daydream"][self.rng.below(4)];
        let command = if self.rng.below(10) == 0 {
            "rill.nope"
        } else {
            "rill.reason"
        };
        let params = json!({
            "command": command,
            "arguments": [{ "uri": uri, "range": range, "task": task }]
        });
        // A chain may fail in several ways (still loading, a selection too long, a bad task).
        let id = self.request(
            session,
            "workspace/executeCommand",
            Some(params),
            Expect::Any,
            "reason",
        )?;
        if self.rng.below(2) == 0 {
            if let Some(pending) = session.pending.get_mut(&id) {
                pending.cancelled = true;
            }
            self.notify(
                session,
                "$/cancelRequest",
                Some(json!({ "id": id })),
                "cancel",
            )?;
        } else if self.rng.below(2) == 0 {
            let token = format!("rill/reason/{}", self.rng.below(20));
            self.notify(
                session,
                "window/workDoneProgress/cancel",
                Some(json!({ "token": token })),
                "cancel",
            )?;
        }
        Ok(())
    }

    fn mutated_request(&mut self, session: &mut Session) -> Result<(), ()> {
        let index = self.open_doc(session)?;
        let uri = session.docs[index].uri.clone();
        let position = self.position(session, index);
        let range = self.range(session, Some(index));
        let (method, params) = match self.rng.below(10) {
            0 => (
                "textDocument/inlineCompletion",
                json!({ "textDocument": { "uri": uri }, "position": position, "context": { "triggerKind": 1 } }),
            ),
            1 => (
                "textDocument/completion",
                json!({ "textDocument": { "uri": uri }, "position": position }),
            ),
            2 => (
                "textDocument/codeAction",
                json!({ "textDocument": { "uri": uri }, "range": range, "context": { "diagnostics": [] } }),
            ),
            3 => (
                "workspace/executeCommand",
                json!({ "command": "rill.reason", "arguments": [{ "uri": uri, "range": range, "task": "explain" }] }),
            ),
            4 => (
                "rill/documentText",
                json!({ "textDocument": { "uri": uri } }),
            ),
            5 => (
                "rill/diagnosticsStatus",
                json!({ "textDocument": { "uri": uri } }),
            ),
            6 => ("rill/cacheStatus", json!({ "verbose": true })),
            7 => (
                "textDocument/hover",
                json!({ "textDocument": { "uri": uri }, "position": position }),
            ),
            8 => (
                "rill/noSuchMethod",
                json!({ "textDocument": { "uri": uri } }),
            ),
            _ => {
                let params = mutate(&mut self.rng, session.server.profile().initialize_params());
                return self
                    .request(
                        session,
                        "initialize",
                        Some(params),
                        Expect::Error(INVALID_REQUEST),
                        "mutated request",
                    )
                    .map(drop);
            }
        };
        let expect = match method {
            // Unknown methods are -32601 whatever their params; tower-lsp parses the params of
            // the LSP methods it knows (hover) before answering that it does not implement them.
            "rill/noSuchMethod" => Expect::Error(METHOD_NOT_FOUND),
            _ => Expect::Any,
        };
        let params = mutate(&mut self.rng, params);
        self.request(session, method, Some(params), expect, "mutated request")
            .map(drop)
    }

    /// A notification with params that must be rejected whole (for the ones that change
    /// documents, so the mirror stays predictable) or that may do anything harmless.
    fn mutated_notification(&mut self, session: &mut Session) -> Result<(), ()> {
        let index = self.open_doc(session)?;
        let uri = session.docs[index].uri.clone();
        let version = session.docs[index].version;
        let r = &mut self.rng;
        let (method, params) = match r.below(10) {
            0 => {
                let mut params = json!({ "textDocument": { "uri": uri, "languageId": "python", "version": 1, "text": "x" } });
                match r.below(6) {
                    0 => params["textDocument"]["uri"] = json!(42),
                    1 => params["textDocument"]["text"] = json!(7),
                    2 => params["textDocument"]["version"] = json!("1"),
                    3 => {
                        params["textDocument"]
                            .as_object_mut()
                            .map(|map| map.remove("text"));
                    }
                    4 => {
                        params["textDocument"]
                            .as_object_mut()
                            .map(|map| map.remove("languageId"));
                    }
                    _ => params["textDocument"] = json!("x"),
                }
                ("textDocument/didOpen", params)
            }
            1 | 2 => {
                let change = json!({
                    "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } },
                    "text": "MUST NOT APPEAR"
                });
                let mut params = json!({ "textDocument": { "uri": uri, "version": version + 1 }, "contentChanges": [change] });
                match r.below(8) {
                    0 => params["textDocument"]["version"] = json!("2"),
                    1 => params["textDocument"]["version"] = json!(1.5),
                    2 => params["contentChanges"] = json!({}),
                    3 => params["contentChanges"][0]["text"] = json!(5),
                    4 => params["contentChanges"][0]["range"]["start"]["line"] = json!(-1),
                    5 => params["contentChanges"][0]["range"] = json!("x"),
                    6 => {
                        params
                            .as_object_mut()
                            .map(|map| map.remove("contentChanges"));
                    }
                    _ => {
                        params["textDocument"]
                            .as_object_mut()
                            .map(|map| map.remove("uri"));
                    }
                }
                ("textDocument/didChange", params)
            }
            3 => {
                let params = match r.below(3) {
                    0 => json!({ "textDocument": 5 }),
                    1 => json!({ "textDocument": {} }),
                    _ => json!({ "textDocument": { "uri": "::" } }),
                };
                ("textDocument/didClose", params)
            }
            4 => ("$/cancelRequest", mutate(r, json!({ "id": 1 }))),
            5 => ("initialized", mutate(r, json!({}))),
            6 => (
                "window/workDoneProgress/cancel",
                mutate(r, json!({ "token": "rill/reason/0" })),
            ),
            7 => (
                "textDocument/didSave",
                json!({ "textDocument": { "uri": uri } }),
            ),
            8 => ("$/setTrace", mutate(r, json!({ "value": "verbose" }))),
            _ => ("rill/noSuchNotification", junk(r)),
        };
        self.notify(session, method, Some(params), "mutated notification")
    }

    /// A malformed frame, and the error responses with a null id it should get.
    fn malformed(&mut self, session: &mut Session) -> Result<(), ()> {
        let (bytes, min, max): (Vec<u8>, usize, usize) = match self.rng.below(12) {
            0 => (frame(b"{\"jsonrpc\": \"2.0\", \"id\": "), 1, 1),
            1 => (frame(b"[1, 2, 3]"), 1, 1),
            2 => (
                frame(b"{\"jsonrpc\": \"1.0\", \"id\": 3, \"method\": \"rill/cacheStatus\"}"),
                1,
                1,
            ),
            3 => (frame(b"\xff\xfe{\"jsonrpc\": \"2.0\"}"), 1, 1),
            // A lone surrogate escape: serde_json rejects it, a parse error.
            4 => (
                frame(b"{\"jsonrpc\": \"2.0\", \"method\": \"x\", \"params\": \"\\ud800\"}"),
                1,
                1,
            ),
            5 => (
                b"this is not a header\r\nneither: is this\r\n\r\n".to_vec(),
                0,
                0,
            ),
            6 => (b"Content-Length: many\r\n\r\n".to_vec(), 0, 0),
            7 => (b"Content-Length: 99999999999\r\n\r\n".to_vec(), 0, 0),
            8 => (frame(b""), 1, 1),
            9 => (
                frame(b"{\"jsonrpc\": \"2.0\", \"id\": 123456789, \"result\": null}"),
                0,
                0,
            ),
            10 => (
                frame(b"[{\"jsonrpc\": \"2.0\", \"id\": 5, \"method\": \"rill/cacheStatus\"}]"),
                1,
                1,
            ),
            _ => {
                // A valid request, written in two pieces with LF-only headers.
                let id = self.id();
                let body =
                    json!({ "jsonrpc": "2.0", "id": id, "method": "rill/cacheStatus" }).to_string();
                let head = format!("content-length: {}\n\n", body.len());
                let expect = match session.phase {
                    Phase::BeforeInitialize => Expect::Error(SERVER_NOT_INITIALIZED),
                    Phase::Running => Expect::Result,
                    Phase::ShutDown => Expect::Error(INVALID_REQUEST),
                };
                session.pending.insert(
                    id,
                    Pending {
                        method: "rill/cacheStatus (split frame)".to_string(),
                        expect,
                        cancelled: false,
                    },
                );
                self.report.requests += 1;
                let split = body.len() / 2;
                let first = [head.as_bytes(), &body.as_bytes()[..split]].concat();
                self.report.messages += 1;
                self.count("malformed");
                let sent = session.server.try_send_raw_in_pieces(
                    &[&first, &body.as_bytes()[split..]],
                    Duration::from_millis(2),
                );
                if sent.is_err() {
                    self.crashed(session, "writing to the server failed");
                    return Err(());
                }
                return Ok(());
            }
        };
        session.null_min += min;
        session.null_max += max;
        self.send(session, &bytes, "malformed")
    }

    fn lifecycle(&mut self, session: &mut Session) -> Result<(), ()> {
        if self.rng.below(2) == 0 {
            let params = session.server.profile().initialize_params();
            self.request(
                session,
                "initialize",
                Some(params),
                Expect::Error(INVALID_REQUEST),
                "lifecycle",
            )
            .map(drop)
        } else {
            self.notify(session, "initialized", Some(json!({})), "lifecycle")
        }
    }

    /// An answer to a request the server never sent.
    fn client_response(&mut self, session: &mut Session) -> Result<(), ()> {
        let message = match self.rng.below(3) {
            0 => json!({ "jsonrpc": "2.0", "id": 987_654, "result": { "applied": true } }),
            1 => {
                json!({ "jsonrpc": "2.0", "id": "x", "error": { "code": -32601, "message": "no" } })
            }
            _ => json!({ "jsonrpc": "2.0", "id": 0, "result": [null, null] }),
        };
        self.send_json(session, &message, "client response")
    }

    /// Waits for every pending answer and checks it, then compares every open document's mirror.
    fn checkpoint(&mut self, session: &mut Session) -> Result<(), ()> {
        self.report.checkpoints += 1;
        self.await_answers(session)?;
        if session.phase == Phase::Running {
            let open: Vec<usize> = (0..session.docs.len())
                .filter(|&index| session.docs[index].open)
                .collect();
            for index in open {
                let doc = &session.docs[index];
                let expect = Expect::Mirror {
                    version: doc.version,
                    text: doc.model.text().to_string(),
                };
                let params = json!({ "textDocument": { "uri": doc.uri } });
                // Checks are not part of the campaign's message count.
                let id = self.id();
                let message = json!({ "jsonrpc": "2.0", "id": id, "method": "rill/documentText", "params": params });
                session.pending.insert(
                    id,
                    Pending {
                        method: "rill/documentText (checkpoint)".to_string(),
                        expect,
                        cancelled: false,
                    },
                );
                self.report.requests += 1;
                if session
                    .server
                    .try_send_raw(&frame(&serde_json::to_vec(&message).unwrap_or_default()))
                    .is_err()
                {
                    self.crashed(session, "writing to the server failed");
                    return Err(());
                }
            }
            self.await_answers(session)?;
        }
        self.note_rss(session);
        self.collect_log(session);
        let cleared = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            session.server.clear_log();
        }));
        session.nulls_seen = 0;
        if let Err(panic) = cleared {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            self.report
                .unexpected
                .push(format!("session {}: {message}", session.index));
        }
        if self.options.verbose || self.report.checkpoints.is_multiple_of(10) {
            eprintln!(
                "[fuzz] {:>7} messages, {:>5} requests, {} sessions, {:.0} s, RSS {} MB, peak {} MB, findings {}",
                self.report.messages,
                self.report.requests,
                self.report.sessions,
                self.started.elapsed().as_secs_f64(),
                session.server.rss_bytes().unwrap_or(0) >> 20,
                self.report.peak_rss_bytes >> 20,
                self.report.crashes.len()
                    + self.report.hangs.len()
                    + self.report.mirror_differences.len()
                    + self.report.panics.len()
                    + self.report.unexpected.len()
            );
        }
        Ok(())
    }

    /// Waits for the answers to every pending request and the expected null-id errors, and
    /// checks each against what it had to be.
    fn await_answers(&mut self, session: &mut Session) -> Result<(), ()> {
        let wanted: Vec<i64> = session.pending.keys().copied().collect();
        let null_min = session.null_min + session.nulls_seen;
        let found = session
            .server
            .try_wait_until(self.options.answer_timeout, |log| {
                let mut answers: HashMap<i64, Result<Value, RpcError>> = HashMap::new();
                let mut nulls = Vec::new();
                for message in log {
                    if let MessageKind::Response { id, outcome } = &message.kind {
                        match id.as_i64() {
                            Some(id) => {
                                answers.insert(id, outcome.clone());
                            }
                            None if id.is_null() => nulls.push(match outcome {
                                Ok(result) => format!("result {result}"),
                                Err(error) => error.to_string(),
                            }),
                            None => {}
                        }
                    }
                }
                (wanted.iter().all(|id| answers.contains_key(id)) && nulls.len() >= null_min)
                    .then_some((answers, nulls))
            });
        let (answers, nulls) = match found {
            Ok(found) => found,
            Err(WaitError::Closed) => {
                self.crashed(session, "the server closed its stdout");
                return Err(());
            }
            Err(WaitError::TimedOut) => {
                self.collect_log(session);
                diagnose_hang(session);
                let mut missing: Vec<String> = session
                    .pending
                    .iter()
                    .map(|(id, pending)| format!("{id} {}", pending.method))
                    .collect();
                missing.sort();
                missing.truncate(5);
                self.report.hangs.push(format!(
                    "session {} at message {}: no answer within {:?} to {} (and maybe others), or fewer than {null_min} null-id errors",
                    session.index,
                    self.report.messages,
                    self.options.answer_timeout,
                    missing.join(", ")
                ));
                return Err(());
            }
        };
        let nulls = nulls[session.nulls_seen.min(nulls.len())..].to_vec();
        session.nulls_seen += nulls.len();
        if nulls.len() > session.null_max {
            self.report.unexpected.push(format!(
                "session {}: {} error responses with a null id, at most {} expected: {}",
                session.index,
                nulls.len(),
                session.null_max,
                nulls.join("; ")
            ));
        }
        session.null_min = 0;
        session.null_max = 0;
        for (id, pending) in std::mem::take(&mut session.pending) {
            let Some(outcome) = answers.get(&id) else {
                continue;
            };
            self.report.answered += 1;
            self.judge(session, id, &pending, outcome);
        }
        Ok(())
    }

    fn judge(
        &mut self,
        session: &Session,
        id: i64,
        pending: &Pending,
        outcome: &Result<Value, RpcError>,
    ) {
        if let Ok(result) = outcome {
            let items = result.get("items").unwrap_or(result);
            if pending.method.ends_with("ompletion")
                && items.as_array().is_some_and(|items| !items.is_empty())
            {
                self.report.suggestions += 1;
            }
        }
        let cancelled_ok =
            pending.cancelled && matches!(outcome, Err(error) if error.code == REQUEST_CANCELLED);
        let ok = cancelled_ok
            || match (&pending.expect, outcome) {
                (Expect::Any, _) => true,
                (Expect::Result, Ok(_)) => true,
                (Expect::Error(code), Err(error)) => error.code == *code,
                (Expect::Mirror { version, text }, Ok(result)) => {
                    self.report.mirror_checks += 1;
                    let same = result["version"] == json!(version)
                        && result["text"].as_str() == Some(text.as_str());
                    if !same {
                        self.report.mirror_differences.push(format!(
                            "session {} request {id}: expected version {version} and {} bytes, got version {} and {} bytes; {}",
                            session.index,
                            text.len(),
                            result["version"],
                            result["text"].as_str().map_or(0, str::len),
                            first_difference(text, result["text"].as_str().unwrap_or_default())
                        ));
                    }
                    return;
                }
                _ => false,
            };
        if !ok {
            let got = match outcome {
                Ok(result) => {
                    let text = result.to_string();
                    format!("result {}", text.chars().take(120).collect::<String>())
                }
                Err(error) => format!("error {error}"),
            };
            self.report.unexpected.push(format!(
                "session {} ({:?}) request {id} {}: expected {:?}, got {got}",
                session.index,
                session.editor,
                pending.method,
                match &pending.expect {
                    Expect::Mirror { version, .. } => format!("mirror version {version}"),
                    other => format!("{other:?}"),
                }
            ));
        }
    }

    /// Ends the session in one of the ways an editor does, and checks the process ends.
    fn end_session(&mut self, session: &mut Session) {
        self.note_rss(session);
        let expected_code = match self.rng.below(10) {
            // `exit` without `shutdown`: exit code 1.
            0 => {
                let _ = self.notify(session, "exit", None, "lifecycle");
                Some(1)
            }
            // The editor crashed: its pipe closes.
            1 => {
                session.server.close_stdin();
                None
            }
            _ => {
                let params = [None, Some(json!({})), Some(Value::Null)][self.rng.below(3)].clone();
                if self
                    .request(session, "shutdown", params, Expect::Result, "lifecycle")
                    .is_err()
                {
                    return;
                }
                session.phase = Phase::ShutDown;
                // Whatever comes after `shutdown` is refused.
                for _ in 0..self.rng.below(4) {
                    let sent = match self.rng.below(3) {
                        0 => self
                            .request(
                                session,
                                "rill/cacheStatus",
                                None,
                                Expect::Error(INVALID_REQUEST),
                                "after shutdown",
                            )
                            .map(drop),
                        1 => self
                            .request(
                                session,
                                "shutdown",
                                None,
                                Expect::Error(INVALID_REQUEST),
                                "after shutdown",
                            )
                            .map(drop),
                        _ => self.malformed(session),
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                if self.await_answers(session).is_err() {
                    return;
                }
                let _ = self.notify(session, "exit", None, "lifecycle");
                Some(0)
            }
        };
        match session.server.wait_for_exit(Duration::from_secs(10)) {
            Some(status) => {
                if let Some(code) = expected_code {
                    if status.code() != Some(code) {
                        self.report.unexpected.push(format!(
                            "session {}: exit status {status}, expected code {code}",
                            session.index
                        ));
                    }
                } else if status.code().is_none() {
                    self.crashed(session, &format!("ended by {status} after its pipe closed"));
                }
            }
            None => self.report.hangs.push(format!(
                "session {}: the process did not exit within 10 s",
                session.index
            )),
        }
        self.collect_log(session);
    }
}

/// Prints what a hung server is doing to stderr: its last log lines, its CPU time and, with
/// `RILL_FUZZ_GDB=1`, every thread's stack (through gdb).
fn diagnose_hang(session: &Session) {
    let pid = session.server.pid();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    eprintln!(
        "[fuzz] hang in session {}: /proc/{pid}/stat: {stat}",
        session.index
    );
    for line in &session.log_tail {
        eprintln!("[fuzz]   log: {line}");
    }
    if std::env::var_os("RILL_FUZZ_GDB").is_some() {
        let output = std::process::Command::new("gdb")
            .args([
                "-p",
                &pid.to_string(),
                "-batch",
                "-ex",
                "thread apply all bt",
            ])
            .output();
        if let Ok(output) = output {
            eprintln!("{}", String::from_utf8_lossy(&output.stdout));
        }
    }
}

/// Where two texts first differ, with a little context.
fn first_difference(expected: &str, actual: &str) -> String {
    let offset = expected
        .bytes()
        .zip(actual.bytes())
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let around = |text: &str| {
        let mut start = offset.saturating_sub(20);
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = (offset + 20).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        format!("{:?}", text.get(start..end).unwrap_or_default())
    };
    format!(
        "first difference at byte {offset}: expected {} got {}",
        around(expected),
        around(actual)
    )
}
