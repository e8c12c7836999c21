//! The span that is current on this thread, for code that does not hold it:
//! a span lent to the thread for one poll of its future or one call of a
//! closure ([`Span::in_scope`], [`Instrumented`]), or entered with a
//! [`SpanGuard`](crate::SpanGuard).
//!
//! [`with_current_span`] gives the current span to a closure (that is how
//! the attribute macros' bodies and the `tracing` bridge reach it), and
//! [`add_event_to_current`] records an event on it whichever way it was
//! made current. The [`Context`] stack decides parents; this stack only
//! holds what is needed to reach the span itself.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context as TaskContext, Poll};

use prela_context::Context;
use prela_core::value::Str;
use prela_core::{Event, KeyValue, SpanId};

use crate::span::Span;

/// One span made current on this thread.
enum Active {
    /// Lent for a poll or a closure: the span itself, back to its owner
    /// when the poll or the closure returns.
    Lent(Span),
    /// Entered with a guard, which keeps the span: what is recorded for it
    /// here waits until the guard drops.
    Entered {
        id: SpanId,
        name: Str,
        events: Vec<Event>,
        error: Option<(String, String)>,
    },
}

impl Active {
    fn id(&self) -> SpanId {
        match self {
            Active::Lent(span) => span.span_context().span_id,
            Active::Entered { id, .. } => *id,
        }
    }
}

thread_local! {
    static ACTIVE: RefCell<Vec<Active>> = const { RefCell::new(Vec::new()) };
}

/// Set once the first out-of-order exit was reported.
static OUT_OF_ORDER_REPORTED: AtomicBool = AtomicBool::new(false);

/// The current context's span id, if a span is current.
fn current_id() -> Option<SpanId> {
    Context::map_current(|cx| cx.span().map(|sc| sc.span_id))
}

/// Calls `f` with the current span, when it was made current by
/// [`Span::in_scope`], [`Instrumented`] (`fut.in_span(span)`,
/// `Tracer::in_span_async`) or one of the attribute macros: the body of a
/// `#[prela::span]` function sets attributes on its span this way.
///
/// `None` when no span is current, when the current span is one entered
/// with a guard (use the guard), or when called from inside `f` itself.
pub fn with_current_span<R>(f: impl FnOnce(&mut Span) -> R) -> Option<R> {
    let id = current_id()?;
    // Take the span out for the call, so that `f` may start spans, and a
    // nested call finds nothing rather than a borrowed stack.
    let (index, mut span) = ACTIVE
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            let index = stack.iter().rposition(|a| a.id() == id)?;
            match stack.get_mut(index)? {
                Active::Lent(span) => Some((
                    index,
                    std::mem::replace(span, Span::non_recording(span.span_context().clone())),
                )),
                Active::Entered { .. } => None,
            }
        })
        .ok()
        .flatten()?;
    let out = f(&mut span);
    let _ = ACTIVE.try_with(|stack| {
        if let Ok(mut stack) = stack.try_borrow_mut() {
            if let Some(Active::Lent(slot)) = stack.get_mut(index) {
                *slot = span;
            }
        }
    });
    Some(out)
}

/// Records an event on the current span, whichever way it was made
/// current (lent or entered with a guard); `error` (the error's type and
/// message) also marks it as failed, as [`Span::record_error`] does.
/// `false` when no span of this thread's is current (a context attached
/// from elsewhere, or none).
pub fn add_event_to_current(
    name: impl Into<Str>,
    attributes: Vec<KeyValue>,
    error: Option<(&str, &str)>,
) -> bool {
    let Some(id) = current_id() else {
        return false;
    };
    // Moved into the lent span if there is one, else kept for the stack.
    let mut event = Some((name.into(), attributes));
    with_current_span(|span| {
        if let Some((name, attributes)) = event.take() {
            span.add_event(name, attributes);
        }
        if let Some((type_name, message)) = error {
            span.record_error_message(type_name, message);
        }
    });
    // Taken: the current span was lent, and has the event.
    let Some((name, attributes)) = event else {
        return true;
    };
    ACTIVE
        .try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else {
                return false;
            };
            match stack.iter_mut().rev().find(|a| a.id() == id) {
                Some(Active::Entered {
                    events, error: e, ..
                }) => {
                    events.push(Event::new(name, crate::clock::now(), attributes));
                    if let Some((t, m)) = error {
                        *e = Some((t.to_owned(), m.to_owned()));
                    }
                    true
                }
                _ => false,
            }
        })
        .unwrap_or(false)
}

/// An error known only by its message.
#[derive(Debug)]
pub(crate) struct Message(pub(crate) String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// Runs `f` with `span` current: its context attached and the span lent
/// to this thread. A panic in `f` ends the span with status error
/// `panicked` as it unwinds.
pub(crate) fn scope<R>(span: &mut Span, f: impl FnOnce() -> R) -> R {
    let cx = span.context();
    let lent = std::mem::replace(span, Span::non_recording(span.span_context().clone()));
    let pushed = ACTIVE
        .try_with(|stack| {
            stack
                .try_borrow_mut()
                .map(|mut s| s.push(Active::Lent(lent)))
                .is_ok()
        })
        .unwrap_or(false);
    // Gives the span back (or ends it, when unwinding) however `f` leaves.
    struct Back<'a> {
        span: &'a mut Span,
        pushed: bool,
    }
    impl Drop for Back<'_> {
        fn drop(&mut self) {
            if !self.pushed {
                return;
            }
            let id = self.span.span_context().span_id;
            let back = ACTIVE
                .try_with(|stack| {
                    let mut stack = stack.try_borrow_mut().ok()?;
                    let index = stack.iter().rposition(|a| a.id() == id)?;
                    match stack.remove(index) {
                        Active::Lent(span) => Some(span),
                        other => {
                            stack.insert(index, other);
                            None
                        }
                    }
                })
                .ok()
                .flatten();
            if let Some(mut span) = back {
                if std::thread::panicking() {
                    span.end_panicked();
                }
                *self.span = span;
            }
        }
    }
    let _back = Back { span, pushed };
    let _cx = cx.attach();
    f()
}

/// Registers a span entered with a guard.
pub(crate) fn enter(id: SpanId, name: Str) {
    let _ = ACTIVE.try_with(|stack| {
        if let Ok(mut s) = stack.try_borrow_mut() {
            s.push(Active::Entered {
                id,
                name,
                events: Vec::new(),
                error: None,
            });
        }
    });
}

/// Unregisters a span entered with a guard, applying what was recorded
/// for it. A guard exited while spans entered after it are still current
/// (guards held across `.await` in concurrent futures) is reported once
/// per process; only its own entry is removed, so the others stay right.
pub(crate) fn exit(span: &mut Span, id: SpanId) {
    let taken = ACTIVE
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            let index = stack.iter().rposition(|a| a.id() == id)?;
            let above = stack.get(index + 1..).and_then(|rest| {
                rest.iter().find_map(|a| match a {
                    Active::Entered { name, .. } => Some(name.to_string()),
                    Active::Lent(s) => s.name().map(str::to_owned),
                })
            });
            Some((stack.remove(index), above))
        })
        .ok()
        .flatten();
    let Some((entry, above)) = taken else {
        return;
    };
    if let Active::Entered {
        name,
        events,
        error,
        ..
    } = entry
    {
        if let Some(above) = above {
            report_out_of_order(&name, &above);
        }
        for e in events {
            span.add_event_at(e.name, e.timestamp, e.attributes);
        }
        if let Some((type_name, message)) = error {
            span.record_error_message(&type_name, message);
        }
    }
}

#[cold]
fn report_out_of_order(exited: &str, still_current: &str) {
    if OUT_OF_ORDER_REPORTED.swap(true, Ordering::Relaxed) {
        return;
    }
    tracing::warn!(
        target: "prela",
        "span {exited:?} was exited while span {still_current:?}, entered after it on this thread, \
         was still current: span guards were held across .await in concurrent futures \
         (tokio::join!, select!), which gives them wrong parents. Each guard's own context \
         was removed, so later spans are right; use #[prela::span], Tracer::in_span_async or \
         fut.in_span(span) in async code (reported once)"
    );
}

pin_project_lite::pin_project! {
    /// A future with a span of its own: the span is current during every
    /// poll (on whatever thread polls it), so every span started inside is
    /// its child. It ends when the future completes; dropped before that,
    /// it ends with status error `cancelled`; a poll that panics ends it
    /// with status error `panicked`. Made by [`SpanFutureExt::in_span`] and
    /// `Tracer::in_span_async`.
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        span: Span,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            this.project().span.end_cancelled();
        }
    }
}

impl<F> std::fmt::Debug for Instrumented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("span", &self.span)
            .finish()
    }
}

impl<F> Instrumented<F> {
    /// The span (to read its context, for example).
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let inner = this.inner;
        let out = scope(this.span, || inner.poll(task));
        if out.is_ready() {
            this.span.end();
        }
        out
    }
}

/// Gives a future a span of its own; see [`Instrumented`].
pub trait SpanFutureExt: Future + Sized {
    /// Runs this future with `span` current during every poll, and ends
    /// the span when the future completes or is dropped.
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented { inner: self, span }
    }
}

impl<F: Future> SpanFutureExt for F {}
