//! Outcome counters shared by the processors, and what `stats()` returns.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Export latency, summarised from a log2 histogram (so percentiles are
/// upper bounds within a factor of two).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Export calls measured (every attempt, retries included).
    pub count: u64,
    /// Mean duration.
    pub mean: Duration,
    /// Median (upper bound of its bucket).
    pub p50: Duration,
    /// 99th percentile (upper bound of its bucket).
    pub p99: Duration,
    /// Longest.
    pub max: Duration,
}

/// What a processor did with the spans it received: the exporter health
/// figures an SRE watches.
///
/// Once the processor is idle (after a flush or shutdown),
/// `received = exported + dropped_queue_full + dropped_shutdown + failed`,
/// exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessorStats {
    /// Spans handed to the processor.
    pub received: u64,
    /// Spans waiting in the queue now.
    pub queued: u64,
    /// The queue's capacity (0 for processors without one).
    pub queue_capacity: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Spans dropped because they ended after shutdown, or were still
    /// queued or in flight when the shutdown deadline passed.
    pub dropped_shutdown: u64,
    /// Spans whose export failed for good (permanent error, retries or
    /// deadline exhausted, exporter panic).
    pub failed: u64,
    /// Export attempts that were retries.
    pub retries: u64,
    /// Export calls that succeeded.
    pub batches_exported: u64,
    /// Bytes the exporter reports having sent.
    pub bytes_sent: u64,
    /// Export call latency.
    pub latency: LatencySummary,
    /// The last export error, if any.
    pub last_error: Option<String>,
}

impl ProcessorStats {
    /// All spans dropped, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full + self.dropped_shutdown
    }

    /// Spans not exported: dropped or failed.
    pub fn lost(&self) -> u64 {
        self.dropped() + self.failed
    }

    /// The same spans by cause, as a flush or shutdown error reports them.
    pub fn lost_by_cause(&self) -> prela_core::Lost {
        let mut lost = prela_core::Lost::default();
        lost.queue_full = self.dropped_queue_full;
        lost.at_shutdown = self.dropped_shutdown;
        lost.failed = self.failed;
        lost
    }

    /// Exported / (exported + failed), 1.0 when nothing was attempted.
    pub fn success_rate(&self) -> f64 {
        let tried = self.exported + self.failed;
        if tried == 0 {
            1.0
        } else {
            self.exported as f64 / tried as f64
        }
    }

    /// Dropped / received, 0.0 when nothing was received.
    pub fn drop_rate(&self) -> f64 {
        if self.received == 0 {
            0.0
        } else {
            self.dropped() as f64 / self.received as f64
        }
    }
}

const BUCKETS: usize = 40;

/// Lock-free latency histogram: bucket `i` counts durations below `2^i` µs.
#[derive(Debug)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_us: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub(crate) fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        let i = (u64::BITS - us.leading_zeros()) as usize;
        self.buckets[i.min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub(crate) fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let count: u64 = counts.iter().sum();
        if count == 0 {
            return LatencySummary::default();
        }
        let pct = |p: f64| {
            let rank = ((count as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return Duration::from_micros(1u64 << i.min(62));
                }
            }
            Duration::from_micros(u64::MAX)
        };
        let max = Duration::from_micros(self.max_us.load(Ordering::Relaxed));
        LatencySummary {
            count,
            mean: Duration::from_micros(self.sum_us.load(Ordering::Relaxed) / count),
            p50: pct(0.5).min(max),
            p99: pct(0.99).min(max),
            max,
        }
    }
}

/// Counters written by producers (drops) and by the worker (outcomes).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) exported: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_shutdown: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) latency: Histogram,
    // Written only on failure, never on the success path.
    last_error: Mutex<Option<String>>,
    report: Mutex<Option<Instant>>,
}

/// At most one diagnostic message per this interval.
const REPORT_EVERY: Duration = Duration::from_secs(5);

impl Counters {
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    pub(crate) fn set_last_error(&self, error: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }

    /// Fills the outcome fields of `stats`.
    pub(crate) fn fill(&self, stats: &mut ProcessorStats) {
        stats.exported = self.exported.load(Ordering::Relaxed);
        stats.failed = self.failed.load(Ordering::Relaxed);
        stats.dropped_queue_full = self.dropped_queue_full.load(Ordering::Relaxed);
        stats.dropped_shutdown = self.dropped_shutdown.load(Ordering::Relaxed);
        stats.retries = self.retries.load(Ordering::Relaxed);
        stats.batches_exported = self.batches.load(Ordering::Relaxed);
        stats.latency = self.latency.summary();
        stats.last_error = self.last_error();
    }

    /// Called after counting a drop or failure whose running total is
    /// `total`: checks the clock only on the first and every 1024th, so the
    /// drop path stays a couple of atomic operations.
    pub(crate) fn maybe_report_at(&self, total: u64) {
        if total & 1023 == 1 {
            self.maybe_report();
        }
    }

    /// One `tracing` warning every few seconds at most, with the totals;
    /// nothing per span.
    pub(crate) fn maybe_report(&self) {
        let Ok(mut last) = self.report.try_lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < REPORT_EVERY) {
            return;
        }
        *last = Some(now);
        tracing::warn!(
            target: "prela",
            failed = self.failed.load(Ordering::Relaxed),
            dropped_queue_full = self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_shutdown = self.dropped_shutdown.load(Ordering::Relaxed),
            exported = self.exported.load(Ordering::Relaxed),
            last_error = self.last_error().as_deref().unwrap_or(""),
            "prela: spans were not exported"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_summary() {
        let h = Histogram::default();
        assert_eq!(h.summary(), LatencySummary::default());
        for ms in [1u64, 1, 1, 2, 100] {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 5);
        assert_eq!(s.max, Duration::from_millis(100));
        assert_eq!(s.mean, Duration::from_micros(21_000));
        assert!(s.p50 >= Duration::from_millis(1) && s.p50 <= Duration::from_micros(1024));
        assert_eq!(s.p99, Duration::from_millis(100));
    }

    #[test]
    fn rates() {
        let s = ProcessorStats {
            received: 10,
            exported: 6,
            failed: 2,
            dropped_queue_full: 2,
            ..ProcessorStats::default()
        };
        assert_eq!(s.lost(), 4);
        assert!((s.success_rate() - 0.75).abs() < 1e-9);
        assert!((s.drop_rate() - 0.2).abs() < 1e-9);
    }
}
