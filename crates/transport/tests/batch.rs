//! BatchProcessor through its public API. Every test ends with the
//! accounting invariant: received = exported + dropped + failed.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender};
use prela_core::{
    ExportError, ExportResult, SpanContext, SpanData, SpanExporter, SpanId, SpanProcessor,
    TraceFlags, TraceId,
};
use prela_transport::{BatchProcessor, FanOut, ProcessorStats};

fn span(i: u64) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(i + 1),
        TraceFlags::SAMPLED,
    );
    let t = SystemTime::UNIX_EPOCH;
    SpanData::new(cx, "s", t, t)
}

fn secs(n: u64) -> Instant {
    Instant::now() + Duration::from_secs(n)
}

fn assert_accounted(s: &ProcessorStats) {
    assert_eq!(
        s.received,
        s.exported + s.dropped() + s.failed,
        "received = exported + dropped + failed: {s:?}"
    );
}

/// Answers each export call with the next scripted result (then Success),
/// counting calls and exported spans.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<ExportResult>>,
    calls: AtomicUsize,
    spans: AtomicU64,
    times: Mutex<Vec<Instant>>,
}

impl Scripted {
    fn new(script: Vec<ExportResult>) -> Arc<Self> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            ..Scripted::default()
        })
    }
}

impl SpanExporter for Scripted {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.times.lock().unwrap().push(Instant::now());
        let r = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(ExportResult::Success);
        if r.is_success() {
            self.spans.fetch_add(batch.len() as u64, Ordering::SeqCst);
        }
        r
    }
}

/// Polls `done` every millisecond; fails with `what()` once 5 s pass.
fn wait_until(done: impl Fn() -> bool, what: impl Fn() -> String) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < Duration::from_secs(5), "{}", what());
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn fast(exporter: Arc<dyn SpanExporter>) -> prela_transport::BatchProcessorBuilder {
    BatchProcessor::builder_shared(exporter)
        .scheduled_delay(Duration::from_millis(5))
        .retry(Duration::from_millis(1), Duration::from_millis(4), 5)
}

/// A transient failure, after `after` if given.
fn retry(after: Option<Duration>) -> ExportResult {
    ExportResult::Retry {
        after,
        reason: "127.0.0.1:9 is busy".into(),
    }
}

#[test]
fn retry_three_times_then_success() {
    let exp = Scripted::new(vec![retry(None), retry(None), retry(None)]);
    let p = fast(exp.clone()).build().unwrap();
    for i in 0..10 {
        p.on_end(span(i));
    }
    p.force_flush(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.exported, s.retries, s.failed), (10, 3, 0));
    assert_eq!(exp.calls.load(Ordering::SeqCst), 4);
    p.shutdown(secs(5)).unwrap();
    assert_accounted(&p.stats());
}

#[test]
fn failure_is_never_retried_and_flush_says_so() {
    let exp = Scripted::new(vec![ExportResult::Failure(ExportError::Rejected {
        status: 400,
        message: "bad span".into(),
    })]);
    let p = fast(exp.clone()).build().unwrap();
    for i in 0..7 {
        p.on_end(span(i));
    }
    match p.force_flush(secs(5)) {
        Err(ExportError::NotExported {
            count,
            lost,
            last_error,
        }) => {
            assert_eq!(count, 7);
            assert_eq!((lost.failed, lost.total()), (7, 7));
            assert!(last_error.unwrap().contains("400"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(exp.calls.load(Ordering::SeqCst), 1);
    // The next flush reports only what was lost since: nothing.
    p.on_end(span(100));
    p.force_flush(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.exported, s.failed, s.retries), (1, 7, 0));
    // Shutdown reports the whole life.
    match p.shutdown(secs(5)) {
        Err(ExportError::NotExported { count, .. }) => assert_eq!(count, 7),
        other => panic!("{other:?}"),
    }
    assert_accounted(&p.stats());
}

#[test]
fn retry_after_takes_precedence_and_respects_the_deadline() {
    let exp = Scripted::new(vec![retry(Some(Duration::from_millis(60)))]);
    let p = fast(exp.clone()).build().unwrap();
    p.on_end(span(0));
    p.force_flush(secs(5)).unwrap();
    let times = exp.times.lock().unwrap().clone();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(60),
        "waited {:?}",
        times[1] - times[0]
    );
    p.shutdown(secs(5)).unwrap();

    // Retry-After longer than the export timeout: give up at once, counted.
    let exp = Scripted::new(vec![retry(Some(Duration::from_secs(3600)))]);
    let p = fast(exp.clone())
        .export_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    p.on_end(span(0));
    let started = Instant::now();
    let err = p.force_flush(secs(5)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        err.to_string().contains("1 span(s) were not exported"),
        "{err}"
    );
    assert!(err.to_string().contains("deadline"), "{err}");
    assert!(err.to_string().contains("127.0.0.1:9 is busy"), "{err}");
    assert_eq!(exp.calls.load(Ordering::SeqCst), 1);
    p.shutdown(secs(5)).unwrap_err();
    assert_accounted(&p.stats());
}

#[test]
fn retries_give_up_after_max_retries() {
    let script = (0..10).map(|_| retry(None)).collect();
    let exp = Scripted::new(script);
    let p = fast(exp.clone()).build().unwrap();
    p.on_end(span(0));
    assert!(p.force_flush(secs(5)).is_err());
    assert_eq!(exp.calls.load(Ordering::SeqCst), 6, "1 attempt + 5 retries");
    let s = p.stats();
    assert_eq!((s.failed, s.retries), (1, 5));
    assert_eq!(
        s.last_error.as_deref(),
        Some("127.0.0.1:9 is busy; gave up after 5 retries")
    );
    let _ = p.shutdown(secs(5));
    assert_accounted(&p.stats());
}

/// Blocks in `export` until released; says when it is inside.
fn gate() -> (Arc<Overlap>, Receiver<()>, Sender<()>) {
    overlap(1, false)
}

#[test]
fn a_hung_exporter_cannot_hold_flush_or_shutdown_past_their_deadlines() {
    let (g, entered, release) = gate();
    let p = fast(g.clone()).max_export_batch_size(10).build().unwrap();
    for i in 0..25 {
        p.on_end(span(i));
    }
    entered.recv_timeout(Duration::from_secs(5)).unwrap();
    let t = Instant::now();
    let err = p
        .force_flush(Instant::now() + Duration::from_millis(100))
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "flush took {:?}",
        t.elapsed()
    );
    match err {
        ExportError::NotExported { count, .. } => assert_eq!(count, 25),
        other => panic!("{other:?}"),
    }
    let t = Instant::now();
    let err = p
        .shutdown(Instant::now() + Duration::from_millis(100))
        .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t.elapsed()
    );
    match err {
        ExportError::NotExported { count, .. } => assert_eq!(count, 25),
        other => panic!("{other:?}"),
    }
    let s = p.stats();
    assert_eq!(s.dropped_shutdown, 25);
    assert_accounted(&s);
    // The exporter finally returns: nothing is counted twice.
    drop(release);
    std::thread::sleep(Duration::from_millis(50));
    let s2 = p.stats();
    assert_eq!(s2.exported, 0);
    assert_accounted(&s2);
    assert!(p.shutdown(secs(1)).is_ok(), "shutdown is idempotent");
}

/// A processor (queue 1,000, batches of 100) whose worker is blocked in an
/// export of its first 100 spans, and the sender that releases exports.
fn blocked_with_100_in_flight() -> (BatchProcessor, Sender<()>) {
    let (g, entered, release) = gate();
    let p = fast(g)
        .max_queue_size(1000)
        .max_export_batch_size(100)
        .build()
        .unwrap();
    for i in 0..100 {
        p.on_end(span(i));
    }
    entered.recv_timeout(Duration::from_secs(5)).unwrap();
    (p, release)
}

/// Lets every blocked export through, now and later: with its sender
/// gone, the gate no longer waits.
fn release_all(release: Sender<()>) {
    drop(release);
}

#[test]
fn a_blocked_exporter_keeps_memory_bounded_and_counts_drops_exactly() {
    let (p, release) = blocked_with_100_in_flight();
    // The worker holds 100 spans in a blocked export; 1,000 fit the queue.
    let started = Instant::now();
    for i in 100..100_000 {
        p.on_end(span(i));
    }
    let produce = started.elapsed();
    let s = p.stats();
    assert_eq!(s.queued, 1000);
    assert_eq!(s.dropped_queue_full, 100_000 - 1100);
    assert_eq!(s.received, 100_000);
    // Producers were never blocked: 99,900 ends took well under the 5 s
    // the worker was stuck for (a loose bound; speed lives in the benches).
    assert!(produce < Duration::from_secs(5), "{produce:?}");
    release_all(release);
    match p.shutdown(secs(10)) {
        Err(ExportError::NotExported { count, .. }) => assert_eq!(count, 98_900),
        other => panic!("{other:?}"),
    }
    let s = p.stats();
    assert_eq!(s.exported, 1100);
    assert_accounted(&s);
}

struct Panics(AtomicUsize);

impl SpanExporter for Panics {
    fn export(&self, _: &[SpanData]) -> ExportResult {
        if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("exporter bug");
        }
        ExportResult::Success
    }
}

#[test]
fn a_panicking_exporter_is_caught_and_the_worker_survives() {
    let p = fast(Arc::new(Panics(AtomicUsize::new(0)))).build().unwrap();
    for i in 0..3 {
        p.on_end(span(i));
    }
    let err = p.force_flush(secs(5)).unwrap_err();
    assert!(err.to_string().contains("panicked"), "{err}");
    for i in 0..4 {
        p.on_end(span(i));
    }
    p.force_flush(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.failed, s.exported), (3, 4));
    let _ = p.shutdown(secs(5));
    assert_accounted(&p.stats());
}

use prela_testkit::Count;

#[test]
fn spans_after_shutdown_are_counted_as_dropped() {
    let p = fast(Arc::new(Count::default())).build().unwrap();
    p.on_end(span(0));
    p.shutdown(secs(5)).unwrap();
    p.on_end(span(1));
    p.on_end(span(2));
    assert!(matches!(p.force_flush(secs(1)), Err(ExportError::Shutdown)));
    let s = p.stats();
    assert_eq!((s.exported, s.dropped_shutdown, s.received), (1, 2, 3));
    assert_accounted(&s);
}

#[test]
fn on_end_from_takes_the_span_from_the_slot_and_an_empty_slot_counts_nothing() {
    let exp = Arc::new(Count::default());
    let p = fast(exp.clone()).build().unwrap();
    let mut slot = Some(span(0));
    p.on_end_from(&mut slot);
    assert!(slot.is_none(), "the span was moved out");
    p.on_end_from(&mut None);
    p.force_flush(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.received, s.exported), (1, 1));
    assert_eq!(exp.0.load(Ordering::Relaxed), 1);
    p.shutdown(secs(5)).unwrap();
    // After shutdown the span is counted as dropped, not handed on.
    p.on_end_from(&mut Some(span(1)));
    p.on_end_from(&mut None);
    let s = p.stats();
    assert_eq!((s.received, s.exported, s.dropped_shutdown), (2, 1, 1));
    assert_accounted(&s);
}

#[test]
fn scheduled_delay_exports_a_partial_batch() {
    let exp = Arc::new(Count::default());
    let p = fast(exp.clone()).build().unwrap();
    p.on_end(span(0));
    let t = Instant::now();
    while exp.0.load(Ordering::Relaxed) == 0 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(exp.0.load(Ordering::Relaxed), 1, "exported without a flush");
    p.shutdown(secs(5)).unwrap();
}

#[test]
fn invalid_settings_are_errors() {
    let e = BatchProcessor::builder(Count::default())
        .max_queue_size(10)
        .max_export_batch_size(20)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("max_export_batch_size"), "{e}");
    assert!(
        BatchProcessor::builder(Count::default())
            .max_queue_size(0)
            .build()
            .is_err()
    );
}

#[test]
fn fan_out_isolates_a_stuck_exporter() {
    let (g, entered, release) = gate();
    let healthy = Arc::new(Count::default());
    let stuck = Arc::new(
        fast(g)
            .max_queue_size(10)
            .max_export_batch_size(5)
            .build()
            .unwrap(),
    );
    let good = Arc::new(fast(healthy.clone()).build().unwrap());
    let fan = FanOut::new()
        .with_shared(stuck.clone() as Arc<dyn SpanProcessor>)
        .with_shared(good.clone() as Arc<dyn SpanProcessor>);
    for i in 0..5 {
        fan.on_end(span(i));
    }
    entered.recv_timeout(Duration::from_secs(5)).unwrap();
    for i in 5..1000 {
        fan.on_end(span(i));
    }
    good.force_flush(secs(5)).unwrap();
    assert_eq!(
        healthy.0.load(Ordering::Relaxed),
        1000,
        "the healthy exporter got everything"
    );
    let err = fan
        .force_flush(Instant::now() + Duration::from_millis(100))
        .unwrap_err();
    assert!(matches!(err, ExportError::NotExported { .. }), "{err}");
    drop(release);
    let _ = fan.shutdown(secs(5));
    assert_accounted(&stuck.stats());
    assert_accounted(&good.stats());
    assert_eq!(stuck.stats().dropped_queue_full, 1000 - 15);
}

#[test]
fn an_empty_queue_reserves_nothing_up_front() {
    // 2^40 span slots would be hundreds of terabytes if reserved.
    let p = fast(Arc::new(Count::default()))
        .max_queue_size(1 << 40)
        .build()
        .unwrap();
    for i in 0..10 {
        p.on_end(span(i));
    }
    p.shutdown(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.exported, s.queue_capacity), (10, 1 << 40));
}

#[test]
fn drops_are_reported_at_most_once_per_interval_not_per_span() {
    let (g, entered, release) = gate();
    let p = fast(g)
        .max_queue_size(10)
        .max_export_batch_size(5)
        .build()
        .unwrap();
    let events = prela_testkit::Capture::default();
    tracing::subscriber::with_default(events.clone(), || {
        for i in 0..5 {
            p.on_end(span(i));
        }
        entered.recv_timeout(Duration::from_secs(5)).unwrap();
        for i in 5..50_000 {
            p.on_end(span(i));
        }
    });
    assert_eq!(p.stats().dropped_queue_full, 50_000 - 15);
    assert_eq!(events.events().len(), 1, "one message for 49,985 drops");
    drop(release);
    let _ = p.shutdown(secs(5));
    assert_accounted(&p.stats());
}

#[test]
fn partial_success_counts_the_rejected_spans_as_failed() {
    let exp = Scripted::new(vec![ExportResult::PartialSuccess {
        rejected: 3,
        message: "3 spans had no name".into(),
    }]);
    let p = fast(exp.clone()).build().unwrap();
    for i in 0..10 {
        p.on_end(span(i));
    }
    match p.force_flush(secs(5)) {
        Err(ExportError::NotExported {
            count,
            lost,
            last_error,
        }) => {
            assert_eq!(count, 3);
            assert_eq!(lost.failed, 3);
            assert!(
                last_error
                    .unwrap()
                    .contains("rejected 3 of 10 spans: 3 spans had no name")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(exp.calls.load(Ordering::SeqCst), 1, "never retried");
    let s = p.stats();
    assert_eq!((s.exported, s.failed), (7, 3));
    let _ = p.shutdown(secs(5));
    assert_accounted(&p.stats());
}

/// Blocks every call until released (or only the call with the first
/// span, which the worker hands to a helper thread), and records how many
/// calls ran at once.
struct Overlap {
    concurrency: usize,
    only_first: bool,
    entered: Sender<()>,
    release: Receiver<()>,
    calls: AtomicUsize,
    running: AtomicUsize,
    most_running: AtomicUsize,
    exported: AtomicU64,
}

impl SpanExporter for Overlap {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_running.fetch_max(now, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        let first = batch.first().map(|s| s.span_context.span_id) == Some(SpanId::from_u64(1));
        let _ = self.entered.send(());
        if first || !self.only_first {
            let _ = self.release.recv();
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.exported
            .fetch_add(batch.len() as u64, Ordering::SeqCst);
        ExportResult::Success
    }

    fn max_concurrent_exports(&self) -> usize {
        self.concurrency
    }
}

fn overlap(concurrency: usize, only_first: bool) -> (Arc<Overlap>, Receiver<()>, Sender<()>) {
    let (entered_tx, entered_rx) = crossbeam_channel::unbounded();
    let (release_tx, release_rx) = crossbeam_channel::unbounded();
    let o = Arc::new(Overlap {
        concurrency,
        only_first,
        entered: entered_tx,
        release: release_rx,
        calls: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        most_running: AtomicUsize::new(0),
        exported: AtomicU64::new(0),
    });
    (o, entered_rx, release_tx)
}

#[test]
fn exports_overlap_up_to_the_exporters_limit_and_flush_waits_for_all() {
    let (o, entered, release) = overlap(2, false);
    let p = fast(o.clone()).max_export_batch_size(10).build().unwrap();
    for i in 0..40 {
        p.on_end(span(i));
    }
    // Two batches are in export at once: one on a helper, one on the worker.
    for _ in 0..2 {
        entered.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    assert!(
        entered.recv_timeout(Duration::from_millis(200)).is_err(),
        "a third export started while two were running"
    );
    assert_eq!(o.running.load(Ordering::SeqCst), 2);
    drop(release);
    p.force_flush(secs(5)).unwrap();
    assert_eq!(o.exported.load(Ordering::SeqCst), 40);
    assert_eq!(o.most_running.load(Ordering::SeqCst), 2);
    p.shutdown(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!((s.exported, s.batches_exported), (40, 4));
    assert_accounted(&s);
}

/// Bursts of whole batches, fast, to a cheap exporter: the worker may wait
/// to be woken for several batches at once, but never holds full batches
/// until the scheduled delay; each burst is out within moments of its
/// last span, whatever its size.
#[test]
fn bursts_of_batches_to_a_cheap_exporter_are_not_held_until_the_delay() {
    let e = Scripted::new(vec![]);
    let p = BatchProcessor::builder_shared(e.clone())
        .scheduled_delay(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut next = 0;
    for batches in [1u64, 2, 3, 5, 7, 1, 4, 6, 2] {
        for _ in 0..batches * 512 {
            p.on_end(span(next));
            next += 1;
        }
        wait_until(
            || e.spans.load(Ordering::SeqCst) >= next,
            || {
                format!(
                    "a burst of {batches} batches: {} of {next} spans exported",
                    e.spans.load(Ordering::SeqCst)
                )
            },
        );
    }
    let s = p.stats();
    assert_eq!(s.exported, next);
    assert_accounted(&s);
    p.shutdown(secs(5)).unwrap();
}

/// A batch as large as the queue, and another thread's lane holding an
/// open segment: the full segments of one thread never make a batch on
/// their own, so the worker must take each as it fills (giving its room
/// back to the queue) rather than wait for a batch's worth.
#[test]
fn a_batch_as_large_as_the_queue_does_not_stall_the_worker() {
    let e = Scripted::new(vec![]);
    let p = Arc::new(
        BatchProcessor::builder_shared(e.clone())
            .max_queue_size(2048)
            .max_export_batch_size(2048)
            .scheduled_delay(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    // Another thread ends one span, so its lane keeps a part-filled
    // segment and the room it reserved.
    let other = Arc::clone(&p);
    std::thread::spawn(move || other.on_end(span(1_000_000)))
        .join()
        .unwrap();
    let total = 3 * 2048;
    for i in 0..total {
        p.on_end(span(i));
        if i % 256 == 255 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    wait_until(
        || e.spans.load(Ordering::SeqCst) >= 4096,
        || {
            format!(
                "{} spans exported, {:?}",
                e.spans.load(Ordering::SeqCst),
                p.stats()
            )
        },
    );
    p.shutdown(secs(5)).unwrap();
    let s = p.stats();
    assert_eq!(s.dropped(), 0, "{s:?}");
    assert_accounted(&s);
}

/// Batches that come one at a time, further apart than an export takes,
/// are exported on the worker thread itself even when the exporter takes
/// concurrent calls: a helper thread would only add wake-ups.
#[test]
fn a_trickle_of_batches_is_exported_without_a_helper() {
    struct Threads(Mutex<Vec<std::thread::ThreadId>>);
    impl SpanExporter for Threads {
        fn export(&self, _: &[SpanData]) -> ExportResult {
            self.0.lock().unwrap().push(std::thread::current().id());
            ExportResult::Success
        }
        fn max_concurrent_exports(&self) -> usize {
            2
        }
    }
    let e = Arc::new(Threads(Mutex::new(Vec::new())));
    let p = BatchProcessor::builder_shared(e.clone())
        .scheduled_delay(Duration::from_secs(60))
        .max_export_batch_size(10)
        .build()
        .unwrap();
    // A flush exports on the worker thread: its id.
    p.on_end(span(0));
    p.force_flush(secs(5)).unwrap();
    let worker = e.0.lock().unwrap()[0];
    for round in 0..5 {
        for i in 0..10 {
            p.on_end(span(1 + round * 10 + i));
        }
        wait_until(
            || e.0.lock().unwrap().len() >= 2 + round as usize,
            || format!("batch {round} not exported"),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    p.shutdown(secs(5)).unwrap();
    let threads = e.0.lock().unwrap().clone();
    assert_eq!(threads.len(), 6);
    assert!(threads.iter().all(|t| *t == worker), "{threads:?}");
    assert_accounted(&p.stats());
}

#[test]
fn the_processor_setting_overrides_the_exporter_and_one_means_in_order() {
    // An exporter that takes one call at a time, allowed three by the
    // processor.
    let (o, entered, release) = overlap(1, false);
    let p = fast(o.clone())
        .max_export_batch_size(10)
        .max_concurrent_exports(3)
        .build()
        .unwrap();
    for i in 0..50 {
        p.on_end(span(i));
    }
    for _ in 0..3 {
        entered.recv_timeout(Duration::from_secs(5)).unwrap();
    }
    drop(release);
    p.shutdown(secs(5)).unwrap();
    assert_eq!(o.most_running.load(Ordering::SeqCst), 3);
    assert_accounted(&p.stats());

    // An exporter that would take two, held to one: calls never overlap,
    // so batches leave in the order their spans ended.
    let order = Arc::new(Mutex::new(Vec::new()));
    struct InOrder(Arc<Mutex<Vec<u64>>>);
    impl SpanExporter for InOrder {
        fn export(&self, batch: &[SpanData]) -> ExportResult {
            std::thread::sleep(Duration::from_millis(1));
            let mut o = self.0.lock().unwrap();
            o.extend(
                batch
                    .iter()
                    .map(|s| u64::from_be_bytes(s.span_context.span_id.to_bytes())),
            );
            ExportResult::Success
        }
        fn max_concurrent_exports(&self) -> usize {
            2
        }
    }
    let p = fast(Arc::new(InOrder(order.clone())))
        .max_export_batch_size(10)
        .max_concurrent_exports(1)
        .build()
        .unwrap();
    for i in 0..500 {
        p.on_end(span(i));
    }
    p.shutdown(secs(10)).unwrap();
    let got = order.lock().unwrap().clone();
    assert_eq!(got, (1..=500).collect::<Vec<u64>>());
}

#[test]
fn small_queues_fill_batches_from_several_segments_in_order() {
    // Batch sizes that are not a multiple of the segment, and a queue
    // smaller than four batches: every batch stays within the limit, spans
    // leave in the order they ended, and every span is accounted for.
    struct Sizes(Mutex<(Vec<usize>, Vec<u64>)>);
    impl SpanExporter for Sizes {
        fn export(&self, batch: &[SpanData]) -> ExportResult {
            let mut g = self.0.lock().unwrap();
            g.0.push(batch.len());
            g.1.extend(
                batch
                    .iter()
                    .map(|s| u64::from_be_bytes(s.span_context.span_id.to_bytes())),
            );
            ExportResult::Success
        }
    }
    for (queue, batch) in [(40, 16), (1000, 512), (7, 7)] {
        let e = Arc::new(Sizes(Mutex::new((Vec::new(), Vec::new()))));
        let p = fast(e.clone())
            .max_queue_size(queue)
            .max_export_batch_size(batch)
            .build()
            .unwrap();
        for i in 0..3000 {
            p.on_end(span(i));
            if i % 4 == 0 {
                std::thread::yield_now();
            }
        }
        p.shutdown(secs(10)).unwrap_or_else(|e| {
            // Drops are allowed (the queue is small); they must be counted.
            assert!(matches!(e, ExportError::NotExported { .. }), "{e}");
        });
        let stats = p.stats();
        assert_accounted(&stats);
        let g = e.0.lock().unwrap();
        assert!(
            g.0.iter().all(|&n| n > 0 && n <= batch),
            "{queue}/{batch}: {:?}",
            g.0
        );
        assert_eq!(g.1.len() as u64, stats.exported);
        assert!(g.1.windows(2).all(|w| w[0] < w[1]), "in order");
        assert!(stats.exported > 0);
    }
}

#[test]
fn a_hung_helper_export_is_counted_at_the_flush_and_shutdown_deadlines() {
    // The first batch hangs on a helper thread; every other call succeeds.
    let (o, entered, release) = overlap(2, true);
    let p = fast(o.clone()).max_export_batch_size(10).build().unwrap();
    for i in 0..25 {
        p.on_end(span(i));
    }
    entered.recv_timeout(Duration::from_secs(5)).unwrap();
    let t = Instant::now();
    match p.force_flush(Instant::now() + Duration::from_millis(200)) {
        Err(ExportError::NotExported { count, .. }) => assert_eq!(count, 10),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(o.exported.load(Ordering::SeqCst), 15);
    let t = Instant::now();
    match p.shutdown(Instant::now() + Duration::from_millis(200)) {
        Err(ExportError::NotExported { count, .. }) => assert_eq!(count, 10),
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let s = p.stats();
    assert_eq!((s.exported, s.dropped_shutdown), (15, 10));
    assert_accounted(&s);
    // The hung call returns at last: its spans are not counted twice.
    drop(release);
    std::thread::sleep(Duration::from_millis(50));
    let s = p.stats();
    assert_eq!(s.exported, 15);
    assert_accounted(&s);
}

/// Keeps the id of every span it is given.
#[derive(Default)]
struct Ids(Mutex<Vec<u64>>);

impl SpanExporter for Ids {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        self.0.lock().unwrap().extend(
            batch
                .iter()
                .map(|s| u64::from_be_bytes(s.span_context.span_id.to_bytes())),
        );
        ExportResult::Success
    }
}

/// Ends `per_thread` spans on each of `threads` threads at once, ids
/// `span(t * per_thread + i)`, with `each` called after every span.
fn from_threads(p: &BatchProcessor, threads: u64, per_thread: u64, each: impl Fn(u64) + Sync) {
    std::thread::scope(|scope| {
        for t in 0..threads {
            let each = &each;
            scope.spawn(move || {
                for i in 0..per_thread {
                    p.on_end(span(t * per_thread + i));
                    each(i);
                }
            });
        }
    });
}

#[test]
fn spans_from_many_threads_are_exported_once_each_and_flush_takes_every_thread_s() {
    // The timer never fires: only full segments and the flush export. Each
    // thread leaves a part-filled segment behind, which the flush must find.
    let e = Arc::new(Ids::default());
    let p = BatchProcessor::builder_shared(e.clone())
        .scheduled_delay(Duration::from_secs(3600))
        .max_export_batch_size(64)
        .build()
        .unwrap();
    let (threads, per_thread) = (8, 5_003);
    from_threads(&p, threads, per_thread, |_| {});
    p.force_flush(secs(10)).unwrap();
    let mut ids = e.0.lock().unwrap().clone();
    let total = threads * per_thread;
    assert_eq!(ids.len() as u64, total, "every span exported by the flush");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len() as u64, total, "none twice");
    assert_eq!(ids.first().copied(), Some(1));
    assert_eq!(ids.last().copied(), Some(total));
    let s = p.stats();
    assert_eq!((s.received, s.exported, s.queued), (total, total, 0));
    assert_accounted(&s);
    p.shutdown(secs(10)).unwrap();
}

#[test]
fn many_threads_never_queue_more_than_the_bound_and_drops_are_exact() {
    let (p, release) = blocked_with_100_in_flight();
    let most = AtomicU64::new(0);
    from_threads(&p, 4, 20_000, |i| {
        if i % 97 == 0 {
            most.fetch_max(p.stats().queued, Ordering::Relaxed);
        }
    });
    let s = p.stats();
    assert!(s.queued <= 1000, "{s:?}");
    assert!(most.load(Ordering::Relaxed) <= 1000);
    // Room a thread reserved and did not use is not free to the others,
    // so a few more may be dropped than with one thread, never many more.
    assert!(s.queued >= 1000 - 4 * 64, "{s:?}");
    assert_eq!(s.received, 80_100);
    assert_eq!(s.dropped_queue_full, 80_000 - s.queued);
    release_all(release);
    match p.shutdown(secs(10)) {
        Err(e @ ExportError::NotExported { count, lost, .. }) => {
            assert_eq!(count, s.dropped_queue_full);
            assert_eq!(lost.queue_full, count);
            // Lost only to a full queue: the sentence says so.
            assert_eq!(
                e.to_string(),
                format!(
                    "{count} span(s) were not exported: {count} dropped because the queue was full"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    let end = p.stats();
    assert_eq!(end.exported, 100 + s.queued);
    assert_accounted(&end);
}

#[test]
fn spans_ending_while_shutdown_runs_are_exported_or_counted() {
    for _ in 0..20 {
        let e = Arc::new(Ids::default());
        let p = fast(e.clone()).max_export_batch_size(32).build().unwrap();
        let ended = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let (p, ended) = (&p, &ended);
                scope.spawn(move || {
                    for i in 0..3_000 {
                        p.on_end(span(t * 3_000 + i));
                        ended.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
            while ended.load(Ordering::Relaxed) < 2_000 {
                std::thread::yield_now();
            }
            let _ = p.shutdown(secs(10));
        });
        let s = p.stats();
        assert_eq!(s.received, 12_000);
        assert_accounted(&s);
        let mut ids = e.0.lock().unwrap().clone();
        assert_eq!(ids.len() as u64, s.exported);
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len() as u64, s.exported, "none twice");
    }
}

#[test]
fn a_server_delay_too_long_for_an_instant_gives_up_the_batch_without_a_panic() {
    // Retry-After: 18446744073709551615, or gRPC RetryInfo with i64::MAX
    // seconds, as the exporters parse them.
    for after in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        Duration::from_secs(i64::MAX as u64),
    ] {
        let exp = Scripted::new(vec![retry(Some(after))]);
        let p = fast(exp.clone()).build().unwrap();
        for i in 0..64 {
            p.on_end(span(i));
        }
        let err = p.force_flush(secs(5)).unwrap_err();
        assert!(
            err.to_string().contains("would pass the export deadline"),
            "{err}"
        );
        // The worker is alive: later spans are exported.
        for i in 0..4 {
            p.on_end(span(i));
        }
        p.force_flush(secs(5)).unwrap();
        let s = p.stats();
        assert_eq!((s.failed, s.exported), (64, 4));
        let _ = p.shutdown(secs(5));
        assert_accounted(&p.stats());
    }
}

#[test]
fn flush_and_shutdown_take_deadlines_of_any_length() {
    let p = fast(Arc::new(Count::default())).build().unwrap();
    p.on_end(span(0));
    p.force_flush(prela_core::deadline_in(Duration::MAX))
        .unwrap();
    p.shutdown(prela_core::deadline_in(Duration::MAX)).unwrap();
    assert_accounted(&p.stats());
}

/// A panic payload whose drop panics again: the batch worker catches the
/// exporter's panic, then drops the payload, outside any catch. This is
/// how a hostile exporter kills the worker loop itself.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        panic!("the payload's drop panicked");
    }
}

struct Kills;

impl SpanExporter for Kills {
    fn export(&self, _: &[SpanData]) -> ExportResult {
        std::panic::panic_any(Bomb)
    }
}

#[test]
fn a_worker_that_dies_is_reported_and_its_spans_are_counted_failed() {
    let p = fast(Arc::new(Kills)).build().unwrap();
    for i in 0..64 {
        p.on_end(span(i));
    }
    let err = p.force_flush(secs(5)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("export worker stopped after a panic"),
        "{text}"
    );
    // Every later span is dropped, and counted.
    for i in 0..10 {
        p.on_end(span(i));
    }
    let s = p.stats();
    assert_eq!(s.failed, 64, "{s:?}");
    assert_eq!(s.dropped_shutdown, 10, "{s:?}");
    assert_accounted(&s);
    let err = p.shutdown(secs(5)).unwrap_err();
    assert!(
        matches!(err, ExportError::NotExported { count: 74, .. }),
        "{err:#?}"
    );
    assert_accounted(&p.stats());
}
