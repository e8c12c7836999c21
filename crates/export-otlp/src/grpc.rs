//! OTLP/gRPC without tonic: length-prefixed message frames, `grpc-status`
//! and `grpc-message` trailers, and `google.rpc.Status` details carrying
//! `RetryInfo`.

use std::time::Duration;

use http::HeaderMap;

/// The gRPC path of the OTLP trace service.
pub const TRACE_EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// Frames one message: a compressed flag byte, a 4-byte big-endian length,
/// the bytes.
pub fn frame(message: &[u8], compressed: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(u8::from(compressed));
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

/// The first message of a response body: `(compressed, bytes)`, or `None`
/// when the body holds no complete frame.
pub fn unframe(body: &[u8]) -> Option<(bool, &[u8])> {
    let (&flag, rest) = body.split_first()?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    Some((flag == 1, rest.get(4..4 + len)?))
}

/// `google.protobuf.Duration`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub(crate) struct ProtoDuration {
    /// Whole seconds.
    #[prost(int64, tag = "1")]
    pub(crate) seconds: i64,
    /// Nanoseconds.
    #[prost(int32, tag = "2")]
    pub(crate) nanos: i32,
}

/// `google.rpc.RetryInfo`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub(crate) struct RetryInfo {
    /// How long to wait.
    #[prost(message, optional, tag = "1")]
    pub(crate) retry_delay: Option<ProtoDuration>,
}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub(crate) struct ProtoAny {
    /// The type URL.
    #[prost(string, tag = "1")]
    pub(crate) type_url: String,
    /// The message.
    #[prost(bytes = "vec", tag = "2")]
    pub(crate) value: Vec<u8>,
}

/// `google.rpc.Status`.
#[derive(Clone, PartialEq, ::prost::Message)]
pub(crate) struct RpcStatus {
    /// The gRPC code.
    #[prost(int32, tag = "1")]
    pub(crate) code: i32,
    /// The message.
    #[prost(string, tag = "2")]
    pub(crate) message: String,
    /// Details such as `RetryInfo`.
    #[prost(message, repeated, tag = "3")]
    pub(crate) details: Vec<ProtoAny>,
}

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The status of a gRPC answer, from trailers (or, for a trailers-only
/// answer, from the headers).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrpcStatus {
    /// The code (0 is OK).
    pub code: i32,
    /// `grpc-message`, percent-decoded.
    pub message: String,
    /// The delay a `RetryInfo` detail asks for.
    pub retry_after: Option<Duration>,
}

/// `grpc-status-details-bin`: base64, padded or not (gRPC allows both).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const BIN: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    BIN.decode(s.trim()).ok()
}

impl GrpcStatus {
    /// Reads the status from trailers, falling back to headers; `None` if
    /// neither carries `grpc-status`.
    pub fn from_metadata(headers: &HeaderMap, trailers: Option<&HeaderMap>) -> Option<Self> {
        let map = trailers
            .filter(|t| t.contains_key("grpc-status"))
            .unwrap_or(headers);
        let code = map.get("grpc-status")?.to_str().ok()?.trim().parse().ok()?;
        let message = map
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .map(|m| {
                // Percent-encoded, as gRPC sends it; a bad escape is kept.
                percent_encoding::percent_decode_str(m)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .unwrap_or_default();
        let retry_after = map
            .get("grpc-status-details-bin")
            .and_then(|v| v.to_str().ok())
            .and_then(base64_decode)
            .and_then(|bytes| <RpcStatus as prost::Message>::decode(bytes.as_slice()).ok())
            .and_then(|status| {
                status
                    .details
                    .iter()
                    .find(|d| d.type_url == RETRY_INFO_TYPE)
                    .and_then(|d| <RetryInfo as prost::Message>::decode(d.value.as_slice()).ok())
            })
            .and_then(|info| info.retry_delay)
            .map(|d| {
                Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0))
                    .saturating_add(Duration::from_nanos(u64::try_from(d.nanos).unwrap_or(0)))
            });
        Some(GrpcStatus {
            code,
            message,
            retry_after,
        })
    }

    /// Whether the OTLP specification says to retry this code:
    /// CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
    /// DATA_LOSS, and RESOURCE_EXHAUSTED when the server sent `RetryInfo`.
    pub fn is_retryable(&self) -> bool {
        match self.code {
            1 | 4 | 10 | 11 | 14 | 15 => true,
            8 => self.retry_after.is_some(),
            _ => false,
        }
    }

    /// The code's name.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            0 => "OK",
            1 => "CANCELLED",
            2 => "UNKNOWN",
            3 => "INVALID_ARGUMENT",
            4 => "DEADLINE_EXCEEDED",
            5 => "NOT_FOUND",
            6 => "ALREADY_EXISTS",
            7 => "PERMISSION_DENIED",
            8 => "RESOURCE_EXHAUSTED",
            9 => "FAILED_PRECONDITION",
            10 => "ABORTED",
            11 => "OUT_OF_RANGE",
            12 => "UNIMPLEMENTED",
            13 => "INTERNAL",
            14 => "UNAVAILABLE",
            15 => "DATA_LOSS",
            16 => "UNAUTHENTICATED",
            _ => "UNKNOWN CODE",
        }
    }
}

/// The gRPC code for an HTTP status from a proxy in front of a gRPC server
/// (the gRPC HTTP-to-status mapping).
pub fn code_for_http_status(status: u16) -> i32 {
    match status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502..=504 => 14,
        _ => 2,
    }
}

/// Encodes a `google.rpc.Status` with a `RetryInfo` detail, base64, as the
/// `grpc-status-details-bin` trailer carries it (used by tests and by
/// servers built on this crate).
pub fn status_details_with_retry(code: i32, message: &str, delay: Duration) -> Vec<u8> {
    let info = RetryInfo {
        retry_delay: Some(ProtoDuration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let status = RpcStatus {
        code,
        message: message.to_owned(),
        details: vec![ProtoAny {
            type_url: RETRY_INFO_TYPE.to_owned(),
            value: prost::Message::encode_to_vec(&info),
        }],
    };
    prost::Message::encode_to_vec(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(b"hello", false);
        assert_eq!(&f[..5], &[0, 0, 0, 0, 5]);
        assert_eq!(unframe(&f), Some((false, &b"hello"[..])));
        assert_eq!(unframe(&f[..7]), None);
        assert_eq!(unframe(&[]), None);
    }

    #[test]
    fn status_from_trailers_with_retry_info() {
        let details = status_details_with_retry(8, "slow down", Duration::from_millis(1500));
        let b64 = {
            const T: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = String::new();
            for c in details.chunks(3) {
                let n = (u32::from(c[0]) << 16)
                    | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                    | u32::from(*c.get(2).unwrap_or(&0));
                for i in 0..=c.len() {
                    s.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
                }
            }
            s
        };
        let mut t = HeaderMap::new();
        t.insert("grpc-status", "8".parse().unwrap());
        t.insert("grpc-message", "too%20many%20spans".parse().unwrap());
        t.insert("grpc-status-details-bin", b64.parse().unwrap());
        let s = GrpcStatus::from_metadata(&HeaderMap::new(), Some(&t)).unwrap();
        assert_eq!(s.message, "too many spans");
        assert_eq!(s.retry_after, Some(Duration::from_millis(1500)));
        assert!(s.is_retryable());
        t.remove("grpc-status-details-bin");
        let s = GrpcStatus::from_metadata(&HeaderMap::new(), Some(&t)).unwrap();
        assert!(
            !s.is_retryable(),
            "RESOURCE_EXHAUSTED without RetryInfo is permanent"
        );
    }
}
