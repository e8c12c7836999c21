//! Mapping Prela spans to OTLP, checked by decoding what we encode.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use prela_core::{
    Event, KeyValue, Resource, SpanContext, SpanData, SpanId, SpanType, Status, TraceFlags,
    TraceId, TraceState, Value,
};
use prela_export_otlp::encode::{request, to_protobuf};
use prela_export_otlp::json::to_json;
use prela_export_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use prela_export_otlp::proto::common::v1::any_value::Value as Pb;
use prost::Message;

fn llm_span(resource: &Arc<Resource>) -> SpanData {
    let mut cx = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
    );
    cx.trace_state = TraceState::from_header("vendor=x").unwrap();
    let start = UNIX_EPOCH + Duration::from_nanos(1_795_318_282_167_762_123);
    let mut s = SpanData::new(cx, "chat gpt-4o", start, start + Duration::from_millis(209));
    s.parent_span_id = Some(SpanId::from_hex("b7ad6b7169203331").unwrap());
    s.parent_is_remote = true;
    s.span_type = SpanType::Llm;
    s.status = Status::error("rate limited");
    s.resource = Arc::clone(resource);
    s.attributes = vec![
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.usage.input_tokens", 412i64),
        KeyValue::new("gen_ai.request.temperature", 0.2),
        KeyValue::new("llm.stream", true),
        KeyValue::new("none", Value::Null),
        KeyValue::new("stops", vec!["\n\n", "END"]),
        KeyValue::new(
            "nested",
            Value::Map(vec![(
                "k".into(),
                Value::Array(vec![
                    1i64.into(),
                    Value::Map(vec![("x".into(), 2.5.into())]),
                ]),
            )]),
        ),
    ];
    s.dropped_attributes_count = 3;
    s.dropped_events_count = 1;
    let mut e = Event::new(
        "gen_ai.choice",
        start + Duration::from_nanos(5),
        vec![KeyValue::new("index", 0i64)],
    );
    e.dropped_attributes_count = 2;
    s.events = vec![e];
    s
}

fn resource() -> Arc<Resource> {
    let mut r = Resource::with_service_name("research-agent");
    r.set(KeyValue::new("telemetry.sdk.name", "prela"));
    r.set(KeyValue::new("telemetry.sdk.language", "rust"));
    Arc::new(r)
}

#[test]
fn protobuf_mapping_round_trips() {
    let r = resource();
    let mut root = llm_span(&r);
    root.span_context.span_id = SpanId::from_u64(0xb7ad6b7169203331);
    root.parent_span_id = None;
    root.parent_is_remote = false;
    root.span_type = SpanType::Agent;
    root.status = Status::Success;
    let batch = vec![llm_span(&r), root];
    let bytes = to_protobuf(&request(&batch));
    let req = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();

    assert_eq!(req.resource_spans.len(), 1, "one resource, one group");
    let rs = &req.resource_spans[0];
    let res = rs.resource.as_ref().unwrap();
    assert_eq!(res.attributes[0].key, "service.name");
    assert_eq!(
        res.attributes[0].value.as_ref().unwrap().value,
        Some(Pb::StringValue("research-agent".into()))
    );
    assert!(
        res.attributes
            .iter()
            .any(|kv| kv.key == "telemetry.sdk.language")
    );
    let scope = rs.scope_spans[0].scope.as_ref().unwrap();
    assert_eq!(scope.name, "prela");
    let spans = &rs.scope_spans[0].spans;
    assert_eq!(spans.len(), 2);

    let s = &spans[0];
    assert_eq!(s.trace_id, hex_bytes("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(s.span_id, hex_bytes("00f067aa0ba902b7"));
    assert_eq!(s.parent_span_id, hex_bytes("b7ad6b7169203331"));
    assert_eq!(s.trace_state, "vendor=x");
    assert_eq!(
        s.flags,
        0x01 | 0x100 | 0x200,
        "sampled, has-remote-parent info, remote parent"
    );
    assert_eq!(s.name, "chat gpt-4o");
    assert_eq!(s.kind, 3, "llm spans are CLIENT");
    assert_eq!(s.start_time_unix_nano, 1_795_318_282_167_762_123);
    assert_eq!(
        s.end_time_unix_nano,
        1_795_318_282_167_762_123 + 209_000_000
    );
    assert_eq!(s.dropped_attributes_count, 3);
    assert_eq!(s.dropped_events_count, 1);
    let status = s.status.as_ref().unwrap();
    assert_eq!((status.code, status.message.as_str()), (2, "rate limited"));
    let attr = |k: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key == k)
            .unwrap()
            .value
            .clone()
            .unwrap()
            .value
    };
    assert_eq!(
        attr("gen_ai.request.model"),
        Some(Pb::StringValue("gpt-4o".into()))
    );
    assert_eq!(attr("gen_ai.usage.input_tokens"), Some(Pb::IntValue(412)));
    assert_eq!(
        attr("gen_ai.request.temperature"),
        Some(Pb::DoubleValue(0.2))
    );
    assert_eq!(attr("llm.stream"), Some(Pb::BoolValue(true)));
    assert_eq!(attr("none"), None);
    assert_eq!(attr("prela.span.type"), Some(Pb::StringValue("llm".into())));
    match attr("stops") {
        Some(Pb::ArrayValue(a)) => assert_eq!(a.values.len(), 2),
        other => panic!("{other:?}"),
    }
    match attr("nested") {
        Some(Pb::KvlistValue(l)) => match &l.values[0].value.as_ref().unwrap().value {
            Some(Pb::ArrayValue(a)) => {
                assert!(matches!(a.values[1].value, Some(Pb::KvlistValue(_))))
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    let e = &s.events[0];
    assert_eq!(e.name, "gen_ai.choice");
    assert_eq!(e.time_unix_nano, 1_795_318_282_167_762_128);
    assert_eq!(e.dropped_attributes_count, 2);

    let root = &spans[1];
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.kind, 1, "agent spans are INTERNAL");
    assert_eq!(root.flags, 0x01 | 0x100);
    assert_eq!(root.status.as_ref().unwrap().code, 1, "success is OK");
}

#[test]
fn spans_of_two_resources_are_grouped() {
    let (a, b) = (resource(), Arc::new(Resource::with_service_name("other")));
    let batch = vec![llm_span(&a), llm_span(&b), llm_span(&a)];
    let req = request(&batch);
    assert_eq!(req.resource_spans.len(), 2);
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), 2);
    assert_eq!(req.resource_spans[1].scope_spans[0].spans.len(), 1);
}

/// Spans holding different `Arc`s of equal resources (several tracers,
/// spans read from files): one group, in order, whatever the number of
/// `Arc`s.
#[test]
fn equal_resources_in_different_arcs_are_one_group() {
    let other = Arc::new(Resource::with_service_name("other"));
    // Many distinct `Arc`s, interleaved with another resource.
    let copies: Vec<Arc<Resource>> = (0..300).map(|_| Arc::new((*resource()).clone())).collect();
    let mut batch = Vec::new();
    for round in 0..3 {
        for (i, r) in copies.iter().enumerate() {
            let mut s = llm_span(if i % 7 == 3 { &other } else { r });
            s.name = format!("{round}-{i}").into();
            batch.push(s);
        }
    }
    // The message structs, and the bytes written straight from the spans.
    let direct = prela_export_otlp::wire::encode_request(&batch);
    for req in [
        request(&batch),
        ExportTraceServiceRequest::decode(direct.as_slice()).unwrap(),
    ] {
        assert_eq!(req.resource_spans.len(), 2);
        let names = |g: usize| -> Vec<String> {
            req.resource_spans[g].scope_spans[0]
                .spans
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        let expected = |other: bool| -> Vec<String> {
            batch
                .iter()
                .enumerate()
                .filter(|(i, _)| (i % 300 % 7 == 3) == other)
                .map(|(_, s)| s.name.to_string())
                .collect()
        };
        assert_eq!(
            names(0),
            expected(false),
            "the first resource's spans, in order"
        );
        assert_eq!(
            names(1),
            expected(true),
            "the other resource's spans, in order"
        );
    }
}

#[test]
fn json_mapping_follows_otlp_rules() {
    let r = resource();
    let bytes = to_json(&request(&[llm_span(&r)]));
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let rs = &v["resourceSpans"][0];
    assert_eq!(
        rs["resource"]["attributes"][0]["value"]["stringValue"],
        "research-agent"
    );
    assert_eq!(rs["scopeSpans"][0]["scope"]["name"], "prela");
    let s = &rs["scopeSpans"][0]["spans"][0];
    assert_eq!(s["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(s["spanId"], "00f067aa0ba902b7");
    assert_eq!(s["parentSpanId"], "b7ad6b7169203331");
    assert_eq!(s["traceState"], "vendor=x");
    assert_eq!(s["kind"], 3);
    assert_eq!(s["startTimeUnixNano"], "1795318282167762123");
    assert_eq!(s["status"]["code"], 2);
    assert_eq!(s["status"]["message"], "rate limited");
    assert_eq!(s["droppedAttributesCount"], 3);
    let attrs = s["attributes"].as_array().unwrap();
    let find = |k: &str| attrs.iter().find(|a| a["key"] == k).unwrap()["value"].clone();
    assert_eq!(find("gen_ai.usage.input_tokens")["intValue"], "412");
    assert_eq!(find("gen_ai.request.temperature")["doubleValue"], 0.2);
    assert_eq!(find("llm.stream")["boolValue"], true);
    assert_eq!(find("none"), serde_json::json!({}));
    assert_eq!(
        find("stops")["arrayValue"]["values"][0]["stringValue"],
        "\n\n"
    );
    assert_eq!(find("nested")["kvlistValue"]["values"][0]["key"], "k");
    assert_eq!(find("prela.span.type")["stringValue"], "llm");
    assert_eq!(s["events"][0]["timeUnixNano"], "1795318282167762128");
    assert_eq!(s["events"][0]["attributes"][0]["value"]["intValue"], "0");
}

#[test]
fn python_fixture_spans_encode() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/prela-python/traces/traces-2026-11-22-001.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let spans: Vec<SpanData> = prela_core::json::read_jsonl(text.as_bytes())
        .map(|r| r.unwrap())
        .collect();
    let req = ExportTraceServiceRequest::decode(to_protobuf(&request(&spans)).as_slice()).unwrap();
    let n: usize = req
        .resource_spans
        .iter()
        .map(|r| r.scope_spans[0].spans.len())
        .sum();
    assert_eq!(n, 7);
    let json: serde_json::Value = serde_json::from_slice(&to_json(&request(&spans))).unwrap();
    assert!(json["resourceSpans"].as_array().is_some());
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Every shape of span we can make: two resources, a bare root, long
/// strings, extreme numbers, every span type, and the Python fixture.
fn varied_batch() -> Vec<SpanData> {
    let (a, b) = (resource(), Arc::new(Resource::with_service_name("other")));
    let mut batch = vec![llm_span(&a), llm_span(&b), llm_span(&a)];
    // A root with nothing optional: no parent, no trace state, no
    // attributes or events, pending status, no end time.
    let start = UNIX_EPOCH + Duration::from_secs(1);
    let mut bare = SpanData::new(
        SpanContext::new(TraceId::from_u128(1), SpanId::from_u64(1), TraceFlags::NONE),
        "",
        start,
        start,
    );
    bare.end_time = None;
    bare.status = Status::Pending;
    batch.push(bare);
    // Long strings (lengths over 127 and 16,383), negative and extreme
    // numbers, empty strings, every span type, success status.
    for (i, t) in SpanType::ALL.into_iter().enumerate() {
        let mut s = llm_span(&a);
        s.span_type = t;
        s.status = Status::Success;
        s.name = "n".repeat(i * 5000).into();
        s.attributes = vec![
            KeyValue::new("long", "x".repeat(20_000)),
            KeyValue::new("neg", -1i64),
            KeyValue::new("min", i64::MIN),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("empty", ""),
            KeyValue::new("", false),
            KeyValue::new("arr", Value::Array(vec![])),
            KeyValue::new("map", Value::Map(vec![])),
        ];
        s.events.push(Event::new("", UNIX_EPOCH, vec![]));
        batch.push(s);
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/prela-python/traces/traces-2026-11-22-001.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap();
    batch.extend(prela_core::json::read_jsonl(text.as_bytes()).map(|r| r.unwrap()));
    batch
}

/// The direct encoder the exporter uses writes exactly what prost writes
/// for the message structs, for every shape of span we can make.
#[test]
fn direct_encoder_matches_prost_byte_for_byte() {
    let batch = varied_batch();
    for n in [0, 1, 3, batch.len()] {
        let slice = &batch[..n];
        assert_eq!(
            prela_export_otlp::wire::encode_request(slice),
            to_protobuf(&request(slice)),
            "first {n} spans"
        );
    }
}

/// The direct encoder writes short attributes and events flat, with every
/// length in one byte: around the lengths where a prefix takes a second
/// byte it must still write what prost writes.
#[test]
fn direct_encoder_matches_prost_at_one_byte_length_edges() {
    let r = resource();
    let mut batch = Vec::new();
    for key_len in [
        1usize, 2, 60, 100, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 200,
    ] {
        let key = "k".repeat(key_len);
        let mut s = llm_span(&r);
        s.attributes = [
            0usize, 1, 2, 100, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128, 300,
        ]
        .into_iter()
        .map(|n| KeyValue::new(format!("{key}{n}"), "v".repeat(n)))
        .chain([
            KeyValue::new(key.clone(), -1i64),
            KeyValue::new(format!("{key}i"), i64::MAX),
            KeyValue::new(format!("{key}z"), 0i64),
            KeyValue::new(format!("{key}f"), -0.0),
            KeyValue::new(format!("{key}b"), true),
        ])
        .collect();
        s.events = [0usize, 1, 100, 115, 116, 117, 118, 200]
            .into_iter()
            .map(|n| {
                let at = UNIX_EPOCH + Duration::from_nanos(1 + n as u64);
                Event::new("e".repeat(n), at, vec![])
            })
            .collect();
        let mut dropped = Event::new("d", UNIX_EPOCH + Duration::from_secs(1), vec![]);
        dropped.dropped_attributes_count = 1;
        s.events.push(dropped);
        s.status = Status::Success;
        batch.push(s);
    }
    assert_eq!(
        prela_export_otlp::wire::encode_request(&batch),
        to_protobuf(&request(&batch))
    );
}

/// The direct JSON writer the exporter uses writes exactly what the
/// mapping through the message structs writes, for every shape of span
/// above and for what only JSON treats specially: escapes, non-ASCII,
/// doubles JSON cannot hold, integers at the edges, statuses.
#[test]
fn direct_json_matches_the_struct_mapping_byte_for_byte() {
    let r = resource();
    let mut batch = varied_batch();
    for (i, status) in [
        Status::Pending,
        Status::Success,
        Status::error(""),
        Status::error("quote \" backslash \\ newline \n tab \t nul \u{0} é 日本 🦀"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut s = llm_span(&r);
        s.status = status;
        s.parent_is_remote = i % 2 == 0;
        s.name = "naïve \"name\" \u{1f}".into();
        s.attributes = vec![
            KeyValue::new("inf", f64::INFINITY),
            KeyValue::new("-inf", f64::NEG_INFINITY),
            KeyValue::new("tiny", 5e-324),
            KeyValue::new("big", 1.7976931348623157e308),
            KeyValue::new("neg zero", -0.0),
            KeyValue::new("max", i64::MAX),
            KeyValue::new("min", i64::MIN),
            KeyValue::new("key \"quoted\"\n", "value\r\u{7f}\u{2028}\u{8}\u{c}\u{1b}/"),
            KeyValue::new(
                "deep",
                Value::Array(vec![Value::Array(vec![Value::Map(vec![(
                    "\\".into(),
                    Value::Null,
                )])])]),
            ),
        ];
        s.events.push(Event::new(
            "ev\"ent",
            UNIX_EPOCH,
            vec![KeyValue::new(
                "a",
                Value::Array(vec![true.into(), 1.5.into()]),
            )],
        ));
        batch.push(s);
    }
    for n in [0, 1, 3, batch.len()] {
        let slice = &batch[..n];
        let direct = prela_export_otlp::json::encode_request(slice);
        let mapped = to_json(&request(slice));
        assert!(
            direct == mapped,
            "first {n} spans:\ndirect: {}\nmapped: {}",
            String::from_utf8_lossy(&direct),
            String::from_utf8_lossy(&mapped)
        );
    }
}

/// The deepest value a span can hold (maps nested `MAX_DEPTH` levels, cut
/// there from a deeper one, as the tracer does), as a span attribute and
/// as an event attribute: the request decodes with prost's default
/// recursion limit of 100 messages, which collectors built on prost share
/// (each map level is three messages deep: `AnyValue`, `KeyValueList`,
/// `KeyValue`). Were it refused, the whole batch would be lost.
#[test]
fn the_deepest_value_a_span_holds_decodes_within_protobuf_limits() {
    let mut deep = Value::I64(1);
    for _ in 0..100 {
        deep = Value::Map(vec![("k".into(), deep)]);
    }
    assert!(deep.cut_depth());
    let r = resource();
    let mut s = llm_span(&r);
    s.attributes.push(KeyValue::new("deep", deep.clone()));
    s.events[0].attributes.push(KeyValue::new("deep", deep));
    let bytes = to_protobuf(&request(&[s]));
    let decoded = ExportTraceServiceRequest::decode(bytes.as_slice());
    assert!(decoded.is_ok(), "{decoded:?}");
}
