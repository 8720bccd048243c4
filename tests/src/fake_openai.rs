//! A scripted stand-in for an OpenAI-compatible completion server, for end-to-end tests of the remote engine that need no model server: it streams fixed pieces, or dies or stalls mid-stream.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

/// What the server does with each `POST /v1/completions`.
#[derive(Debug, Clone)]
pub enum Script {
    /// Streams these pieces, `delay` apart, then ends the completion and sends `[DONE]`.
    Stream {
        pieces: Vec<String>,
        delay: Duration,
    },
    /// Streams these pieces, then closes the connection without ending the stream, as a
    /// server process that is killed mid-stream.
    DieAfter { pieces: Vec<String> },
    /// Streams these pieces, then sends nothing more while keeping the connection open.
    StallAfter { pieces: Vec<String> },
}

/// A running fake server on 127.0.0.1.
pub struct FakeOpenAi {
    pub port: u16,
    script: Arc<Mutex<Script>>,
    requests: Arc<AtomicUsize>,
    running: Arc<AtomicBool>,
}

impl FakeOpenAi {
    pub fn start(script: Script) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind a free port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let port = listener.local_addr().expect("the bound address").port();
        let script = Arc::new(Mutex::new(script));
        let requests = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(AtomicBool::new(true));
        {
            let (script, requests, running) = (script.clone(), requests.clone(), running.clone());
            thread::spawn(move || {
                while running.load(Ordering::Acquire) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let script = script
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .clone();
                            let requests = requests.clone();
                            thread::spawn(move || serve(stream, &script, &requests));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        Self {
            port,
            script,
            requests,
            running,
        }
    }

    /// The `engine.baseUrl` to configure.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Changes what later requests get.
    pub fn set_script(&self, script: Script) {
        *self.script.lock().unwrap_or_else(PoisonError::into_inner) = script;
    }

    /// Completion requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::Acquire)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Release);
    }
}

/// One server-sent event carrying `text`.
fn event(text: &str) -> String {
    format!(
        "data: {{\"choices\":[{{\"index\":0,\"text\":{},\"finish_reason\":null}}]}}\n\n",
        serde_json::Value::from(text)
    )
}

fn serve(mut stream: TcpStream, script: &Script, requests: &AtomicUsize) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // The head, then as much body as Content-Length says.
    let mut request = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
    }
    requests.fetch_add(1, Ordering::AcqRel);
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let send = |stream: &mut TcpStream, pieces: &[String], delay: Duration| -> bool {
        for piece in pieces {
            thread::sleep(delay);
            if stream.write_all(event(piece).as_bytes()).is_err() {
                return false;
            }
        }
        true
    };
    match script {
        Script::Stream { pieces, delay } => {
            if send(&mut stream, pieces, *delay) {
                let end = "data: {\"choices\":[{\"index\":0,\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
                let _ = stream.write_all(end.as_bytes());
            }
            let _ = stream.shutdown(Shutdown::Write);
            // Let the client read the end before the socket goes away.
            let _ = stream.read(&mut buffer);
        }
        Script::DieAfter { pieces } => {
            send(&mut stream, pieces, Duration::from_millis(20));
            let _ = stream.shutdown(Shutdown::Both);
        }
        Script::StallAfter { pieces } => {
            send(&mut stream, pieces, Duration::from_millis(20));
            thread::sleep(Duration::from_secs(60));
        }
    }
}
