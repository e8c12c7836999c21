//! The tracer and the batch processor together, with real spans.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use prela::transport::BatchProcessor;
use prela::{KeyValue, SpanType, Tracer};

use prela_testkit::Count;

const MODELS: [&str; 4] = ["gpt-4o", "claude-sonnet-4", "gemini-2.0", "llama-3.3"];
const TOOLS: [&str; 5] = ["web_search", "fetch_url", "calculator", "sql", "python"];

/// 4 threads × 250,000 spans in traces of 100 (a root and 99 `llm.call`
/// children with 6 attributes and an event), into a queue of 65,536.
#[test]
fn four_producers_a_million_spans_all_exported() {
    let exp = Arc::new(Count::default());
    let processor = Arc::new(
        BatchProcessor::builder_shared(exp.clone())
            .max_queue_size(65_536)
            .build()
            .unwrap(),
    );
    let tracer = Tracer::builder()
        .service_name("bench")
        .shared_processor(processor.clone())
        .build();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let tracer = tracer.clone();
            s.spawn(move || {
                for trace in 0..2_500usize {
                    let root = tracer
                        .span_builder("agent.run")
                        .span_type(SpanType::Agent)
                        .root()
                        .start();
                    let parent = root.span_context().clone();
                    for i in 0..99usize {
                        let mut s = tracer
                            .span_builder("llm.call")
                            .span_type(SpanType::Llm)
                            .parent_span_context(parent.clone())
                            .attribute("gen_ai.request.model", MODELS[i % 4])
                            .attribute("gen_ai.request.temperature", 0.7)
                            .attribute("llm.stream", i % 2 == 0)
                            .attribute("tool.name", TOOLS[(i + trace) % 5])
                            .start();
                        s.set_attribute("gen_ai.usage.input_tokens", 412i64);
                        s.set_attribute("gen_ai.usage.output_tokens", 87i64);
                        s.add_event("gen_ai.choice", vec![KeyValue::new("index", 0i64)]);
                        s.end();
                    }
                    drop(root);
                }
            });
        }
    });
    tracer
        .shutdown(Instant::now() + Duration::from_secs(60))
        .unwrap();
    let s = processor.stats();
    assert_eq!(exp.0.load(Ordering::Relaxed), 1_000_000);
    assert_eq!(
        (s.received, s.exported, s.dropped(), s.failed),
        (1_000_000, 1_000_000, 0, 0)
    );
}
