//! Every variable the SDK reads, set to any bytes: a value that is not
//! UTF-8 fails naming its variable (never read as unset); UTF-8 values
//! build the whole configuration (exporters, endpoints, headers, sampler,
//! limits, batching) or fail in one sentence naming a variable, never a
//! panic.
#![no_main]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;

/// The variables, in the order the input's lines fill them. Paths the SDK
/// would read or create (certificates, the trace directory) are left out:
/// a fuzzed `/dev/stdin` would block, and directories would be made.
const VARS: [&str; 26] = [
    "PRELA_EXPORTER",
    "OTEL_TRACES_EXPORTER",
    "PRELA_SERVICE_NAME",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "PRELA_SAMPLE_RATE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "PRELA_DEBUG",
    "PRELA_CONSOLE_OUTPUT",
    "PRELA_FILE_LAYOUT",
    "PRELA_API_KEY",
    "PRELA_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
];

fuzz_target!(|data: &[u8]| {
    let values: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let vars: Vec<(&str, &[u8])> = VARS.iter().copied().zip(values.iter().copied()).collect();
    let check = prela_core::config::check_vars(
        vars.iter()
            .map(|(k, v)| (OsString::from(*k), OsString::from_vec(v.to_vec()))),
    );
    let first_bad = vars.iter().find(|(_, v)| std::str::from_utf8(v).is_err());
    match (check, first_bad) {
        (Err(e), Some((name, _))) => {
            assert_eq!(e.variable(), *name);
            assert!(!e.to_string().contains('\n'), "{e}");
        }
        (Ok(()), None) => {}
        (check, bad) => panic!("{check:?} for a bad value in {bad:?}"),
    }
    if first_bad.is_some() {
        return;
    }
    let text: Vec<(String, String)> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect();
    let lookup = move |k: &str| text.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match prela::init().env(lookup).build() {
        Ok((tracer, _)) => {
            let _ = tracer.shutdown(prela_core::deadline_in(Duration::from_millis(50)));
        }
        Err(e) => {
            let line = e.to_string();
            // One line: a value with a line break in it is quoted, escaped.
            assert!(!line.is_empty() && !line.contains('\n'), "{line}");
        }
    }
});
