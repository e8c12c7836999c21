//! Interop with a real collector: `rotel` (PyPI, installed by
//! `cargo xtask test` into target/peers/venv) receives our OTLP over
//! HTTP/protobuf, HTTP/JSON and gRPC, with and without gzip, and forwards it
//! with its own OTLP exporter to a loopback receiver here, which decodes
//! what arrived and compares it with what we sent.
//!
//! Without the peer the test says so and passes, unless
//! `PRELA_REQUIRE_PEERS=1` (set by `cargo xtask test` and CI).
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::{
    Event, ExportResult, KeyValue, Resource, SpanContext, SpanData, SpanExporter, SpanId, SpanType,
    Status, TraceFlags, TraceId, Value,
};
use prela_export_otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
use prela_export_otlp::proto::common::v1::any_value::Value as Pb;
use prela_export_otlp::proto::trace::v1::Span;
use prela_export_otlp::{Compression, OtlpExporter, Protocol};
use prela_testkit::{Rotel, ScriptedServer, free_port, rotel_binary};
use prost::Message;

/// A research-agent trace: root agent, an LLM call, a tool, a retrieval and
/// a failing tool, with every attribute type and events.
fn agent_trace(trace: u128) -> Vec<SpanData> {
    let resource = Arc::new({
        let mut r = Resource::with_service_name("interop-agent");
        r.set(KeyValue::new("telemetry.sdk.language", "rust"));
        r
    });
    let t0 = SystemTime::now();
    let root_id = SpanId::from_u64(trace as u64 * 100 + 1);
    let mk = |n: u64, name: &str, t: SpanType, parent: Option<SpanId>| {
        let cx = SpanContext::new(
            TraceId::from_u128(trace),
            SpanId::from_u64(trace as u64 * 100 + n),
            TraceFlags::SAMPLED,
        );
        let mut s = SpanData::new(cx, name.to_owned(), t0, t0 + Duration::from_millis(n * 10));
        s.span_type = t;
        s.parent_span_id = parent;
        s.resource = Arc::clone(&resource);
        s
    };
    let mut llm = mk(2, "chat gpt-4o", SpanType::Llm, Some(root_id));
    llm.attributes = vec![
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.usage.input_tokens", 412i64),
        KeyValue::new("gen_ai.request.temperature", 0.2),
        KeyValue::new("llm.stream", false),
        KeyValue::new("gen_ai.response.finish_reasons", vec!["stop"]),
        KeyValue::new(
            "tool.input",
            Value::Map(vec![
                ("query".into(), "rust 1.83".into()),
                ("k".into(), 3i64.into()),
            ]),
        ),
    ];
    llm.events = vec![Event::new(
        "gen_ai.choice",
        t0 + Duration::from_millis(5),
        vec![KeyValue::new("index", 0i64)],
    )];
    let tool = mk(3, "web_search", SpanType::Tool, Some(root_id));
    let retrieval = mk(4, "vector_search", SpanType::Retrieval, Some(root_id));
    let mut failing = mk(5, "fetch_url", SpanType::Tool, Some(root_id));
    failing.status = Status::error("GET https://releases.rs timed out after 10.0s");
    let root = mk(1, "research_agent", SpanType::Agent, None);
    vec![llm, tool, retrieval, failing, root]
}

fn received_spans(server: &ScriptedServer, trace: u128) -> Vec<Span> {
    let id = TraceId::from_u128(trace).to_bytes().to_vec();
    server
        .received()
        .iter()
        .filter_map(|r| {
            // rotel forwards gzipped whatever it is told; honour the header.
            let body = r.decoded_body()?;
            ExportTraceServiceRequest::decode(body.as_slice()).ok()
        })
        .flat_map(|req| req.resource_spans)
        .flat_map(|rs| rs.scope_spans)
        .flat_map(|ss| ss.spans)
        .filter(|s| s.trace_id == id)
        .collect()
}

fn attr(s: &Span, key: &str) -> Option<Pb> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.clone())
        .and_then(|v| v.value)
}

#[test]
fn rotel_receives_every_span_over_each_protocol() {
    let Some(rotel_bin) = rotel_binary() else {
        assert!(
            std::env::var("PRELA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "PRELA_REQUIRE_PEERS=1 but rotel is not installed: run `cargo xtask test`"
        );
        eprintln!("skipped: no rotel collector (run `cargo xtask test` to install it)");
        return;
    };
    let receiver = ScriptedServer::start(vec![]);
    let (http, grpc) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let _rotel = Rotel::start(
        &rotel_bin,
        http,
        grpc,
        &receiver.url(),
        &dir.path().join("rotel.log"),
    );
    let cases = [
        (Protocol::HttpProtobuf, Compression::None),
        (Protocol::HttpProtobuf, Compression::Gzip),
        (Protocol::HttpJson, Compression::None),
        (Protocol::HttpJson, Compression::Gzip),
        (Protocol::Grpc, Compression::None),
        (Protocol::Grpc, Compression::Gzip),
    ];
    for (i, (protocol, compression)) in cases.into_iter().enumerate() {
        let trace = 0x1000 + i as u128;
        let endpoint = match protocol {
            Protocol::Grpc => format!("http://127.0.0.1:{}", grpc),
            _ => format!("http://127.0.0.1:{}/v1/traces", http),
        };
        let exp = OtlpExporter::builder()
            .endpoint(endpoint)
            .protocol(protocol)
            .compression(compression)
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let sent = agent_trace(trace);
        let result = exp.export(&sent);
        assert!(
            matches!(result, ExportResult::Success),
            "{protocol:?}/{compression:?}: {result:?}"
        );

        let deadline = Instant::now() + Duration::from_secs(15);
        let mut got = received_spans(&receiver, trace);
        while got.len() < sent.len() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            got = received_spans(&receiver, trace);
        }
        assert_eq!(
            got.len(),
            sent.len(),
            "{protocol:?}/{compression:?}: every span arrived once"
        );
        let by_id: HashMap<Vec<u8>, &Span> = got.iter().map(|s| (s.span_id.clone(), s)).collect();
        for s in &sent {
            let r = by_id[&s.span_context.span_id.to_bytes().to_vec()];
            assert_eq!(r.name, s.name, "{protocol:?}");
            assert_eq!(
                r.parent_span_id,
                s.parent_span_id
                    .map(|p| p.to_bytes().to_vec())
                    .unwrap_or_default()
            );
            assert_eq!(
                attr(r, "prela.span.type"),
                Some(Pb::StringValue(s.span_type.as_str().into()))
            );
            assert_eq!(
                r.attributes.len(),
                s.attributes.len() + 1,
                "{}: attributes",
                s.name
            );
            assert_eq!(r.events.len(), s.events.len());
            let code = r.status.as_ref().map_or(0, |st| st.code);
            assert_eq!(
                code,
                if s.status.is_error() { 2 } else { 1 },
                "{}: status",
                s.name
            );
        }
        let llm = by_id[&SpanId::from_u64(trace as u64 * 100 + 2).to_bytes().to_vec()];
        assert_eq!(
            attr(llm, "gen_ai.usage.input_tokens"),
            Some(Pb::IntValue(412))
        );
        assert_eq!(
            attr(llm, "gen_ai.request.temperature"),
            Some(Pb::DoubleValue(0.2))
        );
        assert_eq!(attr(llm, "llm.stream"), Some(Pb::BoolValue(false)));
        assert!(
            matches!(attr(llm, "gen_ai.response.finish_reasons"), Some(Pb::ArrayValue(a)) if a.values.len() == 1)
        );
        assert!(matches!(attr(llm, "tool.input"), Some(Pb::KvlistValue(l)) if l.values.len() == 2));
        assert_eq!(llm.events[0].name, "gen_ai.choice");
        let failing = by_id[&SpanId::from_u64(trace as u64 * 100 + 5).to_bytes().to_vec()];
        assert_eq!(
            failing.status.as_ref().unwrap().message,
            "GET https://releases.rs timed out after 10.0s"
        );
    }
}
