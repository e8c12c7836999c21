//! OTLP encoding cost per span, and bytes per span, for protobuf and JSON,
//! with and without gzip, on the benchmark workload's `llm.call` spans.
//!
//! `cargo bench -p prela-export-otlp --bench encode`
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput, criterion_group};
use prela_core::{
    Event, KeyValue, Resource, SpanContext, SpanData, SpanId, SpanType, TraceFlags, TraceId,
};
use prela_export_otlp::encode::{request, to_protobuf};
use prela_export_otlp::json::to_json;
use prela_export_otlp::wire::encode_request;

const MODELS: [&str; 4] = ["gpt-4o", "claude-sonnet-4", "gemini-2.0", "llama-3.3"];
const TOOLS: [&str; 5] = ["web_search", "fetch_url", "calculator", "sql", "python"];

fn batch(n: usize) -> Vec<SpanData> {
    let resource = Arc::new(Resource::with_service_name("bench"));
    let t0 = SystemTime::now();
    (0..n)
        .map(|i| {
            let cx = SpanContext::new(
                TraceId::from_u128(0xfeed),
                SpanId::from_u64(i as u64 + 2),
                TraceFlags::SAMPLED,
            );
            let mut s = SpanData::new(cx, "llm.call", t0, t0 + Duration::from_micros(250));
            s.span_type = SpanType::Llm;
            s.parent_span_id = Some(SpanId::from_u64(1));
            s.resource = Arc::clone(&resource);
            s.attributes = vec![
                KeyValue::new("gen_ai.request.model", MODELS[i % 4]),
                KeyValue::new("gen_ai.request.temperature", 0.7),
                KeyValue::new("llm.stream", i % 2 == 0),
                KeyValue::new("tool.name", TOOLS[i % 5]),
                KeyValue::new("gen_ai.usage.input_tokens", 412i64),
                KeyValue::new("gen_ai.usage.output_tokens", 87i64),
            ];
            s.events = vec![Event::new("gen_ai.choice", t0, vec![])];
            s
        })
        .collect()
}

/// Gzip as the exporter does it: one `Gzip` whose compressor is reused.
fn gzip(b: &[u8]) -> Vec<u8> {
    static GZIP: std::sync::OnceLock<prela_transport::gzip::Gzip> = std::sync::OnceLock::new();
    GZIP.get_or_init(prela_transport::gzip::Gzip::new)
        .compress(b)
        .unwrap()
}

fn encode(c: &mut Criterion) {
    const N: usize = 512;
    let spans = batch(N);
    let pb = to_protobuf(&request(&spans));
    let js = to_json(&request(&spans));
    println!(
        "bytes/span over a batch of {N}: protobuf {:.1}, protobuf+gzip {:.1}, json {:.1}, json+gzip {:.1}",
        pb.len() as f64 / N as f64,
        gzip(&pb).len() as f64 / N as f64,
        js.len() as f64 / N as f64,
        gzip(&js).len() as f64 / N as f64
    );
    let mut g = c.benchmark_group("otlp encode (batch of 512, time per span)");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("protobuf (direct, what the exporter sends)", |b| {
        b.iter(|| black_box(encode_request(&spans)))
    });
    g.bench_function("protobuf + gzip (direct)", |b| {
        b.iter(|| black_box(gzip(&encode_request(&spans))))
    });
    g.bench_function("protobuf via opentelemetry-proto structs", |b| {
        b.iter(|| black_box(to_protobuf(&request(&spans))))
    });
    g.bench_function("json (direct, what the exporter sends)", |b| {
        b.iter(|| black_box(prela_export_otlp::json::encode_request(&spans)))
    });
    g.bench_function("json + gzip (direct)", |b| {
        b.iter(|| black_box(gzip(&prela_export_otlp::json::encode_request(&spans))))
    });
    g.bench_function("json via opentelemetry-proto structs", |b| {
        b.iter(|| black_box(to_json(&request(&spans))))
    });
    g.finish();
}

criterion_group!(benches, encode);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
