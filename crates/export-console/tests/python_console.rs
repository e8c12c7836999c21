//! The console output for the Python SDK's own traces matches the Python
//! SDK's console output (tests/fixtures/prela-python/console).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prela_core::json::read_jsonl;
use prela_core::{SpanData, SpanExporter};
use prela_export_console::{ColorChoice, ConsoleExporter, Verbosity};

fn fixture(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/prela-python")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn spans() -> Vec<SpanData> {
    read_jsonl(fixture("traces/traces-2026-11-22-001.jsonl").as_bytes())
        .map(|r| r.unwrap())
        .collect()
}

fn render(verbosity: Verbosity, one_batch: bool) -> String {
    let buf = Buf::default();
    let exp = ConsoleExporter::builder()
        .verbosity(verbosity)
        .color(ColorChoice::Never)
        .writer(buf.clone())
        .build();
    let spans = spans();
    if one_batch {
        assert!(exp.export(&spans).is_success());
    } else {
        for s in &spans {
            assert!(exp.export(std::slice::from_ref(s)).is_success());
        }
    }
    exp.shutdown(Instant::now() + Duration::from_secs(1))
        .unwrap();
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn minimal_matches_python() {
    assert_eq!(
        render(Verbosity::Minimal, false),
        fixture("console/plain-minimal.txt")
    );
}

#[test]
fn normal_matches_python() {
    assert_eq!(
        render(Verbosity::Normal, false),
        fixture("console/plain-normal.txt")
    );
    assert_eq!(
        render(Verbosity::Normal, true),
        fixture("console/plain-normal.txt")
    );
}

/// The Python SDK indents only the first attribute line of a span in
/// verbose mode; we indent them all. Everything else is the same.
fn fix_python_indentation(text: &str) -> String {
    let mut out = String::new();
    let mut indent = String::new();
    for line in text.lines() {
        let tree = line.starts_with([' ', '│', '├', '└', '=']) || line.starts_with("Trace ");
        if line.is_empty() || tree {
            if let Some(pos) = line.find(|c: char| c.is_ascii_alphanumeric()) {
                // Remember the indent of a detail line (after the tree prefix).
                let prefix: String = line
                    .chars()
                    .take_while(|c| !c.is_ascii_alphanumeric())
                    .collect();
                if !line[..pos].contains(['├', '└']) {
                    indent = prefix;
                }
            }
            out.push_str(line);
        } else {
            out.push_str(&indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn verbose_matches_python_with_indentation_fixed() {
    let raw = fixture("console/plain-verbose.txt");
    let want = fix_python_indentation(&raw);
    assert_ne!(
        want, raw,
        "the fixture has the Python indentation bug to fix"
    );
    assert!(want.contains("      agent.name = 'research_agent'\n"));
    assert!(want.contains("   │     tool.description = 'Search the web'\n"));
    let got = render(Verbosity::Verbose, false);
    for (g, w) in got.lines().zip(want.lines()) {
        assert_eq!(g, w);
    }
    assert_eq!(got, want);
}

#[test]
fn partial_traces_print_on_flush_and_buffer_is_bounded() {
    let buf = Buf::default();
    let exp = ConsoleExporter::builder()
        .verbosity(Verbosity::Minimal)
        .color(ColorChoice::Never)
        .writer(buf.clone())
        .max_buffered_spans(3)
        .build();
    let children: Vec<SpanData> = spans().into_iter().filter(|s| !s.is_root()).collect();
    assert_eq!(children.len(), 5);
    assert!(exp.export(&children[..3]).is_success());
    assert!(buf.0.lock().unwrap().is_empty(), "waits for the root");
    assert!(exp.export(&children[3..]).is_success());
    let printed = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("anthropic.messages.create"),
        "oldest trace printed when over the bound"
    );
    exp.force_flush(Instant::now()).unwrap();
    let printed = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(printed.contains("fetch_url"));
}

#[test]
fn colour_only_when_asked() {
    let buf = Buf::default();
    let exp = ConsoleExporter::builder()
        .color(ColorChoice::Always)
        .writer(buf.clone())
        .build();
    assert!(exp.export(&spans()).is_success());
    let printed = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(printed.contains("\x1b[32m✓\x1b[0m"));
    let buf = Buf::default();
    let exp = ConsoleExporter::builder().writer(buf.clone()).build();
    assert!(exp.export(&spans()).is_success());
    assert!(
        !String::from_utf8(buf.0.lock().unwrap().clone())
            .unwrap()
            .contains('\x1b')
    );
}
