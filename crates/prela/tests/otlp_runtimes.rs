//! The OTLP pipeline from a plain `fn main` and from inside tokio runtimes:
//! export, flush and shutdown return by their deadlines whatever the
//! collector does (no deadlock when called from a current-thread runtime).
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use prela::Tracer;
use prela_testkit::{Reply, ScriptedServer};

fn tracer_to(server: &ScriptedServer) -> Tracer {
    let vars: HashMap<String, String> = [
        ("PRELA_EXPORTER", "otlp".to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", server.url()),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10000".to_owned()),
        ("OTEL_BSP_SCHEDULE_DELAY", "3600000".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    prela::init()
        .service_name("rt")
        .env(move |k| vars.get(k).cloned())
        .build()
        .unwrap()
        .0
}

fn spans(t: &Tracer, n: usize) {
    for i in 0..n {
        let _s = t.span(format!("s{i}"));
    }
}

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[test]
fn plain_main_exports_and_flushes() {
    let server = ScriptedServer::start(vec![]);
    let t = tracer_to(&server);
    spans(&t, 5);
    t.force_flush(soon(5000)).unwrap();
    assert_eq!(server.received().len(), 1);
    t.shutdown(soon(5000)).unwrap();
}

#[test]
fn flush_and_shutdown_inside_a_current_thread_runtime_keep_their_deadlines() {
    let server = ScriptedServer::start(vec![]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = tracer_to(&server);
    rt.block_on(async {
        spans(&t, 3);
        t.force_flush(soon(5000)).unwrap();
    });
    assert_eq!(server.received().len(), 1);

    // A collector that never answers in time.
    server.push(vec![Reply::Delay(
        Duration::from_secs(30),
        Box::new(Reply::status(200)),
    )]);
    rt.block_on(async {
        spans(&t, 3);
        let started = Instant::now();
        let e = t.force_flush(soon(300)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "flush took {:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("3 span(s) were not exported"), "{e}");
        let started = Instant::now();
        let e = t.shutdown(soon(300)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "shutdown took {:?}",
            started.elapsed()
        );
        assert!(e.to_string().contains("were not exported"), "{e}");
    });
}

#[test]
fn inside_a_multi_thread_runtime_from_tasks() {
    let server = ScriptedServer::start(vec![]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = tracer_to(&server);
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..8 {
            let t = t.clone();
            handles.push(tokio::spawn(async move {
                spans(&t, 10);
                tokio::task::yield_now().await;
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let t2 = t.clone();
        tokio::spawn(async move { t2.force_flush(soon(5000)) })
            .await
            .unwrap()
            .unwrap();
    });
    let total: usize = server
        .received()
        .iter()
        .map(|r| {
            use prost_free::count_spans;
            count_spans(&r.body)
        })
        .sum();
    assert_eq!(total, 80);
    t.shutdown(soon(5000)).unwrap();
}

/// Counts spans in an OTLP protobuf request without a prost dependency
/// here: through the exporter crate's own message types.
mod prost_free {
    pub(crate) fn count_spans(body: &[u8]) -> usize {
        use prela::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;
        let req: ExportTraceServiceRequest = prela::otlp::decode_request(body).unwrap();
        req.resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum()
    }
}
