//! The redacting processor: secrets never reach the processor behind it.
#![allow(clippy::unwrap_used)]

use prela_testkit::Collect;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use prela_core::{
    Event, KeyValue, SpanContext, SpanData, SpanId, SpanProcessor, Status, TraceFlags, TraceId,
    Value,
};
use prela_transport::{RedactionRules, Redactor};

const KEY: &str = "sk-proj-9f8e7d6c5b4a39281706";

fn leaky_span() -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(1),
        TraceFlags::SAMPLED,
    );
    let now = SystemTime::now();
    let mut s = SpanData::new(cx, "chat gpt-4o", now, now);
    s.attributes = vec![
        KeyValue::new("http.request.header.authorization", format!("Bearer {KEY}")),
        KeyValue::new(
            "llm.request",
            format!("called with api_key={KEY} for ada@example.com"),
        ),
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new(
            "tool.input",
            Value::Map(vec![
                ("password".into(), "hunter2hunter2".into()),
                (
                    "query".into(),
                    Value::Array(vec![format!("token {KEY}").into()]),
                ),
            ]),
        ),
    ];
    s.events = vec![Event::new(
        "gen_ai.user.message",
        now,
        vec![KeyValue::new(
            "content",
            format!("my card is 4111 1111 1111 1111, key {KEY}"),
        )],
    )];
    s.status = Status::error(format!("401 for key {KEY}"));
    s
}

#[test]
fn default_rules_scrub_every_place() {
    let c = Collect::default();
    let p = Redactor::new(c.clone());
    p.on_end(leaky_span());
    let s = c.0.lock().unwrap()[0].clone();
    let everything = format!("{s:?}");
    assert!(!everything.contains(KEY), "{everything}");
    assert!(!everything.contains("hunter2"), "{everything}");
    assert!(
        s.attribute("http.request.header.authorization").is_none(),
        "dropped by key"
    );
    assert_eq!(s.dropped_attributes_count, 1);
    assert_eq!(
        s.attribute("llm.request").and_then(Value::as_str),
        Some("called with api_key=[REDACTED] for ada@example.com"),
        "e-mail kept: opt-in"
    );
    assert_eq!(
        s.attribute("gen_ai.request.model").and_then(Value::as_str),
        Some("gpt-4o")
    );
    assert_eq!(s.status, Status::error("401 for key [REDACTED]"));
    assert!(
        everything.contains("4111 1111 1111 1111"),
        "cards are opt-in"
    );
}

#[test]
fn strict_rules_also_mask_emails_and_cards() {
    let c = Collect::default();
    let p = Redactor::with_rules(RedactionRules::strict(), c.clone());
    p.on_end(leaky_span());
    let everything = format!("{:?}", c.0.lock().unwrap()[0]);
    for leak in [KEY, "hunter2", "ada@example.com", "4111 1111 1111 1111"] {
        assert!(!everything.contains(leak), "{leak} leaked: {everything}");
    }
}

#[derive(Default, Clone)]
struct Seen(Arc<Mutex<String>>);

impl prela_core::SpanExporter for Seen {
    fn export(&self, batch: &[SpanData]) -> prela_core::ExportResult {
        self.0.lock().unwrap().push_str(&format!("{batch:?}"));
        prela_core::ExportResult::Success
    }
}

#[test]
fn the_batch_worker_redacts_before_export() {
    let seen = Seen::default();
    let p = prela_transport::BatchProcessor::builder(seen.clone())
        .redaction(RedactionRules::default())
        .build()
        .unwrap();
    p.on_end(leaky_span());
    p.shutdown(Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let text = seen.0.lock().unwrap().clone();
    assert!(text.contains("[REDACTED]"));
    assert!(!text.contains(KEY), "{text}");
    let simple = prela_transport::SimpleProcessor::new(seen.clone())
        .with_redaction(RedactionRules::default());
    seen.0.lock().unwrap().clear();
    simple.on_end(leaky_span());
    assert!(!seen.0.lock().unwrap().contains(KEY));
}
