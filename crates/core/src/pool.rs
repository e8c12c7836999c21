//! Recycled span boxes.
//!
//! A span is built on the application's thread and freed on the batch
//! worker's thread after export. With the system allocator that split is
//! costly: every allocation on one thread and free on the other goes
//! through the allocator's shared arena under its lock, and the two threads
//! contend for it span after span. Instead, a tracer takes a box from here
//! for each new span ([`span`]), the box itself travels to the batch worker
//! (no copy of the span on the way), and the worker hands it back emptied
//! ([`recycle`]), attribute and event vectors included. In steady state
//! neither thread allocates or frees.
//!
//! The pool is bounded (at most [`POOL_SIZE`] boxes, each with vectors of
//! at most [`MAX_RECYCLED_CAPACITY`] slots), so it holds at most about
//! 2 MiB however bursty the load.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use crossbeam_channel::{Receiver, Sender};

use crate::TraceFlags;
use crate::context::{SpanContext, TraceState};
use crate::id::{SpanId, TraceId};
use crate::span::{Resource, SpanData, SpanType, Status};

/// Most boxes kept for reuse.
pub const POOL_SIZE: usize = 2048;

/// Vectors with more slots than this are freed, not kept.
pub const MAX_RECYCLED_CAPACITY: usize = 16;

/// Slots in a fresh attribute vector.
pub const ATTRIBUTES_CAPACITY: usize = 8;

/// Slots in a fresh event vector.
pub const EVENTS_CAPACITY: usize = 2;

type Channel = (Sender<Box<SpanData>>, Receiver<Box<SpanData>>);

fn pool() -> &'static Channel {
    static POOL: OnceLock<Channel> = OnceLock::new();
    POOL.get_or_init(|| crossbeam_channel::bounded(POOL_SIZE))
}

fn empty_resource() -> Arc<Resource> {
    static EMPTY: OnceLock<Arc<Resource>> = OnceLock::new();
    Arc::clone(EMPTY.get_or_init(|| Arc::new(Resource::empty())))
}

/// A span with nothing in it: invalid ids, empty name, the empty resource,
/// no attribute or event storage. A place holder for a slot about to be
/// filled; it allocates nothing.
pub fn blank() -> SpanData {
    SpanData::started(
        SpanContext::new(TraceId::INVALID, SpanId::INVALID, TraceFlags::NONE),
        None,
        Cow::Borrowed(""),
        SpanType::Custom,
        SystemTime::UNIX_EPOCH,
        empty_resource(),
    )
}

/// A box for a new span, recycled when one is available. Its contents are
/// those of an earlier span with empty attribute and event vectors (room
/// for at least [`ATTRIBUTES_CAPACITY`] and [`EVENTS_CAPACITY`] when
/// fresh): the caller sets every other field.
pub fn span() -> Box<SpanData> {
    pool().1.try_recv().unwrap_or_else(|_| {
        let mut s = Box::new(blank());
        s.attributes = Vec::with_capacity(ATTRIBUTES_CAPACITY);
        s.events = Vec::with_capacity(EVENTS_CAPACITY);
        s
    })
}

/// Empties a span that is done with (attributes, events, name, status, trace
/// state) and keeps its box and vectors for a new span. The resource stays,
/// so that a tracer refilling the box with the same resource touches no
/// reference count. When the pool is full, the span is freed.
pub fn recycle(mut span: Box<SpanData>) {
    if span.attributes.capacity() > MAX_RECYCLED_CAPACITY {
        span.attributes = Vec::new();
    } else {
        span.attributes.clear();
    }
    if span.events.capacity() > MAX_RECYCLED_CAPACITY {
        span.events = Vec::new();
    } else {
        span.events.clear();
    }
    span.name = Cow::Borrowed("");
    span.status = Status::Pending;
    span.span_context.trace_state = TraceState::NONE;
    span.replay_snapshot = None;
    let _ = pool().0.try_send(span);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Event;
    use crate::value::KeyValue;

    #[test]
    fn boxes_come_back_empty_and_big_vectors_are_not_kept() {
        let t = SystemTime::now();
        let mut s = span();
        s.name = Cow::Owned("x".into());
        s.attributes.push(KeyValue::new("k", "v"));
        s.events.push(Event::new("e", t, vec![]));
        s.status = Status::error("boom");
        recycle(s);
        // Whatever this thread gets (another test may share the pool) is
        // empty.
        let s = span();
        assert!(s.attributes.is_empty() && s.events.is_empty());
        assert_eq!(s.name, "");
        assert_eq!(s.status, Status::Pending);
        let mut huge = span();
        huge.attributes = Vec::with_capacity(1000);
        huge.events = Vec::with_capacity(1000);
        recycle(huge);
        for _ in 0..4 {
            let s = span();
            assert!(s.attributes.capacity() <= MAX_RECYCLED_CAPACITY.max(ATTRIBUTES_CAPACITY));
            assert!(s.events.capacity() <= MAX_RECYCLED_CAPACITY.max(EVENTS_CAPACITY));
        }
    }

    #[test]
    fn blank_allocates_no_storage() {
        let b = blank();
        assert_eq!(b.attributes.capacity(), 0);
        assert_eq!(b.events.capacity(), 0);
        assert!(!b.span_context.is_valid());
    }
}
