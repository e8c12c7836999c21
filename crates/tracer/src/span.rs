//! [`Span`]: a span being recorded, and [`SpanGuard`], which also makes it
//! current.

use std::borrow::Cow;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::SystemTime;

use prela_context::{Context, ContextGuard};
use prela_core::attributes::{ERROR_MESSAGE, ERROR_TYPE, EXCEPTION_MESSAGE, EXCEPTION_TYPE};
use prela_core::value::Str;
use prela_core::{Event, Key, KeyValue, SpanContext, SpanData, SpanType, Status, Value};

use crate::tracer::Shard;

/// A recording span's data and the tracer it goes to, borrowed.
struct Recording<'a> {
    data: &'a mut SpanData,
    tracer: &'a Shard,
}

/// A span being recorded. Ends when [`Span::end`] is called or when dropped.
///
/// An unsampled span is a span context and nothing else: every method is a
/// cheap no-op and nothing is allocated. A recording span keeps its data
/// inline (no allocation of its own); its attributes and events are the
/// only heap memory it uses. After `end`, every method is a
/// no-op too (never a panic): ending twice or changing an ended span does
/// nothing.
pub struct Span {
    span_context: SpanContext,
    /// The data while the span records; `tracer` is `Some` exactly when
    /// this is. Ending hands this slot to the processor, which moves the
    /// 240-byte data out of it once, straight into its queue.
    data: Option<SpanData>,
    tracer: Option<Arc<Shard>>,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Span");
        d.field("span_context", &self.span_context);
        match &self.data {
            Some(data) => d.field("name", &data.name).field("recording", &true),
            None => d.field("recording", &false),
        };
        d.finish()
    }
}

impl Span {
    pub(crate) fn non_recording(span_context: SpanContext) -> Self {
        Span {
            span_context,
            data: None,
            tracer: None,
        }
    }

    #[inline]
    pub(crate) fn recording(span_context: SpanContext, data: SpanData, tracer: Arc<Shard>) -> Self {
        Span {
            span_context,
            data: Some(data),
            tracer: Some(tracer),
        }
    }

    /// The data and tracer while the span records.
    #[inline]
    fn rec(&mut self) -> Option<Recording<'_>> {
        match (self.data.as_mut(), self.tracer.as_deref()) {
            (Some(data), Some(tracer)) => Some(Recording { data, tracer }),
            _ => None,
        }
    }

    /// The span's context (ids, flags, trace state), valid even when the
    /// span is not sampled, so it can be propagated.
    pub fn span_context(&self) -> &SpanContext {
        &self.span_context
    }

    /// The current context with this span as the active span: attach it on
    /// another thread, or pass it to `FutureExt::with_context`.
    pub fn context(&self) -> Context {
        Context::current().with_span(self.span_context.clone())
    }

    pub(crate) fn tracer_captures_content(&self) -> bool {
        self.tracer.as_ref().is_some_and(|t| t.capture_content)
    }

    pub(crate) fn start_time(&self) -> Option<SystemTime> {
        self.data.as_ref().map(|d| d.start_time)
    }

    pub(crate) fn has_attribute(&self, key: &str) -> bool {
        self.data
            .as_ref()
            .is_some_and(|d| d.attribute(key).is_some())
    }

    /// `true` while the span records (sampled and not ended).
    pub fn is_recording(&self) -> bool {
        self.data.is_some()
    }

    /// The span's name while it records.
    pub fn name(&self) -> Option<&str> {
        self.data.as_ref().map(|d| &*d.name)
    }

    /// Runs `f` with this span current: spans started inside are its
    /// children, and [`with_current_span`](crate::with_current_span) reaches
    /// it. The span does not end when `f` returns; a panic in `f` ends it
    /// with status error `panicked`.
    pub fn in_scope<R>(&mut self, f: impl FnOnce() -> R) -> R {
        crate::active::scope(self, f)
    }

    /// Ends the span with status error `message` unless a status was set.
    fn end_unless_set(&mut self, message: &'static str) {
        if let Some(data) = self.data.as_mut() {
            if data.status == Status::Pending {
                data.status = Status::error(message);
            }
            self.end();
        }
    }

    /// Ends the span as one whose thread panicked (status error
    /// `panicked`, unless a status was set).
    pub(crate) fn end_panicked(&mut self) {
        self.end_unless_set("panicked");
    }

    /// Ends the span as one whose future was dropped before it completed
    /// (status error `cancelled`, unless a status was set). Does nothing
    /// to an ended span.
    pub(crate) fn end_cancelled(&mut self) {
        if std::thread::panicking() {
            self.end_panicked();
        } else {
            self.end_unless_set("cancelled");
        }
    }

    /// Sets an attribute, replacing the value of an existing key. Over the
    /// attribute limit a new key is dropped and counted. String values longer
    /// than the value length limit are cut.
    pub fn set_attribute(&mut self, key: impl Into<Key>, value: impl Into<Value>) {
        let Some(r) = self.rec() else {
            return;
        };
        let limits = &r.tracer.limits;
        if limits.max_attributes > crate::wide::INDEXED {
            // A raised limit: a span may hold more than a search suits.
            return self.set_wide(key.into(), value.into());
        }
        let key = key.into();
        let attrs = &mut r.data.attributes;
        // The value is made where it lands, and cut there, not before: a
        // `Value` made first lives on the stack across the search for the
        // key, and copying it from there into the vector stalls (it was
        // written in narrower pieces than it is read; see
        // `prela_core::pool::push`).
        let slot = if let Some(slot) = attrs.iter_mut().find(|kv| kv.key == key) {
            slot.value = value.into();
            Some(slot)
        } else if attrs.len() < limits.max_attributes {
            if attrs.capacity() == 0 {
                *attrs = prela_core::pool::attributes();
            }
            prela_core::pool::push(attrs, KeyValue::new(key, value));
            attrs.last_mut()
        } else {
            r.data.dropped_attributes_count = r.data.dropped_attributes_count.saturating_add(1);
            None
        };
        if bound(slot, limits) {
            r.data.dropped_attributes_count = r.data.dropped_attributes_count.saturating_add(1);
        }
    }

    /// [`set_attribute`](Self::set_attribute) under an attribute limit
    /// above [`INDEXED`](crate::wide::INDEXED): past that many, the key is
    /// found through an index (see [`crate::wide`]).
    #[cold]
    #[inline(never)]
    fn set_wide(&mut self, key: Key, value: Value) {
        let Some(r) = self.rec() else {
            return;
        };
        let limits = &r.tracer.limits;
        let attrs = &mut r.data.attributes;
        let room = attrs.len() < limits.max_attributes;
        let found = if attrs.len() < crate::wide::INDEXED {
            attrs.iter().position(|kv| kv.key == key)
        } else {
            r.tracer
                .wide
                .position(&r.data.span_context, attrs, &key, room)
        };
        let slot = if let Some(slot) = found.and_then(|i| attrs.get_mut(i)) {
            slot.value = value;
            Some(slot)
        } else if room {
            attrs.push(KeyValue::new(key, value));
            attrs.last_mut()
        } else {
            r.data.dropped_attributes_count = r.data.dropped_attributes_count.saturating_add(1);
            None
        };
        if bound(slot, limits) {
            r.data.dropped_attributes_count = r.data.dropped_attributes_count.saturating_add(1);
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        for kv in attributes {
            self.set_attribute(kv.key, kv.value);
        }
    }

    /// Adds an event now.
    pub fn add_event(&mut self, name: impl Into<Str>, attributes: Vec<KeyValue>) {
        if self.data.is_some() {
            self.add_event_at(name, crate::clock::now(), attributes);
        }
    }

    /// Adds an event at a given time.
    pub fn add_event_at(
        &mut self,
        name: impl Into<Str>,
        timestamp: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) {
        let Some(r) = self.rec() else {
            return;
        };
        let limits = &r.tracer.limits;
        if r.data.events.len() >= limits.max_events {
            r.data.dropped_events_count = r.data.dropped_events_count.saturating_add(1);
            return;
        }
        let mut dropped = 0u32;
        if attributes.len() > limits.max_attributes_per_event {
            dropped = u32::try_from(attributes.len() - limits.max_attributes_per_event)
                .unwrap_or(u32::MAX);
            attributes.truncate(limits.max_attributes_per_event);
        }
        for kv in &mut attributes {
            if kv.value.is_nested() && kv.value.cut_depth() {
                dropped = dropped.saturating_add(1);
            }
        }
        if let Some(max) = limits.max_attribute_value_length {
            for kv in &mut attributes {
                kv.value.truncate_strings(max);
            }
        }
        let events = &mut r.data.events;
        if events.capacity() == 0 {
            // The vector in place never allocated: nothing to drop.
            std::mem::forget(std::mem::replace(events, prela_core::pool::events()));
        }
        // Made where it lands (see `set_attribute`).
        prela_core::pool::push(events, Event::new(name, timestamp, attributes));
        if dropped > 0 {
            if let Some(event) = events.last_mut() {
                event.dropped_attributes_count = dropped;
            }
        }
    }

    /// Sets the status. `Pending` turns into `Success` when the span ends.
    pub fn set_status(&mut self, status: Status) {
        if let Some(data) = self.data.as_mut() {
            data.status = status;
        }
    }

    /// Changes the span type.
    pub fn set_span_type(&mut self, span_type: SpanType) {
        if let Some(data) = self.data.as_mut() {
            data.span_type = span_type;
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(data) = self.data.as_mut() {
            data.name = name.into();
        }
    }

    /// Records an error: attributes `error.type` (the error's Rust type) and
    /// `error.message`, status `error` with the message, and an `exception`
    /// event with `exception.type` and `exception.message` (the error's
    /// `Display`, followed by its sources).
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, err: &E) {
        self.record_error_as(std::any::type_name::<E>(), err);
    }

    /// [`record_error_as`](Self::record_error_as) for an error known only by
    /// its type name and message (an error that reached `tracing` as text,
    /// or any `Display` value).
    pub fn record_error_message(&mut self, type_name: &str, message: impl Into<String>) {
        self.record_error_as(type_name, &crate::active::Message(message.into()));
    }

    /// [`record_error`](Self::record_error) with the error type given by
    /// name (for errors known only as `dyn Error`).
    pub fn record_error_as(&mut self, type_name: &str, err: &(impl std::error::Error + ?Sized)) {
        if self.data.is_none() {
            return;
        }
        let mut message = err.to_string();
        let mut source = err.source();
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        self.set_attribute(ERROR_TYPE, type_name.to_owned());
        self.set_attribute(ERROR_MESSAGE, message.clone());
        self.add_event(
            "exception",
            vec![
                KeyValue::new(EXCEPTION_TYPE, type_name.to_owned()),
                KeyValue::new(EXCEPTION_MESSAGE, message.clone()),
            ],
        );
        self.set_status(Status::Error {
            message: Cow::Owned(message),
        });
    }

    /// Ends the span now and hands it to the processors. Later calls do
    /// nothing.
    pub fn end(&mut self) {
        // Read the clock only for a span that still records: `Drop` calls
        // this again after an explicit `end`.
        if self.data.is_some() {
            self.end_at(crate::clock::now());
        }
    }

    /// Ends the span at a given time. Later calls do nothing.
    pub fn end_at(&mut self, timestamp: SystemTime) {
        // Finish the data where it lies; the processor then moves it out of
        // its slot once: every move of the 240-byte data is a copy.
        let Some(data) = self.data.as_mut() else {
            return;
        };
        data.end_time = Some(timestamp.max(data.start_time));
        if data.status == Status::Pending {
            data.status = Status::Success;
        }
        let sampled = data.span_context.is_sampled();
        if let Some(tracer) = self.tracer.take() {
            // Only a raised limit lets a span be indexed: under the default
            // one, a span at its 128 attributes takes no lock here.
            if tracer.limits.max_attributes > crate::wide::INDEXED
                && data.attributes.len() >= crate::wide::INDEXED
            {
                tracer.wide.forget(&data.span_context);
            }
            if sampled {
                tracer.inner.finish(&mut self.data);
            }
        }
        // Usually the processor took it; dropping an empty slot is a call.
        if self.data.is_some() {
            self.data = None;
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if self.data.is_some() && std::thread::panicking() {
            self.end_panicked();
        }
        self.end();
    }
}

/// Bounds a value that was just set: nesting is cut where it enters (a
/// value 10,000 levels deep would overflow the stack of whatever recurses
/// on it later), and strings to the length limit. `true` when the value
/// was cut for its depth, to be counted as dropped.
#[inline(always)]
fn bound(slot: Option<&mut KeyValue>, limits: &crate::SpanLimits) -> bool {
    let Some(slot) = slot else {
        return false;
    };
    let too_deep = slot.value.is_nested() && slot.value.cut_depth();
    if let Some(max) = limits.max_attribute_value_length {
        slot.value.truncate_strings(max);
    }
    too_deep
}

/// A [`Span`] that is also the current span until this guard drops; dropping
/// it ends the span, then restores the previous context. Not `Send`: it
/// belongs to the thread it was entered on, and must not be held across
/// `.await`: in async code, use `#[prela::span]`, `Tracer::in_span_async`
/// or `fut.in_span(span)` ([`SpanFutureExt`](crate::SpanFutureExt)).
/// A guard dropped while its thread panics ends its span with status error
/// `panicked`.
pub struct SpanGuard {
    span: Span,
    _cx: ContextGuard,
}

impl SpanGuard {
    pub(crate) fn new(span: Span) -> Self {
        let cx = span.context().attach();
        if let Some(name) = span.data.as_ref().map(|d| d.name.clone()) {
            crate::active::enter(span.span_context.span_id, name);
        }
        SpanGuard { span, _cx: cx }
    }
}

impl fmt::Debug for SpanGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SpanGuard").field(&self.span).finish()
    }
}

impl Deref for SpanGuard {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.span
    }
}

impl DerefMut for SpanGuard {
    fn deref_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        if self.span.data.is_some() {
            let id = self.span.span_context.span_id;
            crate::active::exit(&mut self.span, id);
            if std::thread::panicking() {
                self.span.end_panicked();
            }
        }
        // End before the context guard restores the parent.
        self.span.end();
    }
}
