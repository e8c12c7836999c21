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
//! The pool is bounded (at most [`POOL_SIZE`] vectors of each kind, each of
//! at most [`MAX_RECYCLED_CAPACITY`] slots), so it holds at most about
//! 3 MiB however bursty the load.

use std::sync::OnceLock;

use crossbeam_channel::{Receiver, Sender};

use crate::span::{Event, SpanData};
use crate::value::KeyValue;

/// Most vectors of each kind kept for reuse.
pub const POOL_SIZE: usize = 2048;

/// Vectors with more slots than this are freed, not kept.
pub const MAX_RECYCLED_CAPACITY: usize = 16;

/// Slots in a fresh attribute vector.
pub const ATTRIBUTES_CAPACITY: usize = 8;

/// Slots in a fresh event vector.
pub const EVENTS_CAPACITY: usize = 2;

struct Pool {
    attributes: (Sender<Vec<KeyValue>>, Receiver<Vec<KeyValue>>),
    events: (Sender<Vec<Event>>, Receiver<Vec<Event>>),
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        attributes: crossbeam_channel::bounded(POOL_SIZE),
        events: crossbeam_channel::bounded(POOL_SIZE),
    })
}

/// An empty attribute vector with room for at least
/// [`ATTRIBUTES_CAPACITY`] attributes, recycled when one is available.
pub fn attributes() -> Vec<KeyValue> {
    pool()
        .attributes
        .1
        .try_recv()
        .unwrap_or_else(|_| Vec::with_capacity(ATTRIBUTES_CAPACITY))
}

/// An empty event vector, recycled when one is available.
pub fn events() -> Vec<Event> {
    pool()
        .events
        .1
        .try_recv()
        .unwrap_or_else(|_| Vec::with_capacity(EVENTS_CAPACITY))
}

/// Drops a span that is done with, keeping its attribute and event vectors
/// (emptied) for new spans.
pub fn recycle(span: SpanData) {
    let SpanData {
        mut attributes,
        mut events,
        ..
    } = span;
    let p = pool();
    let cap = attributes.capacity();
    if (ATTRIBUTES_CAPACITY..=MAX_RECYCLED_CAPACITY).contains(&cap) {
        attributes.clear();
        let _ = p.attributes.0.try_send(attributes);
    }
    let cap = events.capacity();
    if (EVENTS_CAPACITY..=MAX_RECYCLED_CAPACITY).contains(&cap) {
        events.clear();
        let _ = p.events.0.try_send(events);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::time::SystemTime;

    #[test]
    fn vectors_come_back_empty_and_big_ones_are_not_kept() {
        let t = SystemTime::now();
        let mut s = SpanData::new(
            SpanContext::new(
                TraceId::from_u128(1),
                SpanId::from_u64(1),
                TraceFlags::SAMPLED,
            ),
            "x",
            t,
            t,
        );
        s.attributes = attributes();
        s.attributes.push(KeyValue::new("k", "v"));
        s.events = events();
        s.events.push(Event::new("e", t, vec![]));
        recycle(s);
        // Whatever this thread gets (another test may share the pool) is
        // empty and has room.
        let a = attributes();
        assert!(a.is_empty() && a.capacity() >= ATTRIBUTES_CAPACITY);
        let e = events();
        assert!(e.is_empty() && e.capacity() >= EVENTS_CAPACITY);
        let mut huge = SpanData::new(
            SpanContext::new(
                TraceId::from_u128(1),
                SpanId::from_u64(1),
                TraceFlags::SAMPLED,
            ),
            "x",
            t,
            t,
        );
        huge.attributes = Vec::with_capacity(1000);
        recycle(huge); // freed, not pooled: nothing to observe but no panic
    }
}
