//! The layer through `tracing`'s public API.
#![allow(clippy::unwrap_used)]

use prela_testkit::Collect;
use std::collections::HashMap;

use prela_core::{SpanData, SpanId, SpanType, Status, Value};
use prela_tracer::Tracer;
use prela_tracing::PrelaLayer;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn setup() -> (Tracer, Collect, impl tracing::Subscriber + Send + Sync) {
    let c = Collect::default();
    let tracer = Tracer::builder()
        .service_name("bridge")
        .processor(c.clone())
        .build();
    let sub = tracing_subscriber::registry().with(PrelaLayer::new(tracer.clone()));
    (tracer, c, sub)
}

#[derive(Debug)]
struct Timeout;
impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timed out after 10s")
    }
}
impl std::error::Error for Timeout {}

#[tracing::instrument(fields(prela.span_type = "tool", tool.name = "fetch_url"))]
fn fetch(url: &str) -> Result<(), Timeout> {
    tracing::warn!(attempt = 1, "retrying");
    let e = Timeout;
    tracing::error!(
        error = &e as &(dyn std::error::Error + 'static),
        "fetch failed"
    );
    Err(e)
}

#[test]
fn spans_fields_events_parents_and_special_fields() {
    let (tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        let root = tracing::info_span!(
            "research_agent",
            prela.span_type = "agent",
            agent.steps = tracing::field::Empty
        );
        let _g = root.enter();
        {
            let llm = tracing::info_span!(
                "llm",
                otel.name = "chat gpt-4o",
                prela.span_type = "llm",
                gen_ai.request.model = "gpt-4o",
                gen_ai.request.temperature = 0.2,
                llm.stream = false,
                gen_ai.usage.input_tokens = 412u64
            );
            let _l = llm.enter();
            tracing::info!(tokens = 87, "model answered");
            // A Prela span started inside a tracing span nests under it.
            let _inner = tracer.span("prela-inner");
        }
        let _ = fetch("https://releases.rs");
        root.record("agent.steps", 3);
    });
    let spans = c.0.lock().unwrap().clone();
    let by: HashMap<&str, &SpanData> = spans.iter().map(|s| (s.name.as_ref(), s)).collect();
    let root = by["research_agent"];
    assert_eq!(root.span_type, SpanType::Agent);
    assert!(root.is_root());
    assert_eq!(
        root.attribute("agent.steps"),
        Some(&Value::I64(3)),
        "fields recorded later arrive"
    );
    let llm = by["chat gpt-4o"];
    assert_eq!(llm.span_type, SpanType::Llm);
    assert_eq!(llm.parent_span_id, Some(root.span_context.span_id));
    assert_eq!(
        llm.attribute("gen_ai.request.model")
            .and_then(Value::as_str),
        Some("gpt-4o")
    );
    assert_eq!(
        llm.attribute("gen_ai.request.temperature"),
        Some(&Value::F64(0.2))
    );
    assert_eq!(llm.attribute("llm.stream"), Some(&Value::Bool(false)));
    assert_eq!(
        llm.attribute("gen_ai.usage.input_tokens"),
        Some(&Value::I64(412))
    );
    assert_eq!(llm.events[0].name, "model answered");
    assert_eq!(llm.events[0].attributes[0].key.as_str(), "tokens");
    assert_eq!(
        by["prela-inner"].parent_span_id,
        Some(llm.span_context.span_id)
    );
    let fetch = by["fetch"];
    assert_eq!(fetch.span_type, SpanType::Tool);
    assert_eq!(fetch.parent_span_id, Some(root.span_context.span_id));
    assert_eq!(
        fetch.attribute("url").and_then(Value::as_str),
        Some("https://releases.rs")
    );
    assert_eq!(fetch.status, Status::error("timed out after 10s"));
    assert_eq!(
        fetch.attribute("error.message").and_then(Value::as_str),
        Some("timed out after 10s")
    );
    assert!(fetch.events.iter().any(|e| e.name == "exception"));
    assert!(fetch.events.iter().any(|e| e.name == "retrying"));
}

#[test]
fn instrumented_futures_keep_their_parents_on_a_multi_thread_runtime() {
    let (_tracer, c, sub) = setup();
    let dispatch = tracing::Dispatch::new(sub);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..200 {
            let d = dispatch.clone();
            // Spans are made by the subscriber current where they are created.
            let task_span =
                tracing::dispatcher::with_default(&d, || tracing::info_span!("task", task = i));
            handles.push(tokio::spawn(
                async move {
                    for step in 0..3 {
                        tokio::task::yield_now().await;
                        async {
                            tokio::time::sleep(std::time::Duration::from_micros(10)).await;
                            tracing::info!("work");
                        }
                        .instrument(tracing::info_span!("step", task = i, step))
                        .await;
                    }
                }
                .instrument(task_span)
                .with_subscriber(d),
            ));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let spans = c.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 200 * 4);
    let by_id: HashMap<SpanId, &SpanData> =
        spans.iter().map(|s| (s.span_context.span_id, s)).collect();
    for s in spans.iter().filter(|s| s.name == "step") {
        let parent = by_id[&s.parent_span_id.unwrap()];
        assert_eq!(parent.name, "task");
        assert_eq!(
            parent.attribute("task"),
            s.attribute("task"),
            "the right task"
        );
        assert_eq!(s.events.len(), 1);
    }
}

#[test]
fn filters_apply_and_unsampled_spans_record_nothing() {
    use tracing_subscriber::Layer;
    use tracing_subscriber::filter::LevelFilter;
    let c = Collect::default();
    let tracer = Tracer::builder().processor(c.clone()).build();
    let sub =
        tracing_subscriber::registry().with(PrelaLayer::new(tracer).with_filter(LevelFilter::INFO));
    tracing::subscriber::with_default(sub, || {
        let _d = tracing::debug_span!("filtered").entered();
        let _i = tracing::info_span!("kept").entered();
    });
    let names: Vec<String> =
        c.0.lock()
            .unwrap()
            .iter()
            .map(|s| s.name.to_string())
            .collect();
    assert_eq!(names, ["kept"]);
    let c = Collect::default();
    let tracer = Tracer::builder()
        .processor(c.clone())
        .sampler(prela_sampling::AlwaysOff)
        .build();
    let sub = tracing_subscriber::registry().with(PrelaLayer::new(tracer));
    tracing::subscriber::with_default(sub, || {
        let _s = tracing::info_span!("unsampled", x = 1).entered();
        tracing::info!("nothing recorded");
    });
    assert!(c.0.lock().unwrap().is_empty());
}

trait WithSubscriber: Sized {
    fn with_subscriber(self, d: tracing::Dispatch) -> tracing::instrument::WithDispatch<Self>;
}

impl<F: std::future::Future> WithSubscriber for F {
    fn with_subscriber(self, d: tracing::Dispatch) -> tracing::instrument::WithDispatch<Self> {
        tracing::instrument::WithSubscriber::with_subscriber(self, d)
    }
}
