//! Text in configuration values.

/// Decodes the `%XX` escapes of a configuration value
/// (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`); `None` when
/// a `%` does not start two hex digits, or the result is not UTF-8, so that
/// a mistyped value fails instead of reaching a backend changed.
pub fn percent_decode(s: &str) -> Option<String> {
    let escapes_whole = s.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_whole {
        return None;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%3Dc").as_deref(), Some("a b=c"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        for bad in ["%", "%z1", "%FF", "%é", "%+1", "%%41", "a%2"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
