//! Recycled attribute and event vectors, and resource references.
//!
//! A span's attributes and events are built on the application's thread
//! and would be freed on the batch worker's thread after export. With the
//! system allocator that split is costly: every allocation on one thread
//! and free on the other goes through the allocator's shared arena under
//! its lock, and the two threads contend for it span after span. Instead,
//! emptied vectors are kept here and the tracer takes them for new spans,
//! so in steady state neither thread allocates or frees.
//!
//! They come back two ways:
//! - [`recycle_here`]: the batch processor hands an exported batch back
//!   with its spans still in it, and the application thread that reuses
//!   the batch's memory for new spans empties it and keeps the vectors in
//!   its own chunk, up to [`LOCAL_MAX`] of each kind. The memory a thread
//!   writes new spans into is then memory it touched itself a moment
//!   before, not lines the worker's core holds: on two cores this is about
//!   a fifth of the CPU a span costs (measured in the history of
//!   `docs/performance.md`).
//! - [`recycle_all`]: any other thread (the worker, when it empties spans
//!   itself) hands them to the shared pool a chunk of [`CHUNK`] at a time,
//!   and a thread whose own chunk runs out takes a chunk from there, so the
//!   shared pool is touched once per [`CHUNK`] spans, not once per span.
//!
//! [`recycle_here`] also keeps the spans' resource references (up to
//! [`LOCAL_MAX`]), and [`resource`] hands them on to the spans this thread
//! starts next: a reference moved from span to span leaves the resource's
//! count alone, where a clone and a drop per span would write it twice,
//! from every thread. A thread so holds a resource alive for as long as it
//! keeps a reference to it: until it starts as many spans, starts a span
//! of another tracer (each such start lets go of one reference), or
//! exits. Resources are a handful of attributes each.
//!
//! The pool is bounded: at most [`POOL_SIZE`] vectors of each kind in the
//! shared pool, and [`LOCAL_MAX`] in each thread's own chunk, each of at
//! most [`MAX_RECYCLED_CAPACITY`] slots.

use std::borrow::Cow;
use std::cell::{BorrowMutError, RefCell, RefMut};
use std::sync::{Arc, OnceLock};

use crossbeam_channel::{Receiver, Sender};

use crate::span::{Event, Resource, SpanData};
use crate::value::{KeyValue, Value};

/// Most vectors of each kind kept in the shared pool.
pub const POOL_SIZE: usize = 2048;

/// Vectors handed over at a time between the worker and a thread.
pub const CHUNK: usize = 32;

/// Most emptied vectors of each kind one thread keeps in its own chunk;
/// beyond that [`recycle_here`] hands them to the shared pool. At the
/// usual 8 attribute slots and 1 event slot that is ~0.5 MiB, and 2 MiB
/// if every vector had grown to [`MAX_RECYCLED_CAPACITY`]. A thread holds
/// about a segment's worth (512 spans at the default settings) of them
/// when it ends as many spans as it starts, and only a thread that ends
/// spans gets any.
pub const LOCAL_MAX: usize = 1024;

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
    static RESOURCES: RefCell<Vec<Arc<Resource>>> = const { RefCell::new(Vec::new()) };
}

/// A reference to `resource` for a new span: the one a span emptied by
/// [`recycle_here`] on this thread carried, moved, when it is the same
/// `Arc`; else a clone. Every span holds its resource from start until
/// its batch is reused, and a clone and a drop per span are two atomic
/// writes to the one count every thread writes; moved from span to span,
/// the count does not change.
#[inline(always)]
pub fn resource(resource: &Arc<Resource>) -> Arc<Resource> {
    match pop_here(&RESOURCES) {
        Some(r) if Arc::ptr_eq(&r, resource) => r,
        // Another tracer's: let go of it, so that one kept reference of
        // no use cannot hold up the rest.
        Some(other) => instead(other, resource),
        None => Arc::clone(resource),
    }
}

/// The last of this thread's kept values; `None` when there is none, or
/// the stack is in use, or the thread is exiting.
#[inline(always)]
fn pop_here<T>(local: &'static std::thread::LocalKey<RefCell<Vec<T>>>) -> Option<T> {
    local
        .try_with(|kept| kept.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
}

/// `resource`, cloned, with `other` let go of.
#[cold]
#[inline(never)]
fn instead(other: Arc<Resource>, resource: &Arc<Resource>) -> Arc<Resource> {
    drop(other);
    Arc::clone(resource)
}

/// One vector from this thread's chunk, popped inline; when the chunk is
/// empty (or in use, or the thread is exiting), from [`refill`], out of
/// line, or else a fresh one with `capacity` slots.
/// Kept apart so that the usual case is a handful of instructions with
/// nothing to save and restore around it.
#[inline(always)]
fn take<T>(
    local: &'static std::thread::LocalKey<RefCell<Chunk<T>>>,
    shared: fn() -> &'static Receiver<Chunk<T>>,
    capacity: usize,
) -> Vec<T> {
    match pop_here(local) {
        Some(v) => v,
        None => refill(local, shared()).unwrap_or_else(|| Vec::with_capacity(capacity)),
    }
}

/// A vector from the shared pool once this thread's chunk ran out (a whole
/// chunk of them moves to this thread); `None` when the shared pool is
/// empty too (or the thread is exiting). The fresh vector that then takes
/// its place is made inline by the caller: returned from here, it would
/// come back through memory.
#[inline(never)]
fn refill<T>(
    local: &'static std::thread::LocalKey<RefCell<Chunk<T>>>,
    shared: &Receiver<Chunk<T>>,
) -> Option<Vec<T>> {
    local
        .try_with(|chunk| {
            let mut chunk = chunk.try_borrow_mut().ok()?;
            // Appended, so the chunk keeps the room `recycle_here` gave it.
            chunk.append(&mut shared.try_recv().ok()?);
            chunk.pop()
        })
        .ok()
        .flatten()
}

/// An empty attribute vector with room for at least
/// [`ATTRIBUTES_CAPACITY`] attributes, recycled when one is available.
///
/// Always inlined: a vector returned from a call is written to the
/// caller's stack a word at a time and read back wider as it moves on into
/// the span or builder, and that load stalls (store forwarding); inlined,
/// it goes from this thread's chunk straight to where it is kept.
#[inline(always)]
pub fn attributes() -> Vec<KeyValue> {
    take(&ATTRIBUTES, || &pool().attributes.1, ATTRIBUTES_CAPACITY)
}

/// An empty event vector, recycled when one is available.
#[inline(always)]
pub fn events() -> Vec<Event> {
    take(&EVENTS, || &pool().events.1, EVENTS_CAPACITY)
}

/// `v.push(x)`, with `x` written straight into `v`'s spare room when it
/// has some; the push that grows is kept out of line. A `push` that may
/// grow keeps `x` on the stack across the call that grows, and a value
/// built there in pieces and copied out in wider loads stalls store
/// forwarding: a few nanoseconds for every attribute, event or queued
/// span on the application's thread. The push that grows takes the vector
/// by value and hands it back, so `v`'s address does not escape: a vector
/// inside a struct on the stack (a span builder) would otherwise keep the
/// compiler from holding that struct in place, and it copies the struct
/// on every move instead.
#[inline(always)]
pub fn push<T>(v: &mut Vec<T>, x: T) {
    if v.len() < v.capacity() {
        v.push(x);
    } else {
        *v = push_growing(std::mem::take(v), x);
    }
}

#[cold]
#[inline(never)]
fn push_growing<T>(mut v: Vec<T>, x: T) -> Vec<T> {
    v.push(x);
    v
}

/// Collects emptied vectors and hands them to the shared pool a chunk at a
/// time.
struct Returns<T: 'static> {
    chunk: Chunk<T>,
    min_capacity: usize,
    to: &'static Sender<Chunk<T>>,
}

impl<T: OwnsNothing> Returns<T> {
    fn new(min_capacity: usize, to: &'static Sender<Chunk<T>>) -> Self {
        Returns {
            chunk: Vec::new(),
            min_capacity,
            to,
        }
    }

    /// Keeps `v`, emptied (see [`empty`] for `plain`), if it is worth
    /// keeping; otherwise drops it.
    fn add(&mut self, mut v: Vec<T>, plain: bool) {
        if !keeps(self.min_capacity, &v) {
            return;
        }
        empty(&mut v, plain);
        if self.chunk.capacity() == 0 {
            self.chunk.reserve_exact(CHUNK);
        }
        self.chunk.push(v);
        if self.chunk.len() >= CHUNK {
            self.send();
        }
    }

    fn send(&mut self) {
        if !self.chunk.is_empty() {
            // A full pool drops the chunk: its vectors are freed.
            let _ = self.to.try_send(std::mem::take(&mut self.chunk));
        }
    }
}

/// Whether a vector is worth keeping: it has the room a fresh one would
/// have, and not so much that keeping it wastes memory.
fn keeps<T>(min_capacity: usize, v: &Vec<T>) -> bool {
    (min_capacity..=MAX_RECYCLED_CAPACITY).contains(&v.capacity())
}

/// `true` when emptying `span`'s attribute and event vectors frees nothing
/// and runs no code: every key, string value and event name is static
/// text, every other value a number, a boolean or null, and no event has
/// attributes. The batch processor asks as a span reaches its queue, while
/// the span's attributes are still in this core's cache, so that
/// [`recycle_here`] need not read them again once they have gone cold.
#[inline]
pub fn is_plain(span: &SpanData) -> bool {
    span.attributes.iter().all(KeyValue::owns_nothing)
        && span.events.iter().all(Event::owns_nothing)
}

/// Empties `spans` on the thread that is about to start new spans: their
/// attribute and event vectors, emptied, go to this thread's own chunk (up
/// to [`LOCAL_MAX`] of each kind; the rest to the shared pool), and the
/// most recently emptied is the next one taken. The batch processor calls
/// it when a thread's lane reuses a segment that carried an exported batch.
///
/// `plain` says that [`is_plain`] held for every span: their vectors are
/// then emptied without a look at what they hold, which saves a read of
/// each vector's memory (a cache miss when another core wrote it, or when
/// the spans waited long in the queue). The thread that reuses a vector
/// writes it anyway, and a write of a line that is not in its cache
/// usually costs it less than a read, as the core need not wait for it
/// (measured in the history of `docs/performance.md`, "Plain segments
/// emptied without a look"). If `plain` is given for a span that owns memory, that memory
/// is leaked, never freed twice.
pub fn recycle_here(spans: &mut Vec<SpanData>, plain: bool) {
    let p = pool();
    let mut attributes = Returns::new(ATTRIBUTES_CAPACITY, &p.attributes.0);
    let mut events = Returns::new(EVENTS_CAPACITY, &p.events.0);
    // One pass over the spans for both kinds. If the thread is exiting,
    // its chunks are gone and the vectors are freed with their spans.
    let _ = ATTRIBUTES.try_with(|a| {
        EVENTS.try_with(|e| {
            RESOURCES.try_with(|r| {
                let (mut a, mut e) = (a.try_borrow_mut(), e.try_borrow_mut());
                let mut r = r.try_borrow_mut();
                // Taken apart, not emptied in place: what is left of each
                // span then has no vector for its drop code to look at.
                for SpanData {
                    attributes: span_attributes,
                    events: span_events,
                    resource,
                    ..
                } in spans.drain(..)
                {
                    keep_here(&mut a, &mut attributes, span_attributes, plain);
                    keep_here(&mut e, &mut events, span_events, plain);
                    if let Ok(r) = &mut r {
                        if r.len() < LOCAL_MAX {
                            r.push(resource);
                        }
                    }
                }
            })
        })
    });
    attributes.send();
    events.send();
    spans.clear();
}

/// What dropping a value would free, told apart without dropping it.
trait OwnsNothing {
    /// `true` when dropping `self` frees no memory and runs no code.
    fn owns_nothing(&self) -> bool;
}

impl OwnsNothing for KeyValue {
    #[inline]
    fn owns_nothing(&self) -> bool {
        self.key.is_borrowed()
            && matches!(
                self.value,
                Value::Null
                    | Value::Bool(_)
                    | Value::I64(_)
                    | Value::F64(_)
                    | Value::String(Cow::Borrowed(_))
            )
    }
}

impl OwnsNothing for Event {
    #[inline]
    fn owns_nothing(&self) -> bool {
        matches!(self.name, Cow::Borrowed(_)) && self.attributes.capacity() == 0
    }
}

/// Empties `v`. Dropping each element is an out-of-line call per
/// attribute (the drop code of `Value` is too big to inline); when no
/// element owns anything, which the caller vouches for with `plain` or a
/// look at each tells inline, the elements are let go of without it.
/// Forgetting a `Drain` of the whole vector is safe and leaves it empty
/// (an element that did own memory would leak it); the `clear` after it
/// drops whatever a `Drain` might leave behind, so the vector is empty
/// either way.
#[inline]
fn empty<T: OwnsNothing>(v: &mut Vec<T>, plain: bool) {
    if plain || v.iter().all(T::owns_nothing) {
        std::mem::forget(v.drain(..));
    }
    v.clear();
}

/// `v`, emptied (see [`empty`] for `plain`), into this thread's `chunk`
/// while it has room, else to `overflow` (for the shared pool).
#[inline(always)]
fn keep_here<T: OwnsNothing>(
    chunk: &mut Result<RefMut<'_, Chunk<T>>, BorrowMutError>,
    overflow: &mut Returns<T>,
    mut v: Vec<T>,
    plain: bool,
) {
    match chunk {
        Ok(chunk) if chunk.len() < LOCAL_MAX => {
            if keeps(overflow.min_capacity, &v) {
                empty(&mut v, plain);
                chunk.push(v);
            }
        }
        _ => overflow.add(v, plain),
    }
}

/// Empties `spans`, handing their attribute and event vectors (emptied)
/// to the shared pool for new spans. `plain` is as for [`recycle_here`].
pub fn recycle_all(spans: &mut Vec<SpanData>, plain: bool) {
    let p = pool();
    let mut attributes = Returns::new(ATTRIBUTES_CAPACITY, &p.attributes.0);
    let mut events = Returns::new(EVENTS_CAPACITY, &p.events.0);
    for span in spans.iter_mut() {
        attributes.add(std::mem::take(&mut span.attributes), plain);
        events.add(std::mem::take(&mut span.events), plain);
    }
    spans.clear();
    attributes.send();
    events.send();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Key;
    use crate::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::time::SystemTime;

    /// Span `i`, with no attributes or events.
    fn span(i: u64) -> SpanData {
        let t = SystemTime::UNIX_EPOCH;
        SpanData::new(
            SpanContext::new(
                TraceId::from_u128(1),
                SpanId::from_u64(i + 1),
                TraceFlags::SAMPLED,
            ),
            "x",
            t,
            t,
        )
    }

    #[test]
    fn vectors_come_back_empty_and_big_ones_are_not_kept() {
        let t = SystemTime::now();
        let mut s = span(0);
        s.attributes = attributes();
        s.attributes.push(KeyValue::new("k", "v"));
        s.events = events();
        s.events.push(Event::new("e", t, vec![]));
        recycle_all(&mut vec![s], false);
        // Whatever this thread gets (another test may share the pool) is
        // empty and has room.
        let a = attributes();
        assert!(a.is_empty() && a.capacity() >= ATTRIBUTES_CAPACITY);
        let e = events();
        assert!(e.is_empty() && e.capacity() >= EVENTS_CAPACITY);
        let mut huge = span(0);
        huge.attributes = Vec::with_capacity(1000);
        recycle_all(&mut vec![huge], false); // freed, not pooled: nothing to observe but no panic
    }

    fn local_len<T>(local: &'static std::thread::LocalKey<RefCell<Chunk<T>>>) -> usize {
        local.with(|c| c.borrow().len())
    }

    /// Span `i`, with a fresh attribute vector of the usual size.
    fn span_with_attributes(i: u64) -> SpanData {
        let mut s = span(i);
        s.attributes = Vec::with_capacity(ATTRIBUTES_CAPACITY);
        s
    }

    #[test]
    fn recycle_here_keeps_the_vectors_on_this_thread_newest_first() {
        let mut spans: Vec<SpanData> = (0..3u64)
            .map(|i| {
                let mut s = span_with_attributes(i);
                s.attributes.push(KeyValue::new("k", format!("owned {i}")));
                s.events = Vec::with_capacity(EVENTS_CAPACITY);
                s.events
                    .push(Event::new("e", SystemTime::UNIX_EPOCH, vec![]));
                s
            })
            .collect();
        let last_attributes = spans[2].attributes.as_ptr();
        let last_events = spans[2].events.as_ptr();
        let before = local_len(&ATTRIBUTES);
        recycle_here(&mut spans, false);
        assert!(spans.is_empty());
        assert_eq!(local_len(&ATTRIBUTES), before + 3);
        // The last span's vectors come back first, emptied, to this thread
        // (the test's own thread: no other test touches its chunk).
        let a = attributes();
        assert_eq!(a.as_ptr(), last_attributes);
        assert!(a.is_empty() && a.capacity() >= ATTRIBUTES_CAPACITY);
        let e = events();
        assert_eq!(e.as_ptr(), last_events);
        assert!(e.is_empty());
    }

    #[test]
    fn owns_nothing_only_for_static_text_and_scalars() {
        let kv = |k: Key, v: Value| KeyValue { key: k, value: v };
        let stat = || Key::from_static("k");
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::I64(1),
            Value::F64(0.5),
            Value::String(Cow::Borrowed("x")),
        ] {
            assert!(kv(stat(), v.clone()).owns_nothing(), "{v:?}");
            assert!(!kv(Key::new(String::from("k")), v).owns_nothing());
        }
        for v in [
            Value::String(Cow::Owned("x".into())),
            Value::Array(vec![]),
            Value::Map(vec![]),
        ] {
            assert!(!kv(stat(), v.clone()).owns_nothing(), "{v:?}");
        }
        let t = SystemTime::UNIX_EPOCH;
        assert!(Event::new("e", t, Vec::new()).owns_nothing());
        assert!(!Event::new(String::from("e"), t, Vec::new()).owns_nothing());
        assert!(!Event::new("e", t, Vec::with_capacity(1)).owns_nothing());
    }

    #[test]
    fn a_span_is_plain_while_its_attributes_and_events_own_nothing() {
        let t = SystemTime::UNIX_EPOCH;
        let mut s = span(0);
        assert!(is_plain(&s), "no attributes, no events");
        s.attributes.push(KeyValue::new("model", "gpt-4o"));
        s.attributes.push(KeyValue::new("tokens", 12));
        s.events.push(Event::new("gen_ai.choice", t, Vec::new()));
        assert!(is_plain(&s));
        let mut owned_value = s.clone();
        owned_value.attributes[1].value = Value::from(String::from("12"));
        assert!(!is_plain(&owned_value));
        let mut owned_key = s.clone();
        owned_key.attributes[0].key = Key::new(String::from("model"));
        assert!(!is_plain(&owned_key));
        let mut event_attributes = s.clone();
        event_attributes.events[0].attributes = vec![KeyValue::new("index", 0)];
        assert!(!is_plain(&event_attributes));
        let mut event_name = s;
        event_name.events[0].name = Cow::Owned("gen_ai.choice".into());
        assert!(!is_plain(&event_name));
    }

    #[test]
    fn plain_spans_are_emptied_without_a_look_and_keep_their_vectors() {
        std::thread::spawn(|| {
            let t = SystemTime::UNIX_EPOCH;
            let mut spans: Vec<SpanData> = (0..3u64)
                .map(|i| {
                    let mut s = span_with_attributes(i);
                    s.attributes.push(KeyValue::new("k", "static"));
                    s.attributes.push(KeyValue::new("n", 1.5));
                    s.events = Vec::with_capacity(EVENTS_CAPACITY);
                    s.events.push(Event::new("e", t, Vec::new()));
                    s
                })
                .collect();
            assert!(spans.iter().all(is_plain));
            let last = spans[2].attributes.as_ptr();
            recycle_here(&mut spans, true);
            assert!(spans.is_empty());
            assert_eq!(local_len(&ATTRIBUTES), 3);
            assert_eq!(local_len(&EVENTS), 3);
            let a = attributes();
            assert_eq!(a.as_ptr(), last);
            assert!(a.is_empty() && a.capacity() >= ATTRIBUTES_CAPACITY);
            assert!(events().is_empty());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn empty_leaves_vectors_empty_whatever_they_hold() {
        let mut statics = vec![KeyValue::new("a", 1), KeyValue::new("b", "x")];
        empty(&mut statics, false);
        assert!(statics.is_empty() && statics.capacity() >= 2);
        let mut owned = vec![
            KeyValue::new("a", 1),
            KeyValue::new("b", String::from("owned")),
            KeyValue::new(String::from("c"), true),
        ];
        empty(&mut owned, false);
        assert!(owned.is_empty() && owned.capacity() >= 3);
        // Vouched for as plain: emptied without a look, capacity kept.
        let mut plain = vec![KeyValue::new("a", 1), KeyValue::new("b", "x")];
        empty(&mut plain, true);
        assert!(plain.is_empty() && plain.capacity() >= 2);
    }

    /// Span `i` carrying `resource`.
    fn span_of(i: u64, resource: &Arc<Resource>) -> SpanData {
        let mut s = span(i);
        s.resource = Arc::clone(resource);
        s
    }

    #[test]
    fn recycled_resources_are_taken_over_not_cloned() {
        std::thread::spawn(|| {
            let r = Arc::new(Resource::with_service_name("svc"));
            let other = Arc::new(Resource::with_service_name("other"));
            let mut spans: Vec<SpanData> = (0..3).map(|i| span_of(i, &r)).collect();
            // The last span emptied is another tracer's: its reference is
            // the first one a new span of `r` meets.
            spans.push(span_of(3, &other));
            recycle_here(&mut spans, false);
            assert_eq!(Arc::strong_count(&r), 4, "kept with the thread");
            assert_eq!(Arc::strong_count(&other), 2);
            let first = resource(&r);
            assert!(Arc::ptr_eq(&first, &r));
            assert_eq!(Arc::strong_count(&other), 1, "let go of, not kept");
            assert_eq!(Arc::strong_count(&r), 5, "a clone in its place");
            let taken: Vec<_> = (0..3).map(|_| resource(&r)).collect();
            assert!(taken.iter().all(|t| Arc::ptr_eq(t, &r)));
            assert_eq!(Arc::strong_count(&r), 5, "three taken over");
            let last = resource(&r);
            assert_eq!(Arc::strong_count(&r), 6, "none left: a clone");
            drop((first, taken, last));
            assert_eq!(Arc::strong_count(&r), 1);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn recycle_here_keeps_at_most_local_max_resources() {
        std::thread::spawn(|| {
            let r = Arc::new(Resource::with_service_name("svc"));
            let mut spans: Vec<SpanData> = (0..LOCAL_MAX as u64 + 100)
                .map(|i| span_of(i, &r))
                .collect();
            recycle_here(&mut spans, false);
            assert_eq!(Arc::strong_count(&r), 1 + LOCAL_MAX);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn recycle_here_keeps_at_most_local_max_on_a_thread() {
        std::thread::spawn(|| {
            let mut spans: Vec<SpanData> = (0..LOCAL_MAX as u64 + 100)
                .map(span_with_attributes)
                .collect();
            recycle_here(&mut spans, false);
            assert_eq!(local_len(&ATTRIBUTES), LOCAL_MAX);
            // Vectors too big to keep are not kept.
            let mut big = vec![span_with_attributes(0)];
            big[0].attributes = Vec::with_capacity(MAX_RECYCLED_CAPACITY + 1);
            ATTRIBUTES.with(|c| c.borrow_mut().clear());
            recycle_here(&mut big, false);
            assert_eq!(local_len(&ATTRIBUTES), 0);
        })
        .join()
        .unwrap();
    }
}
