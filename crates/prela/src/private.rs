//! What the attribute macros' expansions call. Not a public API: its items
//! may change in any release.

use std::fmt;

use prela_core::attributes as attr;
use prela_core::{SpanType, Value};
use prela_tracer::{Span, SpanBuilder};

/// Starts the span of a macro-wrapped function, under the current span,
/// with the installed tracer; `fields` adds the `fields(..)` attributes to
/// the builder, so that they are set at start, as a sampler sees them.
pub fn start(
    kind: SpanType,
    name: &'static str,
    fields: impl for<'t> FnOnce(SpanBuilder<'t>) -> SpanBuilder<'t>,
) -> Span {
    prela_tracer::global::with_installed(|t| {
        let b = t.span_builder(name).span_type(kind);
        let b = match kind {
            SpanType::Agent => b
                .attribute(attr::GEN_AI_OPERATION_NAME, "invoke_agent")
                .attribute(attr::GEN_AI_AGENT_NAME, name),
            SpanType::Llm => b.attribute(attr::GEN_AI_OPERATION_NAME, "chat"),
            SpanType::Tool => b
                .attribute(attr::GEN_AI_OPERATION_NAME, "execute_tool")
                .attribute(attr::GEN_AI_TOOL_NAME, name),
            SpanType::Retrieval => b.attribute(attr::GEN_AI_OPERATION_NAME, "retrieval"),
            SpanType::Embedding => b.attribute(attr::GEN_AI_OPERATION_NAME, "embeddings"),
            _ => b,
        };
        fields(b).start()
    })
}

/// A `fields(key = value)` value.
pub fn value(v: impl Into<Value>) -> Value {
    v.into()
}

/// The attribute that holds a function's arguments, by span type.
fn input_key(kind: SpanType) -> &'static str {
    match kind {
        SpanType::Tool => attr::GEN_AI_TOOL_CALL_ARGUMENTS,
        _ => "input.value",
    }
}

/// The attribute that holds a function's result, by span type.
fn output_key(kind: SpanType) -> &'static str {
    match kind {
        SpanType::Tool => attr::GEN_AI_TOOL_CALL_RESULT,
        _ => "output.value",
    }
}

/// `capture_args`: the arguments' `Debug` forms as a JSON object.
pub fn capture_args(span: &mut Span, kind: SpanType, args: &[(&str, &dyn fmt::Debug)]) {
    let mut map = serde_json::Map::new();
    for (name, v) in args {
        map.insert(
            (*name).to_owned(),
            serde_json::Value::String(format!("{v:?}")),
        );
    }
    span.set_attribute(input_key(kind), serde_json::Value::Object(map).to_string());
}

/// `capture_result`: the return value's `Debug` form, when content capture
/// is on.
pub fn capture_result<T: fmt::Debug>(span: &mut Span, kind: SpanType, out: &T) {
    if span.captures_content() {
        span.set_attribute(output_key(kind), format!("{out:?}"));
    }
}

/// A returned `Err(e)`: status error with `e.to_string()`, `error.type` =
/// the error's type name.
pub fn record_result<T, E: fmt::Display>(span: &mut Span, out: &Result<T, E>) {
    if let Err(e) = out {
        span.record_error_message(std::any::type_name::<E>(), e.to_string());
    }
}

/// [`record_result`] on the current span (inside an async function's
/// span); nothing to do, and no look-up, for an `Ok`.
pub fn record_result_current<T, E: fmt::Display>(out: &Result<T, E>) {
    if out.is_err() {
        prela_tracer::with_current_span(|span| record_result(span, out));
    }
}

/// [`capture_result`] on the current span.
pub fn capture_result_current<T: fmt::Debug>(kind: SpanType, out: &T) {
    prela_tracer::with_current_span(|span| capture_result(span, kind, out));
}
