//! The bench workload on Prela: `bench-prela --workload w1|w1-paced|w2|w2-gzip|w2-paced|pacing|sending|w3|w4|reserve`.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bench_harness::{Config, Sdk, ShutdownReport, Workload};
use prela_core::{ExportError, ExportResult, SpanData, SpanExporter, SpanType};
use prela_export_otlp::{Compression, OtlpExporter};
use prela_tracer::Tracer;
use prela_transport::{BatchConfig, BatchProcessor};

/// Counts what it is given and keeps nothing.
#[derive(Debug, Clone, Default)]
struct Discard(Arc<AtomicU64>);

impl SpanExporter for Discard {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        ExportResult::Success
    }
}

struct Prela {
    tracer: Tracer,
    processor: Arc<BatchProcessor>,
    discarded: Arc<AtomicU64>,
}

fn setup(config: &Config) -> Result<Prela, String> {
    let discard = Discard::default();
    let discarded = Arc::clone(&discard.0);
    // The defaults unless an `OTEL_BSP_*` variable says otherwise (the
    // bench sets none; it is for trying settings by hand).
    let mut batch = BatchConfig::from_env().map_err(|e| e.to_string())?;
    if config.workload == Workload::Reserve {
        batch.max_queue_size = config.queue;
    }
    let processor = if config.workload.is_otlp() {
        let exporter = OtlpExporter::builder()
            .endpoint(config.endpoint.clone())
            .compression(if config.workload.gzip() {
                Compression::Gzip
            } else {
                Compression::None
            })
            .build()
            .map_err(|e| e.to_string())?;
        BatchProcessor::builder(exporter).config(batch).build()
    } else {
        BatchProcessor::builder(discard).config(batch).build()
    }
    .map_err(|e| e.to_string())?;
    let processor = Arc::new(processor);
    let tracer = Tracer::builder()
        .service_name("bench")
        .shared_processor(processor.clone())
        .build();
    Ok(Prela {
        tracer,
        processor,
        discarded,
    })
}

impl Sdk for Prela {
    fn trace(&self, first_child: u64) {
        let t = &self.tracer;
        let mut root = t
            .span_builder("agent.run")
            .span_type(SpanType::Agent)
            .root()
            .start();
        let parent = root.span_context().clone();
        for c in bench_harness::children(first_child) {
            let mut span = t
                .span_builder("llm.call")
                .span_type(SpanType::Llm)
                .parent_span_context(parent.clone())
                .attribute("gen_ai.request.model", c.model)
                .attribute("gen_ai.request.temperature", c.temperature)
                .attribute("llm.stream", c.stream)
                .attribute("tool.name", c.tool)
                .start();
            span.set_attribute("gen_ai.usage.input_tokens", c.input_tokens);
            span.set_attribute("gen_ai.usage.output_tokens", c.output_tokens);
            span.add_event("gen_ai.choice", Vec::new());
            span.end();
        }
        root.end();
    }

    fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }

    fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        match self.tracer.shutdown(Instant::now() + timeout) {
            Ok(()) => ShutdownReport {
                ok: true,
                ..ShutdownReport::default()
            },
            Err(e) => ShutdownReport {
                ok: false,
                stated_lost: match &e {
                    ExportError::NotExported { count, .. } => Some(*count),
                    _ => None,
                },
                message: e.to_string(),
            },
        }
    }

    fn self_reported_dropped(&self) -> Option<u64> {
        Some(self.processor.stats().lost())
    }
}

fn main() {
    let config = match Config::from_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench-prela: {e}");
            std::process::exit(2);
        }
    };
    bench_harness::run(&config, setup);
}
