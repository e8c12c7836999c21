//! The Prela JSON reader: no panic on any line, and a span it reads can be
//! written and read back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for r in prela_core::json::read_jsonl(text.as_bytes()) {
        if let Ok(span) = r {
            let line = prela_core::json::span_to_string(&span).expect("a read span writes");
            let again = prela_core::json::parse_span(&line).expect("what we write, we read");
            assert_eq!(again.span_context.span_id, span.span_context.span_id);
            assert_eq!(again.name, span.name);
        }
    }
});
