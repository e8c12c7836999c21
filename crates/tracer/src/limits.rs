//! Span limits: how many attributes and events a span keeps, and how long an
//! attribute value may be.

use prela_core::config::{ConfigError, parse_usize};

/// Limits applied while a span is recorded. Whatever goes over is dropped and
/// counted on the span (`dropped_attributes_count`, `dropped_events_count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpanLimits {
    /// Most attributes per span (default 128).
    pub max_attributes: usize,
    /// Most events per span (default 128).
    pub max_events: usize,
    /// Most attributes per event (default 128).
    pub max_attributes_per_event: usize,
    /// Longest string value in characters; `None` (default) for no limit.
    pub max_attribute_value_length: Option<usize>,
}

impl Default for SpanLimits {
    fn default() -> Self {
        SpanLimits {
            max_attributes: 128,
            max_events: 128,
            max_attributes_per_event: 128,
            max_attribute_value_length: None,
        }
    }
}

impl SpanLimits {
    /// Limits from the process environment (see [`SpanLimits::from_lookup`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        prela_core::config::check_environment()?;
        Self::from_lookup(&prela_core::config::env_var)
    }

    /// Limits from the OpenTelemetry variables `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, falling back to the general
    /// `OTEL_ATTRIBUTE_COUNT_LIMIT` and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |names: &[&str]| -> Result<Option<usize>, ConfigError> {
            for name in names {
                if let Some(v) = lookup(name).filter(|v| !v.trim().is_empty()) {
                    return parse_usize(name, &v).map(Some);
                }
            }
            Ok(None)
        };
        let d = SpanLimits::default();
        Ok(SpanLimits {
            max_attributes: get(&[
                "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ])?
            .unwrap_or(d.max_attributes),
            max_events: get(&["OTEL_SPAN_EVENT_COUNT_LIMIT"])?.unwrap_or(d.max_events),
            max_attributes_per_event: get(&[
                "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ])?
            .unwrap_or(d.max_attributes_per_event),
            max_attribute_value_length: get(&[
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_and_errors() {
        let l = SpanLimits::from_lookup(&|k| match k {
            "OTEL_ATTRIBUTE_COUNT_LIMIT" => Some("5".into()),
            "OTEL_SPAN_EVENT_COUNT_LIMIT" => Some("2".into()),
            "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT" => Some("10".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(l.max_attributes, 5);
        assert_eq!(l.max_attributes_per_event, 5);
        assert_eq!(l.max_events, 2);
        assert_eq!(l.max_attribute_value_length, Some(10));
        let e =
            SpanLimits::from_lookup(&|k| (k == "OTEL_SPAN_EVENT_COUNT_LIMIT").then(|| "-1".into()))
                .unwrap_err();
        assert!(e.to_string().contains("OTEL_SPAN_EVENT_COUNT_LIMIT"));
        assert!(e.to_string().contains("\"-1\""));
    }
}
