//! [`SpanContext`] and [`TraceState`]: the part of a span that crosses process
//! boundaries.

use std::fmt;
use std::sync::Arc;

use crate::id::{SpanId, TraceFlags, TraceId};

/// Most list-members a `tracestate` may hold (W3C Trace Context).
pub const TRACE_STATE_MAX_MEMBERS: usize = 32;

/// Error returned when a `tracestate` value or member is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceStateError {
    reason: String,
}

impl fmt::Display for TraceStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid tracestate: {}", self.reason)
    }
}

impl std::error::Error for TraceStateError {}

fn err(reason: impl Into<String>) -> TraceStateError {
    TraceStateError {
        reason: reason.into(),
    }
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'-' | b'*' | b'/')
}

/// W3C `key`: a simple key, or `tenant@system` for multi-tenant vendors.
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    match key.find('@') {
        None => {
            (1..=256).contains(&b.len())
                && b[0].is_ascii_lowercase()
                && b.iter().all(|&c| is_key_char(c))
        }
        Some(at) => {
            let (tenant, system) = (&b[..at], &b[at + 1..]);
            (1..=241).contains(&tenant.len())
                && (tenant[0].is_ascii_lowercase() || tenant[0].is_ascii_digit())
                && tenant.iter().all(|&c| is_key_char(c))
                && (1..=14).contains(&system.len())
                && system[0].is_ascii_lowercase()
                && system.iter().all(|&c| is_key_char(c))
        }
    }
}

/// W3C `value`: 1 to 256 printable ASCII characters other than `,` and `=`,
/// not ending in a space.
fn valid_value(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=256).contains(&b.len())
        && b.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}

/// Vendor-specific trace data carried in the W3C `tracestate` header: an
/// ordered list of at most 32 `key=value` members, newest first.
///
/// Cloning is cheap (the members are shared), so it can ride on every span.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TraceState(Option<Arc<[(String, String)]>>);

impl TraceState {
    /// The empty trace state.
    pub const NONE: TraceState = TraceState(None);

    /// Parses a `tracestate` header value (several headers joined with `,`).
    ///
    /// Empty members and optional white space are allowed, as the spec says.
    /// More than 32 members, a duplicate key, or an invalid key or value make
    /// the whole value invalid: the caller then discards it, as W3C Trace
    /// Context requires.
    pub fn from_header(header: &str) -> Result<Self, TraceStateError> {
        let mut members: Vec<(String, String)> = Vec::new();
        for raw in header.split(',') {
            let member = raw.trim_matches(|c| c == ' ' || c == '\t');
            if member.is_empty() {
                continue;
            }
            let (key, value) = member
                .split_once('=')
                .ok_or_else(|| err(format!("member {member:?} has no '='")))?;
            if !valid_key(key) {
                return Err(err(format!("invalid key {key:?}")));
            }
            if !valid_value(value) {
                return Err(err(format!("invalid value {value:?} for key {key:?}")));
            }
            if members.iter().any(|(k, _)| k == key) {
                return Err(err(format!("duplicate key {key:?}")));
            }
            members.push((key.to_owned(), value.to_owned()));
            if members.len() > TRACE_STATE_MAX_MEMBERS {
                return Err(err(format!(
                    "more than {TRACE_STATE_MAX_MEMBERS} list-members"
                )));
            }
        }
        Ok(Self::from_members(members))
    }

    fn from_members(members: Vec<(String, String)>) -> Self {
        if members.is_empty() {
            TraceState(None)
        } else {
            TraceState(Some(members.into()))
        }
    }

    /// The members in order, newest first.
    pub fn members(&self) -> &[(String, String)] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// `true` when there is no member.
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A new state with `key=value` moved to the front (the spec's rule for a
    /// vendor updating its entry). When that would exceed 32 members, the
    /// oldest (right-most) member is removed.
    pub fn insert(&self, key: &str, value: &str) -> Result<Self, TraceStateError> {
        if !valid_key(key) {
            return Err(err(format!("invalid key {key:?}")));
        }
        if !valid_value(value) {
            return Err(err(format!("invalid value {value:?} for key {key:?}")));
        }
        let mut members = Vec::with_capacity(self.members().len() + 1);
        members.push((key.to_owned(), value.to_owned()));
        members.extend(self.members().iter().filter(|(k, _)| k != key).cloned());
        members.truncate(TRACE_STATE_MAX_MEMBERS);
        Ok(Self::from_members(members))
    }

    /// A new state without `key`.
    #[must_use]
    pub fn remove(&self, key: &str) -> Self {
        Self::from_members(
            self.members()
                .iter()
                .filter(|(k, _)| k != key)
                .cloned()
                .collect(),
        )
    }

    /// The header value: members joined with `,`.
    pub fn header(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.members().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.header())
    }
}

/// The identity of a span as it travels: trace id, span id, flags, trace
/// state, and whether it came from another process.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SpanContext {
    /// The trace this span belongs to.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// W3C trace flags (sampled, random).
    pub trace_flags: TraceFlags,
    /// `true` when extracted from an incoming request rather than made here.
    pub is_remote: bool,
    /// Vendor data from the `tracestate` header.
    pub trace_state: TraceState,
}

impl SpanContext {
    /// A context made in this process.
    pub fn new(trace_id: TraceId, span_id: SpanId, trace_flags: TraceFlags) -> Self {
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            is_remote: false,
            trace_state: TraceState::NONE,
        }
    }

    /// A context received from another process (for example by extracting a
    /// `traceparent` header).
    pub fn new_remote(
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: TraceFlags,
        trace_state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            is_remote: true,
            trace_state,
        }
    }

    /// `true` when both ids are valid (not all zero).
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.trace_flags.is_sampled()
    }

    /// This context with another trace state.
    #[must_use]
    pub fn with_trace_state(mut self, trace_state: TraceState) -> Self {
        self.trace_state = trace_state;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let ts = TraceState::from_header("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,").unwrap();
        assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(ts.header(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert!(TraceState::from_header("").unwrap().is_empty());
    }

    #[test]
    fn invalid_values() {
        for bad in [
            "Rojo=1",
            "rojo",
            "rojo=1,rojo=2",
            "rojo=a,b",
            "rojo=a=b",
            "rojo=a\u{0}b",
            "1abc=x",
            "t@Sys=1",
            "tenant@=1",
            "rojo=\u{7f}",
        ] {
            assert!(TraceState::from_header(bad).is_err(), "{bad:?}");
        }
        let ok: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        assert!(TraceState::from_header(&ok.join(",")).is_ok());
        let too_many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(TraceState::from_header(&too_many.join(",")).is_err());
        assert!(TraceState::from_header("1tenant@vendor=x").is_ok());
    }

    #[test]
    fn insert_moves_to_front_and_bounds() {
        let ts = TraceState::from_header("a=1,b=2").unwrap();
        let ts = ts.insert("b", "3").unwrap();
        assert_eq!(ts.header(), "b=3,a=1");
        assert_eq!(ts.remove("a").header(), "b=3");
        let full: Vec<String> = (0..32).map(|i| format!("k{i}=v")).collect();
        let ts = TraceState::from_header(&full.join(",")).unwrap();
        let ts = ts.insert("new", "x").unwrap();
        assert_eq!(ts.members().len(), 32);
        assert_eq!(ts.members()[0].0, "new");
        assert!(ts.get("k31").is_none());
        assert!(ts.insert("Bad", "x").is_err());
    }
}
