//! traceparent, tracestate and baggage: no panic, and what parses prints
//! back to something that parses to the same thing.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use prela_context::Baggage;
use prela_context::propagation::{
    TextMapPropagator, W3cPropagator, format_traceparent, parse_traceparent,
};
use prela_core::{SpanContext, TraceState};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut parts = text.splitn(3, '\n');
    let (tp, ts, bg) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if let Ok((t, s, f)) = parse_traceparent(tp) {
        let again = parse_traceparent(&format_traceparent(&SpanContext::new(t, s, f)));
        assert_eq!(again.ok(), Some((t, s, f)));
    }
    if let Ok(state) = TraceState::from_header(ts) {
        assert_eq!(TraceState::from_header(&state.header()).ok(), Some(state));
    }
    let baggage = Baggage::from_header(bg);
    let again = Baggage::from_header(&baggage.header());
    assert_eq!(again.len(), baggage.len());
    let mut headers = HashMap::new();
    headers.insert("traceparent".to_owned(), tp.to_owned());
    headers.insert("tracestate".to_owned(), ts.to_owned());
    headers.insert("baggage".to_owned(), bg.to_owned());
    let cx = W3cPropagator::new().extract(&headers);
    let mut out: HashMap<String, String> = HashMap::new();
    W3cPropagator::new().inject(&cx, &mut out);
});
