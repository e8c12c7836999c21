//! Ending a span into the batch queue, from 1 and 4 threads, and whether the
//! worker keeps up with one producer at full speed.
//!
//! `cargo bench -p prela-transport --bench queue`
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group};
use prela_core::{
    ExportResult, KeyValue, SpanContext, SpanData, SpanExporter, SpanId, SpanProcessor, SpanType,
    TraceFlags, TraceId,
};
use prela_transport::BatchProcessor;

struct Discard;

impl SpanExporter for Discard {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        black_box(batch);
        ExportResult::Success
    }
}

/// Makes spans as the tracer does: the attribute vector comes from
/// `prela_core::pool`, where the worker returns it after export. (A plain
/// `clone` would allocate it on this thread for the worker to free on its
/// own: the cross-thread allocator traffic the pool exists to avoid.)
struct Template {
    span: SpanData,
    attributes: Vec<KeyValue>,
}

impl Template {
    /// A span shaped like the benchmark workload's `llm.call`.
    fn new() -> Self {
        let cx = SpanContext::new(
            TraceId::from_u128(7),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
        );
        let now = SystemTime::now();
        let mut span = SpanData::new(cx, "llm.call", now, now);
        span.span_type = SpanType::Llm;
        Template {
            span,
            attributes: prela_testkit::llm_call_attributes(),
        }
    }

    fn make(&self) -> SpanData {
        let mut s = self.span.clone();
        s.attributes = prela_core::pool::attributes();
        s.attributes.extend_from_slice(&self.attributes);
        s
    }
}

/// Shuts down, printing what shutdown reports: spans the worker could not
/// take at full speed are dropped and counted, which is not a bench error.
fn shut_down(p: &BatchProcessor, what: &str) {
    if let Err(e) = p.shutdown(Instant::now() + Duration::from_secs(10)) {
        let s = p.stats();
        println!(
            "{what}: shutdown reported {e} (exported {}, dropped {})",
            s.exported,
            s.dropped()
        );
    }
}

fn end_into_queue(c: &mut Criterion) {
    let p = BatchProcessor::builder(Discard).build().unwrap();
    let template = Template::new();
    c.bench_function(
        "batch on_end (a 6-attribute span made + enqueued), 1 thread",
        |b| {
            b.iter(|| p.on_end(template.make()));
        },
    );
    shut_down(&p, "1 thread");

    let p = Arc::new(
        BatchProcessor::builder(Discard)
            .max_queue_size(65_536)
            .build()
            .unwrap(),
    );
    c.bench_function(
        "batch on_end, 4 threads (wall time per span, all threads together)",
        |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(4);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..4 {
                        let p = Arc::clone(&p);
                        s.spawn(move || {
                            let template = Template::new();
                            for _ in 0..per_thread {
                                p.on_end(template.make());
                            }
                        });
                    }
                });
                start.elapsed()
            });
        },
    );
    shut_down(&p, "4 threads");
}

/// One producer at full speed, default queue (8,192): how many spans the
/// worker lets drop. The goal is none.
fn keep_up() {
    const N: u64 = 1_000_000;
    let p = BatchProcessor::builder(Discard).build().unwrap();
    let template = Template::new();
    let start = Instant::now();
    for _ in 0..N {
        p.on_end(template.make());
    }
    let produced_in = start.elapsed();
    p.shutdown(Instant::now() + Duration::from_secs(30))
        .unwrap_or(());
    let s = p.stats();
    println!(
        "keep-up: 1 producer, default queue ({}): {} spans in {:.1} ms ({:.0} ns/span), exported {}, dropped {}",
        s.queue_capacity,
        N,
        produced_in.as_secs_f64() * 1e3,
        produced_in.as_nanos() as f64 / N as f64,
        s.exported,
        s.dropped()
    );
}

criterion_group!(benches, end_into_queue);

fn main() {
    keep_up();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
