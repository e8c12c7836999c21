//! Id generation: a per-thread xoshiro256++ generator, seeded from the
//! standard library's per-process random hash keys. No lock, no syscall.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prela_core::{SpanId, TraceId};

/// Makes trace and span ids.
pub trait IdGenerator: Send + Sync + fmt::Debug + 'static {
    /// A new, valid (non-zero) trace id.
    fn new_trace_id(&self) -> TraceId;
    /// A new, valid (non-zero) span id.
    fn new_span_id(&self) -> SpanId;
    /// Whether trace ids are random enough for the W3C Level 2 `random` flag
    /// (the right-most 7 bytes random).
    fn is_random(&self) -> bool {
        false
    }
}

/// Random ids from a fast per-thread generator (xoshiro256++). Not for
/// cryptography; ids only need to be unique.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct RandomIdGenerator;

static SEED_COUNTER: AtomicU64 = AtomicU64::new(0);

fn seed() -> [u64; 4] {
    let mut s = [0u64; 4];
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let n = SEED_COUNTER.fetch_add(1, Ordering::Relaxed);
    for (i, slot) in s.iter_mut().enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(nanos);
        h.write_u64(n);
        h.write_usize(i);
        *slot = h.finish();
    }
    if s == [0; 4] {
        s[0] = 0x9e37_79b9_7f4a_7c15;
    }
    s
}

thread_local! {
    static RNG: Cell<[u64; 4]> = Cell::new(seed());
}

fn next_u64() -> u64 {
    RNG.with(|cell| {
        let mut s = cell.get();
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        cell.set(s);
        result
    })
}

impl IdGenerator for RandomIdGenerator {
    fn new_trace_id(&self) -> TraceId {
        loop {
            let v = (u128::from(next_u64()) << 64) | u128::from(next_u64());
            if v != 0 {
                return TraceId::from_u128(v);
            }
        }
    }

    fn new_span_id(&self) -> SpanId {
        loop {
            let v = next_u64();
            if v != 0 {
                return SpanId::from_u64(v);
            }
        }
    }

    fn is_random(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_valid_and_distinct_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| {
                    (0..10_000)
                        .map(|_| RandomIdGenerator.new_span_id())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(id.is_valid());
                assert!(all.insert(id));
            }
        }
        assert!(RandomIdGenerator.new_trace_id().is_valid());
    }
}
