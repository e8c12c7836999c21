//! Outcome counters shared by the processors.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A snapshot of what a processor did with the spans it received.
///
/// Invariant once idle: `received = exported + dropped + failed`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorStats {
    /// Spans handed to the processor.
    pub received: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped without an export attempt (after shutdown).
    pub dropped: u64,
    /// Spans whose export failed.
    pub failed: u64,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    // Written only on failure, never on the success path.
    pub(crate) last_error: Mutex<Option<String>>,
    report: Mutex<Option<Instant>>,
}

/// At most one diagnostic message per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(5);

impl Counters {
    pub(crate) fn snapshot(&self) -> ProcessorStats {
        ProcessorStats {
            received: self.received.load(Ordering::Relaxed),
            exported: self.exported.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            last_error: self.last_error.lock().map(|e| e.clone()).unwrap_or(None),
        }
    }

    pub(crate) fn record_failure(&self, spans: u64, error: String) {
        self.failed.fetch_add(spans, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
        self.maybe_report();
    }

    pub(crate) fn record_drop(&self, spans: u64) {
        self.dropped.fetch_add(spans, Ordering::Relaxed);
        self.maybe_report();
    }

    /// One `tracing` warning every few seconds at most, with the totals.
    fn maybe_report(&self) {
        let Ok(mut last) = self.report.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < REPORT_EVERY) {
            return;
        }
        *last = Some(now);
        let s = self.snapshot();
        tracing::warn!(
            target: "prela",
            failed = s.failed,
            dropped = s.dropped,
            exported = s.exported,
            last_error = s.last_error.as_deref().unwrap_or(""),
            "prela: spans were not exported"
        );
    }
}
