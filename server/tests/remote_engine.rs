//! The remote engine against a fault-injecting HTTP server in the test: streamed text, cancellation that closes the connection, and every failure (refused, HTTP errors, garbage, stalls, slow answers) answered promptly, reported once and backed off.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rill_model::GenerationParams;
use rill_server::config::{Config, FimTemplate};
use rill_server::engine::{CancelToken, CompletionJob, EngineEvent, SubmitError};
use rill_server::remote::{RemoteEngine, RemoteNotice, RemoteSettings};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The remote timeout the tests configure: long enough for a loaded machine, short for stalls.
const TIMEOUT: Duration = Duration::from_millis(600);
/// How long any job may take to end in these tests (generous: two shared cores).
const JOB_LIMIT: Duration = Duration::from_secs(10);

/// What the fake server does with each request.
#[derive(Clone)]
enum Behaviour {
    /// 200 with these SSE `data:` payloads, each after `delay`, then `[DONE]`.
    Stream {
        pieces: Vec<String>,
        delay: Duration,
    },
    /// 200 with these pieces, then nothing more while the connection stays open.
    StallAfter(Vec<String>),
    /// 200 with these pieces, then the connection closes without the end of the stream, as when
    /// the server process is killed.
    DieAfter(Vec<String>),
    /// An error status with a body.
    Status(u16, String),
    /// 200 `text/event-stream` whose event is not JSON.
    Garbage,
    /// No answer at all for this long.
    SilentFor(Duration),
    /// Plain HTTP the moment a client connects, before it says anything (a TLS client's hello
    /// gets this instead of a server hello).
    PlainAtOnce,
}

/// One request as the fake server saw it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: Value,
    /// When the client closed the connection, if it did while the server was still sending.
    closed_early: Option<Instant>,
}

struct FakeServer {
    base_url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

impl FakeServer {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base_url = format!("http://{}", listener.local_addr().expect("address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(behaviour));
        let (task_seen, task_behaviour) = (seen.clone(), behaviour.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let current = task_behaviour.lock().unwrap().clone();
                tokio::spawn(serve(socket, current, task_seen.clone()));
            }
        });
        Self {
            base_url,
            seen,
            behaviour,
        }
    }

    fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request (head and `Content-Length` body), then answers as `behaviour` says.
async fn serve(mut socket: TcpStream, behaviour: Behaviour, seen: Arc<Mutex<Vec<Seen>>>) {
    if let Behaviour::PlainAtOnce = behaviour {
        let _ = socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
        let _ = socket.shutdown().await;
        return;
    }
    let mut buffer = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        let Ok(read) = socket.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    let body = serde_json::from_slice(&buffer[head_end..head_end + length]).unwrap_or(Value::Null);
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(Seen {
            head,
            body,
            closed_early: None,
        });
        seen.len() - 1
    };
    let (mut reader, mut writer) = socket.into_split();
    // The client closing its end shows up as the end of what it sends.
    let closed = tokio::spawn(async move {
        let mut rest = [0u8; 256];
        loop {
            match reader.read(&mut rest).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    });
    const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
    let event = |text: &str| {
        format!(
            "data: {{\"choices\":[{{\"index\":0,\"text\":{},\"finish_reason\":null}}]}}\n\n",
            serde_json::to_string(text).unwrap()
        )
    };
    match behaviour {
        Behaviour::Stream { pieces, delay } => {
            let _ = writer.write_all(SSE_HEAD.as_bytes()).await;
            for piece in &pieces {
                tokio::time::sleep(delay).await;
                if closed.is_finished() {
                    break;
                }
                let _ = writer.write_all(event(piece).as_bytes()).await;
            }
            if !closed.is_finished() {
                let end = "data: {\"choices\":[{\"text\":\"\",\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
                let _ = writer.write_all(end.as_bytes()).await;
                let _ = writer.shutdown().await;
                return;
            }
        }
        Behaviour::StallAfter(pieces) => {
            let _ = writer.write_all(SSE_HEAD.as_bytes()).await;
            for piece in &pieces {
                let _ = writer.write_all(event(piece).as_bytes()).await;
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Behaviour::DieAfter(pieces) => {
            let _ = writer.write_all(SSE_HEAD.as_bytes()).await;
            for piece in &pieces {
                let _ = writer.write_all(event(piece).as_bytes()).await;
            }
            let _ = writer.shutdown().await;
            return;
        }
        Behaviour::Status(status, body) => {
            let answer = format!(
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = writer.write_all(answer.as_bytes()).await;
            return;
        }
        Behaviour::Garbage => {
            let _ = writer.write_all(SSE_HEAD.as_bytes()).await;
            let _ = writer
                .write_all(b"data: <html>502 Bad Gateway</html>\n\n")
                .await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        Behaviour::SilentFor(duration) => tokio::time::sleep(duration).await,
        Behaviour::PlainAtOnce => {}
    }
    if let Ok(at) = tokio::time::timeout(Duration::from_secs(5), closed).await {
        seen.lock().unwrap()[index].closed_early = at.ok();
    }
}

fn settings(base_url: &str) -> RemoteSettings {
    let mut config = Config::default();
    config.apply(&serde_json::json!({
        "engine": {
            "backend": "openai",
            "baseUrl": base_url,
            "model": "test-model",
            "timeoutMs": TIMEOUT.as_millis() as u64,
            "fimTemplate": "none",
        }
    }));
    RemoteSettings::from_config(&config).expect("remote settings")
}

fn engine(base_url: &str) -> (Arc<RemoteEngine>, mpsc::UnboundedReceiver<RemoteNotice>) {
    let (notices, received) = mpsc::unbounded_channel();
    let engine = RemoteEngine::new(
        settings(base_url),
        notices,
        tokio::runtime::Handle::current(),
    )
    .expect("engine");
    (Arc::new(engine), received)
}

struct Job {
    cancel: CancelToken,
    events: mpsc::UnboundedReceiver<EngineEvent>,
}

fn job(text: &str) -> (CompletionJob, Job) {
    let cancel = CancelToken::new();
    let (events, received) = mpsc::unbounded_channel();
    (
        CompletionJob {
            sequence: rill_server::engine::SequenceKey::completion("file:///t.py"),
            text_before_cursor: text.to_string(),
            text_after_cursor: "\nprint(1)\n".to_string(),
            context_tokens: 1024,
            cross_file: Default::default(),
            raw_prompt: false,
            params: GenerationParams {
                max_tokens: 16,
                ..GenerationParams::default()
            },
            quality: Default::default(),
            cancel: cancel.clone(),
            events,
        },
        Job {
            cancel,
            events: received,
        },
    )
}

/// The job's text pieces and its one last event; checks nothing follows the last event.
async fn finish(job: &mut Job) -> (Vec<String>, EngineEvent) {
    let mut texts = Vec::new();
    let last = tokio::time::timeout(JOB_LIMIT, async {
        loop {
            match job.events.recv().await.expect("a last event") {
                EngineEvent::Text(text) => texts.push(text),
                last => return last,
            }
        }
    })
    .await
    .expect("the job ends in time");
    // The engine drops its sender after the last event: nothing else may come.
    let after = tokio::time::timeout(JOB_LIMIT, job.events.recv())
        .await
        .expect("the channel closes");
    assert_eq!(after, None, "an event after the last one");
    (texts, last)
}

async fn error_of(engine: &Arc<RemoteEngine>) -> (String, Duration) {
    let started = Instant::now();
    let (completion, mut handle) = job("def f():\n    ");
    engine.submit(completion).expect("submitted");
    match finish(&mut handle).await {
        (_, EngineEvent::Error(message)) => (message, started.elapsed()),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_text_arrives_in_pieces_with_the_request_a_server_expects() {
    let pieces: Vec<String> = ["return", " x", " +", " 1", "\n"]
        .map(String::from)
        .to_vec();
    let server = FakeServer::start(Behaviour::Stream {
        pieces: pieces.clone(),
        delay: Duration::from_millis(20),
    })
    .await;
    let variable = "RILL_REMOTE_ENGINE_TEST_KEY";
    std::env::set_var(variable, "secret-key-123");
    let (notices, _received) = mpsc::unbounded_channel();
    let mut with_key = settings(&server.base_url);
    with_key.api_key_env = Some(variable.to_string());
    assert!(
        !format!("{with_key:?}").contains("secret-key-123"),
        "Debug shows the key"
    );
    let engine = Arc::new(
        RemoteEngine::new(with_key, notices, tokio::runtime::Handle::current()).expect("engine"),
    );
    let (completion, mut handle) = job("def f(x):\n    ");
    engine.submit(completion).expect("submitted");
    let (texts, last) = finish(&mut handle).await;
    assert_eq!(texts, pieces, "every piece arrives on its own, in order");
    let EngineEvent::Done(stats) = last else {
        panic!("expected done, got {last:?}");
    };
    assert!(!stats.cancelled);
    assert_eq!(stats.generated_tokens, pieces.len());

    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert!(
        request.head.starts_with("POST /v1/completions HTTP/1.1"),
        "{}",
        request.head
    );
    assert!(request
        .head
        .to_ascii_lowercase()
        .contains("authorization: bearer secret-key-123"));
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["model"], "test-model");
    assert_eq!(request.body["max_tokens"], 16);
    // `fimTemplate: none`: the prompt is the text before the cursor, without the suffix.
    assert_eq!(request.body["prompt"], "def f(x):\n    ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fim_templates_put_the_suffix_in_the_prompt() {
    let server = FakeServer::start(Behaviour::Stream {
        pieces: vec!["x".to_string()],
        delay: Duration::ZERO,
    })
    .await;
    let (notices, _received) = mpsc::unbounded_channel();
    let mut qwen = settings(&server.base_url);
    qwen.fim_template = FimTemplate::Qwen;
    let engine = Arc::new(
        RemoteEngine::new(qwen, notices, tokio::runtime::Handle::current()).expect("engine"),
    );
    let (completion, mut handle) = job("def f():\n    ");
    engine.submit(completion).expect("submitted");
    finish(&mut handle).await;
    assert_eq!(
        server.seen()[0].body["prompt"],
        "<|fim_prefix|>def f():\n    <|fim_suffix|>\nprint(1)\n<|fim_middle|>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_closes_the_connection_while_the_server_streams() {
    let server = FakeServer::start(Behaviour::Stream {
        pieces: (0..200).map(|i| format!(" t{i}")).collect(),
        delay: Duration::from_millis(20),
    })
    .await;
    let (engine, mut notices) = engine(&server.base_url);
    let (completion, mut handle) = job("x = ");
    engine.submit(completion).expect("submitted");
    let first = tokio::time::timeout(JOB_LIMIT, handle.events.recv())
        .await
        .expect("a first piece in time");
    assert!(matches!(first, Some(EngineEvent::Text(_))), "{first:?}");
    let cancelled_at = Instant::now();
    handle.cancel.cancel();
    let (_, last) = finish(&mut handle).await;
    assert!(
        matches!(&last, EngineEvent::Done(stats) if stats.cancelled),
        "{last:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let closed = loop {
        if let Some(closed) = server.seen()[0].closed_early {
            break closed;
        }
        assert!(
            Instant::now() < deadline,
            "the server never saw the connection close"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let latency = closed.saturating_duration_since(cancelled_at);
    eprintln!("connection closed {latency:?} after the cancel");
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert!(
        notices.try_recv().is_err(),
        "a cancellation is not a failure"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_500_is_reported_once_then_backed_off_until_a_success_clears_it() {
    let server = FakeServer::start(Behaviour::Status(
        500,
        r#"{"error":{"message":"CUDA out of memory","type":"InternalServerError"}}"#.to_string(),
    ))
    .await;
    let (engine, mut notices) = engine(&server.base_url);
    let (message, took) = error_of(&engine).await;
    assert!(
        message.contains("HTTP 500") && message.contains("CUDA out of memory"),
        "{message}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(matches!(notices.try_recv(), Ok(RemoteNotice::Failed(m)) if m == message));

    // During the backoff, requests are refused at once without reaching the server.
    let (completion, _handle) = job("def g():\n    ");
    match engine.submit(completion) {
        Err(SubmitError::Unavailable(reason)) => {
            assert!(reason.contains("retrying in"), "{reason}")
        }
        other => panic!("expected a refusal during the backoff, got {other:?}"),
    }
    assert_eq!(server.seen().len(), 1);

    // After the first wait (1 s) the retry fails again: no second notice, a longer wait.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    error_of(&engine).await;
    assert!(notices.try_recv().is_err(), "one notice per episode");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (completion, _handle) = job("x");
    assert!(
        matches!(engine.submit(completion), Err(SubmitError::Unavailable(_))),
        "the second wait is 2 s"
    );

    // The server recovers: the next allowed request succeeds and ends the episode.
    server.set(Behaviour::Stream {
        pieces: vec!["ok".to_string()],
        delay: Duration::ZERO,
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (completion, mut handle) = job("def h():\n    ");
    engine.submit(completion).expect("the wait is over");
    let (texts, _) = finish(&mut handle).await;
    assert_eq!(texts, ["ok"]);
    assert_eq!(notices.try_recv(), Ok(RemoteNotice::Recovered));
    let (completion, mut handle) = job("def i():\n    ");
    engine
        .submit(completion)
        .expect("no backoff after a success");
    finish(&mut handle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_fails_fast_and_names_the_url() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let (engine, mut notices) = engine(&format!("http://127.0.0.1:{port}"));
    let (message, took) = error_of(&engine).await;
    assert!(
        message.contains("cannot connect") && message.contains(&format!("127.0.0.1:{port}")),
        "{message}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(matches!(notices.try_recv(), Ok(RemoteNotice::Failed(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_answer_points_at_the_key_variable() {
    let server = FakeServer::start(Behaviour::Status(
        401,
        r#"{"error":{"message":"Invalid API key"}}"#.to_string(),
    ))
    .await;
    let (engine, _notices) = engine(&server.base_url);
    let (message, _) = error_of(&engine).await;
    assert!(
        message.contains("HTTP 401") && message.contains("engine.apiKeyEnv"),
        "{message}"
    );
    assert!(
        !server.seen()[0]
            .head
            .to_ascii_lowercase()
            .contains("authorization"),
        "no key configured, no header"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_events_fail_the_job_with_what_was_sent() {
    let server = FakeServer::start(Behaviour::Garbage).await;
    let (engine, mut notices) = engine(&server.base_url);
    let (message, took) = error_of(&engine).await;
    assert!(
        message.contains("cannot read") && message.contains("502 Bad Gateway"),
        "{message}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(matches!(notices.try_recv(), Ok(RemoteNotice::Failed(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_stalls_times_out_instead_of_hanging() {
    let server = FakeServer::start(Behaviour::StallAfter(vec!["def".to_string()])).await;
    let (engine, _notices) = engine(&server.base_url);
    let started = Instant::now();
    let (completion, mut handle) = job("x");
    engine.submit(completion).expect("submitted");
    let (texts, last) = finish(&mut handle).await;
    let took = started.elapsed();
    assert_eq!(texts, ["def"]);
    let EngineEvent::Error(message) = last else {
        panic!("expected an error, got {last:?}");
    };
    assert!(message.contains("sent nothing for 600 ms"), "{message}");
    assert!(took >= TIMEOUT && took < TIMEOUT * 4, "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_stream_fails_the_job_at_once_after_its_text() {
    let server = FakeServer::start(Behaviour::DieAfter(vec![
        "def".to_string(),
        " f".to_string(),
    ]))
    .await;
    let (engine, mut notices) = engine(&server.base_url);
    let started = Instant::now();
    let (completion, mut handle) = job("x");
    engine.submit(completion).expect("submitted");
    let (texts, last) = finish(&mut handle).await;
    let took = started.elapsed();
    assert_eq!(texts, ["def", " f"]);
    let EngineEvent::Error(message) = last else {
        panic!("expected an error, got {last:?}");
    };
    assert!(message.contains("ended before"), "{message}");
    assert!(took < TIMEOUT, "not waiting for a timeout: {took:?}");
    assert!(matches!(notices.try_recv(), Ok(RemoteNotice::Failed(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_does_not_answer_times_out() {
    let server = FakeServer::start(Behaviour::SilentFor(Duration::from_secs(30))).await;
    let (engine, _notices) = engine(&server.base_url);
    let (message, took) = error_of(&engine).await;
    assert!(
        message.contains("did not answer within 600 ms"),
        "{message}"
    );
    assert!(took >= TIMEOUT && took < TIMEOUT * 4, "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_answers_at_once_but_still_finds_a_hung_server() {
    let server = FakeServer::start(Behaviour::SilentFor(Duration::from_secs(30))).await;
    let (engine, mut notices) = engine(&server.base_url);
    let (completion, mut handle) = job("x");
    engine.submit(completion).expect("submitted");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cancelled_at = Instant::now();
    handle.cancel.cancel();
    let last = tokio::time::timeout(JOB_LIMIT, handle.events.recv())
        .await
        .expect("the last event in time");
    let latency = cancelled_at.elapsed();
    assert!(
        matches!(&last, Some(EngineEvent::Done(stats)) if stats.cancelled),
        "{last:?}"
    );
    assert!(latency < Duration::from_millis(300), "{latency:?}");
    // The answer the server never gives is still noticed, once the timeout passes, and the job
    // sends nothing more.
    let notice = tokio::time::timeout(JOB_LIMIT, notices.recv())
        .await
        .expect("a notice in time");
    assert!(
        matches!(&notice, Some(RemoteNotice::Failed(m)) if m.contains("did not answer")),
        "{notice:?}"
    );
    assert!(
        cancelled_at.elapsed() >= TIMEOUT / 2,
        "{:?}",
        cancelled_at.elapsed()
    );
    assert_eq!(handle.events.recv().await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_url_to_a_plain_http_server_is_a_tls_error() {
    let server = FakeServer::start(Behaviour::PlainAtOnce).await;
    let https = server.base_url.replace("http://", "https://");
    let (engine, _notices) = engine(&https);
    let (message, took) = error_of(&engine).await;
    assert!(message.starts_with("TLS with https://"), "{message}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}
