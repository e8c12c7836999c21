//! [`LogExporter`]: finished spans as `tracing` events, for teams who ship
//! logs rather than traces.

use std::fmt;

use prela_core::{ExportResult, SpanData, SpanExporter};
use tracing::Level;

/// Emits one `tracing` event per finished span, target `prela::span`, at a
/// configurable level, with the span's fields: `trace_id`, `span_id`,
/// `parent_span_id`, `name`, `span_type`, `status`, `duration_ms`,
/// `attributes` (JSON) and `events` (count).
#[derive(Clone, Copy)]
pub struct LogExporter {
    level: Level,
}

impl fmt::Debug for LogExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogExporter")
            .field("level", &self.level)
            .finish()
    }
}

impl Default for LogExporter {
    fn default() -> Self {
        LogExporter { level: Level::INFO }
    }
}

impl LogExporter {
    /// Events at `level`.
    pub fn new(level: Level) -> Self {
        LogExporter { level }
    }
}

macro_rules! span_event {
    ($level:expr, $s:expr, $attrs:expr) => {
        tracing::event!(
            target: "prela::span",
            $level,
            trace_id = %$s.span_context.trace_id,
            span_id = %$s.span_context.span_id,
            parent_span_id = $s.parent_span_id.map(|p| p.to_string()).unwrap_or_default(),
            name = %$s.name,
            span_type = $s.span_type.as_str(),
            status = $s.status.as_str(),
            status_message = $s.status_message().unwrap_or(""),
            duration_ms = $s.duration().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            attributes = %$attrs,
            events = $s.events.len(),
            "span {}", $s.name
        )
    };
}

impl SpanExporter for LogExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        for s in batch {
            let mut attrs = serde_json::Map::new();
            for kv in &s.attributes {
                let v =
                    serde_json::from_str(&kv.value.to_string()).unwrap_or(serde_json::Value::Null);
                attrs.insert(kv.key.as_str().to_owned(), v);
            }
            let attrs = serde_json::Value::Object(attrs);
            match self.level {
                Level::ERROR => span_event!(Level::ERROR, s, attrs),
                Level::WARN => span_event!(Level::WARN, s, attrs),
                Level::INFO => span_event!(Level::INFO, s, attrs),
                Level::DEBUG => span_event!(Level::DEBUG, s, attrs),
                _ => span_event!(Level::TRACE, s, attrs),
            }
        }
        ExportResult::Success
    }
}
