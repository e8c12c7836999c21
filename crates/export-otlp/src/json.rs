//! The OTLP JSON mapping (OTLP/HTTP with `application/json`): protobuf JSON
//! with the OTLP rules: trace and span ids as lowercase hex, enums as
//! integers, 64-bit integers as strings, lowerCamelCase keys, default values
//! left out.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
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
                    let text = if v.is_nan() {
                        "NaN"
                    } else if *v > 0.0 {
                        "Infinity"
                    } else {
                        "-Infinity"
                    };
                    m.serialize_entry("doubleValue", text)?;
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
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
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
