//! Attribute and event vectors go round: tracer → batch queue → exporter →
//! pool → tracer. Nothing of an earlier span may show in a later one that
//! reuses its vectors.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prela_core::{
    ExportResult, KeyValue, Resource, SpanData, SpanExporter, SpanProcessor, SpanType, Status,
    Value,
};
use prela_tracer::Tracer;
use prela_transport::BatchProcessor;

#[derive(Default)]
struct Keep(Mutex<Vec<SpanData>>);

impl SpanExporter for Keep {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        self.0.lock().unwrap().extend_from_slice(batch);
        ExportResult::Success
    }
}

/// What span `i` is given: its attribute and event count, whether its name
/// is owned, whether it fails.
fn shape(i: u64) -> (u64, u64, bool, bool) {
    (i % 7, i % 3, i % 5 == 0, i % 4 == 0)
}

#[test]
fn recycled_vectors_carry_nothing_from_earlier_spans() {
    let keep = Arc::new(Keep::default());
    let processor = Arc::new(
        BatchProcessor::builder_shared(keep.clone())
            .max_queue_size(4096)
            .max_export_batch_size(64)
            .scheduled_delay(Duration::from_millis(5))
            .build()
            .unwrap(),
    );
    let a = Tracer::builder()
        .service_name("a")
        .shared_processor(processor.clone())
        .build();
    let b = Tracer::builder()
        .resource(Resource::with_service_name("b"))
        .shared_processor(processor.clone())
        .build();
    let total = 6000u64;
    for i in 0..total {
        let tracer = if i % 2 == 0 { &a } else { &b };
        let (attrs, events, owned, fails) = shape(i);
        let name = if owned {
            prela_core::value::Str::Owned(format!("owned {i}"))
        } else {
            "static".into()
        };
        let mut builder = tracer.span_builder(name).span_type(SpanType::Tool).root();
        for k in 0..attrs {
            builder = builder.attribute(format!("k{k}"), i as i64);
        }
        let mut span = builder.start();
        span.set_attribute("i", i as i64);
        for e in 0..events {
            span.add_event("e", vec![KeyValue::new("e", e as i64)]);
        }
        if fails {
            span.set_status(Status::error(format!("failed {i}")));
        }
        span.end();
        if i % 512 == 0 {
            // Let the worker catch up now and then, so boxes come back
            // while spans are still being made.
            processor
                .force_flush(Instant::now() + Duration::from_secs(5))
                .unwrap();
        }
    }
    processor
        .shutdown(Instant::now() + Duration::from_secs(10))
        .unwrap();
    let spans = keep.0.lock().unwrap();
    assert_eq!(spans.len() as u64, total);
    for s in spans.iter() {
        let Some(Value::I64(i)) = s.attribute("i").cloned() else {
            panic!("span without its number: {s:?}");
        };
        let i = i as u64;
        let (attrs, events, owned, fails) = shape(i);
        assert_eq!(s.attributes.len() as u64, attrs + 1, "span {i}: {s:?}");
        for kv in &s.attributes {
            assert_eq!(kv.value, Value::I64(i as i64), "span {i}: {s:?}");
        }
        assert_eq!(s.events.len() as u64, events, "span {i}");
        let name = if owned {
            format!("owned {i}")
        } else {
            "static".into()
        };
        assert_eq!(s.name, name);
        assert_eq!(s.span_type, SpanType::Tool);
        assert!(s.parent_span_id.is_none());
        assert_eq!(s.status.is_error(), fails, "span {i}: {:?}", s.status);
        assert!(s.end_time.is_some_and(|e| e >= s.start_time));
        assert_eq!(
            s.resource.service_name(),
            Some(if i % 2 == 0 { "a" } else { "b" }),
            "span {i}"
        );
    }
}
