//! Samplers: which traces are recorded and exported.
//!
//! | sampler | decides by |
//! |---|---|
//! | [`AlwaysOn`] / [`AlwaysOff`] | nothing: keep all / keep none |
//! | [`TraceIdRatio`] | a pure function of the trace id, so every service agrees |
//! | [`ParentBased`] | the parent's decision; a root span asks its `root` sampler |
//! | [`RateLimiting`] | a token bucket of traces per second (rates below 1/s work) |
//!
//! [`from_env`] builds one from `PRELA_SAMPLE_RATE`, `OTEL_TRACES_SAMPLER`
//! and `OTEL_TRACES_SAMPLER_ARG`.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod env;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prela_core::{Sampler, SamplingDecision, SamplingParams, SamplingResult, TraceId};

pub use env::{from_env, from_lookup};
pub use prela_core::config::ConfigError;

fn verdict(sample: bool) -> SamplingDecision {
    if sample {
        SamplingDecision::RecordAndSample
    } else {
        SamplingDecision::Drop
    }
}

fn decide(sample: bool) -> SamplingResult {
    SamplingResult::new(verdict(sample))
}

/// Samples every span.
#[allow(clippy::exhaustive_structs)] // a unit sampler: nothing to add
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOn;

impl Sampler for AlwaysOn {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        decide(true)
    }
    fn decision(&self, _: &SamplingParams<'_>) -> Option<SamplingDecision> {
        Some(verdict(true))
    }
    fn description(&self) -> String {
        "AlwaysOnSampler".into()
    }
}

/// Samples no span.
#[allow(clippy::exhaustive_structs)] // a unit sampler: nothing to add
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        decide(false)
    }
    fn decision(&self, _: &SamplingParams<'_>) -> Option<SamplingDecision> {
        Some(verdict(false))
    }
    fn description(&self) -> String {
        "AlwaysOffSampler".into()
    }
}

/// Samples a fixed fraction of traces, deciding from the trace id alone (the
/// low 8 bytes, as OpenTelemetry specifies), so services sharing a ratio keep
/// the same traces.
#[derive(Debug, Clone, Copy)]
pub struct TraceIdRatio {
    ratio: f64,
    threshold: u64,
}

impl TraceIdRatio {
    /// A sampler keeping `ratio` of traces; values are clamped to [0, 1] and
    /// NaN counts as 0.
    pub fn new(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // ratio * 2^64, computed so that 1.0 maps to "everything".
        let threshold = if ratio >= 1.0 {
            u64::MAX
        } else {
            (ratio * 18_446_744_073_709_551_616.0) as u64
        };
        TraceIdRatio { ratio, threshold }
    }

    /// The ratio.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }

    /// Whether a trace id falls in the sampled fraction.
    pub fn samples(&self, trace_id: TraceId) -> bool {
        let b = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low.copy_from_slice(&b[8..16]);
        let v = u64::from_be_bytes(low);
        if self.threshold == u64::MAX {
            true
        } else {
            v < self.threshold
        }
    }
}

impl Sampler for TraceIdRatio {
    fn should_sample(&self, p: &SamplingParams<'_>) -> SamplingResult {
        decide(self.samples(p.trace_id))
    }
    fn decision(&self, p: &SamplingParams<'_>) -> Option<SamplingDecision> {
        Some(verdict(self.samples(p.trace_id)))
    }
    fn description(&self) -> String {
        format!("TraceIdRatioBased{{{}}}", self.ratio)
    }
}

/// Follows the parent's sampled flag; a root span asks `root`.
#[derive(Debug, Clone)]
pub struct ParentBased {
    root: Arc<dyn Sampler>,
    remote_sampled: Arc<dyn Sampler>,
    remote_not_sampled: Arc<dyn Sampler>,
    local_sampled: Arc<dyn Sampler>,
    local_not_sampled: Arc<dyn Sampler>,
}

impl ParentBased {
    /// Parent-based with `root` for root spans, and the OpenTelemetry defaults
    /// for spans with a parent (sampled parent: on; unsampled parent: off).
    pub fn new(root: impl Sampler) -> Self {
        ParentBased {
            root: Arc::new(root),
            remote_sampled: Arc::new(AlwaysOn),
            remote_not_sampled: Arc::new(AlwaysOff),
            local_sampled: Arc::new(AlwaysOn),
            local_not_sampled: Arc::new(AlwaysOff),
        }
    }

    /// The sampler for spans whose remote parent was sampled.
    #[must_use]
    pub fn remote_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_sampled = Arc::new(s);
        self
    }

    /// The sampler for spans whose remote parent was not sampled.
    #[must_use]
    pub fn remote_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.remote_not_sampled = Arc::new(s);
        self
    }

    /// The sampler for spans whose local parent was sampled.
    #[must_use]
    pub fn local_parent_sampled(mut self, s: impl Sampler) -> Self {
        self.local_sampled = Arc::new(s);
        self
    }

    /// The sampler for spans whose local parent was not sampled.
    #[must_use]
    pub fn local_parent_not_sampled(mut self, s: impl Sampler) -> Self {
        self.local_not_sampled = Arc::new(s);
        self
    }
}

impl ParentBased {
    /// The sampler that decides for a span with these parameters.
    fn delegate(&self, p: &SamplingParams<'_>) -> &Arc<dyn Sampler> {
        match p.parent.filter(|sc| sc.is_valid()) {
            None => &self.root,
            Some(sc) => match (sc.is_remote, sc.is_sampled()) {
                (true, true) => &self.remote_sampled,
                (true, false) => &self.remote_not_sampled,
                (false, true) => &self.local_sampled,
                (false, false) => &self.local_not_sampled,
            },
        }
    }
}

impl Sampler for ParentBased {
    fn should_sample(&self, p: &SamplingParams<'_>) -> SamplingResult {
        self.delegate(p).should_sample(p)
    }
    fn decision(&self, p: &SamplingParams<'_>) -> Option<SamplingDecision> {
        self.delegate(p).decision(p)
    }
    fn description(&self) -> String {
        format!("ParentBased{{root:{}}}", self.root.description())
    }
}

/// Samples at most `rate` traces per second, in bursts of up to `max(1, rate)`
/// traces. Rates below 1 work: 0.1 keeps one trace every ten seconds.
///
/// Lock-free (GCRA on one atomic), so concurrent root spans never wait for
/// each other.
#[derive(Debug)]
pub struct RateLimiting {
    rate: f64,
    interval_ns: u64,
    tolerance_ns: u64,
    origin: Instant,
    /// Theoretical arrival time, in ns since `origin`.
    tat: AtomicU64,
}

impl RateLimiting {
    /// At most `per_second` traces per second. A rate that is not a positive
    /// finite number samples nothing.
    pub fn new(per_second: f64) -> Self {
        let valid = per_second.is_finite() && per_second > 0.0;
        let interval_ns = if valid {
            (1e9 / per_second).clamp(1.0, u64::MAX as f64) as u64
        } else {
            u64::MAX
        };
        let burst = if valid {
            per_second.max(1.0).floor()
        } else {
            1.0
        };
        let tolerance_ns = ((burst - 1.0) * interval_ns as f64).min(u64::MAX as f64 / 2.0) as u64;
        RateLimiting {
            rate: if valid { per_second } else { 0.0 },
            interval_ns,
            tolerance_ns,
            origin: Instant::now(),
            tat: AtomicU64::new(0),
        }
    }

    /// Takes a token at `now_ns` (nanoseconds since this sampler was made),
    /// returning whether one was available.
    pub fn try_acquire_at(&self, now_ns: u64) -> bool {
        if self.interval_ns == u64::MAX {
            return false;
        }
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            let start = tat.max(now_ns);
            let new_tat = start.saturating_add(self.interval_ns);
            if new_tat - now_ns > self.tolerance_ns + self.interval_ns {
                return false;
            }
            match self
                .tat
                .compare_exchange_weak(tat, new_tat, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(actual) => tat = actual,
            }
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Sampler for RateLimiting {
    fn should_sample(&self, _: &SamplingParams<'_>) -> SamplingResult {
        decide(self.try_acquire_at(self.now_ns()))
    }
    fn decision(&self, _: &SamplingParams<'_>) -> Option<SamplingDecision> {
        Some(verdict(self.try_acquire_at(self.now_ns())))
    }
    fn description(&self) -> String {
        format!("RateLimiting{{{}}}", self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prela_core::{SpanContext, SpanId, SpanType, TraceFlags};

    fn params(parent: Option<&SpanContext>, trace: u128) -> SamplingParams<'_> {
        SamplingParams::new(
            parent,
            TraceId::from_u128(trace),
            "x",
            SpanType::Custom,
            &[],
        )
    }

    fn sampled(s: &dyn Sampler, p: &SamplingParams<'_>) -> bool {
        s.should_sample(p).decision == SamplingDecision::RecordAndSample
    }

    #[test]
    fn ratio_is_a_function_of_the_low_bytes() {
        let half = TraceIdRatio::new(0.5);
        assert!(half.samples(TraceId::from_u128(0x7fff_ffff_ffff_ffff)));
        assert!(!half.samples(TraceId::from_u128(0x8000_0000_0000_0000)));
        // High bytes do not matter.
        assert!(half.samples(TraceId::from_u128(u128::MAX << 64)));
        assert!(TraceIdRatio::new(1.0).samples(TraceId::from_u128(u128::MAX)));
        assert!(!TraceIdRatio::new(0.0).samples(TraceId::from_u128(0)));
        assert_eq!(TraceIdRatio::new(f64::NAN).ratio(), 0.0);
        assert_eq!(TraceIdRatio::new(7.0).ratio(), 1.0);
    }

    #[test]
    fn ratio_is_close_to_its_fraction() {
        let s = TraceIdRatio::new(0.25);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut kept = 0;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            kept += usize::from(s.samples(TraceId::from_u128(u128::from(x))));
        }
        assert!((24_000..26_000).contains(&kept), "{kept}");
    }

    #[test]
    fn parent_based_follows_parent() {
        let s = ParentBased::new(AlwaysOff);
        assert!(!sampled(&s, &params(None, 1)));
        let mut parent = SpanContext::new(
            TraceId::from_u128(1),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
        );
        assert!(sampled(&s, &params(Some(&parent), 1)));
        parent.trace_flags = TraceFlags::NONE;
        assert!(!sampled(&s, &params(Some(&parent), 1)));
        parent.is_remote = true;
        let s = ParentBased::new(AlwaysOn).remote_parent_not_sampled(AlwaysOn);
        assert!(sampled(&s, &params(Some(&parent), 1)));
        // An invalid parent counts as no parent.
        let s = ParentBased::new(AlwaysOn);
        assert!(sampled(&s, &params(Some(&SpanContext::default()), 1)));
        assert_eq!(s.description(), "ParentBased{root:AlwaysOnSampler}");
    }

    #[test]
    fn rate_limiting_bursts_and_refills() {
        let s = RateLimiting::new(2.0);
        let sec = 1_000_000_000;
        assert!(s.try_acquire_at(0));
        assert!(s.try_acquire_at(0));
        assert!(!s.try_acquire_at(0));
        assert!(!s.try_acquire_at(sec / 4));
        assert!(s.try_acquire_at(sec / 2));
        assert!(!s.try_acquire_at(sec / 2));
        assert!(s.try_acquire_at(10 * sec));
    }

    #[test]
    fn rate_below_one_per_second() {
        let s = RateLimiting::new(0.1);
        let sec = 1_000_000_000;
        assert!(s.try_acquire_at(0));
        assert!(!s.try_acquire_at(5 * sec));
        assert!(!s.try_acquire_at(9 * sec));
        assert!(s.try_acquire_at(10 * sec));
        assert!(!RateLimiting::new(0.0).try_acquire_at(0));
        assert!(!RateLimiting::new(-1.0).try_acquire_at(0));
    }

    #[test]
    fn rate_limiting_counts_exactly_under_threads() {
        let s = Arc::new(RateLimiting::new(1000.0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || (0..10_000).filter(|_| s.try_acquire_at(0)).count())
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 1000);
    }

    /// Every sampler here gives its verdict alone, and it is the verdict
    /// of its full result, which has no attributes and no trace state.
    #[test]
    fn verdicts_alone_agree_with_full_results() {
        let sampled = SpanContext::new(
            TraceId::from_u128(7),
            SpanId::from_u64(1),
            TraceFlags::SAMPLED,
        );
        let unsampled =
            SpanContext::new(TraceId::from_u128(7), SpanId::from_u64(1), TraceFlags::NONE);
        let mut remote = sampled.clone();
        remote.is_remote = true;
        let samplers: Vec<Box<dyn Sampler>> = vec![
            Box::new(AlwaysOn),
            Box::new(AlwaysOff),
            Box::new(TraceIdRatio::new(0.5)),
            Box::new(ParentBased::new(TraceIdRatio::new(0.25))),
            Box::new(ParentBased::new(AlwaysOff)),
        ];
        for s in &samplers {
            for parent in [None, Some(&sampled), Some(&unsampled), Some(&remote)] {
                for trace in
                    (0..64u128).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
                {
                    let p = params(parent, trace);
                    let full = s.should_sample(&p);
                    assert!(full.attributes.is_empty() && full.trace_state.is_none());
                    assert_eq!(s.decision(&p), Some(full.decision), "{}", s.description());
                }
            }
        }
        // A rate limiter's verdict alone takes a token, as the full one does.
        let limited = RateLimiting::new(2.0);
        let p = params(None, 1);
        let verdicts: Vec<_> = (0..3).map(|_| limited.decision(&p)).collect();
        assert_eq!(
            verdicts,
            [
                Some(SamplingDecision::RecordAndSample),
                Some(SamplingDecision::RecordAndSample),
                Some(SamplingDecision::Drop)
            ]
        );
    }
}
