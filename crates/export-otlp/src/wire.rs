//! OTLP protobuf written straight from [`SpanData`], with no intermediate
//! message structs: no `String` per key and value, one output buffer per
//! request. The bytes are exactly what `prost` writes for
//! [`crate::encode::request`] (same field order, same defaults left out),
//! which the tests check span for span.

use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use prela_core::value::Str;
use prela_core::{KeyValue, SpanData, Status, Value};

use crate::encode::{SPAN_TYPE_ATTRIBUTE, by_resource, nanos, span_flags, span_kind};

const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn key(out: &mut Vec<u8>, field: u32, wire: u32) {
    varint(out, u64::from((field << 3) | wire));
}

fn bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    key(out, field, LEN);
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A proto3 string field: left out when empty.
fn string(out: &mut Vec<u8>, field: u32, s: &str) {
    if !s.is_empty() {
        bytes(out, field, s.as_bytes());
    }
}

fn fixed64(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(out, field, FIXED64);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn uint(out: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(out, field, VARINT);
        varint(out, v);
    }
}

/// A length-delimited field whose body `f` writes: the body goes straight
/// into `out` behind a one-byte length, which is widened afterwards in the
/// rare case the body is 128 bytes or more.
fn nested(out: &mut Vec<u8>, field: u32, f: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.push(0);
    f(out);
    let len = out.len() - at - 1;
    if len < 0x80 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(4);
        varint(&mut prefix, len as u64);
        out.splice(at..=at, prefix);
    }
}

/// Bytes a varint of `v` takes.
fn varint_len(v: u64) -> usize {
    // One byte per started group of 7 bits, at least one:
    // ceil(bits / 7) as (9 * bits + 64) / 64, exact for 1 to 64 bits,
    // with no division.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (9 * bits + 64) / 64
}

/// [`nested`] for a body expected to need a length prefix of `reserve`
/// bytes: spans (usually 128 to 16,383 bytes) reserve 2, the resource and
/// scope groups around them 3. When the guess is right the prefix is
/// written in place and no byte moves; when the body is shorter it moves
/// down (a short body, so a short move); when longer, up.
fn nested_reserving(out: &mut Vec<u8>, field: u32, reserve: usize, f: impl FnOnce(&mut Vec<u8>)) {
    key(out, field, LEN);
    let at = out.len();
    out.resize(at + reserve, 0);
    f(out);
    let len = out.len() - at - reserve;
    let mut prefix = [0u8; 10];
    let mut n = 0;
    let mut v = len as u64;
    while v >= 0x80 {
        prefix[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    prefix[n] = v as u8;
    n += 1;
    debug_assert_eq!(n, varint_len(len as u64));
    if n <= reserve {
        if n < reserve {
            out.copy_within(at + reserve.., at + n);
            out.truncate(out.len() - (reserve - n));
        }
        out[at..at + n].copy_from_slice(&prefix[..n]);
    } else {
        out.splice(at..at + reserve, prefix[..n].iter().copied());
    }
}

/// `AnyValue` body (a oneof: set values are written even when zero).
fn any_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {}
        Value::String(s) => bytes(out, 1, s.as_bytes()),
        Value::Bool(b) => {
            key(out, 2, VARINT);
            out.push(u8::from(*b));
        }
        Value::I64(i) => {
            key(out, 3, VARINT);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            key(out, 4, FIXED64);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Array(items) => nested(out, 5, |out| {
            for item in items {
                nested(out, 1, |out| any_value(out, item));
            }
        }),
        Value::Map(entries) => nested(out, 6, |out| {
            for (k, v) in entries {
                nested(out, 1, |out| key_value(out, k, v));
            }
        }),
        // A value kind added later: its JSON text, as `encode::any_value`.
        other => bytes(out, 1, other.to_string().as_bytes()),
    }
}

/// `KeyValue` body: the key, then the value (always present).
fn key_value(out: &mut Vec<u8>, k: &str, v: &Value) {
    string(out, 1, k);
    nested(out, 2, |out| any_value(out, v));
}

/// Appends up to four bytes packed little-endian in `word` (`n` of them):
/// one store, where a `push` per byte would check the capacity and update
/// the length each time.
#[inline(always)]
fn packed(out: &mut Vec<u8>, word: u32, n: usize) {
    let len = out.len() + n.min(4);
    out.extend_from_slice(&word.to_le_bytes());
    out.truncate(len);
}

/// A one-byte tag (fields below 16) as a `u32` to pack.
const fn tag(field: u32, wire: u32) -> u32 {
    (field << 3) | wire
}

/// A `KeyValue` as field `field` (below 16) of the message being written.
/// The usual attribute, a key under 128 bytes with a string under 124
/// bytes, a number or a boolean, has every length in one byte and known
/// up front, so its tags and lengths go out four bytes at a time; others
/// are written field by field.
#[inline]
fn key_value_field(out: &mut Vec<u8>, field: u32, k: &str, v: &Value) {
    let value_len = match v {
        Value::String(s) if s.len() < 124 => 2 + s.len(),
        Value::Bool(_) => 2,
        Value::I64(i) => 1 + varint_len(*i as u64),
        Value::F64(_) => 9,
        // Too long for the one-byte path below.
        _ => 0x80,
    };
    // Key (tag, length, bytes), then the value's tag and length.
    let body = 2 + k.len() + 2 + value_len;
    if k.is_empty() || body >= 0x80 {
        nested(out, field, |out| key_value(out, k, v));
        return;
    }
    out.reserve(body + 2);
    packed(
        out,
        tag(field, LEN) | (body as u32) << 8 | tag(1, LEN) << 16 | (k.len() as u32) << 24,
        4,
    );
    out.extend_from_slice(k.as_bytes());
    let head = tag(2, LEN) | (value_len as u32) << 8;
    match v {
        Value::String(s) => {
            packed(out, head | tag(1, LEN) << 16 | (s.len() as u32) << 24, 4);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bool(b) => packed(out, head | tag(2, VARINT) << 16 | u32::from(*b) << 24, 4),
        Value::I64(i) => {
            packed(out, head | tag(3, VARINT) << 16, 3);
            varint(out, *i as u64);
        }
        Value::F64(f) => {
            packed(out, head | tag(4, FIXED64) << 16, 3);
            out.extend_from_slice(&f.to_le_bytes());
        }
        // Not reached: other values took the nested path above.
        _ => any_value(out, v),
    }
}

fn attributes(out: &mut Vec<u8>, field: u32, kvs: &[KeyValue]) {
    for kv in kvs {
        key_value_field(out, field, kv.key.as_str(), &kv.value);
    }
}

fn span(out: &mut Vec<u8>, s: &SpanData) {
    let cx = &s.span_context;
    packed(out, tag(1, LEN) | 16 << 8, 2);
    out.extend_from_slice(&cx.trace_id.to_bytes());
    packed(out, tag(2, LEN) | 8 << 8, 2);
    out.extend_from_slice(&cx.span_id.to_bytes());
    if !cx.trace_state.is_empty() {
        string(out, 3, &cx.trace_state.header());
    }
    if let Some(p) = s.parent_span_id {
        packed(out, tag(4, LEN) | 8 << 8, 2);
        out.extend_from_slice(&p.to_bytes());
    }
    string(out, 5, &s.name);
    uint(out, 6, span_kind(s.span_type) as u64);
    fixed64(out, 7, nanos(s.start_time));
    fixed64(out, 8, s.end_time.map_or(0, nanos));
    attributes(out, 9, &s.attributes);
    key_value_field(
        out,
        9,
        SPAN_TYPE_ATTRIBUTE,
        &Value::String(Str::Borrowed(s.span_type.as_str())),
    );
    uint(out, 10, u64::from(s.dropped_attributes_count));
    for e in &s.events {
        let time = nanos(e.timestamp);
        // The usual event, a time and a short name, written flat.
        let body = 9 + 2 + e.name.len();
        if time != 0
            && !e.name.is_empty()
            && body < 0x80
            && e.attributes.is_empty()
            && e.dropped_attributes_count == 0
        {
            packed(
                out,
                tag(11, LEN) | (body as u32) << 8 | tag(1, FIXED64) << 16,
                3,
            );
            out.extend_from_slice(&time.to_le_bytes());
            packed(out, tag(2, LEN) | (e.name.len() as u32) << 8, 2);
            out.extend_from_slice(e.name.as_bytes());
        } else {
            nested(out, 11, |out| {
                fixed64(out, 1, time);
                string(out, 2, &e.name);
                attributes(out, 3, &e.attributes);
                uint(out, 4, u64::from(e.dropped_attributes_count));
            });
        }
    }
    uint(out, 12, u64::from(s.dropped_events_count));
    match &s.status {
        Status::Pending => {}
        Status::Success => packed(
            out,
            tag(15, LEN) | 2 << 8 | tag(3, VARINT) << 16 | (StatusCode::Ok as u32) << 24,
            4,
        ),
        Status::Error { message } => nested(out, 15, |out| {
            string(out, 2, message);
            uint(out, 3, StatusCode::Error as u64);
        }),
    }
    // Field 16 comes last, as prost writes it (it was added to the message
    // after the others); its tag takes two bytes.
    const FLAGS_TAG: u32 = (16 << 3) | FIXED32;
    packed(out, (FLAGS_TAG & 0x7f) | 0x80 | (FLAGS_TAG >> 7) << 8, 2);
    out.extend_from_slice(&span_flags(s).to_le_bytes());
}

/// A batch as the protobuf bytes of one `ExportTraceServiceRequest`: spans
/// grouped by resource in order of first appearance, under the `prela`
/// scope.
pub fn encode_request(batch: &[SpanData]) -> Vec<u8> {
    let groups = by_resource(batch);
    // About what a span of a few attributes and an event takes.
    let mut out = Vec::with_capacity(64 + batch.len() * 320);
    for (resource, spans) in groups {
        nested_reserving(&mut out, 1, 3, |out| {
            nested(out, 1, |out| attributes(out, 1, &resource.attributes));
            nested_reserving(out, 2, 3, |out| {
                nested(out, 1, |out| {
                    string(out, 1, "prela");
                    string(out, 2, env!("CARGO_PKG_VERSION"));
                });
                for s in spans {
                    nested_reserving(out, 2, 2, |out| span(out, s));
                }
            });
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_minimal() {
        for (v, want) in [
            (0u64, vec![0u8]),
            (1, vec![1]),
            (127, vec![0x7f]),
            (128, vec![0x80, 1]),
            (300, vec![0xac, 2]),
            (
                u64::MAX,
                vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1],
            ),
        ] {
            let mut out = Vec::new();
            varint(&mut out, v);
            assert_eq!(out, want, "{v}");
        }
    }

    #[test]
    fn reserved_prefixes_fit_any_length() {
        for reserve in 1..=3 {
            for n in [0usize, 1, 127, 128, 16_383, 16_384, 70_000, 2_097_152] {
                let mut out = vec![9u8];
                nested_reserving(&mut out, 1, reserve, |out| {
                    out.extend(std::iter::repeat_n(7u8, n));
                });
                let mut want = vec![9u8, 0x0a];
                varint(&mut want, n as u64);
                assert_eq!(varint_len(n as u64), want.len() - 2, "{n}");
                want.extend(std::iter::repeat_n(7u8, n));
                assert!(out == want, "reserve {reserve}, body {n}");
            }
        }
    }

    #[test]
    fn nested_lengths_widen() {
        for n in [0usize, 1, 127, 128, 16_383, 16_384, 70_000] {
            let mut out = Vec::new();
            nested(&mut out, 1, |out| out.extend(std::iter::repeat_n(7u8, n)));
            let mut want = vec![0x0a];
            varint(&mut want, n as u64);
            want.extend(std::iter::repeat_n(7u8, n));
            assert_eq!(out, want, "{n}");
        }
    }
}
