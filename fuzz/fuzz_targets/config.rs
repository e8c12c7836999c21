//! Configuration parsing from the environment, ids and timestamps: any
//! value gives a value or a clear error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const VARS: [&str; 13] = [
    "PRELA_SAMPLE_RATE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_CONCURRENT_EXPORTS",
    "OTEL_RESOURCE_ATTRIBUTES",
    "PRELA_EXPORTER",
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let values: Vec<&str> = text.split('\n').collect();
    let lookup = |k: &str| {
        VARS.iter()
            .position(|v| *v == k)
            .and_then(|i| values.get(i))
            .map(|s| (*s).to_owned())
    };
    if let Err(e) = prela_sampling::from_lookup(&lookup) {
        assert!(!e.to_string().is_empty());
    }
    let _ = prela_tracer::SpanLimits::from_lookup(&lookup);
    let _ = prela_transport::BatchConfig::from_lookup(&lookup);
    let _ = prela::parse_resource_attributes(text);
    let _ = prela_core::TraceId::parse(text);
    let _ = prela_core::SpanId::parse(text);
    if let Ok(t) = prela_core::time::parse_timestamp(text) {
        let s = prela_core::time::format_timestamp(t);
        assert!(prela_core::time::parse_timestamp(&s).is_ok(), "{s}");
    }
});
