//! W3C Trace Context and Baggage, table-driven, through the public API.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use prela_context::propagation::{
    BaggagePropagator, TraceContextPropagator, W3cPropagator, parse_traceparent,
};
use prela_context::{Context, Extractor, TextMapPropagator};
use prela_core::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SID: &str = "00f067aa0ba902b7";

/// A carrier that can hold a header more than once, as HTTP can.
struct Multi(Vec<(&'static str, String)>);

impl Extractor for Multi {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[test]
fn traceparent_table() {
    // (input, expected flags if valid)
    let cases: &[(&str, Option<u8>)] = &[
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            Some(1),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            Some(0),
        ),
        // Level 2 random flag is kept; unknown flag bits are dropped.
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
            Some(3),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff",
            Some(3),
        ),
        // Surrounding white space is tolerated.
        (
            "  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t",
            Some(1),
        ),
        // A future version may add fields after a dash.
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like",
            Some(1),
        ),
        (
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09",
            Some(1),
        ),
        // Invalid:
        (
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            None,
        ),
        (
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            None,
        ),
        (
            "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            None,
        ),
        (
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.extra",
            None,
        ),
        (
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            None,
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9é2b7-01",
            None,
        ),
        ("", None),
        ("00", None),
    ];
    for (input, want) in cases {
        let got = parse_traceparent(input);
        match want {
            Some(flags) => {
                let (t, s, f) = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!(t.to_string(), TID, "{input:?}");
                assert_eq!(s.to_string(), SID, "{input:?}");
                assert_eq!(f.bits(), *flags, "{input:?}");
            }
            None => {
                let e = got.expect_err(input);
                assert!(e.to_string().starts_with("invalid traceparent"), "{e}");
            }
        }
    }
}

fn extract(headers: Vec<(&'static str, String)>) -> Context {
    W3cPropagator::new().extract(&Multi(headers))
}

#[test]
fn duplicate_traceparent_restarts_the_trace() {
    let tp = format!("00-{TID}-{SID}-01");
    assert!(extract(vec![("traceparent", tp.clone())]).span().is_some());
    assert!(
        extract(vec![("traceparent", tp.clone()), ("traceparent", tp)])
            .span()
            .is_none()
    );
}

#[test]
fn tracestate_rules() {
    let tp = || ("traceparent", format!("00-{TID}-{SID}-01"));
    // Multiple headers are joined.
    let cx = extract(vec![
        tp(),
        ("tracestate", "a=1".into()),
        ("TraceState", "b=2".into()),
    ]);
    assert_eq!(cx.span().unwrap().trace_state.header(), "a=1,b=2");
    // An invalid tracestate is dropped, the traceparent kept.
    for bad in ["a=1,a=2", "A=1", "a=1,=2", "a= ,b"] {
        let cx = extract(vec![tp(), ("tracestate", bad.into())]);
        let sc = cx.span().unwrap();
        assert!(sc.trace_state.is_empty(), "{bad:?}");
        assert!(sc.is_remote);
    }
    let members: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
    let cx = extract(vec![tp(), ("tracestate", members.join(","))]);
    assert!(cx.span().unwrap().trace_state.is_empty());
    let members: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
    let cx = extract(vec![tp(), ("tracestate", members.join(","))]);
    assert_eq!(cx.span().unwrap().trace_state.members().len(), 32);
    // tracestate without a valid traceparent is ignored.
    let cx = extract(vec![("tracestate", "a=1".into())]);
    assert!(cx.span().is_none());
}

#[test]
fn inject_round_trip_hashmap_and_headermap() {
    let sc = SpanContext::new(
        TraceId::from_hex(TID).unwrap(),
        SpanId::from_hex(SID).unwrap(),
        TraceFlags::SAMPLED.with_random(true),
    )
    .with_trace_state(TraceState::from_header("vendor=x").unwrap());
    let cx = Context::new().with_span(sc.clone()).with_baggage(
        prela_context::Baggage::EMPTY
            .with("user", "Amélie")
            .unwrap(),
    );

    let mut map: HashMap<String, String> = HashMap::new();
    W3cPropagator::new().inject(&cx, &mut map);
    assert_eq!(map["traceparent"], format!("00-{TID}-{SID}-03"));
    assert_eq!(map["tracestate"], "vendor=x");
    assert_eq!(map["baggage"], "user=Am%C3%A9lie");
    let back = W3cPropagator::new().extract(&map);
    let got = back.span().unwrap();
    assert_eq!(
        (got.trace_id, got.span_id, got.trace_flags),
        (sc.trace_id, sc.span_id, sc.trace_flags)
    );
    assert_eq!(got.trace_state, sc.trace_state);
    assert_eq!(back.baggage().get("user"), Some("Amélie"));

    #[cfg(feature = "http")]
    header_map_round_trip(&cx, sc.span_id);
}

#[test]
fn invalid_context_is_not_injected() {
    let mut map: HashMap<String, String> = HashMap::new();
    W3cPropagator::new().inject(&Context::new(), &mut map);
    assert!(map.is_empty());
    let cx = Context::new().with_span(SpanContext::default());
    TraceContextPropagator::new().inject(&cx, &mut map);
    assert!(map.is_empty());
}

#[test]
fn hashmap_lookup_is_case_insensitive() {
    let mut map: HashMap<String, String> = HashMap::new();
    map.insert("Traceparent".into(), format!("00-{TID}-{SID}-01"));
    map.insert("BAGGAGE".into(), "k=v".into());
    let cx = W3cPropagator::new().extract(&map);
    assert!(cx.span().is_some());
    assert_eq!(cx.baggage().get("k"), Some("v"));
    let cx = BaggagePropagator::new().extract(&HashMap::<String, String>::new());
    assert!(cx.baggage().is_empty());
}

#[cfg(feature = "http")]
fn header_map_round_trip(cx: &Context, span_id: SpanId) {
    let mut headers = http::HeaderMap::new();
    W3cPropagator::new().inject(cx, &mut headers);
    let back = W3cPropagator::new().extract(&headers);
    assert_eq!(back.span().unwrap().span_id, span_id);
    headers.append("traceparent", format!("00-{TID}-{SID}-01").parse().unwrap());
    assert!(
        TraceContextPropagator::new()
            .extract(&headers)
            .span()
            .is_none()
    );
}
