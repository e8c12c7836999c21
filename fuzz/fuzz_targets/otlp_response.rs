//! What a collector may answer: protobuf responses, gRPC frames and status
//! trailers, Retry-After values. No panic.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use prela_export_otlp::proto::collector::trace::v1::ExportTraceServiceResponse;
use prela_export_otlp::{grpc, parse_retry_after};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let _ = ExportTraceServiceResponse::decode(data);
    let _ = prela_export_otlp::decode_request(data);
    if let Some((_, msg)) = grpc::unframe(data) {
        let _ = ExportTraceServiceResponse::decode(msg);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse_retry_after(text, UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let mut parts = text.splitn(3, '\n');
        let mut trailers = HeaderMap::new();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            if let Some(v) = parts.next().and_then(|p| HeaderValue::from_str(p).ok()) {
                trailers.insert(name, v);
            }
        }
        if let Some(status) = grpc::GrpcStatus::from_metadata(&HeaderMap::new(), Some(&trailers)) {
            let _ = (status.is_retryable(), status.code_name());
        }
    }
});
