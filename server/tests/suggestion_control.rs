//! Suggestion figures and per-file control over the whole LSP side, in process: `rill/stats` after a scripted session of shown, accepted, partly accepted and dismissed suggestions (and kept across restarts), `completion.exclude` and `completion.languages`, and an excluded file's text never reaching the remote engine.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rill_e2e::{Profile, DEFAULT_TIMEOUT};
use rill_server::engine::fake::{Script, SeenKind};
use serde_json::{json, Value};

const MAIN_URI: &str = "file:///project/app/main.py";
const MAIN_PY: &str = "def area(width, height):\n    return ";
/// What the fake writes there: 14 UTF-16 code units.
const MAIN_BODY: &str = "width * height";

fn script() -> Script {
    Script::default().when_ends_with(MAIN_PY, MAIN_BODY)
}

/// An inline completion at the end of `uri` (one line of `MAIN_PY`'s shape); its id and items.
fn complete(server: &rill_e2e::Server, uri: &str) -> (i64, Vec<Value>) {
    let id = server.inline_completion(uri, 1, 11);
    let items = server.reply(id, DEFAULT_TIMEOUT).inline_items();
    (id, items)
}

fn stats(server: &rill_e2e::Server) -> Value {
    let id = server.request("rill/stats", Value::Null);
    server
        .response(id, DEFAULT_TIMEOUT)
        .expect("rill/stats answers")
}

fn show(server: &rill_e2e::Server, id: i64) {
    server.notify("rill/didShowCompletion", json!({ "requestId": id }));
}

fn accept(server: &rill_e2e::Server, id: i64, length: u64) {
    server.notify(
        "rill/didAcceptCompletion",
        json!({ "requestId": id, "acceptedLength": length }),
    );
}

/// Changes the document so the next request is a new one (not the suggestion cache's).
fn retype(server: &rill_e2e::Server, uri: &str, version: i32) {
    // The same text again: a new version, so the suggestion cache answers only by its text.
    server.change(uri, version, vec![json!({ "text": MAIN_PY })]);
}

#[test]
fn stats_count_a_scripted_session_of_accepts_partial_accepts_and_dismissals() {
    let mut server = support::start(Profile::vscode(), script());
    server.open(MAIN_URI, "python", MAIN_PY);

    // 1: shown, accepted a word (5 units), then the rest: one full accept of 14 units.
    let (first, items) = complete(&server, MAIN_URI);
    assert_eq!(items[0]["insertText"], MAIN_BODY);
    // VS Code learns the request's id from the item (it cannot see JSON-RPC ids).
    assert_eq!(
        items[0]["command"],
        json!({
            "title": "rill: accepted",
            "command": "rill.didAcceptCompletion",
            "arguments": [{ "requestId": first, "length": 14 }]
        })
    );
    show(&server, first);
    show(&server, first);
    accept(&server, first, 5);
    accept(&server, first, 14);
    // A stale smaller report changes nothing.
    accept(&server, first, 3);

    // 2: shown, one word accepted, never the rest.
    retype(&server, MAIN_URI, 2);
    let (second, _) = complete(&server, MAIN_URI);
    show(&server, second);
    accept(&server, second, 6);

    // 3: shown, dismissed (no accept).
    retype(&server, MAIN_URI, 3);
    let (third, _) = complete(&server, MAIN_URI);
    show(&server, third);

    // Reports for requests the server never answered are ignored.
    accept(&server, 999_999, 10);
    show(&server, 999_998);

    let figures = stats(&server);
    let expected = json!({
        "shown": 3, "accepted": 1, "partiallyAccepted": 1, "acceptedChars": 20,
        "acceptanceRate": 2.0 / 3.0
    });
    assert_eq!(figures["overall"], expected, "{figures}");
    assert_eq!(figures["byLanguage"]["python"], expected, "{figures}");
    let by_source = figures["bySource"].as_object().unwrap();
    let shown: u64 = by_source
        .values()
        .map(|f| f["shown"].as_u64().unwrap())
        .sum();
    assert_eq!(shown, 3, "{figures}");
    assert_eq!(figures["latencyMs"]["samples"], 3, "{figures}");
    assert!(figures["latencyMs"]["p50"].as_f64().unwrap() >= 0.0);
    // The in-process server was given no file: nothing persists.
    assert_eq!(figures["persisted"], false);
    assert_eq!(server.backend_starts(), 1);
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn stats_persist_across_restarts_and_a_corrupt_file_starts_from_zero() {
    let directory = std::env::temp_dir().join(format!("rill-stats-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    let path = directory.join("rill").join("stats.json");
    let options = || support::Options {
        stats_path: Some(path.clone()),
        ..support::Options::default()
    };
    let start = || {
        let server = support::spawn_with(Profile::vscode(), script(), options());
        server.initialize();
        server.wait_until_ready();
        server
    };
    let mut server = start();
    server.open(MAIN_URI, "python", MAIN_PY);
    let (id, _) = complete(&server, MAIN_URI);
    show(&server, id);
    accept(&server, id, 14);
    assert_eq!(stats(&server)["persisted"], true);
    support::eventually("the figures on disk", Duration::from_secs(10), || {
        let text = std::fs::read_to_string(&path).ok()?;
        let saved: Value = serde_json::from_str(&text).ok()?;
        (saved["overall"]["accepted"] == 1).then_some(())
    });
    assert_eq!(server.shutdown_and_exit().code(), Some(0));

    let mut server = start();
    let figures = stats(&server);
    assert_eq!(figures["overall"]["accepted"], 1, "{figures}");
    assert_eq!(figures["overall"]["shown"], 1, "{figures}");
    // Latency is since start.
    assert_eq!(figures["latencyMs"]["samples"], 0, "{figures}");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));

    std::fs::write(&path, "{ not json").unwrap();
    let mut server = start();
    assert_eq!(stats(&server)["overall"]["shown"], 0);
    // `stats.persist: false` stops writing (VS Code pulls the settings on a change).
    let settings = json!({ "rill": { "stats": { "persist": false } } });
    server.set_settings(settings.clone());
    server.notify(
        "workspace/didChangeConfiguration",
        json!({ "settings": settings }),
    );
    support::eventually("persistence off", DEFAULT_TIMEOUT, || {
        (stats(&server)["persisted"] == false).then_some(())
    });
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn excluded_files_and_switched_off_languages_get_nothing() {
    let settings = json!({
        "completion": { "exclude": ["**/.env", "**/secrets/**"], "languages": { "markdown": false } },
        "nextEdit": { "debounceMs": 50 },
        "diagnostics": { "debounceMs": 50 }
    });
    let mut server = support::start(
        Profile::vscode().with_initialization_options(settings),
        script(),
    );
    let secret = "file:///project/app/secrets/keys.py";
    let notes = "file:///project/README.md";
    server.open(secret, "python", MAIN_PY);
    server.open(notes, "markdown", MAIN_PY);
    server.open(MAIN_URI, "python", MAIN_PY);
    assert!(complete(&server, secret).1.is_empty());
    assert!(complete(&server, notes).1.is_empty());
    assert_eq!(complete(&server, MAIN_URI).1[0]["insertText"], MAIN_BODY);
    // An edit in each: no next edit is looked for, no diagnostics scan starts in the excluded one.
    for (uri, version) in [(secret, 2), (notes, 2)] {
        server.change(
            uri,
            version,
            vec![json!({ "text": "total = 1\nprint(total)\n" })],
        );
    }
    std::thread::sleep(Duration::from_millis(400));
    let jobs = server.fake.jobs();
    let touched = |uri: &str| jobs.iter().filter(|job| job.document == uri).count();
    assert_eq!(touched(secret), 0, "{jobs:?}");
    // A switched-off language keeps its diagnostics (their own switch), and nothing else.
    assert!(jobs
        .iter()
        .filter(|job| job.document == notes)
        .all(|job| job.kind == SeenKind::Diagnose));
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// A stand-in for an OpenAI-compatible server: records every request body, answers each with
/// one streamed piece.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = bodies.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let event = json!({ "choices": [{ "text": "width * height", "index": 0, "finish_reason": "stop" }] });
            let payload = format!("data: {event}\n\ndata: [DONE]\n\n");
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{payload}",
                payload.len()
            );
        }
    });
    (url, bodies)
}

#[test]
fn an_excluded_files_text_never_reaches_the_remote_engine() {
    let (url, bodies) = recording_server();
    let settings = json!({
        "engine": { "backend": "openai", "baseUrl": url, "timeoutMs": 5000 },
        "completion": { "exclude": ["**/.env"] },
        "context": { "crossFile": true }
    });
    let options = support::Options {
        starter: Some(rill_server::backends::from_settings()),
        ..support::Options::default()
    };
    let mut server = support::spawn_with(
        Profile::vscode().with_initialization_options(settings),
        Script::default(),
        options,
    );
    server.initialize();
    server.wait_until_ready();
    let secret = "file:///project/.env";
    server.open(
        secret,
        "dotenv",
        "API_TOKEN=hunter2-very-secret\ndef area(width, height):\n    return ",
    );
    assert!(complete(&server, secret).1.is_empty());
    // Another file's prompt, with cross-file context on, shows none of it either.
    server.open(MAIN_URI, "python", MAIN_PY);
    let (_, items) = complete(&server, MAIN_URI);
    assert_eq!(items[0]["insertText"], MAIN_BODY);
    let bodies = bodies.lock().unwrap().clone();
    assert!(
        !bodies.is_empty(),
        "the remote engine was asked for main.py"
    );
    assert!(
        bodies.iter().all(|body| !body.contains("hunter2")),
        "{bodies:?}"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

#[test]
fn reports_that_come_before_the_answer_count_once_it_is_noted() {
    // A streaming client draws the first partial, and reports it shown, before the response.
    let slow = Script {
        first_delay: Duration::from_millis(300),
        ..script()
    };
    let mut server = support::start(Profile::vscode(), slow);
    server.open(MAIN_URI, "python", MAIN_PY);
    let id = server.inline_completion(MAIN_URI, 1, 11);
    show(&server, id);
    accept(&server, id, 14);
    let items = server.reply(id, DEFAULT_TIMEOUT).inline_items();
    assert_eq!(items[0]["insertText"], MAIN_BODY);
    let figures = support::eventually("the early reports counted", DEFAULT_TIMEOUT, || {
        let figures = stats(&server);
        (figures["overall"]["shown"] == 1).then_some(figures)
    });
    assert_eq!(figures["overall"]["accepted"], 1, "{figures}");
    assert_eq!(figures["overall"]["acceptedChars"], 14, "{figures}");
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
