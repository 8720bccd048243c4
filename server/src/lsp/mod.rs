//! The language server: wiring tower-lsp to rill's session state, one module per LSP method.

mod capabilities;
mod completion_driver;
mod completion_input;
mod cross_file;
mod debounce;
pub mod diagnostics;
mod engine_status;
mod errors;
mod gate;
mod methods;
mod next_edit;
mod prewarm;
mod progress;
pub mod reasoning;
mod remote_notices;
mod rhythm;
mod server;
mod session;
mod shim;
mod stats;
mod stdin_filter;
mod stdout_filter;
mod suggestions;
mod sync;

use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp::{LspService, Server};

use tower_lsp::lsp_types::notification::Notification;
use tower_lsp::lsp_types::request::Request;

use crate::engine::Starter;
use crate::rill_protocol::{
    CacheStatusRequest, DiagnosticsStatusRequest, DidAcceptCompletion, DidShowCompletion,
    DocumentTextRequest, NextEditDismiss, NextEditRequest, StatsRequest,
};

/// Serves LSP over stdin/stdout until the client sends `exit` (or closes the pipe); the exit code
/// the specification asks for (0 after `shutdown`, 1 without), or `None` when stdin closed.
pub async fn serve_stdio() -> Option<i32> {
    serve_with(
        tokio::io::stdin(),
        tokio::io::stdout(),
        crate::backends::from_settings(),
        stats::default_path(),
    )
    .await
}

/// Serves LSP on any pair of streams until the client sends `exit` (returning its exit code) or
/// closes `input` (`None`), with the backends `starter` starts: the binary serves stdio with the
/// real ones, the in-process tests serve a socket pair with a scripted fake. Both go through the
/// same filters. The suggestion figures of `rill/stats` stay in memory.
pub async fn serve(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
    starter: Starter,
) -> Option<i32> {
    serve_with(input, output, starter, None).await
}

/// [`serve`], with the suggestion figures kept in `stats_path` across runs.
pub async fn serve_with(
    input: impl AsyncRead + Unpin + Send + 'static,
    output: impl AsyncWrite + Unpin + Send + 'static,
    starter: Starter,
    stats_path: Option<std::path::PathBuf>,
) -> Option<i32> {
    let stats = stats::Stats::new(stats_path);
    // Output goes through the outbox, which coalesces partial results a slow client has not read.
    let (output, writer, congestion) = stdout_filter::filtered(output);
    let raw_initialize = shim::RawInitialize::default();
    let (service, socket) = LspService::build({
        let raw_initialize = raw_initialize.clone();
        move |client| server::Backend::new(client, raw_initialize, starter, congestion, stats)
    })
    .custom_method(
        crate::protocol::INLINE_COMPLETION_METHOD,
        server::Backend::inline_completion,
    )
    .custom_method(DocumentTextRequest::METHOD, server::Backend::document_text)
    .custom_method(CacheStatusRequest::METHOD, server::Backend::cache_status)
    .custom_method(
        DiagnosticsStatusRequest::METHOD,
        server::Backend::diagnostics_status,
    )
    .custom_method(NextEditRequest::METHOD, server::Backend::next_edit)
    .custom_method(NextEditDismiss::METHOD, server::Backend::next_edit_dismiss)
    .custom_method(StatsRequest::METHOD, server::Backend::stats)
    .custom_method(
        DidShowCompletion::METHOD,
        server::Backend::did_show_completion,
    )
    .custom_method(
        DidAcceptCompletion::METHOD,
        server::Backend::did_accept_completion,
    )
    .custom_method(
        "window/workDoneProgress/cancel",
        server::Backend::work_done_progress_cancel,
    )
    .finish();
    let (exit_sender, mut exit) = tokio::sync::watch::channel(None);
    let service = shim::InitializeShim::new(service, raw_initialize, exit_sender);
    // tower-lsp polls at most this many messages at once, notifications included; superseded
    // completions answer at once, so a high limit keeps didChange from waiting behind them.
    let serving = Server::new(stdin_filter::filtered(input), output, socket)
        .concurrency_level(256)
        .serve(service);
    let code = tokio::select! {
        () = serving => None,
        // A client may keep its end open after `exit` and wait for the server to go.
        code = exit.wait_for(Option::is_some) => code.ok().and_then(|code| *code),
    };
    // Let what the server wrote last leave, unless the client stopped reading.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), writer).await;
    code
}
