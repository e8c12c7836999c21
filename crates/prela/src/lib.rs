//! # Prela: tracing for AI agents and services
//!
//! Record every agent step, LLM call, tool call and retrieval as spans in a
//! trace; see them on the console while developing, keep them in JSONL
//! files, and (with the network exporters) ship them to an OpenTelemetry
//! collector or to Prela cloud. No async runtime is needed, and the span hot
//! path has no lock that every thread contends for: each thread queues its
//! spans in one of a few lanes (two per CPU), each with a lock of its own.
//!
//! ```
//! use prela::SpanType;
//!
//! let _guard = prela::init().service_name("research-agent").exporter_name("none").install()?;
//! let tracer = prela::tracer();
//! {
//!     let mut agent = tracer.span_builder("research_agent").span_type(SpanType::Agent).enter();
//!     agent.set_attribute("agent.input", "What changed in Rust 1.83?");
//!     let mut llm = tracer.span_builder("chat gpt-4o").span_type(SpanType::Llm).start();
//!     llm.set_attribute("gen_ai.request.model", "gpt-4o");
//!     llm.set_attribute("gen_ai.usage.input_tokens", 412);
//!     llm.end();
//! }
//! # Ok::<(), prela::InitError>(())
//! ```
//!
//! `init()` reads `PRELA_*` and `OTEL_*` variables (code wins over
//! `PRELA_*`, which wins over `OTEL_*`); an invalid value fails `install`
//! with an error naming the variable and the value. The guard flushes and
//! shuts down on drop, and says in one line if spans were not exported.
//!
//! ## Crates
//!
//! | module | crate | what |
//! |---|---|---|
//! | [`core`] | `prela-core` | span model, traits, Prela JSON |
//! | [`context`] | `prela-context` | current span, W3C propagation |
//! | [`sampling`] | `prela-sampling` | samplers |
//! | [`transport`] | `prela-transport` | processors |
//! | `console` | `prela-export-console` | console exporter (feature `console`) |
//! | `file` | `prela-export-file` | file exporter (feature `file`) |
//! | `otlp` | `prela-export-otlp` | OTLP exporter (feature `otlp`) |
//! | `cloud` | `prela-export-cloud` | Prela cloud exporter (feature `cloud`) |
//! | `tracing` | `prela-tracing` | `tracing` layer and logging exporter (feature `tracing`) |
//!
//! ## Feature flags
//!
//! - `console` (default): the console exporter, as `prela::console`.
//! - `macros` (default): `#[prela::span]` and the typed forms
//!   `#[prela::agent]`, `#[prela::llm]`, `#[prela::tool]`,
//!   `#[prela::retrieval]`, `#[prela::embedding]`.
//! - `file`: the JSONL file exporter, as `prela::file`.
//! - `otlp`: the OTLP exporter (HTTP/protobuf, HTTP/JSON, gRPC; TLS), as
//!   `prela::otlp`; `PRELA_EXPORTER=otlp` or `OTEL_TRACES_EXPORTER=otlp`.
//! - `cloud`: the Prela cloud exporter, as `prela::cloud`; chosen when
//!   `PRELA_API_KEY` is set and no exporter is named.
//! - `tracing`: the `tracing` bridge, as `prela::tracing`.
//! - `tokio`: [`spawn`], [`spawn_blocking`] and [`spawn_in`], tokio tasks
//!   that carry the caller's context.
//! - `full`: all of the above.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
mod config;
mod global;
#[cfg(feature = "tokio")]
mod task;

pub use config::{Builder, Guard, InitError, ProcessorKind, parse_resource_attributes};
pub use global::tracer;

pub use prela_context::{Baggage, Context, FutureExt};
pub use prela_core::{
    Event, ExportError, ExportResult, Key, KeyValue, Lost, Resource, SpanContext, SpanData,
    SpanExporter, SpanId, SpanProcessor, SpanType, Status, TraceFlags, TraceId, Value,
};
pub use prela_tracer::{
    Instrumented, Span, SpanBuilder, SpanFutureExt, SpanGuard, SpanLimits, Tracer,
    add_event_to_current, with_current_span,
};

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use task::{spawn, spawn_blocking, spawn_in};

/// Attribute macros: a span around a function, sync or `async`; see
/// [`prela_macros`](https://docs.rs/prela-macros) for the options.
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use prela_macros::{agent, embedding, llm, retrieval, span, tool};

/// The span model, traits and Prela JSON (`prela-core`).
pub use prela_core as core;

/// Context and W3C propagation (`prela-context`).
pub use prela_context as context;

/// Samplers (`prela-sampling`).
pub use prela_sampling as sampling;

/// Processors (`prela-transport`).
pub use prela_transport as transport;

/// Console exporter (`prela-export-console`).
#[cfg(feature = "console")]
#[cfg_attr(docsrs, doc(cfg(feature = "console")))]
pub use prela_export_console as console;

/// File exporter (`prela-export-file`).
#[cfg(feature = "file")]
#[cfg_attr(docsrs, doc(cfg(feature = "file")))]
pub use prela_export_file as file;

/// OTLP exporter (`prela-export-otlp`).
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use prela_export_otlp as otlp;

/// Prela cloud exporter (`prela-export-cloud`).
#[cfg(feature = "cloud")]
#[cfg_attr(docsrs, doc(cfg(feature = "cloud")))]
pub use prela_export_cloud as cloud;

/// The `tracing` bridge (`prela-tracing`): `PrelaLayer` and `LogExporter`.
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use prela_tracing as tracing;

/// Starts configuring Prela; finish with [`Builder::install`].
pub fn init() -> Builder {
    Builder::default()
}

/// `init().install()`: everything from the environment.
pub fn init_from_env() -> Result<Guard, InitError> {
    init().install()
}

/// The README's examples, compiled and run as doctests (they use the
/// macros).
#[cfg(all(doctest, feature = "macros"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

/// The Rust code blocks of `docs/`, compiled and run as doctests (they use
/// every exporter, so only with every feature on).
#[cfg(all(
    doctest,
    feature = "console",
    feature = "file",
    feature = "otlp",
    feature = "cloud",
    feature = "tracing",
    feature = "macros",
    feature = "tokio"
))]
mod docs_doctests {
    #[doc = include_str!("../../../docs/genai.md")]
    struct GenAi;
    #[doc = include_str!("../../../docs/concepts.md")]
    struct Concepts;
    #[doc = include_str!("../../../docs/console.md")]
    struct Console;
    #[doc = include_str!("../../../docs/custom-exporter.md")]
    struct CustomExporter;
    #[doc = include_str!("../../../docs/tracing.md")]
    struct Tracing;
    #[doc = include_str!("../../../docs/otlp.md")]
    struct Otlp;
    #[doc = include_str!("../../../docs/migrating-from-opentelemetry.md")]
    struct Migrating;
    #[doc = include_str!("../../../docs/configuration.md")]
    struct Configuration;
    #[doc = include_str!("../../../docs/reliability.md")]
    struct Reliability;
}
