//! Hostile or broken peers and extreme values through `prela::init()`:
//! nothing panics, every span is accounted for, and the reason is given.
#![cfg(all(feature = "otlp", feature = "cloud"))]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use prela_testkit::{Reply, ScriptedServer};

fn env(vars: Vec<(&str, String)>) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    move |k| map.get(k).cloned()
}

const HUGE: &str = "18446744073709551615";

fn huge_delay_then_ok(status: u16) -> ScriptedServer {
    ScriptedServer::start_with_default(
        vec![Reply::status(status).with_header("retry-after", HUGE)],
        Reply::status(200),
    )
}

fn run(exporter: &str, vars: Vec<(&str, String)>) {
    let (tracer, _) = prela::init()
        .exporter_name(exporter)
        .env(env(vars))
        .build()
        .unwrap();
    for i in 0..64 {
        tracer.start_span(format!("span {i}")).end();
    }
    let err = tracer
        .force_flush(prela_core::deadline_in(Duration::from_secs(10)))
        .unwrap_err();
    assert!(
        err.to_string().contains("would pass the export deadline"),
        "{exporter}: {err}"
    );
    // The worker lives on: the next span is exported.
    tracer.start_span("after").end();
    tracer
        .force_flush(prela_core::deadline_in(Duration::from_secs(10)))
        .unwrap();
    let err = tracer
        .shutdown(prela_core::deadline_in(Duration::MAX))
        .unwrap_err();
    assert!(
        matches!(err, prela::ExportError::NotExported { count: 64, .. }),
        "{exporter}: {err:#?}"
    );
}

#[test]
fn an_otlp_retry_after_of_u64_max_is_not_waited_for_and_panics_nothing() {
    let server = huge_delay_then_ok(503);
    run("otlp", vec![("OTEL_EXPORTER_OTLP_ENDPOINT", server.url())]);
}

#[test]
fn a_cloud_429_with_retry_after_of_u64_max_is_not_waited_for() {
    let server = huge_delay_then_ok(429);
    run(
        "cloud",
        vec![
            ("PRELA_API_KEY", "sk-test".to_owned()),
            ("PRELA_ENDPOINT", format!("{}/v1/traces", server.url())),
        ],
    );
}

#[test]
fn the_guard_takes_timeouts_of_any_length() {
    let c = prela_testkit::Collect::default();
    let tracer = prela::init()
        .exporter(c.clone())
        .shutdown_timeout(Duration::MAX)
        .env(|_| None)
        .build()
        .map(|(t, _)| t)
        .unwrap();
    tracer.start_span("x").end();
    tracer
        .force_flush(prela_core::deadline_in(Duration::MAX))
        .unwrap();
    let installed = prela::init()
        .exporter(c.clone())
        .shutdown_timeout(Duration::MAX)
        .env(|_| None)
        .install()
        .unwrap();
    installed.force_flush(Duration::MAX).unwrap();
    drop(installed); // the guard's drop flushes with Duration::MAX too
    assert_eq!(c.spans().len(), 1);
}

/// An array nested `depth` levels deep, built without recursion.
fn nested(depth: usize) -> prela::Value {
    let mut v = prela::Value::I64(1);
    for _ in 1..depth {
        v = prela::Value::Array(vec![v]);
    }
    v
}

fn depth_of(v: &prela::Value) -> usize {
    let mut depth = 1;
    let mut v = v;
    while let prela::Value::Array(items) = v {
        match items.first() {
            Some(inner) if inner.is_nested() => {
                depth += 1;
                v = inner;
            }
            _ => break,
        }
    }
    depth
}

#[test]
fn values_nested_without_bound_are_cut_where_they_enter() {
    let server = ScriptedServer::start_with_default(Vec::new(), Reply::status(200));
    let seen = prela_testkit::Collect::default();
    let (tracer, _) = prela::init()
        .processor(
            prela::transport::BatchProcessor::builder(
                prela::otlp::OtlpExporter::builder()
                    .base_endpoint(server.url())
                    .env(|_| None)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
        )
        .processor(seen.clone())
        .env(|_| None)
        .build()
        .unwrap();
    let mut span = tracer.start_span("deep");
    span.set_attribute("deep.array", nested(10_000));
    span.add_event(
        "deep.event",
        vec![prela::KeyValue::new("v", nested(10_000))],
    );
    // serde_json's own drop recurses: 1,000 levels are deep enough here.
    let mut json = serde_json::json!(1);
    for _ in 0..1_000 {
        json = serde_json::json!([json]);
    }
    span.set_attribute("deep.json", json);
    span.end();
    tracer
        .span_builder("deep at start")
        .attribute("deep.array", nested(10_000))
        .start()
        .end();
    // The worker redacts and encodes on its 1 MiB stack: no overflow.
    tracer
        .force_flush(prela_core::deadline_in(Duration::from_secs(10)))
        .unwrap();
    let spans = seen.take();
    let deep = spans.iter().find(|s| s.name == "deep").unwrap();
    for key in ["deep.array", "deep.json"] {
        let v = deep.attribute(key).unwrap();
        assert_eq!(depth_of(v), prela::core::value::MAX_DEPTH, "{key}");
    }
    // The array is cut by set_attribute, and counted; the JSON value was
    // cut as it converted into a Value, before the span saw it.
    assert_eq!(deep.dropped_attributes_count, 1);
    assert_eq!(
        depth_of(&deep.events[0].attributes[0].value),
        prela::core::value::MAX_DEPTH
    );
    assert_eq!(deep.events[0].dropped_attributes_count, 1);
    let at_start = spans.iter().find(|s| s.name == "deep at start").unwrap();
    assert_eq!(
        depth_of(at_start.attribute("deep.array").unwrap()),
        prela::core::value::MAX_DEPTH
    );
    assert!(
        !server.received().is_empty(),
        "the batch was encoded and sent"
    );
    tracer
        .shutdown(prela_core::deadline_in(Duration::from_secs(10)))
        .unwrap();
}

/// Spans lost to a full queue and to a refused connection: the report
/// counts each cause and names the address that refused.
#[test]
fn a_loss_report_names_each_cause() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // released: nothing listens there
    let (tracer, _) = prela::init()
        .exporter_name("otlp")
        .env(env(vec![
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://127.0.0.1:{port}"),
            ),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64".into()),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32".into()),
            ("OTEL_BSP_EXPORT_TIMEOUT", "200".into()),
        ]))
        .build()
        .unwrap();
    for i in 0..1000 {
        tracer.start_span(format!("span {i}")).end();
    }
    let err = tracer
        .shutdown(prela_core::deadline_in(Duration::from_secs(20)))
        .unwrap_err();
    let prela::ExportError::NotExported { count, lost, .. } = &err else {
        panic!("{err:#?}");
    };
    assert_eq!(*count, 1000, "{err}");
    assert!(lost.queue_full > 0 && lost.failed > 0, "{err:#?}");
    assert_eq!(lost.queue_full + lost.failed, 1000, "{err:#?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "1000 span(s) were not exported: {} dropped because the queue was full and {} failed to export; last error: ",
            lost.queue_full, lost.failed
        )),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}
