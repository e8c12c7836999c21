//! A Prela JSON span line written straight from [`SpanData`], byte for
//! byte what serializing [`super::PrelaSpan`] with the Python formatter
//! writes (the tests compare the two), without `serde_json`'s per-value
//! calls or any allocation: the file exporter writes one of these per span.

use std::time::SystemTime;

use super::text::{ascii_string, hex, integer, python_float, separated};
use crate::span::{Event, SERVICE_NAME, SpanData};
use crate::time::{format_timestamp, timestamp_bytes};
use crate::value::{KeyValue, Value};

/// Appends `span` as one line of Prela JSON, `\n` included.
pub(super) fn span_line(out: &mut Vec<u8>, span: &SpanData) {
    let cx = &span.span_context;
    out.extend_from_slice(b"{\"span_id\": \"");
    hex(out, &cx.span_id.to_bytes());
    out.extend_from_slice(b"\", \"trace_id\": \"");
    uuid(out, &cx.trace_id.to_bytes());
    out.extend_from_slice(b"\", \"parent_span_id\": ");
    match span.parent_span_id {
        Some(p) => {
            out.push(b'"');
            hex(out, &p.to_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b", \"name\": ");
    ascii_string(out, &span.name);
    out.extend_from_slice(b", \"span_type\": \"");
    out.extend_from_slice(span.span_type.as_str().as_bytes());
    out.extend_from_slice(b"\", \"started_at\": ");
    timestamp(out, span.start_time);
    out.extend_from_slice(b", \"ended_at\": ");
    match span.end_time {
        Some(t) => timestamp(out, t),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b", \"status\": \"");
    out.extend_from_slice(span.status.as_str().as_bytes());
    out.extend_from_slice(b"\", \"status_message\": ");
    match span.status_message() {
        Some(m) => ascii_string(out, m),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b", \"attributes\": ");
    attributes(out, super::added_service_name(span), &span.attributes);
    out.extend_from_slice(b", \"events\": [");
    separated(out, b", ", &span.events, event);
    out.extend_from_slice(b"], \"duration_ms\": ");
    match super::duration_ms(span) {
        Some(ms) => float(out, ms),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(snapshot) = &span.replay_snapshot {
        out.extend_from_slice(b", \"replay_snapshot\": ");
        value(out, snapshot);
    }
    out.extend_from_slice(b"}\n");
}

/// The 8-4-4-4-12 UUID form of a trace id.
fn uuid(out: &mut Vec<u8>, b: &[u8; 16]) {
    out.extend_from_slice(&crate::id::uuid_ascii(b));
}

fn timestamp(out: &mut Vec<u8>, t: SystemTime) {
    match timestamp_bytes(t) {
        Some(b) => {
            out.push(b'"');
            out.extend_from_slice(&b);
            out.push(b'"');
        }
        None => ascii_string(out, &format_timestamp(t)),
    }
}

/// `{"key": value, ...}`, `service.name` first when given.
fn attributes(out: &mut Vec<u8>, service_name: Option<&Value>, attrs: &[KeyValue]) {
    out.push(b'{');
    if let Some(name) = service_name {
        entry(out, (SERVICE_NAME.as_str(), name));
        if !attrs.is_empty() {
            out.extend_from_slice(b", ");
        }
    }
    separated(out, b", ", attrs, |out, kv| {
        entry(out, (kv.key.as_str(), &kv.value))
    });
    out.push(b'}');
}

/// `"key": value`.
fn entry(out: &mut Vec<u8>, (key, v): (&str, &Value)) {
    ascii_string(out, key);
    out.extend_from_slice(b": ");
    value(out, v);
}

fn event(out: &mut Vec<u8>, e: &Event) {
    out.extend_from_slice(b"{\"timestamp\": ");
    timestamp(out, e.timestamp);
    out.extend_from_slice(b", \"name\": ");
    ascii_string(out, &e.name);
    out.extend_from_slice(b", \"attributes\": ");
    attributes(out, None, &e.attributes);
    out.push(b'}');
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::I64(i) => integer(out, *i),
        Value::F64(f) => float(out, *f),
        Value::String(s) => ascii_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            separated(out, b", ", items, value);
            out.push(b']');
        }
        Value::Map(entries) => {
            out.push(b'{');
            separated(out, b", ", entries, |out, (k, v)| entry(out, (k, v)));
            out.push(b'}');
        }
    }
}

/// A finite float as Python's `repr`; `null` for NaN and the infinities,
/// which JSON numbers cannot hold (as `serde_json` writes them).
fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        python_float(out, f);
    } else {
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use serde::Serialize;

    use super::*;
    use crate::context::SpanContext;
    use crate::id::{SpanId, TraceFlags, TraceId};
    use crate::span::{Resource, SpanType, Status};
    use crate::value::Str;

    /// What the `serde_json` path writes for `span`.
    fn through_serde(span: &SpanData) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ser =
            serde_json::Serializer::with_formatter(&mut out, super::super::PythonFormatter);
        super::super::PrelaSpan(span).serialize(&mut ser).unwrap();
        out.push(b'\n');
        out
    }

    fn direct(span: &SpanData) -> Vec<u8> {
        let mut out = Vec::new();
        span_line(&mut out, span);
        out
    }

    /// Strings with every ASCII character, DEL, non-ASCII text and a
    /// character beyond the Basic Multilingual Plane.
    fn texts() -> Vec<String> {
        let mut all: String = (0u8..=0x7f).map(char::from).collect();
        all.push_str("é日本🦀");
        vec![
            String::new(),
            "plain".to_owned(),
            all,
            "quote \" back\\slash\nnewline\ttab".to_owned(),
            "naïve café — ok".to_owned(),
        ]
    }

    fn floats() -> Vec<f64> {
        vec![
            0.0,
            -0.0,
            0.7,
            1.0,
            -2.5,
            0.1 + 0.2,
            1e16,
            1e15,
            123_456_789_012_345.6,
            1e-4,
            1e-5,
            1.5e-7,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]
    }

    fn values() -> Vec<Value> {
        let mut v = vec![
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::I64(0),
            Value::I64(-1),
            Value::I64(i64::MAX),
            Value::I64(i64::MIN),
        ];
        v.extend(floats().into_iter().map(Value::F64));
        v.extend(texts().into_iter().map(|t| Value::String(t.into())));
        v.push(Value::Array(Vec::new()));
        v.push(Value::Map(Vec::new()));
        v.push(Value::Array(vec![
            Value::I64(1),
            Value::String("two".into()),
            Value::Array(vec![Value::F64(3.5), Value::Null]),
        ]));
        v.push(Value::Map(vec![
            (Str::from("k\u{1}é"), Value::Bool(true)),
            (
                Str::from("nested"),
                Value::Map(vec![(Str::from("x"), Value::F64(1e-7))]),
            ),
        ]));
        v
    }

    fn varied() -> Vec<SpanData> {
        let named = Arc::new(Resource::with_service_name("svc \"quoted\" é"));
        let anonymous = Arc::new(Resource::empty());
        let values = values();
        let texts = texts();
        let times = [
            UNIX_EPOCH + Duration::new(1_763_782_282, 167_762_123),
            UNIX_EPOCH,
            UNIX_EPOCH - Duration::from_micros(1_500_001),
            UNIX_EPOCH + Duration::from_secs(400 * 365 * 86_400 * 25),
        ];
        let statuses = [
            Status::Success,
            Status::Pending,
            Status::error(""),
            Status::error("boom\n\"bad\" é"),
        ];
        let mut spans = Vec::new();
        for i in 0..48usize {
            let cx = SpanContext::new(
                TraceId::from_u128(0x0123_4567_89ab_cdef_fedc_ba98_7654_3210 ^ (i as u128) << 64),
                SpanId::from_u64(0xa5a5_0000_0000_0001 + i as u64),
                TraceFlags::SAMPLED,
            );
            let start = times[i % times.len()];
            let end = start + Duration::from_nanos(i as u64 * 123_456_789);
            let mut s = SpanData::new(cx, texts[i % texts.len()].clone(), start, end);
            s.span_type = SpanType::ALL[i % SpanType::ALL.len()];
            s.status = statuses[i % statuses.len()].clone();
            s.parent_span_id = (i % 3 != 0).then(|| SpanId::from_u64(i as u64 + 1));
            s.resource = Arc::clone(if i % 2 == 0 { &named } else { &anonymous });
            if i % 7 == 6 {
                s.end_time = None;
            }
            s.attributes = (0..i % 9)
                .map(|j| {
                    KeyValue::new(
                        format!("k{j}.{}", texts[(i + j) % texts.len()]),
                        values[(i * 5 + j) % values.len()].clone(),
                    )
                })
                .collect();
            if i % 5 == 4 {
                s.attributes.push(KeyValue::new("service.name", "own name"));
            }
            s.events = (0..i % 3)
                .map(|j| {
                    Event::new(
                        texts[(i + j) % texts.len()].clone(),
                        start + Duration::from_micros(j as u64 * 10),
                        (0..j + i % 2)
                            .map(|k| KeyValue::new("e", values[(i + k) % values.len()].clone()))
                            .collect(),
                    )
                })
                .collect();
            s.replay_snapshot = match i % 4 {
                1 => Some(Value::Null),
                2 => Some(values[i % values.len()].clone()),
                _ => None,
            };
            spans.push(s);
        }
        // Every value at least once as an attribute.
        for (i, v) in values.iter().enumerate() {
            let cx = SpanContext::new(
                TraceId::from_u128(i as u128 + 1),
                SpanId::from_u64(i as u64 + 1),
                TraceFlags::SAMPLED,
            );
            let mut s = SpanData::new(cx, "value", times[0], times[0]);
            s.attributes = vec![KeyValue::new("v", v.clone())];
            spans.push(s);
        }
        spans
    }

    #[test]
    fn direct_line_matches_the_serde_path_byte_for_byte() {
        let spans = varied();
        assert!(spans.len() > 80);
        for (i, s) in spans.iter().enumerate() {
            let want = through_serde(s);
            let got = direct(s);
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "span {i}"
            );
        }
    }

    #[test]
    fn lines_are_ascii_and_read_back() {
        for s in varied() {
            let line = direct(&s);
            assert!(line.is_ascii());
            assert_eq!(line.last(), Some(&b'\n'));
            if timestamp_bytes(s.start_time).is_none() {
                // A year past 9999 is written, but neither Python's
                // datetime nor this reader takes it.
                continue;
            }
            let back = crate::json::parse_span(std::str::from_utf8(&line).unwrap().trim_end());
            let back = back.unwrap();
            assert_eq!(back.span_context.span_id, s.span_context.span_id);
            assert_eq!(back.name, s.name);
            assert_eq!(back.status, s.status);
        }
    }
}
