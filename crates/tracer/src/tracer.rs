//! The [`Tracer`]: starts spans and hands finished ones to its processors.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use prela_context::Context;
use prela_core::value::Str;
use prela_core::{
    ExportError, KeyValue, Resource, Sampler, SamplingDecision, SamplingParams, SamplingResult,
    SpanContext, SpanData, SpanProcessor, SpanType, TraceFlags,
};
use prela_sampling::{AlwaysOn, ParentBased};

use crate::id::{IdGenerator, RandomIdGenerator};
use crate::limits::SpanLimits;
use crate::span::{Span, SpanGuard};

/// On cache lines of its own, apart from the `Arc`'s counts: every span
/// reads these fields, from every thread, while the counts change when a
/// [`Shard`] is made or let go of; fields that shared the counts' line
/// would move between cores with them.
#[repr(align(128))]
pub(crate) struct TracerInner {
    pub(crate) processors: Box<[Arc<dyn SpanProcessor>]>,
    pub(crate) sampler: Arc<dyn Sampler>,
    pub(crate) resource: Arc<Resource>,
    pub(crate) limits: SpanLimits,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) capture_content: bool,
}

impl TracerInner {
    /// Hands a finished span to the processors, which take it out of
    /// `slot` (one processor: it moves the span straight from the slot to
    /// its queue; several: a cold path). Inlined into `Span::end_at`.
    #[inline]
    pub(crate) fn finish(&self, slot: &mut Option<SpanData>) {
        match &*self.processors {
            [only] => only.on_end_from(slot),
            // The caller drops what is left in the slot.
            [] => {}
            many => {
                if let Some(data) = slot.take() {
                    finish_many(many, data);
                }
            }
        }
    }
}

/// What a recording span holds to reach its tracer: one of the tracer's
/// shards, picked by the thread that starts the span. Every span start
/// and end writes the reference count of what the span holds; with one
/// count for all threads, that cache line would move between cores on
/// every span (a W3 profile put ~50 ns a span there on two cores). Each
/// shard is a count of its own on its own line, and a thread keeps to
/// one shard, so threads on different cores write different lines. The
/// shard keeps the tracer alive for as long as a span holds it, as a
/// span holding the tracer did: a span may end on any thread, after the
/// application dropped every [`Tracer`].
///
/// Every span holds the resource's `Arc` too, from start until its batch
/// is reused, but takes it over from a span this thread emptied when it
/// can ([`prela_core::pool::resource`]) rather than cloning it, so that
/// count, which every thread's spans share, rarely changes.
///
/// The limits and the content switch are copied here, read on every
/// attribute without a further load.
#[repr(align(128))]
pub(crate) struct Shard {
    pub(crate) limits: SpanLimits,
    pub(crate) capture_content: bool,
    pub(crate) inner: Arc<TracerInner>,
    /// Key indexes of this shard's spans with many attributes.
    pub(crate) wide: crate::wide::WideSpans,
}

impl Shard {
    fn of(inner: &Arc<TracerInner>) -> Shard {
        Shard {
            limits: inner.limits,
            capture_content: inner.capture_content,
            inner: Arc::clone(inner),
            wide: crate::wide::WideSpans::default(),
        }
    }
}

/// Shards per tracer: two per CPU, as a power of two for the index, at
/// most [`MAX_SHARDS`] (8 KiB).
fn shard_count() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (2 * cpus).next_power_of_two().min(MAX_SHARDS)
}

/// Most shards per tracer.
const MAX_SHARDS: usize = 64;

#[cold]
fn finish_many(processors: &[Arc<dyn SpanProcessor>], data: SpanData) {
    if let Some((last, rest)) = processors.split_last() {
        for p in rest {
            p.on_end(data.clone());
        }
        last.on_end(data);
    }
}

/// Starts spans. Cheap to clone; clones share processors and configuration.
///
/// ```
/// use prela_tracer::Tracer;
/// use prela_core::SpanType;
///
/// let tracer = Tracer::builder().service_name("demo").build();
/// {
///     let mut agent = tracer.span("research_agent");
///     agent.set_span_type(SpanType::Agent);
///     let mut llm = tracer.span_builder("chat gpt-4o").span_type(SpanType::Llm).start();
///     llm.set_attribute("gen_ai.usage.input_tokens", 412);
///     llm.end();
/// } // agent ends here
/// ```
#[derive(Clone)]
pub struct Tracer {
    pub(crate) inner: Arc<TracerInner>,
    /// Never empty, and a power of two long. Outside `inner`, which the
    /// shards point to: once every `Tracer` is gone, only the spans still
    /// recording keep their shards, and through them `inner`.
    shards: Arc<[Arc<Shard>]>,
    /// A handle that follows the process-wide tracer ([`crate::global`]):
    /// `inner` is a no-op tracer's, and each span goes to the tracer
    /// installed when it starts.
    late: bool,
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.late {
            return f.write_str("Tracer(late-bound to the global tracer)");
        }
        f.debug_struct("Tracer")
            .field("processors", &self.inner.processors.len())
            .field("sampler", &self.inner.sampler.description())
            .field("resource", &self.inner.resource)
            .field("limits", &self.inner.limits)
            .finish()
    }
}

impl Tracer {
    /// A builder.
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    /// A tracer with no processor: spans carry valid contexts (so
    /// propagation works) but nothing is recorded.
    pub fn noop() -> Self {
        TracerBuilder::default().build()
    }

    /// A handle that follows the process-wide tracer; see [`crate::global`].
    pub(crate) fn late() -> Self {
        Tracer {
            late: true,
            ..Tracer::noop()
        }
    }

    /// `true` for a handle that follows the process-wide tracer (taken
    /// from [`crate::global::tracer`] before a tracer was installed).
    pub fn is_late(&self) -> bool {
        self.late
    }

    /// A builder for a span named `name`.
    #[inline]
    pub fn span_builder(&self, name: impl Into<Str>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            name: name.into(),
            span_type: SpanType::Custom,
            parent: Parent::Current,
            attributes: Vec::new(),
            start_time: None,
        }
    }

    /// Starts a span under the current span, without making it current.
    pub fn start_span(&self, name: impl Into<Str>) -> Span {
        self.span_builder(name).start()
    }

    /// Starts a span under the current span and makes it current until the
    /// returned guard drops, which also ends the span.
    pub fn span(&self, name: impl Into<Str>) -> SpanGuard {
        self.span_builder(name).enter()
    }

    /// Runs `f` inside a new current span, ending it when `f` returns.
    /// For sync code: a future returned by `f` would run after the span
    /// ended; use [`in_span_async`](Self::in_span_async) for a future.
    pub fn in_span<T>(&self, name: impl Into<Str>, f: impl FnOnce(&mut Span) -> T) -> T {
        let mut guard = self.span(name);
        f(&mut guard)
    }

    /// Runs `future` inside a new span, current during every poll, and
    /// ends the span when the future completes (status error `cancelled`
    /// when it is dropped first). The span's parent is the span current
    /// here.
    ///
    /// ```
    /// # let tracer = prela_tracer::Tracer::noop();
    /// # async fn fetch() -> usize { 3 }
    /// # async fn run(tracer: prela_tracer::Tracer) {
    /// let found = tracer
    ///     .in_span_async("web_search", async {
    ///         prela_tracer::with_current_span(|s| s.set_attribute("tool.input", "rust"));
    ///         fetch().await
    ///     })
    ///     .await;
    /// # }
    /// ```
    pub fn in_span_async<F: std::future::Future>(
        &self,
        name: impl Into<Str>,
        future: F,
    ) -> crate::Instrumented<F> {
        crate::SpanFutureExt::in_span(future, self.start_span(name))
    }

    /// `true` when both handles share the same tracer.
    pub fn same_as(&self, other: &Tracer) -> bool {
        self.late == other.late && Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The shard for a span this thread starts, for the span to hold.
    #[inline(always)]
    pub(crate) fn shard(&self) -> Arc<Shard> {
        let n = self.shards.len();
        match self
            .shards
            .get(prela_core::thread::number() & n.wrapping_sub(1))
        {
            Some(shard) => Arc::clone(shard),
            None => self.lone_shard(),
        }
    }

    /// A shard of its own, were the tracer to have none (it always has).
    #[cold]
    fn lone_shard(&self) -> Arc<Shard> {
        Arc::new(Shard::of(&self.inner))
    }

    /// The resource spans are tagged with (empty for a late-bound handle,
    /// whose spans carry the resource of the tracer that records them).
    pub fn resource(&self) -> &Arc<Resource> {
        &self.inner.resource
    }

    /// The sampler, described (`ParentBased{root:TraceIdRatioBased{0.25}}`).
    pub fn sampler_description(&self) -> String {
        self.inner.sampler.description()
    }

    /// The span limits in force.
    pub fn limits(&self) -> SpanLimits {
        self.inner.limits
    }

    /// Flushes every processor, returning by `deadline`. The first error is
    /// returned after every processor was asked.
    pub fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        if self.late {
            return crate::global::with_installed(|t| t.force_flush(deadline));
        }
        self.each_processor(|p| p.force_flush(deadline))
    }

    /// Shuts every processor down, returning by `deadline`. Spans ending
    /// afterwards are dropped (and counted by the processors).
    pub fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        if self.late {
            return crate::global::with_installed(|t| t.shutdown(deadline));
        }
        self.each_processor(|p| p.shutdown(deadline))
    }

    fn each_processor(
        &self,
        f: impl Fn(&dyn SpanProcessor) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let mut first = Ok(());
        for p in self.inner.processors.iter() {
            if let Err(e) = f(p.as_ref()) {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

/// Configures a [`Tracer`].
#[must_use]
pub struct TracerBuilder {
    processors: Vec<Arc<dyn SpanProcessor>>,
    sampler: Arc<dyn Sampler>,
    resource: Resource,
    limits: SpanLimits,
    ids: Arc<dyn IdGenerator>,
    capture_content: bool,
}

impl fmt::Debug for TracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerBuilder")
            .field("processors", &self.processors.len())
            .field("sampler", &self.sampler.description())
            .field("resource", &self.resource)
            .finish()
    }
}

impl Default for TracerBuilder {
    fn default() -> Self {
        TracerBuilder {
            processors: Vec::new(),
            sampler: Arc::new(ParentBased::new(AlwaysOn)),
            resource: Resource::empty(),
            limits: SpanLimits::default(),
            ids: Arc::new(RandomIdGenerator),
            capture_content: false,
        }
    }
}

impl TracerBuilder {
    /// Adds a processor; every sampled span goes to each processor in order.
    pub fn processor(mut self, p: impl SpanProcessor) -> Self {
        self.processors.push(Arc::new(p));
        self
    }

    /// Adds a shared processor.
    pub fn shared_processor(mut self, p: Arc<dyn SpanProcessor>) -> Self {
        self.processors.push(p);
        self
    }

    /// The sampler (default: `ParentBased(AlwaysOn)`).
    pub fn sampler(mut self, s: impl Sampler) -> Self {
        self.sampler = Arc::new(s);
        self
    }

    /// A shared sampler.
    pub fn shared_sampler(mut self, s: Arc<dyn Sampler>) -> Self {
        self.sampler = s;
        self
    }

    /// The resource.
    pub fn resource(mut self, r: Resource) -> Self {
        self.resource = r;
        self
    }

    /// Sets `service.name` on the resource.
    pub fn service_name(mut self, name: impl Into<Str>) -> Self {
        self.resource.set(KeyValue::new(
            prela_core::span::SERVICE_NAME,
            prela_core::Value::String(name.into()),
        ));
        self
    }

    /// Span limits (default: [`SpanLimits::default`]).
    pub fn limits(mut self, l: SpanLimits) -> Self {
        self.limits = l;
        self
    }

    /// The id generator (default: [`RandomIdGenerator`]).
    pub fn id_generator(mut self, g: impl IdGenerator) -> Self {
        self.ids = Arc::new(g);
        self
    }

    /// Records prompts, completions and tool arguments in GenAI spans
    /// (default off: they may hold personal data).
    pub fn capture_content(mut self, on: bool) -> Self {
        self.capture_content = on;
        self
    }

    /// Builds the tracer.
    pub fn build(self) -> Tracer {
        crate::clock::calibrate();
        let inner = Arc::new(TracerInner {
            processors: self.processors.into_boxed_slice(),
            sampler: self.sampler,
            resource: Arc::new(self.resource),
            limits: self.limits,
            ids: self.ids,
            capture_content: self.capture_content,
        });
        let shards = (0..shard_count())
            .map(|_| Arc::new(Shard::of(&inner)))
            .collect();
        Tracer {
            inner,
            shards,
            late: false,
        }
    }
}

/// Drops a parent a builder replaces, out of line (see
/// [`SpanBuilder::parent_span_context`]).
#[cold]
#[inline(never)]
fn drop_cold(_: SpanContext) {}

enum Parent {
    Current,
    Root,
    Explicit(SpanContext),
}

/// Configures one span before it starts.
#[must_use = "a span builder does nothing until start() or enter()"]
pub struct SpanBuilder<'t> {
    tracer: &'t Tracer,
    name: Str,
    span_type: SpanType,
    parent: Parent,
    attributes: Vec<KeyValue>,
    start_time: Option<SystemTime>,
}

impl fmt::Debug for SpanBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("span_type", &self.span_type)
            .finish()
    }
}

impl SpanBuilder<'_> {
    /// The span type (default `custom`).
    #[inline]
    pub fn span_type(mut self, t: SpanType) -> Self {
        self.span_type = t;
        self
    }

    /// An attribute known at start (samplers can see it).
    #[inline(always)]
    pub fn attribute(
        mut self,
        key: impl Into<prela_core::Key>,
        value: impl Into<prela_core::Value>,
    ) -> Self {
        if self.attributes.capacity() == 0 {
            // Room for a span's usual attributes (recycled when possible):
            // this vector becomes the span's own.
            self.attributes = prela_core::pool::attributes();
        }
        prela_core::pool::push(&mut self.attributes, KeyValue::new(key, value));
        self
    }

    /// The parent is the span of `cx` (for example a context extracted from
    /// request headers), instead of the current one.
    pub fn parent(mut self, cx: &Context) -> Self {
        self.parent = match cx.span() {
            Some(sc) => Parent::Explicit(sc.clone()),
            None => Parent::Root,
        };
        self
    }

    /// The parent is this span context.
    #[inline]
    pub fn parent_span_context(mut self, sc: SpanContext) -> Self {
        // The replaced parent is moved out before it is dropped: dropping it
        // where it lies would hand the builder's address to the drop code,
        // and the compiler would then copy the whole builder from slot to
        // slot at every call of the chain.
        if let Parent::Explicit(old) = std::mem::replace(&mut self.parent, Parent::Explicit(sc)) {
            drop_cold(old);
        }
        self
    }

    /// Starts a new trace, whatever is current.
    #[inline]
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// A start time other than now.
    pub fn start_time(mut self, t: SystemTime) -> Self {
        self.start_time = Some(t);
        self
    }

    /// Starts the span without making it current.
    pub fn start(self) -> Span {
        // The parent is borrowed where it is, not copied on into `start`.
        let current;
        let parent = match &self.parent {
            Parent::Current => {
                current = Context::map_current(|cx| cx.span().filter(|sc| sc.is_valid()).cloned());
                current.as_ref()
            }
            Parent::Root => None,
            Parent::Explicit(sc) => Some(sc).filter(|sc| sc.is_valid()),
        };
        start(
            self.tracer,
            self.name,
            self.span_type,
            parent,
            self.attributes,
            self.start_time,
        )
    }

    /// Starts the span and makes it current until the guard drops.
    pub fn enter(self) -> SpanGuard {
        SpanGuard::new(self.start())
    }
}

/// `true` when no two attributes share a key. Keys of different lengths
/// cannot be equal, and the usual handful of keys all differ in length, so
/// a bit per length (modulo 64) settles it in one pass; only when two
/// lengths meet are the keys compared.
fn keys_unique(attributes: &[KeyValue]) -> bool {
    let mut lengths = 0u64;
    for a in attributes {
        let bit = 1u64 << (a.key.as_str().len() % 64);
        if lengths & bit != 0 {
            return no_repeated_key(attributes);
        }
        lengths |= bit;
    }
    true
}

/// `true` when no two attributes share a key: a search for the usual
/// handful, a set for the many a raised attribute limit allows.
#[cold]
#[inline(never)]
fn no_repeated_key(attributes: &[KeyValue]) -> bool {
    if attributes.len() <= 16 {
        return !attributes
            .iter()
            .enumerate()
            .any(|(i, a)| attributes[..i].iter().any(|b| b.key == a.key));
    }
    let mut seen = std::collections::HashSet::with_capacity(attributes.len());
    attributes.iter().all(|a| seen.insert(&a.key))
}

/// A recording span with `attributes` as they are. Inlined into both of
/// `start`'s returns, so the fast one still builds the span in place.
#[inline(always)]
fn recording(
    tracer: &Tracer,
    sc: SpanContext,
    parent: Option<&SpanContext>,
    name: Str,
    span_type: SpanType,
    start_time: Option<SystemTime>,
    attributes: Vec<KeyValue>,
) -> Span {
    // Before the data: a call between building the data and moving it
    // into the span would have it built on the stack and copied.
    let shard = tracer.shard();
    Span::recording(
        sc.clone(),
        SpanData::started_with(
            sc,
            parent.map(|p| p.span_id),
            parent.is_some_and(|p| p.is_remote),
            name,
            span_type,
            start_time.unwrap_or_else(crate::clock::now),
            attributes,
            prela_core::pool::resource(&tracer.inner.resource),
        ),
        shard,
    )
}

/// A span of a late-bound handle: started by the tracer installed now.
#[cold]
#[inline(never)]
fn start_late(
    name: Str,
    span_type: SpanType,
    parent: Option<&SpanContext>,
    attributes: Vec<KeyValue>,
    start_time: Option<SystemTime>,
) -> Span {
    crate::global::with_installed(|t| start(t, name, span_type, parent, attributes, start_time))
}

/// A sampler's whole result, for one that did not give its verdict
/// alone (see [`Sampler::decision`]).
#[cold]
#[inline(never)]
fn sample_in_full(
    sampler: &dyn Sampler,
    params: &SamplingParams<'_>,
) -> (
    SamplingDecision,
    Vec<KeyValue>,
    Option<prela_core::TraceState>,
) {
    let SamplingResult {
        decision,
        attributes,
        trace_state,
        ..
    } = sampler.should_sample(params);
    (decision, attributes, trace_state)
}

fn start(
    tracer: &Tracer,
    name: Str,
    span_type: SpanType,
    parent: Option<&SpanContext>,
    attributes: Vec<KeyValue>,
    start_time: Option<SystemTime>,
) -> Span {
    if tracer.late {
        return start_late(name, span_type, parent, attributes, start_time);
    }
    let inner = &tracer.inner;
    let (trace_id, base_flags, base_state) = match parent {
        Some(p) => (p.trace_id, p.trace_flags, p.trace_state.clone()),
        None => {
            let flags = TraceFlags::NONE.with_random(inner.ids.is_random());
            (
                inner.ids.new_trace_id(),
                flags,
                prela_core::TraceState::NONE,
            )
        }
    };
    let span_id = inner.ids.new_span_id();
    let params = SamplingParams::new(parent, trace_id, &name, span_type, &attributes);
    let (decision, extra, trace_state) = match inner.sampler.decision(&params) {
        // The usual case: the verdict alone, back in a register.
        Some(decision) => (decision, Vec::new(), None),
        None => sample_in_full(&*inner.sampler, &params),
    };
    let sampled = decision == SamplingDecision::RecordAndSample;
    let mut sc = SpanContext::new(trace_id, span_id, base_flags.with_sampled(sampled));
    sc.trace_state = trace_state.unwrap_or(base_state);
    // Inside an export, or on one of the SDK's threads: the span would be
    // the exporter tracing itself (see `prela_core::thread::exporting`).
    if decision == SamplingDecision::Drop
        || inner.processors.is_empty()
        || prela_core::thread::exporting()
    {
        return Span::non_recording(sc);
    }
    let limits = &inner.limits;
    let clean = attributes.len() <= limits.max_attributes
        && limits.max_attribute_value_length.is_none()
        && keys_unique(&attributes)
        && !attributes.iter().any(|kv| kv.value.is_nested());
    if clean && extra.capacity() == 0 {
        // The usual case: the builder's attributes as they are, and the
        // span made in one expression returned as it is, so that it is
        // built straight in the caller's slot (completing it afterwards, as
        // below, cost ~100 instructions a span in copies and writes). The
        // sampler's vector never allocated: letting go of it frees nothing
        // and saves a call to its drop code.
        std::mem::forget(extra);
        return recording(tracer, sc, parent, name, span_type, start_time, attributes);
    }
    // Attributes the limits or the sampler have a say in: set one by one.
    let (kept, to_set) = if clean {
        (attributes, Vec::new())
    } else {
        (Vec::new(), attributes)
    };
    let mut span = recording(tracer, sc, parent, name, span_type, start_time, kept);
    for kv in to_set {
        span.set_attribute(kv.key, kv.value);
    }
    for kv in extra {
        span.set_attribute(kv.key, kv.value);
    }
    span
}
