//! Span processors: how finished spans get from the tracer to an exporter.
//!
//! - [`BatchProcessor`]: a bounded queue and one worker thread per
//!   processor. The thread that ends a span only enqueues it: it never
//!   blocks, never does I/O, and needs no async runtime. When the queue is
//!   full the new span is dropped and counted. The worker exports by size
//!   (`max_export_batch_size`) or age (`scheduled_delay`), retries
//!   transient failures with exponential backoff and full jitter (the
//!   receiver's `Retry-After` taking precedence) within the export timeout,
//!   and never retries permanent ones. Use it for network exporters. An
//!   exporter that takes concurrent calls (OTLP) gets a helper thread, so
//!   one batch is encoded while another is on the wire
//!   ([`BatchConfig::max_concurrent_exports`]).
//! - [`SimpleProcessor`]: exports each span inline as it ends. For tests,
//!   CLIs and local development with the console or file exporter.
//! - [`FanOut`]: several processors behind one, each with its own queue.
//! - [`Redactor`]: scrubs secrets (and, when asked, e-mail addresses and
//!   card numbers) from every span before the processor behind it.
//!
//! ## Honest flush and shutdown
//!
//! `force_flush(deadline)` and `shutdown(deadline)` return by their
//! deadline whatever the exporter does, and return `Ok` only if every span
//! queued before the call was exported; otherwise
//! [`ExportError::NotExported`](prela_core::ExportError::NotExported)
//! carries how many were not. A flush reports what was lost since the
//! previous flush; shutdown reports what was lost over the processor's life.
//!
//! ## Statistics
//!
//! `stats()` ([`ProcessorStats`]) reads atomic counters: received, queued,
//! exported, dropped (queue full, after shutdown), failed, retries, batches,
//! bytes sent, export latency, last error. Once idle,
//! `received = exported + dropped + failed` exactly. Drops and failures are
//! reported through the `tracing` crate at most once every 5 seconds, with
//! totals; nothing is logged per span.
//!
//! ## Feature flags
//!
//! - `http`: [`http::HttpClient`], the hyper + rustls client that network
//!   exporters share, on tokio current-thread runtimes of its own: driven
//!   by the calling thread outside any async runtime, by the client's I/O
//!   thread inside one.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod fanout;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod gzip;
mod handoff;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
pub mod redact;
mod simple;
mod stats;
pub mod text;

pub use batch::{BatchConfig, BatchError, BatchProcessor, BatchProcessorBuilder};
pub use fanout::FanOut;
pub use redact::{RedactionRules, Redactor};
pub use simple::SimpleProcessor;
pub use stats::{LatencySummary, ProcessorStats};
