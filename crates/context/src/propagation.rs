//! Putting a [`Context`] into request headers and taking it back out:
//! W3C Trace Context (`traceparent`, `tracestate`) and W3C Baggage.

use std::collections::HashMap;
use std::fmt;

use prela_core::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::baggage::Baggage;
use crate::context::Context;

/// The `traceparent` header name.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header name.
pub const TRACESTATE: &str = "tracestate";
/// The `baggage` header name.
pub const BAGGAGE: &str = "baggage";

/// Somewhere to write headers: an outgoing request's header map.
pub trait Injector {
    /// Sets a header, replacing any previous value.
    fn set(&mut self, key: &str, value: String);
}

/// Somewhere to read headers from: an incoming request's header map.
/// Header names are case-insensitive.
pub trait Extractor {
    /// The first value of a header.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every value of a header, in order (a header may be repeated).
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.retain(|k, _| !k.eq_ignore_ascii_case(key));
        self.insert(key.to_ascii_lowercase(), value);
    }
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        match HashMap::get(self, key) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        self.iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[cfg(feature = "http")]
impl Injector for http::HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }
}

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        http::HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        http::HeaderMap::get_all(self, key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }
}

/// Injects a context into, and extracts it from, text headers.
pub trait TextMapPropagator: Send + Sync + fmt::Debug {
    /// Writes the parts of `cx` this propagator carries.
    fn inject(&self, cx: &Context, injector: &mut dyn Injector);

    /// Reads what this propagator carries into a copy of `cx`; invalid or
    /// missing headers leave `cx` as it was.
    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context;

    /// Reads into an empty context.
    fn extract(&self, extractor: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::new(), extractor)
    }

    /// The header names this propagator reads and writes.
    fn fields(&self) -> &'static [&'static str];
}

/// Why a `traceparent` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceparentError(&'static str);

impl fmt::Display for TraceparentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid traceparent: {}", self.0)
    }
}

impl std::error::Error for TraceparentError {}

fn hex_byte(s: &[u8]) -> Option<u8> {
    let v = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    Some(v(s[0])? << 4 | v(s[1])?)
}

/// Parses a `traceparent` value as W3C Trace Context says: optional white
/// space around it is allowed; the version is two lowercase hex digits other
/// than `ff`; version `00` is exactly 55 characters; a later version may
/// carry more fields after a `-`; ids are lowercase hex and not all zero.
/// Only the `sampled` and `random` flags are kept.
pub fn parse_traceparent(value: &str) -> Result<(TraceId, SpanId, TraceFlags), TraceparentError> {
    let s = value.trim_matches(|c| c == ' ' || c == '\t');
    let v = s.as_bytes();
    if v.len() < 55 {
        return Err(TraceparentError("shorter than 55 characters"));
    }
    let version =
        hex_byte(&v[0..2]).ok_or(TraceparentError("version is not two lowercase hex digits"))?;
    if version == 0xff {
        return Err(TraceparentError("version ff is forbidden"));
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return Err(TraceparentError("fields are not separated by '-'"));
    }
    if version == 0 && v.len() != 55 {
        return Err(TraceparentError("version 00 must be exactly 55 characters"));
    }
    if v.len() > 55 && v[55] != b'-' {
        return Err(TraceparentError(
            "extra data after the flags is not a new field",
        ));
    }
    // `get` rather than indexing: non-ASCII input has no char boundary there.
    let trace_id = TraceId::from_hex(s.get(3..35).unwrap_or(""))
        .map_err(|_| TraceparentError("trace-id is not 32 lowercase hex digits"))?;
    let span_id = SpanId::from_hex(s.get(36..52).unwrap_or(""))
        .map_err(|_| TraceparentError("parent-id is not 16 lowercase hex digits"))?;
    let flags = hex_byte(&v[53..55]).ok_or(TraceparentError(
        "trace-flags is not two lowercase hex digits",
    ))?;
    if !trace_id.is_valid() {
        return Err(TraceparentError("trace-id is all zeros"));
    }
    if !span_id.is_valid() {
        return Err(TraceparentError("parent-id is all zeros"));
    }
    Ok((trace_id, span_id, TraceFlags::new(flags & 0x03)))
}

/// Formats a `traceparent` (version 00) for a span context.
pub fn format_traceparent(sc: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        sc.trace_id,
        sc.span_id,
        sc.trace_flags.bits() & 0x03
    )
}

/// W3C Trace Context: `traceparent` and `tracestate`.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct TraceContextPropagator;

impl TraceContextPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        TraceContextPropagator
    }

    /// Extracts only the span context, if the headers carry a valid one.
    pub fn extract_span_context(&self, extractor: &dyn Extractor) -> Option<SpanContext> {
        let parents = extractor.get_all(TRACEPARENT);
        // Several traceparent headers are ambiguous: the spec says to restart.
        let [parent] = parents.as_slice() else {
            return None;
        };
        let (trace_id, span_id, flags) = parse_traceparent(parent).ok()?;
        let states = extractor.get_all(TRACESTATE);
        // An invalid tracestate is discarded; the traceparent still counts.
        let state = TraceState::from_header(&states.join(",")).unwrap_or_default();
        Some(SpanContext::new_remote(trace_id, span_id, flags, state))
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        let Some(sc) = cx.span().filter(|sc| sc.is_valid()) else {
            return;
        };
        injector.set(TRACEPARENT, format_traceparent(sc));
        if !sc.trace_state.is_empty() {
            injector.set(TRACESTATE, sc.trace_state.header());
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match self.extract_span_context(extractor) {
            Some(sc) => cx.with_span(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[TRACEPARENT, TRACESTATE]
    }
}

/// W3C Baggage: the `baggage` header.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct BaggagePropagator;

impl BaggagePropagator {
    /// The propagator.
    pub const fn new() -> Self {
        BaggagePropagator
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        let header = cx.baggage().header();
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let values = extractor.get_all(BAGGAGE);
        if values.is_empty() {
            return cx.clone();
        }
        let baggage = Baggage::from_header(&values.join(","));
        if baggage.is_empty() {
            cx.clone()
        } else {
            cx.with_baggage(baggage)
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[BAGGAGE]
    }
}

/// Trace Context and Baggage together: the default propagator.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct W3cPropagator;

impl W3cPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        W3cPropagator
    }
}

impl TextMapPropagator for W3cPropagator {
    fn inject(&self, cx: &Context, injector: &mut dyn Injector) {
        TraceContextPropagator.inject(cx, injector);
        BaggagePropagator.inject(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let cx = TraceContextPropagator.extract_with_context(cx, extractor);
        BaggagePropagator.extract_with_context(&cx, extractor)
    }

    fn fields(&self) -> &'static [&'static str] {
        &[TRACEPARENT, TRACESTATE, BAGGAGE]
    }
}

/// Injects the current context with [`W3cPropagator`].
pub fn inject_current(injector: &mut dyn Injector) {
    Context::map_current(|cx| W3cPropagator.inject(cx, injector));
}

/// Extracts a context with [`W3cPropagator`].
pub fn extract(extractor: &dyn Extractor) -> Context {
    W3cPropagator.extract(extractor)
}
