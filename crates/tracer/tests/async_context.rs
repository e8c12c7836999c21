//! Spans that follow futures, closures and panics; guards exited out of
//! order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use prela_core::{SpanData, Status};
use prela_testkit::Collect;
use prela_tracer::{SpanFutureExt, Tracer, with_current_span};

fn tracer() -> (Tracer, Collect) {
    let c = Collect::default();
    (Tracer::builder().processor(c.clone()).build(), c)
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {:?}", names(spans)))
}

fn names(spans: &[SpanData]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

fn parent_of<'a>(spans: &'a [SpanData], name: &str) -> Option<&'a str> {
    let p = by_name(spans, name).parent_span_id?;
    spans
        .iter()
        .find(|s| s.span_context.span_id == p)
        .map(|s| &*s.name)
}

#[test]
fn in_scope_makes_the_span_current_without_ending_it() {
    let (t, c) = tracer();
    let mut outer = t.start_span("outer");
    outer.in_scope(|| {
        t.start_span("child").end();
        with_current_span(|s| s.set_attribute("seen", true)).expect("current");
    });
    assert!(outer.is_recording(), "in_scope does not end the span");
    outer.set_attribute("after", 1);
    outer.end();
    let spans = c.take();
    assert_eq!(parent_of(&spans, "child"), Some("outer"));
    let outer = by_name(&spans, "outer");
    assert!(outer.attribute("seen").is_some() && outer.attribute("after").is_some());
    assert_eq!(
        with_current_span(|_| ()),
        None,
        "nothing current afterwards"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_keeps_its_span_current_on_every_poll_and_thread() {
    let (t, c) = tracer();
    let t2 = t.clone();
    let agent = async move {
        for i in 0..3 {
            let t3 = t2.clone();
            // Spawned tasks carry nothing by themselves: in_span gives each
            // its own span under the agent's context (taken here).
            let cx = prela_context::Context::current();
            let span = t2.span_builder(format!("tool {i}")).parent(&cx).start();
            tokio::spawn(
                async move {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    t3.start_span("inside tool").end();
                }
                .in_span(span),
            )
            .await
            .unwrap();
            tokio::task::yield_now().await;
        }
        t2.start_span("after the tools").end();
    };
    t.in_span_async("agent", agent).await;
    let spans = c.take();
    assert_eq!(spans.len(), 8, "{:?}", names(&spans));
    for i in 0..3 {
        assert_eq!(parent_of(&spans, &format!("tool {i}")), Some("agent"));
    }
    assert_eq!(parent_of(&spans, "after the tools"), Some("agent"));
    for s in spans.iter().filter(|s| s.name == "inside tool") {
        let p = s.parent_span_id.unwrap();
        let parent = spans.iter().find(|x| x.span_context.span_id == p).unwrap();
        assert!(parent.name.starts_with("tool "), "{}", parent.name);
    }
    assert!(spans.iter().all(|s| s.status == Status::Success));
    let agent = by_name(&spans, "agent");
    let took = agent
        .end_time
        .unwrap()
        .duration_since(agent.start_time)
        .unwrap();
    assert!(
        took >= Duration::from_millis(6),
        "the span covers the future: {took:?}"
    );
}

#[tokio::test]
async fn join_branches_get_their_own_parents() {
    let (t, c) = tracer();
    let branch = |name: &'static str, ms: u64| {
        let t = t.clone();
        t.clone().in_span_async(name, async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            t.start_span(format!("{name} child")).end();
        })
    };
    t.in_span_async("root", async {
        tokio::join!(branch("a", 5), branch("b", 1));
    })
    .await;
    let spans = c.take();
    assert_eq!(parent_of(&spans, "a"), Some("root"));
    assert_eq!(parent_of(&spans, "b"), Some("root"));
    assert_eq!(parent_of(&spans, "a child"), Some("a"));
    assert_eq!(parent_of(&spans, "b child"), Some("b"));
}

#[tokio::test]
async fn a_future_dropped_early_ends_its_span_cancelled() {
    let (t, c) = tracer();
    let slow = t.in_span_async("slow", tokio::time::sleep(Duration::from_secs(60)));
    assert!(
        tokio::time::timeout(Duration::from_millis(5), slow)
            .await
            .is_err()
    );
    let spans = c.take();
    assert_eq!(by_name(&spans, "slow").status, Status::error("cancelled"));
}

#[tokio::test]
async fn a_task_that_panics_ends_its_span_panicked() {
    let (t, c) = tracer();
    let t2 = t.clone();
    let task = tokio::spawn(t.in_span_async("boom", async move {
        t2.in_span_async("guarded", async {
            tokio::task::yield_now().await;
            panic!("tool failed");
        })
        .await;
    }));
    assert!(task.await.unwrap_err().is_panic());
    let spans = c.take();
    assert_eq!(by_name(&spans, "boom").status, Status::error("panicked"));
    assert_eq!(by_name(&spans, "guarded").status, Status::error("panicked"));
}

#[test]
fn a_span_dropped_while_its_thread_panics_ends_panicked() {
    let (t, c) = tracer();
    let t2 = t.clone();
    let result = std::thread::spawn(move || {
        let _guard = t2.span("guarded");
        let _plain = t2.start_span("plain");
        let mut set = t2.start_span("status set");
        set.set_status(Status::Success);
        panic!("tool failed");
    })
    .join();
    assert!(result.is_err());
    let spans = c.take();
    assert_eq!(by_name(&spans, "guarded").status, Status::error("panicked"));
    assert_eq!(by_name(&spans, "plain").status, Status::error("panicked"));
    assert_eq!(by_name(&spans, "status set").status, Status::Success);
    // In scope: the span is ended by the unwinding, not left open.
    let t3 = t.clone();
    let r = std::thread::spawn(move || {
        let mut s = t3.start_span("scoped");
        s.in_scope(|| panic!("inside"));
    })
    .join();
    assert!(r.is_err());
    assert_eq!(
        by_name(&c.take(), "scoped").status,
        Status::error("panicked")
    );
}

#[test]
fn events_reach_the_current_span_however_it_was_made_current() {
    let (t, c) = tracer();
    {
        let _g = t.span("entered");
        assert!(prela_tracer::add_event_to_current(
            "note",
            vec![prela_core::KeyValue::new("k", 1)],
            None
        ));
        assert!(prela_tracer::add_event_to_current(
            "failure",
            Vec::new(),
            Some(("io::Error", "disk full"))
        ));
    }
    let mut lent = t.start_span("lent");
    lent.in_scope(|| {
        assert!(prela_tracer::add_event_to_current("note", Vec::new(), None));
    });
    lent.end();
    assert!(!prela_tracer::add_event_to_current(
        "nowhere",
        Vec::new(),
        None
    ));
    let spans = c.take();
    let entered = by_name(&spans, "entered");
    assert_eq!(entered.events.len(), 3, "note, failure, and the exception");
    assert_eq!(entered.status, Status::error("disk full"));
    assert_eq!(by_name(&spans, "lent").events.len(), 1);
}

#[tokio::test]
async fn guards_held_across_await_in_join_do_not_corrupt_later_spans() {
    let (t, c) = tracer();
    let capture = prela_testkit::Capture::default();
    let _d = tracing::subscriber::set_default(capture.clone());
    let branch = |name: &'static str, ms: u64| {
        let t = t.clone();
        async move {
            let _g = t.span(name); // the wrong way: a guard across .await
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    };
    {
        let _root = t.span("root");
        tokio::join!(branch("a", 1), branch("b", 5));
        t.start_span("after join").end();
    }
    t.start_span("next trace").end();
    let spans = c.take();
    assert_eq!(parent_of(&spans, "after join"), Some("root"));
    assert_eq!(by_name(&spans, "next trace").parent_span_id, None);
    let warned: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|e| e.message.contains("was exited while span"))
        .collect();
    assert_eq!(warned.len(), 1, "reported once");
    assert!(
        warned[0].message.contains("\"a\"") && warned[0].message.contains("\"b\""),
        "{}",
        warned[0].message
    );
}
