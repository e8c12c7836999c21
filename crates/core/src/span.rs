//! The finished span: [`SpanData`] and the types it is made of.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::context::SpanContext;
use crate::id::SpanId;
use crate::value::{Key, KeyValue, Str, Value};

/// What kind of work a span records, as the Prela format names it.
#[allow(clippy::exhaustive_enums)] // the set is fixed by the Prela span format
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanType {
    /// An agent run or step.
    Agent,
    /// A call to a large language model.
    Llm,
    /// A tool or function call.
    Tool,
    /// A retrieval from a document store or search index.
    Retrieval,
    /// An embedding computation.
    Embedding,
    /// Anything else.
    #[default]
    Custom,
}

impl SpanType {
    /// Every span type, in format order.
    pub const ALL: [SpanType; 6] = [
        SpanType::Agent,
        SpanType::Llm,
        SpanType::Tool,
        SpanType::Retrieval,
        SpanType::Embedding,
        SpanType::Custom,
    ];

    /// The lowercase name used in Prela JSON (`agent`, `llm`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            SpanType::Agent => "agent",
            SpanType::Llm => "llm",
            SpanType::Tool => "tool",
            SpanType::Retrieval => "retrieval",
            SpanType::Embedding => "embedding",
            SpanType::Custom => "custom",
        }
    }
}

impl fmt::Display for SpanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a span type name that is not one of the six.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSpanTypeError(String);

impl fmt::Display for ParseSpanTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown span type {:?}: expected one of agent, llm, tool, retrieval, embedding, custom",
            self.0
        )
    }
}

impl std::error::Error for ParseSpanTypeError {}

impl FromStr for SpanType {
    type Err = ParseSpanTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SpanType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| ParseSpanTypeError(s.chars().take(64).collect()))
    }
}

/// The outcome of a span.
#[allow(clippy::exhaustive_enums)] // the set is fixed by the Prela span format
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Not decided yet. Ending a span turns `Pending` into `Success`.
    #[default]
    Pending,
    /// The work succeeded.
    Success,
    /// The work failed; the message says why (it may be empty).
    Error {
        /// What went wrong.
        message: Str,
    },
}

impl Status {
    /// An error status with a message.
    pub fn error(message: impl Into<Str>) -> Self {
        Status::Error {
            message: message.into(),
        }
    }

    /// The lowercase name used in Prela JSON.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Success => "success",
            Status::Error { .. } => "error",
        }
    }

    /// `true` for `Error`.
    pub const fn is_error(&self) -> bool {
        matches!(self, Status::Error { .. })
    }
}

/// Something that happened at a point in time during a span.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// Event name, e.g. `llm.request` or `exception`.
    pub name: Str,
    /// When it happened.
    pub timestamp: SystemTime,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the span limits.
    pub dropped_attributes_count: u32,
}

impl Event {
    /// Makes an event.
    pub fn new(name: impl Into<Str>, timestamp: SystemTime, attributes: Vec<KeyValue>) -> Self {
        Event {
            name: name.into(),
            timestamp,
            attributes,
            dropped_attributes_count: 0,
        }
    }
}

/// The entity producing spans: a service, with `service.name` and whatever
/// else describes it (`telemetry.sdk.*`, deployment attributes, ...).
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
pub struct Resource {
    /// The resource attributes, in order, keys unique.
    pub attributes: Vec<KeyValue>,
}

/// The `service.name` attribute key.
pub const SERVICE_NAME: Key = Key::from_static("service.name");

impl Resource {
    /// An empty resource.
    pub fn empty() -> Self {
        Resource::default()
    }

    /// A resource with only `service.name`.
    pub fn with_service_name(name: impl Into<Str>) -> Self {
        Resource {
            attributes: vec![KeyValue::new(SERVICE_NAME, Value::String(name.into()))],
        }
    }

    /// Adds or replaces an attribute.
    pub fn set(&mut self, kv: KeyValue) {
        match self.attributes.iter_mut().find(|a| a.key == kv.key) {
            Some(slot) => slot.value = kv.value,
            None => self.attributes.push(kv),
        }
    }

    /// The value of an attribute.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.value)
    }

    /// `service.name`, if set.
    pub fn service_name(&self) -> Option<&str> {
        self.get(SERVICE_NAME.as_str()).and_then(Value::as_str)
    }
}

/// A finished span, as exporters receive it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SpanData {
    /// Trace id, span id, flags and trace state.
    pub span_context: SpanContext,
    /// The parent's span id; `None` for a root span.
    pub parent_span_id: Option<SpanId>,
    /// `true` when the parent lives in another process.
    pub parent_is_remote: bool,
    /// The span name, e.g. `chat gpt-4o` or `research_agent`.
    pub name: Str,
    /// What kind of work this is.
    pub span_type: SpanType,
    /// When the span started.
    pub start_time: SystemTime,
    /// When it ended. Always `Some` for spans made by this SDK; `None` only
    /// for unfinished spans read from a file.
    pub end_time: Option<SystemTime>,
    /// The outcome.
    pub status: Status,
    /// Attributes in insertion order, keys unique.
    pub attributes: Vec<KeyValue>,
    /// Events in the order they were added.
    pub events: Vec<Event>,
    /// Attributes dropped by the span limits.
    pub dropped_attributes_count: u32,
    /// Events dropped by the span limits.
    pub dropped_events_count: u32,
    /// The resource of the process that made the span. Spans of one
    /// tracer carry its `Arc`; spans of several tracers (or read from a
    /// file) may carry equal resources in different `Arc`s: compare
    /// resources by value.
    pub resource: Arc<Resource>,
    /// The Python SDK's replay capture, kept as is when read from a file.
    pub replay_snapshot: Option<Value>,
}

impl SpanData {
    /// A finished span with no attributes or events and status `Success`;
    /// set the other fields directly.
    pub fn new(
        span_context: SpanContext,
        name: impl Into<Str>,
        start_time: SystemTime,
        end_time: SystemTime,
    ) -> Self {
        SpanData {
            span_context,
            parent_span_id: None,
            parent_is_remote: false,
            name: name.into(),
            span_type: SpanType::Custom,
            start_time,
            end_time: Some(end_time),
            status: Status::Success,
            attributes: Vec::new(),
            events: Vec::new(),
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            resource: Arc::new(Resource::empty()),
            replay_snapshot: None,
        }
    }

    /// A span that has just started: status `Pending`, no end time, no
    /// attributes or events yet. Tracers use this; it allocates nothing.
    pub fn started(
        span_context: SpanContext,
        parent_span_id: Option<SpanId>,
        name: impl Into<Str>,
        span_type: SpanType,
        start_time: SystemTime,
        resource: Arc<Resource>,
    ) -> Self {
        SpanData::started_with(
            span_context,
            parent_span_id,
            false,
            name.into(),
            span_type,
            start_time,
            Vec::new(),
            resource,
        )
    }

    /// [`SpanData::started`] with its attributes, and whether its parent
    /// is remote, given up front (one construction where setting them
    /// afterwards would write the span twice).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub fn started_with(
        span_context: SpanContext,
        parent_span_id: Option<SpanId>,
        parent_is_remote: bool,
        name: Str,
        span_type: SpanType,
        start_time: SystemTime,
        attributes: Vec<KeyValue>,
        resource: Arc<Resource>,
    ) -> Self {
        SpanData {
            span_context,
            parent_span_id,
            parent_is_remote,
            name,
            span_type,
            start_time,
            end_time: None,
            status: Status::Pending,
            attributes,
            events: Vec::new(),
            dropped_attributes_count: 0,
            dropped_events_count: 0,
            resource,
            replay_snapshot: None,
        }
    }

    /// The value of an attribute.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|a| a.key.as_str() == key)
            .map(|a| &a.value)
    }

    /// How long the span took, if it ended (zero if the clock went back).
    pub fn duration(&self) -> Option<Duration> {
        self.end_time
            .map(|end| end.duration_since(self.start_time).unwrap_or_default())
    }

    /// `true` for a span with no parent in this trace.
    pub fn is_root(&self) -> bool {
        self.parent_span_id.is_none()
    }

    /// The status message, if the status is an error with a message.
    pub fn status_message(&self) -> Option<&str> {
        match &self.status {
            Status::Error { message } if !message.is_empty() => Some(message),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn span_type_names() {
        for t in SpanType::ALL {
            assert_eq!(t.as_str().parse::<SpanType>().unwrap(), t);
        }
        let e = "agents".parse::<SpanType>().unwrap_err();
        assert!(e.to_string().contains("\"agents\""));
    }

    #[test]
    fn resource_set_replaces() {
        let mut r = Resource::with_service_name("a");
        r.set(KeyValue::new("service.name", "b"));
        r.set(KeyValue::new("host.name", "h"));
        assert_eq!(r.service_name(), Some("b"));
        assert_eq!(r.attributes.len(), 2);
    }
}
