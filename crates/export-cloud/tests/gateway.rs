//! The cloud exporter against a loopback HTTPS gateway (rustls, rcgen
//! certificates) that checks the key, decompresses and parses every
//! payload; faults scripted per request.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::{
    Event, ExportError, ExportResult, KeyValue, Resource, SpanContext, SpanData, SpanExporter,
    SpanId, SpanType, Status, TraceFlags, TraceId,
};
use prela_export_cloud::{AuthScheme, CloudExporter, DEFAULT_ENDPOINT};
use prela_testkit::{Capture, Pki, Received, Reply, ScriptedServer};
use prela_transport::http::TlsConfig;

const KEY: &str = "sk-prela-test-0123456789abcdef";

struct Gateway {
    server: ScriptedServer,
    pki: Pki,
    _dir: tempfile::TempDir,
}

fn gateway(script: Vec<Reply>) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new(dir.path());
    let server = ScriptedServer::start_tls(script, pki.server.clone());
    server.require_header("authorization", &format!("Bearer {KEY}"));
    Gateway {
        server,
        pki,
        _dir: dir,
    }
}

impl Gateway {
    fn exporter(&self) -> CloudExporter {
        CloudExporter::builder()
            .api_key(KEY)
            .endpoint(format!("{}/v1/traces", self.server.url()))
            .tls(TlsConfig::new().ca_file(&self.pki.ca_file))
            .timeout(Duration::from_millis(800))
            .env(|_| None)
            .build()
            .unwrap()
    }

    /// Every payload received, decompressed and parsed.
    fn documents(&self) -> Vec<serde_json::Value> {
        self.server.received().iter().map(parse).collect()
    }
}

fn parse(r: &Received) -> serde_json::Value {
    serde_json::from_slice(&r.decoded_body().unwrap()).unwrap()
}

/// A root agent span and four children, one of which failed.
fn trace(t: u128) -> Vec<SpanData> {
    let resource = Arc::new(Resource::with_service_name("research-agent"));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_micros(1_795_318_282_167_762);
    let root = SpanId::from_u64(t as u64 * 10);
    let mk = |n: u64, name: &str, ty: SpanType, start_ms: u64, end_ms: u64| {
        let cx = SpanContext::new(
            TraceId::from_u128(t),
            SpanId::from_u64(t as u64 * 10 + n),
            TraceFlags::SAMPLED,
        );
        let mut s = SpanData::new(
            cx,
            name.to_owned(),
            t0 + Duration::from_millis(start_ms),
            t0 + Duration::from_millis(end_ms),
        );
        s.span_type = ty;
        s.parent_span_id = (n != 0).then_some(root);
        s.resource = Arc::clone(&resource);
        s
    };
    let mut llm = mk(1, "chat gpt-4o", SpanType::Llm, 5, 200);
    llm.attributes = vec![KeyValue::new("gen_ai.usage.input_tokens", 412i64)];
    llm.events = vec![Event::new(
        "gen_ai.choice",
        t0 + Duration::from_millis(199),
        vec![],
    )];
    let mut failing = mk(3, "fetch_url", SpanType::Tool, 210, 220);
    failing.status = Status::error("timed out");
    // The last span to end is not the last to start: completed_at must be
    // the latest end (the Python SDK gets this wrong).
    vec![
        llm,
        mk(2, "web_search", SpanType::Tool, 150, 530),
        failing,
        mk(4, "vector_search", SpanType::Retrieval, 221, 240),
        mk(0, "research_agent", SpanType::Agent, 0, 529),
    ]
}

#[test]
fn a_trace_arrives_as_one_correct_document() {
    let gw = gateway(vec![
        Reply::status(202).with_header("x-prela-tier", "lunch-money"),
    ]);
    let exp = gw.exporter();
    assert!(exp.export(&trace(1)).is_success());
    let r = &gw.server.received()[0];
    assert_eq!(r.headers["authorization"], format!("Bearer {KEY}"));
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(
        r.headers["user-agent"],
        concat!("prela-rust/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(r.path, "/v1/traces");
    let doc = parse(r);
    assert_eq!(doc["trace_id"], TraceId::from_u128(1).uuid().to_string());
    assert_eq!(doc["service_name"], "research-agent");
    assert_eq!(doc["started_at"], "2026-11-22T03:31:22.167762+00:00");
    assert_eq!(
        doc["completed_at"], "2026-11-22T03:31:22.697762+00:00",
        "the latest end"
    );
    assert_eq!(doc["duration_ms"], 530.0, "wall time, not a sum");
    assert_eq!(doc["status"], "ERROR");
    let spans = doc["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 5);
    // Every span object is Prela JSON, readable by our reader.
    let sent = trace(1);
    for (s, want) in spans.iter().zip(&sent) {
        let got = prela_core::json::parse_span(&s.to_string()).unwrap();
        assert_eq!(got.name, want.name);
        assert_eq!(got.span_context.span_id, want.span_context.span_id);
        assert_eq!(got.parent_span_id, want.parent_span_id);
        assert_eq!(got.status, want.status);
        assert_eq!(got.events.len(), want.events.len());
    }
    assert_eq!(exp.stats().tier.as_deref(), Some("lunch-money"));
    assert_eq!(exp.stats().documents_sent, 1);
}

#[test]
fn traces_are_grouped_per_batch() {
    let gw = gateway(vec![]);
    let exp = gw.exporter();
    let mut batch = trace(1);
    batch.extend(trace(2));
    assert!(exp.export(&batch).is_success());
    // A trace split across two batches: two documents with one trace id.
    let t3 = trace(3);
    assert!(exp.export(&t3[..2]).is_success());
    assert!(exp.export(&t3[2..]).is_success());
    let docs = gw.documents();
    assert_eq!(docs.len(), 4);
    assert_eq!(docs[2]["trace_id"], docs[3]["trace_id"]);
    let n: usize = docs[2..]
        .iter()
        .map(|d| d["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(n, 5);
}

#[test]
fn x_api_key_scheme_and_no_gzip() {
    let gw = gateway(vec![]);
    gw.server.require_header("x-api-key", KEY);
    let exp = CloudExporter::builder()
        .api_key(KEY)
        .auth_scheme(AuthScheme::ApiKeyHeader)
        .gzip(false)
        .endpoint(gw.server.url())
        .tls(TlsConfig::new().ca_file(&gw.pki.ca_file))
        .env(|_| None)
        .build()
        .unwrap();
    assert!(exp.export(&trace(1)).is_success());
    assert!(
        gw.server.received()[0]
            .headers
            .get("content-encoding")
            .is_none()
    );
}

#[test]
fn a_rejected_key_stops_the_exporter_after_three_tries() {
    let gw = gateway(vec![]);
    let exp = CloudExporter::builder()
        .api_key("sk-wrong-key")
        .endpoint(gw.server.url())
        .tls(TlsConfig::new().ca_file(&gw.pki.ca_file))
        .env(|_| None)
        .build()
        .unwrap();
    let capture = Capture::default();
    let mut results = Vec::new();
    tracing::subscriber::with_default(capture.clone(), || {
        for _ in 0..5 {
            results.push(exp.export(&trace(1)));
        }
    });
    for r in &results[..3] {
        match r {
            ExportResult::Failure(ExportError::Rejected {
                status: 401,
                message,
            }) => {
                assert!(message.starts_with("the API key was rejected"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        gw.server.received().len(),
        3,
        "no more requests after three rejections"
    );
    assert!(
        matches!(&results[3], ExportResult::Failure(ExportError::Other(m)) if m.contains("3 times"))
    );
    let lines: Vec<String> = capture.events().into_iter().map(|e| e.fields).collect();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("no longer sending"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(exp.stats().disabled);
}

#[test]
fn rate_limits_quota_and_server_errors() {
    let gw = gateway(vec![
        Reply::status(429).with_header("retry-after", "9"),
        Reply::status(503),
        Reply::Delay(Duration::from_secs(3), Box::new(Reply::status(200))),
        Reply::Reset,
        Reply::status(402).with_body("payment required"),
        Reply::status(429).with_body(r#"{"error":"monthly quota exhausted"}"#),
        Reply::status(400).with_body(format!("bad key {KEY} in request")),
    ]);
    let exp = gw.exporter();
    assert!(
        matches!(exp.export(&trace(1)), ExportResult::Retry { after: Some(d), reason } if d == Duration::from_secs(9) && reason.contains("answered with status 429"))
    );
    assert!(matches!(
        exp.export(&trace(1)),
        ExportResult::Retry { after: None, .. }
    ));
    let t = Instant::now();
    assert!(matches!(exp.export(&trace(1)), ExportResult::Retry { .. }));
    assert!(t.elapsed() < Duration::from_secs(2), "timeout enforced");
    assert!(
        matches!(exp.export(&trace(1)), ExportResult::Retry { .. }),
        "reset"
    );
    for _ in 0..2 {
        match exp.export(&trace(1)) {
            ExportResult::Failure(e) => assert!(
                e.to_string()
                    .contains("quota exhausted: 5 span(s) not accepted"),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
    }
    match exp.export(&trace(1)) {
        ExportResult::Failure(e) => {
            let m = e.to_string();
            assert!(
                m.contains("400") && m.contains("<redacted>") && !m.contains(KEY),
                "{m}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retry_after_partial_delivery_sends_no_duplicates() {
    let gw = gateway(vec![Reply::status(200), Reply::status(503)]);
    let exp = gw.exporter();
    let mut batch = trace(1);
    batch.extend(trace(2));
    assert!(matches!(exp.export(&batch), ExportResult::Retry { .. }));
    assert!(exp.export(&batch).is_success());
    let ids: Vec<String> = gw
        .documents()
        .iter()
        .map(|d| d["trace_id"].as_str().unwrap().to_owned())
        .collect();
    let t1 = TraceId::from_u128(1).uuid().to_string();
    let t2 = TraceId::from_u128(2).uuid().to_string();
    assert_eq!(
        ids,
        [t1, t2.clone(), t2],
        "trace 1 once; trace 2 failed once, then arrived"
    );
    // A permanent failure after a partial delivery reports only the rest.
    let gw = gateway(vec![Reply::status(200), Reply::status(413)]);
    match gw.exporter().export(&batch) {
        ExportResult::PartialSuccess { rejected, .. } => assert_eq!(rejected, 5),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tls_failures_say_what_is_wrong() {
    let gw = gateway(vec![]);
    let exp = CloudExporter::builder()
        .api_key(KEY)
        .endpoint(gw.server.url())
        .tls(TlsConfig::new().ca_file(&gw.pki.other_ca_file))
        .env(|_| None)
        .build()
        .unwrap();
    match exp.export(&trace(1)) {
        ExportResult::Failure(e) => assert!(e.to_string().contains("unknown CA"), "{e}"),
        other => panic!("{other:?}"),
    }
    let wrong = ScriptedServer::start_tls(vec![], gw.pki.wrong_name.clone());
    let exp = CloudExporter::builder()
        .api_key(KEY)
        .endpoint(wrong.url())
        .tls(TlsConfig::new().ca_file(&gw.pki.ca_file))
        .env(|_| None)
        .build()
        .unwrap();
    match exp.export(&trace(1)) {
        ExportResult::Failure(e) => assert!(
            e.to_string().contains("not valid for that host name"),
            "{e}"
        ),
        other => panic!("{other:?}"),
    }
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn configuration() {
    let e = CloudExporter::builder().env(env(&[])).build().unwrap_err();
    assert!(e.to_string().contains("PRELA_API_KEY"), "{e}");
    let exp = CloudExporter::builder()
        .env(env(&[("PRELA_API_KEY", KEY)]))
        .build()
        .unwrap();
    assert_eq!(exp.uri().to_string(), DEFAULT_ENDPOINT);
    let exp = CloudExporter::builder()
        .env(env(&[
            ("PRELA_API_KEY", KEY),
            ("PRELA_HTTP_ENDPOINT", "https://py.example/v1/traces"),
        ]))
        .build()
        .unwrap();
    assert_eq!(exp.uri().to_string(), "https://py.example/v1/traces");
    let exp = CloudExporter::builder()
        .env(env(&[
            ("PRELA_API_KEY", KEY),
            ("PRELA_HTTP_ENDPOINT", "https://py.example/v1/traces"),
            ("PRELA_ENDPOINT", "https://rs.example/ingest"),
        ]))
        .build()
        .unwrap();
    assert_eq!(exp.uri().to_string(), "https://rs.example/ingest");
    let e = CloudExporter::builder()
        .env(env(&[
            ("PRELA_API_KEY", KEY),
            ("PRELA_ENDPOINT", "http://ingest.example/v1/traces"),
        ]))
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("PRELA_ENDPOINT") && e.to_string().contains("https://"),
        "{e}"
    );
    assert!(
        CloudExporter::builder()
            .env(env(&[
                ("PRELA_API_KEY", KEY),
                ("PRELA_ENDPOINT", "http://127.0.0.1:9/v1/traces")
            ]))
            .build()
            .is_ok(),
        "plain http on loopback"
    );
}

#[test]
fn the_key_never_shows() {
    let mut seen: Vec<String> = Vec::new();
    let builder = CloudExporter::builder()
        .api_key(KEY)
        .endpoint("https://127.0.0.1:1/v1/traces")
        .env(|_| None);
    seen.push(format!("{builder:?}"));
    let exp = builder.build().unwrap();
    seen.push(format!("{exp:?}"));
    // Errors from every path: refused connection, bad endpoint, rejected key.
    seen.push(format!("{:?}", exp.export(&trace(1))));
    let e = CloudExporter::builder()
        .api_key(KEY)
        .endpoint("http://example.com/x")
        .env(|_| None)
        .build()
        .unwrap_err();
    seen.push(format!("{e} {e:?}"));
    let gw = gateway(vec![
        Reply::status(401),
        Reply::status(500).with_body(format!("echo: Bearer {KEY}")),
    ]);
    let exp = gw.exporter();
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        for _ in 0..4 {
            let r = exp.export(&trace(1));
            seen.push(format!("{r:?}"));
            if let ExportResult::Failure(e) = r {
                seen.push(e.to_string());
            }
        }
    });
    seen.extend(capture.events().into_iter().map(|e| e.fields));
    seen.push(format!("{exp:?}"));
    for s in &seen {
        assert!(!s.contains(KEY), "the key leaked: {s}");
    }
    assert!(seen.len() > 8);
}
