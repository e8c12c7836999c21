//! Several exporters at once: the console tree while you watch, JSONL files
//! to keep, each behind its own processor so one cannot hold up the other.
//!
//! `cargo run --example multi_exporter` (files go to `PRELA_TRACE_DIR`,
//! default `./traces`).

fn main() -> Result<(), prela::InitError> {
    let _guard = prela::init()
        .service_name("multi")
        .exporter_name("console,file")
        .install()?;
    let tracer = prela::tracer();
    let _agent = tracer.agent("summariser").enter();
    let mut llm = tracer.llm("openai", "gpt-4o-mini").start();
    llm.set_usage(900, 120);
    llm.end();
    Ok(())
}
