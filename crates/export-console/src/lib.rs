//! Console exporter: prints each trace as a tree when its root span ends.
//!
//! ```text
//! Trace 4d63af3a @ 03:31:22.167
//! =============================
//! └─ agent: research_agent (529ms) ✓
//!    ├─ llm: anthropic.messages.create (209ms) ✓
//!    │     model: claude-sonnet-4-20250514 | tokens: 412 → 87
//!    └─ tool: fetch_url (10ms) ✗
//!          tool: fetch_url | input: https://releases.rs/docs/1.83.0/ | error: timed out
//! ```
//!
//! Three [`Verbosity`] levels as in the Python SDK. The normal view
//! understands both the OpenTelemetry GenAI names (`gen_ai.request.model`,
//! `gen_ai.usage.input_tokens`, ...) and Prela's `llm.*` names. Colours are
//! used only when writing to a terminal and `NO_COLOR` is unset.
//!
//! Spans are held until their trace's local root ends (bounded by
//! [`ConsoleExporterBuilder::max_buffered_spans`]); `force_flush` prints
//! what is held, as a partial tree.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod pyrepr;
pub mod render;

use std::collections::HashMap;
use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

use prela_core::{ExportError, ExportResult, SpanData, SpanExporter, TraceId};

pub use render::{Verbosity, render_trace};

/// When to use colours.
#[allow(clippy::exhaustive_enums)] // the usual three choices
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorChoice {
    /// Colours when the output is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Which standard stream the console exporter writes to.
#[allow(clippy::exhaustive_enums)] // a process has these two
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Output {
    /// Standard output (the default).
    #[default]
    Stdout,
    /// Standard error, away from the application's own output.
    Stderr,
}

impl Output {
    /// Parses `stdout` or `stderr` (as `PRELA_CONSOLE_OUTPUT` spells them).
    pub fn from_name(name: &str) -> Option<Output> {
        match name.trim().to_ascii_lowercase().as_str() {
            "stdout" => Some(Output::Stdout),
            "stderr" => Some(Output::Stderr),
            _ => None,
        }
    }
}

struct State {
    out: Box<dyn Write + Send>,
    /// Spans of traces whose root has not ended yet, in arrival order.
    pending: HashMap<TraceId, Vec<SpanData>>,
    order: Vec<TraceId>,
    buffered: usize,
    shut_down: bool,
}

/// Prints traces as trees. See the crate docs.
pub struct ConsoleExporter {
    verbosity: Verbosity,
    color: bool,
    max_buffered: usize,
    state: Mutex<State>,
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter")
            .field("verbosity", &self.verbosity)
            .field("color", &self.color)
            .field("max_buffered", &self.max_buffered)
            .finish()
    }
}

impl Default for ConsoleExporter {
    fn default() -> Self {
        ConsoleExporter::builder().build()
    }
}

/// Configures a [`ConsoleExporter`].
#[must_use]
pub struct ConsoleExporterBuilder {
    verbosity: Verbosity,
    color: ColorChoice,
    out: Option<(Box<dyn Write + Send>, bool)>,
    max_buffered: usize,
}

impl fmt::Debug for ConsoleExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporterBuilder")
            .field("verbosity", &self.verbosity)
            .field("color", &self.color)
            .finish()
    }
}

impl ConsoleExporterBuilder {
    /// How much to show (default [`Verbosity::Normal`]).
    pub fn verbosity(mut self, v: Verbosity) -> Self {
        self.verbosity = v;
        self
    }

    /// When to use colours (default [`ColorChoice::Auto`]).
    pub fn color(mut self, c: ColorChoice) -> Self {
        self.color = c;
        self
    }

    /// Where to write (default standard output). Such a writer counts as
    /// not being a terminal for [`ColorChoice::Auto`].
    pub fn writer(mut self, w: impl Write + Send + 'static) -> Self {
        self.out = Some((Box::new(w), false));
        self
    }

    /// Standard error instead of standard output.
    pub fn stderr(self) -> Self {
        self.output(Output::Stderr)
    }

    /// Which standard stream to write to (default [`Output::Stdout`]).
    pub fn output(mut self, output: Output) -> Self {
        self.out = Some(match output {
            Output::Stdout => (Box::new(io::stdout()), io::stdout().is_terminal()),
            Output::Stderr => (Box::new(io::stderr()), io::stderr().is_terminal()),
        });
        self
    }

    /// Most spans held while waiting for their roots (default 10,000). Past
    /// it, the oldest trace is printed as it is.
    pub fn max_buffered_spans(mut self, n: usize) -> Self {
        self.max_buffered = n.max(1);
        self
    }

    /// Builds the exporter.
    pub fn build(self) -> ConsoleExporter {
        let (out, tty) = self
            .out
            .unwrap_or_else(|| (Box::new(io::stdout()), io::stdout().is_terminal()));
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        ConsoleExporter {
            verbosity: self.verbosity,
            color,
            max_buffered: self.max_buffered,
            state: Mutex::new(State {
                out,
                pending: HashMap::new(),
                order: Vec::new(),
                buffered: 0,
                shut_down: false,
            }),
        }
    }
}

impl ConsoleExporter {
    /// A builder.
    pub fn builder() -> ConsoleExporterBuilder {
        ConsoleExporterBuilder {
            verbosity: Verbosity::Normal,
            color: ColorChoice::Auto,
            out: None,
            max_buffered: 10_000,
        }
    }

    /// An exporter with this verbosity and the other defaults.
    pub fn new(verbosity: Verbosity) -> Self {
        Self::builder().verbosity(verbosity).build()
    }

    fn print(&self, state: &mut State, spans: &[SpanData]) -> io::Result<()> {
        let text = render_trace(spans, self.verbosity, self.color);
        state.out.write_all(text.as_bytes())
    }

    fn take_trace(state: &mut State, trace: TraceId) -> Vec<SpanData> {
        state.order.retain(|t| *t != trace);
        let spans = state.pending.remove(&trace).unwrap_or_default();
        state.buffered -= spans.len();
        spans
    }

    fn flush_all(&self, state: &mut State) -> io::Result<()> {
        let mut result = Ok(());
        for trace in std::mem::take(&mut state.order) {
            let spans = Self::take_trace(state, trace);
            if let Err(e) = self.print(state, &spans) {
                result = Err(e);
            }
        }
        state.out.flush().and(result)
    }
}

impl ConsoleExporter {
    /// The state; a writer that panicked mid-export poisons it for good.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, ExportError> {
        self.state.lock().map_err(|_| {
            ExportError::Other("console exporter state poisoned by an earlier panic".into())
        })
    }
}

impl SpanExporter for ConsoleExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        let mut state = match self.lock() {
            Ok(s) => s,
            Err(e) => return ExportResult::Failure(e),
        };
        if state.shut_down {
            return ExportResult::Failure(ExportError::Shutdown);
        }
        let mut result = Ok(());
        for span in batch {
            let trace = span.span_context.trace_id;
            // A local root (no parent, or a parent in another process) ends
            // its trace as far as this process is concerned.
            let is_root = span.parent_span_id.is_none() || span.parent_is_remote;
            if !state.pending.contains_key(&trace) {
                state.order.push(trace);
            }
            state.pending.entry(trace).or_default().push(span.clone());
            state.buffered += 1;
            if is_root {
                let spans = Self::take_trace(&mut state, trace);
                result = result.and(self.print(&mut state, &spans));
            }
            while state.buffered > self.max_buffered {
                let Some(oldest) = state.order.first().copied() else {
                    break;
                };
                let spans = Self::take_trace(&mut state, oldest);
                result = result.and(self.print(&mut state, &spans));
            }
        }
        match result.and_then(|()| state.out.flush()) {
            Ok(()) => ExportResult::Success,
            Err(e) => ExportResult::Failure(ExportError::Io(e)),
        }
    }

    fn force_flush(&self, _deadline: Instant) -> Result<(), ExportError> {
        let mut state = self.lock()?;
        self.flush_all(&mut state).map_err(ExportError::Io)
    }

    fn shutdown(&self, _deadline: Instant) -> Result<(), ExportError> {
        let mut state = self.lock()?;
        if state.shut_down {
            return Ok(());
        }
        state.shut_down = true;
        self.flush_all(&mut state).map_err(ExportError::Io)
    }
}
