//! The file exporter when the disk or the process fails.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::{
    ExportResult, KeyValue, Resource, SpanContext, SpanData, SpanExporter, SpanId, TraceFlags,
    TraceId,
};
use prela_export_file::{FileExporter, Layout, read_file_lenient, trace_files};

fn span(i: u64, payload: usize) -> SpanData {
    let cx = SpanContext::new(
        TraceId::from_u128(1),
        SpanId::from_u64(i + 1),
        TraceFlags::SAMPLED,
    );
    let now = SystemTime::now();
    let mut s = SpanData::new(cx, format!("span-{i}"), now, now);
    s.resource = Arc::new(Resource::with_service_name("faults"));
    s.attributes = vec![KeyValue::new("payload", "x".repeat(payload))];
    s
}

#[test]
fn a_full_disk_is_a_failure_not_a_silent_drop() {
    let exp = FileExporter::builder()
        .single_file("/dev/full")
        .build()
        .unwrap();
    match exp.export(&[span(0, 10)]) {
        ExportResult::Failure(e) => {
            assert!(e.to_string().contains("No space left on device"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_read_only_place_fails_at_build_naming_it() {
    let err = FileExporter::builder()
        .directory("/sys/prela-traces")
        .build()
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/sys/prela-traces"), "{msg}");
}

#[test]
fn single_file_appends_and_never_truncates() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("all.jsonl");
    fs::write(&path, "").unwrap();
    for round in 0..2 {
        let exp = FileExporter::builder().single_file(&path).build().unwrap();
        assert!(
            exp.export(&[span(round, 1), span(round + 10, 1)])
                .is_success()
        );
    }
    assert_eq!(read_file_lenient(&path).unwrap().spans.len(), 4);
}

#[test]
fn the_lenient_reader_skips_a_torn_last_line_only() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("t.jsonl");
    let mut text = Vec::new();
    for i in 0..3 {
        prela_core::json::write_span_line(&mut text, &span(i, 5)).unwrap();
    }
    let mut torn = Vec::new();
    prela_core::json::write_span_line(&mut torn, &span(9, 5)).unwrap();
    text.extend_from_slice(&torn[..torn.len() / 2]);
    fs::write(&path, &text).unwrap();
    let report = read_file_lenient(&path).unwrap();
    assert_eq!(report.spans.len(), 3);
    assert_eq!(report.warnings.len(), 1);
    assert!(
        report.warnings[0].contains("torn last line (line 4)"),
        "{:?}",
        report.warnings
    );
    // A bad line in the middle is corruption, not a crash: an error.
    let mut bad = Vec::new();
    prela_core::json::write_span_line(&mut bad, &span(0, 5)).unwrap();
    bad.extend_from_slice(b"{not json}\n");
    prela_core::json::write_span_line(&mut bad, &span(1, 5)).unwrap();
    fs::write(&path, &bad).unwrap();
    let e = read_file_lenient(&path).unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

/// Run by the crash test in a child process: writes until killed.
#[test]
#[ignore = "helper: the crash test runs it in a child process and kills it"]
fn child_writes_until_killed() {
    let Some(dir) = std::env::var_os("PRELA_CRASH_DIR") else {
        return;
    };
    let exp = FileExporter::builder()
        .directory(dir)
        .layout(Layout::Flat)
        .max_file_size_bytes(1 << 20)
        .build()
        .unwrap();
    for i in 0.. {
        let batch: Vec<SpanData> = (0..8).map(|k| span(i * 8 + k, 4000)).collect();
        assert!(exp.export(&batch).is_success());
    }
}

#[test]
fn a_process_killed_mid_write_leaves_whole_lines_but_the_last() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_writes_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env("PRELA_CRASH_DIR", tmp.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let written = |p: &Path| {
        trace_files(p)
            .map(|f| {
                f.iter()
                    .map(|x| fs::metadata(x).map_or(0, |m| m.len()))
                    .sum::<u64>()
            })
            .unwrap_or(0)
    };
    while written(tmp.path()) < 3 << 20 {
        assert!(Instant::now() < deadline, "the child wrote too little");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL, mid-run
    child.wait().unwrap();
    let files = trace_files(tmp.path()).unwrap();
    assert!(files.len() >= 3, "rotated: {files:?}");
    let mut spans = 0;
    for (i, f) in files.iter().enumerate() {
        let report = read_file_lenient(f).unwrap();
        spans += report.spans.len();
        let is_last_file = i + 1 == files.len();
        assert!(
            report.warnings.is_empty() || is_last_file,
            "only the file being written may end torn"
        );
        assert!(report.warnings.len() <= 1);
    }
    assert!(spans > 500, "{spans}");
    // A restart continues the numbering after the killed process's files.
    let exp = FileExporter::builder()
        .directory(tmp.path())
        .layout(Layout::Flat)
        .build()
        .unwrap();
    assert!(exp.export(&[span(0, 1)]).is_success());
    assert_eq!(trace_files(tmp.path()).unwrap().len(), files.len() + 1);
}
