//! Prela spans as OTLP messages: the `opentelemetry-proto` types, encoded
//! as protobuf or with the OTLP JSON mapping.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue as PbKeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource as PbResource;
use opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status as PbStatus, span, status,
};
use prela_core::{KeyValue, Resource, SpanData, SpanType, Status, Value};

/// The attribute that carries the Prela span type.
pub const SPAN_TYPE_ATTRIBUTE: &str = prela_core::attributes::PRELA_SPAN_TYPE;

/// `Span.flags` bit: the `has remote parent` bit below is meaningful.
const CONTEXT_HAS_IS_REMOTE: u32 = 0x100;
/// `Span.flags` bit: the parent is remote.
const CONTEXT_IS_REMOTE: u32 = 0x200;

/// The OTLP span kind for a Prela span type: model, retrieval and embedding
/// calls leave the process (CLIENT); agents, tools and the rest are INTERNAL.
pub fn span_kind(t: SpanType) -> span::SpanKind {
    match t {
        SpanType::Llm | SpanType::Retrieval | SpanType::Embedding => span::SpanKind::Client,
        SpanType::Agent | SpanType::Tool | SpanType::Custom => span::SpanKind::Internal,
    }
}

/// Nanoseconds since the Unix epoch, as OTLP's `*_time_unix_nano`: 0
/// before it.
pub(crate) use prela_core::time::unix_nanos as nanos;

/// A Prela value as an OTLP `AnyValue`; `Null` is the empty value.
pub fn any_value(v: &Value) -> AnyValue {
    let value = match v {
        Value::Null => None,
        Value::Bool(b) => Some(any_value::Value::BoolValue(*b)),
        Value::I64(i) => Some(any_value::Value::IntValue(*i)),
        Value::F64(f) => Some(any_value::Value::DoubleValue(*f)),
        Value::String(s) => Some(any_value::Value::StringValue(s.to_string())),
        Value::Array(items) => Some(any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(any_value).collect(),
        })),
        Value::Map(entries) => Some(any_value::Value::KvlistValue(KeyValueList {
            values: entries
                .iter()
                .map(|(k, v)| PbKeyValue {
                    key: k.to_string(),
                    value: Some(any_value(v)),
                    ..PbKeyValue::default()
                })
                .collect(),
        })),
        // A value kind added later: keep its JSON text rather than lose it.
        other => Some(any_value::Value::StringValue(other.to_string())),
    };
    AnyValue { value }
}

fn key_values(kvs: &[KeyValue]) -> Vec<PbKeyValue> {
    kvs.iter()
        .map(|kv| PbKeyValue {
            key: kv.key.as_str().to_owned(),
            value: Some(any_value(&kv.value)),
            ..PbKeyValue::default()
        })
        .collect()
}

/// `Span.flags`: the W3C trace flags and the remote-parent bits.
pub(crate) fn span_flags(s: &SpanData) -> u32 {
    let mut flags = u32::from(s.span_context.trace_flags.bits()) | CONTEXT_HAS_IS_REMOTE;
    if s.parent_is_remote {
        flags |= CONTEXT_IS_REMOTE;
    }
    flags
}

/// One Prela span as an OTLP span.
pub fn span(s: &SpanData) -> Span {
    let cx = &s.span_context;
    let mut attributes = key_values(&s.attributes);
    attributes.push(PbKeyValue {
        key: SPAN_TYPE_ATTRIBUTE.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(
                s.span_type.as_str().to_owned(),
            )),
        }),
        ..PbKeyValue::default()
    });
    let status = match &s.status {
        Status::Pending => None,
        Status::Success => Some(PbStatus {
            code: status::StatusCode::Ok as i32,
            message: String::new(),
        }),
        Status::Error { message } => Some(PbStatus {
            code: status::StatusCode::Error as i32,
            message: message.to_string(),
        }),
    };
    let flags = span_flags(s);
    Span {
        trace_id: cx.trace_id.to_bytes().to_vec(),
        span_id: cx.span_id.to_bytes().to_vec(),
        trace_state: cx.trace_state.header(),
        parent_span_id: s
            .parent_span_id
            .map(|p| p.to_bytes().to_vec())
            .unwrap_or_default(),
        flags,
        name: s.name.to_string(),
        kind: span_kind(s.span_type) as i32,
        start_time_unix_nano: nanos(s.start_time),
        end_time_unix_nano: s.end_time.map_or(0, nanos),
        attributes,
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| span::Event {
                time_unix_nano: nanos(e.timestamp),
                name: e.name.to_string(),
                attributes: key_values(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: Vec::new(),
        dropped_links_count: 0,
        status,
    }
}

/// The instrumentation scope spans are reported under.
pub fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "prela".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        ..InstrumentationScope::default()
    }
}

/// The spans of a batch grouped by resource (by value), in order of first
/// appearance; a resource shared by pointer, as spans of one tracer share
/// it, is found without comparing its contents. Every encoding of a
/// request groups them so.
pub(crate) fn by_resource(batch: &[SpanData]) -> Vec<(&Arc<Resource>, Vec<&SpanData>)> {
    let mut groups: Vec<(&Arc<Resource>, Vec<&SpanData>)> = Vec::new();
    for s in batch {
        match groups
            .iter_mut()
            .find(|(r, _)| Arc::ptr_eq(r, &s.resource) || ***r == *s.resource)
        {
            Some((_, spans)) => spans.push(s),
            None => groups.push((&s.resource, vec![s])),
        }
    }
    groups
}

/// A batch as one export request: spans grouped by resource, in order.
pub fn request(batch: &[SpanData]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: by_resource(batch)
            .into_iter()
            .map(|(resource, spans)| ResourceSpans {
                resource: Some(PbResource {
                    attributes: key_values(&resource.attributes),
                    ..PbResource::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(scope()),
                    spans: spans.into_iter().map(span).collect(),
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            })
            .collect(),
    }
}

/// The request as protobuf bytes.
pub fn to_protobuf(req: &ExportTraceServiceRequest) -> Vec<u8> {
    prost::Message::encode_to_vec(req)
}

/// Decodes a protobuf export request (what a receiver does; used by tests
/// and tools that inspect captured traffic).
pub fn decode_request(bytes: &[u8]) -> Result<ExportTraceServiceRequest, prost::DecodeError> {
    prost::Message::decode(bytes)
}
