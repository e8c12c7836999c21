//! The service examples stopped as a user or an orchestrator stops them:
//! SIGTERM or SIGINT (Ctrl-C) while spans are queued, and every span of
//! every request they report handled is in the trace files afterwards.
#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/<name>`, built by `cargo test` beside this
/// test's own binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    profile.join("examples").join(name)
}

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spans_in(dir: &Path) -> usize {
    prela_export_file::trace_files(dir)
        .unwrap()
        .iter()
        .map(|f| {
            prela_export_file::read_file(f)
                .unwrap()
                .inspect(|s| assert!(s.is_ok(), "{}: {s:?}", f.display()))
                .count()
        })
        .sum()
}

/// Starts `name` writing files to a fresh directory, with a schedule
/// delay far longer than the test, so that every span is still queued when
/// the signal comes; sends `signal` once it serves; returns the requests
/// it says it handled and the spans found in its files.
fn stop_with(name: &str, signal: &str) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(example(name));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PRELA_") || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    let child = cmd
        .current_dir(dir.path())
        .env("PRELA_EXPORTER", "file")
        .env("OTEL_BSP_SCHEDULE_DELAY", "600000")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let mut stderr = BufReader::new(running.0.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("serving"), "{name}: {line}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(spans_in(dir.path()), 0, "{name}: nothing exported yet");
    let status = Command::new("kill")
        .args(["-s", signal, &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = running.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "{name} did not stop on {signal}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert!(exit.success(), "{name} on {signal}: {exit}\n{rest}");
    let handled: usize = rest
        .split_once("stopping after ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{name}: no count in {rest:?}"));
    (handled, spans_in(dir.path()))
}

#[test]
fn a_tokio_service_exports_every_span_on_sigterm_and_ctrl_c() {
    for signal in ["TERM", "INT"] {
        let (handled, spans) = stop_with("service", signal);
        assert!(handled > 0);
        // A request span and its tool call each.
        assert_eq!(spans, 2 * handled, "SIG{signal}");
    }
}

#[test]
fn a_plain_service_exports_every_span_on_sigterm_and_ctrl_c() {
    for signal in ["TERM", "INT"] {
        let (handled, spans) = stop_with("plain_service", signal);
        assert!(handled > 0);
        assert_eq!(spans, 2 * handled, "SIG{signal}");
    }
}
