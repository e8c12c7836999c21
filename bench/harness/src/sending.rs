//! The `sending` workload: what shipping the spans costs with no SDK.
//!
//! The producer makes no spans; it only counts them, and every batch's
//! worth wakes a sender thread, which writes one fixed OTLP/HTTP protobuf
//! request to the endpoint over a plain blocking TCP connection and reads
//! the answer. The request holds a batch of the workload's spans, built
//! here with `opentelemetry-proto` (neither SDK's encoder), so both
//! binaries send the same bytes. What that costs at the pace, pacing
//! included, is a floor under the paced CPU of any SDK that ships as many
//! bytes over HTTP from a thread of its own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use prost::Message;

use crate::{Child, Config, SPANS_PER_TRACE, Sdk, ShutdownReport};

/// Spans per request: the default batch of both SDKs.
pub const BATCH: u64 = 512;

fn attribute(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

/// The workload's first `n` spans, in the order they end (each trace's
/// children, then its root), with made-up ids and times, as one request.
pub fn request_body(n: u64) -> Vec<u8> {
    let t0: u64 = 1_700_000_000_000_000_000;
    let mut spans = Vec::new();
    let mut trace = 0u64;
    while (spans.len() as u64) < n {
        let trace_id = (trace + 1).to_be_bytes().repeat(2);
        let root_id = (trace * SPANS_PER_TRACE + 1).to_be_bytes().to_vec();
        let mut children = (1..SPANS_PER_TRACE).map(|i| {
            let c = Child::nth(trace * (SPANS_PER_TRACE - 1) + i - 1);
            let start = t0 + (trace * SPANS_PER_TRACE + i) * 1_000;
            Span {
                trace_id: trace_id.clone(),
                span_id: (trace * SPANS_PER_TRACE + 1 + i).to_be_bytes().to_vec(),
                parent_span_id: root_id.clone(),
                name: "llm.call".to_owned(),
                kind: span::SpanKind::Client as i32,
                start_time_unix_nano: start,
                end_time_unix_nano: start + 900,
                attributes: vec![
                    attribute(
                        "gen_ai.request.model",
                        any_value::Value::StringValue(c.model.to_owned()),
                    ),
                    attribute(
                        "gen_ai.request.temperature",
                        any_value::Value::DoubleValue(c.temperature),
                    ),
                    attribute("llm.stream", any_value::Value::BoolValue(c.stream)),
                    attribute(
                        "tool.name",
                        any_value::Value::StringValue(c.tool.to_owned()),
                    ),
                    attribute(
                        "gen_ai.usage.input_tokens",
                        any_value::Value::IntValue(c.input_tokens),
                    ),
                    attribute(
                        "gen_ai.usage.output_tokens",
                        any_value::Value::IntValue(c.output_tokens),
                    ),
                ],
                events: vec![span::Event {
                    time_unix_nano: start + 800,
                    name: "gen_ai.choice".to_owned(),
                    ..span::Event::default()
                }],
                flags: 0x101,
                ..Span::default()
            }
        });
        spans.extend(children.by_ref());
        spans.push(Span {
            trace_id,
            span_id: root_id,
            name: "agent.run".to_owned(),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: t0 + trace * SPANS_PER_TRACE * 1_000,
            end_time_unix_nano: t0 + (trace + 1) * SPANS_PER_TRACE * 1_000,
            flags: 0x101,
            ..Span::default()
        });
        trace += 1;
    }
    spans.truncate(n as usize);
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![attribute(
                    "service.name",
                    any_value::Value::StringValue("bench".to_owned()),
                )],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".to_owned(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
    .encode_to_vec()
}

/// Whether `answer` holds a whole HTTP response (its head, and as many
/// body bytes as its `content-length` says).
fn answered(answer: &[u8]) -> bool {
    let Some(end) = answer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&answer[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    answer.len() >= end + 4 + length
}

/// Writes `request` once per wake-up and reads each answer; the number of
/// requests answered, when the wake-ups end.
fn send_all(
    mut stream: TcpStream,
    request: &[u8],
    woken: &mpsc::Receiver<()>,
) -> Result<u64, String> {
    let mut answer = vec![0u8; 4096];
    let mut sent = 0u64;
    while woken.recv().is_ok() {
        stream
            .write_all(request)
            .map_err(|e| format!("sending request {}: {e}", sent + 1))?;
        let mut got = 0;
        while !answered(&answer[..got]) {
            if got == answer.len() {
                return Err(format!("answer {} is over {got} bytes", sent + 1));
            }
            match stream.read(&mut answer[got..]) {
                Ok(0) => return Err("the receiver closed the connection".to_owned()),
                Ok(n) => got += n,
                Err(e) => return Err(format!("reading answer {}: {e}", sent + 1)),
            }
        }
        if !answer.starts_with(b"HTTP/1.1 200") {
            let line = String::from_utf8_lossy(&answer[..got.min(80)]).into_owned();
            return Err(format!("answer {} was {line:?}", sent + 1));
        }
        sent += 1;
    }
    Ok(sent)
}

/// The `sending` workload as an [`Sdk`]: see the module's text.
pub(crate) struct Sending {
    spans: AtomicU64,
    wake: Mutex<Option<mpsc::Sender<()>>>,
    sender: Mutex<Option<JoinHandle<Result<u64, String>>>>,
}

impl Sending {
    /// Connects to `config.endpoint` (`http://host:port/path`).
    pub(crate) fn new(config: &Config) -> Result<Sending, String> {
        let url = config.endpoint.strip_prefix("http://").ok_or_else(|| {
            format!(
                "sending needs an http:// endpoint, not {:?}",
                config.endpoint
            )
        })?;
        let (authority, path) = url
            .split_once('/')
            .ok_or_else(|| format!("no path in the endpoint {:?}", config.endpoint))?;
        let body = request_body(BATCH);
        let mut request = format!(
            "POST /{path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(&body);
        let stream =
            TcpStream::connect(authority).map_err(|e| format!("connecting to {authority}: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY on {authority}: {e}"))?;
        let (wake, woken) = mpsc::channel::<()>();
        let sender = std::thread::Builder::new()
            .name("bench-sender".to_owned())
            .spawn(move || send_all(stream, &request, &woken))
            .map_err(|e| format!("starting the sender thread: {e}"))?;
        Ok(Sending {
            spans: AtomicU64::new(0),
            wake: Mutex::new(Some(wake)),
            sender: Mutex::new(Some(sender)),
        })
    }
}

impl Sdk for Sending {
    fn trace(&self, _first_child: u64) {
        let before = self.spans.fetch_add(SPANS_PER_TRACE, Ordering::Relaxed);
        if (before + SPANS_PER_TRACE) / BATCH > before / BATCH
            && let Ok(wake) = self.wake.lock()
            && let Some(wake) = wake.as_ref()
        {
            // The sender has stopped only if it failed, which shutdown reports.
            let _ = wake.send(());
        }
    }

    fn discarded(&self) -> u64 {
        0
    }

    fn shutdown(&self, _timeout: Duration) -> ShutdownReport {
        if let Ok(mut wake) = self.wake.lock() {
            wake.take();
        }
        let joined = self
            .sender
            .lock()
            .ok()
            .and_then(|mut s| s.take())
            .map(JoinHandle::join);
        match joined {
            Some(Ok(Ok(_))) => ShutdownReport {
                ok: true,
                ..ShutdownReport::default()
            },
            Some(Ok(Err(e))) => ShutdownReport {
                message: e,
                ..ShutdownReport::default()
            },
            _ => ShutdownReport {
                message: "the sender thread was lost".to_owned(),
                ..ShutdownReport::default()
            },
        }
    }

    fn self_reported_dropped(&self) -> Option<u64> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_holds_a_batch_of_the_workloads_spans() {
        let body = request_body(BATCH);
        let req = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
        let spans = &req.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len() as u64, BATCH);
        let roots = spans.iter().filter(|s| s.name == "agent.run").count();
        assert_eq!(roots, (BATCH / SPANS_PER_TRACE) as usize);
        let child = &spans[0];
        assert_eq!(child.attributes.len(), 6);
        assert_eq!(child.events.len(), 1);
        assert_eq!(child.parent_span_id, spans[99].span_id);
        let mut ids: Vec<_> = spans.iter().map(|s| s.span_id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), spans.len(), "span ids are unique");
    }

    #[test]
    fn an_answer_is_whole_when_its_body_is_in() {
        assert!(!answered(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"));
        assert!(!answered(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{"));
        assert!(answered(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        assert!(answered(b"HTTP/1.1 200 OK\r\n\r\n"));
    }
}
