//! The span hot path: start, six attributes, one event, end, into a
//! processor that discards; the span clock against `SystemTime::now`; and
//! the cost per attribute on a span with many.
//! Run with `cargo bench -p prela-tracer`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use prela_core::{ExportError, KeyValue, SpanData, SpanProcessor, SpanType};
use prela_sampling::AlwaysOff;
use prela_tracer::Tracer;

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

const MODELS: [&str; 4] = ["gpt-4o", "claude-sonnet-4", "gemini-2.0", "llama-3.3"];

fn hot_path(c: &mut Criterion) {
    let tracer = Tracer::builder()
        .service_name("bench")
        .processor(Discard)
        .build();
    let root = tracer
        .span_builder("agent.run")
        .span_type(SpanType::Agent)
        .start();
    let parent = root.span_context().clone();
    let mut i = 0usize;
    c.bench_function("span: start + 6 attributes + 1 event + end", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let mut s = tracer
                .span_builder("llm.call")
                .span_type(SpanType::Llm)
                .parent_span_context(parent.clone())
                .start();
            s.set_attribute("gen_ai.request.model", MODELS[i % 4]);
            s.set_attribute("gen_ai.request.temperature", 0.7);
            s.set_attribute("llm.stream", false);
            s.set_attribute("tool.name", "web_search");
            s.set_attribute("gen_ai.usage.input_tokens", 412i64);
            s.set_attribute("gen_ai.usage.output_tokens", 87i64);
            s.add_event("gen_ai.choice", vec![KeyValue::new("index", 0i64)]);
            s.end();
        });
    });
    c.bench_function("span guard: enter + end (current-context parent)", |b| {
        let _g = root.context().attach();
        b.iter(|| {
            let g = tracer.span("step");
            black_box(&g);
        });
    });
    let off = Tracer::builder()
        .processor(Discard)
        .sampler(AlwaysOff)
        .build();
    c.bench_function("unsampled span: start + 6 attributes + end", |b| {
        b.iter(|| {
            let mut s = off.start_span("llm.call");
            s.set_attribute("gen_ai.request.model", "gpt-4o");
            s.set_attribute("gen_ai.request.temperature", 0.7);
            s.set_attribute("llm.stream", false);
            s.set_attribute("tool.name", "web_search");
            s.set_attribute("gen_ai.usage.input_tokens", 412i64);
            s.set_attribute("gen_ai.usage.output_tokens", 87i64);
            s.end();
        });
    });
}

fn clock(c: &mut Criterion) {
    prela_tracer::clock::calibrate();
    c.bench_function("clock: prela_tracer::clock::now", |b| {
        b.iter(|| black_box(prela_tracer::clock::now()));
    });
    c.bench_function("clock: SystemTime::now", |b| {
        b.iter(|| black_box(std::time::SystemTime::now()));
    });
}

/// Setting N distinct attributes on one span, with the attribute limit
/// raised to N: the time per attribute must not grow with N (a search
/// through the keys made 100,000 of them take minutes). The keys are made
/// before the clock starts.
fn attributes(c: &mut Criterion) {
    let mut group = c.benchmark_group("attributes");
    group.sample_size(10);
    for n in [16usize, 64, 1_000, 100_000] {
        let mut limits = prela_tracer::SpanLimits::default();
        limits.max_attributes = n;
        let tracer = Tracer::builder().processor(Discard).limits(limits).build();
        let keys: Vec<String> = (0..n).map(|i| format!("app.attribute.{i}")).collect();
        group.throughput(criterion::Throughput::Elements(n as u64));
        group.bench_function(format!("set {n} distinct keys"), |b| {
            b.iter_batched(
                || keys.clone(),
                |keys| {
                    let mut s = tracer.start_span("wide");
                    for (i, k) in keys.into_iter().enumerate() {
                        s.set_attribute(k, i as i64);
                    }
                    s.end();
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, hot_path, clock, attributes);
criterion_main!(benches);
