//! The cross-file context's state: the ring of chunks, the document the user is in, and the event count that tells an idle refresh it is still current.

use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

use tower_lsp::lsp_types::Url;

use crate::context::ring::Ring;

/// The ring and what decides when it refreshes.
#[derive(Debug, Default)]
pub struct CrossFile {
    pub(super) ring: Mutex<Ring>,
    /// Counts events; a refresh scheduled after one runs only if no later event came.
    pub(super) events: AtomicU64,
    /// The document of the last event: the one the user is in.
    pub(super) focus: Mutex<Option<Url>>,
}
