//! llama.cpp's OpenAI-compatible server (`python -m llama_cpp.server` from the llama-cpp-python venv) serving the default model on 127.0.0.1, for the remote-engine tests and benchmarks.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Set (to anything but `0`) where llama.cpp must be available, as in CI: a missing venv then
/// fails the test instead of skipping it.
pub const REQUIRE_VAR: &str = "RILL_REQUIRE_LLAMA_CPP";

/// How long the server may take to load the model and answer.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A running `llama_cpp.server`, stopped when dropped.
pub struct LlamaServer {
    child: Child,
    pub port: u16,
    pub base_url: String,
    log: Arc<Mutex<String>>,
}

/// The venv's Python when llama-cpp-python and its server extra are importable; otherwise
/// `None` after printing why (or a panic when [`REQUIRE_VAR`] is set).
pub fn python_with_server() -> Option<PathBuf> {
    let venv = std::env::var_os("RILL_LLAMA_CPP_VENV")
        .map(PathBuf::from)
        .or_else(|| Some(cache_dir()?.join("rill/llama-cpp-venv")))?;
    let python = venv.join("bin/python");
    let importable = python.is_file()
        && Command::new(&python)
            .args(["-c", "import llama_cpp.server.app, uvicorn"])
            .output()
            .is_ok_and(|output| output.status.success());
    if importable {
        return Some(python);
    }
    let message = format!(
        "llama-cpp-python with its server extra is not importable from {}; build it with scripts/install-llama-cpp.sh",
        python.display()
    );
    if std::env::var(REQUIRE_VAR).is_ok_and(|value| value != "0") {
        panic!("{message} ({REQUIRE_VAR} is set, so this test may not skip)");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// The default model: `RILL_MODEL`, else the cache location `scripts/fetch-model.py` uses.
pub fn default_model() -> PathBuf {
    if let Some(path) = std::env::var_os("RILL_MODEL") {
        return PathBuf::from(path);
    }
    cache_dir()
        .expect("HOME or XDG_CACHE_HOME is set")
        .join("rill/models/gemma-3-270m-q4_k_m.gguf")
}

fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free local port")
}

impl LlamaServer {
    /// Starts the server on a free port with a 2048-token context and waits until it answers
    /// `GET /v1/models`; `None` when llama-cpp-python is not installed (see [`python_with_server`]).
    pub fn start(threads: usize) -> Option<Self> {
        let python = python_with_server()?;
        let model = default_model();
        assert!(
            model.is_file(),
            "no model at {}; run scripts/fetch-model.py",
            model.display()
        );
        let port = free_port();
        let mut child = Command::new(&python)
            .args(["-m", "llama_cpp.server", "--model"])
            .arg(&model)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--n_ctx", "2048", "--n_threads", &threads.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start llama_cpp.server: {err}"));
        let log = Arc::new(Mutex::new(String::new()));
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let log = log.clone();
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let mut server = Self {
            child,
            port,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_until_answering();
        Some(server)
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "llama_cpp.server exited ({status}) before answering:\n{}",
                    self.log()
                );
            }
            if http_get_status(self.port, "/v1/models") == Some(200) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "llama_cpp.server did not answer within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A greedy streamed completion of `prompt` straight from the server: the text pieces, with
    /// the time each arrived after the request was sent.
    pub fn complete(&self, prompt: &str, max_tokens: usize) -> Vec<(Duration, String)> {
        let body = serde_json::json!({
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "top_p": 1.0,
            "stream": true,
        })
        .to_string();
        let started = Instant::now();
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            stream,
            "POST /v1/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("send the request");
        let mut reader = BufReader::new(stream);
        let mut pieces = Vec::new();
        let mut line = String::new();
        // Reading line by line works whether or not the body is chunked: chunk-size lines are
        // not `data:` lines, and the server writes each event within one chunk.
        while reader.read_line(&mut line).is_ok_and(|read| read > 0) {
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                if data == "[DONE]" {
                    break;
                }
                let event: Value = serde_json::from_str(data)
                    .unwrap_or_else(|err| panic!("not JSON ({err}): {data}"));
                if let Some(text) = event["choices"][0]["text"].as_str() {
                    if !text.is_empty() {
                        pieces.push((started.elapsed(), text.to_string()));
                    }
                }
            }
            line.clear();
        }
        pieces
    }
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("===== llama_cpp.server log =====\n{}", self.log());
        }
        // Only our own child is stopped.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The status code of `GET path` on 127.0.0.1:port, or `None` when nothing answers.
fn http_get_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"
    )
    .ok()?;
    let mut status_line = String::new();
    BufReader::new(stream).read_line(&mut status_line).ok()?;
    status_line.split_whitespace().nth(1)?.parse().ok()
}
