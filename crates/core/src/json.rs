//! Prela JSON: the span format of the console (verbose), file and cloud
//! exporters, compatible with the Python Prela SDK.
//!
//! Writing produces the Python SDK's exact layout: the same keys in the same
//! order, `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`, floats
//! as Python's `repr`, timestamps as `2026-11-22T03:31:22.167762+00:00`.
//! `trace_id` is written in UUID form, `span_id` and `parent_span_id` as 16
//! lowercase hex digits.
//!
//! Reading accepts what the Python SDK writes, including its UUIDv4 span ids
//! (the first 8 bytes are kept) and timestamps without a fraction.

use std::fmt;
use std::io;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use crate::context::SpanContext;
use crate::id::{SpanId, TraceFlags, TraceId};
use crate::span::{Event, Resource, SERVICE_NAME, SpanData, SpanType, Status};
use crate::time::{format_timestamp, parse_timestamp, unix_micros};
use crate::value::{Key, KeyValue, Str, Value};

mod line;
pub mod text;

/// Why a line of Prela JSON could not be read.
#[derive(Debug)]
pub struct ReadError {
    line: Option<u64>,
    kind: ReadErrorKind,
}

#[derive(Debug)]
enum ReadErrorKind {
    Json(serde_json::Error),
    Field(&'static str, String),
    Io(io::Error),
}

impl ReadError {
    /// The 1-based line number, when reading a JSONL stream.
    pub fn line(&self) -> Option<u64> {
        self.line
    }

    fn field(name: &'static str, msg: impl fmt::Display) -> Self {
        ReadError {
            line: None,
            kind: ReadErrorKind::Field(name, msg.to_string()),
        }
    }

    /// `true` when the line is syntactically incomplete JSON, as a line torn
    /// by a crash mid-write is.
    pub fn is_truncated(&self) -> bool {
        matches!(&self.kind, ReadErrorKind::Json(e) if e.is_eof())
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(n) = self.line {
            write!(f, "line {n}: ")?;
        }
        match &self.kind {
            ReadErrorKind::Json(e) => write!(f, "invalid JSON: {e}"),
            ReadErrorKind::Field(name, msg) => write!(f, "field `{name}`: {msg}"),
            ReadErrorKind::Io(e) => write!(f, "read failed: {e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ReadErrorKind::Json(e) => Some(e),
            ReadErrorKind::Io(e) => Some(e),
            ReadErrorKind::Field(..) => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Writing

/// Python's `repr(float)`: the shortest string that round-trips, in fixed
/// notation when the decimal exponent is in [-4, 16), else `1e+16` style.
pub fn write_python_float(out: &mut String, v: f64) {
    out.push_str(text::PythonFloat::new(v).as_str());
}

/// serde_json formatter reproducing Python's `json.dumps` defaults.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(text::PythonFloat::new(value).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        self.write_f64(w, f64::from(value))
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // As Python's `ensure_ascii`: DEL and non-ASCII as `\uXXXX`.
        if !fragment.bytes().any(|b| b >= 0x7f) {
            return w.write_all(fragment.as_bytes());
        }
        let mut buf = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() && c != '\u{7f}' {
                w.write_all(&[c as u8])?;
            } else {
                for &mut unit in c.encode_utf16(&mut buf) {
                    w.write_all(&text::unicode_escape(unit))?;
                }
            }
        }
        Ok(())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::I64(i) => s.serialize_i64(*i),
            Value::F64(f) => s.serialize_f64(*f),
            Value::String(v) => s.serialize_str(v),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k.as_ref(), v)?;
                }
                map.end()
            }
        }
    }
}

struct Attributes<'a> {
    service_name: Option<&'a Value>,
    attrs: &'a [KeyValue],
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        if let Some(name) = self.service_name {
            map.serialize_entry(SERVICE_NAME.as_str(), name)?;
        }
        for kv in self.attrs {
            map.serialize_entry(kv.key.as_str(), &kv.value)?;
        }
        map.end()
    }
}

struct Events<'a>(&'a [Event]);

impl Serialize for Events<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for e in self.0 {
            seq.serialize_element(&EventJson(e))?;
        }
        seq.end()
    }
}

/// A timestamp as Python's `isoformat()` writes it, formatted on the stack.
struct Timestamp(std::time::SystemTime);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match crate::time::timestamp_bytes(self.0) {
            // ASCII digits and punctuation.
            Some(b) => s.serialize_str(std::str::from_utf8(&b).unwrap_or_default()),
            None => s.serialize_str(&format_timestamp(self.0)),
        }
    }
}

struct EventJson<'a>(&'a Event);

impl Serialize for EventJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("timestamp", &Timestamp(self.0.timestamp))?;
        map.serialize_entry("name", self.0.name.as_ref())?;
        map.serialize_entry(
            "attributes",
            &Attributes {
                service_name: None,
                attrs: &self.0.attributes,
            },
        )?;
        map.end()
    }
}

/// The resource's `service.name`, written first among a span's attributes
/// when the span has none of its own: the Python SDK puts `service.name`
/// in every span's attributes.
fn added_service_name(span: &SpanData) -> Option<&Value> {
    match span.attribute(SERVICE_NAME.as_str()) {
        Some(_) => None,
        None => span.resource.get(SERVICE_NAME.as_str()),
    }
}

/// `duration_ms` as Python computes it, `timedelta(µs).total_seconds() *
/// 1000`; `None` for an unfinished span.
fn duration_ms(span: &SpanData) -> Option<f64> {
    span.end_time.map(|end| {
        let us = unix_micros(end) - unix_micros(span.start_time);
        (us as f64 / 1e6) * 1000.0
    })
}

/// Serializes a [`SpanData`] as one Prela JSON span object.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::exhaustive_structs)] // a transparent wrapper: nothing can be added
pub struct PrelaSpan<'a>(pub &'a SpanData);

impl Serialize for PrelaSpan<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let span = self.0;
        let cx = &span.span_context;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("span_id", &cx.span_id.to_string())?;
        map.serialize_entry("trace_id", &cx.trace_id.uuid().to_string())?;
        map.serialize_entry(
            "parent_span_id",
            &span.parent_span_id.map(|p| p.to_string()),
        )?;
        map.serialize_entry("name", span.name.as_ref())?;
        map.serialize_entry("span_type", span.span_type.as_str())?;
        map.serialize_entry("started_at", &Timestamp(span.start_time))?;
        map.serialize_entry("ended_at", &span.end_time.map(Timestamp))?;
        map.serialize_entry("status", span.status.as_str())?;
        map.serialize_entry("status_message", &span.status_message())?;
        let service_name = added_service_name(span);
        map.serialize_entry(
            "attributes",
            &Attributes {
                service_name,
                attrs: &span.attributes,
            },
        )?;
        map.serialize_entry("events", &Events(&span.events))?;
        map.serialize_entry("duration_ms", &duration_ms(span))?;
        if let Some(snapshot) = &span.replay_snapshot {
            map.serialize_entry("replay_snapshot", snapshot)?;
        }
        map.end()
    }
}

/// Appends one span as a line of Prela JSON (with the trailing `\n`).
///
/// Written directly, byte for byte what serializing [`PrelaSpan`] writes.
/// It never fails: the `Result` is always `Ok`.
pub fn write_span_line(out: &mut Vec<u8>, span: &SpanData) -> Result<(), serde_json::Error> {
    line::span_line(out, span);
    Ok(())
}

/// One span as a Prela JSON string (no trailing newline).
pub fn span_to_string(span: &SpanData) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(512);
    write_span_line(&mut out, span)?;
    out.pop();
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// A value as Python-style JSON text.
pub fn value_to_string(v: &Value) -> Result<String, serde_json::Error> {
    let mut out = Vec::with_capacity(64);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    v.serialize(&mut ser)?;
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

// ---------------------------------------------------------------------------
// Reading

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::I64(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(Str::Owned(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(Str::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        Ok(Value::Map(read_ordered_map(&mut map)?))
    }
}

fn read_ordered_map<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Vec<(Str, Value)>, A::Error> {
    let mut entries: Vec<(Str, Value)> = Vec::new();
    while let Some((k, v)) = map.next_entry::<String, Value>()? {
        // JSON objects with a repeated key keep the last value, as Python does.
        match entries.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => entries.push((Str::Owned(k), v)),
        }
    }
    Ok(entries)
}

/// An insertion-ordered JSON object, read as attributes.
struct OrderedAttrs(Vec<KeyValue>);

impl<'de> Deserialize<'de> for OrderedAttrs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedAttrs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of attributes")
            }
            fn visit_unit<E>(self) -> Result<OrderedAttrs, E> {
                Ok(OrderedAttrs(Vec::new()))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedAttrs, A::Error> {
                Ok(OrderedAttrs(
                    read_ordered_map(&mut map)?
                        .into_iter()
                        .map(|(k, v)| KeyValue::new(Key::new(k), v))
                        .collect(),
                ))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(serde::Deserialize)]
struct RawEvent {
    timestamp: String,
    name: String,
    #[serde(default)]
    attributes: Option<OrderedAttrs>,
}

#[derive(serde::Deserialize)]
struct RawSpan {
    span_id: String,
    trace_id: String,
    #[serde(default)]
    parent_span_id: Option<String>,
    name: String,
    #[serde(default)]
    span_type: Option<String>,
    started_at: String,
    #[serde(default)]
    ended_at: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    status_message: Option<String>,
    #[serde(default)]
    attributes: Option<OrderedAttrs>,
    #[serde(default)]
    events: Option<Vec<RawEvent>>,
    #[serde(default)]
    replay_snapshot: Option<Value>,
}

/// Reads one Prela JSON span object.
///
/// The span's resource gets `service.name` from its attributes, where the
/// Python SDK puts it.
pub fn parse_span(json: &str) -> Result<SpanData, ReadError> {
    let raw: RawSpan = serde_json::from_str(json).map_err(|e| ReadError {
        line: None,
        kind: ReadErrorKind::Json(e),
    })?;
    from_raw(raw)
}

fn from_raw(raw: RawSpan) -> Result<SpanData, ReadError> {
    let trace_id = TraceId::parse(&raw.trace_id).map_err(|e| ReadError::field("trace_id", e))?;
    let span_id = SpanId::parse(&raw.span_id).map_err(|e| ReadError::field("span_id", e))?;
    let parent_span_id = match raw.parent_span_id.as_deref() {
        None | Some("") => None,
        Some(p) => Some(SpanId::parse(p).map_err(|e| ReadError::field("parent_span_id", e))?),
    };
    let span_type = match raw.span_type.as_deref() {
        None => SpanType::Custom,
        Some(t) => t.parse().map_err(|e| ReadError::field("span_type", e))?,
    };
    let start_time =
        parse_timestamp(&raw.started_at).map_err(|e| ReadError::field("started_at", e))?;
    let end_time = match raw.ended_at.as_deref() {
        None => None,
        Some(t) => Some(parse_timestamp(t).map_err(|e| ReadError::field("ended_at", e))?),
    };
    let status = match raw.status.as_deref().unwrap_or("pending") {
        "pending" => Status::Pending,
        "success" => Status::Success,
        "error" => Status::error(raw.status_message.unwrap_or_default()),
        other => {
            return Err(ReadError::field(
                "status",
                format!("unknown status {other:?}: expected pending, success or error"),
            ));
        }
    };
    let attributes = raw.attributes.map(|a| a.0).unwrap_or_default();
    let mut resource = Resource::empty();
    if let Some(name) = attributes.iter().find(|kv| kv.key == SERVICE_NAME) {
        resource.set(name.clone());
    }
    let mut events = Vec::new();
    for e in raw.events.unwrap_or_default() {
        let ts = parse_timestamp(&e.timestamp)
            .map_err(|err| ReadError::field("events.timestamp", err))?;
        events.push(Event::new(
            e.name,
            ts,
            e.attributes.map(|a| a.0).unwrap_or_default(),
        ));
    }
    let mut span_context = SpanContext::new(trace_id, span_id, TraceFlags::SAMPLED);
    span_context.is_remote = false;
    Ok(SpanData {
        span_context,
        parent_span_id,
        parent_is_remote: false,
        name: Str::Owned(raw.name),
        span_type,
        start_time,
        end_time,
        status,
        attributes,
        events,
        dropped_attributes_count: 0,
        dropped_events_count: 0,
        resource: Arc::new(resource),
        replay_snapshot: raw.replay_snapshot,
    })
}

/// Reads a JSONL stream of Prela spans, one per line; blank lines are
/// skipped. Each item is a span or the error for that line (with its number).
pub fn read_jsonl<R: io::BufRead>(reader: R) -> impl Iterator<Item = Result<SpanData, ReadError>> {
    reader.lines().enumerate().filter_map(|(i, line)| {
        let n = i as u64 + 1;
        match line {
            Err(e) => Some(Err(ReadError {
                line: Some(n),
                kind: ReadErrorKind::Io(e),
            })),
            Ok(l) if l.trim().is_empty() => None,
            Ok(l) => Some(parse_span(&l).map_err(|mut e| {
                e.line = Some(n);
                e
            })),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(v: f64) -> String {
        let mut s = String::new();
        write_python_float(&mut s, v);
        s
    }

    #[test]
    fn python_float_repr() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (0.2, "0.2"),
            (50.211999999999996, "50.211999999999996"),
            (207.811598, "207.811598"),
            (1024.0, "1024.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5, "-2.5"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(py(*v), *want, "{v:e}");
        }
    }

    #[test]
    fn non_ascii_is_escaped_like_python() {
        let v = Value::from("héllo → 😀\n\"q\"");
        assert_eq!(
            value_to_string(&v).unwrap(),
            r#""h\u00e9llo \u2192 \ud83d\ude00\n\"q\"""#
        );
        let m = Value::Map(vec![(
            "a".into(),
            Value::Array(vec![1i64.into(), Value::Null, true.into()]),
        )]);
        assert_eq!(value_to_string(&m).unwrap(), r#"{"a": [1, null, true]}"#);
    }

    #[test]
    fn read_errors_name_the_field() {
        let bad = r#"{"span_id": "zz", "trace_id": "4d63af3a-e2bb-4dc8-91d1-2234dc133607", "name": "x", "started_at": "2026-11-22T03:31:22+00:00"}"#;
        let e = parse_span(bad).unwrap_err();
        assert!(e.to_string().contains("span_id"), "{e}");
        assert!(e.to_string().contains("\"zz\""), "{e}");
        let torn = r#"{"span_id": "156f8189616c487a", "trace_id": "4d63"#;
        assert!(parse_span(torn).unwrap_err().is_truncated());
    }
}
