//! Send a trace to an OpenTelemetry collector over OTLP.
//!
//! ```sh
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cargo run --example otlp
//! OTEL_EXPORTER_OTLP_PROTOCOL=grpc OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run --example otlp
//! ```
//!
//! Exits non-zero, saying why, if the collector did not take every span.
#![allow(clippy::print_stdout, clippy::print_stderr)] // an example program talks to its user

use std::process::ExitCode;

fn main() -> ExitCode {
    let guard = match prela::init()
        .service_name("otlp-example")
        .default_exporter_name("otlp")
        .install()
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tracer = prela::tracer();
    {
        let _agent = tracer.agent("researcher").enter();
        let mut llm = tracer
            .llm("anthropic", "claude-sonnet-4")
            .max_tokens(1024)
            .enter();
        llm.set_usage(412, 87);
        llm.set_finish_reasons(&["end_turn"]);
    }
    match guard.shutdown() {
        Ok(()) => {
            println!("2 spans sent over OTLP");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: not delivered: {e}");
            ExitCode::FAILURE
        }
    }
}
