//! The logging exporter: one `tracing` event per span, with its fields.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use prela_core::{
    KeyValue, SpanContext, SpanData, SpanExporter, SpanId, SpanType, Status, TraceFlags, TraceId,
};
use prela_testkit::Capture;
use prela_tracing::LogExporter;

#[test]
fn one_event_per_span_at_the_chosen_level() {
    let cx = SpanContext::new(
        TraceId::from_u128(0xabc),
        SpanId::from_u64(7),
        TraceFlags::SAMPLED,
    );
    let t0 = SystemTime::now();
    let mut s = SpanData::new(cx, "chat gpt-4o", t0, t0 + Duration::from_millis(12));
    s.span_type = SpanType::Llm;
    s.status = Status::error("rate limited");
    s.attributes = vec![KeyValue::new("gen_ai.usage.input_tokens", 412i64)];
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        assert!(
            LogExporter::new(tracing::Level::WARN)
                .export(&[s.clone(), s])
                .is_success()
        );
    });
    let got = capture.events();
    assert_eq!(got.len(), 2);
    let (target, level, fields) = (&got[0].target, &got[0].level, &got[0].fields);
    assert_eq!((target.as_str(), level.as_str()), ("prela::span", "WARN"));
    for want in [
        "trace_id=00000000000000000000000000000abc",
        "span_id=0000000000000007",
        "name=chat gpt-4o",
        "span_type=\"llm\"",
        "status=\"error\"",
        "status_message=\"rate limited\"",
        "duration_ms=12.0",
        r#"attributes={"gen_ai.usage.input_tokens":412}"#,
        "message=span chat gpt-4o",
    ] {
        assert!(fields.contains(want), "{want} in {fields}");
    }
}
