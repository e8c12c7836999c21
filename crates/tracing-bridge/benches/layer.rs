//! Cost per `tracing` span of the Prela layer against `tracing-opentelemetry`
//! + `opentelemetry_sdk`, on the same spans, both exporting to nowhere.
//!
//! `cargo bench -p prela-tracing --bench layer`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::trace::TracerProvider as _;
use prela_core::{ExportError, SpanData, SpanProcessor};
use prela_tracing::PrelaLayer;
use tracing_subscriber::layer::SubscriberExt;

struct Discard;

impl SpanProcessor for Discard {
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self, _: Instant) -> Result<(), ExportError> {
        Ok(())
    }
    fn shutdown(&self, _: Instant) -> Result<(), ExportError> {
        Ok(())
    }
}

/// An OpenTelemetry exporter that discards, so both sides do the same work.
#[derive(Debug)]
struct OtelDiscard;

impl opentelemetry_sdk::trace::SpanExporter for OtelDiscard {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A root span with one child carrying 4 fields and an event.
fn workload() {
    let root = tracing::info_span!("agent.run");
    let _r = root.enter();
    let child = tracing::info_span!(
        "llm.call",
        gen_ai.request.model = "gpt-4o",
        gen_ai.request.temperature = 0.7,
        llm.stream = false,
        gen_ai.usage.input_tokens = 412u64
    );
    let _c = child.enter();
    tracing::info!(index = 0, "gen_ai.choice");
}

fn bridge(c: &mut Criterion) {
    let tracer = prela_tracer::Tracer::builder().processor(Discard).build();
    let prela = tracing_subscriber::registry().with(PrelaLayer::new(tracer));
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(OtelDiscard)
        .build();
    let otel = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
    let mut g = c.benchmark_group("tracing bridge: 2 spans, 4 fields, 1 event");
    tracing::subscriber::with_default(prela, || {
        g.bench_function("prela-tracing", |b| b.iter(workload))
    });
    tracing::subscriber::with_default(otel, || {
        g.bench_function("tracing-opentelemetry + opentelemetry_sdk", |b| {
            b.iter(workload)
        });
    });
    g.finish();
}

criterion_group!(benches, bridge);
criterion_main!(benches);
