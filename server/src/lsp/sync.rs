//! Locking the session's shared state: the one place that says what a poisoned lock means there.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex, recovering the data if a panicking thread poisoned it: every update in the LSP
/// side is a single assignment, insertion or removal, so the data is consistent even then.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
