//! The fault matrix: the full pipeline (tracer -> BatchProcessor ->
//! exporter) against real loopback peers that misbehave. Every row ends
//! with: received = exported + dropped + failed, exactly; no panic;
//! shutdown by its deadline; the queue within its bound. Documented in
//! docs/reliability.md.
#![cfg(all(feature = "otlp", feature = "cloud"))]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prela::otlp::OtlpExporter;
use prela::transport::http::TlsConfig;
use prela::transport::{BatchProcessor, ProcessorStats};
use prela::{SpanExporter, Tracer};
use prela_testkit::{Pki, Reply, ScriptedServer};

const SPANS: usize = 200;
const SHUTDOWN: Duration = Duration::from_secs(4);

struct Outcome {
    stats: ProcessorStats,
    shutdown: Result<(), prela::ExportError>,
    shutdown_took: Duration,
    max_queued: u64,
}

/// Produces `SPANS` spans through a batch processor in front of
/// `exporter`, then shuts down as an application would.
fn run(exporter: impl SpanExporter, between: impl Fn(usize)) -> Outcome {
    let p = Arc::new(
        BatchProcessor::builder(exporter)
            .max_queue_size(64)
            .max_export_batch_size(16)
            .scheduled_delay(Duration::from_millis(10))
            .export_timeout(Duration::from_millis(600))
            .retry(Duration::from_millis(5), Duration::from_millis(40), 3)
            .build()
            .unwrap(),
    );
    let tracer = Tracer::builder()
        .service_name("faults")
        .shared_processor(p.clone())
        .build();
    let mut max_queued = 0;
    for i in 0..SPANS {
        tracer.span_builder(format!("s{i}")).start().end();
        max_queued = max_queued.max(p.stats().queued);
        between(i);
        // An application's pace, not a tight loop: drops then come from
        // the fault, not from the producer outrunning a healthy worker.
        std::thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    let shutdown = tracer.shutdown(Instant::now() + SHUTDOWN);
    Outcome {
        stats: p.stats(),
        shutdown,
        shutdown_took: t.elapsed(),
        max_queued,
    }
}

fn check(row: &str, o: &Outcome) {
    let s = &o.stats;
    eprintln!(
        "{row}: received {} exported {} dropped {} failed {} retries {}; shutdown {:?} in {:?}; max queued {}",
        s.received,
        s.exported,
        s.dropped(),
        s.failed,
        s.retries,
        o.shutdown.as_ref().map_err(ToString::to_string),
        o.shutdown_took,
        o.max_queued
    );
    assert_eq!(
        s.received, SPANS as u64,
        "{row}: every span reached the processor"
    );
    assert_eq!(
        s.received,
        s.exported + s.dropped() + s.failed,
        "{row}: accounting"
    );
    assert!(
        o.shutdown_took < SHUTDOWN + Duration::from_millis(500),
        "{row}: shutdown by its deadline"
    );
    assert!(o.max_queued <= 64, "{row}: bounded queue");
    match &o.shutdown {
        Ok(()) => assert_eq!(
            s.exported, SPANS as u64,
            "{row}: Ok only when all were exported"
        ),
        Err(e) => {
            let lost = s.dropped() + s.failed;
            assert!(lost > 0, "{row}: an error only when something was lost");
            assert!(
                e.to_string()
                    .contains(&format!("{lost} span(s) were not exported")),
                "{row}: {e}"
            );
        }
    }
}

fn otlp(url: &str) -> OtlpExporter {
    OtlpExporter::builder()
        .base_endpoint(url)
        .timeout(Duration::from_millis(300))
        .env(|_| None)
        .build()
        .unwrap()
}

fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn collector_down_from_the_start() {
    let o = run(otlp(&format!("http://127.0.0.1:{}", closed_port())), |_| {});
    check("collector down", &o);
    assert_eq!(o.stats.exported, 0);
    assert!(o.stats.retries > 0, "connection errors are retried");
}

#[test]
fn a_storm_of_503s() {
    let server = ScriptedServer::start_with_default(vec![], Reply::status(503));
    let o = run(otlp(&server.url()), |_| {});
    check("503 storm", &o);
    assert_eq!(o.stats.exported, 0);
    assert!(o.stats.retries > 0);
}

#[test]
fn rate_limited_with_retry_after_then_accepted() {
    let server = ScriptedServer::start(vec![Reply::status(429).with_header("retry-after", "0"); 3]);
    let o = run(otlp(&server.url()), |_| {});
    check("429 + Retry-After", &o);
    assert!(o.stats.retries >= 3);
    assert_eq!(
        o.stats.exported, SPANS as u64,
        "retried after the pause, then delivered"
    );
}

#[test]
fn answers_slower_than_the_timeout() {
    let server = ScriptedServer::start_with_default(
        vec![],
        Reply::Delay(Duration::from_secs(5), Box::new(Reply::status(200))),
    );
    let o = run(otlp(&server.url()), |_| {});
    check("slow answers", &o);
}

#[test]
fn connections_reset_mid_request() {
    let server = ScriptedServer::start_with_default(vec![], Reply::Reset);
    let o = run(otlp(&server.url()), |_| {});
    check("resets", &o);
    assert_eq!(o.stats.exported, 0);
}

#[test]
fn a_host_that_accepts_and_never_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let keep = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let end = Instant::now() + Duration::from_secs(15);
        while Instant::now() < end {
            if let Ok((s, _)) = listener.accept() {
                held.push(s); // accepted, never read, never answered
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let o = run(otlp(&url), |_| {});
    check("black hole", &o);
    assert_eq!(o.stats.exported, 0);
    drop(keep);
}

#[test]
fn tls_wrong_ca_name_mismatch_expired() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    for (row, identity, want) in [
        ("wrong CA", pki.server.clone(), "unknown CA"),
        (
            "name mismatch",
            pki.wrong_name.clone(),
            "not valid for that host name",
        ),
        ("expired", pki.expired.clone(), "expired"),
    ] {
        let server = ScriptedServer::start_tls(vec![], identity);
        let ca = if row == "wrong CA" {
            &pki.other_ca_file
        } else {
            &pki.ca_file
        };
        let exp = OtlpExporter::builder()
            .base_endpoint(server.url())
            .tls(TlsConfig::new().ca_file(ca))
            .env(|_| None)
            .build()
            .unwrap();
        let o = run(exp, |_| {});
        check(row, &o);
        assert_eq!(o.stats.retries, 0, "{row}: TLS errors are permanent");
        assert_eq!(o.stats.exported, 0);
        assert!(
            o.stats.last_error.as_deref().unwrap_or("").contains(want),
            "{row}: {:?}",
            o.stats.last_error
        );
    }
}

#[test]
fn cloud_key_rejected() {
    let server = ScriptedServer::start(vec![]);
    server.require_header("authorization", "Bearer right-key");
    let exp = prela::cloud::CloudExporter::builder()
        .api_key("wrong-key")
        .endpoint(server.url())
        .env(|_| None)
        .build()
        .unwrap();
    let o = run(exp, |_| {});
    check("cloud key rejected", &o);
    assert_eq!(o.stats.exported, 0);
    assert!(
        server.received().len() <= 3,
        "stops after three rejections: {}",
        server.received().len()
    );
}

#[test]
fn collector_killed_mid_run_and_restarted() {
    // A collector we can stop and start on one port: the scripted server.
    let first = ScriptedServer::start(vec![]);
    let addr = first.addr();
    let url = first.url();
    let restarted = std::sync::Mutex::new(None::<ScriptedServer>);
    let first = std::sync::Mutex::new(Some(first));
    let o = run(otlp(&url), |i| {
        if i == 60 {
            drop(first.lock().unwrap().take()); // killed
        }
        if i == 120 {
            // Restarted on the same port.
            let l = (0..50).find_map(|_| {
                std::thread::sleep(Duration::from_millis(20));
                TcpListener::bind(addr).ok()
            });
            drop(l);
            *restarted.lock().unwrap() = Some(ScriptedServer::start_on(addr, vec![]));
        }
    });
    check("collector restart", &o);
    // Every span that ended after the restart arrived. (Span 120 ended
    // just before it: its batch may have used up its retries while the
    // collector was still down.)
    let names = restarted
        .lock()
        .unwrap()
        .as_ref()
        .map(span_names_received)
        .unwrap_or_default();
    let missing: Vec<String> = (121..SPANS)
        .map(|i| format!("s{i}"))
        .filter(|n| !names.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "spans ended after the restart were lost: {missing:?}"
    );
}

/// The rotel collector from the peer environment (`cargo xtask test`
/// installs it); `None` when absent, which `PRELA_REQUIRE_PEERS=1` forbids.
fn rotel() -> Option<std::path::PathBuf> {
    let found = prela_testkit::rotel_binary();
    if found.is_none() {
        assert!(
            std::env::var("PRELA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "rotel is required: run `cargo xtask test`"
        );
        eprintln!("skipped: no rotel collector");
    }
    found
}

fn span_names_received(server: &ScriptedServer) -> Vec<String> {
    server
        .received()
        .iter()
        .filter_map(|r| {
            let body = r.decoded_body()?;
            prela::otlp::decode_request(&body).ok()
        })
        .flat_map(|q| {
            q.resource_spans
                .into_iter()
                .flat_map(|x| x.scope_spans)
                .flat_map(|x| x.spans)
                .map(|sp| sp.name)
        })
        .collect()
}

#[test]
fn rotel_down_from_the_start_then_killed_and_restarted() {
    let Some(bin) = rotel() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let receiver = ScriptedServer::start(vec![]);
    let (http, grpc) = (closed_port(), closed_port());
    let url = format!("http://127.0.0.1:{http}");
    let rotel_proc = std::sync::Mutex::new(None::<prela_testkit::Rotel>);
    let o = run(otlp(&url), |i| match i {
        // Down for the first 40 spans, up from 40 to 100, killed at 100,
        // back from 140.
        40 | 140 => {
            *rotel_proc.lock().unwrap() = Some(prela_testkit::Rotel::start(
                &bin,
                http,
                grpc,
                &receiver.url(),
                &tmp.path().join("rotel.log"),
            ))
        }
        100 => drop(rotel_proc.lock().unwrap().take()),
        _ => {}
    });
    check("rotel down, killed, restarted", &o);
    // Every span produced after the restart reaches the receiver; spans in
    // rotel's own buffer when it was killed are rotel's loss, not ours.
    // `between(140)` runs after span 140 ended, so that span was queued
    // while rotel was down, and its batch may run out of retries before
    // the new rotel listens: the spans after the restart begin at 141.
    let after_restart: Vec<String> = (141..SPANS).map(|i| format!("s{i}")).collect();
    let missing = |names: &[String]| -> Vec<String> {
        after_restart
            .iter()
            .filter(|n| !names.contains(n))
            .cloned()
            .collect()
    };
    let all_arrived = |names: &[String]| missing(names).is_empty();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_arrived(&span_names_received(&receiver)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let names = span_names_received(&receiver);
    eprintln!(
        "rotel forwarded {} of the {} spans it accepted",
        names.len(),
        o.stats.exported
    );
    assert!(
        o.stats.exported >= 60,
        "spans sent while rotel was up were exported: {}",
        o.stats.exported
    );
    assert!(
        all_arrived(&names),
        "every span produced after the restart arrived; missing: {:?}",
        missing(&names)
    );
}

/// Peak resident memory of this process, from /proc (kB).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
fn an_outage_does_not_grow_memory() {
    // 200,000 spans of 1 KiB into a dead collector with the default queue:
    // memory is bounded by the queue, not by the spans produced.
    let before = peak_rss_kb();
    let p = Arc::new(
        BatchProcessor::builder(otlp(&format!("http://127.0.0.1:{}", closed_port())))
            .build()
            .unwrap(),
    );
    let tracer = Tracer::builder().shared_processor(p.clone()).build();
    let blob = "x".repeat(1024);
    for i in 0..200_000u32 {
        let mut s = tracer.span_builder("llm.call").start();
        s.set_attribute("payload", blob.clone());
        s.set_attribute("i", i);
        s.end();
    }
    let grew_mb = (peak_rss_kb().saturating_sub(before)) / 1024;
    let t = Instant::now();
    let r = tracer.shutdown(Instant::now() + Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_secs(3));
    let s = p.stats();
    eprintln!(
        "outage: 200,000 spans produced ({} MiB of payload), peak RSS grew {grew_mb} MiB; dropped {} failed {}",
        200_000 / 1024,
        s.dropped(),
        s.failed
    );
    assert!(r.is_err());
    assert_eq!(s.received, s.exported + s.dropped() + s.failed);
    assert!(
        grew_mb < 64,
        "peak RSS grew {grew_mb} MiB for 195 MiB of spans"
    );
}
