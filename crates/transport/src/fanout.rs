//! [`FanOut`]: one processor in front of several.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use prela_core::{ExportError, Lost, SpanData, SpanProcessor};

/// Hands every span to several processors, for example one
/// [`BatchProcessor`](crate::BatchProcessor) per exporter, so that a slow or
/// failing exporter never delays or drops data for the others: each has its
/// own queue and worker.
///
/// `force_flush` and `shutdown` ask every processor with the same deadline
/// and return `Ok` only if all of them did; otherwise the error counts the
/// spans not exported across all of them (a span lost by two exporters
/// counts twice).
#[derive(Default, Clone)]
pub struct FanOut {
    processors: Vec<Arc<dyn SpanProcessor>>,
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("processors", &self.processors.len())
            .finish()
    }
}

impl FanOut {
    /// No processor yet.
    pub fn new() -> Self {
        FanOut::default()
    }

    /// Adds a processor.
    #[must_use]
    pub fn with(mut self, p: impl SpanProcessor) -> Self {
        self.processors.push(Arc::new(p));
        self
    }

    /// Adds a shared processor (keep a clone to read its stats).
    #[must_use]
    pub fn with_shared(mut self, p: Arc<dyn SpanProcessor>) -> Self {
        self.processors.push(p);
        self
    }

    fn all(
        &self,
        f: impl Fn(&dyn SpanProcessor) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        let mut lost = Lost::default();
        let mut errors = Vec::new();
        for p in &self.processors {
            match f(p.as_ref()) {
                Ok(()) => {}
                Err(ExportError::NotExported {
                    lost: l,
                    last_error,
                    ..
                }) => {
                    lost = lost.plus(&l);
                    errors.extend(last_error);
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if lost.total() == 0 && errors.is_empty() {
            Ok(())
        } else if lost.total() == 0 && errors.len() == 1 {
            Err(ExportError::Other(errors.remove(0)))
        } else {
            Err(ExportError::not_exported(
                lost,
                (!errors.is_empty()).then(|| errors.join("; ")),
            ))
        }
    }
}

impl SpanProcessor for FanOut {
    fn on_end(&self, span: SpanData) {
        if let Some((last, rest)) = self.processors.split_last() {
            for p in rest {
                p.on_end(span.clone());
            }
            last.on_end(span);
        }
    }

    fn force_flush(&self, deadline: Instant) -> Result<(), ExportError> {
        self.all(|p| p.force_flush(deadline))
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        self.all(|p| p.shutdown(deadline))
    }
}
