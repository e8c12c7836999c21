//! `tracing` spans and Prela spans nest both ways, in every order of
//! mixing; `tracing` events land on the innermost current span of either
//! API.
#![allow(clippy::unwrap_used)]

use prela_core::{SpanData, Status};
use prela_testkit::Collect;
use prela_tracer::Tracer;
use prela_tracing::PrelaLayer;
use tracing_subscriber::layer::SubscriberExt;

fn setup() -> (Tracer, Collect, impl tracing::Subscriber + Send + Sync) {
    let c = Collect::default();
    let tracer = Tracer::builder().processor(c.clone()).build();
    let sub = tracing_subscriber::registry().with(PrelaLayer::new(tracer.clone()));
    (tracer, c, sub)
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?}"))
}

fn parent<'a>(spans: &'a [SpanData], name: &str) -> Option<&'a str> {
    let p = by_name(spans, name).parent_span_id?;
    spans
        .iter()
        .find(|s| s.span_context.span_id == p)
        .map(|s| &*s.name)
}

#[derive(Debug)]
struct Refused;
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection refused")
    }
}
impl std::error::Error for Refused {}

#[tracing::instrument(err)]
fn library_call(fail: bool) -> Result<u32, Refused> {
    tracing::info!("inside the library");
    if fail { Err(Refused) } else { Ok(1) }
}

#[test]
fn tracing_outer_then_prela_then_instrument() {
    let (tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        let outer = tracing::info_span!("outer tracing");
        let _o = outer.enter();
        let _p = tracer.span("prela middle");
        library_call(false).unwrap();
    });
    let spans = c.take();
    assert_eq!(parent(&spans, "prela middle"), Some("outer tracing"));
    assert_eq!(parent(&spans, "library_call"), Some("prela middle"));
    assert_eq!(by_name(&spans, "library_call").events.len(), 1);
}

#[test]
fn prela_outer_then_tracing_then_prela() {
    let (tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        let _p = tracer.span("prela outer");
        let t = tracing::info_span!("tracing middle");
        let _t = t.enter();
        let _inner = tracer.span("prela inner");
    });
    let spans = c.take();
    assert_eq!(parent(&spans, "tracing middle"), Some("prela outer"));
    assert_eq!(parent(&spans, "prela inner"), Some("tracing middle"));
}

#[test]
fn an_explicit_parent_and_a_root_are_kept() {
    let (tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        let elsewhere = tracing::info_span!("elsewhere");
        let _p = tracer.span("prela current");
        tracing::info_span!(parent: &elsewhere, "explicit").in_scope(|| {});
        tracing::info_span!(parent: None, "root").in_scope(|| {});
    });
    let spans = c.take();
    assert_eq!(parent(&spans, "explicit"), Some("elsewhere"));
    assert_eq!(by_name(&spans, "root").parent_span_id, None);
}

#[test]
fn events_land_on_the_innermost_span_of_either_api() {
    let (tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        {
            // No tracing span at all: the event goes to the Prela span.
            let _p = tracer.span("prela alone");
            tracing::info!(tokens = 12, "streamed");
        }
        let outer = tracing::info_span!("outer tracing");
        let _o = outer.enter();
        {
            let _p = tracer.span("prela inside tracing");
            tracing::warn!("retrying");
            tracing::error!(error = "quota exhausted", "call failed");
        }
        tracing::info!("back on tracing");
        let mut lent = tracer.start_span("lent");
        lent.in_scope(|| tracing::info!("in scope"));
        lent.end();
    });
    let spans = c.take();
    let alone = by_name(&spans, "prela alone");
    assert_eq!(alone.events.len(), 1);
    assert_eq!(alone.events[0].name, "streamed");
    let inside = by_name(&spans, "prela inside tracing");
    let names: Vec<&str> = inside.events.iter().map(|e| &*e.name).collect();
    assert_eq!(names, ["retrying", "call failed", "exception"]);
    assert_eq!(inside.status, Status::error("quota exhausted"));
    let outer = by_name(&spans, "outer tracing");
    let names: Vec<&str> = outer.events.iter().map(|e| &*e.name).collect();
    assert_eq!(names, ["back on tracing"], "only its own event");
    assert_eq!(by_name(&spans, "lent").events.len(), 1);
}

#[test]
fn instrument_err_records_an_unknown_type_not_the_field_name() {
    let (_tracer, c, sub) = setup();
    tracing::subscriber::with_default(sub, || {
        let _ = library_call(true);
    });
    let spans = c.take();
    let s = by_name(&spans, "library_call");
    assert_eq!(s.status, Status::error("connection refused"));
    assert_eq!(
        s.attribute("error.type").and_then(|v| v.as_str()),
        Some("_OTHER")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mixing_keeps_parents_across_polls() {
    use tracing::Instrument;
    let (tracer, c, sub) = setup();
    let dispatch = tracing::Dispatch::new(sub);
    let t2 = tracer.clone();
    let work = tracer.in_span_async("prela agent", async move {
        async {
            tokio::task::yield_now().await;
            t2.in_span_async("prela tool", async {
                tokio::task::yield_now().await;
                tracing::info!("tool ran");
            })
            .await;
        }
        .instrument(tracing::info_span!("tracing step"))
        .await;
    });
    tokio::spawn(tracing::instrument::WithSubscriber::with_subscriber(
        work, dispatch,
    ))
    .await
    .unwrap();
    let spans = c.take();
    assert_eq!(parent(&spans, "tracing step"), Some("prela agent"));
    assert_eq!(parent(&spans, "prela tool"), Some("tracing step"));
    assert_eq!(by_name(&spans, "prela tool").events.len(), 1);
}
