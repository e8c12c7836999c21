//! Spans for AI agents, with the OpenTelemetry GenAI semantic conventions.
//!
//! ```
//! use prela_tracer::Tracer;
//!
//! let tracer = Tracer::builder().build();
//! let _agent = tracer.agent("researcher").enter();
//! let mut llm = tracer.llm("openai", "gpt-4o").temperature(0.2).max_tokens(1024).enter();
//! llm.set_usage(412, 87);
//! llm.set_finish_reasons(&["stop"]);
//! ```
//!
//! | helper | span name | type | attributes |
//! |---|---|---|---|
//! | [`Tracer::agent`] | `invoke_agent {name}` | agent | `gen_ai.operation.name`, `gen_ai.agent.name` |
//! | [`Tracer::llm`] | `{operation} {model}` (`chat gpt-4o`) | llm | `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.*` |
//! | [`Tracer::tool`] | `execute_tool {name}` | tool | `gen_ai.operation.name`, `gen_ai.tool.name` |
//! | [`Tracer::retrieval`] | `retrieval {data source}` | retrieval | `retriever.query` |
//! | [`Tracer::embedding`] | `embeddings {model}` | embedding | `gen_ai.provider.name`, `gen_ai.request.model` |
//!
//! Prompts, completions and tool arguments are content: recorded only when
//! content capture is on (`TracerBuilder::capture_content`, or
//! `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true` through
//! `prela::init()`), off by default.

use prela_core::attributes as attr;
use prela_core::value::Str;
use prela_core::{KeyValue, SpanType, Value};

use crate::span::{Span, SpanGuard};
use crate::tracer::{SpanBuilder, Tracer};

/// A GenAI span being configured; finish with [`start`](Self::start) or
/// [`enter`](Self::enter).
#[must_use = "nothing starts until start() or enter()"]
#[derive(Debug)]
pub struct GenAiSpanBuilder<'t> {
    inner: SpanBuilder<'t>,
    content: Vec<KeyValue>,
}

impl<'t> GenAiSpanBuilder<'t> {
    fn new(inner: SpanBuilder<'t>) -> Self {
        GenAiSpanBuilder {
            inner,
            content: Vec::new(),
        }
    }

    fn attr(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.inner = self.inner.attribute(key, value);
        self
    }

    /// `gen_ai.request.temperature`.
    pub fn temperature(self, t: f64) -> Self {
        self.attr(attr::GEN_AI_REQUEST_TEMPERATURE, t)
    }

    /// `gen_ai.request.top_p`.
    pub fn top_p(self, p: f64) -> Self {
        self.attr(attr::GEN_AI_REQUEST_TOP_P, p)
    }

    /// `gen_ai.request.max_tokens`.
    pub fn max_tokens(self, n: u32) -> Self {
        self.attr(attr::GEN_AI_REQUEST_MAX_TOKENS, n)
    }

    /// `gen_ai.request.stop_sequences`.
    pub fn stop_sequences(self, s: &[&str]) -> Self {
        let v: Vec<Value> = s.iter().map(|x| Value::from((*x).to_owned())).collect();
        self.attr(attr::GEN_AI_REQUEST_STOP_SEQUENCES, Value::Array(v))
    }

    /// `gen_ai.conversation.id`.
    pub fn conversation(self, id: impl Into<Str>) -> Self {
        self.attr(attr::GEN_AI_CONVERSATION_ID, Value::String(id.into()))
    }

    /// `gen_ai.agent.id`.
    pub fn agent_id(self, id: impl Into<Str>) -> Self {
        self.attr(attr::GEN_AI_AGENT_ID, Value::String(id.into()))
    }

    /// `gen_ai.tool.call.id`.
    pub fn call_id(self, id: impl Into<Str>) -> Self {
        self.attr(attr::GEN_AI_TOOL_CALL_ID, Value::String(id.into()))
    }

    /// `gen_ai.tool.description`.
    pub fn description(self, d: impl Into<Str>) -> Self {
        self.attr(attr::GEN_AI_TOOL_DESCRIPTION, Value::String(d.into()))
    }

    /// `gen_ai.embeddings.dimension.count`.
    pub fn dimensions(self, n: u32) -> Self {
        self.attr(attr::GEN_AI_EMBEDDINGS_DIMENSION_COUNT, n)
    }

    /// The prompt messages (`gen_ai.input.messages`, as JSON); recorded only
    /// with content capture on.
    pub fn prompt(mut self, messages: impl Into<Value>) -> Self {
        self.content.push(KeyValue::new(
            attr::GEN_AI_INPUT_MESSAGES,
            json(messages.into()),
        ));
        self
    }

    /// The tool call's arguments (`gen_ai.tool.call.arguments`); recorded
    /// only with content capture on.
    pub fn arguments(mut self, args: impl Into<Value>) -> Self {
        self.content.push(KeyValue::new(
            attr::GEN_AI_TOOL_CALL_ARGUMENTS,
            json(args.into()),
        ));
        self
    }

    /// The parent is the span of `cx` instead of the current span.
    pub fn parent(mut self, cx: &prela_context::Context) -> Self {
        self.inner = self.inner.parent(cx);
        self
    }

    /// Starts a new trace, whatever is current.
    pub fn root(mut self) -> Self {
        self.inner = self.inner.root();
        self
    }

    /// Any other attribute.
    pub fn attribute(mut self, key: impl Into<prela_core::Key>, value: impl Into<Value>) -> Self {
        self.inner = self.inner.attribute(key, value);
        self
    }

    /// Starts the span without making it current.
    pub fn start(self) -> Span {
        let mut span = self.inner.start();
        if span.captures_content() {
            span.set_attributes(self.content);
        }
        span
    }

    /// Starts the span and makes it current until the guard drops.
    pub fn enter(self) -> SpanGuard {
        SpanGuard::new(self.start())
    }
}

/// Strings stay as they are; anything else becomes its JSON text.
fn json(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(s),
        other => Value::String(Str::Owned(other.to_string())),
    }
}

fn named(op: &str, what: &str) -> Str {
    if what.is_empty() {
        Str::Owned(op.to_owned())
    } else {
        Str::Owned(format!("{op} {what}"))
    }
}

impl Tracer {
    /// An agent run: `invoke_agent {name}`, type `agent`.
    pub fn agent(&self, name: &str) -> GenAiSpanBuilder<'_> {
        GenAiSpanBuilder::new(
            self.span_builder(named("invoke_agent", name))
                .span_type(SpanType::Agent)
                .attribute(attr::GEN_AI_OPERATION_NAME, "invoke_agent")
                .attribute(attr::GEN_AI_AGENT_NAME, name.to_owned()),
        )
    }

    /// A chat model call: `chat {model}`, type `llm`. Use
    /// [`llm_operation`](Self::llm_operation) for `text_completion` and others.
    pub fn llm(&self, provider: &str, model: &str) -> GenAiSpanBuilder<'_> {
        self.llm_operation("chat", provider, model)
    }

    /// A model call with another operation name (`text_completion`,
    /// `generate_content`, ...).
    pub fn llm_operation(
        &self,
        operation: &str,
        provider: &str,
        model: &str,
    ) -> GenAiSpanBuilder<'_> {
        GenAiSpanBuilder::new(
            self.span_builder(named(operation, model))
                .span_type(SpanType::Llm)
                .attribute(attr::GEN_AI_OPERATION_NAME, operation.to_owned())
                .attribute(attr::GEN_AI_PROVIDER_NAME, provider.to_owned())
                .attribute(attr::GEN_AI_REQUEST_MODEL, model.to_owned()),
        )
    }

    /// A tool call: `execute_tool {name}`, type `tool`.
    pub fn tool(&self, name: &str) -> GenAiSpanBuilder<'_> {
        GenAiSpanBuilder::new(
            self.span_builder(named("execute_tool", name))
                .span_type(SpanType::Tool)
                .attribute(attr::GEN_AI_OPERATION_NAME, "execute_tool")
                .attribute(attr::GEN_AI_TOOL_NAME, name.to_owned()),
        )
    }

    /// A retrieval from `data_source` (an index or store name; may be
    /// empty): `retrieval {data_source}`, type `retrieval`, with the query.
    pub fn retrieval(&self, data_source: &str, query: &str) -> GenAiSpanBuilder<'_> {
        let mut b = self
            .span_builder(named("retrieval", data_source))
            .span_type(SpanType::Retrieval)
            .attribute(attr::GEN_AI_OPERATION_NAME, "retrieval")
            .attribute(attr::RETRIEVER_QUERY, query.to_owned());
        if !data_source.is_empty() {
            b = b.attribute(attr::GEN_AI_DATA_SOURCE_ID, data_source.to_owned());
        }
        GenAiSpanBuilder::new(b)
    }

    /// An embeddings call: `embeddings {model}`, type `embedding`.
    pub fn embedding(&self, provider: &str, model: &str) -> GenAiSpanBuilder<'_> {
        GenAiSpanBuilder::new(
            self.span_builder(named("embeddings", model))
                .span_type(SpanType::Embedding)
                .attribute(attr::GEN_AI_OPERATION_NAME, "embeddings")
                .attribute(attr::GEN_AI_PROVIDER_NAME, provider.to_owned())
                .attribute(attr::GEN_AI_REQUEST_MODEL, model.to_owned()),
        )
    }
}

impl Span {
    /// `true` when this span's tracer records prompts and completions.
    pub fn captures_content(&self) -> bool {
        self.tracer_captures_content()
    }

    /// `gen_ai.usage.input_tokens` and `gen_ai.usage.output_tokens`.
    pub fn set_usage(&mut self, input_tokens: u64, output_tokens: u64) {
        self.set_attribute(attr::GEN_AI_USAGE_INPUT_TOKENS, input_tokens);
        self.set_attribute(attr::GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens);
    }

    /// `gen_ai.response.finish_reasons`.
    pub fn set_finish_reasons(&mut self, reasons: &[&str]) {
        let v: Vec<Value> = reasons
            .iter()
            .map(|r| Value::from((*r).to_owned()))
            .collect();
        self.set_attribute(attr::GEN_AI_RESPONSE_FINISH_REASONS, Value::Array(v));
    }

    /// `gen_ai.response.model` and `gen_ai.response.id`.
    pub fn set_response(&mut self, model: &str, id: &str) {
        self.set_attribute(attr::GEN_AI_RESPONSE_MODEL, model.to_owned());
        self.set_attribute(attr::GEN_AI_RESPONSE_ID, id.to_owned());
    }

    /// For a streamed call: the first token arrived now. Records
    /// `prela.llm.time_to_first_token_ms` and a `gen_ai.first_token` event;
    /// later calls do nothing.
    pub fn mark_first_token(&mut self) {
        let Some(start) = self.start_time() else {
            return;
        };
        if self.has_attribute(attr::PRELA_LLM_TIME_TO_FIRST_TOKEN_MS) {
            return;
        }
        let now = crate::clock::now();
        let ms = now.duration_since(start).unwrap_or_default().as_secs_f64() * 1000.0;
        self.set_attribute(attr::PRELA_LLM_TIME_TO_FIRST_TOKEN_MS, ms);
        self.add_event_at("gen_ai.first_token", now, Vec::new());
    }

    /// The model's output (`gen_ai.output.messages`, as JSON); recorded only
    /// with content capture on.
    pub fn record_completion(&mut self, output: impl Into<Value>) {
        if self.captures_content() {
            self.set_attribute(attr::GEN_AI_OUTPUT_MESSAGES, json(output.into()));
        }
    }

    /// A tool's result (`gen_ai.tool.call.result`); recorded only with
    /// content capture on.
    pub fn record_tool_result(&mut self, result: impl Into<Value>) {
        if self.captures_content() {
            self.set_attribute(attr::GEN_AI_TOOL_CALL_RESULT, json(result.into()));
        }
    }

    /// `retriever.document_count`.
    pub fn set_document_count(&mut self, n: u64) {
        self.set_attribute(attr::RETRIEVER_DOCUMENT_COUNT, n);
    }
}
