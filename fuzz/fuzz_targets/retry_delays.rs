//! Delays a server chooses: `Retry-After` text (seconds or an HTTP date,
//! against any clock), a gRPC `google.rpc.Status` whose details may hold a
//! `RetryInfo`, and raw durations up to `Duration::MAX`. Each delay parsed
//! goes through the deadline arithmetic and through a batch processor
//! whose exporter asks for it: nothing panics, the worker lives on, and
//! every span is counted exported or failed.
#![no_main]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use base64::Engine;
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use prela_core::{
    ExportResult, SpanContext, SpanData, SpanExporter, SpanId, SpanProcessor, TraceFlags, TraceId,
};
use prela_export_otlp::{grpc, parse_retry_after};
use prela_transport::BatchProcessor;

/// Asks for the delay given, once per span, then takes the span.
#[derive(Default)]
struct AsksToWait {
    next: Mutex<Option<Duration>>,
}

impl SpanExporter for AsksToWait {
    fn export(&self, _: &[SpanData]) -> ExportResult {
        match self.next.lock().ok().and_then(|mut n| n.take()) {
            Some(after) => ExportResult::Retry {
                after: Some(after),
                reason: "the fuzzer asked for a delay".into(),
            },
            None => ExportResult::Success,
        }
    }
}

fn processor() -> &'static (Arc<AsksToWait>, BatchProcessor) {
    static P: OnceLock<(Arc<AsksToWait>, BatchProcessor)> = OnceLock::new();
    P.get_or_init(|| {
        let exporter = Arc::new(AsksToWait::default());
        let p = BatchProcessor::builder_shared(exporter.clone())
            .scheduled_delay(Duration::from_secs(3600))
            .export_timeout(Duration::from_millis(2))
            .build()
            .expect("a batch processor");
        (exporter, p)
    })
}

fn through_processor(after: Duration) {
    let (exporter, p) = processor();
    if let Ok(mut next) = exporter.next.lock() {
        *next = Some(after);
    }
    let cx = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(1),
        TraceFlags::SAMPLED,
    );
    p.on_end(SpanData::new(cx, "s", UNIX_EPOCH, UNIX_EPOCH));
    // Exported after a short wait, or failed at once: never stuck, never
    // a dead worker.
    let _ = p.force_flush(Instant::now() + Duration::from_secs(10));
    let s = p.stats();
    assert_eq!(s.queued, 0, "{s:?}");
    assert_eq!(s.received, s.exported + s.failed + s.dropped(), "{s:?}");
    assert!(
        !s.last_error.as_deref().unwrap_or("").contains("panic"),
        "{s:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(12));
    let mut raw = [0u8; 12];
    raw[..head.len()].copy_from_slice(head);
    let [a, b, c, d, e, f, g, h, n0, n1, n2, n3] = raw;
    let secs = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
    let nanos = u32::from_le_bytes([n0, n1, n2, n3]) % 1_000_000_000;
    let mut delays = vec![Duration::new(secs, nanos)];
    // Retry-After against a clock anywhere from 1970 to far past 9999.
    let now = UNIX_EPOCH + Duration::from_secs(secs % 400_000_000_000);
    if let Ok(text) = std::str::from_utf8(rest) {
        delays.extend(parse_retry_after(text, now));
    }
    // The rest as a status's details, as a server would send them.
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("14"));
    let details = base64::engine::general_purpose::STANDARD_NO_PAD.encode(rest);
    if let Ok(v) = HeaderValue::from_str(&details) {
        trailers.insert("grpc-status-details-bin", v);
    }
    if let Some(status) = grpc::GrpcStatus::from_metadata(&HeaderMap::new(), Some(&trailers)) {
        assert!(status.is_retryable());
        delays.extend(status.retry_after);
    }
    for d in delays {
        let _ = prela_core::deadline_in(d);
        let _ = prela_core::export::after(Instant::now(), d);
        through_processor(d);
    }
});
