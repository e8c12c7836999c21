//! A tracer taken from `prela::tracer()` before `install()` records once a
//! tracer is installed (its own test binary: the global tracer is
//! process-wide).
#![allow(clippy::unwrap_used)]

use prela_testkit::Collect;

#[test]
fn a_tracer_taken_before_install_records_after_it() {
    let early = prela::tracer();
    assert!(early.is_late());
    #[cfg(feature = "tracing")]
    let _layer = {
        use tracing_subscriber::layer::SubscriberExt;
        tracing::subscriber::set_default(
            tracing_subscriber::registry().with(prela::tracing::PrelaLayer::new(prela::tracer())),
        )
    };
    {
        let s = early.span("before install");
        assert!(!s.is_recording(), "nothing is installed yet");
        assert!(s.span_context().is_valid());
    }
    let c = Collect::default();
    let guard = prela::init()
        .service_name("late")
        .exporter(c.clone())
        .env(|_| None)
        .install()
        .unwrap();
    {
        let _agent = early.span("after install");
        #[cfg(feature = "tracing")]
        tracing::info_span!("from tracing").in_scope(|| {});
    }
    // On another thread too (its own copy of the installed tracer).
    let t = early.clone();
    std::thread::spawn(move || t.start_span("on a thread").end())
        .join()
        .unwrap();
    let names: Vec<String> = c.spans().iter().map(|s| s.name.to_string()).collect();
    let mut expected = vec!["after install", "on a thread"];
    if cfg!(feature = "tracing") {
        expected.insert(0, "from tracing");
    }
    assert_eq!(names, expected);
    let spans = c.spans();
    assert_eq!(
        spans[0].resource.service_name(),
        Some("late"),
        "the installed tracer's resource"
    );
    // Flushing through the early handle reaches the installed tracer.
    early
        .force_flush(std::time::Instant::now() + std::time::Duration::from_secs(1))
        .unwrap();
    guard.shutdown().unwrap();
    early.start_span("after shutdown").end();
    assert_eq!(c.spans().len(), expected.len(), "nothing after the guard");
}
