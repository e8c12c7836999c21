//! An async agent on tokio: concurrent tool calls as tasks and as
//! `tokio::join!` branches, each span under the right parent, with the
//! attribute macros and `prela::spawn` (which carries the caller's
//! context into the task).
//!
//! `cargo run --example async_agent`

use std::process::ExitCode;
use std::time::Duration;

#[prela::tool(fields(tool.input = query))]
async fn search(query: &'static str, delay_ms: u64) -> usize {
    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    prela::with_current_span(|s| s.set_attribute("tool.output", "3 results"));
    3
}

#[prela::llm(fields(gen_ai.provider.name = "openai", gen_ai.request.model = "gpt-4o"))]
async fn summarise(found: usize) -> String {
    tokio::time::sleep(Duration::from_millis(5)).await;
    prela::with_current_span(|s| s.set_usage(320, 45));
    format!("{found} results summarised")
}

#[prela::agent(name = "planner")]
async fn planner() -> String {
    // Three searches at once as tasks: each is a child of `planner`.
    let tasks: Vec<_> = [("rust async", 30), ("tokio spawn", 10), ("tracing", 20)]
        .into_iter()
        .map(|(q, ms)| prela::spawn(search(q, ms)))
        .collect();
    let mut found = 0;
    for t in tasks {
        found += t.await.unwrap_or(0);
    }
    // Two more in one task under join!: each still gets its own parent.
    let (a, b) = tokio::join!(search("rust 1.83", 5), search("const fn", 1));
    summarise(found + a + b).await
}

#[tokio::main]
async fn main() -> ExitCode {
    prela_examples::exit(run().await)
}

async fn run() -> prela_examples::Outcome {
    let guard = prela::init().service_name("async-agent").install()?;
    planner().await;
    guard.shutdown()?;
    Ok(())
}
