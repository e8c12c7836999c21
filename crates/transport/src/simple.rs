//! [`SimpleProcessor`]: exports each span as it ends, on the caller's thread.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use prela_core::{ExportError, ExportResult, SpanData, SpanExporter, SpanProcessor};

use crate::stats::{Counters, ProcessorStats};

/// Exports every span inline, as it ends, on the thread that ended it.
///
/// Right for tests, command-line tools and the console or file exporters in
/// development: nothing is buffered, so nothing is lost at exit. Wrong for a
/// network exporter in a service: the export runs on the application's
/// thread. A `Retry` result is not retried here (that would block the
/// caller); it counts as failed, like `Failure`.
#[derive(Debug)]
pub struct SimpleProcessor<E> {
    exporter: E,
    shut_down: AtomicBool,
    received: AtomicU64,
    counters: Counters,
    redaction: Option<crate::redact::RedactionRules>,
}

impl<E: SpanExporter> SimpleProcessor<E> {
    /// Wraps an exporter.
    pub fn new(exporter: E) -> Self {
        SimpleProcessor {
            exporter,
            shut_down: AtomicBool::new(false),
            received: AtomicU64::new(0),
            counters: Counters::default(),
            redaction: None,
        }
    }

    /// Scrubs every span with `rules` before export (inline, like the
    /// export itself).
    #[must_use]
    pub fn with_redaction(mut self, rules: crate::redact::RedactionRules) -> Self {
        self.redaction = Some(rules);
        self
    }

    /// What happened to the spans so far.
    pub fn stats(&self) -> ProcessorStats {
        let mut s = ProcessorStats {
            received: self.received.load(Ordering::Relaxed),
            bytes_sent: self.exporter.bytes_sent(),
            ..ProcessorStats::default()
        };
        self.counters.fill(&mut s);
        s
    }

    fn fail(&self, error: String) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        self.counters.set_last_error(error);
        self.counters.maybe_report();
    }

    /// The wrapped exporter.
    pub fn exporter(&self) -> &E {
        &self.exporter
    }
}

impl<E: SpanExporter> SpanProcessor for SimpleProcessor<E> {
    fn on_end(&self, mut span: SpanData) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if let Some(rules) = &self.redaction {
            rules.apply(&mut span);
        }
        if self.shut_down.load(Ordering::Acquire) {
            self.counters
                .dropped_shutdown
                .fetch_add(1, Ordering::Relaxed);
            self.counters.maybe_report();
            return;
        }
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _own = prela_core::thread::enter_export();
            self.exporter.export(std::slice::from_ref(&span))
        }));
        self.counters.latency.record(start.elapsed());
        match outcome {
            Ok(ExportResult::Success) => {
                self.counters.exported.fetch_add(1, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Ok(ExportResult::PartialSuccess { rejected, message }) if rejected > 0 => {
                self.fail(format!("the receiver rejected the span: {message}"));
            }
            Ok(ExportResult::PartialSuccess { .. }) => {
                self.counters.exported.fetch_add(1, Ordering::Relaxed);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
            }
            Ok(ExportResult::Failure(e)) => self.fail(e.to_string()),
            Ok(ExportResult::Retry { reason, .. }) => {
                self.fail(format!("{reason} (not retried inline)"))
            }
            // A failing exporter must not take the application down with it.
            Err(_) => self.fail("the exporter panicked".into()),
            Ok(_) => self.fail("unknown export result".into()),
        }
    }

    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        self.exporter.force_flush(deadline)
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(()); // idempotent
        }
        let flushed = self.exporter.shutdown(deadline);
        let s = self.stats();
        let lost = s.lost();
        match flushed {
            Err(e) => Err(e),
            Ok(()) if lost > 0 => Err(ExportError::not_exported(s.lost_by_cause(), s.last_error)),
            Ok(()) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prela_core::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::sync::Mutex;
    use std::time::{Duration, SystemTime};

    struct Scripted(Mutex<Vec<ExportResult>>);

    impl SpanExporter for Scripted {
        fn export(&self, _: &[SpanData]) -> ExportResult {
            match self.0.lock().unwrap().pop() {
                Some(r) => r,
                None => panic!("scripted exporter ran out"),
            }
        }
    }

    fn span() -> SpanData {
        let cx = SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
        );
        SpanData::new(cx, "s", SystemTime::now(), SystemTime::now())
    }

    #[test]
    fn counts_every_outcome_and_survives_a_panic() {
        let p = SimpleProcessor::new(Scripted(Mutex::new(vec![
            ExportResult::Retry {
                after: None,
                reason: "busy".into(),
            },
            ExportResult::Failure(ExportError::Other("bad".into())),
            ExportResult::Success,
        ])));
        for _ in 0..4 {
            p.on_end(span()); // the 4th panics inside the exporter
        }
        let s = p.stats();
        assert_eq!(
            (s.received, s.exported, s.failed, s.dropped()),
            (4, 1, 3, 0)
        );
        assert_eq!(s.last_error.as_deref(), Some("the exporter panicked"));
        let deadline = Instant::now() + Duration::from_secs(1);
        let err = p.shutdown(deadline).unwrap_err();
        assert!(
            err.to_string().contains("3 span(s) were not exported"),
            "{err}"
        );
        assert!(p.shutdown(deadline).is_ok(), "shutdown is idempotent");
        p.on_end(span());
        let s = p.stats();
        assert_eq!(s.dropped_shutdown, 1);
        assert_eq!(s.received, s.exported + s.failed + s.dropped());
    }
}
