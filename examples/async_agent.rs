//! An async agent on tokio: concurrent tool calls as tasks, each span under
//! the right parent (`FutureExt::with_context` carries the context into
//! each task, on any runtime).
//!
//! `cargo run --example async_agent`

use std::process::ExitCode;
use std::time::Duration;

use prela::FutureExt;

async fn search(query: &'static str, delay_ms: u64) -> usize {
    let tracer = prela::tracer();
    let mut tool = tracer.tool("web_search").start();
    tool.set_attribute("tool.input", query);
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    tool.set_attribute("tool.output", "3 results");
    3
}

#[tokio::main]
async fn main() -> ExitCode {
    prela_examples::exit(run().await)
}

async fn run() -> prela_examples::Outcome {
    let guard = prela::init().service_name("async-agent").install()?;
    let tracer = prela::tracer();

    let agent = tracer.agent("planner").start();
    let cx = agent.context();
    // Three searches at once; each task runs inside the agent's context.
    let tasks: Vec<_> = [("rust async", 30), ("tokio spawn", 10), ("tracing", 20)]
        .into_iter()
        .map(|(q, ms)| tokio::spawn(search(q, ms).with_context(cx.clone())))
        .collect();
    let mut found = 0;
    for t in tasks {
        found += t.await.unwrap_or(0);
    }
    // The agent span is not current on this thread: name it as the parent.
    let mut llm = tracer.llm("openai", "gpt-4o").parent(&cx).start();
    llm.set_usage(320, 45);
    llm.end();
    drop(agent);
    let _ = found;
    guard.shutdown()?;
    Ok(())
}
