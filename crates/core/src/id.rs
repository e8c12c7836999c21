//! Trace and span identifiers and trace flags (W3C Trace Context).

use std::fmt;

/// Lowercase hex digits, by value.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Error returned when an identifier cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseIdError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

impl ParseIdError {
    fn new(what: &'static str, input: &str, expected: &'static str) -> Self {
        // Keep the echoed input bounded: ids arrive from the network.
        let input: String = input.chars().take(64).collect();
        Self {
            what,
            input,
            expected,
        }
    }
}

impl fmt::Display for ParseIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} {:?}: expected {}",
            self.what, self.input, self.expected
        )
    }
}

impl std::error::Error for ParseIdError {}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Decodes lowercase hex into `out`; `None` unless `s` is exactly `2 * out.len()`
/// lowercase hex digits.
fn decode_lower_hex(s: &[u8], out: &mut [u8]) -> Option<()> {
    if s.len() != out.len() * 2 {
        return None;
    }
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
    }
    Some(())
}

/// Writes `bytes` as lowercase hex into `out`, which holds `2 * bytes.len()`.
pub(crate) fn encode_hex(bytes: &[u8], out: &mut [u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
}

/// The 8-4-4-4-12 UUID form of 16 bytes, lowercase, as ASCII.
pub(crate) fn uuid_ascii(b: &[u8; 16]) -> [u8; 36] {
    let mut out = [b'-'; 36];
    for (bytes, at) in [(0..4, 0), (4..6, 9), (6..8, 14), (8..10, 19), (10..16, 24)] {
        let n = 2 * bytes.len();
        encode_hex(&b[bytes], &mut out[at..at + n]);
    }
    out
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    let mut buf = [0u8; 32];
    let out = &mut buf[..bytes.len() * 2];
    encode_hex(bytes, out);
    // Hex digits are ASCII, so this never fails.
    f.write_str(std::str::from_utf8(out).map_err(|_| fmt::Error)?)
}

/// Parses the 8-4-4-4-12 UUID form (lowercase or uppercase hex) into 16 bytes.
fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let mut hex = [0u8; 32];
    let mut n = 0;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            continue;
        }
        hex[n] = c.to_ascii_lowercase();
        n += 1;
    }
    let mut out = [0u8; 16];
    decode_lower_hex(&hex, &mut out)?;
    Some(out)
}

/// A 16-byte trace identifier, shared by every span of one trace.
///
/// `Display` prints the W3C form: 32 lowercase hex digits. Prela JSON writes it
/// in UUID form ([`TraceId::uuid`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// The all-zero id, which W3C Trace Context defines as invalid.
    pub const INVALID: TraceId = TraceId([0; 16]);

    /// Makes an id from its bytes (big-endian, as on the wire).
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        TraceId(bytes)
    }

    /// The id's bytes.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }

    /// Makes an id from a 128-bit integer (big-endian byte order).
    pub const fn from_u128(v: u128) -> Self {
        TraceId(v.to_be_bytes())
    }

    /// `false` for the all-zero id.
    pub fn is_valid(self) -> bool {
        self != Self::INVALID
    }

    /// Parses the W3C form: exactly 32 lowercase hex digits. The all-zero id
    /// parses (it is well-formed); check [`TraceId::is_valid`] where it matters.
    pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
        let mut out = [0u8; 16];
        decode_lower_hex(s.as_bytes(), &mut out)
            .ok_or_else(|| ParseIdError::new("trace id", s, "32 lowercase hex digits"))?;
        Ok(TraceId(out))
    }

    /// Parses the UUID form `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    pub fn from_uuid(s: &str) -> Result<Self, ParseIdError> {
        parse_uuid(s)
            .map(TraceId)
            .ok_or_else(|| ParseIdError::new("trace id", s, "a UUID (8-4-4-4-12 hex digits)"))
    }

    /// Parses either the W3C hex form or the UUID form.
    pub fn parse(s: &str) -> Result<Self, ParseIdError> {
        if s.len() == 36 {
            Self::from_uuid(s)
        } else {
            Self::from_hex(&s.to_ascii_lowercase()).map_err(|_| {
                ParseIdError::new("trace id", s, "32 hex digits or a UUID (8-4-4-4-12)")
            })
        }
    }

    /// A value that displays as the UUID form (8-4-4-4-12 lowercase hex).
    pub fn uuid(self) -> impl fmt::Display {
        UuidDisplay(self.0)
    }
}

struct UuidDisplay([u8; 16]);

impl fmt::Display for UuidDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = uuid_ascii(&self.0);
        // Hex digits and dashes are ASCII, so this never fails.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

/// An 8-byte span identifier.
///
/// `Display` prints 16 lowercase hex digits, the W3C and Prela JSON form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId([u8; 8]);

impl SpanId {
    /// The all-zero id, which W3C Trace Context defines as invalid.
    pub const INVALID: SpanId = SpanId([0; 8]);

    /// Makes an id from its bytes (big-endian, as on the wire).
    pub const fn from_bytes(bytes: [u8; 8]) -> Self {
        SpanId(bytes)
    }

    /// The id's bytes.
    pub const fn to_bytes(self) -> [u8; 8] {
        self.0
    }

    /// Makes an id from a 64-bit integer (big-endian byte order).
    pub const fn from_u64(v: u64) -> Self {
        SpanId(v.to_be_bytes())
    }

    /// `false` for the all-zero id.
    pub fn is_valid(self) -> bool {
        self != Self::INVALID
    }

    /// Parses the W3C form: exactly 16 lowercase hex digits.
    pub fn from_hex(s: &str) -> Result<Self, ParseIdError> {
        let mut out = [0u8; 8];
        decode_lower_hex(s.as_bytes(), &mut out)
            .ok_or_else(|| ParseIdError::new("span id", s, "16 lowercase hex digits"))?;
        Ok(SpanId(out))
    }

    /// Parses a span id as Prela JSON readers must: 16 hex digits, or a UUID
    /// (the Python SDK's span ids), of which the first 8 bytes are kept, as the
    /// Python SDK's own OTLP exporter does.
    pub fn parse(s: &str) -> Result<Self, ParseIdError> {
        if s.len() == 36 {
            let full = parse_uuid(s).ok_or_else(|| {
                ParseIdError::new("span id", s, "16 hex digits or a UUID (8-4-4-4-12)")
            })?;
            let mut out = [0u8; 8];
            out.copy_from_slice(&full[..8]);
            Ok(SpanId(out))
        } else {
            Self::from_hex(&s.to_ascii_lowercase()).map_err(|_| {
                ParseIdError::new("span id", s, "16 hex digits or a UUID (8-4-4-4-12)")
            })
        }
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// W3C trace flags: a bit field carried in `traceparent`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set: not sampled.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The `sampled` flag (bit 0).
    pub const SAMPLED: TraceFlags = TraceFlags(0x01);
    /// The W3C Trace Context Level 2 `random` flag (bit 1): the right-most
    /// 7 bytes of the trace id are random.
    pub const RANDOM: TraceFlags = TraceFlags(0x02);

    /// Makes flags from the raw byte; unknown bits are kept as they are.
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The raw byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 0x01 != 0
    }

    /// Whether the Level 2 random bit is set.
    pub const fn is_random(self) -> bool {
        self.0 & 0x02 != 0
    }

    /// These flags with the sampled bit set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            TraceFlags(self.0 | 0x01)
        } else {
            TraceFlags(self.0 & !0x01)
        }
    }

    /// These flags with the random bit set or cleared.
    #[must_use]
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            TraceFlags(self.0 | 0x02)
        } else {
            TraceFlags(self.0 & !0x02)
        }
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_hex_round_trip() {
        let s = "4bf92f3577b34da6a3ce929d0e0e4736";
        let id = TraceId::from_hex(s).unwrap();
        assert_eq!(id.to_string(), s);
        assert!(id.is_valid());
        assert!(
            !TraceId::from_hex("00000000000000000000000000000000")
                .unwrap()
                .is_valid()
        );
    }

    #[test]
    fn trace_id_rejects_bad_hex() {
        for bad in [
            "",
            "4bf92f3577b34da6a3ce929d0e0e473",
            "4bf92f3577b34da6a3ce929d0e0e47366",
            "4BF92F3577B34DA6A3CE929D0E0E4736",
            "4bf92f3577b34da6a3ce929d0e0e473g",
        ] {
            let err = TraceId::from_hex(bad).unwrap_err();
            assert!(err.to_string().contains("trace id"), "{err}");
        }
    }

    #[test]
    fn uuid_forms() {
        let u = "4d63af3a-e2bb-4dc8-91d1-2234dc133607";
        let id = TraceId::from_uuid(u).unwrap();
        assert_eq!(id.uuid().to_string(), u);
        assert_eq!(id.to_string(), "4d63af3ae2bb4dc891d12234dc133607");
        assert_eq!(TraceId::parse(u).unwrap(), id);
        assert_eq!(TraceId::parse(&id.to_string()).unwrap(), id);
        assert!(TraceId::from_uuid("4d63af3a-e2bb-4dc8-91d1_2234dc133607").is_err());
        let s = SpanId::parse("156f8189-616c-487a-8abe-aff2028011da").unwrap();
        assert_eq!(s.to_string(), "156f8189616c487a");
        assert_eq!(SpanId::parse("156f8189616c487a").unwrap(), s);
    }

    #[test]
    fn span_id_hex() {
        let id = SpanId::from_hex("00f067aa0ba902b7").unwrap();
        assert_eq!(id.to_string(), "00f067aa0ba902b7");
        assert_eq!(id, SpanId::from_u64(0x00f0_67aa_0ba9_02b7));
        assert!(SpanId::from_hex("00f067aa0ba902b").is_err());
        assert!(SpanId::from_hex("00F067AA0BA902B7").is_err());
    }

    #[test]
    fn flags() {
        let f = TraceFlags::new(0x03);
        assert!(f.is_sampled() && f.is_random());
        assert_eq!(f.with_sampled(false).bits(), 0x02);
        assert_eq!(TraceFlags::NONE.with_random(true).to_string(), "02");
    }
}
