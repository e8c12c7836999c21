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
}

/// Reads `name` from the process environment, the one way every Prela
/// crate does: `None` when unset or not UTF-8 (a value that is not UTF-8
/// fails [`check_environment`], which every builder reading the process
/// environment calls first, so it is never silently ignored).
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Fails, naming the variable, when a `PRELA_*` or `OTEL_*` variable of
/// the process holds a value that is not UTF-8: such a value would
/// otherwise read as unset (a header with the API key dropped, a sample
/// rate back to keep-everything).
pub fn check_environment() -> Result<(), ConfigError> {
    check_vars(std::env::vars_os())
}

/// [`check_environment`] over the given variables.
pub fn check_vars(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Result<(), ConfigError> {
    for (k, v) in vars {
        let Some(k) = k.to_str() else { continue };
        if (k.starts_with("PRELA_") || k.starts_with("OTEL_")) && v.to_str().is_none() {
            // The value is not shown: it may be a secret (a header list).
            return Err(ConfigError::new(
                k,
                "<not UTF-8>",
                "UTF-8 text (the value has bytes that are not)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod env_tests {
    #[test]
    fn ports_are_checked() {
        for ok in [
            "h",
            "h:1",
            "h:65535",
            "u@h:443",
            "[::1]:4318",
            "[::1]",
            "h:",
        ] {
            assert!(super::check_port(ok).is_ok(), "{ok}");
        }
        for bad in ["h:0", "h:65536", "h:99999999999", "[::1]:70000", "h:x1"] {
            assert!(super::check_port(bad).is_err(), "{bad}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn values_that_are_not_utf8_are_named() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(vec![b'a', 0xff]);
        let ok = OsString::from("1");
        let e = super::check_vars([
            (OsString::from("PATH"), bad.clone()),
            (OsString::from("PRELA_SAMPLE_RATE"), ok.clone()),
        ]);
        assert!(e.is_ok(), "only the SDK's variables are checked");
        let e =
            super::check_vars([(OsString::from("OTEL_EXPORTER_OTLP_HEADERS"), bad)]).unwrap_err();
        assert_eq!(e.variable(), "OTEL_EXPORTER_OTLP_HEADERS");
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }
}

/// Checks the port of a URL's authority (`host`, `host:port`,
/// `user@host:port`, `[::1]:port`): when one is written it must be a number
/// from 1 to 65535. An HTTP library given `:65536` or `:99999999999` reads
/// no port and falls back to the scheme's (80 or 443), and port 0 cannot be
/// connected to: both are configuration errors, found at build time.
pub fn check_port(authority: &str) -> Result<(), String> {
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let port = match host_port.rfind(']') {
        // An IPv6 literal: a port follows the bracket, after a ':'.
        Some(end) => host_port[end + 1..].strip_prefix(':'),
        None => host_port.rsplit_once(':').map(|(_, p)| p),
    };
    match port {
        None | Some("") => Ok(()),
        Some(p) => match p.parse::<u16>() {
            Ok(0) => Err("port 0 is not a port to connect to".to_owned()),
            Ok(_) => Ok(()),
            Err(_) => Err(format!("port {p:?} is not a number from 1 to 65535")),
        },
    }
}
