//! Recycled attribute and event vectors.
//!
//! A span's attributes and events are built on the application's thread
//! and freed on the batch worker's thread after export. With the system
//! allocator that split is costly: every allocation on one thread and free
//! on the other goes through the allocator's shared arena under its lock,
//! and the two threads contend for it span after span. Instead, the worker
//! hands the emptied vectors back here and the tracer takes them for new
//! spans, so in steady state neither thread allocates or frees.
//!
//! Vectors travel in chunks of [`CHUNK`]: the worker returns a batch's
//! vectors a chunk at a time, and each application thread keeps the chunk
//! it is taking from, so the shared pool is touched once per
//! [`CHUNK`] spans, not once per span.
//!
//! The pool is bounded (at most [`POOL_SIZE`] vectors of each kind in the
//! shared pool plus one chunk per thread, each of at most
//! [`MAX_RECYCLED_CAPACITY`] slots), so it holds at most a few MiB however
//! bursty the load.

use std::cell::RefCell;
use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};

use crate::span::{Event, SpanData};
use crate::value::KeyValue;

/// Most vectors of each kind kept in the shared pool.
pub const POOL_SIZE: usize = 2048;

/// Vectors handed over at a time between the worker and a thread.
pub const CHUNK: usize = 32;

/// Vectors with more slots than this are freed, not kept.
pub const MAX_RECYCLED_CAPACITY: usize = 16;

/// Slots in a fresh attribute vector.
pub const ATTRIBUTES_CAPACITY: usize = 8;

/// Slots in a fresh event vector: most spans have one event at most (a
/// response, an exception), and a queued span holds its vector's every
/// slot (72 bytes each). A vector that grew is recycled at its size.
pub const EVENTS_CAPACITY: usize = 1;

type Chunk<T> = Vec<Vec<T>>;

struct Pool {
    attributes: (Sender<Chunk<KeyValue>>, Receiver<Chunk<KeyValue>>),
    events: (Sender<Chunk<Event>>, Receiver<Chunk<Event>>),
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        attributes: crossbeam_channel::bounded(POOL_SIZE / CHUNK),
        events: crossbeam_channel::bounded(POOL_SIZE / CHUNK),
    })
}

thread_local! {
    static ATTRIBUTES: RefCell<Chunk<KeyValue>> = const { RefCell::new(Vec::new()) };
    static EVENTS: RefCell<Chunk<Event>> = const { RefCell::new(Vec::new()) };
}

/// One vector from this thread's chunk, refilled from the shared pool when
/// it runs out; `None` when both are empty (or the thread is exiting).
fn take<T>(
    local: &'static std::thread::LocalKey<RefCell<Chunk<T>>>,
    shared: &Receiver<Chunk<T>>,
) -> Option<Vec<T>> {
    local
        .try_with(|chunk| {
            let mut chunk = chunk.try_borrow_mut().ok()?;
            if chunk.is_empty() {
                *chunk = shared.try_recv().ok()?;
            }
            chunk.pop()
        })
        .ok()
        .flatten()
}

/// An empty attribute vector with room for at least
/// [`ATTRIBUTES_CAPACITY`] attributes, recycled when one is available.
pub fn attributes() -> Vec<KeyValue> {
    take(&ATTRIBUTES, &pool().attributes.1)
        .unwrap_or_else(|| Vec::with_capacity(ATTRIBUTES_CAPACITY))
}

/// An empty event vector, recycled when one is available.
pub fn events() -> Vec<Event> {
    take(&EVENTS, &pool().events.1).unwrap_or_else(|| Vec::with_capacity(EVENTS_CAPACITY))
}

/// `v.push(x)`, with `x` written straight into `v`'s spare room when it
/// has some; the push that grows is kept out of line. A `push` that may
/// grow keeps `x` on the stack across the call that grows, and a value
/// built there in pieces and copied out in wider loads stalls store
/// forwarding: a few nanoseconds for every attribute, event or queued
/// span on the application's thread.
#[inline(always)]
pub fn push<T>(v: &mut Vec<T>, x: T) {
    if v.len() < v.capacity() {
        v.push(x);
    } else {
        push_growing(v, x);
    }
}

#[cold]
#[inline(never)]
fn push_growing<T>(v: &mut Vec<T>, x: T) {
    v.push(x);
}

/// Collects emptied vectors and hands them to the shared pool a chunk at a
/// time.
struct Returns<T> {
    chunk: Chunk<T>,
    min_capacity: usize,
}

impl<T> Returns<T> {
    fn new(min_capacity: usize) -> Self {
        Returns {
            chunk: Vec::new(),
            min_capacity,
        }
    }

    fn add(&mut self, mut v: Vec<T>, to: &Sender<Chunk<T>>) {
        if !(self.min_capacity..=MAX_RECYCLED_CAPACITY).contains(&v.capacity()) {
            return;
        }
        v.clear();
        if self.chunk.capacity() == 0 {
            self.chunk.reserve_exact(CHUNK);
        }
        self.chunk.push(v);
        if self.chunk.len() >= CHUNK {
            self.send(to);
        }
    }

    fn send(&mut self, to: &Sender<Chunk<T>>) {
        if !self.chunk.is_empty() {
            // A full pool drops the chunk: its vectors are freed.
            let _ = to.try_send(std::mem::take(&mut self.chunk));
        }
    }
}

/// Empties `spans`, keeping their attribute and event vectors (emptied)
/// for new spans.
pub fn recycle_all(spans: &mut Vec<SpanData>) {
    let p = pool();
    let mut attributes = Returns::new(ATTRIBUTES_CAPACITY);
    let mut events = Returns::new(EVENTS_CAPACITY);
    for span in spans.iter_mut() {
        attributes.add(std::mem::take(&mut span.attributes), &p.attributes.0);
        events.add(std::mem::take(&mut span.events), &p.events.0);
    }
    spans.clear();
    attributes.send(&p.attributes.0);
    events.send(&p.events.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::time::SystemTime;

    #[test]
    fn vectors_come_back_empty_and_big_ones_are_not_kept() {
        let t = SystemTime::now();
        let span = || {
            SpanData::new(
                SpanContext::new(
                    TraceId::from_u128(1),
                    SpanId::from_u64(1),
                    TraceFlags::SAMPLED,
                ),
                "x",
                t,
                t,
            )
        };
        let mut s = span();
        s.attributes = attributes();
        s.attributes.push(KeyValue::new("k", "v"));
        s.events = events();
        s.events.push(Event::new("e", t, vec![]));
        recycle_all(&mut vec![s]);
        // Whatever this thread gets (another test may share the pool) is
        // empty and has room.
        let a = attributes();
        assert!(a.is_empty() && a.capacity() >= ATTRIBUTES_CAPACITY);
        let e = events();
        assert!(e.is_empty() && e.capacity() >= EVENTS_CAPACITY);
        let mut huge = span();
        huge.attributes = Vec::with_capacity(1000);
        recycle_all(&mut vec![huge]); // freed, not pooled: nothing to observe but no panic
    }
}
