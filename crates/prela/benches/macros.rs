//! What `#[prela::llm]` on an `async fn` costs over the same span written
//! by hand (start it with the attributes the macro sets, run the body in
//! `fut.in_span(span)`, record an `Err` on it), both polled to completion
//! on a current-thread tokio runtime into a processor that discards. "by
//! hand" fetches `prela::tracer()` per call, as code that keeps no tracer
//! does; "tracer kept" is given one.
//! Run with `cargo bench -p prela --bench macros --features macros,tokio`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use prela::{ExportError, SpanData, SpanFutureExt, SpanProcessor, SpanType};

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

#[derive(Debug)]
struct ApiError;

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model API failed")
    }
}

async fn model(prompt: &str) -> Result<usize, ApiError> {
    tokio::task::yield_now().await;
    Ok(prompt.len())
}

#[prela::llm(name = "chat", fields(gen_ai.request.model = "gpt-4o"))]
async fn with_macro(prompt: &str) -> Result<usize, ApiError> {
    model(prompt).await
}

async fn by_hand(prompt: &str) -> Result<usize, ApiError> {
    by_hand_with(&prela::tracer(), prompt).await
}

async fn by_hand_with(tracer: &prela::Tracer, prompt: &str) -> Result<usize, ApiError> {
    let span = tracer
        .span_builder("chat")
        .span_type(SpanType::Llm)
        .attribute("gen_ai.operation.name", "chat")
        .attribute("gen_ai.request.model", "gpt-4o")
        .start();
    async move {
        let out = model(prompt).await;
        if let Err(e) = &out {
            let message = e.to_string();
            prela::with_current_span(|s| {
                s.set_status(prela::Status::error(message));
            });
        }
        out
    }
    .in_span(span)
    .await
}

fn macro_overhead(c: &mut Criterion) {
    let _guard = prela::init()
        .service_name("bench")
        .processor(Discard)
        .redaction(None)
        .env(|_| None)
        .install()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("llm async fn");
    g.bench_function("by hand", |b| {
        b.iter(|| rt.block_on(by_hand(black_box("hello"))))
    });
    let kept = prela::tracer();
    g.bench_function("by hand, tracer kept", |b| {
        b.iter(|| rt.block_on(by_hand_with(&kept, black_box("hello"))))
    });
    g.bench_function("#[prela::llm]", |b| {
        b.iter(|| rt.block_on(with_macro(black_box("hello"))))
    });
    g.finish();
}

criterion_group!(benches, macro_overhead);
criterion_main!(benches);
