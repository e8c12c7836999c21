//! The tracer of the Prela SDK: starts spans, records attributes, events and
//! errors, and hands finished spans to processors.
//!
//! - [`Tracer::span`] starts a span under the current one, makes it current,
//!   and ends it when the returned [`SpanGuard`] drops.
//! - [`Tracer::start_span`] / [`SpanBuilder::start`] start a [`Span`] without
//!   making it current (for async code, with `FutureExt::with_context`).
//! - [`SpanLimits`] bound attributes and events; what goes over is counted.
//! - [`clock::now`] is the clock spans read: the CPU's time-stamp counter
//!   anchored to the wall clock, at under half the cost of
//!   `SystemTime::now`.
//!
//! The tracer's hot path (start, set attributes, add an event, end) takes no
//! lock: ids come from a per-thread generator, the current context is
//! thread-local, and the span's data is owned by its handle until it ends,
//! when it goes to the processors (the batch processor queues it under the
//! lock of the calling thread's lane). An unsampled span allocates nothing.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod active;
pub mod clock;
pub mod genai;
pub mod global;
mod id;
mod limits;
mod span;
mod tracer;
mod wide;

pub use active::{Instrumented, SpanFutureExt, add_event_to_current, with_current_span};
pub use genai::GenAiSpanBuilder;
pub use id::{IdGenerator, RandomIdGenerator};
pub use limits::SpanLimits;
pub use span::{Span, SpanGuard};
pub use tracer::{SpanBuilder, Tracer, TracerBuilder};
