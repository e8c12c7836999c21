//! [`BatchProcessor`]: a bounded queue and one worker thread per processor
//! (plus helper threads when the exporter takes concurrent calls).

use std::collections::VecDeque;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use prela_core::config::{ConfigError, parse_usize};
use prela_core::{ExportError, ExportResult, Lost, SpanData, SpanExporter, SpanProcessor};

use crate::handoff;
use crate::redact::RedactionRules;
use crate::stats::{Counters, ProcessorStats};

/// Batch processor settings. Defaults follow the OpenTelemetry batch span
/// processor, plus the retry policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchConfig {
    /// Most spans waiting in the queue (default 8192,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`). A span ended when it is full is dropped
    /// and counted. Memory is used only for spans actually queued: about
    /// 0.8 KB for a span with six attributes and an event, so a full
    /// default queue holds about 6.5 MB.
    ///
    /// The default is four times OpenTelemetry's 2048 because a span costs
    /// about 0.3 µs here: one thread at full speed fills 2048 slots in under
    /// a millisecond, and on a virtual machine a parked worker can take
    /// that long to be woken (its idle vCPU must be rescheduled by the
    /// host). 8192 rides that out (the measurements are in the history of
    /// `docs/performance.md`, "Batch queue").
    pub max_queue_size: usize,
    /// Most spans per export call (default 512,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`); at most `max_queue_size`.
    pub max_export_batch_size: usize,
    /// Longest a span waits before its batch is exported (default 5 s,
    /// `OTEL_BSP_SCHEDULE_DELAY` in ms).
    pub scheduled_delay: Duration,
    /// Time budget for exporting one batch, retries included (default 30 s,
    /// `OTEL_BSP_EXPORT_TIMEOUT` in ms).
    pub export_timeout: Duration,
    /// First retry delay before jitter (default 100 ms).
    pub initial_backoff: Duration,
    /// Longest retry delay before jitter (default 5 s).
    pub max_backoff: Duration,
    /// Most retries per batch after the first attempt (default 5).
    pub max_retries: u32,
    /// Most export calls running at once (`OTEL_BSP_MAX_CONCURRENT_EXPORTS`).
    /// `None` (the default) takes the exporter's
    /// [`SpanExporter::max_concurrent_exports`]: 1 for the console, file and
    /// cloud exporters, 2 for OTLP. Above 1, the worker hands full batches
    /// to helper threads (started when first needed) and keeps taking spans
    /// off the queue while they export; batches may then arrive out of
    /// order. At most this many batches are held beyond the queue.
    pub max_concurrent_exports: Option<usize>,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 8192,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            max_retries: 5,
            max_concurrent_exports: None,
        }
    }
}

impl BatchConfig {
    /// Defaults overridden by the `OTEL_BSP_*` variables of the process.
    pub fn from_env() -> Result<Self, ConfigError> {
        prela_core::config::check_environment()?;
        Self::from_lookup(&prela_core::config::env_var)
    }

    /// Defaults overridden by `OTEL_BSP_SCHEDULE_DELAY`,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`,
    /// `OTEL_BSP_EXPORT_TIMEOUT` and `OTEL_BSP_MAX_CONCURRENT_EXPORTS` as
    /// `lookup` returns them.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut c = BatchConfig::default();
        let get = |name: &str| -> Result<Option<usize>, ConfigError> {
            match lookup(name).filter(|v| !v.trim().is_empty()) {
                Some(v) => parse_usize(name, &v).map(Some),
                None => Ok(None),
            }
        };
        let positive = |name: &str, v: usize| {
            if v == 0 {
                Err(ConfigError::new(name, "0", "a positive integer"))
            } else {
                Ok(v)
            }
        };
        if let Some(ms) = get("OTEL_BSP_SCHEDULE_DELAY")? {
            c.scheduled_delay = Duration::from_millis(ms as u64);
        }
        if let Some(ms) = get("OTEL_BSP_EXPORT_TIMEOUT")? {
            c.export_timeout =
                Duration::from_millis(positive("OTEL_BSP_EXPORT_TIMEOUT", ms)? as u64);
        }
        if let Some(n) = get("OTEL_BSP_MAX_CONCURRENT_EXPORTS")? {
            c.max_concurrent_exports = Some(positive("OTEL_BSP_MAX_CONCURRENT_EXPORTS", n)?);
        }
        if let Some(n) = get("OTEL_BSP_MAX_QUEUE_SIZE")? {
            c.max_queue_size = positive("OTEL_BSP_MAX_QUEUE_SIZE", n)?;
        }
        if let Some(n) = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")? {
            c.max_export_batch_size = positive("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", n)?;
            if n > c.max_queue_size {
                return Err(ConfigError::new(
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                    n.to_string(),
                    format!("at most the queue size ({})", c.max_queue_size),
                ));
            }
        } else {
            c.max_export_batch_size = c.max_export_batch_size.min(c.max_queue_size);
        }
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let zero = |name: &str| Err(ConfigError::new(name, "0", "a positive value"));
        if self.max_queue_size == 0 {
            return zero("max_queue_size");
        }
        if self.max_export_batch_size == 0 {
            return zero("max_export_batch_size");
        }
        if self.export_timeout.is_zero() {
            return zero("export_timeout");
        }
        if self.max_concurrent_exports == Some(0) {
            return zero("max_concurrent_exports");
        }
        if self.max_export_batch_size > self.max_queue_size {
            return Err(ConfigError::new(
                "max_export_batch_size",
                self.max_export_batch_size.to_string(),
                format!("at most max_queue_size ({})", self.max_queue_size),
            ));
        }
        Ok(())
    }
}

/// Why a batch processor could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum BatchError {
    /// A setting is invalid.
    Config(ConfigError),
    /// The worker thread could not be started.
    Spawn(std::io::Error),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Config(e) => e.fmt(f),
            BatchError::Spawn(e) => write!(f, "could not start the batch export thread: {e}"),
        }
    }
}

impl std::error::Error for BatchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BatchError::Config(e) => Some(e),
            BatchError::Spawn(e) => Some(e),
        }
    }
}

impl From<ConfigError> for BatchError {
    fn from(e: ConfigError) -> Self {
        BatchError::Config(e)
    }
}

/// Flush and shutdown requests for the worker. Spans do not travel on this
/// channel: they go into the [`Queue`].
enum Msg {
    Flush {
        deadline: Instant,
        ack: Sender<Result<(), ExportError>>,
    },
    Shutdown {
        deadline: Instant,
        ack: Sender<Result<(), ExportError>>,
    },
}

/// The queue: spans in segments of [`Shared::segment`] spans. A span goes
/// into the open segment of its thread's [`Lane`], under that lane's lock;
/// a full segment moves to this shared part, whose lock is taken once per
/// segment and once per [`Shared::reserve`] spans, never per span.
///
/// A span is moved once on its way in (into the open segment) and never
/// again: the worker takes whole segments, and a segment of a full batch's
/// size is the batch the exporter gets. Exported segments come back as
/// spares with their spans still in them, and the thread whose lane reuses
/// one empties it ([`prela_core::pool::recycle_here`]), keeping the spans'
/// vectors and resource references for the spans it starts next: that
/// thread then writes new spans into memory it touched itself, not into
/// lines the worker's core holds, and in steady state nothing is
/// allocated. When fewer than a batch of
/// spans end per `scheduled_delay`, the worker empties the spares itself
/// (see [`Worker::scrub`]), so an idle processor holds no exported span.
///
/// The bound: `taken`, the spans in full segments plus, for every lane, the
/// spans in its open segment and the room it reserved, never exceeds
/// `max_queue_size`. A lane reserves room in small runs, so with one
/// producing thread the bound is exact; with several, room one lane has
/// reserved and not used yet is not free to the others (at most
/// `reserve - 1` spans a lane).
#[derive(Default)]
struct Queue {
    /// Full segments, oldest first.
    full: VecDeque<Segment>,
    /// Spans in `full`.
    full_len: usize,
    /// Segments for lanes to fill, each empty or still holding an exported
    /// batch (emptied by the lane that takes it).
    spare: Vec<Segment>,
    /// The queue bound in use (see above).
    taken: usize,
}

/// Where one group of threads queue their spans. Several threads ending
/// spans at once each lock their own lane (a thread's lane is fixed), so
/// they do not take turns on one lock, nor pull one cache line between
/// cores span after span.
#[derive(Default)]
struct Lane {
    /// The segment being filled.
    open: Segment,
    /// Room reserved from the queue bound and not used yet.
    room: usize,
    /// Spans ever queued through this lane.
    accepted: u64,
    /// Set when the worker has stopped: later spans are dropped and
    /// counted.
    closed: bool,
}

/// Spans of a queue segment or a batch, and whether each of them was plain
/// ([`prela_core::pool::is_plain`]) as it reached its lane. The lane that
/// reuses a plain segment empties its spans' vectors without reading what
/// they hold: by then that memory has gone cold, or another core wrote it,
/// and the read would miss the cache for every span.
struct Segment {
    spans: Vec<SpanData>,
    /// `true` when every span in `spans` is plain; an empty segment is.
    plain: bool,
}

impl Default for Segment {
    fn default() -> Self {
        Segment::with_capacity(0)
    }
}

impl Segment {
    /// An empty segment (so a plain one) with room for `n` spans.
    fn with_capacity(n: usize) -> Self {
        Segment {
            spans: Vec::with_capacity(n),
            plain: true,
        }
    }

    fn len(&self) -> usize {
        self.spans.len()
    }

    fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Empties the spans on this thread, which starts spans: their vectors
    /// go to its own pool (see [`Shared::refill`]).
    fn recycle_here(&mut self) {
        prela_core::pool::recycle_here(&mut self.spans, self.plain);
        self.plain = true;
    }

    /// Empties the spans here, on the worker (see [`Worker::scrub`]).
    fn recycle_all(&mut self) {
        prela_core::pool::recycle_all(&mut self.spans, self.plain);
        self.plain = true;
    }
}

/// A lane on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct PaddedLane(Mutex<Lane>);

impl PaddedLane {
    /// The lane, locked (poisoning ignored, as for the queue).
    fn lock(&self) -> MutexGuard<'_, Lane> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Most lanes a processor has.
const MAX_LANES: usize = 8;

/// Most spans a lane reserves at once.
const RESERVE: usize = 64;

/// Spare segments kept for reuse, besides one per lane.
const SPARE_SEGMENTS: usize = 2;

/// A worker whose exports are cheap ([`CHEAP_EXPORT`]) and that was woken
/// sooner than this after it parked parks next for at most this long, to
/// be woken before that only by [`Shared::wake_at`] spans: batches are
/// coming fast, and taking several per wake-up saves a context switch for
/// each. Otherwise it parks until the delay, woken by each full segment
/// (one batch at the default settings), so a trickle of batches is
/// exported as each fills.
const QUICK_PARK: Duration = Duration::from_millis(1);

/// An export on the worker that took less than this costs about what the
/// wake-ups around it do, and a worker that waits for a few batches
/// catches up at once. A slower one (any network export) is woken for
/// each batch: it may be what holds the queue back, and every moment it
/// waits is throughput lost.
const CHEAP_EXPORT: Duration = Duration::from_micros(50);

struct Shared {
    exporter: Arc<dyn SpanExporter>,
    config: BatchConfig,
    counters: Counters,
    queue: Mutex<Queue>,
    lanes: Box<[PaddedLane]>,
    /// `Queue::taken` as of its last change, read without the lock.
    taken: AtomicUsize,
    /// Spans a lane reserves at once: [`RESERVE`], or the segment if
    /// smaller.
    reserve: usize,
    /// Spare segments kept for reuse.
    spare_segments: usize,
    /// Spans per queue segment: a quarter of the queue at most, and a whole
    /// divisor of the batch size, so that the worker wakes while most of the
    /// queue is free (three quarters with one producing thread, a quarter
    /// at least with many), and full segments make whole batches (one
    /// segment per batch at the default settings).
    segment: usize,
    /// Spans a batch holds before it is exported: the most whole segments
    /// that fit in `max_export_batch_size`.
    batch_full: usize,
    /// Spans in full segments that wake the worker from a quick park
    /// (see [`wake_at`]).
    wake_at: usize,
    /// Spans in full segments that wake the parked worker now: set by the
    /// worker before it parks (see [`QUICK_PARK`]).
    wake_on: AtomicUsize,
    /// Set while the worker is parked, waiting for [`Shared::wake_on`]
    /// spans in full segments, a control message or its timer. Producers
    /// wake it only then, and only as they publish a segment, so a span
    /// costs no wake-up (no syscall).
    sleeping: AtomicBool,
    shut_down: AtomicBool,
    /// When the worker entered the current export call or retry backoff, in
    /// ns since `origin` plus one; 0 when it is not in one.
    busy_since: AtomicU64,
    origin: Instant,
    /// Set when a shutdown deadline passed: the worker's later outcomes are
    /// no longer counted, as its spans were already counted as dropped.
    abandoned: AtomicBool,
    /// Set when the worker thread died of a panic outside the exporter
    /// call: every span it had not settled was counted as failed, and
    /// flush and shutdown report that.
    dead: AtomicBool,
    /// Spans accepted into the queue and lost at shutdown: those dropped
    /// when the queue closed (they ended after the worker's last export)
    /// or, once a deadline passed, every span not yet settled (which
    /// includes the former). Kept apart from the drop counters, whose
    /// spans never entered the queue: `received` counts these once, as
    /// accepted. Written under `settle`.
    lost_from_queue: AtomicU64,
    /// Serialises outcome accounting against abandonment; taken once per
    /// batch, never per span. Holds the losses reported so far.
    settle: Mutex<Lost>,
    /// Applied by the worker as it takes spans off the queue, so producers
    /// pay nothing for it.
    redaction: Option<RedactionRules>,
}

/// An export call or backoff longer than this means the backend, not the
/// CPU, holds the worker back.
const STUCK_AFTER: Duration = Duration::from_millis(5);

impl Shared {
    /// The queue; a panic while it was held (there is none in the code that
    /// holds it) would not leave it inconsistent, so poisoning is ignored.
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// This thread's lane: threads are numbered in the order they first
    /// start or end a span ([`prela_core::thread::number`]), so a few busy
    /// threads get lanes of their own.
    fn own_lane(&self) -> &PaddedLane {
        // Never out of bounds: there is at least one lane (see `lanes`).
        &self.lanes[prela_core::thread::number() % self.lanes.len().max(1)]
    }

    /// Gives `lane` an open segment if it has none, and reserves room for
    /// it if it has none left; `false` when the queue is full.
    fn refill(&self, lane: &mut Lane) -> bool {
        if lane.open.spans.capacity() == 0 {
            let spare = self.queue().spare.pop();
            lane.open = match spare {
                // Once a segment, on this thread, outside the queue's lock:
                // the exported spans it still holds give their vectors to
                // the spans this thread starts next.
                Some(mut segment) => {
                    segment.recycle_here();
                    segment
                }
                None => Segment::with_capacity(self.segment),
            };
        }
        let mut q = self.queue();
        if lane.room == 0 {
            let n = self
                .reserve
                .min(self.config.max_queue_size.saturating_sub(q.taken));
            let taken = q.taken + n;
            self.set_taken(&mut q, taken);
            lane.room = n;
        }
        lane.room > 0
    }

    /// Sets the queue bound in use, and its copy read without the lock.
    fn set_taken(&self, q: &mut Queue, taken: usize) {
        q.taken = taken;
        self.taken.store(taken, Ordering::Relaxed);
    }

    /// Gives `n` spans' worth of the bound back (spans that left the
    /// queue, or room a lane reserved and did not use).
    fn give_back(&self, q: &mut Queue, n: usize) {
        self.set_taken(q, q.taken.saturating_sub(n));
    }

    /// Moves segments from `from` to the queue's spares while it has fewer
    /// than `spare_segments`.
    fn restock(&self, q: &mut Queue, from: &mut Vec<Segment>) {
        while q.spare.len() < self.spare_segments {
            match from.pop() {
                Some(v) => q.spare.push(v),
                None => break,
            }
        }
    }

    /// Moves the lane's open segment to the full ones; returns the spans
    /// now in full segments.
    fn publish(&self, lane: &mut Lane) -> usize {
        let full = std::mem::take(&mut lane.open);
        let mut q = self.queue();
        q.full_len += full.len();
        q.full.push_back(full);
        q.full_len
    }

    /// Spans queued: in full segments and in every lane.
    fn queued(&self) -> usize {
        // Every lane's lock, then the queue's, held together and taken in
        // the order producers take them: read one at a time, a segment
        // published between two reads was counted twice, in its lane and
        // in the queue. Not on the span path (stats, flush, shutdown).
        let lanes: Vec<_> = self.lanes.iter().map(|l| l.lock()).collect();
        let in_lanes: usize = lanes.iter().map(|l| l.open.len()).sum();
        in_lanes + self.queue().full_len
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Marks the worker as waiting on the exporter (or not).
    fn set_busy(&self, busy: bool) {
        let v = if busy {
            self.now_ns().saturating_add(1)
        } else {
            0
        };
        self.busy_since.store(v, Ordering::Relaxed);
    }

    /// `true` when the worker has been in one export call or backoff for
    /// longer than [`STUCK_AFTER`].
    fn worker_stuck(&self) -> bool {
        let since = self.busy_since.load(Ordering::Relaxed);
        since != 0 && self.now_ns().saturating_sub(since - 1) > STUCK_AFTER.as_nanos() as u64
    }
    /// The worker died of `why`: closes every lane (later spans are dropped
    /// and counted), empties the queue, and counts every span accepted and
    /// not yet settled as failed, so `received = exported + dropped +
    /// failed` still holds. Exports still running on helper threads are no
    /// longer counted.
    #[cold]
    fn worker_died(&self, why: &str) {
        for lane in self.lanes.iter() {
            let mut l = lane.lock();
            l.closed = true;
            l.open = Segment::default();
        }
        {
            let mut q = self.queue();
            q.full.clear();
            q.full_len = 0;
        }
        let Ok(_settle) = self.settle.lock() else {
            return;
        };
        self.abandoned.store(true, Ordering::Release);
        let n = self.unsettled(self.enqueued());
        self.counters.failed.fetch_add(n, Ordering::Relaxed);
        let error = format!(
            "the export worker stopped after a panic ({why}); {n} queued span(s) failed and later spans are dropped"
        );
        tracing::error!(target: "prela", "prela: {error}");
        self.counters.set_last_error(error);
        self.dead.store(true, Ordering::Release);
    }

    /// The worker's answer to a flush or shutdown, by `deadline`; `None`
    /// when the worker died before answering (checked every 20 ms, so a
    /// dead worker does not hold the caller to the deadline).
    fn wait_ack<T>(
        &self,
        done: &Receiver<T>,
        deadline: Instant,
    ) -> Option<Result<T, crossbeam_channel::RecvTimeoutError>> {
        loop {
            let slice = prela_core::export::after(Instant::now(), Duration::from_millis(20));
            match done.recv_deadline(slice.min(deadline)) {
                Ok(v) => return Some(Ok(v)),
                Err(e) if Instant::now() >= deadline => return Some(Err(e)),
                Err(_) if self.dead.load(Ordering::Acquire) => return None,
                Err(_) => {}
            }
        }
    }

    /// What flush and shutdown say once the worker is dead.
    fn dead_error(&self) -> ExportError {
        ExportError::not_exported(self.lost(), self.counters.last_error())
    }

    /// Spans lost so far, by cause, abandoned ones and those dropped at
    /// close included.
    fn lost(&self) -> Lost {
        let mut lost = Lost::default();
        lost.queue_full = self.counters.dropped_queue_full.load(Ordering::Relaxed);
        lost.at_shutdown = self.counters.dropped_shutdown.load(Ordering::Relaxed)
            + self.lost_from_queue.load(Ordering::Relaxed);
        lost.failed = self.counters.failed.load(Ordering::Relaxed);
        lost
    }

    /// Queued spans not yet exported or failed, FIFO: all of the first
    /// `target` spans are settled once `exported + failed >= target`.
    fn unsettled(&self, target: u64) -> u64 {
        let settled = self.counters.exported.load(Ordering::Relaxed)
            + self.counters.failed.load(Ordering::Relaxed);
        target.saturating_sub(settled)
    }

    fn enqueued(&self) -> u64 {
        self.lanes.iter().map(|l| l.lock().accepted).sum()
    }

    /// The outcome of a flush: spans lost since the last report (or, for
    /// shutdown, over the processor's life).
    fn report(&self, lifetime: bool, exporter: Result<(), ExportError>) -> Result<(), ExportError> {
        let Ok(mut reported) = self.settle.lock() else {
            return Err(ExportError::Other("batch processor state poisoned".into()));
        };
        let lost = self.lost();
        let new = if lifetime {
            lost
        } else {
            lost.since(&reported)
        };
        *reported = lost;
        match exporter {
            _ if new.total() > 0 => Err(ExportError::not_exported(new, self.counters.last_error())),
            Err(e) => Err(e),
            Ok(()) => Ok(()),
        }
    }
}

/// Batches spans on a worker thread and exports them with retries, without
/// ever blocking the thread that ends a span. See the crate docs.
pub struct BatchProcessor {
    shared: Arc<Shared>,
    tx: Sender<Msg>,
    worker: Mutex<Option<JoinHandle<()>>>,
    worker_thread: Thread,
}

/// The worker thread's stack: exporters encode and hand bytes to I/O, they
/// do not recurse deeply, and a smaller stack keeps an idle processor's
/// reservation small.
const WORKER_STACK: usize = 1 << 20;

impl fmt::Debug for BatchProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchProcessor")
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Configures a [`BatchProcessor`].
#[must_use]
pub struct BatchProcessorBuilder {
    exporter: Arc<dyn SpanExporter>,
    config: BatchConfig,
    redaction: Option<RedactionRules>,
}

impl fmt::Debug for BatchProcessorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchProcessorBuilder")
            .field("config", &self.config)
            .finish()
    }
}

impl BatchProcessorBuilder {
    /// Replaces every setting.
    pub fn config(mut self, config: BatchConfig) -> Self {
        self.config = config;
        self
    }

    /// See [`BatchConfig::max_queue_size`].
    pub fn max_queue_size(mut self, n: usize) -> Self {
        self.config.max_queue_size = n;
        self
    }

    /// See [`BatchConfig::max_export_batch_size`].
    pub fn max_export_batch_size(mut self, n: usize) -> Self {
        self.config.max_export_batch_size = n;
        self
    }

    /// See [`BatchConfig::scheduled_delay`].
    pub fn scheduled_delay(mut self, d: Duration) -> Self {
        self.config.scheduled_delay = d;
        self
    }

    /// See [`BatchConfig::export_timeout`].
    pub fn export_timeout(mut self, d: Duration) -> Self {
        self.config.export_timeout = d;
        self
    }

    /// The retry policy: first and longest delay (before full jitter), and
    /// the most retries per batch.
    pub fn retry(
        mut self,
        initial_backoff: Duration,
        max_backoff: Duration,
        max_retries: u32,
    ) -> Self {
        self.config.initial_backoff = initial_backoff;
        self.config.max_backoff = max_backoff.max(initial_backoff);
        self.config.max_retries = max_retries;
        self
    }

    /// See [`BatchConfig::max_concurrent_exports`].
    pub fn max_concurrent_exports(mut self, n: usize) -> Self {
        self.config.max_concurrent_exports = Some(n);
        self
    }

    /// Scrubs every span with `rules` on the worker thread, before export
    /// (see [`RedactionRules`]).
    pub fn redaction(mut self, rules: RedactionRules) -> Self {
        self.redaction = Some(rules);
        self
    }

    /// Validates the settings and starts the worker thread.
    pub fn build(self) -> Result<BatchProcessor, BatchError> {
        self.config.validate()?;
        let (tx, rx) = crossbeam_channel::unbounded();
        let (segment, batch_full) = segments(&self.config);
        let lanes = lanes(&self.config, segment);
        let wake_at = wake_at(&self.config, segment, batch_full);
        let shared = Arc::new(Shared {
            exporter: self.exporter,
            counters: Counters::default(),
            queue: Mutex::new(Queue::default()),
            lanes: (0..lanes).map(|_| PaddedLane::default()).collect(),
            taken: AtomicUsize::new(0),
            reserve: RESERVE.min(segment).max(1),
            spare_segments: SPARE_SEGMENTS + lanes,
            config: self.config,
            segment,
            batch_full,
            wake_at,
            wake_on: AtomicUsize::new(1),
            sleeping: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            busy_since: AtomicU64::new(0),
            origin: Instant::now(),
            abandoned: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            lost_from_queue: AtomicU64::new(0),
            settle: Mutex::new(Lost::default()),
            redaction: self.redaction,
        });
        let worker_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("prela-batch-export".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                prela_core::thread::mark_sdk_thread();
                let watch = Arc::clone(&worker_shared);
                // The worker loop itself, not only the exporter call,
                // must not stop telemetry silently.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    Worker::new(worker_shared, rx).run();
                }));
                if let Err(panic) = run {
                    watch.worker_died(&panic_message(panic.as_ref()));
                }
            })
            .map_err(BatchError::Spawn)?;
        Ok(BatchProcessor {
            shared,
            tx,
            worker_thread: handle.thread().clone(),
            worker: Mutex::new(Some(handle)),
        })
    }
}

/// The segment size and the batch fill for `config` (see
/// [`Shared::segment`]).
fn segments(config: &BatchConfig) -> (usize, usize) {
    let batch = config.max_export_batch_size.max(1);
    let quarter = (config.max_queue_size / 4).max(1);
    let segment = batch / batch.div_ceil(quarter);
    (segment, batch / segment * segment)
}

/// Spans in full segments at which a producer wakes the worker from a
/// quick park ([`QUICK_PARK`]): four full batches, or a quarter of the
/// queue if that is less, and one segment at least. Each wake-up is a
/// context switch, and where threads outnumber cores the woken worker
/// preempts a producer on its core; woken for several batches at once,
/// the worker exports them one after another and parks once. At the
/// default settings that is 2,048 spans, with three quarters of the queue
/// still free (open segments take at most half, see [`lanes`]), so it is
/// always reached before the queue is full. Fewer wait at most the quick
/// park's millisecond; a flush or shutdown wakes the worker at once.
fn wake_at(config: &BatchConfig, segment: usize, batch_full: usize) -> usize {
    (4 * batch_full)
        .min(config.max_queue_size / 4)
        .max(segment)
        .max(1)
}

/// Lanes for `config`: two per CPU, at most [`MAX_LANES`], and few enough
/// that the lanes' open segments fill at most half the queue, so the
/// worker always has full segments to wake for well before the queue is
/// full.
fn lanes(config: &BatchConfig, segment: usize) -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let fit = config.max_queue_size / (2 * segment.max(1));
    (2 * cpus).min(MAX_LANES).min(fit).max(1)
}

impl BatchProcessor {
    /// A builder for a processor in front of `exporter`, with the default
    /// settings ([`BatchConfig::default`]).
    pub fn builder(exporter: impl SpanExporter) -> BatchProcessorBuilder {
        Self::builder_shared(Arc::new(exporter))
    }

    /// A builder for a processor in front of a shared exporter.
    pub fn builder_shared(exporter: Arc<dyn SpanExporter>) -> BatchProcessorBuilder {
        BatchProcessorBuilder {
            exporter,
            config: BatchConfig::default(),
            redaction: None,
        }
    }

    /// What happened to the spans so far. Reads atomics only (and, for the
    /// last error text, a mutex written only on failures).
    pub fn stats(&self) -> ProcessorStats {
        let s = &self.shared;
        let (queued, accepted) = (s.queued() as u64, s.enqueued());
        let mut stats = ProcessorStats {
            queued,
            queue_capacity: s.config.max_queue_size as u64,
            bytes_sent: s.exporter.bytes_sent(),
            ..ProcessorStats::default()
        };
        s.counters.fill(&mut stats);
        // Spans dropped straight away never entered the queue; those
        // abandoned at a shutdown deadline or dropped when the queue closed
        // did, and `accepted` has counted them already.
        stats.received = accepted + stats.dropped_queue_full + stats.dropped_shutdown;
        stats.dropped_shutdown += s.lost_from_queue.load(Ordering::Relaxed);
        stats
    }

    /// The settings.
    pub fn config(&self) -> &BatchConfig {
        &self.shared.config
    }

    fn join_worker(&self) {
        if let Ok(mut w) = self.worker.lock() {
            if let Some(h) = w.take() {
                let _ = h.join();
            }
        }
    }
}

impl SpanProcessor for BatchProcessor {
    fn on_end(&self, span: SpanData) {
        self.on_end_from(&mut Some(span));
    }

    fn on_end_from(&self, slot: &mut Option<SpanData>) {
        let s = &*self.shared;
        if slot.is_none() {
            return;
        }
        if s.shut_down.load(Ordering::Acquire) {
            let n = s.counters.dropped_shutdown.fetch_add(1, Ordering::Relaxed);
            s.counters.maybe_report_at(n + 1);
            return;
        }
        let lane = s.own_lane();
        let mut l = lane.lock();
        if l.closed {
            // The worker is gone (it only stops at shutdown).
            drop(l);
            s.counters.dropped_shutdown.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if (l.room == 0 || l.open.spans.capacity() == 0) && !s.refill(&mut l) {
            drop(l);
            let n = s
                .counters
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
            s.counters.maybe_report_at(n + 1);
            return;
        }
        // From the tracer's slot straight into the segment: the span's
        // one copy on this thread (a push that may grow would first copy
        // the 240 bytes to the stack).
        let Some(span) = slot.take() else {
            return;
        };
        // Asked while the span's attributes are in this core's cache; once
        // one span is not plain, its segment is not, and no more are asked.
        l.open.plain = l.open.plain && prela_core::pool::is_plain(&span);
        prela_core::pool::push(&mut l.open.spans, span);
        l.room -= 1;
        l.accepted += 1;
        if l.open.len() >= s.segment {
            let full = s.publish(&mut l);
            drop(l);
            // Enough full segments, and the worker sleeps: wake it (once;
            // the swap makes sure only one producer pays for the syscall).
            if s.sleeping.load(Ordering::SeqCst)
                && full >= s.wake_on.load(Ordering::Relaxed)
                && s.sleeping.swap(false, Ordering::SeqCst)
            {
                self.worker_thread.unpark();
            }
        } else {
            drop(l);
        }
        // More than half full while the worker is not stuck on the backend:
        // it is short of CPU (more busy threads than cores). Give it this
        // thread's time slice once. Never a wait: with a slow or dead
        // backend nothing yields, and a full queue drops at full speed.
        if s.taken.load(Ordering::Relaxed) >= s.config.max_queue_size / 2 && !s.worker_stuck() {
            std::thread::yield_now();
        }
    }

    /// Exports everything queued before the call. `Ok` only if all of it was
    /// exported and nothing was lost since the previous flush; otherwise
    /// [`ExportError::NotExported`] with the count. Returns by `deadline`
    /// whatever the exporter does.
    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        let s = &*self.shared;
        if s.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        if s.dead.load(Ordering::Acquire) {
            return Err(s.dead_error());
        }
        let target = s.enqueued();
        let (ack, done) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Flush { deadline, ack }).is_err() {
            return Err(if s.dead.load(Ordering::Acquire) {
                s.dead_error()
            } else {
                ExportError::Shutdown
            });
        }
        self.worker_thread.unpark();
        match s.wait_ack(&done, deadline) {
            Some(Ok(result)) => result,
            None => Err(s.dead_error()),
            Some(Err(_)) => {
                let reported = s.settle.lock().map(|r| *r).unwrap_or_default();
                let mut lost = s.lost().since(&reported);
                lost.unsettled = s.unsettled(target);
                if lost.total() == 0 {
                    // Every span is out; the exporter's own flush ran late.
                    return Err(ExportError::Timeout);
                }
                Err(ExportError::not_exported(lost, s.counters.last_error()))
            }
        }
    }

    /// Exports what is queued, shuts the exporter down, and stops the worker,
    /// by `deadline`. `Ok` only if every span this processor received was
    /// exported; otherwise [`ExportError::NotExported`] with the count of
    /// spans lost over its life. Spans still queued or in flight at the
    /// deadline are counted as dropped. Calling it again returns `Ok`.
    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        let s = &*self.shared;
        if s.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if s.dead.load(Ordering::Acquire) {
            self.join_worker();
            return Err(s.dead_error());
        }
        let (ack, done) = crossbeam_channel::bounded(1);
        if self.tx.send(Msg::Shutdown { deadline, ack }).is_err() {
            return Err(if s.dead.load(Ordering::Acquire) {
                s.dead_error()
            } else {
                ExportError::Shutdown
            });
        }
        self.worker_thread.unpark();
        match s.wait_ack(&done, deadline) {
            Some(Ok(result)) => {
                self.join_worker();
                result
            }
            None => {
                self.join_worker();
                Err(s.dead_error())
            }
            Some(Err(_)) => {
                let outstanding = match s.settle.lock() {
                    Ok(_guard) => {
                        s.abandoned.store(true, Ordering::Release);
                        let n = s.unsettled(s.enqueued());
                        s.lost_from_queue.store(n, Ordering::Relaxed);
                        n
                    }
                    Err(_) => 0,
                };
                let lost = s.lost();
                if lost.total() == 0 {
                    // Every span is out; the exporter's own shutdown ran late.
                    return Err(ExportError::Timeout);
                }
                if outstanding > 0 {
                    s.counters.set_last_error(format!(
                        "shutdown deadline passed with {outstanding} span(s) queued or in flight"
                    ));
                }
                Err(ExportError::not_exported(lost, s.counters.last_error()))
            }
        }
    }
}

impl Drop for BatchProcessor {
    fn drop(&mut self) {
        if !self.shared.shut_down.load(Ordering::Acquire) {
            if let Err(e) = self.shutdown(Instant::now() + Duration::from_secs(5)) {
                tracing::warn!(target: "prela", "prela: batch processor dropped without shutdown: {e}");
            }
        }
    }
}

struct Worker {
    shared: Arc<Shared>,
    rx: Receiver<Msg>,
    batch: Segment,
    rng: u64,
    /// Export calls allowed at once: this thread's plus the helpers'.
    concurrency: usize,
    /// Full batches for the helper threads, which share the receiver.
    jobs_tx: handoff::Sender<Segment>,
    jobs_rx: handoff::Receiver<Segment>,
    /// Batches the helpers have exported, for reuse as spare segments.
    done_tx: handoff::Sender<Segment>,
    done_rx: handoff::Receiver<Segment>,
    /// Helper threads started so far (at most `concurrency - 1`).
    helpers: usize,
    /// Batches on the helpers now.
    in_flight: usize,
    /// When the previous batch was dispatched.
    last_dispatch: Option<Instant>,
    /// How long the last batch exported on this thread took; `None` until
    /// one was.
    last_export: Option<Duration>,
    /// How long the worker was parked last time; zero if it did not park.
    parked: Duration,
    /// Exported segments (their spans still in them), handed back to the
    /// queue as spares.
    spares: Vec<Segment>,
}

/// The text of a panic's payload.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

/// A xorshift seed that differs between processes and threads.
fn seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish() | 1
}

impl Worker {
    fn new(shared: Arc<Shared>, rx: Receiver<Msg>) -> Self {
        let concurrency = shared
            .config
            .max_concurrent_exports
            .unwrap_or_else(|| shared.exporter.max_concurrent_exports())
            .max(1);
        let (jobs_tx, jobs_rx) = handoff::channel();
        let (done_tx, done_rx) = handoff::channel();
        Worker {
            shared,
            rx,
            batch: Segment::default(),
            rng: seed(),
            concurrency,
            jobs_tx,
            jobs_rx,
            done_tx,
            done_rx,
            helpers: 0,
            in_flight: 0,
            last_dispatch: None,
            last_export: None,
            parked: Duration::MAX,
            spares: Vec::new(),
        }
    }

    fn run(mut self) {
        let delay = self.shared.config.scheduled_delay;
        let mut next = prela_core::deadline_in(delay);
        loop {
            match self.rx.try_recv() {
                Ok(msg) => {
                    if self.control(msg) {
                        return;
                    }
                    next = prela_core::deadline_in(delay);
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    let left = self.shared.queued();
                    self.export_queued(left, None);
                    self.close();
                    return;
                }
                Err(TryRecvError::Empty) => {}
            }
            self.fill(false);
            if self.batch.len() >= self.shared.batch_full {
                self.dispatch();
                next = prela_core::deadline_in(delay);
                continue;
            }
            let now = Instant::now();
            if now >= next {
                self.scrub();
                self.fill(true);
                self.dispatch();
                next = prela_core::deadline_in(delay);
                continue;
            }
            self.sleep_until(next - now);
        }
    }

    /// Parks, unless a full segment is waiting, until a producer says a
    /// segment is full (or, after a quick wake-up when exports are cheap,
    /// that [`Shared::wake_at`] spans are, for at most [`QUICK_PARK`]), a
    /// flush or shutdown arrives (their senders unpark the worker after
    /// sending), or `wait` passes. `unpark` before `park` makes `park`
    /// return at once, so no wake-up is lost between the check and the
    /// park; the queue's lock orders this thread's `sleeping` flag against
    /// a producer's push.
    fn sleep_until(&mut self, wait: Duration) {
        let s = &*self.shared;
        let cheap = self.last_export.is_some_and(|d| d < CHEAP_EXPORT);
        let (wake_on, wait) = if self.parked < QUICK_PARK && cheap {
            // Less what this worker's batch already holds.
            let spans = s.wake_at.saturating_sub(self.batch.len());
            (spans.max(1), wait.min(QUICK_PARK))
        } else {
            // Any full segment: where a batch is several segments, taking
            // them into the batch is what gives their room back to the
            // queue, and a batch's worth may not fit beside the lanes'
            // open segments.
            (1, wait)
        };
        s.wake_on.store(wake_on, Ordering::Relaxed);
        s.sleeping.store(true, Ordering::SeqCst);
        let ready = !s.queue().full.is_empty();
        self.parked = if ready {
            Duration::ZERO
        } else {
            let t = Instant::now();
            std::thread::park_timeout(wait);
            t.elapsed()
        };
        s.sleeping.store(false, Ordering::SeqCst);
    }

    /// Moves queued spans into the batch a segment at a time, while a whole
    /// segment fits; with `partial`, the lanes' open segments too once no
    /// full one is left. Returns the spans moved.
    fn fill(&mut self, partial: bool) -> usize {
        let s = Arc::clone(&self.shared);
        let max = s.config.max_export_batch_size;
        let mut moved = 0;
        while self.batch.len() + s.segment <= max {
            let segment = {
                let mut q = s.queue();
                let Some(segment) = q.full.pop_front() else {
                    break;
                };
                q.full_len = q.full_len.saturating_sub(segment.len());
                s.give_back(&mut q, segment.len());
                s.restock(&mut q, &mut self.spares);
                segment
            };
            moved += segment.len();
            self.absorb(segment);
        }
        if !partial {
            return moved;
        }
        for lane in s.lanes.iter() {
            if self.batch.len() + s.segment > max {
                break;
            }
            let segment = {
                let mut l = lane.lock();
                if l.open.is_empty() {
                    continue;
                }
                let segment = std::mem::take(&mut l.open);
                // The lane's unused room goes back too.
                let room = std::mem::take(&mut l.room);
                s.give_back(&mut s.queue(), segment.len() + room);
                segment
            };
            moved += segment.len();
            self.absorb(segment);
        }
        moved
    }

    /// Empties the spare segments and the spans they still hold, here on
    /// the worker. Called when `scheduled_delay` passed without a full
    /// batch: under load the lanes empty the spares as they reuse them, but
    /// a spare no lane takes would otherwise keep its exported spans (their
    /// strings, their resource) for as long as the load stays low.
    fn scrub(&mut self) {
        for segment in &mut self.spares {
            segment.recycle_all();
        }
        let s = Arc::clone(&self.shared);
        // Taken out and put back, so producers never wait on the emptying.
        let mut spares = std::mem::take(&mut s.queue().spare);
        for segment in &mut spares {
            segment.recycle_all();
        }
        s.restock(&mut s.queue(), &mut spares);
    }

    /// Adds a segment to the batch: it becomes the batch when the batch is
    /// empty (no span is moved), otherwise its spans are appended.
    fn absorb(&mut self, mut segment: Segment) {
        if self.shared.abandoned.load(Ordering::Acquire) {
            // Already counted as dropped by the shutdown that gave up.
            segment.recycle_all();
            self.keep_spare(segment);
            return;
        }
        if let Some(rules) = &self.shared.redaction {
            for span in &mut segment.spans {
                rules.apply(span);
            }
            // A redacted value may own its text.
            segment.plain = false;
        }
        if self.batch.is_empty() {
            let old = std::mem::replace(&mut self.batch, segment);
            self.keep_spare(old);
        } else {
            self.batch.spans.append(&mut segment.spans);
            self.batch.plain = self.batch.plain && segment.plain;
            segment.plain = true;
            self.keep_spare(segment);
        }
    }

    /// Keeps a segment (empty, or holding an exported batch) for a lane to
    /// reuse, while fewer than `spare_segments` are kept; otherwise its
    /// spans are emptied here and the memory freed.
    fn keep_spare(&mut self, mut v: Segment) {
        if v.spans.capacity() >= self.shared.segment
            && self.spares.len() < self.shared.spare_segments
        {
            self.spares.push(v);
        } else {
            v.recycle_all();
        }
    }

    /// Exports the batch: on a helper thread when one may take it and the
    /// batches come fast enough to need one (so this thread goes back to
    /// the queue at once), otherwise here.
    ///
    /// A helper is worth its wake-ups only when another batch will be
    /// ready before this one is exported: one is already waiting, or the
    /// previous batch came less than twice an export's time ago. At a
    /// steady trickle (50,000 spans/s: a batch every 10 ms, exported in a
    /// few hundred microseconds) this thread would only sleep meanwhile,
    /// and handing the batch over cost ~2.6 context switches a batch.
    fn dispatch(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        while let Some(batch) = self.done_rx.try_recv() {
            self.returned(batch);
        }
        let now = Instant::now();
        let since = self
            .last_dispatch
            .replace(now)
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        // The queue's lock only when a helper may take the batch at all.
        if self.in_flight + 1 < self.concurrency
            && (since < self.last_export.unwrap_or_default().saturating_mul(2)
                || !self.shared.queue().full.is_empty())
            && self.start_helper()
        {
            let batch = std::mem::take(&mut self.batch);
            match self.jobs_tx.send(batch) {
                Ok(()) => {
                    self.in_flight += 1;
                    return;
                }
                // Unreachable while `jobs_rx` lives here; export inline.
                Err(batch) => self.batch = batch,
            }
        }
        self.export(None);
        self.last_export = Some(now.elapsed());
    }

    /// Makes sure a helper is free to take a batch, starting one if every
    /// helper is busy; `false` if none could be started.
    fn start_helper(&mut self) -> bool {
        if self.in_flight < self.helpers {
            return true;
        }
        let shared = Arc::clone(&self.shared);
        let jobs = self.jobs_rx.clone();
        let done = self.done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("prela-batch-export".into())
            .stack_size(WORKER_STACK)
            .spawn(move || {
                prela_core::thread::mark_sdk_thread();
                let mut rng = seed();
                for batch in jobs {
                    export_batch(&shared, &batch.spans, None, &mut rng, false);
                    if done.send(batch).is_err() {
                        return;
                    }
                }
            });
        let started = spawned.is_ok();
        if started {
            self.helpers += 1;
        }
        started
    }

    fn returned(&mut self, batch: Segment) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.keep_spare(batch);
    }

    /// Waits, at most until `deadline`, for the helpers' exports to finish;
    /// `true` if they all did.
    fn wait_helpers(&mut self, deadline: Instant) -> bool {
        while self.in_flight > 0 {
            match self.done_rx.recv_deadline(deadline) {
                Ok(batch) => self.returned(batch),
                Err(_) => return false,
            }
        }
        true
    }

    /// Exports, on this thread, the batch and at least the first `count`
    /// spans of the queue (whole segments, so a few more may go with them).
    fn export_queued(&mut self, count: usize, hurry: Option<Instant>) {
        let mut left = count;
        loop {
            if left > 0 {
                left = left.saturating_sub(self.fill(true));
            }
            if self.batch.is_empty() {
                return;
            }
            self.export(hurry);
        }
    }

    /// Handles a flush or shutdown request; `true` when the worker must
    /// stop. Spans queued before the request are exported first (spans
    /// queued after it may go with them, but the worker does not chase a
    /// queue that keeps filling).
    ///
    /// When helper exports are still running at the deadline, no answer is
    /// sent: the caller then counts the spans that are not settled itself.
    fn control(&mut self, msg: Msg) -> bool {
        let queued = self.shared.queued();
        match msg {
            Msg::Flush { deadline, ack } => {
                self.export_queued(queued, Some(deadline));
                if self.wait_helpers(deadline) {
                    let flushed = self.call_exporter(|e| e.force_flush(deadline));
                    let _ = ack.send(self.shared.report(false, flushed));
                }
                false
            }
            Msg::Shutdown { deadline, ack } => {
                self.export_queued(queued, Some(deadline));
                let settled = self.wait_helpers(deadline);
                self.close();
                let closed = self.call_exporter(|e| e.shutdown(deadline));
                if settled {
                    let _ = ack.send(self.shared.report(true, closed));
                }
                true
            }
        }
    }

    fn call_exporter(
        &self,
        f: impl FnOnce(&dyn SpanExporter) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let exporter = &*self.shared.exporter;
        self.shared.set_busy(true);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(exporter)))
            .unwrap_or_else(|_| Err(ExportError::Other("the exporter panicked".into())));
        self.shared.set_busy(false);
        r
    }

    /// Closes the queue as the worker stops: spans still in it ended after
    /// shutdown began, and they and any later ones are dropped and counted.
    /// Requests that arrive from now on are answered at once.
    fn close(&self) {
        let s = &*self.shared;
        // Each lane is closed under its lock, so a span is either found here
        // or dropped (and counted) by the thread that ends it.
        let mut dropped = 0;
        for lane in s.lanes.iter() {
            let mut l = lane.lock();
            l.closed = true;
            l.room = 0;
            dropped += std::mem::take(&mut l.open).len();
        }
        let full = {
            let mut q = s.queue();
            q.full_len = 0;
            s.set_taken(&mut q, 0);
            std::mem::take(&mut q.full)
        };
        dropped += full.iter().map(Segment::len).sum::<usize>();
        if dropped > 0 {
            // Under `settle`, against abandonment: once abandoned, the
            // count stored then already covers these spans.
            if let Ok(_guard) = s.settle.lock() {
                if !s.abandoned.load(Ordering::Acquire) {
                    s.lost_from_queue
                        .fetch_add(dropped as u64, Ordering::Relaxed);
                }
            }
        }
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Flush { ack, .. } => {
                    let _ = ack.send(Err(ExportError::Shutdown));
                }
                Msg::Shutdown { ack, .. } => {
                    let _ = ack.send(Ok(()));
                }
            }
        }
    }

    /// Exports the batch on this thread, and keeps its segment as a spare.
    fn export(&mut self, hurry: Option<Instant>) {
        export_batch(&self.shared, &self.batch.spans, hurry, &mut self.rng, true);
        let exported = std::mem::take(&mut self.batch);
        self.keep_spare(exported);
    }
}

/// Full jitter: uniform in [0, backoff].
fn jitter(rng: &mut u64, backoff: Duration) -> Duration {
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    let nanos = u64::try_from(backoff.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(if nanos == 0 { 0 } else { *rng % (nanos + 1) })
}

/// Exports `batch` with retries, within the export timeout (and the
/// caller's deadline, for a flush or shutdown), and counts the outcome.
/// The spans stay in `batch`: the caller keeps it as a spare segment.
/// `worker` marks the call on the worker thread, whose time in exports
/// tells producers that the backend is slow.
fn export_batch(
    shared: &Shared,
    batch: &[SpanData],
    hurry: Option<Instant>,
    rng: &mut u64,
    worker: bool,
) {
    if batch.is_empty() {
        return;
    }
    if worker {
        shared.set_busy(true);
    }
    let cfg = &shared.config;
    let start = Instant::now();
    let own = prela_core::export::after(start, cfg.export_timeout);
    let deadline = hurry.map_or(own, |h| h.min(own));
    let mut backoff = cfg.initial_backoff;
    let mut retries = 0u32;
    // Ok(rejected spans) or Err(why the whole batch failed).
    let outcome: Result<(u64, Option<String>), String> = loop {
        let t0 = Instant::now();
        let spans: &[SpanData] = batch;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shared.exporter.export(spans)
        }));
        shared.counters.latency.record(t0.elapsed());
        match result {
            Ok(ExportResult::Success) => break Ok((0, None)),
            Ok(ExportResult::PartialSuccess { rejected, message }) => {
                break Ok((rejected.min(batch.len() as u64), Some(message)));
            }
            Ok(ExportResult::Failure(e)) => break Err(e.to_string()),
            Ok(ExportResult::Retry { after, reason }) => {
                if retries >= cfg.max_retries {
                    break Err(format!("{reason}; gave up after {retries} retries"));
                }
                let wait = match after {
                    Some(a) => a,
                    None => jitter(rng, backoff),
                };
                backoff = backoff.saturating_mul(2).min(cfg.max_backoff);
                if wait >= deadline.saturating_duration_since(Instant::now()) {
                    break Err(format!(
                        "{reason}; a retry in {wait:?} would pass the export deadline"
                    ));
                }
                retries += 1;
                shared.counters.retries.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(wait);
            }
            Ok(_) => break Err("unknown export result".into()),
            // The worker survives a panicking exporter.
            Err(_) => break Err("the exporter panicked".into()),
        }
    };
    if worker {
        shared.set_busy(false);
    }
    let n = batch.len() as u64;
    let Ok(_guard) = shared.settle.lock() else {
        return;
    };
    if shared.abandoned.load(Ordering::Acquire) {
        return;
    }
    match outcome {
        Ok((rejected, message)) => {
            shared
                .counters
                .exported
                .fetch_add(n - rejected, Ordering::Relaxed);
            shared.counters.batches.fetch_add(1, Ordering::Relaxed);
            if rejected > 0 {
                shared
                    .counters
                    .failed
                    .fetch_add(rejected, Ordering::Relaxed);
                shared.counters.set_last_error(format!(
                    "the receiver rejected {rejected} of {n} spans: {}",
                    message.unwrap_or_default()
                ));
                shared.counters.maybe_report();
            }
        }
        Err(e) => {
            shared.counters.failed.fetch_add(n, Ordering::Relaxed);
            shared.counters.set_last_error(e);
            shared.counters.maybe_report();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Vars = &'static [(&'static str, &'static str)];

    fn env(vars: Vars) -> impl Fn(&str) -> Option<String> {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The default settings with this queue and batch size.
    fn sized(queue: usize, batch: usize) -> BatchConfig {
        BatchConfig {
            max_queue_size: queue,
            max_export_batch_size: batch,
            ..BatchConfig::default()
        }
    }

    #[test]
    fn segments_are_at_most_a_quarter_of_the_queue_and_make_whole_batches() {
        let seg = |queue, batch| segments(&sized(queue, batch));
        // The defaults: a segment is a batch.
        assert_eq!(seg(2048, 512), (512, 512));
        assert_eq!(seg(65_536, 512), (512, 512));
        // A smaller queue: two or three segments per batch.
        assert_eq!(seg(1000, 512), (170, 510));
        assert_eq!(seg(40, 16), (8, 16));
        assert_eq!(seg(100, 100), (25, 100));
        // Degenerate sizes still make progress.
        assert_eq!(seg(1, 1), (1, 1));
        assert_eq!(seg(3, 3), (1, 3));
    }

    #[test]
    fn lanes_leave_at_least_half_the_queue_to_full_segments() {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        for (queue, batch) in [
            (8192, 512),
            (2048, 512),
            (65_536, 512),
            (1000, 512),
            (40, 16),
            (1, 1),
            (3, 3),
        ] {
            let config = sized(queue, batch);
            let (segment, _) = segments(&config);
            let n = lanes(&config, segment);
            assert!(
                (1..=MAX_LANES.min(2 * cpus)).contains(&n),
                "{queue}/{batch}: {n}"
            );
            assert!(
                n == 1 || n * segment <= queue / 2,
                "{queue}/{batch}: {n} x {segment}"
            );
        }
        // The default queue has room for every lane a machine gets.
        let default = BatchConfig::default();
        let (segment, _) = segments(&default);
        assert_eq!(lanes(&default, segment), MAX_LANES.min(2 * cpus));
    }

    #[test]
    fn quick_wakes_wait_for_four_batches_with_most_of_the_queue_free() {
        let wake = |queue, batch| {
            let config = sized(queue, batch);
            let (segment, batch_full) = segments(&config);
            (wake_at(&config, segment, batch_full), segment)
        };
        // The defaults: four batches, a quarter of the queue.
        assert_eq!(wake(8192, 512), (2048, 512));
        // A large queue still wakes the worker at four batches.
        assert_eq!(wake(65_536, 512), (2048, 512));
        // A queue too small for four batches to be a quarter of it.
        assert_eq!(wake(2048, 512), (512, 512));
        assert_eq!(wake(1000, 512), (250, 170));
        assert_eq!(wake(40, 16), (10, 8));
        // Never below one segment.
        assert_eq!(wake(1, 1), (1, 1));
        assert_eq!(wake(3, 3), (1, 1));
        assert_eq!(wake(7, 7), (1, 1));
    }

    #[test]
    fn env_config() {
        let c = BatchConfig::from_lookup(&env(&[
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "1000"),
            ("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "3"),
        ]))
        .unwrap();
        assert_eq!(c.max_concurrent_exports, Some(3));
        assert_eq!(c.scheduled_delay, Duration::from_millis(250));
        assert_eq!(c.max_queue_size, 100);
        assert_eq!(c.max_export_batch_size, 100, "clamped to the queue");
        assert_eq!(c.export_timeout, Duration::from_secs(1));
        assert_eq!(
            BatchConfig::from_lookup(&env(&[])).unwrap(),
            BatchConfig::default()
        );
    }

    #[test]
    fn env_errors_name_variable_and_value() {
        let cases: [(Vars, &str, &str); 6] = [
            (
                &[("OTEL_BSP_SCHEDULE_DELAY", "5s")],
                "OTEL_BSP_SCHEDULE_DELAY",
                "5s",
            ),
            (
                &[("OTEL_BSP_MAX_QUEUE_SIZE", "0")],
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "0",
            ),
            (
                &[
                    ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
                    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"),
                ],
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                "20",
            ),
            (
                &[("OTEL_BSP_EXPORT_TIMEOUT", "-1")],
                "OTEL_BSP_EXPORT_TIMEOUT",
                "-1",
            ),
            (
                &[("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "0")],
                "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
                "0",
            ),
            (
                &[("OTEL_BSP_MAX_CONCURRENT_EXPORTS", "two")],
                "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
                "two",
            ),
        ];
        for (vars, var, value) in cases {
            let e = BatchConfig::from_lookup(&env(vars)).unwrap_err();
            assert_eq!((e.variable(), e.value()), (var, value), "{e}");
        }
    }

    /// Tells the test when an export starts, then waits to be let through.
    struct Gate {
        entered: crossbeam_channel::Sender<usize>,
        release: crossbeam_channel::Receiver<()>,
    }

    impl SpanExporter for Gate {
        fn export(&self, batch: &[SpanData]) -> ExportResult {
            let _ = self.entered.send(batch.len());
            let _ = self.release.recv_timeout(Duration::from_secs(10));
            ExportResult::Success
        }
    }

    fn span(id: u64) -> SpanData {
        let t = std::time::SystemTime::UNIX_EPOCH;
        let cx = prela_core::SpanContext::new(
            prela_core::TraceId::from_u128(1),
            prela_core::SpanId::from_u64(id),
            prela_core::TraceFlags::SAMPLED,
        );
        SpanData::new(cx, "s", t, t)
    }

    fn span_of(id: u64, resource: &Arc<prela_core::Resource>) -> SpanData {
        let mut s = span(id);
        s.resource = Arc::clone(resource);
        s
    }

    /// A processor with a queue of 64 and batches of 8, exporting to
    /// nowhere.
    fn small_discarding(delay: Duration) -> BatchProcessor {
        BatchProcessor::builder(prela_testkit::Discard)
            .max_queue_size(64)
            .max_export_batch_size(8)
            .scheduled_delay(delay)
            .build()
            .unwrap()
    }

    /// Ends spans `ids` of `resource` into `p`, then flushes.
    fn end_and_flush(
        p: &BatchProcessor,
        ids: std::ops::Range<u64>,
        resource: &Arc<prela_core::Resource>,
    ) {
        for id in ids {
            p.on_end(span_of(id, resource));
        }
        p.force_flush(Instant::now() + Duration::from_secs(10))
            .unwrap();
    }

    /// Waits (at most 10 s) until nothing but the test holds `resource`.
    fn released(resource: &Arc<prela_core::Resource>, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(resource) > 1 {
            assert!(
                Instant::now() < deadline,
                "{what}: {} exported span(s) still held",
                Arc::strong_count(resource) - 1
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// An exported batch stays in its segment until a lane reuses it; with
    /// no spans coming, the worker's timer empties the spares, so an idle
    /// processor holds no exported span.
    #[test]
    fn an_idle_processor_lets_go_of_exported_spans() {
        let resource = Arc::new(prela_core::Resource::with_service_name("held"));
        let p = small_discarding(Duration::from_millis(20));
        // On a thread of its own, which keeps the resource references of
        // any segment its lane empties until it exits (see the next test).
        std::thread::scope(|s| {
            s.spawn(|| end_and_flush(&p, 1..41, &resource));
        });
        assert_eq!(p.stats().exported, 40);
        released(&resource, "idle for many scheduled delays");
    }

    /// The spans of an exported batch are emptied by the thread whose lane
    /// reuses the segment, before it queues new spans there.
    #[test]
    fn a_lane_reusing_a_segment_lets_go_of_its_exported_spans() {
        let old = Arc::new(prela_core::Resource::with_service_name("old"));
        let new = Arc::new(prela_core::Resource::with_service_name("new"));
        // The timer never fires: only the lanes empty segments.
        let p = small_discarding(Duration::from_secs(600));
        // On a thread of its own: the thread that empties a segment keeps
        // its spans' resource references for the spans it starts next
        // (`prela_core::pool::resource`), until it exits.
        std::thread::scope(|s| {
            s.spawn(|| {
                end_and_flush(&p, 1..9, &old);
                // Every spare segment is taken and refilled within these
                // rounds.
                for round in 0..20u64 {
                    let first = 100 + round * 8;
                    end_and_flush(&p, first..first + 8, &new);
                }
            });
        });
        assert_eq!(p.stats().exported, 8 + 20 * 8);
        released(&old, "segments reused by the lane");
        // The last batch is still held, until its segment is reused.
        assert!(Arc::strong_count(&new) > 1);
    }

    use prela_core::Value;

    fn with_attribute(id: u64, value: Value) -> SpanData {
        let mut s = span(id);
        s.attributes.push(prela_core::KeyValue::new("k", value));
        s
    }

    /// A lane's segment stays plain while every span that joins it is, and
    /// a segment it takes anew starts plain again.
    #[test]
    fn a_lane_segment_is_plain_until_a_span_that_owns_memory_joins_it() {
        let p = small_discarding(Duration::from_secs(600));
        std::thread::scope(|s| {
            s.spawn(|| {
                let plain = || p.shared.own_lane().lock().open.plain;
                p.on_end(with_attribute(1, Value::from("static")));
                p.on_end(with_attribute(2, Value::from(2)));
                assert!(plain());
                p.on_end(with_attribute(3, Value::from(String::from("owned"))));
                assert!(!plain());
                p.on_end(with_attribute(4, Value::from("static")));
                assert!(!plain(), "one span that owns memory is enough");
                let flush = || {
                    p.force_flush(Instant::now() + Duration::from_secs(10))
                        .unwrap();
                };
                // The flush exports the open segment, which the worker
                // keeps as a spare.
                flush();
                // A whole segment: when the worker takes it, the spare goes
                // back to the queue.
                for id in 10..18 {
                    p.on_end(with_attribute(id, Value::from("static")));
                }
                flush();
                assert_eq!(p.shared.queue().spare.len(), 1);
                // The lane reuses the segment that was not plain, emptied:
                // it is plain again.
                p.on_end(with_attribute(20, Value::from("static")));
                assert!(p.shared.queue().spare.is_empty());
                assert!(plain());
            });
        });
        assert_eq!(p.stats().exported, 12);
    }

    /// A batch made of several segments is plain only if each of them is;
    /// redaction, which may write text the span then owns, makes it not
    /// plain.
    #[test]
    fn a_batch_is_plain_only_if_its_segments_are_and_nothing_was_redacted() {
        let segment = |plain: bool| Segment {
            spans: vec![with_attribute(
                1,
                if plain {
                    Value::from("static")
                } else {
                    Value::from(String::from("owned"))
                },
            )],
            plain,
        };
        let absorbed = |p: &BatchProcessor, segments: Vec<Segment>| {
            let (_tx, rx) = crossbeam_channel::unbounded();
            let mut w = Worker::new(Arc::clone(&p.shared), rx);
            for s in segments {
                w.absorb(s);
            }
            (w.batch.len(), w.batch.plain)
        };
        let p = small_discarding(Duration::from_secs(600));
        assert_eq!(absorbed(&p, vec![segment(true), segment(true)]), (2, true));
        assert_eq!(
            absorbed(&p, vec![segment(true), segment(false)]),
            (2, false)
        );
        assert_eq!(
            absorbed(&p, vec![segment(false), segment(true)]),
            (2, false)
        );
        let redacting = BatchProcessor::builder(prela_testkit::Discard)
            .redaction(RedactionRules::default())
            .build()
            .unwrap();
        assert_eq!(absorbed(&redacting, vec![segment(true)]), (1, false));
    }

    /// The narrow race `close` is there for, made to happen: a thread reads
    /// the shutdown flag just before it is set, and its span reaches the
    /// lane only after the worker's last export took what was queued. The
    /// span is counted as dropped, and shutdown says so.
    #[test]
    fn a_span_that_reaches_its_lane_after_the_last_export_is_counted_at_close() {
        let (entered_tx, entered) = crossbeam_channel::unbounded();
        let (release, release_rx) = crossbeam_channel::unbounded();
        let p = BatchProcessor::builder(Gate {
            entered: entered_tx,
            release: release_rx,
        })
        .scheduled_delay(Duration::from_secs(600))
        .build()
        .unwrap();
        p.on_end(span(1));
        std::thread::scope(|scope| {
            let shutdown = scope.spawn(|| p.shutdown(Instant::now() + Duration::from_secs(10)));
            // The worker's last export, of span 1, has begun.
            assert_eq!(entered.recv_timeout(Duration::from_secs(10)), Ok(1));
            assert!(p.shared.shut_down.load(Ordering::Acquire));
            // The late thread: for its read the flag was still clear, so
            // its span goes into its lane.
            p.shared.shut_down.store(false, Ordering::Release);
            p.on_end(span(2));
            p.shared.shut_down.store(true, Ordering::Release);
            release.send(()).unwrap();
            match shutdown.join().unwrap() {
                Err(ExportError::NotExported { count, .. }) => assert_eq!(count, 1),
                other => panic!("{other:?}"),
            }
        });
        // Nothing else was exported after the queue closed.
        assert!(entered.try_recv().is_err());
        let s = p.stats();
        assert_eq!((s.exported, s.dropped_shutdown, s.queued), (1, 1, 0));
        // Received once: it was accepted, then dropped.
        assert_eq!(s.received, 2);
        // And a span ended now is dropped at the flag.
        p.on_end(span(3));
        let s = p.stats();
        assert_eq!((s.received, s.dropped_shutdown), (3, 2));
    }
}
