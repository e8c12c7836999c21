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
