//! The process-wide tracer, and the late-bound handle that follows it.
//!
//! [`set`] installs a tracer; [`tracer`] returns it. Taken before anything
//! is installed, [`tracer`] returns a late-bound handle: each span it
//! starts goes to the tracer installed at that moment (nothing is recorded
//! while none is), so a handle taken early, for example for a `tracing`
//! layer set up before `prela::init()`, starts recording once a tracer is
//! installed. Spans it started before that stay unrecorded.
//!
//! A late-bound start reads one atomic counter and a thread-local copy of
//! the installed tracer, refreshed when the counter says it changed: no
//! lock shared between threads on the span path.

use std::cell::RefCell;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tracer::Tracer;

static GLOBAL: RwLock<Option<Tracer>> = RwLock::new(None);

/// Bumped by every change of [`GLOBAL`], so that late-bound handles know
/// when their thread's copy is stale.
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's copy of the installed tracer, and the generation it
    /// was read at (0: never).
    static CACHED: RefCell<(u64, Option<Tracer>)> = const { RefCell::new((0, None)) };
}

/// Makes `tracer` the process-wide tracer. A late-bound handle is not
/// installed (it would follow itself); the call is then ignored.
pub fn set(tracer: Tracer) {
    if tracer.is_late() {
        return;
    }
    if let Ok(mut g) = GLOBAL.write() {
        *g = Some(tracer);
        GENERATION.fetch_add(1, Ordering::Release);
    }
}

/// Removes `tracer` if it is still the process-wide one.
pub fn clear(tracer: &Tracer) {
    if let Ok(mut g) = GLOBAL.write() {
        if g.as_ref().is_some_and(|t| t.same_as(tracer)) {
            *g = None;
            GENERATION.fetch_add(1, Ordering::Release);
        }
    }
}

/// The installed tracer; before one is installed (and after it is
/// cleared), a late-bound handle that follows whatever is installed when it
/// starts a span. Keep the returned `Tracer` (clones are cheap).
pub fn tracer() -> Tracer {
    installed().unwrap_or_else(Tracer::late)
}

/// The installed tracer, if any.
pub fn installed() -> Option<Tracer> {
    GLOBAL.read().ok().and_then(|g| g.clone())
}

/// Calls `f` with the tracer installed now (a no-op tracer when none is),
/// from this thread's copy: no lock shared between threads, as
/// [`tracer`] takes.
pub fn with_installed<R>(f: impl FnOnce(&Tracer) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = CACHED.try_with(|cached| {
        let mut cached = cached.try_borrow_mut().ok()?;
        if cached.0 != generation {
            *cached = (generation, installed());
        }
        cached.1.clone()
    });
    match cached.ok().flatten() {
        Some(t) => f(&t),
        None => f(&Tracer::noop()),
    }
}
