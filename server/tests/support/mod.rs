//! In-process servers for the LSP behaviour tests: rill's whole LSP side (filters, shim, tower-lsp, session) on a socket pair in this process, with the scripted fake backend in place of a model.
//!
//! The client is the end-to-end harness's ([`rill_e2e::Server`]), so these tests read like the
//! end-to-end ones, but start in milliseconds, need no model file, and can script what the
//! "model" writes, how slowly, and when it fails.

use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rill_e2e::{Profile, Server};
use rill_server::engine::fake::{FakeBackend, Script};
use rill_server::engine::{Backend, Starter};

/// The client's end of the socket: closing it (dropping it) ends the server's input, as an
/// editor closing the pipe does, even though the reader thread holds a clone of the socket.
struct ClientInput(UnixStream);

impl Write for ClientInput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.write(bytes)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Drop for ClientInput {
    fn drop(&mut self) {
        let _ = self.0.shutdown(Shutdown::Write);
    }
}

/// A server under test and the fake behind it.
pub struct InProcess {
    pub server: Server,
    pub fake: FakeBackend,
    /// How many times the server started a backend.
    pub starts: Arc<AtomicUsize>,
}

impl InProcess {
    pub fn backend_starts(&self) -> usize {
        self.starts.load(Ordering::SeqCst)
    }
}

impl std::ops::Deref for InProcess {
    type Target = Server;

    fn deref(&self) -> &Server {
        &self.server
    }
}

impl std::ops::DerefMut for InProcess {
    fn deref_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

/// What a test may change about the server beyond its client and its fake.
#[derive(Default)]
pub struct Options {
    /// Where `rill/stats` keeps its figures (none: in memory only).
    pub stats_path: Option<std::path::PathBuf>,
    /// The backends to start instead of the fake (such as the real ones, for the remote engine
    /// against a test's HTTP server).
    pub starter: Option<Starter>,
}

/// Starts a server for `profile` with a fake following `script`, without initializing it.
pub fn spawn(profile: Profile, script: Script) -> InProcess {
    spawn_with(profile, script, Options::default())
}

/// [`spawn`] with [`Options`].
pub fn spawn_with(profile: Profile, script: Script, options: Options) -> InProcess {
    // The server's log, for a failing test: `RILL_LOG=debug cargo test … -- --nocapture`.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("RILL_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let fake = FakeBackend::new(script);
    let starts = Arc::new(AtomicUsize::new(0));
    let starter: Starter = options.starter.unwrap_or_else(|| {
        let backend: Arc<dyn Backend> = Arc::new(fake.clone());
        let starts = starts.clone();
        Arc::new(move |_, _| {
            starts.fetch_add(1, Ordering::SeqCst);
            backend.clone()
        })
    });
    let stats_path = options.stats_path;
    let (client, server_end) = UnixStream::pair().expect("a socket pair");
    let output = client.try_clone().expect("a second handle on the socket");
    let thread = std::thread::Builder::new()
        .name("rill-in-process".to_string())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a tokio runtime");
            runtime.block_on(async move {
                server_end.set_nonblocking(true).expect("non-blocking");
                let stream = tokio::net::UnixStream::from_std(server_end).expect("a tokio socket");
                let (read, write) = stream.into_split();
                rill_server::lsp::serve_with(read, write, starter, stats_path).await;
            });
            // Tasks still running (a request the client never waited for) end with the runtime.
            runtime.shutdown_background();
        })
        .expect("the server thread starts");
    let server = Server::connect(profile, ClientInput(client), output, Box::new(thread));
    InProcess {
        server,
        fake,
        starts,
    }
}

/// Like [`spawn`], then `initialize` and `initialized`, and waits until the fake is reported ready.
pub fn start(profile: Profile, script: Script) -> InProcess {
    let server = spawn(profile, script);
    server.initialize();
    server.wait_until_ready();
    server
}

/// Polls `check` until it gives something, failing the test after `timeout` (for state the fake
/// records, which no message announces).
pub fn eventually<T>(what: &str, timeout: std::time::Duration, check: impl Fn() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}
