//! The sampler contract. Implementations live in `prela-sampling`.

use std::fmt;

use crate::context::{SpanContext, TraceState};
use crate::id::TraceId;
use crate::span::SpanType;
use crate::value::KeyValue;

/// A sampler's verdict for a new span.
#[allow(clippy::exhaustive_enums)] // the three outcomes OpenTelemetry defines
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Neither record nor export; the span still carries a valid context.
    Drop,
    /// Record (attributes are kept) but do not export or set the sampled flag.
    RecordOnly,
    /// Record, export, and set the sampled flag.
    RecordAndSample,
}

/// What a sampler returns.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SamplingResult {
    /// The verdict.
    pub decision: SamplingDecision,
    /// Attributes to add to the span (for example the sampling probability).
    pub attributes: Vec<KeyValue>,
    /// The trace state for the new span; `None` keeps the parent's.
    pub trace_state: Option<TraceState>,
}

impl SamplingResult {
    /// A result with only a decision.
    pub fn new(decision: SamplingDecision) -> Self {
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: None,
        }
    }
}

/// What a sampler may look at to decide.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SamplingParams<'a> {
    /// The parent's context, if the new span has a parent (local or remote).
    pub parent: Option<&'a SpanContext>,
    /// The new span's trace id (the parent's, or a fresh one for a root).
    pub trace_id: TraceId,
    /// The new span's name.
    pub name: &'a str,
    /// The new span's type.
    pub span_type: SpanType,
    /// Attributes given at span start.
    pub attributes: &'a [KeyValue],
}

impl<'a> SamplingParams<'a> {
    /// Parameters for a sampling decision.
    pub fn new(
        parent: Option<&'a SpanContext>,
        trace_id: TraceId,
        name: &'a str,
        span_type: SpanType,
        attributes: &'a [KeyValue],
    ) -> Self {
        SamplingParams {
            parent,
            trace_id,
            name,
            span_type,
            attributes,
        }
    }
}

/// Decides whether a new span is recorded and exported.
///
/// Called once per span at start. Tracers call it for every span, but the
/// usual samplers defer to the parent's decision so a trace is kept or
/// dropped whole.
pub trait Sampler: Send + Sync + fmt::Debug + 'static {
    /// Decides for one span.
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult;

    /// The verdict alone, for a sampler whose result for these parameters
    /// has no attributes and leaves the trace state as it is (every
    /// sampler in `prela-sampling`): `Some(d)` means exactly what
    /// `should_sample` returning `SamplingResult::new(d)` would. `None`,
    /// the default, means: ask `should_sample`.
    ///
    /// Tracers ask this first for every span, and call `should_sample`
    /// only when it returns `None`, so a sampler with side effects (a rate
    /// limiter's token) takes them in whichever of the two runs. A verdict
    /// comes back in a register, where a whole [`SamplingResult`] comes
    /// back through memory: on the span hot path that read stalls.
    fn decision(&self, params: &SamplingParams<'_>) -> Option<SamplingDecision> {
        let _ = params;
        None
    }

    /// A short description, e.g. `TraceIdRatioBased{0.25}`.
    fn description(&self) -> String;
}

impl<S: Sampler + ?Sized> Sampler for Box<S> {
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
        (**self).should_sample(params)
    }
    fn decision(&self, params: &SamplingParams<'_>) -> Option<SamplingDecision> {
        (**self).decision(params)
    }
    fn description(&self) -> String {
        (**self).description()
    }
}

impl<S: Sampler + ?Sized> Sampler for std::sync::Arc<S> {
    fn should_sample(&self, params: &SamplingParams<'_>) -> SamplingResult {
        (**self).should_sample(params)
    }
    fn decision(&self, params: &SamplingParams<'_>) -> Option<SamplingDecision> {
        (**self).decision(params)
    }
    fn description(&self) -> String {
        (**self).description()
    }
}
