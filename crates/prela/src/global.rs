//! The global tracer.

use std::sync::RwLock;

use prela_tracer::Tracer;

static GLOBAL: RwLock<Option<Tracer>> = RwLock::new(None);

pub(crate) fn set(tracer: Tracer) {
    if let Ok(mut g) = GLOBAL.write() {
        *g = Some(tracer);
    }
}

/// Removes `tracer` if it is still the global one.
pub(crate) fn clear(tracer: &Tracer) {
    if let Ok(mut g) = GLOBAL.write() {
        if g.as_ref().is_some_and(|t| t.same_as(tracer)) {
            *g = None;
        }
    }
}

/// The global tracer installed by `prela::init()...install()`, or a no-op
/// tracer (valid contexts, nothing recorded) before that and after the guard
/// drops. Keep the returned `Tracer` (clones are cheap) rather than calling
/// this for every span.
pub fn tracer() -> Tracer {
    GLOBAL
        .read()
        .ok()
        .and_then(|g| g.clone())
        .unwrap_or_else(noop)
}

fn noop() -> Tracer {
    static NOOP: std::sync::OnceLock<Tracer> = std::sync::OnceLock::new();
    NOOP.get_or_init(Tracer::noop).clone()
}
