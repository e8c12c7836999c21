//! The `tracing` bridge of the Prela SDK.
//!
//! - [`PrelaLayer`]: a `tracing-subscriber` layer. Spans from
//!   `#[tracing::instrument]` and `tracing::span!` become Prela spans, with
//!   their fields as attributes; `tracing` events inside a span become span
//!   events; parents are kept, across `.instrument()`ed futures too; and
//!   Prela spans started inside a `tracing` span (and the other way round)
//!   nest correctly. The subscriber's filters apply: a filtered-out span
//!   never reaches the layer, and an unsampled one records nothing.
//! - [`LogExporter`]: finished spans as `tracing` events, one per span.
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! let tracer = prela_tracer::Tracer::builder().build();
//! let subscriber = tracing_subscriber::registry().with(prela_tracing::PrelaLayer::new(tracer));
//! tracing::subscriber::with_default(subscriber, || {
//!     let _g = tracing::info_span!("chat gpt-4o", "prela.span_type" = "llm", gen_ai.usage.input_tokens = 412).entered();
//!     tracing::info!(tokens = 87, "model answered");
//! });
//! ```
//!
//! ## Special fields
//!
//! | field | effect |
//! |---|---|
//! | `prela.span_type` | the span type: `agent`, `llm`, `tool`, `retrieval`, `embedding`, `custom` (default) |
//! | `otel.name`, `prela.name` | the span name (default: the `tracing` span's name) |
//! | `otel.status_code`, `prela.status` | `error` or `ok`/`success` |
//! | `otel.status_message` | the error message with `otel.status_code = "error"` |
//! | `error` | on a span or an event: recorded as `record_error` does (`error.type`, `error.message`, an `exception` event, status error); a `&dyn Error` value keeps its sources |
//! | `message` | an event's name |
//!
//! Every other field becomes an attribute (integers, floats, booleans and
//! strings as such; `Debug` values as text). Events also carry their
//! `level`.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod layer;
mod log;

pub use layer::PrelaLayer;
pub use log::LogExporter;
