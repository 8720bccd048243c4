//! One debouncer for every "once typing pauses" action (rescoring edited lines, pre-warming, refreshing the cross-file ring): a deadline per key that each event pushes back, and one sleeping task per pause, not per keystroke.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tower_lsp::lsp_types::Url;

use super::sync::lock;

/// What waits for a pause.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pause {
    /// Rescoring a document's edited lines (`diagnostics.debounceMs`).
    Rescore(Url),
    /// Pre-warming a document's prompt (`engine.prewarmIdleMs`).
    Prewarm(Url),
    /// Refreshing the cross-file ring and pre-warming the document the user is in.
    CrossFile,
    /// Looking for a document's next edit (`nextEdit.debounceMs`).
    NextEdit(Url),
}

type Action = Pin<Box<dyn Future<Output = ()> + Send>>;

struct Pending {
    deadline: Instant,
    action: Action,
}

/// Pending actions by key. Cloning shares them.
#[derive(Clone)]
pub struct Debouncer<K = Pause> {
    pending: Arc<Mutex<HashMap<K, Pending>>>,
}

impl<K> Default for Debouncer<K> {
    fn default() -> Self {
        Self {
            pending: Arc::default(),
        }
    }
}

impl<K: Eq + Hash + Clone + Send + 'static> Debouncer<K> {
    /// Runs `action` once `quiet` has passed with no later event for `key`; a later [`bump`]
    /// replaces the action and restarts the wait. Must be called on the tokio runtime.
    ///
    /// [`bump`]: Debouncer::bump
    pub fn bump(&self, key: K, quiet: Duration, action: impl Future<Output = ()> + Send + 'static) {
        let deadline = Instant::now() + quiet;
        let waiting = lock(&self.pending)
            .insert(
                key.clone(),
                Pending {
                    deadline,
                    action: Box::pin(action),
                },
            )
            .is_some();
        if !waiting {
            tokio::spawn(self.clone().wait(key));
        }
    }

    /// Pushes back the pending action of `key` by `quiet` from now, if there is one.
    pub fn postpone(&self, key: &K, quiet: Duration) {
        if let Some(pending) = lock(&self.pending).get_mut(key) {
            pending.deadline = pending.deadline.max(Instant::now() + quiet);
        }
    }

    /// Drops the pending action of `key` (its document closed).
    pub fn cancel(&self, key: &K) {
        lock(&self.pending).remove(key);
    }

    /// The one task of a pause: sleeps until the deadline holds, then runs the latest action.
    async fn wait(self, key: K) {
        loop {
            let deadline = match lock(&self.pending).get(&key) {
                Some(pending) => pending.deadline,
                // Cancelled.
                None => return,
            };
            if deadline <= Instant::now() {
                let due = {
                    let mut pending = lock(&self.pending);
                    match pending.get(&key) {
                        Some(entry) if entry.deadline <= Instant::now() => pending.remove(&key),
                        _ => None,
                    }
                };
                if let Some(due) = due {
                    due.action.await;
                    return;
                }
                continue;
            }
            tokio::time::sleep_until(deadline).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_events_runs_the_last_action_once_after_the_pause() {
        let debouncer: Debouncer<&'static str> = Debouncer::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(AtomicUsize::new(0));
        for event in 1..=5 {
            let (runs, last) = (runs.clone(), last.clone());
            debouncer.bump("doc", Duration::from_millis(100), async move {
                runs.fetch_add(1, Ordering::SeqCst);
                last.store(event, Ordering::SeqCst);
            });
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 0, "typing has not paused");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(last.load(Ordering::SeqCst), 5);
        // Postponing and cancelling.
        let runs_again = runs.clone();
        debouncer.bump("doc", Duration::from_millis(100), async move {
            runs_again.fetch_add(1, Ordering::SeqCst);
        });
        debouncer.postpone(&"doc", Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "postponed");
        debouncer.cancel(&"doc");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1, "cancelled");
    }
}
