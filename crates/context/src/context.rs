//! The current context of a thread, and carrying it to other threads and
//! async tasks.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use prela_core::SpanContext;

use crate::baggage::Baggage;

/// What is current on a thread or in a task: the active span's
/// [`SpanContext`] and the [`Baggage`].
///
/// Cloning is cheap (no allocation). A `Context` is immutable: `with_*`
/// returns a new one.
#[derive(Clone, Default, PartialEq)]
pub struct Context {
    span: Option<SpanContext>,
    baggage: Baggage,
}

thread_local! {
    static STACK: RefCell<Vec<Option<Context>>> = const { RefCell::new(Vec::new()) };
}

impl Context {
    /// An empty context: no span, no baggage.
    pub fn new() -> Self {
        Context::default()
    }

    /// The context current on this thread (empty if none was attached).
    pub fn current() -> Self {
        Self::map_current(Clone::clone)
    }

    /// Calls `f` with the current context without cloning it (the empty
    /// context while the thread's locals are being torn down, when spans
    /// and `tracing` events of other thread-local destructors still come).
    pub fn map_current<T>(f: impl FnOnce(&Context) -> T) -> T {
        let mut f = Some(f);
        let done = STACK.try_with(|stack| {
            let stack = stack.try_borrow().ok()?;
            let f = f.take()?;
            Some(match stack.iter().rev().find_map(Option::as_ref) {
                Some(cx) => f(cx),
                None => f(&EMPTY),
            })
        });
        if let Ok(Some(v)) = done {
            return v;
        }
        #[allow(clippy::expect_used)]
        // `f` is taken only on the path that returns `Some` above.
        let f = f.expect("the closure was not called");
        f(&EMPTY)
    }

    /// The active span's context, if any.
    pub fn span(&self) -> Option<&SpanContext> {
        self.span.as_ref()
    }

    /// The baggage.
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// This context with `span` as the active span.
    #[must_use]
    pub fn with_span(&self, span: SpanContext) -> Self {
        Context {
            span: Some(span),
            baggage: self.baggage.clone(),
        }
    }

    /// This context with other baggage.
    #[must_use]
    pub fn with_baggage(&self, baggage: Baggage) -> Self {
        Context {
            span: self.span.clone(),
            baggage,
        }
    }

    /// `f` wrapped to run with this context current: for
    /// `std::thread::spawn`, a thread pool, or any callback run elsewhere.
    ///
    /// ```
    /// use prela_context::Context;
    /// let cx = Context::current();
    /// std::thread::spawn(cx.wrap(|| {
    ///     // spans started here are children of the caller's span
    /// }))
    /// .join()
    /// .unwrap();
    /// ```
    pub fn wrap<R>(self, f: impl FnOnce() -> R) -> impl FnOnce() -> R {
        move || {
            let _guard = self.attach();
            f()
        }
    }

    /// Makes this context current on this thread until the guard drops.
    ///
    /// Guards should drop in reverse order of attaching; one dropped out of
    /// order removes only its own context, and the rest stay correct.
    pub fn attach(self) -> ContextGuard {
        // During thread teardown nothing can be attached: the guard then
        // points past the stack and detaches nothing.
        let index = STACK
            .try_with(|stack| {
                let mut stack = stack.try_borrow_mut().ok()?;
                stack.push(Some(self));
                Some(stack.len() - 1)
            })
            .ok()
            .flatten()
            .unwrap_or(usize::MAX);
        ContextGuard {
            index,
            _not_send: PhantomData,
        }
    }
}

static EMPTY: Context = Context {
    span: None,
    baggage: Baggage::EMPTY,
};

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("baggage", &self.baggage)
            .finish()
    }
}

/// Restores the previous context when dropped. Not `Send`: it belongs to the
/// thread whose context it changed.
#[must_use = "the context is detached as soon as the guard is dropped"]
pub struct ContextGuard {
    index: usize,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard")
            .field("depth", &self.index)
            .finish()
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        // `try_with`: during thread teardown the stack may already be gone.
        let _ = STACK.try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else {
                return;
            };
            if self.index.checked_add(1) == Some(stack.len()) {
                stack.pop();
                while matches!(stack.last(), Some(None)) {
                    stack.pop();
                }
            } else if let Some(slot) = stack.get_mut(self.index) {
                *slot = None;
            }
        });
    }
}

pin_project_lite::pin_project! {
    /// A future that makes a [`Context`] current each time it is polled, so
    /// spans started inside it get the right parent on whatever thread the
    /// runtime polls it. Works with any executor.
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F> fmt::Debug for WithContext<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithContext").field("cx", &self.cx).finish()
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        this.inner.poll(task)
    }
}

/// Carries a [`Context`] into a future.
pub trait FutureExt: Future + Sized {
    /// Runs this future with `cx` current during every poll.
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext { inner: self, cx }
    }

    /// Runs this future with the context that is current now.
    fn with_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }
}

impl<F: Future> FutureExt for F {}

#[cfg(test)]
mod tests {
    use super::*;
    use prela_core::{SpanId, TraceFlags, TraceId};

    fn sc(n: u64) -> SpanContext {
        SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(n),
            TraceFlags::SAMPLED,
        )
    }

    fn current_id() -> Option<SpanId> {
        Context::map_current(|cx| cx.span().map(|s| s.span_id))
    }

    #[test]
    fn nested_attach_and_restore() {
        assert_eq!(current_id(), None);
        let g1 = Context::new().with_span(sc(1)).attach();
        {
            let _g2 = Context::current().with_span(sc(2)).attach();
            assert_eq!(current_id(), Some(SpanId::from_u64(2)));
        }
        assert_eq!(current_id(), Some(SpanId::from_u64(1)));
        drop(g1);
        assert_eq!(current_id(), None);
    }

    #[test]
    fn out_of_order_drop() {
        let g1 = Context::new().with_span(sc(1)).attach();
        let g2 = Context::new().with_span(sc(2)).attach();
        drop(g1);
        assert_eq!(current_id(), Some(SpanId::from_u64(2)));
        drop(g2);
        assert_eq!(current_id(), None);
        STACK.with(|s| assert!(s.borrow().is_empty()));
    }

    #[test]
    fn carried_to_another_thread() {
        let _g = Context::new().with_span(sc(7)).attach();
        let cx = Context::current();
        std::thread::spawn(move || {
            assert_eq!(current_id(), None);
            let _g = cx.attach();
            assert_eq!(current_id(), Some(SpanId::from_u64(7)));
        })
        .join()
        .unwrap();
    }
}
