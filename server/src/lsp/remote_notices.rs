//! Shows the remote engine's failure episodes to the user: one `window/showMessage` error when an episode starts, `rill/status` error while it lasts, and ready again on recovery.

use std::sync::Arc;

use tokio::sync::mpsc;
use tower_lsp::lsp_types::MessageType;

use super::completion_driver::send_status;
use super::session::Session;
use crate::remote::RemoteNotice;
use crate::rill_protocol::StatusParams;

/// Forwards notices until the engine handle is dropped.
pub async fn forward(session: Arc<Session>, mut notices: mpsc::UnboundedReceiver<RemoteNotice>) {
    while let Some(notice) = notices.recv().await {
        match notice {
            RemoteNotice::Failed(message) => {
                session
                    .client
                    .show_message(
                        MessageType::ERROR,
                        format!("rill: the completion server failed: {message}. Completions are paused and retried with backoff."),
                    )
                    .await;
                send_status(&session, StatusParams::error(message)).await;
            }
            RemoteNotice::Recovered => {
                session
                    .client
                    .log_message(
                        MessageType::INFO,
                        "rill: the completion server answers again",
                    )
                    .await;
                send_status(&session, StatusParams::ready_idle()).await;
            }
        }
    }
}
