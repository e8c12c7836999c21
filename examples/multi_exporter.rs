//! Several exporters at once: the console tree while you watch, JSONL files
//! to keep, each behind its own processor so one cannot hold up the other.
//!
//! `cargo run --example multi_exporter` (files go to `PRELA_TRACE_DIR`,
//! default `./traces`).

fn main() -> std::process::ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    let _guard = prela::init()
        .service_name("multi")
        .default_exporter_name("console,file")
        .install()?;
    let tracer = prela::tracer();
    let _agent = tracer.agent("summariser").enter();
    let mut llm = tracer.llm("openai", "gpt-4o-mini").start();
    llm.set_usage(900, 120);
    llm.end();
    Ok(())
}
