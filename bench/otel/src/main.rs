//! The bench workload on `opentelemetry_sdk` + `opentelemetry-otlp`:
//! `bench-otel --workload w1|w1-paced|w2|w2-gzip|w2-paced|pacing|sending|w3|w4|reserve`. Set up as
//! their documentation shows: a `SdkTracerProvider` with the default
//! `BatchSpanProcessor` (its own thread) and the OTLP/HTTP protobuf exporter
//! on the reqwest blocking client.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bench_harness::{Config, Sdk, ShutdownReport, Workload};
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider, SpanData, SpanExporter,
};

/// Counts what it is given and keeps nothing.
#[derive(Debug, Clone, Default)]
struct Discard(Arc<AtomicU64>);

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

struct Otel {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    discarded: Arc<AtomicU64>,
}

fn setup(config: &Config) -> Result<Otel, String> {
    let discard = Discard::default();
    let discarded = Arc::clone(&discard.0);
    let mut batch = BatchConfigBuilder::default();
    if config.workload == Workload::Reserve {
        batch = batch.with_max_queue_size(config.queue);
    }
    let processor = if config.workload.is_otlp() {
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(config.endpoint.clone());
        if config.workload.gzip() {
            builder = builder.with_compression(opentelemetry_otlp::Compression::Gzip);
        }
        let exporter = builder.build().map_err(|e| e.to_string())?;
        BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch.build())
            .build()
    } else {
        BatchSpanProcessor::builder(discard)
            .with_batch_config(batch.build())
            .build()
    };
    let provider = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("bench").build())
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("bench");
    Ok(Otel {
        provider,
        tracer,
        discarded,
    })
}

impl Sdk for Otel {
    fn trace(&self, first_child: u64) {
        let t = &self.tracer;
        let root = t
            .span_builder("agent.run")
            .with_kind(SpanKind::Internal)
            .start_with_context(t, &Context::new());
        let parent = Context::new().with_span(root);
        for c in bench_harness::children(first_child) {
            let mut span = t
                .span_builder("llm.call")
                .with_kind(SpanKind::Client)
                .with_attributes([
                    KeyValue::new("gen_ai.request.model", c.model),
                    KeyValue::new("gen_ai.request.temperature", c.temperature),
                    KeyValue::new("llm.stream", c.stream),
                    KeyValue::new("tool.name", c.tool),
                ])
                .start_with_context(t, &parent);
            span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", c.input_tokens));
            span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", c.output_tokens));
            span.add_event("gen_ai.choice", Vec::new());
            span.end();
        }
        parent.span().end();
    }

    fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        match self.provider.shutdown_with_timeout(timeout) {
            Ok(()) => ShutdownReport {
                ok: true,
                ..ShutdownReport::default()
            },
            // Their error carries no count of spans lost.
            Err(e) => ShutdownReport {
                ok: false,
                stated_lost: None,
                message: e.to_string(),
            },
        }
    }

    fn self_reported_dropped(&self) -> Option<u64> {
        // The batch processor logs its dropped count through its internal
        // logs at shutdown; no API returns it.
        None
    }
}

fn main() {
    let config = match Config::from_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-otel: {e}");
            std::process::exit(2);
        }
    };
    bench_harness::run(&config, setup);
}
