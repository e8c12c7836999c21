//! Soak: sustained traffic through a collector that keeps changing its
//! mind. Run by `cargo xtask soak [seconds]` (release mode); ignored in the
//! ordinary test run for its length.
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prela::Tracer;
use prela::otlp::OtlpExporter;
use prela::transport::BatchProcessor;
use prela_testkit::{Reply, ScriptedServer};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[test]
#[ignore = "long: run with `cargo xtask soak [seconds]`"]
fn soak() {
    let secs: u64 = std::env::var("PRELA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    // Phases of 2 s: healthy, 503s, healthy, slow answers, healthy, resets.
    let phase = |i: usize| match i % 6 {
        1 => Reply::status(503),
        3 => Reply::Delay(Duration::from_millis(800), Box::new(Reply::status(200))),
        5 => Reply::Reset,
        _ => Reply::status(200),
    };
    let server = ScriptedServer::start(vec![]);
    server.forget_bodies(); // measure the SDK, not the receiver
    let exporter = OtlpExporter::builder()
        .base_endpoint(server.url())
        .timeout(Duration::from_millis(500))
        .env(|_| None)
        .build()
        .unwrap();
    let exporter: Box<dyn prela::SpanExporter> = if std::env::var_os("PRELA_SOAK_DISCARD").is_some()
    {
        Box::new(prela_testkit::Discard)
    } else {
        Box::new(exporter)
    };
    let p = Arc::new(
        BatchProcessor::builder(exporter)
            .scheduled_delay(Duration::from_millis(100))
            .retry(Duration::from_millis(10), Duration::from_millis(200), 3)
            .export_timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    );
    let tracer = Tracer::builder()
        .service_name("soak")
        .shared_processor(p.clone())
        .build();
    let stop = Arc::new(AtomicBool::new(false));
    let produced = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..4)
        .map(|_| {
            let (t, stop, produced) = (tracer.clone(), stop.clone(), produced.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let root = t.agent("soak").start();
                    for _ in 0..20 {
                        let mut s = t.llm("openai", "gpt-4o").parent(&root.context()).start();
                        s.set_usage(412, 87);
                        s.end();
                    }
                    drop(root);
                    produced.fetch_add(21, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut rss = Vec::new();
    let mut i = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        server.set_default(phase(i));
        std::thread::sleep(Duration::from_secs(2));
        i += 1;
        rss.push(rss_kb());
        let s = p.stats();
        eprintln!(
            "t={:>4}s produced {} exported {} dropped {} failed {} retries {} queued {} rss {} MiB",
            start.elapsed().as_secs(),
            produced.load(Ordering::Relaxed),
            s.exported,
            s.dropped(),
            s.failed,
            s.retries,
            s.queued,
            rss.last().copied().unwrap_or(0) / 1024
        );
        assert!(s.queued <= s.queue_capacity);
    }
    stop.store(true, Ordering::Relaxed);
    for h in producers {
        h.join().unwrap();
    }
    server.set_default(Reply::status(200));
    let t = Instant::now();
    let _ = tracer.shutdown(Instant::now() + Duration::from_secs(10));
    let shutdown = t.elapsed();
    let s = p.stats();
    eprintln!(
        "soak {secs}s: produced {}, exported {} ({:.1}%), dropped {}, failed {}, retries {}; shutdown {:?}; RSS {}..{} MiB",
        produced.load(Ordering::Relaxed),
        s.exported,
        100.0 * s.exported as f64 / s.received.max(1) as f64,
        s.dropped(),
        s.failed,
        s.retries,
        shutdown,
        rss.iter().min().copied().unwrap_or(0) / 1024,
        rss.iter().max().copied().unwrap_or(0) / 1024
    );
    assert_eq!(s.received, produced.load(Ordering::Relaxed));
    assert_eq!(s.received, s.exported + s.dropped() + s.failed);
    assert!(shutdown < Duration::from_secs(11));
    // No growth across the run: the second half's peak is within 32 MiB of
    // the first half's.
    let half = rss.len() / 2;
    if half > 0 {
        let first = rss[..half].iter().max().copied().unwrap_or(0);
        let second = rss[half..].iter().max().copied().unwrap_or(0);
        assert!(
            second <= first + 32 * 1024,
            "RSS grew from {first} kB to {second} kB"
        );
    }
}
