//! End to end: 200,000 `llm.call` spans from one producer through the
//! default BatchProcessor and the OTLP exporter to a loopback receiver.
//! Prints delivered spans/s and what was dropped, per protocol.
//!
//! `cargo bench -p prela-export-otlp --bench e2e`
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use prela_core::{
    Event, Resource, SpanContext, SpanData, SpanId, SpanProcessor, SpanType, TraceFlags, TraceId,
};
use prela_export_otlp::grpc;
use prela_export_otlp::{Compression, OtlpExporter, Protocol};
use prela_testkit::{Reply, ScriptedServer};
use prela_transport::BatchProcessor;

const N: u64 = 200_000;

fn span(i: u64, resource: &Arc<Resource>) -> SpanData {
    let t0 = SystemTime::now();
    let cx = SpanContext::new(
        TraceId::from_u128(u128::from(i / 100 + 1)),
        SpanId::from_u64(i + 1),
        TraceFlags::SAMPLED,
    );
    let mut s = SpanData::new(cx, "llm.call", t0, t0 + Duration::from_micros(250));
    s.span_type = SpanType::Llm;
    s.resource = Arc::clone(resource);
    s.attributes = prela_testkit::llm_call_attributes();
    s.events = vec![Event::new("gen_ai.choice", t0, vec![])];
    s
}

/// `pace`: spans per second, or as fast as one thread can (`None`).
fn run(protocol: Protocol, compression: Compression, pace: Option<u64>) {
    let server = if protocol == Protocol::Grpc {
        let ok = Reply::Grpc {
            body: grpc::frame(&[], false),
            trailers: vec![("grpc-status".into(), b"0".to_vec())],
        };
        ScriptedServer::start_with_default(vec![], ok)
    } else {
        ScriptedServer::start(vec![])
    };
    let b = OtlpExporter::builder()
        .protocol(protocol)
        .compression(compression);
    let b = if protocol == Protocol::Grpc {
        b.endpoint(server.url())
    } else {
        b.base_endpoint(server.url())
    };
    let p = BatchProcessor::builder(b.build().unwrap()).build().unwrap();
    let resource = Arc::new(Resource::with_service_name("bench"));
    let start = Instant::now();
    for i in 0..N {
        if let Some(rate) = pace {
            let due = start + Duration::from_nanos(i * 1_000_000_000 / rate);
            while Instant::now() < due {
                std::hint::spin_loop();
            }
        }
        p.on_end(span(i, &resource));
    }
    let produced = start.elapsed();
    let r = p.shutdown(Instant::now() + Duration::from_secs(120));
    let total = start.elapsed();
    let s = p.stats();
    println!(
        "{protocol:?} {compression:?} {}: {} spans delivered in {:.2} s = {:.0} spans/s; dropped {}; produce {:.0} ns/span; {:.1} bytes/span on the wire; shutdown {}",
        pace.map_or_else(|| "full speed".to_owned(), |r| format!("paced at {r}/s")),
        s.exported,
        total.as_secs_f64(),
        s.exported as f64 / total.as_secs_f64(),
        s.dropped(),
        produced.as_nanos() as f64 / N as f64,
        s.bytes_sent as f64 / s.exported.max(1) as f64,
        if r.is_ok() { "Ok" } else { "reported losses" },
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo bench --list: nothing registered with criterion
    }
    for pace in [None, Some(100_000)] {
        run(Protocol::HttpProtobuf, Compression::None, pace);
        run(Protocol::HttpProtobuf, Compression::Gzip, pace);
        run(Protocol::HttpJson, Compression::None, pace);
        run(Protocol::Grpc, Compression::None, pace);
    }
}
