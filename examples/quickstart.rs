//! The smallest useful program: one traced LLM call, printed to the console.
//!
//! `cargo run --example quickstart`

use std::process::ExitCode;

use prela::SpanType;

fn main() -> ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    let _guard = prela::init().service_name("quickstart").install()?;
    let tracer = prela::tracer();

    let mut llm = tracer
        .span_builder("chat gpt-4o")
        .span_type(SpanType::Llm)
        .enter();
    llm.set_attribute("gen_ai.operation.name", "chat");
    llm.set_attribute("gen_ai.request.model", "gpt-4o");
    llm.set_attribute("gen_ai.usage.input_tokens", 12);
    llm.set_attribute("gen_ai.usage.output_tokens", 3);
    Ok(())
}
