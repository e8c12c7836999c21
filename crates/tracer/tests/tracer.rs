//! The tracer through its public API, with a processor that collects spans.
#![allow(clippy::unwrap_used)]

use prela_testkit::Collect;
use std::collections::HashMap;

use prela_context::{Context, FutureExt, propagation};
use prela_core::{SpanData, SpanId, SpanType, Status, Value};
use prela_sampling::{AlwaysOff, AlwaysOn};
use prela_tracer::{SpanLimits, Tracer};

fn tracer() -> (Tracer, Collect) {
    let c = Collect::default();
    (
        Tracer::builder()
            .service_name("test")
            .processor(c.clone())
            .build(),
        c,
    )
}

#[test]
fn guards_nest_and_end_children_first() {
    let (t, c) = tracer();
    {
        let mut root = t.span("root");
        root.set_span_type(SpanType::Agent);
        {
            let _child = t.span("child");
            let _grandchild = t.span("grandchild");
        }
        let _sibling = t.span("sibling");
    }
    let spans = c.take();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["grandchild", "child", "sibling", "root"]);
    let by_name: HashMap<&str, &SpanData> = spans.iter().map(|s| (s.name.as_ref(), s)).collect();
    let root = by_name["root"];
    assert!(root.is_root());
    assert_eq!(root.span_type, SpanType::Agent);
    assert_eq!(root.status, Status::Success);
    assert_eq!(root.resource.service_name(), Some("test"));
    assert_eq!(
        by_name["child"].parent_span_id,
        Some(root.span_context.span_id)
    );
    assert_eq!(
        by_name["grandchild"].parent_span_id,
        Some(by_name["child"].span_context.span_id)
    );
    assert_eq!(
        by_name["sibling"].parent_span_id,
        Some(root.span_context.span_id)
    );
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id == root.span_context.trace_id)
    );
    assert!(root.span_context.trace_flags.is_random());
    assert!(spans.iter().all(|s| s.end_time.unwrap() >= s.start_time));
    // Nothing is left current.
    assert!(Context::current().span().is_none());
}

#[test]
fn end_twice_and_change_after_end_are_no_ops() {
    let (t, c) = tracer();
    let mut s = t.start_span("once");
    s.set_attribute("a", 1);
    s.end();
    s.end();
    s.set_attribute("b", 2);
    s.add_event("late", vec![]);
    s.set_status(Status::error("late"));
    s.record_error(&std::io::Error::other("late"));
    drop(s);
    let spans = c.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].attributes.len(), 1);
    assert!(spans[0].events.is_empty());
    assert_eq!(spans[0].status, Status::Success);
}

#[derive(Debug)]
struct Outer(std::io::Error);
impl std::fmt::Display for Outer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fetch failed")
    }
}
impl std::error::Error for Outer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn record_error_sets_everything() {
    let (t, c) = tracer();
    t.in_span("fetch_url", |s| {
        s.record_error(&Outer(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "timed out after 10s",
        )));
    });
    let s = &c.take()[0];
    assert_eq!(s.status, Status::error("fetch failed: timed out after 10s"));
    assert!(
        s.attribute("error.type")
            .and_then(Value::as_str)
            .unwrap()
            .ends_with("Outer")
    );
    assert_eq!(
        s.attribute("error.message").and_then(Value::as_str),
        Some("fetch failed: timed out after 10s")
    );
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].name, "exception");
    assert_eq!(s.events[0].attributes[1].key.as_str(), "exception.message");
}

#[test]
fn limits_drop_and_count() {
    let c = Collect::default();
    let mut limits = SpanLimits::default();
    limits.max_attributes = 2;
    limits.max_events = 1;
    limits.max_attributes_per_event = 1;
    limits.max_attribute_value_length = Some(3);
    let t = Tracer::builder()
        .processor(c.clone())
        .limits(limits)
        .build();
    {
        let mut s = t.span("x");
        s.set_attribute("a", "abcdef");
        s.set_attribute("b", 1);
        s.set_attribute("b", "wxyz"); // replacing does not count against the limit
        s.set_attribute("c", 3);
        s.set_attribute("d", 4);
        s.add_event(
            "e1",
            vec![
                prela_core::KeyValue::new("k", "long"),
                prela_core::KeyValue::new("k2", 1),
            ],
        );
        s.add_event("e2", vec![]);
    }
    let s = &c.take()[0];
    assert_eq!(s.attributes.len(), 2);
    // Cut to the value length limit, whether added or replaced.
    assert_eq!(s.attribute("a").and_then(Value::as_str), Some("abc"));
    assert_eq!(s.attribute("b").and_then(Value::as_str), Some("wxy"));
    assert_eq!(s.dropped_attributes_count, 2);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.dropped_events_count, 1);
    assert_eq!(s.events[0].attributes.len(), 1);
    assert_eq!(s.events[0].dropped_attributes_count, 1);
    assert_eq!(s.events[0].attributes[0].value.as_str(), Some("lon"));
}

/// With a raised limit a span holds many attributes: past the first 128 the
/// keys are indexed, and replacing, adding, the limit and the order behave
/// as they do below it, whether the keys came with the builder or one by
/// one.
#[test]
fn many_attributes_replace_and_count_as_few_do() {
    let c = Collect::default();
    let mut limits = SpanLimits::default();
    limits.max_attributes = 10_000;
    let t = Tracer::builder()
        .processor(c.clone())
        .limits(limits)
        .build();
    {
        // Enough from the builder for lengths to repeat (a set checks them).
        let builder = (0..100i64).fold(t.span_builder("wide"), |b, i| {
            b.attribute(format!("start.{i}"), i)
        });
        let mut s = builder.start();
        for i in 0..10_000i64 {
            s.set_attribute(format!("k.{i}"), i);
        }
        // Replacements, of keys from the builder and from before the index.
        for i in 0..100i64 {
            s.set_attribute(format!("start.{i}"), -i);
            s.set_attribute(format!("k.{i}"), -i);
        }
        // Over the limit: both dropped and counted.
        s.set_attribute("k.9999", "last");
        s.set_attribute("one.more", 1);
    }
    // 20 from the builder, one key twice: the last value given, once.
    (0..20i64)
        .fold(t.span_builder("repeat"), |b, i| {
            b.attribute(format!("r.{i}"), i)
        })
        .attribute("r.3", 33)
        .start()
        .end();
    let spans = c.take();
    let repeat = &spans[1];
    assert_eq!(repeat.attributes.len(), 20);
    assert_eq!(repeat.attribute("r.3").and_then(Value::as_i64), Some(33));
    let s = &spans[0];
    assert_eq!(s.attributes.len(), 10_000);
    assert_eq!(s.dropped_attributes_count, 100 + 2);
    assert_eq!(s.attributes[0].key.as_str(), "start.0");
    assert_eq!(s.attributes[100].key.as_str(), "k.0");
    assert_eq!(s.attribute("start.42").and_then(Value::as_i64), Some(-42));
    assert_eq!(s.attribute("k.42").and_then(Value::as_i64), Some(-42));
    assert_eq!(s.attribute("k.9899").and_then(Value::as_i64), Some(9899));
    assert_eq!(s.attribute("k.9900"), None);
    assert_eq!(s.attribute("one.more"), None);
    let mut keys: Vec<&str> = s.attributes.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 10_000, "each key once");
}

/// Builder attributes with a repeated key keep one value per key, the last
/// given, in first-seen order; keys that differ but have the same length
/// (or lengths 64 apart) are all kept.
#[test]
fn builder_attributes_keep_one_value_per_key() {
    let (t, c) = tracer();
    let long = "k".repeat(65);
    t.span_builder("dup")
        .attribute("ab", 1)
        .attribute("cd", 2)
        .attribute("a", 3)
        .attribute("ab", 4)
        .attribute(long.clone(), 5)
        .start()
        .end();
    t.span_builder("same length, different keys")
        .attribute("ab", 1)
        .attribute("cd", 2)
        .attribute("k", 3)
        .attribute(long.clone(), 4)
        .start()
        .end();
    t.span_builder("distinct lengths")
        .attribute("a", 1)
        .attribute("bb", 2)
        .attribute("ccc", 3)
        .start()
        .end();
    let spans = c.take();
    let attrs = |i: usize| -> Vec<(String, Value)> {
        spans[i]
            .attributes
            .iter()
            .map(|kv| (kv.key.as_str().to_owned(), kv.value.clone()))
            .collect()
    };
    assert_eq!(
        attrs(0),
        [
            ("ab".to_owned(), Value::I64(4)),
            ("cd".to_owned(), Value::I64(2)),
            ("a".to_owned(), Value::I64(3)),
            (long.clone(), Value::I64(5)),
        ]
    );
    assert_eq!(
        attrs(1),
        [
            ("ab".to_owned(), Value::I64(1)),
            ("cd".to_owned(), Value::I64(2)),
            ("k".to_owned(), Value::I64(3)),
            (long, Value::I64(4)),
        ]
    );
    assert_eq!(attrs(2).len(), 3);
    assert!(spans.iter().all(|s| s.dropped_attributes_count == 0));
}

#[test]
fn unsampled_spans_propagate_but_export_nothing() {
    let c = Collect::default();
    let t = Tracer::builder()
        .processor(c.clone())
        .sampler(AlwaysOff)
        .build();
    let root = t.span("root");
    assert!(!root.is_recording());
    assert!(root.span_context().is_valid());
    assert!(!root.span_context().is_sampled());
    let child = t.start_span("child");
    assert_eq!(child.span_context().trace_id, root.span_context().trace_id);
    let mut headers: HashMap<String, String> = HashMap::new();
    propagation::inject_current(&mut headers);
    assert!(
        headers["traceparent"].ends_with("-02"),
        "{}",
        headers["traceparent"]
    );
    drop(child);
    drop(root);
    assert!(c.take().is_empty());
}

/// Records everything and exports nothing.
#[derive(Debug)]
struct RecordOnly;

impl prela_core::Sampler for RecordOnly {
    fn should_sample(&self, _: &prela_core::SamplingParams<'_>) -> prela_core::SamplingResult {
        prela_core::SamplingResult::new(prela_core::SamplingDecision::RecordOnly)
    }
    fn description(&self) -> String {
        "RecordOnly".to_owned()
    }
}

#[test]
fn record_only_spans_record_but_are_not_handed_on() {
    let c = Collect::default();
    let t = Tracer::builder()
        .processor(c.clone())
        .sampler(RecordOnly)
        .build();
    let mut span = t.start_span("kept here");
    assert!(span.is_recording());
    assert!(!span.span_context().is_sampled());
    span.set_attribute("k", 1);
    span.end();
    assert!(!span.is_recording());
    assert!(c.take().is_empty());
}

/// A processor that collects span names and says when it is dropped.
struct Watched {
    ended: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl prela_core::SpanProcessor for Watched {
    fn on_end(&self, span: SpanData) {
        // The limits reach spans on every thread: one attribute kept.
        assert_eq!(
            (span.attributes.len(), span.dropped_attributes_count),
            (1, 1)
        );
        self.ended.lock().unwrap().push(span.name.to_string());
    }
    fn force_flush(&self, _: std::time::Instant) -> Result<(), prela_core::ExportError> {
        Ok(())
    }
    fn shutdown(&self, _: std::time::Instant) -> Result<(), prela_core::ExportError> {
        Ok(())
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.dropped
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn spans_started_on_many_threads_outlive_the_tracer_then_let_it_go() {
    use std::sync::atomic::Ordering;
    let ended = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut one_attribute = SpanLimits::default();
    one_attribute.max_attributes = 1;
    let tracer = Tracer::builder()
        .service_name("test")
        .limits(one_attribute)
        .processor(Watched {
            ended: ended.clone(),
            dropped: dropped.clone(),
        })
        .build();
    // Started on 24 threads (more than the tracer has shards on small
    // machines, so some threads share one), ended elsewhere.
    let spans: Vec<_> = (0..24)
        .map(|i| {
            let t = tracer.clone();
            std::thread::spawn(move || {
                let mut span = t.start_span(format!("s{i}"));
                span.set_attribute("a", 1);
                span.set_attribute("b", 2);
                span
            })
        })
        .map(|h| h.join().unwrap())
        .collect();
    drop(tracer);
    assert!(
        !dropped.load(Ordering::SeqCst),
        "spans still hold the tracer"
    );
    let mut last = None;
    for (i, mut span) in spans.into_iter().enumerate() {
        if i == 23 {
            last = Some(span);
            continue;
        }
        span.end();
    }
    assert_eq!(ended.lock().unwrap().len(), 23);
    assert!(
        !dropped.load(Ordering::SeqCst),
        "one span is still recording"
    );
    drop(last);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the last span let the tracer go"
    );
    let mut names = ended.lock().unwrap().clone();
    names.sort_by_key(|n| n[1..].parse::<u32>().unwrap());
    let want: Vec<_> = (0..24).map(|i| format!("s{i}")).collect();
    assert_eq!(names, want);
}

/// Threads on different shards hold different shards, but every span
/// carries the tracer's own resource.
#[test]
fn spans_of_every_thread_carry_the_tracers_resource() {
    let c = Collect::default();
    let tracer = Tracer::builder()
        .service_name("svc")
        .processor(c.clone())
        .build();
    std::thread::scope(|s| {
        for i in 0..16 {
            let t = &tracer;
            s.spawn(move || t.start_span(format!("s{i}")).end());
        }
    });
    let spans = c.spans();
    assert_eq!(spans.len(), 16);
    for s in &spans {
        assert_eq!(*s.resource, **tracer.resource(), "{}", s.name);
        assert_eq!(s.resource.service_name(), Some("svc"));
    }
    assert!(
        spans
            .iter()
            .all(|s| std::sync::Arc::ptr_eq(&s.resource, tracer.resource()))
    );
}

#[test]
fn every_processor_gets_the_same_span() {
    let (a, b, last) = (Collect::default(), Collect::default(), Collect::default());
    let t = Tracer::builder()
        .service_name("test")
        .processor(a.clone())
        .processor(b.clone())
        .processor(last.clone())
        .build();
    let mut span = t
        .span_builder("llm.call")
        .attribute("gen_ai.request.model", "m")
        .start();
    span.add_event("gen_ai.choice", Vec::new());
    span.end();
    let (a, b, last) = (a.take(), b.take(), last.take());
    assert_eq!(a.len(), 1);
    assert_eq!(a, b);
    assert_eq!(a, last);
    assert_eq!(a[0].status, Status::Success);
    assert!(a[0].end_time.is_some());
    assert_eq!(a[0].attributes.len(), 1);
    assert_eq!(a[0].events.len(), 1);
}

#[test]
fn remote_parent_from_headers() {
    let (t, c) = tracer();
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
    );
    headers.insert("tracestate".to_owned(), "vendor=x".to_owned());
    let cx = propagation::extract(&headers);
    t.span_builder("server").parent(&cx).start().end();
    let s = &c.take()[0];
    assert_eq!(
        s.span_context.trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        s.parent_span_id,
        Some(SpanId::from_hex("00f067aa0ba902b7").unwrap())
    );
    assert!(s.parent_is_remote);
    assert_eq!(s.span_context.trace_state.get("vendor"), Some("x"));
    // A sampled=0 remote parent is respected by the default ParentBased sampler.
    headers.insert(
        "traceparent".to_owned(),
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
    );
    let cx = propagation::extract(&headers);
    t.span_builder("server").parent(&cx).start().end();
    assert!(c.take().is_empty());
}

#[test]
fn context_carried_to_threads() {
    let (t, c) = tracer();
    {
        let root = t.span("root");
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let cx = root.context();
                let t = t.clone();
                std::thread::spawn(move || {
                    let _g = cx.attach();
                    let _s = t.span(format!("worker-{i}"));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
    let spans = c.take();
    let root = spans.iter().find(|s| s.name == "root").unwrap();
    assert_eq!(
        spans
            .iter()
            .filter(|s| s.parent_span_id == Some(root.span_context.span_id))
            .count(),
        4
    );
}

#[test]
fn thousand_async_tasks_get_the_right_parents() {
    let (t, c) = tracer();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut handles = Vec::new();
        for i in 0..1000 {
            let t = t.clone();
            let root = t.span_builder(format!("task-{i}")).root().start();
            let cx = root.context();
            handles.push(tokio::spawn(
                async move {
                    let _root = root;
                    for step in 0..3 {
                        tokio::task::yield_now().await;
                        let child = t.start_span(format!("task-{i}/step-{step}"));
                        let child_cx = child.context();
                        let t2 = t.clone();
                        async move {
                            let _child = child;
                            tokio::time::sleep(std::time::Duration::from_micros(20)).await;
                            t2.start_span(format!("task-{i}/step-{step}/leaf")).end();
                        }
                        .with_context(child_cx)
                        .await;
                    }
                }
                .with_context(cx),
            ));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    let spans = c.take();
    assert_eq!(spans.len(), 1000 * 7);
    let by_id: HashMap<SpanId, &SpanData> =
        spans.iter().map(|s| (s.span_context.span_id, s)).collect();
    for s in &spans {
        let name = s.name.as_ref();
        match name.rsplit_once('/') {
            None => assert!(s.is_root(), "{name}"),
            Some((parent_name, _)) => {
                let parent = by_id[&s.parent_span_id.unwrap()];
                assert_eq!(parent.name, parent_name, "parent of {name}");
                assert_eq!(parent.span_context.trace_id, s.span_context.trace_id);
            }
        }
    }
}

#[test]
fn noop_tracer_and_explicit_sampler() {
    let t = Tracer::noop();
    let s = t.span("x");
    assert!(!s.is_recording());
    assert!(s.span_context().is_valid());
    let (t, c) = tracer();
    let t2 = Tracer::builder()
        .processor(c.clone())
        .sampler(AlwaysOn)
        .build();
    drop(t);
    t2.start_span("y").end();
    assert_eq!(c.take().len(), 1);
}

/// A sampler that gives its verdict only through `should_sample`, with an
/// attribute and a trace state of its own.
#[derive(Debug)]
struct Tagging;

impl prela_core::Sampler for Tagging {
    fn should_sample(&self, _: &prela_core::SamplingParams<'_>) -> prela_core::SamplingResult {
        let mut r = prela_core::SamplingResult::new(prela_core::SamplingDecision::RecordAndSample);
        r.attributes = vec![prela_core::KeyValue::new("sampler.tag", "kept")];
        r.trace_state = Some(prela_core::TraceState::from_header("vendor=on").unwrap());
        r
    }
    fn description(&self) -> String {
        "Tagging".into()
    }
}

/// A sampler that counts how it was asked: for its verdict alone (it
/// drops every span), or in full.
#[derive(Debug, Clone, Default)]
struct Counting(std::sync::Arc<[std::sync::atomic::AtomicUsize; 2]>);

impl Counting {
    /// (verdicts asked for, full results asked for).
    fn asked(&self) -> (usize, usize) {
        let n = |i: usize| self.0[i].load(std::sync::atomic::Ordering::SeqCst);
        (n(0), n(1))
    }
}

impl prela_core::Sampler for Counting {
    fn should_sample(&self, _: &prela_core::SamplingParams<'_>) -> prela_core::SamplingResult {
        self.0[1].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        prela_core::SamplingResult::new(prela_core::SamplingDecision::RecordAndSample)
    }
    fn decision(&self, _: &prela_core::SamplingParams<'_>) -> Option<prela_core::SamplingDecision> {
        self.0[0].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(prela_core::SamplingDecision::Drop)
    }
    fn description(&self) -> String {
        "Counting".into()
    }
}

#[test]
fn a_sampler_is_asked_for_its_verdict_first_and_in_full_only_without_one() {
    // Without a verdict alone: the full result, attribute and trace state
    // included, as before.
    let c = Collect::default();
    let t = Tracer::builder()
        .processor(c.clone())
        .sampler(Tagging)
        .build();
    let mut s = t.span_builder("tagged").attribute("a", 1).start();
    assert_eq!(s.span_context().trace_state.header(), "vendor=on");
    s.end();
    let spans = c.take();
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].attribute("sampler.tag"),
        Some(&Value::from("kept"))
    );
    assert_eq!(spans[0].attribute("a"), Some(&Value::I64(1)));
    assert_eq!(spans[0].span_context.trace_state.header(), "vendor=on");
    // With one: `should_sample` is never called, and the verdict holds.
    let counting = Counting::default();
    let t = Tracer::builder()
        .processor(c.clone())
        .sampler(counting.clone())
        .build();
    for _ in 0..3 {
        let s = t.start_span("dropped");
        assert!(!s.is_recording());
    }
    assert!(c.take().is_empty());
    assert_eq!(counting.asked(), (3, 0));
}
