//! No API key, sensitive header value or client key ever shows in Debug,
//! Display, errors or log lines (the cloud key's own sweep is in
//! prela-export-cloud's tests).
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use prela::otlp::OtlpExporter;
use prela::transport::http::TlsConfig;
use prela::{ExportResult, SpanExporter};
use prela_testkit::{Capture, Pki, Reply, ScriptedServer};

const HEADER_SECRET: &str = "hdr-secret-7f3a9c21";
const KEY_SECRET: &str = "KEYMATERIALSECRET";

#[test]
fn secrets_stay_out_of_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let mut seen: Vec<String> = Vec::new();

    // A header value from code and from the environment.
    let server = ScriptedServer::start(vec![
        Reply::status(401).with_body("denied"),
        Reply::status(500),
    ]);
    let builder = OtlpExporter::builder()
        .base_endpoint(server.url())
        .header("x-api-key", HEADER_SECRET)
        .env(|k| {
            (k == "OTEL_EXPORTER_OTLP_HEADERS")
                .then(|| format!("authorization=Bearer%20{HEADER_SECRET}"))
        });
    seen.push(format!("{builder:?}"));
    let exp = builder.build().unwrap();
    seen.push(format!("{exp:?}"));
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let (t, _) = prela::init().exporter(exp).env(|_| None).build().unwrap();
        for _ in 0..2 {
            t.span("s");
        }
        if let Err(e) = t.shutdown(std::time::Instant::now() + Duration::from_secs(5)) {
            seen.push(format!("{e} {e:?}"));
        }
    });
    seen.extend(capture.events().into_iter().map(|e| e.fields));
    assert_eq!(
        server.received()[0].headers["x-api-key"],
        HEADER_SECRET,
        "the header was sent"
    );

    // A collector that echoes the request's headers into its error bodies
    // (HTTP 500 and a gRPC status message, and a partial success): the
    // errors carry no header value, not even a piece cut at the bound.
    let echo = format!(
        "bad request; headers: x-api-key: {HEADER_SECRET}, authorization: Bearer {HEADER_SECRET}"
    );
    let padded = format!("{}{echo}", "x".repeat(500));
    for body in [echo.clone(), padded] {
        let server = ScriptedServer::start(vec![Reply::status(500).with_body(body)]);
        let exp = OtlpExporter::builder()
            .base_endpoint(server.url())
            .header("x-api-key", HEADER_SECRET)
            .env(|_| None)
            .build()
            .unwrap();
        let (t, _) = prela::init().exporter(exp).env(|_| None).build().unwrap();
        t.span("s");
        let e = t
            .shutdown(std::time::Instant::now() + Duration::from_secs(5))
            .unwrap_err();
        let text = format!("{e} {e:#?}");
        assert!(
            text.contains("<redacted>") || text.contains("..."),
            "{text}"
        );
        seen.push(text);
    }

    // A malformed header value in the environment: the error names the
    // variable, not the value.
    for malformed in [
        format!("x-api-key:{HEADER_SECRET}"),
        HEADER_SECRET.to_owned(),
        format!("x-api-key={HEADER_SECRET}%zz"),
        format!("ok=1,x-api-key:{HEADER_SECRET}"),
    ] {
        let err = OtlpExporter::builder()
            .env(move |k| (k == "OTEL_EXPORTER_OTLP_HEADERS").then(|| malformed.clone()))
            .build()
            .unwrap_err();
        assert!(
            err.to_string().contains("OTEL_EXPORTER_OTLP_HEADERS"),
            "{err}"
        );
        seen.push(format!("{err} {err:?} {err:#?}"));
    }
    let err = OtlpExporter::builder()
        .env(|k| {
            (k == "OTEL_EXPORTER_OTLP_HEADERS").then(|| format!("api-key={HEADER_SECRET},broken"))
        })
        .build()
        .unwrap_err();
    seen.push(format!("{err} {err:?}"));

    // A client key file whose contents are a secret, malformed and valid.
    let bad_key = tmp.path().join("bad-key.pem");
    std::fs::write(
        &bad_key,
        format!("-----BEGIN PRIVATE KEY-----\n{KEY_SECRET}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let err = OtlpExporter::builder()
        .tls(TlsConfig::new().client_identity(&pki.client_cert, &bad_key))
        .env(|_| None)
        .build()
        .unwrap_err();
    seen.push(format!("{err} {err:?}"));
    let tls = TlsConfig::new()
        .ca_file(&pki.ca_file)
        .client_identity(&pki.client_cert, &pki.client_key);
    seen.push(format!("{tls:?}"));
    let key_pem = std::fs::read_to_string(&pki.client_key).unwrap();
    let key_body: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let tls_server =
        ScriptedServer::start_tls(vec![Reply::status(403)], pki.server_requiring_client_cert());
    let exp = OtlpExporter::builder()
        .base_endpoint(tls_server.url())
        .tls(tls)
        .env(|_| None)
        .build()
        .unwrap();
    seen.push(format!("{exp:?}"));
    let cx = prela::SpanContext::new(
        prela::TraceId::from_u128(1),
        prela::SpanId::from_u64(1),
        prela::TraceFlags::SAMPLED,
    );
    let now = std::time::SystemTime::now();
    match exp.export(&[prela::SpanData::new(cx, "s", now, now)]) {
        ExportResult::Failure(e) => seen.push(format!("{e} {e:?}")),
        other => panic!("expected the 403 as a failure: {other:?}"),
    }
    assert_eq!(
        tls_server.received().len(),
        1,
        "the mTLS request went through"
    );

    assert!(seen.len() >= 8);
    for s in &seen {
        assert!(!s.contains(HEADER_SECRET), "a header value leaked: {s}");
        assert!(!s.contains(KEY_SECRET), "key material leaked: {s}");
        assert!(!s.contains(&key_body[..40]), "the client key leaked: {s}");
    }
}
