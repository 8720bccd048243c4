//! Where the server's log goes: warnings and errors to stderr (editors such as Helix tag every stderr line as an error), information to the editor's own log through `window/logMessage`.
//!
//! The subscriber is installed before the LSP connection exists, so the editor-bound half queues
//! what it sees in a bounded channel (a full channel drops the message: memory stays bounded
//! whatever happens) and the connection drains it once the client is initialized.

use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Messages that may wait for the client: enough for a model load's story, bounded.
const QUEUE: usize = 256;

/// One line for the editor's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientLine {
    pub level: Level,
    pub text: String,
}

static RECEIVER: OnceLock<Mutex<Option<mpsc::Receiver<ClientLine>>>> = OnceLock::new();

/// Installs the server's subscriber: stderr filtered by `RILL_LOG` (default `warn`), and
/// information and above for the editor (see [`take_client_lines`]).
pub fn init_server() {
    let stderr_filter =
        EnvFilter::try_from_env("RILL_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let (sender, receiver) = mpsc::channel(QUEUE);
    let _ = RECEIVER.set(Mutex::new(Some(receiver)));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(false)
                .with_filter(stderr_filter),
        )
        .with(ClientLayer { sender }.with_filter(LevelFilter::INFO))
        .init();
}

/// The editor-bound lines, once: the connection that forwards them takes them.
pub fn take_client_lines() -> Option<mpsc::Receiver<ClientLine>> {
    RECEIVER
        .get()?
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
}

/// Formats events as `target: message key=value…` and queues them for the client.
struct ClientLayer {
    sender: mpsc::Sender<ClientLine>,
}

impl<S: Subscriber> Layer<S> for ClientLayer {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut text = Line::default();
        event.record(&mut text);
        let line = ClientLine {
            level: *event.metadata().level(),
            text: format!("{}: {}", event.metadata().target(), text.0),
        };
        // Full (no client yet, or one that does not read): dropped rather than kept.
        let _ = self.sender.try_send(line);
    }
}

/// The event's message first, then its other fields.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
