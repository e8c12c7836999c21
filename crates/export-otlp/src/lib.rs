//! OTLP exporter for the Prela tracing SDK.
//!
//! This crate maps Prela spans to OTLP messages (`opentelemetry-proto` and
//! `prost`), encoded as protobuf or with the OTLP JSON mapping. Span types
//! travel as the `prela.span.type` attribute; `llm`, `retrieval` and
//! `embedding` spans are kind CLIENT, the others INTERNAL; `success` maps to
//! status OK and `error` to ERROR with its message.
//!
//! [`OtlpExporter`] sends them over OTLP/HTTP (protobuf or JSON) or
//! OTLP/gRPC (without tonic), on the shared hyper + rustls client of
//! `prela-transport`, which runs on tokio runtimes of its own, never the
//! caller's: the exporter works from a plain `fn main` and from inside any
//! async runtime.
//!
//! ```no_run
//! use prela_export_otlp::{OtlpExporter, Protocol, Compression};
//! let exporter = OtlpExporter::builder()
//!     .endpoint("http://localhost:4318/v1/traces")
//!     .protocol(Protocol::HttpProtobuf)
//!     .compression(Compression::Gzip)
//!     .build()?;
//! # Ok::<(), prela_export_otlp::OtlpError>(())
//! ```
//!
//! Responses follow the OTLP specification: HTTP 429, 502, 503, 504 and the
//! retryable gRPC codes give `Retry` (with `Retry-After` or `RetryInfo`),
//! other failures are permanent and carry the status and a bounded piece of
//! the body, and `partial_success` rejections become `PartialSuccess`.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod encode;
mod exporter;
pub mod grpc;
pub mod json;
pub mod wire;

pub use encode::decode_request;
pub use exporter::{
    Compression, MAX_REQUEST_BYTES, OtlpError, OtlpExporter, OtlpExporterBuilder, Protocol,
    parse_retry_after,
};

pub use opentelemetry_proto::tonic as proto;
