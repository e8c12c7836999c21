//! The SDK never traces itself: `tracing` spans and events raised on its
//! own threads or inside an export call (hyper, h2) do not become Prela
//! spans, and a span started inside an exporter is not recorded, under
//! either processor. Its own test binary: it sets the global subscriber
//! and the global tracer.
#![cfg(all(feature = "otlp", feature = "tracing"))]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use prela::otlp::{OtlpExporter, Protocol, grpc};
use prela::transport::BatchProcessor;
use prela::{ExportResult, ProcessorKind, SpanData, SpanExporter};
use prela_testkit::{Collect, Reply, ScriptedServer};
use tracing_subscriber::layer::SubscriberExt;

/// An exporter that starts a span of the global tracer while it exports.
struct Reentrant(Collect);

impl SpanExporter for Reentrant {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        let _inside = prela::tracer().span("inside export");
        tracing::info_span!("tracing inside export").in_scope(|| tracing::info!("exporting"));
        self.0.export(batch)
    }
}

fn flush(guard: &prela::Guard) {
    guard.force_flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn the_sdk_does_not_trace_itself() {
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(prela::tracing::PrelaLayer::new(prela::tracer())),
    )
    .unwrap();

    // The network exporters, each behind its batch worker, beside a
    // processor that keeps every span it is given.
    let grpc_ok = Reply::Grpc {
        body: grpc::frame(&[], false),
        trailers: vec![("grpc-status".into(), b"0".to_vec())],
    };
    let grpc_server = ScriptedServer::start_with_default(Vec::new(), grpc_ok);
    let http_server = ScriptedServer::start_with_default(Vec::new(), Reply::status(200));
    let grpc = OtlpExporter::builder()
        .endpoint(grpc_server.url())
        .protocol(Protocol::Grpc)
        .env(|_| None)
        .build()
        .unwrap();
    let http = OtlpExporter::builder()
        .base_endpoint(http_server.url())
        .env(|_| None)
        .build()
        .unwrap();
    let seen = Collect::default();
    let guard = prela::init()
        .processor(BatchProcessor::builder(grpc).build().unwrap())
        .processor(BatchProcessor::builder(http).build().unwrap())
        .processor(seen.clone())
        .env(|_| None)
        .install()
        .unwrap();
    for i in 0..5 {
        tracing::info_span!("app tracing span", i).in_scope(|| tracing::info!("working"));
        prela::tracer().span("app prela span");
        flush(&guard);
        std::thread::sleep(Duration::from_millis(20));
    }
    flush(&guard);
    let names: Vec<String> = seen.take().iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names.len(), 10, "only the application's spans: {names:?}");
    assert!(names.iter().all(|n| n.starts_with("app ")), "{names:?}");
    assert!(grpc_server.received().len() >= 5 && http_server.received().len() >= 5);
    guard.shutdown().unwrap();

    // An exporter that starts spans while exporting, inline and batched:
    // no recursion (a stack overflow before), no feedback, and only the
    // application's span is exported.
    for kind in [ProcessorKind::Simple, ProcessorKind::Batch] {
        let exported = Collect::default();
        let guard = prela::init()
            .exporter(Reentrant(exported.clone()))
            .processor_kind(kind)
            .env(|_| None)
            .install()
            .unwrap();
        prela::tracer().span("app span");
        flush(&guard);
        std::thread::sleep(Duration::from_millis(20));
        flush(&guard);
        let names: Vec<String> = exported.take().iter().map(|s| s.name.to_string()).collect();
        assert_eq!(names, ["app span"], "{kind:?}");
        guard.shutdown().unwrap();
    }
}
