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

/// Run by the size-limit test in a child process whose files may not grow
/// past a limit (`ulimit -f`): writes batches for two services, of
/// growing size, and prints how many spans the exporter said it wrote.
#[test]
#[ignore = "helper: the size-limit test runs it in a child process"]
fn child_writes_into_a_size_limit() {
    let Some(dir) = std::env::var_os("PRELA_LIMIT_DIR") else {
        return;
    };
    let exp = FileExporter::builder().directory(dir).build().unwrap();
    let (mut written, mut failed, mut partial) = (0u64, 0u64, 0u64);
    let mut next = 0u64;
    for round in 0..60u64 {
        let batch: Vec<SpanData> = (0..8)
            .map(|k| {
                next += 1;
                let mut s = span(next, 500 + 97 * ((round + k) as usize % 40));
                let service = if k % 3 == 0 { "alpha" } else { "beta" };
                s.resource = Arc::new(Resource::with_service_name(service));
                s
            })
            .collect();
        match exp.export(&batch) {
            ExportResult::Success => written += 8,
            ExportResult::PartialSuccess { rejected, message } => {
                assert!(message.contains("File too large"), "{message}");
                partial += 1;
                written += 8 - rejected;
                failed += rejected;
            }
            ExportResult::Failure(e) => {
                assert!(e.to_string().contains("File too large"), "{e}");
                failed += 8;
            }
            other => panic!("{other:?}"),
        }
    }
    println!("written={written} failed={failed} partial={partial}");
}

/// A write cut short by a full disk (here a file size limit, which cuts a
/// `write` short the same way) leaves no torn line: the files hold exactly
/// the spans the exporter reported written, every line whole.
#[cfg(target_os = "linux")]
#[test]
fn a_write_cut_short_is_rolled_back_and_the_counts_match_the_files() {
    let tmp = tempfile::tempdir().unwrap();
    // 64 KiB a file; SIGXFSZ ignored, so the write fails with EFBIG.
    let out = Command::new("bash")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 64; exec \"$0\" --exact child_writes_into_a_size_limit --ignored --nocapture --test-threads 1")
        .arg(std::env::current_exe().unwrap())
        .env("PRELA_LIMIT_DIR", tmp.path())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    let counts = stdout
        .lines()
        .find_map(|l| l.split_once("written=").map(|(_, counts)| counts))
        .unwrap_or_else(|| panic!("no counts in {stdout}"));
    let num = |name: &str| -> u64 {
        counts
            .split(' ')
            .find_map(|kv| kv.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {counts}"))
            .parse()
            .unwrap()
    };
    let written: u64 = counts.split(' ').next().unwrap().parse().unwrap();
    let (failed, partial) = (num("failed="), num("partial="));
    let files = trace_files(tmp.path()).unwrap();
    assert_eq!(files.len(), 2, "one file a service: {files:?}");
    let mut in_files = std::collections::HashSet::new();
    for f in &files {
        let text = fs::read(f).unwrap();
        assert!(text.len() <= 64 * 1024);
        assert!(text.ends_with(b"\n"), "{} ends torn", f.display());
        for span in prela_export_file::read_file(f).unwrap() {
            let span = span.unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(in_files.insert(span.span_context.span_id), "written twice");
        }
    }
    assert_eq!(in_files.len() as u64, written);
    assert_eq!(written + failed, 60 * 8);
    assert!(written > 0 && failed > 0, "{counts}");
    assert!(partial > 0, "a batch half written, half failed: {counts}");
}

/// A trace directory removed while the exporter runs is made again by the
/// next batch, which lands in a file that can be read, never in the
/// unlinked one.
#[test]
fn a_removed_trace_directory_is_made_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("traces");
    let exp = FileExporter::builder().directory(&dir).build().unwrap();
    assert!(exp.export(&[span(0, 1)]).is_success());
    fs::remove_dir_all(&dir).unwrap();
    assert!(exp.export(&[span(1, 1), span(2, 1)]).is_success());
    let files = trace_files(&dir).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(read_file_lenient(&files[0]).unwrap().spans.len(), 2);
    // The file alone removed: the next one is opened beside it.
    fs::remove_file(&files[0]).unwrap();
    assert!(exp.export(&[span(3, 1)]).is_success());
    let files = trace_files(&dir).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let spans = read_file_lenient(&files[0]).unwrap().spans;
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "span-3");
}

/// A single file moved away (log rotation) is created again at its path.
#[test]
fn a_single_file_moved_away_is_created_again() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("all.jsonl");
    let exp = FileExporter::builder().single_file(&path).build().unwrap();
    assert!(exp.export(&[span(0, 1)]).is_success());
    let rotated = tmp.path().join("all.jsonl.1");
    fs::rename(&path, &rotated).unwrap();
    assert!(exp.export(&[span(1, 1)]).is_success());
    assert_eq!(read_file_lenient(&rotated).unwrap().spans.len(), 1);
    let spans = read_file_lenient(&path).unwrap().spans;
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "span-1");
}
