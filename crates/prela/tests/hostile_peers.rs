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
