//! The language server: wiring tower-lsp to rill's session state, one module per LSP method.

mod capabilities;
mod completion_driver;
mod cross_file;
pub mod diagnostics;
mod methods;
mod prewarm;
pub mod reasoning;
mod remote_notices;
mod server;
mod session;
mod shim;
mod stdin_filter;
mod stdout_filter;
mod suggestions;

use tower_lsp::{LspService, Server};

/// Serves LSP over stdin/stdout until the client sends `exit` (or closes the pipe).
pub async fn serve_stdio() {
    let raw_initialize = shim::RawInitialize::default();
    let (service, socket) = LspService::build({
        let raw_initialize = raw_initialize.clone();
        move |client| server::Backend::new(client, raw_initialize)
    })
    .custom_method(
        crate::protocol::INLINE_COMPLETION_METHOD,
        server::Backend::inline_completion,
    )
    .custom_method("rill/documentText", server::Backend::document_text)
    .custom_method("rill/cacheStatus", server::Backend::cache_status)
    .custom_method(
        "rill/diagnosticsStatus",
        server::Backend::diagnostics_status,
    )
    .custom_method(
        "window/workDoneProgress/cancel",
        server::Backend::work_done_progress_cancel,
    )
    .finish();
    let service = shim::InitializeShim::new(service, raw_initialize);
    // tower-lsp polls at most this many messages at once, notifications included; superseded
    // completions answer at once, so a high limit keeps didChange from waiting behind them.
    // Output goes through the outbox, which coalesces partial results a slow client has not read.
    let (stdout, writer) = stdout_filter::filtered_stdout();
    Server::new(stdin_filter::filtered_stdin(), stdout, socket)
        .concurrency_level(256)
        .serve(service)
        .await;
    // Let what the server wrote last leave, unless the client stopped reading.
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), writer).await;
}
