//! `prela::init()` from code and from (injected) environment variables.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use prela::{ExportResult, SpanData, SpanExporter};
use prela_testkit::{Capture, Collect};

/// Held by every test that installs the global tracer: two installed at
/// once would trade spans.
static GLOBAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn global() -> std::sync::MutexGuard<'static, ()> {
    GLOBAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |k| map.get(k).cloned()
}

#[test]
fn bad_values_name_the_variable_and_value() {
    let cases: &[(&str, &str)] = &[
        ("PRELA_SAMPLE_RATE", "2"),
        ("OTEL_TRACES_SAMPLER", "sometimes"),
        ("PRELA_EXPORTER", "carrier-pigeon"),
        ("PRELA_DEBUG", "maybe"),
        ("OTEL_SPAN_EVENT_COUNT_LIMIT", "lots"),
        ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
    ];
    let mut cases = cases.to_vec();
    if cfg!(feature = "console") {
        cases.push(("PRELA_CONSOLE_VERBOSITY", "loud"));
    }
    for (var, value) in &cases {
        let err = prela::init().env(env(&[(var, value)])).build().unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(var), "{msg}");
        assert!(msg.contains(&format!("{value:?}")), "{msg}");
    }
}

#[cfg(not(feature = "cloud"))]
#[test]
fn exporters_without_their_feature_say_which_feature() {
    let err = prela::init()
        .env(env(&[("PRELA_EXPORTER", "cloud")]))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            prela::InitError::FeatureMissing {
                feature: "cloud",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("PRELA_EXPORTER"));
    // An API key with no exporter named asks for cloud too.
    let err = prela::init()
        .env(env(&[("PRELA_API_KEY", "k")]))
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("PRELA_API_KEY") && err.to_string().contains("`cloud`"),
        "{err}"
    );
}

#[cfg(feature = "cloud")]
#[test]
fn an_api_key_with_no_exporter_named_chooses_prela_cloud() {
    let gateway = prela_testkit::ScriptedServer::start(vec![]);
    gateway.require_header("authorization", "Bearer sk-test-key");
    let endpoint = format!("{}/v1/traces", gateway.url());
    let (t, _) = prela::init()
        .service_name("cloudy")
        .env(env(&[
            ("PRELA_API_KEY", "sk-test-key"),
            ("PRELA_ENDPOINT", &endpoint),
        ]))
        .build()
        .unwrap();
    {
        let _root = t.span("research_agent");
    }
    t.force_flush(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let got = gateway.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].headers["authorization"], "Bearer sk-test-key");
    // A named exporter wins over the key.
    let (t, _) = prela::init()
        .exporter_name("none")
        .env(env(&[
            ("PRELA_API_KEY", "sk-test-key"),
            ("PRELA_ENDPOINT", &endpoint),
        ]))
        .build()
        .unwrap();
    t.span("not sent");
    t.force_flush(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(gateway.received().len(), 1);
    // A bad endpoint names the variable.
    let err = prela::init()
        .env(env(&[
            ("PRELA_API_KEY", "sk-test-key"),
            ("PRELA_ENDPOINT", "http://example.com/x"),
        ]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("PRELA_ENDPOINT"), "{err}");
    assert!(!format!("{err} {err:?}").contains("sk-test-key"));
}

#[test]
fn precedence_code_then_prela_then_otel() {
    let vars = [
        ("OTEL_SERVICE_NAME", "from-otel"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,deployment.environment=prod",
        ),
    ];
    let (t, _) = prela::init()
        .exporter_name("none")
        .env(env(&vars))
        .build()
        .unwrap();
    assert_eq!(t.resource().service_name(), Some("from-otel"));
    let r = t.resource();
    assert_eq!(
        r.get("deployment.environment")
            .and_then(prela::Value::as_str),
        Some("prod")
    );
    assert_eq!(
        r.get("telemetry.sdk.language")
            .and_then(prela::Value::as_str),
        Some("rust")
    );
    let mut vars = vars.to_vec();
    vars.push(("PRELA_SERVICE_NAME", "from-prela"));
    let (t, _) = prela::init()
        .exporter_name("none")
        .env(env(&vars))
        .build()
        .unwrap();
    assert_eq!(t.resource().service_name(), Some("from-prela"));
    let (t, _) = prela::init()
        .service_name("from-code")
        .exporter_name("none")
        .env(env(&vars))
        .build()
        .unwrap();
    assert_eq!(t.resource().service_name(), Some("from-code"));
    let (t, _) = prela::init()
        .exporter_name("none")
        .env(env(&[]))
        .build()
        .unwrap();
    assert_eq!(t.resource().service_name(), Some("unknown_service"));
}

#[test]
fn sample_rate_zero_records_nothing() {
    let c = Collect::default();
    let (t, _) = prela::init()
        .exporter(c.clone())
        .env(env(&[("PRELA_SAMPLE_RATE", "0")]))
        .build()
        .unwrap();
    t.span("dropped");
    assert!(c.0.lock().unwrap().is_empty());
}

#[test]
fn global_tracer_installs_and_uninstalls() {
    let _global = global();
    let c = Collect::default();
    let guard = prela::init()
        .service_name("g")
        .exporter(c.clone())
        .env(env(&[]))
        .install()
        .unwrap();
    {
        let _s = prela::tracer().span("global");
    }
    assert_eq!(c.0.lock().unwrap().len(), 1);
    guard.shutdown().unwrap();
    {
        let s = prela::tracer().span("after");
        assert!(!s.is_recording());
        assert!(s.span_context().is_valid());
    }
    assert_eq!(c.0.lock().unwrap().len(), 1);
}

#[cfg(feature = "file")]
#[test]
fn file_exporter_from_env() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t");
    let vars = [
        ("PRELA_EXPORTER", "file"),
        ("PRELA_TRACE_DIR", dir.to_str().unwrap()),
        ("PRELA_FILE_LAYOUT", "flat"),
        ("PRELA_SERVICE_NAME", "envsvc"),
    ];
    let (t, _) = prela::init().env(env(&vars)).build().unwrap();
    t.span("to-disk");
    t.shutdown(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let files = prela::file::trace_files(&dir).unwrap();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("traces-") && name.ends_with("-001.jsonl"),
        "{name}"
    );
    let spans: Vec<_> = prela::file::read_file(&files[0])
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(spans[0].name, "to-disk");
    assert_eq!(spans[0].resource.service_name(), Some("envsvc"));

    let err = prela::init()
        .env(env(&[
            ("PRELA_EXPORTER", "file"),
            ("PRELA_FILE_LAYOUT", "tree"),
        ]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("PRELA_FILE_LAYOUT"));
}

#[cfg(not(feature = "file"))]
#[test]
fn file_without_feature() {
    let err = prela::init()
        .env(env(&[("PRELA_EXPORTER", "file")]))
        .build()
        .unwrap_err();
    assert!(matches!(
        err,
        prela::InitError::FeatureMissing {
            feature: "file",
            ..
        }
    ));
}

#[test]
fn processor_and_batch_variables_are_checked() {
    for (var, value) in [
        ("PRELA_PROCESSOR", "sometimes"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots"),
        ("OTEL_BSP_SCHEDULE_DELAY", "-5"),
    ] {
        let err = prela::init()
            .exporter_name("none")
            .env(env(&[(var, value)]))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(var) && msg.contains(&format!("{value:?}")),
            "{msg}"
        );
    }
}

#[test]
fn batch_processor_for_a_custom_exporter() {
    let c = Collect::default();
    let (t, _) = prela::init()
        .exporter(c.clone())
        .processor_kind(prela::ProcessorKind::Batch)
        .env(env(&[("OTEL_BSP_SCHEDULE_DELAY", "3600000")]))
        .build()
        .unwrap();
    for i in 0..10 {
        t.span(format!("s{i}"));
    }
    assert!(
        c.0.lock().unwrap().is_empty(),
        "queued, not exported inline"
    );
    t.force_flush(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
    assert_eq!(c.0.lock().unwrap().len(), 10);
    t.shutdown(std::time::Instant::now() + std::time::Duration::from_secs(5))
        .unwrap();
}

struct Failing;

impl SpanExporter for Failing {
    fn export(&self, _: &[SpanData]) -> ExportResult {
        ExportResult::Failure(prela::ExportError::Rejected {
            status: 503,
            message: "collector down".into(),
        })
    }
}

#[test]
fn the_guard_says_in_one_line_what_was_not_exported() {
    let _global = global();
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let guard = prela::init()
            .exporter(Failing)
            .processor_kind(prela::ProcessorKind::Batch)
            .env(env(&[]))
            .install()
            .unwrap();
        for _ in 0..3 {
            prela::tracer().span("lost");
        }
        drop(guard);
    });
    let lines: Vec<String> = capture.events().into_iter().map(|e| e.message).collect();
    let shutdown: Vec<&String> = lines.iter().filter(|l| l.contains("at shutdown")).collect();
    assert_eq!(shutdown.len(), 1, "{lines:?}");
    assert!(
        shutdown[0].contains("3 span(s) were not exported"),
        "{}",
        shutdown[0]
    );
    assert!(
        shutdown[0].contains("503") && shutdown[0].contains("collector down"),
        "{}",
        shutdown[0]
    );
}

#[test]
fn content_capture_from_env() {
    let c = Collect::default();
    for (vars, want) in [
        (vec![], false),
        (
            vec![("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")],
            true,
        ),
        (
            vec![
                ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true"),
                ("PRELA_CAPTURE_CONTENT", "false"),
            ],
            false,
        ),
    ] {
        let (t, _) = prela::init()
            .exporter(c.clone())
            .env(env(&vars))
            .build()
            .unwrap();
        let s = t.llm("openai", "gpt-4o").start();
        assert_eq!(s.captures_content(), want, "{vars:?}");
    }
    let err = prela::init()
        .env(env(&[("PRELA_CAPTURE_CONTENT", "sometimes")]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("PRELA_CAPTURE_CONTENT"), "{err}");
}

#[cfg(feature = "console")]
#[test]
fn the_console_shows_model_and_tokens_for_gen_ai_spans() {
    use prela::console::{Verbosity, render_trace};
    let c = Collect::default();
    let (t, _) = prela::init()
        .exporter(c.clone())
        .env(env(&[]))
        .build()
        .unwrap();
    {
        let _a = t.agent("researcher").enter();
        let mut llm = t.llm("anthropic", "claude-sonnet-4").enter();
        llm.set_usage(412, 87);
    }
    let spans = c.0.lock().unwrap().clone();
    let text = render_trace(&spans, Verbosity::Normal, false);
    assert!(text.contains("llm: chat claude-sonnet-4"), "{text}");
    assert!(
        text.contains("model: claude-sonnet-4 | tokens: 412 → 87"),
        "{text}"
    );
}

#[test]
fn secrets_are_redacted_by_default_and_redaction_can_be_turned_off() {
    const KEY: &str = "sk-proj-0123456789abcdefABCDEF";
    for (vars, redacted) in [
        (vec![], true),
        (vec![("PRELA_REDACT", "strict")], true),
        (vec![("PRELA_REDACT", "off")], false),
    ] {
        let c = Collect::default();
        let (t, _) = prela::init()
            .exporter(c.clone())
            .env(env(&vars))
            .build()
            .unwrap();
        {
            let mut s = t.span("call");
            s.set_attribute("note", format!("used {KEY}"));
        }
        let seen = format!("{:?}", c.0.lock().unwrap());
        assert_eq!(!seen.contains(KEY), redacted, "{vars:?}: {seen}");
    }
    let err = prela::init()
        .env(env(&[("PRELA_REDACT", "maybe")]))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("PRELA_REDACT"), "{err}");
}

#[test]
fn the_programs_default_exporters_yield_to_the_environment() {
    let _global = global();
    let names = |vars: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let guard = prela::init()
            .default_exporter_name("none,none")
            .trace_dir(dir.path())
            .env(env(vars))
            .install()
            .unwrap();
        let names = guard.exporters().to_vec();
        guard.shutdown().unwrap();
        names
    };
    // Nothing named, no key: the program's default (here: none at all).
    assert!(names(&[]).is_empty());
    if cfg!(feature = "console") {
        // A named exporter wins over the program's default.
        assert_eq!(names(&[("PRELA_EXPORTER", "console")]), ["console"]);
        assert_eq!(names(&[("OTEL_TRACES_EXPORTER", "console")]), ["console"]);
    }
}

#[cfg(feature = "cloud")]
#[test]
fn an_api_key_wins_over_the_programs_default_exporters() {
    let _global = global();
    let guard = prela::init()
        .default_exporter_name("none")
        .env(env(&[
            ("PRELA_API_KEY", "sk-test-key"),
            ("PRELA_ENDPOINT", "http://127.0.0.1:9/v1/traces"),
        ]))
        .install()
        .unwrap();
    assert_eq!(guard.exporters(), ["cloud"]);
    drop(guard.shutdown());
}

#[cfg(feature = "console")]
#[test]
fn console_output_is_checked() {
    for ok in ["stdout", "stderr", "STDERR"] {
        prela::init()
            .exporter_name("console")
            .env(env(&[("PRELA_CONSOLE_OUTPUT", ok)]))
            .build()
            .unwrap();
    }
    let err = prela::init()
        .exporter_name("console")
        .env(env(&[("PRELA_CONSOLE_OUTPUT", "printer")]))
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "prela: invalid value \"printer\" for PRELA_CONSOLE_OUTPUT: expected stdout or stderr"
    );
}

#[test]
fn errors_read_as_sentences_in_debug_form_too() {
    // What `fn main() -> Result<(), prela::InitError>` prints on failure.
    let err = prela::init()
        .env(env(&[("PRELA_SAMPLE_RATE", "lots")]))
        .build()
        .unwrap_err();
    assert_eq!(format!("{err:?}"), err.to_string());
    assert!(format!("{err:#?}").starts_with("Config("), "{err:#?}");
    let mut lost = prela::Lost::default();
    lost.queue_full = 5;
    lost.failed = 2;
    let e = prela::ExportError::not_exported(
        lost,
        Some("cannot connect to 127.0.0.1:4318: Connection refused".into()),
    );
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert_eq!(
        format!("{boxed:?}"),
        "7 span(s) were not exported: 5 dropped because the queue was full and 2 failed \
         to export; last error: cannot connect to 127.0.0.1:4318: Connection refused"
    );
    assert!(format!("{boxed:#?}").starts_with("NotExported {"));
}

#[cfg(all(feature = "otlp", feature = "cloud"))]
#[test]
fn endpoints_with_ports_out_of_range_fail_naming_the_variable() {
    for port in ["0", "65536", "99999999999"] {
        let url = format!("http://127.0.0.1:{port}");
        let err = prela::init()
            .exporter_name("otlp")
            .env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("OTEL_EXPORTER_OTLP_ENDPOINT") && msg.contains(&url),
            "{msg}"
        );
        let cloud = format!("{url}/v1/traces");
        let err = prela::init()
            .env(env(&[
                ("PRELA_API_KEY", "sk-test"),
                ("PRELA_ENDPOINT", &cloud),
            ]))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("PRELA_ENDPOINT") && msg.contains(&cloud),
            "{msg}"
        );
        assert!(!msg.contains("sk-test"), "{msg}");
    }
}

#[cfg(all(feature = "otlp", unix))]
#[test]
fn a_certificate_file_that_never_ends_fails_at_once() {
    // /dev/zero used to keep install() reading at 100% CPU forever.
    for var in [
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    ] {
        let mut vars = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4318"),
            (var, "/dev/zero"),
        ];
        if var.contains("CLIENT") {
            vars.push(("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/dev/zero"));
        }
        let err = prela::init()
            .exporter_name("otlp")
            .env(env(&vars))
            .build()
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/dev/zero") && msg.contains("larger than"),
            "{msg}"
        );
    }
}

/// `PRELA_DEBUG` says in one readable line what `install()` chose: no
/// `Debug` dump of the tracer.
#[test]
fn prela_debug_says_what_was_chosen_in_a_sentence() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        prela::init()
            .service_name("checkout")
            .exporter_name("none")
            .env(env(&[
                ("PRELA_DEBUG", "1"),
                ("PRELA_SAMPLE_RATE", "0.25"),
                ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64"),
            ]))
            .build()
            .unwrap();
    });
    let lines: Vec<String> = capture.events().into_iter().map(|e| e.message).collect();
    let line = lines
        .iter()
        .find(|l| l.starts_with("prela: service"))
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert!(
        line.starts_with("prela: service \"checkout\"; exporters: none; sampler: "),
        "{line}"
    );
    assert!(line.contains("0.25"), "{line}");
    assert!(
        line.contains("limits: 64 attributes and 128 events a span"),
        "{line}"
    );
    assert!(!line.contains("{ ") && !line.contains("Tracer"), "{line}");
}
