//! What redaction costs per span: a span with 6 attributes (2 strings) and
//! an event, with nothing to redact (the common case) and with secrets.
//!
//! `cargo bench -p prela-transport --bench redact`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use prela_core::{Event, KeyValue, SpanContext, SpanData, SpanId, TraceFlags, TraceId};
use prela_transport::RedactionRules;

fn span(secret: bool) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(1),
        TraceFlags::SAMPLED,
    );
    let now = SystemTime::now();
    let mut s = SpanData::new(cx, "llm.call", now, now);
    s.attributes = vec![
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.request.temperature", 0.7),
        KeyValue::new("llm.stream", false),
        KeyValue::new(
            "tool.name",
            if secret {
                "call with sk-proj-9f8e7d6c5b4a39281706"
            } else {
                "web_search"
            },
        ),
        KeyValue::new("gen_ai.usage.input_tokens", 412i64),
        KeyValue::new("gen_ai.usage.output_tokens", 87i64),
    ];
    s.events = vec![Event::new("gen_ai.choice", now, vec![])];
    s
}

fn redact(c: &mut Criterion) {
    for (name, rules) in [
        ("default rules", RedactionRules::default()),
        ("strict rules", RedactionRules::strict()),
    ] {
        for secret in [false, true] {
            let template = span(secret);
            c.bench_function(
                &format!(
                    "redact, {name}, {}",
                    if secret { "one secret" } else { "clean span" }
                ),
                |b| {
                    b.iter_batched(
                        || template.clone(),
                        |mut s| {
                            rules.apply(&mut s);
                            black_box(s)
                        },
                        criterion::BatchSize::SmallInput,
                    );
                },
            );
        }
    }
}

criterion_group!(benches, redact);
criterion_main!(benches);
