//! A simulated research agent on tokio, traced with the attribute macros:
//! the root agent span, two LLM calls with model and token usage, two web
//! searches run as tasks at once, a retrieval, and one tool that fails.
//!
//! `cargo run --example agent` prints the trace tree and writes JSONL under
//! `./traces`. The environment chooses as for any `prela::init()`:
//! `PRELA_API_KEY` sends it to Prela cloud, `PRELA_EXPORTER` names the
//! exporters; `PRELA_TRACE_DIR`, `PRELA_CONSOLE_OUTPUT` and
//! `PRELA_CONSOLE_VERBOSITY` change where and how.

use std::fmt;
use std::time::Duration;

use prela::KeyValue;

#[derive(Debug)]
struct FetchTimeout {
    url: String,
}

impl fmt::Display for FetchTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET {} timed out after 10.0s", self.url)
    }
}

impl std::error::Error for FetchTimeout {}

/// Stands in for a model call: records what a real client would.
#[prela::llm(
    name = "chat",
    fields(
        gen_ai.provider.name = if model.starts_with("claude") { "anthropic" } else { "openai" },
        gen_ai.request.model = model.to_owned(),
        gen_ai.request.temperature = 0.2,
        gen_ai.request.max_tokens = 1024,
    )
)]
async fn llm_call(model: &str, prompt: &str, tokens: (u64, u64), work: Duration) -> String {
    prela::with_current_span(|span| {
        span.add_event(
            "gen_ai.user.message",
            vec![KeyValue::new("content", prompt.to_owned())],
        );
    });
    tokio::time::sleep(work).await;
    prela::with_current_span(|span| {
        span.set_attribute("gen_ai.response.model", model.to_owned());
        span.set_usage(tokens.0, tokens.1);
        span.set_finish_reasons(&["stop"]);
    });
    format!("answer from {model}")
}

/// A web search tool.
#[prela::tool(fields(tool.input = query.to_owned()))]
async fn web_search(query: &'static str) -> String {
    tokio::time::sleep(Duration::from_millis(10)).await;
    let output = format!("results for {query}");
    prela::with_current_span(|span| span.set_attribute("tool.output", output.clone()));
    output
}

/// A tool that times out: its `Err` marks the span failed.
#[prela::tool(fields(tool.input = url.to_owned()))]
async fn fetch_url(url: &str) -> Result<String, FetchTimeout> {
    tokio::time::sleep(Duration::from_millis(10)).await;
    Err(FetchTimeout {
        url: url.to_owned(),
    })
}

#[prela::retrieval(name = "vector_search", fields(retriever.query = query.to_owned()))]
async fn retrieval(query: &str) -> Vec<&'static str> {
    tokio::time::sleep(Duration::from_millis(15)).await;
    let docs = vec![
        "Rust 1.83.0 stabilises &mut, *mut, &Cell and *const Cell in const contexts.",
        "New const-stable APIs include Option::unwrap and Result::ok.",
    ];
    prela::with_current_span(|span| {
        span.set_document_count(docs.len() as u64);
        span.add_event(
            "retrieval.completed",
            vec![KeyValue::new("scores", vec![0.92, 0.87])],
        );
    });
    docs
}

#[prela::agent(fields(agent.name = "research_agent", agent.input = question.to_owned()))]
async fn research_agent(question: &str) -> String {
    llm_call(
        "claude-sonnet-4-20250514",
        question,
        (412, 87),
        Duration::from_millis(40),
    )
    .await;
    // Two searches at once, as tasks: prela::spawn carries the agent span.
    let searches: Vec<_> = ["Rust 1.83 release notes", "Rust 1.83 const"]
        .into_iter()
        .map(|q| prela::spawn(web_search(q)))
        .collect();
    for s in searches {
        let _ = s.await;
    }
    let docs = retrieval("const contexts in Rust 1.83").await;
    if fetch_url("https://releases.rs/docs/1.83.0/").await.is_err() {
        prela::add_event_to_current(
            "agent.tool_error",
            vec![KeyValue::new("tool", "fetch_url")],
            None,
        );
    }
    let answer = llm_call(
        "gpt-4o",
        &docs.join("\n"),
        (640, 152),
        Duration::from_millis(30),
    )
    .await;
    prela::with_current_span(|span| {
        span.set_attribute("agent.output", answer.clone());
        span.set_attribute("agent.steps", 5);
    });
    answer
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    prela_examples::exit(run().await)
}

async fn run() -> prela_examples::Outcome {
    // Console and files unless the environment says otherwise: a named
    // exporter (PRELA_EXPORTER, OTEL_TRACES_EXPORTER) or PRELA_API_KEY
    // (Prela cloud) wins, exactly as for any program using prela::init().
    let guard = prela::init()
        .service_name("research-agent")
        .default_exporter_name("console,file")
        .install()?;
    let writes_files = guard.exporters().iter().any(|e| e == "file");

    research_agent("What changed in Rust 1.83?").await;

    // Flush and close the files now, and say where they are.
    guard.shutdown()?;
    #[allow(clippy::print_stdout)]
    if writes_files {
        let dir = std::env::var("PRELA_TRACE_DIR").unwrap_or_else(|_| "./traces".into());
        for f in prela::file::trace_files(std::path::Path::new(&dir))? {
            println!("\ntraces written to {}", f.display());
        }
    }
    Ok(())
}
