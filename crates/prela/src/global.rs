//! The global tracer.

use prela_tracer::Tracer;

pub(crate) fn set(tracer: Tracer) {
    prela_tracer::global::set(tracer);
}

/// Removes `tracer` if it is still the global one.
pub(crate) fn clear(tracer: &Tracer) {
    prela_tracer::global::clear(tracer);
}

/// The global tracer installed by `prela::init()...install()`.
///
/// Taken before `install()` (for example to build
/// `PrelaLayer::new(prela::tracer())` when logging is set up first), it is
/// a late-bound handle: every span it starts goes to the tracer installed
/// at that moment, so it records once `install()` has run. Spans it
/// started before that, or after the guard dropped, are not recorded
/// (their contexts are valid, so propagation still works). Keep the
/// returned `Tracer` (clones are cheap) rather than calling this for every
/// span.
pub fn tracer() -> Tracer {
    prela_tracer::global::tracer()
}
