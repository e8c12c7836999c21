//! Finding an attribute by key on a span that holds many of them.
//!
//! Below [`INDEXED`] attributes, `set_attribute` searches the span's own
//! vector: comparing lengths and last bytes first, that beats hashing the
//! key. A raised `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` lets a span hold far
//! more, and a search per attribute would make setting N of them cost N²
//! (100,000 keys ran for minutes). Past the threshold the span's keys are
//! indexed in a table kept by its tracer shard, not in the span: a field
//! for it in [`Span`](crate::Span) made every span start 10% slower
//! (`cargo bench -p prela-tracer -- "span: start"`), while only spans this
//! wide ever touch the table. Under the default limit none can be, and
//! `set_attribute` pays one comparison with the limit for all this.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use prela_core::{Key, KeyValue, SpanContext, SpanId, TraceId};

/// Attributes a span holds before its keys are indexed: the default
/// attribute limit, so that under it `set_attribute` is the search alone.
pub(crate) const INDEXED: usize = 128;

/// The key indexes of the wide spans recording on one shard.
#[derive(Default)]
pub(crate) struct WideSpans {
    spans: Mutex<HashMap<(TraceId, SpanId), HashMap<Key, usize>>>,
}

impl WideSpans {
    /// Where the attribute with `key` is among `attrs`, the attributes of
    /// the span `sc` (indexed first if they are not yet). A key not there
    /// is noted as the next one pushed when `room` says it will be.
    #[cold]
    #[inline(never)]
    pub(crate) fn position(
        &self,
        sc: &SpanContext,
        attrs: &[KeyValue],
        key: &Key,
        room: bool,
    ) -> Option<usize> {
        let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        let index = spans
            .entry((sc.trace_id, sc.span_id))
            .or_insert_with(|| index_of(attrs));
        let found = index.get(key).copied();
        if found.is_none() && room {
            index.insert(key.clone(), attrs.len());
        }
        found
    }

    /// Drops the index of a span that ends.
    #[cold]
    #[inline(never)]
    pub(crate) fn forget(&self, sc: &SpanContext) {
        let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        spans.remove(&(sc.trace_id, sc.span_id));
    }
}

fn index_of(attrs: &[KeyValue]) -> HashMap<Key, usize> {
    let mut index = HashMap::with_capacity(attrs.len() * 2);
    for (i, kv) in attrs.iter().enumerate() {
        // The first of a repeated key, as the search finds it.
        index.entry(kv.key.clone()).or_insert(i);
    }
    index
}

#[cfg(test)]
mod tests {
    use crate::{SpanLimits, Tracer};

    /// A wide span's index lives while the span does, not longer.
    #[test]
    fn the_index_goes_when_the_span_ends() {
        let limits = SpanLimits {
            max_attributes: 1_000,
            ..SpanLimits::default()
        };
        let tracer = Tracer::builder()
            .processor(prela_testkit::Collect::default())
            .limits(limits)
            .build();
        let shard = tracer.shard();
        let held = || {
            shard
                .wide
                .spans
                .lock()
                .map(|spans| spans.len())
                .unwrap_or(usize::MAX)
        };
        let mut span = tracer.start_span("wide");
        for i in 0..super::INDEXED {
            span.set_attribute(format!("k.{i}"), 1);
        }
        assert_eq!(held(), 0, "no index up to the threshold");
        span.set_attribute("one.more", 1);
        assert_eq!(held(), 1);
        span.end();
        assert_eq!(held(), 0);
        drop(span);
        let mut dropped = tracer.start_span("dropped, not ended");
        for i in 0..=super::INDEXED {
            dropped.set_attribute(format!("k.{i}"), 1);
        }
        assert_eq!(held(), 1);
        drop(dropped);
        assert_eq!(held(), 0);
    }
}
