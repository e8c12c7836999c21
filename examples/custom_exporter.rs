//! Write your own exporter: implement `SpanExporter` (here, one CSV line
//! per span on standard output) and hand it to `init()`.
//!
//! `cargo run --example custom_exporter`

use std::io::Write;
use std::sync::Mutex;

use prela::{ExportError, ExportResult, SpanData, SpanExporter};

/// One `trace_id,span_id,name,type,status,duration_ms` line per span.
struct CsvExporter {
    out: Mutex<std::io::Stdout>,
}

impl SpanExporter for CsvExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        let Ok(mut out) = self.out.lock() else {
            return ExportResult::Failure(ExportError::Other("stdout lock poisoned".into()));
        };
        for s in batch {
            let ms = s.duration().map_or(0.0, |d| d.as_secs_f64() * 1000.0);
            let line = format!(
                "{},{},{},{},{},{ms:.3}\n",
                s.span_context.trace_id,
                s.span_context.span_id,
                s.name,
                s.span_type,
                s.status.as_str()
            );
            if let Err(e) = out.write_all(line.as_bytes()) {
                // A failed write is reported, never dropped silently.
                return ExportResult::Failure(ExportError::Io(e));
            }
        }
        ExportResult::Success
    }
}

fn main() -> std::process::ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    let _guard = prela::init()
        .service_name("csv")
        .exporter(CsvExporter {
            out: Mutex::new(std::io::stdout()),
        })
        .install()?;
    let tracer = prela::tracer();
    let _agent = tracer.agent("csv-agent").enter();
    tracer.tool("lookup").start().end();
    Ok(())
}
