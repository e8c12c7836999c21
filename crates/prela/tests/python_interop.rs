//! The Python Prela SDK (`prela==0.1.0` from PyPI) reads the files we write.
//!
//! Needs the peer environment that `cargo xtask test` installs under
//! `target/peers/venv` (or a Python with `prela` in `PRELA_TEST_PYTHON`).
//! Without it the test says so and passes, unless `PRELA_REQUIRE_PEERS=1`
//! (set by `cargo xtask test` and CI), where a missing peer fails.
#![cfg(feature = "file")]
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use prela::file::Layout;
use prela::{KeyValue, SpanType, Value};

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PRELA_TEST_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/venv/bin/python");
    venv.exists().then_some(venv)
}

#[derive(Debug)]
struct Oops;
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GET https://example.test/ timed out — réessayez")
    }
}
impl std::error::Error for Oops {}

#[test]
fn python_prela_reads_our_flat_files() {
    let Some(python) = python() else {
        assert!(
            std::env::var("PRELA_REQUIRE_PEERS").as_deref() != Ok("1"),
            "PRELA_REQUIRE_PEERS=1 but no Python peer: run `cargo xtask test`"
        );
        eprintln!("skipped: no Python prela peer (run `cargo xtask test` to install it)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (tracer, _) = prela::init()
        .service_name("interop-agent")
        .exporter_name("file")
        .trace_dir(tmp.path())
        .file_layout(Layout::Flat)
        .env(|_| None)
        .build()
        .unwrap();
    {
        let mut agent = tracer
            .span_builder("research_agent")
            .span_type(SpanType::Agent)
            .enter();
        agent.set_attribute("agent.input", "What changed in Rust 1.83? «ünïcödé» 😀");
        agent.add_event("agent.start", vec![KeyValue::new("max_steps", 5)]);
        // Python re-serialises the line byte for byte only if every float
        // is written as its `repr` writes it.
        let floats = prela_testkit::floats_to_check(5, 1_000);
        agent.set_attribute(
            "floats",
            Value::Array(floats.into_iter().map(Value::F64).collect()),
        );
        for (i, t) in [
            SpanType::Llm,
            SpanType::Tool,
            SpanType::Retrieval,
            SpanType::Embedding,
            SpanType::Custom,
        ]
        .into_iter()
        .enumerate()
        {
            let mut s = tracer
                .span_builder(format!("step-{i}"))
                .span_type(t)
                .enter();
            s.set_attribute("i", i);
            s.set_attribute("ratio", 0.1 * i as f64);
            s.set_attribute("flag", i % 2 == 0);
            s.set_attribute("list", vec!["a", "b"]);
            s.set_attribute(
                "nested",
                Value::Map(vec![(
                    "k".into(),
                    Value::Array(vec![Value::Null, 1.5.into()]),
                )]),
            );
            if t == SpanType::Tool {
                s.record_error(&Oops);
            }
        }
    }
    tracer
        .shutdown(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/read_with_python_prela.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_like::Json = serde_like::parse(&out.stdout);
    assert_eq!(report.str("prela_version"), "0.1.0");
    assert_eq!(report.num("lines"), 6);
    let spans = report.list("spans");
    assert_eq!(
        spans.len(),
        6,
        "Python read every line (it silently skips bad ones)"
    );
    let by_name: HashMap<String, &serde_like::Json> = spans
        .iter()
        .map(|s| (s.str("name").to_owned(), s))
        .collect();
    let root = by_name["research_agent"];
    assert!(root.is_null("parent_span_id"));
    assert_eq!(root.str("span_type"), "agent");
    assert_eq!(root.str("status"), "success");
    assert_eq!(root.list("events").len(), 1);
    let want_types = ["llm", "tool", "retrieval", "embedding", "custom"];
    for (i, want) in want_types.iter().enumerate() {
        let s = by_name[&format!("step-{i}")];
        assert_eq!(s.str("span_type"), *want);
        assert_eq!(s.str("parent_span_id"), root.str("span_id"));
        assert_eq!(s.str("trace_id"), root.str("trace_id"));
        let status = if *want == "tool" { "error" } else { "success" };
        assert_eq!(s.str("status"), status);
    }
    assert_eq!(
        by_name["step-1"].str("status_message"),
        "GET https://example.test/ timed out — réessayez"
    );
    let same = report.list("same_when_reserialised");
    assert_eq!(same.len(), 6);
    for (i, same) in same.iter().enumerate() {
        assert!(
            same.is_true(),
            "line {i} changes when Python re-serialises it"
        );
    }
}

/// A minimal view over `serde_json::Value` for the assertions above.
mod serde_like {
    pub(crate) struct Json(serde_json::Value);

    pub(crate) fn parse(bytes: &[u8]) -> Json {
        Json(serde_json::from_slice(bytes).unwrap())
    }

    impl Json {
        pub(crate) fn str(&self, k: &str) -> &str {
            self.0[k]
                .as_str()
                .unwrap_or_else(|| panic!("{k} is not a string: {}", self.0[k]))
        }
        pub(crate) fn num(&self, k: &str) -> u64 {
            self.0[k].as_u64().unwrap()
        }
        pub(crate) fn is_null(&self, k: &str) -> bool {
            self.0[k].is_null()
        }
        pub(crate) fn is_true(&self) -> bool {
            self.0.as_bool() == Some(true)
        }
        pub(crate) fn list(&self, k: &str) -> Vec<Json> {
            self.0[k]
                .as_array()
                .unwrap()
                .iter()
                .cloned()
                .map(Json)
                .collect()
        }
    }
}
