//! The cross-file context's state: the ring of chunks and the document the user is in.

use std::sync::Mutex;

use tower_lsp::lsp_types::Url;

use crate::context::ring::Ring;

/// The ring and the document the user is in (the refresh waits in the session's pauses).
#[derive(Debug, Default)]
pub struct CrossFile {
    pub(super) ring: Mutex<Ring>,
    /// The document of the last event: the one the user is in.
    pub(super) focus: Mutex<Option<Url>>,
}
