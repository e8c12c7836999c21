//! Attribute values of any shape and depth (arrays and maps nested
//! thousands deep, as a program can build them): set on a span, on an
//! event and through `serde_json::Value`, then redacted and encoded as
//! Prela JSON and OTLP. Nothing recurses without bound: what is stored is
//! at most `MAX_DEPTH` deep, a cut is counted, and the encodings read
//! back.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prela_core::value::{MAX_DEPTH, Str, Value};
use prela_core::{KeyValue, SpanData};
use prela_testkit::Collect;
use prela_tracer::Tracer;

/// Builds a value from the input, one byte an instruction.
fn build(data: &[u8]) -> Value {
    // Open containers: their items, and whether each is a map.
    let mut stack: Vec<(Vec<(Str, Value)>, bool)> = vec![(Vec::new(), false)];
    fn close(stack: &mut Vec<(Vec<(Str, Value)>, bool)>) {
        if stack.len() > 1 {
            if let Some((items, is_map)) = stack.pop() {
                let v = if is_map {
                    Value::Map(items)
                } else {
                    Value::Array(items.into_iter().map(|(_, v)| v).collect())
                };
                if let Some((top, _)) = stack.last_mut() {
                    top.push((format!("k{}", top.len()).into(), v));
                }
            }
        }
    }
    for (i, b) in data.iter().enumerate() {
        let leaf = match b % 8 {
            0 | 1 => {
                stack.push((Vec::new(), b % 8 == 1));
                continue;
            }
            2 => {
                close(&mut stack);
                continue;
            }
            3 => Value::I64(i as i64),
            4 => Value::from("text ".repeat(*b as usize % 5)),
            5 => Value::F64(f64::from(*b) / 3.0),
            6 => Value::Bool(*b > 128),
            _ => Value::Null,
        };
        if let Some((top, _)) = stack.last_mut() {
            top.push((format!("k{i}").into(), leaf));
        }
    }
    while stack.len() > 1 {
        close(&mut stack);
    }
    let (items, _) = stack.pop().unwrap_or_default();
    Value::Array(items.into_iter().map(|(_, v)| v).collect())
}

/// Levels of arrays and maps (a scalar is 0 deep; `[1]` is 1).
fn depth(v: &Value) -> usize {
    // Iterative: the value may be as deep as the input is long.
    let mut deepest = 0;
    let mut todo = vec![(v, 1usize)];
    while let Some((v, d)) = todo.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(d);
                todo.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Map(kvs) => {
                deepest = deepest.max(d);
                todo.extend(kvs.iter().map(|(_, v)| (v, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

fn tracer() -> &'static (Tracer, Collect) {
    static T: OnceLock<(Tracer, Collect)> = OnceLock::new();
    T.get_or_init(|| {
        let c = Collect::default();
        let t = Tracer::builder().processor(c.clone()).build();
        (t, c)
    })
}

fuzz_target!(|data: &[u8]| {
    let value = build(data);
    let deep = depth(&value) > MAX_DEPTH;
    let json = prela_core::json::value_to_string(&value).ok();
    let (t, c) = tracer();
    {
        let mut s = t.start_span("nested");
        s.set_attribute("v", value.clone());
        if let Some(j) = json
            .as_deref()
            .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
        {
            s.set_attribute("from_serde", j);
        }
        s.add_event("e", vec![KeyValue::new("v", value)]);
    }
    let spans: Vec<SpanData> = c.take();
    for mut span in spans {
        for kv in span
            .attributes
            .iter()
            .chain(span.events.iter().flat_map(|e| e.attributes.iter()))
        {
            assert!(
                depth(&kv.value) <= MAX_DEPTH,
                "stored deeper than the limit"
            );
        }
        if deep {
            assert!(span.dropped_attributes_count > 0, "a cut is counted");
        }
        prela_transport::RedactionRules::strict().apply(&mut span);
        let line = prela_core::json::span_to_string(&span).expect("Prela JSON");
        let back = prela_core::json::parse_span(&line).expect("reads back");
        assert_eq!(back.attributes.len(), span.attributes.len());
        let req = prela_export_otlp::encode::request(std::slice::from_ref(&span));
        let bytes = prela_export_otlp::encode::to_protobuf(&req);
        prela_export_otlp::decode_request(&bytes).expect("OTLP reads back");
        let _ = prela_export_otlp::json::encode_request(std::slice::from_ref(&span));
    }
});
