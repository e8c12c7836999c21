//! [`PrelaLayer`]: `tracing` spans as Prela spans.

use std::cell::RefCell;
use std::fmt;

use prela_context::{Context as PrelaContext, ContextGuard};
use prela_core::{SpanType, Status, Value};
use prela_tracer::{Span, Tracer};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The Prela span behind a `tracing` span, kept in the span's extensions.
struct PrelaSpan(Span);

thread_local! {
    /// Prela contexts attached while `tracing` spans are entered on this
    /// thread, so Prela spans started inside them get the right parent.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

/// Turns `tracing` spans into Prela spans; see the crate docs.
#[derive(Clone)]
pub struct PrelaLayer {
    tracer: Tracer,
}

impl fmt::Debug for PrelaLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrelaLayer")
            .field("tracer", &self.tracer)
            .finish()
    }
}

impl PrelaLayer {
    /// A layer that records with `tracer`.
    pub fn new(tracer: Tracer) -> Self {
        PrelaLayer { tracer }
    }
}

/// `error.type` for an error that reached `tracing` as a value (`error =
/// %e`, as `#[instrument(err)]` records it, or `&e as &dyn Error`): its
/// Rust type is not known there, and `_OTHER` is what the OpenTelemetry
/// conventions write for an unknown error type.
const UNKNOWN_ERROR_TYPE: &str = "_OTHER";

/// Collects fields, pulling out the special ones.
#[derive(Default)]
struct Fields {
    attributes: Vec<(&'static str, Value)>,
    message: Option<String>,
    name: Option<String>,
    span_type: Option<SpanType>,
    status: Option<Status>,
    status_message: Option<String>,
    error: Option<(String, String)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        let as_text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
        match field.name() {
            "message" => self.message = Some(as_text(&value)),
            "otel.name" | "prela.name" => self.name = Some(as_text(&value)),
            "prela.span_type" => self.span_type = as_text(&value).parse().ok(),
            "otel.status_code" | "prela.status" => {
                self.status = match as_text(&value).to_ascii_lowercase().as_str() {
                    "error" => Some(Status::error("")),
                    "ok" | "success" => Some(Status::Success),
                    _ => None,
                }
            }
            "otel.status_message" => self.status_message = Some(as_text(&value)),
            "error" if self.error.is_none() => {
                self.error = Some((UNKNOWN_ERROR_TYPE.to_owned(), as_text(&value)))
            }
            name => self.attributes.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.put(f, Value::F64(v));
    }
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.put(f, Value::I64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.put(f, Value::from(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.put(f, Value::Bool(v));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.put(f, Value::from(v.to_owned()));
    }
    fn record_error(&mut self, f: &Field, v: &(dyn std::error::Error + 'static)) {
        if f.name() == "error" {
            let mut message = v.to_string();
            let mut source = v.source();
            while let Some(s) = source {
                message.push_str(": ");
                message.push_str(&s.to_string());
                source = s.source();
            }
            self.error = Some((UNKNOWN_ERROR_TYPE.to_owned(), message));
        } else {
            self.put(f, Value::from(v.to_string()));
        }
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.put(f, Value::from(format!("{v:?}")));
    }
}

fn apply(span: &mut Span, fields: Fields) {
    for (k, v) in fields.attributes {
        span.set_attribute(k, v);
    }
    if let Some(t) = fields.span_type {
        span.set_span_type(t);
    }
    if let Some(n) = fields.name {
        span.update_name(n);
    }
    if let Some((type_name, message)) = fields.error {
        span.record_error_message(&type_name, message);
    }
    match (fields.status, fields.status_message) {
        (Some(Status::Error { .. }), msg) => {
            span.set_status(Status::error(msg.unwrap_or_default()))
        }
        (Some(s), _) => span.set_status(s),
        (None, _) => {}
    }
}

/// An event's name (its message, else its metadata name), attributes
/// (with `level`, and `error` when it carries one) and error.
fn event_parts(event: &Event<'_>) -> (String, Vec<prela_core::KeyValue>, Option<(String, String)>) {
    let mut fields = Fields::default();
    event.record(&mut fields);
    let name = fields
        .message
        .take()
        .unwrap_or_else(|| event.metadata().name().to_owned());
    let mut attrs: Vec<prela_core::KeyValue> = fields
        .attributes
        .drain(..)
        .map(|(k, v)| prela_core::KeyValue::new(k, v))
        .collect();
    attrs.push(prela_core::KeyValue::new(
        "level",
        event.metadata().level().as_str(),
    ));
    if let Some((_, message)) = &fields.error {
        attrs.push(prela_core::KeyValue::new("error", message.clone()));
    }
    (name, attrs, fields.error)
}

impl<S> Layer<S> for PrelaLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        // The SDK's own threads and export calls (hyper, h2, rustls spans
        // while a batch is sent) are never traced: that would feed on itself.
        if prela_core::thread::exporting() {
            return;
        }
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let name = fields
            .name
            .take()
            .unwrap_or_else(|| attrs.metadata().name().to_owned());
        let mut builder = self
            .tracer
            .span_builder(name)
            .span_type(fields.span_type.take().unwrap_or(SpanType::Custom));
        // A contextual span's parent is the innermost current span of
        // either API: the Prela context stack holds the Prela spans made
        // current and every entered `tracing` span (see `on_enter`), in the
        // order they were entered. An explicit parent is that span.
        if attrs.is_root() {
            builder = builder.root();
        } else if let Some(parent) = attrs.parent() {
            let parent = ctx.span(parent).and_then(|p| {
                p.extensions()
                    .get::<PrelaSpan>()
                    .map(|s| s.0.span_context().clone())
            });
            if let Some(parent) = parent {
                builder = builder.parent_span_context(parent);
            }
        }
        let mut span = builder.start();
        apply(&mut span, fields);
        span_ref.extensions_mut().insert(PrelaSpan(span));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let mut ext = span_ref.extensions_mut();
        if let Some(PrelaSpan(span)) = ext.get_mut::<PrelaSpan>() {
            if !span.is_recording() {
                return;
            }
            let mut fields = Fields::default();
            values.record(&mut fields);
            apply(span, fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if event.is_root() || prela_core::thread::exporting() {
            return;
        }
        let span_ref = ctx.event_span(event);
        // A contextual event goes to the innermost current span of either
        // API: a Prela span made current inside the `tracing` span takes it.
        let prela_current = PrelaContext::map_current(|cx| cx.span().map(|sc| sc.span_id));
        let tracing_id = span_ref.as_ref().and_then(|s| {
            s.extensions()
                .get::<PrelaSpan>()
                .map(|p| p.0.span_context().span_id)
        });
        let to_prela =
            event.is_contextual() && prela_current.is_some() && prela_current != tracing_id;
        let (name, attrs, error) = event_parts(event);
        if to_prela {
            let error = error.as_ref().map(|(t, m)| (t.as_str(), m.as_str()));
            if prela_tracer::add_event_to_current(name.clone(), attrs.clone(), error) {
                return;
            }
        }
        let Some(span_ref) = span_ref else {
            return;
        };
        let mut ext = span_ref.extensions_mut();
        let Some(PrelaSpan(span)) = ext.get_mut::<PrelaSpan>() else {
            return;
        };
        if !span.is_recording() {
            return;
        }
        span.add_event(name, attrs);
        if let Some((type_name, message)) = error {
            span.record_error_message(&type_name, message);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else {
            return;
        };
        let sc = match span_ref.extensions().get::<PrelaSpan>() {
            Some(PrelaSpan(span)) => span.span_context().clone(),
            None => return,
        };
        let guard = PrelaContext::current().with_span(sc).attach();
        ENTERED.with(|e| e.borrow_mut().push((id.clone(), guard)));
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(pos) = e.iter().rposition(|(i, _)| i == id) {
                drop(e.remove(pos));
            }
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let taken = span_ref.extensions_mut().remove::<PrelaSpan>();
        if let Some(PrelaSpan(mut span)) = taken {
            span.end();
        }
    }
}
