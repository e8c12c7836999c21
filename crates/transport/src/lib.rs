//! Span processors: how finished spans get from the tracer to an exporter.
//!
//! - [`SimpleProcessor`]: exports each span inline as it ends. For tests,
//!   CLIs and local development with the console or file exporter.
//!
//! Every processor counts what happened to the spans it received
//! ([`ProcessorStats`]): exported, dropped or failed, and the last error.
//! Failures are reported through the `tracing` crate at most once every few
//! seconds, with totals; nothing is logged per span.
//!
//! ## Feature flags
//!
//! None yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod simple;
mod stats;

pub use simple::SimpleProcessor;
pub use stats::ProcessorStats;
