//! The OTLP JSON mapping (OTLP/HTTP with `application/json`): protobuf JSON
//! with the OTLP rules: trace and span ids as lowercase hex, enums as
//! integers, 64-bit integers as strings, lowerCamelCase keys, default values
//! left out.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prela_core::{SpanData, Status, Value};

use prela_core::json::text::{self, decimal, separated, string};

use crate::encode::{SPAN_TYPE_ATTRIBUTE, by_resource, nanos, span_flags, span_kind};

fn hex(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    text::hex(&mut out, bytes);
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

struct Seq<'a, T, W>(&'a [T], fn(&'a T) -> W);

impl<'a, T, W: Serialize> Serialize for Seq<'a, T, W> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&(self.1)(item))?;
        }
        seq.end()
    }
}

struct Any<'a>(&'a AnyValue);

impl Serialize for Any<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match &self.0.value {
            None => {}
            Some(any_value::Value::StringValue(v)) => m.serialize_entry("stringValue", v)?,
            Some(any_value::Value::BoolValue(v)) => m.serialize_entry("boolValue", v)?,
            Some(any_value::Value::IntValue(v)) => m.serialize_entry("intValue", &v.to_string())?,
            Some(any_value::Value::DoubleValue(v)) => {
                if v.is_finite() {
                    m.serialize_entry("doubleValue", v)?;
                } else {
                    m.serialize_entry("doubleValue", non_finite(*v))?;
                }
            }
            Some(any_value::Value::ArrayValue(a)) => {
                m.serialize_entry("arrayValue", &Values(Seq(&a.values, Any)))?;
            }
            Some(any_value::Value::KvlistValue(l)) => {
                m.serialize_entry("kvlistValue", &Values(Seq(&l.values, Kv)))?;
            }
            Some(any_value::Value::BytesValue(b)) => m.serialize_entry("bytesValue", &base64(b))?,
            Some(any_value::Value::StringValueStrindex(i)) => {
                m.serialize_entry("stringValueStrindex", i)?
            }
        }
        m.end()
    }
}

/// `{"values": [...]}`
struct Values<T>(T);

impl<T: Serialize> Serialize for Values<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("values", &self.0)?;
        m.end()
    }
}

fn base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

struct Kv<'a>(&'a KeyValue);

impl Serialize for Kv<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("key", &self.0.key)?;
        match &self.0.value {
            Some(v) => m.serialize_entry("value", &Any(v))?,
            None => m.serialize_entry("value", &Any(&AnyValue::default()))?,
        }
        m.end()
    }
}

struct Scope<'a>(&'a InstrumentationScope);

impl Serialize for Scope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("name", &self.0.name)?;
        if !self.0.version.is_empty() {
            m.serialize_entry("version", &self.0.version)?;
        }
        if !self.0.attributes.is_empty() {
            m.serialize_entry("attributes", &Seq(&self.0.attributes, Kv))?;
        }
        m.end()
    }
}

struct Event<'a>(&'a span::Event);

impl Serialize for Event<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timeUnixNano", &e.time_unix_nano.to_string())?;
        m.serialize_entry("name", &e.name)?;
        if !e.attributes.is_empty() {
            m.serialize_entry("attributes", &Seq(&e.attributes, Kv))?;
        }
        if e.dropped_attributes_count > 0 {
            m.serialize_entry("droppedAttributesCount", &e.dropped_attributes_count)?;
        }
        m.end()
    }
}

struct SpanJson<'a>(&'a Span);

impl Serialize for SpanJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sp = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("traceId", &hex(&sp.trace_id))?;
        m.serialize_entry("spanId", &hex(&sp.span_id))?;
        if !sp.trace_state.is_empty() {
            m.serialize_entry("traceState", &sp.trace_state)?;
        }
        if !sp.parent_span_id.is_empty() {
            m.serialize_entry("parentSpanId", &hex(&sp.parent_span_id))?;
        }
        if sp.flags != 0 {
            m.serialize_entry("flags", &sp.flags)?;
        }
        m.serialize_entry("name", &sp.name)?;
        m.serialize_entry("kind", &sp.kind)?;
        m.serialize_entry("startTimeUnixNano", &sp.start_time_unix_nano.to_string())?;
        m.serialize_entry("endTimeUnixNano", &sp.end_time_unix_nano.to_string())?;
        if !sp.attributes.is_empty() {
            m.serialize_entry("attributes", &Seq(&sp.attributes, Kv))?;
        }
        if sp.dropped_attributes_count > 0 {
            m.serialize_entry("droppedAttributesCount", &sp.dropped_attributes_count)?;
        }
        if !sp.events.is_empty() {
            m.serialize_entry("events", &Seq(&sp.events, Event))?;
        }
        if sp.dropped_events_count > 0 {
            m.serialize_entry("droppedEventsCount", &sp.dropped_events_count)?;
        }
        if let Some(st) = &sp.status {
            let mut status = serde_json::Map::new();
            if !st.message.is_empty() {
                status.insert("message".into(), st.message.clone().into());
            }
            if st.code != 0 {
                status.insert("code".into(), st.code.into());
            }
            m.serialize_entry("status", &status)?;
        }
        m.end()
    }
}

struct ScopeSpansJson<'a>(&'a ScopeSpans);

impl Serialize for ScopeSpansJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(scope) = &self.0.scope {
            m.serialize_entry("scope", &Scope(scope))?;
        }
        m.serialize_entry("spans", &Seq(&self.0.spans, SpanJson))?;
        m.end()
    }
}

struct ResourceSpansJson<'a>(&'a ResourceSpans);

impl Serialize for ResourceSpansJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let Some(r) = &self.0.resource {
            let mut res = serde_json::Map::new();
            res.insert(
                "attributes".into(),
                serde_json::to_value(Seq(&r.attributes, Kv)).map_err(serde::ser::Error::custom)?,
            );
            m.serialize_entry("resource", &res)?;
        }
        m.serialize_entry("scopeSpans", &Seq(&self.0.scope_spans, ScopeSpansJson))?;
        m.end()
    }
}

/// The request in the OTLP JSON mapping.
pub fn to_json(req: &ExportTraceServiceRequest) -> Vec<u8> {
    struct Req<'a>(&'a ExportTraceServiceRequest);
    impl Serialize for Req<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(1))?;
            m.serialize_entry(
                "resourceSpans",
                &Seq(&self.0.resource_spans, ResourceSpansJson),
            )?;
            m.end()
        }
    }
    // Serialising into memory fails only on a non-string map key, which
    // this mapping never produces.
    serde_json::to_vec(&Req(req)).unwrap_or_default()
}

// The direct writer: the OTLP JSON mapping written straight from
// `SpanData` into one buffer. Keys and punctuation are constant bytes; only
// names, keys and string values written by the application are escaped.

/// Appends `n` as a JSON string of its decimal digits (64-bit integers are
/// strings in the OTLP JSON mapping).
fn quoted_decimal(out: &mut Vec<u8>, n: u64) {
    out.push(b'"');
    decimal(out, n);
    out.push(b'"');
}

/// Appends an id as a JSON string of lowercase hex.
fn hex_string(out: &mut Vec<u8>, id: &[u8]) {
    out.push(b'"');
    text::hex(out, id);
    out.push(b'"');
}

/// Appends a Prela [`Value`] as an OTLP `AnyValue`, as
/// [`crate::encode::any_value`] maps it.
fn any(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"{}"),
        Value::Bool(true) => out.extend_from_slice(b"{\"boolValue\":true}"),
        Value::Bool(false) => out.extend_from_slice(b"{\"boolValue\":false}"),
        Value::I64(i) => {
            out.extend_from_slice(b"{\"intValue\":\"");
            text::integer(out, *i);
            out.extend_from_slice(b"\"}");
        }
        Value::F64(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            if f.is_finite() {
                // serde_json's shortest round-trip form, as the struct
                // mapping writes it. Writing a number into a `Vec` cannot
                // fail.
                let _ = serde_json::to_writer(&mut *out, f);
            } else {
                out.push(b'"');
                out.extend_from_slice(non_finite(*f).as_bytes());
                out.push(b'"');
            }
            out.push(b'}');
        }
        Value::String(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, s);
            out.push(b'}');
        }
        Value::Array(items) => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
            separated(out, b",", items, any);
            out.extend_from_slice(b"]}}");
        }
        Value::Map(entries) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":[");
            separated(out, b",", entries, |out, (k, v)| key_value(out, k, v));
            out.extend_from_slice(b"]}}");
        }
        other => {
            out.extend_from_slice(b"{\"stringValue\":");
            string(out, &other.to_string());
            out.push(b'}');
        }
    }
}

/// How the OTLP JSON mapping writes a double that JSON numbers cannot hold.
fn non_finite(v: f64) -> &'static str {
    if v.is_nan() {
        "NaN"
    } else if v > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

/// `{"key":...,"value":...}`
fn key_value(out: &mut Vec<u8>, k: &str, v: &Value) {
    out.extend_from_slice(b"{\"key\":");
    string(out, k);
    out.extend_from_slice(b",\"value\":");
    any(out, v);
    out.push(b'}');
}

/// `[...]` of attributes (the span type after them, when given).
fn attributes(out: &mut Vec<u8>, kvs: &[prela_core::KeyValue], span_type: Option<&str>) {
    out.push(b'[');
    separated(out, b",", kvs, |out, kv| {
        key_value(out, kv.key.as_str(), &kv.value)
    });
    if let Some(t) = span_type {
        if !kvs.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        string(out, SPAN_TYPE_ATTRIBUTE);
        out.extend_from_slice(b",\"value\":{\"stringValue\":");
        string(out, t);
        out.extend_from_slice(b"}}");
    }
    out.push(b']');
}

fn event(out: &mut Vec<u8>, e: &prela_core::Event) {
    out.extend_from_slice(b"{\"timeUnixNano\":");
    quoted_decimal(out, nanos(e.timestamp));
    out.extend_from_slice(b",\"name\":");
    string(out, &e.name);
    if !e.attributes.is_empty() {
        out.extend_from_slice(b",\"attributes\":");
        attributes(out, &e.attributes, None);
    }
    if e.dropped_attributes_count > 0 {
        out.extend_from_slice(b",\"droppedAttributesCount\":");
        decimal(out, u64::from(e.dropped_attributes_count));
    }
    out.push(b'}');
}

fn span_json(out: &mut Vec<u8>, sp: &SpanData) {
    let cx = &sp.span_context;
    out.extend_from_slice(b"{\"traceId\":");
    hex_string(out, &cx.trace_id.to_bytes());
    out.extend_from_slice(b",\"spanId\":");
    hex_string(out, &cx.span_id.to_bytes());
    if !cx.trace_state.is_empty() {
        let header = cx.trace_state.header();
        if !header.is_empty() {
            out.extend_from_slice(b",\"traceState\":");
            string(out, &header);
        }
    }
    if let Some(p) = sp.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":");
        hex_string(out, &p.to_bytes());
    }
    let flags = span_flags(sp);
    if flags != 0 {
        out.extend_from_slice(b",\"flags\":");
        decimal(out, u64::from(flags));
    }
    out.extend_from_slice(b",\"name\":");
    string(out, &sp.name);
    out.extend_from_slice(b",\"kind\":");
    decimal(out, span_kind(sp.span_type) as u64);
    out.extend_from_slice(b",\"startTimeUnixNano\":");
    quoted_decimal(out, nanos(sp.start_time));
    out.extend_from_slice(b",\"endTimeUnixNano\":");
    quoted_decimal(out, sp.end_time.map_or(0, nanos));
    out.extend_from_slice(b",\"attributes\":");
    attributes(out, &sp.attributes, Some(sp.span_type.as_str()));
    if sp.dropped_attributes_count > 0 {
        out.extend_from_slice(b",\"droppedAttributesCount\":");
        decimal(out, u64::from(sp.dropped_attributes_count));
    }
    if !sp.events.is_empty() {
        out.extend_from_slice(b",\"events\":[");
        separated(out, b",", &sp.events, event);
        out.push(b']');
    }
    if sp.dropped_events_count > 0 {
        out.extend_from_slice(b",\"droppedEventsCount\":");
        decimal(out, u64::from(sp.dropped_events_count));
    }
    let (code, message) = match &sp.status {
        Status::Pending => (None, ""),
        Status::Success => (Some(StatusCode::Ok), ""),
        Status::Error { message } => (Some(StatusCode::Error), &**message),
    };
    if let Some(code) = code {
        out.extend_from_slice(b",\"status\":{\"code\":");
        decimal(out, code as u64);
        if !message.is_empty() {
            out.extend_from_slice(b",\"message\":");
            string(out, message);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// A batch in the OTLP JSON mapping, written straight from [`SpanData`]:
/// the same bytes as [`to_json`] of [`crate::encode::request`] (which the
/// tests check), without building the message structs first (a `String`
/// for every id, key and value) or going through `serde`.
pub fn encode_request(batch: &[SpanData]) -> Vec<u8> {
    // About what a span of a few attributes and an event takes.
    let mut out = Vec::with_capacity(64 + batch.len() * 800);
    out.extend_from_slice(b"{\"resourceSpans\":[");
    separated(
        &mut out,
        b",",
        by_resource(batch),
        |out, (resource, spans)| {
            out.extend_from_slice(b"{\"resource\":{\"attributes\":");
            attributes(out, &resource.attributes, None);
            out.extend_from_slice(b"},\"scopeSpans\":[{\"scope\":{\"name\":\"prela\",\"version\":");
            string(out, env!("CARGO_PKG_VERSION"));
            out.extend_from_slice(b"},\"spans\":[");
            separated(out, b",", spans, span_json);
            out.extend_from_slice(b"]}]}");
        },
    );
    out.extend_from_slice(b"]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }
}
