//! The span model of the Prela tracing SDK: ids, [`SpanData`], values, the
//! [`SpanExporter`], [`SpanProcessor`] and [`Sampler`] traits, and the Prela
//! JSON format.
//!
//! Most users depend on the `prela` facade, which re-exports this crate.
//! Depend on `prela-core` directly to write an exporter, a processor or a
//! sampler without pulling in the rest of the SDK: it needs only `serde`,
//! `serde_json` and `crossbeam-channel` (for the [`pool`] of recycled
//! attribute and event vectors).
//!
//! ## Feature flags
//!
//! None: this crate has no optional features.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod attributes;
pub mod config;
pub mod context;
pub mod export;
pub mod id;
pub mod json;
pub mod pool;
pub mod sampler;
pub mod span;
pub mod thread;
pub mod time;
pub mod value;

pub use context::{SpanContext, TraceState};
pub use export::{ExportError, ExportResult, Lost, SpanExporter, SpanProcessor, deadline_in};
pub use id::{SpanId, TraceFlags, TraceId};
pub use sampler::{Sampler, SamplingDecision, SamplingParams, SamplingResult};
pub use span::{Event, Resource, SpanData, SpanType, Status};
pub use value::{Key, KeyValue, Value};
