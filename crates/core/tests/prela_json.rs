//! Prela JSON against the Python SDK's own output (tests/fixtures/prela-python).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use prela_core::json::{parse_span, read_jsonl, span_to_string};
use prela_core::span::{Event, Resource, SpanData, SpanType, Status};
use prela_core::{KeyValue, SpanContext, SpanId, TraceFlags, TraceId, Value};

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/prela-python")
        .join(rel);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The Python line with its UUID span ids rewritten to our 16-hex form.
fn expected_line(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let mut out = line.to_owned();
    for key in ["span_id", "parent_span_id"] {
        if let Some(s) = v[key].as_str() {
            let hex = &s.replace('-', "")[..16];
            out = out.replacen(
                &format!("\"{key}\": \"{s}\""),
                &format!("\"{key}\": \"{hex}\""),
                1,
            );
        }
    }
    out
}

fn check_file(rel: &str, want_lines: usize) {
    let text = fixture(rel);
    let spans: Vec<SpanData> = read_jsonl(text.as_bytes()).map(|r| r.unwrap()).collect();
    assert_eq!(spans.len(), want_lines);
    for (line, span) in text.lines().zip(&spans) {
        let written = span_to_string(span).unwrap();
        assert_eq!(written, expected_line(line), "round trip of {}", span.name);
        // And our own output reads back to the same span.
        let again = parse_span(&written).unwrap();
        assert_eq!(&again, span);
    }
}

#[test]
fn python_traces_round_trip_byte_for_byte() {
    check_file("traces/traces-2026-11-22-001.jsonl", 7);
}

#[test]
fn python_replay_traces_round_trip_byte_for_byte() {
    check_file("replay/traces/traces-2026-11-22-001.jsonl", 6);
    let text = fixture("replay/traces/traces-2026-11-22-001.jsonl");
    let with_snapshot = read_jsonl(text.as_bytes())
        .map(|r| r.unwrap())
        .filter(|s| s.replay_snapshot.is_some())
        .count();
    assert_eq!(with_snapshot, 2);
}

#[test]
fn python_fixture_semantics() {
    let text = fixture("traces/traces-2026-11-22-001.jsonl");
    let spans: Vec<SpanData> = read_jsonl(text.as_bytes()).map(|r| r.unwrap()).collect();
    let root = spans.iter().find(|s| s.name == "research_agent").unwrap();
    assert!(root.is_root());
    assert_eq!(root.span_type, SpanType::Agent);
    assert_eq!(root.resource.service_name(), Some("research-agent"));
    let trace = TraceId::from_uuid("4d63af3a-e2bb-4dc8-91d1-2234dc133607").unwrap();
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == Some(root.span_context.span_id))
        .collect();
    assert_eq!(children.len(), 5);
    assert!(children.iter().all(|c| c.span_context.trace_id == trace));
    let failed = spans.iter().find(|s| s.name == "fetch_url").unwrap();
    assert_eq!(
        failed.status,
        Status::error("GET https://releases.rs/docs/1.83.0/ timed out after 10.0s")
    );
    assert_eq!(
        failed.attribute("error.type").and_then(Value::as_str),
        Some("TimeoutError")
    );
    let web = spans.iter().find(|s| s.name == "web_search").unwrap();
    assert_eq!(web.duration(), Some(Duration::from_micros(50_212)));
    let llm = &spans[0];
    assert_eq!(llm.attribute("llm.input_tokens"), Some(&Value::I64(412)));
    assert_eq!(llm.attribute("llm.temperature"), Some(&Value::F64(0.2)));
    assert_eq!(llm.events.len(), 3);
}

#[test]
fn our_spans_round_trip() {
    let cx = SpanContext::new(
        TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c),
        SpanId::from_u64(0xb7ad6b7169203331),
        TraceFlags::SAMPLED,
    );
    let start = UNIX_EPOCH + Duration::from_micros(1_795_318_282_000_001);
    let mut span = SpanData::new(
        cx,
        "chat gpt-4o",
        start,
        start + Duration::from_micros(1_234_567),
    );
    span.parent_span_id = Some(SpanId::from_u64(1));
    span.span_type = SpanType::Llm;
    span.status = Status::error("boom \u{1F4A5} \"quoted\"");
    span.resource = Arc::new(Resource::with_service_name("svc"));
    span.attributes = vec![
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.usage.input_tokens", 412i64),
        KeyValue::new("f", 1e-7),
        KeyValue::new("b", false),
        KeyValue::new("n", Value::Null),
        KeyValue::new(
            "nested",
            Value::Map(vec![
                ("list".into(), Value::from(vec![1.5f64, 2.0])),
                ("z".into(), "é".into()),
            ]),
        ),
    ];
    span.events = vec![Event::new(
        "gen_ai.choice",
        start + Duration::from_micros(10),
        vec![KeyValue::new("index", 0i64)],
    )];
    let line = span_to_string(&span).unwrap();
    assert!(line.starts_with(
        "{\"span_id\": \"b7ad6b7169203331\", \"trace_id\": \"0af76519-16cd-43dd-8448-eb211c80319c\", \"parent_span_id\": \"0000000000000001\", \"name\": \"chat gpt-4o\", \"span_type\": \"llm\", \"started_at\": \"2026-11-22T03:31:22.000001+00:00\""
    ), "{line}");
    assert!(line.contains("\"attributes\": {\"service.name\": \"svc\", \"gen_ai.request.model\""));
    assert!(line.ends_with("\"duration_ms\": 1234.567}"), "{line}");
    let mut back = parse_span(&line).unwrap();
    // service.name moves from the resource into the attributes, as in Python.
    assert_eq!(
        back.attributes.remove(0),
        KeyValue::new("service.name", "svc")
    );
    assert_eq!(back.attributes, span.attributes);
    assert_eq!(back.events, span.events);
    assert_eq!(back.status, span.status);
    assert_eq!(back.span_context.span_id, span.span_context.span_id);
    assert_eq!(back.parent_span_id, span.parent_span_id);
    assert_eq!(back.start_time, span.start_time);
    assert_eq!(back.end_time, span.end_time);
}
