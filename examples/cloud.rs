//! Send a traced agent run to Prela cloud.
//!
//! ```sh
//! PRELA_API_KEY=sk-... cargo run --example cloud
//! ```
//!
//! With `PRELA_API_KEY` set and no exporter named, `prela::init()` picks the
//! cloud exporter (batching on a worker thread). `PRELA_ENDPOINT` points it
//! at another gateway (plain `http://` only on loopback).

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example program talks to its user

use std::process::ExitCode;

use prela::{KeyValue, SpanType};

fn main() -> ExitCode {
    if std::env::var_os("PRELA_API_KEY").is_none() {
        eprintln!(
            "set PRELA_API_KEY (and optionally PRELA_ENDPOINT) to send this trace to Prela cloud"
        );
        return ExitCode::from(2);
    }
    let guard = match prela::init().service_name("cloud-example").install() {
        Ok(g) => g,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tracer = prela::tracer();
    {
        let mut agent = tracer
            .span_builder("support_agent")
            .span_type(SpanType::Agent)
            .enter();
        agent.set_attribute("agent.input", "Where is my order?");
        let mut llm = tracer
            .span_builder("chat gpt-4o")
            .span_type(SpanType::Llm)
            .start();
        llm.set_attribute("gen_ai.request.model", "gpt-4o");
        llm.set_attribute("gen_ai.usage.input_tokens", 230);
        llm.set_attribute("gen_ai.usage.output_tokens", 41);
        llm.add_event(
            "gen_ai.choice",
            vec![KeyValue::new("finish_reason", "stop")],
        );
        llm.end();
    }
    // Flush now and say plainly whether the gateway took the trace.
    match guard.shutdown() {
        Ok(()) => {
            println!("trace sent to Prela cloud");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: the trace was not delivered: {e}");
            ExitCode::FAILURE
        }
    }
}
