//! Cancellation tokens shared between the LSP side and the engine thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag the LSP side raises and the engine checks before every forward pass.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Release);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// Cancels its token when dropped. A request handler holds one, so that when tower-lsp drops the
/// handler's future (after `$/cancelRequest`), the engine stops working on that request too.
#[derive(Debug)]
pub struct CancelOnDrop(pub CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}
