//! File exporter through its public API, on temporary directories.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::fs;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::time::format_date;
use prela_core::{
    ExportResult, Resource, SpanContext, SpanData, SpanExporter, SpanId, TraceFlags, TraceId,
};
use prela_export_file::{FileExporter, Layout, read_file, trace_files};

fn span(service: &str, trace: u128, id: u64) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(trace),
        SpanId::from_u64(id),
        TraceFlags::SAMPLED,
    );
    let now = SystemTime::now();
    let mut s = SpanData::new(
        cx,
        format!("span-{id}"),
        now,
        now + Duration::from_millis(1),
    );
    s.resource = Arc::new(Resource::with_service_name(service.to_owned()));
    s
}

fn read_all(dir: &std::path::Path) -> Vec<SpanData> {
    let mut out = Vec::new();
    for f in trace_files(dir).unwrap() {
        for r in read_file(&f).unwrap() {
            out.push(r.unwrap());
        }
    }
    out
}

#[test]
fn per_service_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = FileExporter::builder()
        .directory(tmp.path())
        .build()
        .unwrap();
    assert!(
        exp.export(&[span("research agent/v1", 1, 1), span("other", 2, 2)])
            .is_success()
    );
    exp.shutdown(Instant::now()).unwrap();
    let date = format_date(SystemTime::now());
    assert!(
        tmp.path()
            .join(format!("research_agent_v1/{date}/traces-001.jsonl"))
            .is_file()
    );
    assert!(
        tmp.path()
            .join(format!("other/{date}/traces-001.jsonl"))
            .is_file()
    );
    assert_eq!(read_all(tmp.path()).len(), 2);
}

#[test]
fn flat_layout_rotates_and_restarts_never_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let date = format_date(SystemTime::now());
    // A file left by an earlier run.
    let old = tmp.path().join(format!("traces-{date}-001.jsonl"));
    fs::write(&old, b"earlier run\n").unwrap();
    let line_len = {
        let mut v = Vec::new();
        prela_core::json::write_span_line(&mut v, &span("s", 1, 1)).unwrap();
        v.len() as u64
    };
    let exp = FileExporter::builder()
        .directory(tmp.path())
        .layout(Layout::Flat)
        .max_file_size_bytes(line_len * 3)
        .build()
        .unwrap();
    for i in 0..7 {
        assert!(exp.export(&[span("s", 1, i + 1)]).is_success());
    }
    exp.shutdown(Instant::now()).unwrap();
    assert_eq!(fs::read(&old).unwrap(), b"earlier run\n");
    let names: Vec<String> = trace_files(tmp.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [1, 2, 3, 4].map(|n| format!("traces-{date}-{n:03}.jsonl")),
        "7 spans, 3 per file, after the existing 001"
    );
    // A second process start continues the numbering.
    let exp = FileExporter::builder()
        .directory(tmp.path())
        .layout(Layout::Flat)
        .build()
        .unwrap();
    assert!(exp.export(&[span("s", 1, 100)]).is_success());
    let files = exp.current_files();
    assert_eq!(
        files[0].file_name().unwrap().to_string_lossy(),
        format!("traces-{date}-005.jsonl")
    );
}

#[test]
fn eight_threads_with_rotation_lose_and_tear_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = Arc::new(
        FileExporter::builder()
            .directory(tmp.path())
            .max_file_size_bytes(256 * 1024)
            .build()
            .unwrap(),
    );
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let exp = Arc::clone(&exp);
            std::thread::spawn(move || {
                // Batches of 1 to 4 spans, as the processors send.
                let spans: Vec<SpanData> = (0..10_000u64)
                    .map(|i| span("svc", u128::from(t) + 1, t * 1_000_000 + i + 1))
                    .collect();
                for batch in spans.chunks(1 + (t as usize % 4)) {
                    assert!(matches!(exp.export(batch), ExportResult::Success));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    exp.shutdown(Instant::now()).unwrap();
    let files = trace_files(tmp.path()).unwrap();
    assert!(files.len() > 5, "rotation happened: {} files", files.len());
    let mut seen = HashSet::new();
    for f in &files {
        let text = fs::read_to_string(f).unwrap();
        assert!(
            text.ends_with('\n'),
            "{} ends with a whole line",
            f.display()
        );
        for line in text.lines() {
            let s = prela_core::json::parse_span(line).unwrap();
            assert!(seen.insert(s.span_context.span_id), "duplicate span");
        }
    }
    assert_eq!(seen.len(), 80_000);
}

#[test]
fn unwritable_directory_fails_at_build() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = FileExporter::builder()
        .directory(file.join("traces"))
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("not-a-dir/traces"), "{msg}");
    assert!(msg.starts_with("cannot write traces to directory"), "{msg}");
}

#[test]
fn a_later_write_error_is_a_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let exp = FileExporter::builder()
        .directory(tmp.path())
        .build()
        .unwrap();
    // The service directory cannot be created: a file stands in its place.
    fs::write(tmp.path().join("svc"), b"in the way").unwrap();
    match exp.export(&[span("svc", 1, 1)]) {
        ExportResult::Failure(e) => assert!(e.to_string().contains("I/O error"), "{e}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    exp.shutdown(Instant::now()).unwrap();
    assert!(matches!(
        exp.export(&[span("ok", 1, 1)]),
        ExportResult::Failure(_)
    ));
}
