//! Configuration errors shared by every Prela crate.

use std::fmt;

/// A configuration value that could not be used: names the variable, the
/// value, and what was expected.
///
/// `{:?}` reads as the [`Display`](fmt::Display) sentence (a `main` that
/// returns it prints a sentence); `{:#?}` shows the fields.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: String,
    value: String,
    expected: String,
}

impl ConfigError {
    /// An error for `variable` set to `value`.
    pub fn new(
        variable: impl Into<String>,
        value: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError {
            variable: variable.into(),
            value: value.into(),
            expected: expected.into(),
        }
    }

    /// The variable's name.
    pub fn variable(&self) -> &str {
        &self.variable
    }

    /// The rejected value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid value {:?} for {}: expected {}",
            self.value, self.variable, self.expected
        )
    }
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !f.alternate() {
            return fmt::Display::fmt(self, f);
        }
        f.debug_struct("ConfigError")
            .field("variable", &self.variable)
            .field("value", &self.value)
            .field("expected", &self.expected)
            .finish()
    }
}

impl std::error::Error for ConfigError {}

/// Parses `value` of `variable` as a non-negative integer.
pub fn parse_usize(variable: &str, value: &str) -> Result<usize, ConfigError> {
    value
        .trim()
        .parse::<usize>()
        .map_err(|_| ConfigError::new(variable, value, "a non-negative integer"))
}

/// Parses `value` of `variable` as a boolean (`true`/`false`, `1`/`0`,
/// `yes`/`no`, `on`/`off`, any case).
pub fn parse_bool(variable: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::new(variable, value, "true or false")),
    }
}

/// Decodes `%XX` escapes (as in `OTEL_RESOURCE_ATTRIBUTES` and
/// `OTEL_EXPORTER_OTLP_HEADERS` values); `None` on a bad escape or invalid
/// UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(s.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_variable_and_value() {
        let e = parse_usize("OTEL_X", "ten").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"ten\" for OTEL_X: expected a non-negative integer"
        );
        assert!(parse_bool("PRELA_DEBUG", "TRUE").unwrap());
        assert!(!parse_bool("PRELA_DEBUG", "off").unwrap());
        assert!(parse_bool("PRELA_DEBUG", "maybe").is_err());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%3Dc").as_deref(), Some("a b=c"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        for bad in ["%", "%z1", "%FF", "%é"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }
}
