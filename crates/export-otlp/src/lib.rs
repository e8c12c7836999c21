//! OTLP exporter for the Prela tracing SDK.
//!
//! This crate maps Prela spans to OTLP messages (`opentelemetry-proto` and
//! `prost`), encoded as protobuf or with the OTLP JSON mapping. Span types
//! travel as the `prela.span.type` attribute; `llm`, `retrieval` and
//! `embedding` spans are kind CLIENT, the others INTERNAL; `success` maps to
//! status OK and `error` to ERROR with its message.
//!
//! The transport (OTLP/HTTP, OTLP/gRPC, TLS) is being built; see the
//! project's open issues.
//!
//! ## Feature flags
//!
//! None yet.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod encode;
pub mod json;

pub use opentelemetry_proto::tonic as proto;
