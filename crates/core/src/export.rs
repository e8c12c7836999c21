//! The exporter and processor contracts.

use std::fmt;
use std::time::{Duration, Instant};

use crate::span::SpanData;

/// Spans a processor did not export, by cause: what
/// [`ExportError::NotExported`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lost {
    /// Dropped when they ended, because the queue was full.
    pub queue_full: u64,
    /// Dropped at shutdown: ended after it, or still queued or in flight
    /// when its deadline passed.
    pub at_shutdown: u64,
    /// Handed to the exporter and failed for good (refused, retries or the
    /// export deadline exhausted).
    pub failed: u64,
    /// Still queued or in flight when a flush's deadline passed: not lost
    /// yet, but not exported by the flush.
    pub unsettled: u64,
}

impl Lost {
    /// Every span counted.
    pub fn total(&self) -> u64 {
        self.queue_full
            .saturating_add(self.at_shutdown)
            .saturating_add(self.failed)
            .saturating_add(self.unsettled)
    }

    /// The counts since `earlier`, an earlier reading of the same counters.
    pub fn since(&self, earlier: &Lost) -> Lost {
        Lost {
            queue_full: self.queue_full.saturating_sub(earlier.queue_full),
            at_shutdown: self.at_shutdown.saturating_sub(earlier.at_shutdown),
            failed: self.failed.saturating_sub(earlier.failed),
            unsettled: self.unsettled.saturating_sub(earlier.unsettled),
        }
    }

    /// Both counts added.
    pub fn plus(&self, other: &Lost) -> Lost {
        Lost {
            queue_full: self.queue_full.saturating_add(other.queue_full),
            at_shutdown: self.at_shutdown.saturating_add(other.at_shutdown),
            failed: self.failed.saturating_add(other.failed),
            unsettled: self.unsettled.saturating_add(other.unsettled),
        }
    }

    /// The non-zero counts, with what each means.
    fn parts(&self) -> Vec<(u64, &'static str)> {
        [
            (self.queue_full, "dropped because the queue was full"),
            (self.at_shutdown, "dropped at shutdown"),
            (self.failed, "failed to export"),
            (self.unsettled, "still queued at the flush deadline"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .collect()
    }
}

impl ExportError {
    /// [`ExportError::NotExported`] for these counts, its `count` their
    /// total.
    pub fn not_exported(lost: Lost, last_error: Option<String>) -> ExportError {
        ExportError::NotExported {
            count: lost.total(),
            lost,
            last_error,
        }
    }
}

/// Why an export, flush or shutdown did not succeed.
///
/// `{:?}` reads as the [`Display`](fmt::Display) sentence, so a `main`
/// that returns this error (or a `Box<dyn Error>` holding it) prints a
/// sentence, not a dump; `{:#?}` shows the variant and its fields.
#[non_exhaustive]
pub enum ExportError {
    /// The exporter or processor was already shut down.
    Shutdown,
    /// The deadline passed before the work was done.
    Timeout,
    /// Writing to a file, pipe or terminal failed.
    Io(std::io::Error),
    /// The transport failed (connection refused, reset, TLS, ...).
    Transport(Box<dyn std::error::Error + Send + Sync>),
    /// The receiver rejected the payload with this status (HTTP or gRPC
    /// code) and message.
    Rejected {
        /// The status code.
        status: u16,
        /// A bounded piece of the response body or status message.
        message: String,
    },
    /// The spans could not be encoded.
    Encode(String),
    /// Some spans were not exported by a flush or shutdown.
    NotExported {
        /// How many spans were not exported: `lost.total()`.
        count: u64,
        /// How many for each cause.
        lost: Lost,
        /// The last export error seen, if any (for a refused connection,
        /// the host and port that refused).
        last_error: Option<String>,
    },
    /// Anything else, with a message.
    Other(String),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Shutdown => f.write_str("the exporter is shut down"),
            ExportError::Timeout => f.write_str("the deadline passed"),
            ExportError::Io(e) => write!(f, "I/O error: {e}"),
            ExportError::Transport(e) => write!(f, "transport error: {e}"),
            ExportError::Rejected { status, message } => {
                write!(f, "rejected with status {status}")?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            ExportError::Encode(m) => write!(f, "could not encode spans: {m}"),
            ExportError::NotExported {
                count,
                lost,
                last_error,
            } => {
                write!(f, "{count} span(s) were not exported")?;
                let parts = lost.parts();
                for (i, (n, why)) in parts.iter().enumerate() {
                    let sep = match i {
                        0 => ": ",
                        _ if i + 1 == parts.len() => " and ",
                        _ => ", ",
                    };
                    write!(f, "{sep}{n} {why}")?;
                }
                if let Some(e) = last_error {
                    write!(f, "; last error: {e}")?;
                }
                Ok(())
            }
            ExportError::Other(m) => f.write_str(m),
        }
    }
}

impl fmt::Debug for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        match self {
            ExportError::Shutdown => f.write_str("Shutdown"),
            ExportError::Timeout => f.write_str("Timeout"),
            ExportError::Io(e) => f.debug_tuple("Io").field(e).finish(),
            ExportError::Transport(e) => f.debug_tuple("Transport").field(e).finish(),
            ExportError::Rejected { status, message } => f
                .debug_struct("Rejected")
                .field("status", status)
                .field("message", message)
                .finish(),
            ExportError::Encode(m) => f.debug_tuple("Encode").field(m).finish(),
            ExportError::NotExported {
                count,
                lost,
                last_error,
            } => f
                .debug_struct("NotExported")
                .field("count", count)
                .field("lost", lost)
                .field("last_error", last_error)
                .finish(),
            ExportError::Other(m) => f.debug_tuple("Other").field(m).finish(),
        }
    }
}

impl std::error::Error for ExportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExportError::Io(e) => Some(e),
            ExportError::Transport(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ExportError {
    fn from(e: std::io::Error) -> Self {
        ExportError::Io(e)
    }
}

/// What happened to one export call.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExportResult {
    /// Every span in the batch was accepted.
    Success,
    /// Permanent failure (bad data, 400, 401/403): never retried.
    Failure(ExportError),
    /// Transient failure (connect error, timeout, 429, 502/503/504, ...):
    /// retry, after `after` if the receiver said when.
    Retry {
        /// The receiver's requested delay (Retry-After / RetryInfo).
        after: Option<Duration>,
        /// What failed, in one sentence naming the peer (for a refused
        /// connection, its host and port): the reason given when the
        /// retries run out.
        reason: String,
    },
    /// The receiver accepted the batch but rejected some spans for good
    /// (OTLP `partial_success`): those are counted as failed, never retried.
    PartialSuccess {
        /// Spans rejected (at most the batch size).
        rejected: u64,
        /// The receiver's explanation.
        message: String,
    },
}

impl ExportResult {
    /// `true` for `Success`.
    pub fn is_success(&self) -> bool {
        matches!(self, ExportResult::Success)
    }
}

/// Sends finished spans somewhere: a terminal, a file, a collector.
///
/// A processor calls `export` from one thread at a time unless the exporter
/// says, through [`max_concurrent_exports`](Self::max_concurrent_exports),
/// that it takes more. An exporter shared between processors must handle
/// concurrent calls either way, hence `&self`.
pub trait SpanExporter: Send + Sync + 'static {
    /// Exports one batch.
    fn export(&self, batch: &[SpanData]) -> ExportResult;

    /// Writes out anything buffered, returning by `deadline`.
    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        let _ = deadline;
        Ok(())
    }

    /// Flushes and releases resources, returning by `deadline`. Exports after
    /// shutdown fail with [`ExportError::Shutdown`].
    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        self.force_flush(deadline)
    }

    /// Bytes this exporter has put on the wire or disk so far; 0 if it does
    /// not know. Processors report it in their statistics.
    fn bytes_sent(&self) -> u64 {
        0
    }

    /// How many `export` calls a batch processor may run at once for this
    /// exporter by default (1: calls never overlap, batches go out in
    /// order). A network exporter whose calls mostly wait on the receiver
    /// returns 2, so that the next batch is encoded while the previous one
    /// is on the wire; batches may then arrive out of order. The
    /// processor's own setting, when given, wins.
    fn max_concurrent_exports(&self) -> usize {
        1
    }
}

/// `Box<E>` and `Arc<E>` export through the exporter they point to.
macro_rules! exporter_through {
    ($($ptr:ident)::+) => {
        impl<E: SpanExporter + ?Sized> SpanExporter for $($ptr)::+<E> {
            fn export(&self, batch: &[SpanData]) -> ExportResult {
                (**self).export(batch)
            }
            fn bytes_sent(&self) -> u64 {
                (**self).bytes_sent()
            }
            fn max_concurrent_exports(&self) -> usize {
                (**self).max_concurrent_exports()
            }
            fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
                (**self).force_flush(deadline)
            }
            fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
                (**self).shutdown(deadline)
            }
        }
    };
}
exporter_through!(Box);
exporter_through!(std::sync::Arc);

/// Receives every finished, sampled span from a tracer and hands it to an
/// exporter, inline or in batches.
pub trait SpanProcessor: Send + Sync + 'static {
    /// Called when a sampled span ends. Must not block on I/O for long: it
    /// runs on the application's thread.
    fn on_end(&self, span: SpanData);

    /// [`on_end`](Self::on_end) with the span in `slot`: the processor
    /// takes it out, and a span it leaves there is dropped by the caller.
    /// Tracers call this one. A span is 240 bytes and every move of it is
    /// a copy; a processor that stores spans overrides this to move the
    /// span from the slot straight to where it keeps it (the batch
    /// processor: one copy from the span into its queue). The default
    /// takes the span out and calls `on_end`.
    #[inline]
    fn on_end_from(&self, slot: &mut Option<SpanData>) {
        if let Some(span) = slot.take() {
            self.on_end(span);
        }
    }

    /// Exports everything received so far, returning by `deadline`.
    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError>;

    /// Flushes, then shuts the exporter down, returning by `deadline`.
    /// Spans that end afterwards are dropped.
    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError>;
}

/// `Arc<P>` and `Box<P>` process through the processor they point to.
macro_rules! processor_through {
    ($($ptr:ident)::+) => {
        impl<P: SpanProcessor + ?Sized> SpanProcessor for $($ptr)::+<P> {
            fn on_end(&self, span: SpanData) {
                (**self).on_end(span);
            }
            fn on_end_from(&self, slot: &mut Option<SpanData>) {
                (**self).on_end_from(slot);
            }
            fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
                (**self).force_flush(deadline)
            }
            fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
                (**self).shutdown(deadline)
            }
        }
    };
}
processor_through!(std::sync::Arc);
processor_through!(Box);

/// The instant `timeout` from now, saturating: a timeout too long for an
/// `Instant` (`Duration::MAX`, a server's `Retry-After` of 2^64 - 1 s) is
/// a deadline about thirty years away, never an overflow panic. Every
/// deadline in the SDK is made with this.
pub fn deadline_in(timeout: Duration) -> Instant {
    after(Instant::now(), timeout)
}

/// `at + d`, saturating as [`deadline_in`] does.
pub fn after(at: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 3600);
    at.checked_add(d)
        .or_else(|| at.checked_add(FAR))
        .unwrap_or(at)
}

#[cfg(test)]
mod tests {
    #[test]
    fn deadlines_saturate() {
        let now = Instant::now();
        assert!(super::deadline_in(Duration::MAX) > now + Duration::from_secs(3600 * 24 * 365));
        assert_eq!(
            super::after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
        assert!(super::after(now, Duration::from_secs(u64::MAX)) > now);
    }

    use super::*;
    use crate::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::sync::Mutex;
    use std::time::SystemTime;

    /// Keeps what `on_end` is given; `on_end_from` is left to the default.
    #[derive(Default)]
    struct Keep(Mutex<Vec<SpanData>>);

    impl SpanProcessor for Keep {
        fn on_end(&self, span: SpanData) {
            if let Ok(mut v) = self.0.lock() {
                v.push(span);
            }
        }
        fn force_flush(&self, _: Instant) -> Result<(), ExportError> {
            Ok(())
        }
        fn shutdown(&self, _: Instant) -> Result<(), ExportError> {
            Ok(())
        }
    }

    #[test]
    fn on_end_from_takes_the_span_and_hands_it_to_on_end_through_arc_and_box() {
        let t = SystemTime::UNIX_EPOCH;
        let span = |id| {
            SpanData::new(
                SpanContext::new(
                    TraceId::from_u128(1),
                    SpanId::from_u64(id),
                    TraceFlags::SAMPLED,
                ),
                "s",
                t,
                t,
            )
        };
        let keep = std::sync::Arc::new(Keep::default());
        let boxed: Box<dyn SpanProcessor> = Box::new(keep.clone());
        let mut slot = Some(span(1));
        keep.on_end_from(&mut slot);
        assert!(slot.is_none());
        let mut slot = Some(span(2));
        boxed.on_end_from(&mut slot);
        assert!(slot.is_none());
        // An empty slot hands on nothing.
        boxed.on_end_from(&mut None);
        let ids: Vec<SpanId> = keep
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|s| s.span_context.span_id)
            .collect();
        assert_eq!(ids, [SpanId::from_u64(1), SpanId::from_u64(2)]);
    }
}
