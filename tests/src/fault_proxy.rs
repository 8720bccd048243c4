//! A fault-injecting TCP proxy in front of an HTTP server: it forwards bytes as they are (optionally slowed down), or answers in the upstream's place with an HTTP 500 or garbage events, or stops listening altogether; and it records when a client closed a connection before the upstream's stream ended.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy does with new connections.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Forward both ways, each upstream read delayed by this much (zero: as fast as it comes).
    Pass { delay: Duration },
    /// Answer every request with HTTP 500 and an OpenAI-style JSON error.
    Status500,
    /// Answer every request with 200 `text/event-stream` whose event is not JSON.
    GarbageEvents,
}

/// What happened on one proxied connection.
#[derive(Debug, Clone, Default)]
pub struct ConnectionRecord {
    /// Completion requests seen on it.
    pub requests: usize,
    /// `data:` events forwarded from upstream.
    pub events: usize,
    /// When upstream's `data: [DONE]` passed through (the stream ended normally).
    pub done_at: Option<Instant>,
    /// When the client closed its side of the connection.
    pub client_closed_at: Option<Instant>,
}

impl ConnectionRecord {
    /// Whether the client closed the connection while a stream on it was still running.
    pub fn closed_mid_stream(&self) -> bool {
        self.client_closed_at.is_some() && self.done_at.is_none() && self.events > 0
    }
}

struct Shared {
    fault: Mutex<Fault>,
    connections: Mutex<Vec<ConnectionRecord>>,
}

/// A running proxy on 127.0.0.1 in front of `upstream_port`.
pub struct FaultProxy {
    pub port: u16,
    upstream_port: u16,
    shared: Arc<Shared>,
    listening: Option<Arc<AtomicBool>>,
}

impl FaultProxy {
    /// Starts forwarding from a free port to `upstream_port`.
    pub fn start(upstream_port: u16) -> Self {
        let port = crate::llama_server::free_port();
        let mut proxy = Self {
            port,
            upstream_port,
            shared: Arc::new(Shared {
                fault: Mutex::new(Fault::Pass {
                    delay: Duration::ZERO,
                }),
                connections: Mutex::new(Vec::new()),
            }),
            listening: None,
        };
        proxy.resume();
        proxy
    }

    /// The URL clients use.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_fault(&self, fault: Fault) {
        *self
            .shared
            .fault
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fault;
    }

    /// Every connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops listening: new connections are refused, as by a server that is down. Open
    /// connections are left alone.
    pub fn stop(&mut self) {
        if let Some(flag) = self.listening.take() {
            flag.store(false, Ordering::Release);
            // The accept loop polls the flag; wait until it has dropped the listener.
            let deadline = Instant::now() + Duration::from_secs(2);
            while TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                assert!(Instant::now() < deadline, "the proxy keeps listening");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// Listens again on the same port.
    pub fn resume(&mut self) {
        if self.listening.is_some() {
            return;
        }
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .unwrap_or_else(|err| panic!("cannot listen on port {}: {err}", self.port));
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let flag = Arc::new(AtomicBool::new(true));
        let (listening, shared, upstream) = (flag.clone(), self.shared.clone(), self.upstream_port);
        thread::spawn(move || {
            while listening.load(Ordering::Acquire) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let shared = shared.clone();
                        thread::spawn(move || handle(client, upstream, &shared));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        self.listening = Some(flag);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(flag) = self.listening.take() {
            flag.store(false, Ordering::Release);
        }
    }
}

fn handle(client: TcpStream, upstream_port: u16, shared: &Arc<Shared>) {
    let _ = client.set_nonblocking(false);
    let index = {
        let mut connections = shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.push(ConnectionRecord::default());
        connections.len() - 1
    };
    let record = |update: &dyn Fn(&mut ConnectionRecord)| {
        let mut connections = shared
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        update(&mut connections[index]);
    };
    let fault = shared
        .fault
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let delay = match fault {
        Fault::Pass { delay } => delay,
        Fault::Status500 | Fault::GarbageEvents => {
            answer_in_place(client, &fault);
            record(&|connection| connection.requests += 1);
            return;
        }
    };
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(mut client_reader), Ok(mut upstream_writer)) =
        (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    // Client to upstream: count requests, note when the client closes.
    let shared_up = shared.clone();
    let forward_up = thread::spawn(move || {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            match client_reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => {
                    let requests = count(&buffer[..read], b"POST /v1/completions");
                    if requests > 0 {
                        shared_up
                            .connections
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)[index]
                            .requests += requests;
                    }
                    if upstream_writer.write_all(&buffer[..read]).is_err() {
                        break;
                    }
                }
            }
        }
        shared_up
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)[index]
            .client_closed_at = Some(Instant::now());
        let _ = upstream_writer.shutdown(Shutdown::Both);
    });
    // Upstream to client: count events and see the end of the stream, slowed down on request.
    let (mut upstream_reader, mut client_writer) = (upstream, client);
    let mut buffer = [0u8; 16 * 1024];
    let mut tail: Vec<u8> = Vec::new();
    loop {
        match upstream_reader.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if !delay.is_zero() {
                    thread::sleep(delay);
                }
                // Keep a few bytes of the previous read so a marker split across reads is seen.
                let mut seen = std::mem::take(&mut tail);
                let overlap = seen.len();
                seen.extend_from_slice(&buffer[..read]);
                let events = count(&seen, b"data: {") - count(&seen[..overlap], b"data: {");
                let done = count(&seen, b"data: [DONE]") > count(&seen[..overlap], b"data: [DONE]");
                tail = seen[seen.len().saturating_sub(16)..].to_vec();
                if client_writer.write_all(&buffer[..read]).is_err() {
                    break;
                }
                record(&|connection| {
                    connection.events += events;
                    if done {
                        connection.done_at = Some(Instant::now());
                    }
                });
            }
        }
    }
    let _ = client_writer.shutdown(Shutdown::Both);
    let _ = forward_up.join();
}

/// Reads the request and answers it without asking upstream.
fn answer_in_place(mut client: TcpStream, fault: &Fault) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    // The head, then as much body as Content-Length says.
    loop {
        let Ok(read) = client.read(&mut buffer) else {
            return;
        };
        if read == 0 {
            return;
        }
        request.extend_from_slice(&buffer[..read]);
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
    let answer = match fault {
        Fault::Status500 => {
            let body = r#"{"error":{"message":"injected failure","type":"internal_server_error"}}"#;
            format!(
                "HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        _ => "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {\"choices\": [garbage\n\n".to_string(),
    };
    let _ = client.write_all(answer.as_bytes());
    let _ = client.shutdown(Shutdown::Write);
    // Let the client read the answer before the socket goes away.
    let _ = client.read(&mut buffer);
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}
