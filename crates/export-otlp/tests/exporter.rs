//! The OTLP exporter against the scripted loopback server: protocols,
//! headers, compression, response handling, configuration, runtimes.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::{
    ExportError, ExportResult, KeyValue, Resource, SpanContext, SpanData, SpanExporter, SpanId,
    SpanType, TraceFlags, TraceId,
};
use prela_export_otlp::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prela_export_otlp::{Compression, OtlpExporter, Protocol, grpc};
use prela_testkit::{Pki, Reply, ScriptedServer};
use prost::Message;

fn spans(n: u64) -> Vec<SpanData> {
    let resource = Arc::new(Resource::with_service_name("otlp-test"));
    (0..n)
        .map(|i| {
            let cx = SpanContext::new(
                TraceId::from_u128(0xabc),
                SpanId::from_u64(i + 1),
                TraceFlags::SAMPLED,
            );
            let now = SystemTime::now();
            let mut s = SpanData::new(cx, format!("span-{i}"), now, now + Duration::from_millis(3));
            s.span_type = SpanType::Llm;
            s.resource = Arc::clone(&resource);
            s.attributes = vec![KeyValue::new("gen_ai.request.model", "gpt-4o")];
            s
        })
        .collect()
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    move |k| map.get(k).cloned()
}

fn decode(body: &[u8]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest::decode(body).unwrap()
}

fn count(req: &ExportTraceServiceRequest) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

#[test]
fn http_protobuf_with_headers() {
    let server = ScriptedServer::start(vec![]);
    let exp = OtlpExporter::builder()
        .base_endpoint(server.url())
        .header("x-api-key", "secret-123")
        .env(env(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "tenant=acme,x-note=a%20b",
        )]))
        .build()
        .unwrap();
    assert!(exp.export(&spans(3)).is_success());
    let got = &server.received()[0];
    assert_eq!(got.path, "/v1/traces");
    assert_eq!(got.headers["content-type"], "application/x-protobuf");
    assert_eq!(
        got.headers["user-agent"],
        concat!("prela-rust/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(got.headers["x-api-key"], "secret-123");
    assert_eq!(got.headers["tenant"], "acme");
    assert_eq!(got.headers["x-note"], "a b");
    assert_eq!(count(&decode(&got.body)), 3);
    assert!(exp.bytes_sent() > 0);
    assert!(
        !format!("{exp:?}").contains("secret-123"),
        "header values stay out of Debug"
    );
}

#[test]
fn http_json_and_gzip() {
    let server = ScriptedServer::start(vec![]);
    let exp = OtlpExporter::builder()
        .base_endpoint(server.url())
        .protocol(Protocol::HttpJson)
        .compression(Compression::Gzip)
        .build()
        .unwrap();
    assert!(exp.export(&spans(2)).is_success());
    let got = &server.received()[0];
    assert_eq!(got.headers["content-type"], "application/json");
    assert_eq!(got.headers["content-encoding"], "gzip");
    let mut json = String::new();
    flate2::read::GzDecoder::new(got.body.as_slice())
        .read_to_string(&mut json)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["name"],
        "span-1"
    );
}

fn grpc_ok(body: ExportTraceServiceResponse) -> Reply {
    Reply::Grpc {
        body: grpc::frame(&body.encode_to_vec(), false),
        trailers: vec![("grpc-status".into(), b"0".to_vec())],
    }
}

#[test]
fn grpc_over_http2_with_and_without_gzip() {
    let server = ScriptedServer::start(vec![grpc_ok(ExportTraceServiceResponse::default()); 2]);
    for compression in [Compression::None, Compression::Gzip] {
        let exp = OtlpExporter::builder()
            .endpoint(server.url())
            .protocol(Protocol::Grpc)
            .compression(compression)
            .build()
            .unwrap();
        assert!(exp.export(&spans(4)).is_success());
    }
    let got = server.received();
    for (r, gz) in got.iter().zip([false, true]) {
        assert_eq!(r.version, http::Version::HTTP_2);
        assert_eq!(r.path, grpc::TRACE_EXPORT_PATH);
        assert_eq!(r.headers["content-type"], "application/grpc");
        assert_eq!(r.headers["te"], "trailers");
        let (compressed, msg) = grpc::unframe(&r.body).unwrap();
        assert_eq!(compressed, gz);
        let msg = if gz {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(msg)
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(r.headers["grpc-encoding"], "gzip");
            out
        } else {
            msg.to_vec()
        };
        assert_eq!(count(&decode(&msg)), 4);
    }
}

fn outcome(reply: Reply, protocol: Protocol) -> ExportResult {
    let server = ScriptedServer::start(vec![reply]);
    let b = OtlpExporter::builder()
        .protocol(protocol)
        .timeout(Duration::from_millis(500));
    let b = if protocol == Protocol::Grpc {
        b.endpoint(server.url())
    } else {
        b.base_endpoint(server.url())
    };
    b.build().unwrap().export(&spans(5))
}

#[test]
fn http_statuses_follow_the_spec() {
    for code in [429, 502, 503, 504] {
        match outcome(Reply::status(code), Protocol::HttpProtobuf) {
            ExportResult::Retry {
                after: None,
                reason,
            } => assert!(
                reason.ends_with(&format!("/v1/traces answered with status {code}")),
                "{reason}"
            ),
            other => panic!("{code}: {other:?}"),
        }
    }
    match outcome(
        Reply::status(429).with_header("retry-after", "7"),
        Protocol::HttpProtobuf,
    ) {
        ExportResult::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(7))),
        other => panic!("{other:?}"),
    }
    for code in [400, 401, 403, 404, 413, 500] {
        match outcome(
            Reply::status(code).with_body("x".repeat(5000)),
            Protocol::HttpProtobuf,
        ) {
            ExportResult::Failure(ExportError::Rejected { status, message }) => {
                assert_eq!(status, code);
                assert!(message.len() < 600, "bounded: {}", message.len());
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    let partial = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 2,
            error_message: "2 spans too old".into(),
        }),
    };
    match outcome(
        Reply::status(200).with_body(partial.encode_to_vec()),
        Protocol::HttpProtobuf,
    ) {
        ExportResult::PartialSuccess { rejected, message } => {
            assert_eq!((rejected, message.as_str()), (2, "2 spans too old"))
        }
        other => panic!("{other:?}"),
    }
    match outcome(
        Reply::status(200)
            .with_body(r#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"bad"}}"#),
        Protocol::HttpJson,
    ) {
        ExportResult::PartialSuccess { rejected, .. } => assert_eq!(rejected, 1),
        other => panic!("{other:?}"),
    }
}

fn b64(bytes: &[u8]) -> Vec<u8> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = Vec::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            s.push(T[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    s
}

#[test]
fn grpc_statuses_follow_the_spec() {
    let status = |code: &str| Reply::Grpc {
        body: Vec::new(),
        trailers: vec![
            ("grpc-status".into(), code.as_bytes().to_vec()),
            ("grpc-message".into(), b"why%20not".to_vec()),
        ],
    };
    for code in ["1", "4", "10", "11", "14", "15"] {
        assert!(
            matches!(
                outcome(status(code), Protocol::Grpc),
                ExportResult::Retry { .. }
            ),
            "{code}"
        );
    }
    for code in ["3", "7", "8", "16"] {
        match outcome(status(code), Protocol::Grpc) {
            ExportResult::Failure(ExportError::Rejected { message, .. }) => {
                assert!(message.contains("why not"), "{message}")
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    let details = grpc::status_details_with_retry(8, "slow down", Duration::from_secs(3));
    let exhausted = Reply::Grpc {
        body: Vec::new(),
        trailers: vec![
            ("grpc-status".into(), b"8".to_vec()),
            ("grpc-status-details-bin".into(), b64(&details)),
        ],
    };
    match outcome(exhausted, Protocol::Grpc) {
        ExportResult::Retry { after, reason } => {
            assert_eq!(after, Some(Duration::from_secs(3)));
            assert!(
                reason.contains("answered gRPC RESOURCE_EXHAUSTED"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A proxy answering 503 in front of the gRPC server: UNAVAILABLE.
    assert!(matches!(
        outcome(Reply::status(503), Protocol::Grpc),
        ExportResult::Retry { .. }
    ));
    let partial = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: 5,
            error_message: "all bad".into(),
        }),
    };
    assert!(matches!(
        outcome(grpc_ok(partial), Protocol::Grpc),
        ExportResult::PartialSuccess { rejected: 5, .. }
    ));
}

#[test]
fn transport_faults() {
    let t = Instant::now();
    let r = outcome(
        Reply::Delay(Duration::from_secs(5), Box::new(Reply::status(200))),
        Protocol::HttpProtobuf,
    );
    assert!(matches!(r, ExportResult::Retry { .. }), "{r:?}");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "timeout enforced: {:?}",
        t.elapsed()
    );
    assert!(matches!(
        outcome(Reply::Reset, Protocol::HttpProtobuf),
        ExportResult::Retry { .. }
    ));
    let huge = Reply::status(200).with_body(vec![0u8; 5 * 1024 * 1024]);
    assert!(matches!(
        outcome(huge, Protocol::HttpProtobuf),
        ExportResult::Failure(_)
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exp = OtlpExporter::builder()
        .base_endpoint(format!("http://127.0.0.1:{port}"))
        .build()
        .unwrap();
    assert!(matches!(exp.export(&spans(1)), ExportResult::Retry { .. }));
}

#[test]
fn a_batch_over_64_mib_is_split() {
    let server = ScriptedServer::start(vec![]);
    let exp = OtlpExporter::builder()
        .base_endpoint(server.url())
        .build()
        .unwrap();
    let big = "x".repeat(1024 * 1024);
    let mut batch = spans(70);
    for s in &mut batch {
        s.attributes.push(KeyValue::new("blob", big.clone()));
    }
    assert!(exp.export(&batch).is_success());
    let got = server.received();
    assert!(got.len() >= 2, "{} requests", got.len());
    assert!(
        got.iter()
            .all(|r| r.body.len() <= prela_export_otlp::MAX_REQUEST_BYTES)
    );
    assert_eq!(
        got.iter().map(|r| count(&decode(&r.body))).sum::<usize>(),
        70
    );
}

#[test]
fn https_with_ca_and_client_certificate_from_env() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let server = ScriptedServer::start_tls(vec![], pki.server_requiring_client_cert());
    let vars = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", server.url()),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            pki.ca_file.display().to_string(),
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            pki.client_cert.display().to_string(),
        ),
        (
            "OTEL_EXPORTER_OTLP_CLIENT_KEY",
            pki.client_key.display().to_string(),
        ),
    ];
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let exp = OtlpExporter::builder().env(env(&vars)).build().unwrap();
    assert!(exp.export(&spans(2)).is_success());
    // Without trusting the CA: a permanent, explained failure.
    let exp = OtlpExporter::builder()
        .base_endpoint(server.url())
        .build()
        .unwrap();
    match exp.export(&spans(1)) {
        ExportResult::Failure(e) => assert!(e.to_string().contains("unknown CA"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn endpoint_rules() {
    let uri = |vars: &[(&str, &str)]| {
        OtlpExporter::builder()
            .env(env(vars))
            .build()
            .unwrap()
            .uri()
            .to_string()
    };
    assert_eq!(uri(&[]), "http://localhost:4318/v1/traces");
    assert_eq!(
        uri(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")]),
        "http://c:4318/v1/traces"
    );
    assert_eq!(
        uri(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base/")]),
        "http://c:4318/base/v1/traces"
    );
    assert_eq!(
        uri(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/custom")
        ]),
        "http://t:9/custom"
    );
    assert_eq!(
        uri(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]),
        format!("http://localhost:4317{}", grpc::TRACE_EXPORT_PATH)
    );
    assert_eq!(
        uri(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317")
        ]),
        format!("https://c:4317{}", grpc::TRACE_EXPORT_PATH)
    );
    assert_eq!(
        uri(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true")
        ]),
        format!("http://c:4317{}", grpc::TRACE_EXPORT_PATH)
    );
    let exp = OtlpExporter::builder()
        .env(env(&[
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .build()
        .unwrap();
    assert_eq!(
        exp.protocol(),
        Protocol::HttpJson,
        "per-signal variable wins"
    );
}

#[test]
fn bad_values_name_the_variable() {
    let cases: &[(&str, &str)] = &[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "0"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "perhaps"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url"),
    ];
    for (var, value) in cases {
        let e = OtlpExporter::builder()
            .env(env(&[(var, value)]))
            .build()
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains(var) && msg.contains(&format!("{value:?}")),
            "{msg}"
        );
    }
    let e = OtlpExporter::builder()
        .env(env(&[(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "api-key=s3cret,broken",
        )]))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("OTEL_EXPORTER_OTLP_HEADERS"), "{e}");
    assert!(
        !e.to_string().contains("s3cret"),
        "header values are not echoed: {e}"
    );
    let e = OtlpExporter::builder()
        .env(env(&[(
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/nonexistent/ca.pem",
        )]))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
}
