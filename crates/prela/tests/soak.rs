//! Soak: a steady rate of spans through the OTLP pipeline to a collector
//! that is stopped and started every minute (up 50 s, down 10 s). RSS,
//! threads and open file descriptors must stay flat and the accounting
//! exact. Run by `cargo xtask soak --minutes N` (release mode); ignored in
//! the ordinary test run for its length.
#![cfg(feature = "otlp")]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prela::Tracer;
use prela::otlp::OtlpExporter;
use prela::transport::BatchProcessor;
use prela_testkit::ScriptedServer;

/// (RSS kB, threads, open file descriptors) of this process.
fn sample() -> (u64, u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    (field("VmRSS:"), field("Threads:"), fds)
}

fn receiver(addr: Option<std::net::SocketAddr>) -> ScriptedServer {
    let s = match addr {
        Some(a) => ScriptedServer::start_on(a, vec![]),
        None => ScriptedServer::start(vec![]),
    };
    s.forget_bodies(); // measure the SDK, not the receiver
    s
}

#[test]
#[ignore = "long: run with `cargo xtask soak --minutes N`"]
fn soak() {
    let secs: u64 = std::env::var("PRELA_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let first = receiver(None);
    let addr = first.addr();
    let collector = Mutex::new(Some(first));
    let exporter = OtlpExporter::builder()
        .base_endpoint(format!("http://{addr}"))
        .timeout(Duration::from_secs(1))
        .env(|_| None)
        .build()
        .unwrap();
    let p = Arc::new(
        BatchProcessor::builder(exporter)
            .scheduled_delay(Duration::from_millis(200))
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
                // A steady ~4,000 spans/s per thread: a trace of 21 every 5 ms.
                let start = Instant::now();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let root = t.agent("soak").start();
                    for _ in 0..20 {
                        let mut s = t.llm("openai", "gpt-4o").parent(&root.context()).start();
                        s.set_usage(412, 87);
                        s.end();
                    }
                    drop(root);
                    produced.fetch_add(21, Ordering::Relaxed);
                    n += 1;
                    let due = start + Duration::from_millis(5 * n);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    let start = Instant::now();
    let mut samples: Vec<(u64, u64, u64)> = Vec::new();
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(2));
        let second_of_minute = start.elapsed().as_secs() % 60;
        let mut c = collector.lock().unwrap();
        match (second_of_minute >= 50, c.is_some()) {
            (true, true) => drop(c.take()),                    // stopped
            (false, false) => *c = Some(receiver(Some(addr))), // started again
            _ => {}
        }
        drop(c);
        let (rss, threads, fds) = sample();
        samples.push((rss, threads, fds));
        let s = p.stats();
        if samples.len() % 5 == 0 {
            eprintln!(
                "t={:>4}s produced {} exported {} dropped {} failed {} queued {} rss {} MiB threads {threads} fds {fds}",
                start.elapsed().as_secs(),
                produced.load(Ordering::Relaxed),
                s.exported,
                s.dropped(),
                s.failed,
                s.queued,
                rss / 1024
            );
        }
        assert!(s.queued <= s.queue_capacity);
    }
    stop.store(true, Ordering::Relaxed);
    for h in producers {
        h.join().unwrap();
    }
    if collector.lock().unwrap().is_none() {
        *collector.lock().unwrap() = Some(receiver(Some(addr)));
    }
    let t = Instant::now();
    let r = tracer.shutdown(Instant::now() + Duration::from_secs(10));
    let shutdown = t.elapsed();
    let s = p.stats();
    let warm = samples.len() / 5;
    let range = |f: fn(&(u64, u64, u64)) -> u64| {
        let v: Vec<u64> = samples[warm..].iter().map(f).collect();
        (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        )
    };
    let (rss, threads, fds) = (range(|x| x.0), range(|x| x.1), range(|x| x.2));
    eprintln!(
        "soak {secs}s: produced {}, exported {} ({:.2}%), dropped {}, failed {}, retries {}; shutdown {:?} ({}); after warm-up RSS {}..{} MiB, threads {}..{}, fds {}..{}",
        s.received,
        s.exported,
        100.0 * s.exported as f64 / s.received.max(1) as f64,
        s.dropped(),
        s.failed,
        s.retries,
        shutdown,
        if r.is_ok() { "Ok" } else { "reported losses" },
        rss.0 / 1024,
        rss.1 / 1024,
        threads.0,
        threads.1,
        fds.0,
        fds.1
    );
    assert_eq!(s.received, produced.load(Ordering::Relaxed));
    assert_eq!(s.received, s.exported + s.dropped() + s.failed);
    assert!(shutdown < Duration::from_secs(11));
    assert!(rss.1 <= rss.0 + 32 * 1024, "RSS grew");
    assert!(threads.1 <= threads.0 + 3, "threads grew");
    assert!(fds.1 <= fds.0 + 16, "file descriptors grew");
}
