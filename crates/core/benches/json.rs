//! Prela JSON (what the file exporter writes, one line per span) for the
//! benchmark workload's `llm.call` spans: time per span.
//! Run with `cargo bench -p prela-core --bench json`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prela_core::{
    Event, KeyValue, Resource, SpanContext, SpanData, SpanId, SpanType, TraceFlags, TraceId,
};

const MODELS: [&str; 4] = ["gpt-4o", "claude-sonnet-4", "gemini-2.0", "llama-3.3"];
const TOOLS: [&str; 5] = ["web_search", "fetch_url", "calculator", "sql", "python"];

fn spans(n: usize) -> Vec<SpanData> {
    let resource = Arc::new(Resource::with_service_name("bench"));
    let t0 = SystemTime::now();
    (0..n)
        .map(|i| {
            let cx = SpanContext::new(
                TraceId::from_u128(0xfeed_1234_5678_9abc_def0_1234_5678 + i as u128),
                SpanId::from_u64(i as u64 * 0x9e37_79b9_7f4a_7c15 + 2),
                TraceFlags::SAMPLED,
            );
            let t = t0 + Duration::from_micros(i as u64 * 37);
            let mut s = SpanData::new(cx, "llm.call", t, t + Duration::from_micros(250));
            s.span_type = SpanType::Llm;
            s.parent_span_id = Some(SpanId::from_u64(1));
            s.resource = Arc::clone(&resource);
            s.attributes = vec![
                KeyValue::new("gen_ai.request.model", MODELS[i % 4]),
                KeyValue::new("gen_ai.request.temperature", 0.7),
                KeyValue::new("llm.stream", i % 2 == 0),
                KeyValue::new("tool.name", TOOLS[i % 5]),
                KeyValue::new("gen_ai.usage.input_tokens", 412i64 + i as i64),
                KeyValue::new("gen_ai.usage.output_tokens", 87i64),
            ];
            s.events = vec![Event::new(
                "gen_ai.choice",
                t + Duration::from_micros(200),
                vec![],
            )];
            s
        })
        .collect()
}

fn json(c: &mut Criterion) {
    const N: usize = 512;
    let spans = spans(N);
    let mut out = Vec::with_capacity(1 << 20);
    let mut g = c.benchmark_group("prela json (batch of 512, time per span)");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("write_span_line", |b| {
        b.iter(|| {
            out.clear();
            for s in &spans {
                prela_core::json::write_span_line(&mut out, s).unwrap();
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, json);
criterion_main!(benches);
