//! Process-wide compute settings: how many threads the matrix kernels use, how long idle workers spin, and how freed memory goes back to the system.

use std::sync::atomic::{AtomicBool, Ordering};

/// How the CPU kernels share the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadSettings {
    /// Worker threads for matrix products, including the calling thread.
    pub threads: usize,
    /// How many times an idle worker polls for new work before it parks. candle's default
    /// (25,000) is fast on an idle machine but burns a core that the editor wants; a short
    /// spin keeps most of the speed and degrades gracefully when the cores are shared.
    pub spin_limit: u32,
}

impl Default for ThreadSettings {
    /// Every core, at most 8. Measured on 2 cores: with another process busy, 2 and 1 threads
    /// decode at similar speeds (22.7 vs 20.3 tokens/s at 300 tokens of context), while on an idle
    /// machine 2 threads are twice as fast, so the pool takes every core; `engine.threads` lowers it.
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(8),
            spin_limit: 2_000,
        }
    }
}

static CONFIGURED: AtomicBool = AtomicBool::new(false);

/// Applies `settings` before the first model computation. candle reads them from the
/// environment once, when its worker pool starts, so later calls have no effect and return false.
pub fn configure_threads(settings: ThreadSettings) -> bool {
    if CONFIGURED.swap(true, Ordering::SeqCst) {
        return false;
    }
    // Called during start-up, before the worker pool (the only other reader) exists, so no
    // thread reads the environment while it changes.
    std::env::set_var("CANDLE_NUM_THREADS", settings.threads.max(1).to_string());
    std::env::set_var(
        "CANDLE_BARRIER_POOL_SPIN_LIMIT",
        settings.spin_limit.to_string(),
    );
    true
}

/// Makes the allocator serve large blocks (4 MiB and up) from their own memory mappings, so that
/// freeing one returns it to the system at once. glibc's default raises that threshold as large
/// blocks are freed (up to 32 MiB) and then keeps them in its heap, where a server that caches and
/// drops tens of megabytes per document would keep its high-water mark (measured: 774 MB peak with
/// ten cached documents, 608 MB with a fixed threshold).
///
/// Why 4 MiB and not lower: every activation of a prefill pass (up to about 1 MiB for 128 tokens)
/// stays below it, so passes reuse heap memory instead of mapping, faulting in and unmapping fresh
/// pages for each buffer. At 256 KiB that cost a cold 1.5k-token prompt 3.0 s instead of 2.3 s
/// (`incremental_bench`); idle documents' caches now leave memory for disk (`engine.diskCacheMb`)
/// and the engine trims the heap whenever it goes idle (see [`trim`]), so the ten-document peak
/// stayed at 437 MB against 434. A no-op on other C libraries.
pub fn return_large_blocks_to_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is safe to call at any time, and glibc
    // applies it to allocations made afterwards.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
    }
}

/// Gives the pages of freed small blocks back to the system. Building the tokenizer allocates and
/// frees hundreds of thousands of small strings and tables, and glibc keeps the freed pages
/// between live blocks in its heap, where they count as resident memory for the life of the
/// process; `malloc_trim` releases every whole free page. Called after loading. A no-op on
/// other C libraries.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
