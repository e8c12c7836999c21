//! A number for each thread, for spreading state that every span writes
//! over several copies (shards, lanes), so that threads on different cores
//! write different cache lines.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The calling thread's number: threads are numbered from 0 in the order
/// they first ask, so the first few busy threads get different numbers
/// (and, modulo a number of shards, different shards). 0 on a thread
/// whose thread-locals are being torn down.
///
/// ```
/// let here = prela_core::thread::number();
/// assert_eq!(here, prela_core::thread::number());
/// let there = std::thread::spawn(prela_core::thread::number).join().unwrap();
/// assert_ne!(here, there);
/// ```
#[inline]
pub fn number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static NUMBER: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    NUMBER
        .try_with(|n| {
            if n.get() == usize::MAX {
                n.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            n.get()
        })
        .unwrap_or(0)
}

thread_local! {
    /// Above zero while the thread exports (or for the whole life of an
    /// SDK thread): spans and `tracing` events raised then are the SDK's
    /// own and are not recorded.
    static EXPORTING: Cell<u32> = const { Cell::new(0) };
}

/// `true` while the calling thread is inside an export call or is one of
/// the SDK's own threads (`prela-batch-export`, `prela-http-io`). The
/// tracer starts no recording span then, and the `tracing` bridge records
/// nothing, so an exporter cannot trace itself: no feedback loop (h2 and
/// hyper emit `tracing` spans while they send), and no recursion (an
/// exporter that starts a span under the simple processor).
#[inline]
pub fn exporting() -> bool {
    EXPORTING.try_with(|e| e.get() > 0).unwrap_or(true)
}

/// Marks the calling thread as exporting until the guard drops (nested
/// guards count).
pub fn enter_export() -> ExportScope {
    let _ = EXPORTING.try_with(|e| e.set(e.get().saturating_add(1)));
    ExportScope {
        _not_send: std::marker::PhantomData,
    }
}

/// Marks the calling thread as one of the SDK's own, for its whole life.
pub fn mark_sdk_thread() {
    let _ = EXPORTING.try_with(|e| e.set(e.get().saturating_add(1)));
}

/// Made by [`enter_export`]; ends the export scope when dropped.
#[derive(Debug)]
#[must_use = "the export scope ends when the guard drops"]
pub struct ExportScope {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ExportScope {
    fn drop(&mut self) {
        let _ = EXPORTING.try_with(|e| e.set(e.get().saturating_sub(1)));
    }
}
