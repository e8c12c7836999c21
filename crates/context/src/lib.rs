//! Which span is active, and how that crosses threads, tasks and processes.
//!
//! - [`Context`]: the active span's [`SpanContext`](prela_core::SpanContext)
//!   and the [`Baggage`], current per thread; [`Context::attach`] makes one
//!   current until its guard drops, so a context can be carried to another
//!   thread.
//! - [`FutureExt::with_context`]: carries a context into a future, on any
//!   async runtime (or none).
//! - [`propagation`]: W3C Trace Context (`traceparent`, `tracestate`, Level 2
//!   random flag) and W3C Baggage through the [`Injector`] and [`Extractor`]
//!   traits, implemented for `HashMap<String, String>` and `http::HeaderMap`.
//!
//! ```
//! use std::collections::HashMap;
//! use prela_context::{Context, propagation::{self, TextMapPropagator, W3cPropagator}};
//!
//! let mut headers = HashMap::new();
//! headers.insert("traceparent".to_owned(),
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
//! let cx = propagation::extract(&headers);
//! assert!(cx.span().unwrap().is_sampled());
//!
//! let mut out = HashMap::new();
//! W3cPropagator::new().inject(&cx, &mut out);
//! assert_eq!(out["traceparent"], headers["traceparent"]);
//! ```
//!
//! ## Feature flags
//!
//! - `http` (default): `Injector` and `Extractor` for `http::HeaderMap`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod baggage;
mod context;
pub mod propagation;

pub use baggage::Baggage;
pub use context::{Context, ContextGuard, FutureExt, WithContext};
pub use propagation::{Extractor, Injector, TextMapPropagator};
