//! A simulated research agent, traced: the root agent span, two LLM calls
//! with model and token usage, tool calls (two of them on worker threads), a
//! retrieval, and one tool that fails.
//!
//! `cargo run --example agent` prints the trace tree and writes JSONL under
//! `./traces`. The environment chooses as for any `prela::init()`:
//! `PRELA_API_KEY` sends it to Prela cloud, `PRELA_EXPORTER` names the
//! exporters; `PRELA_TRACE_DIR`, `PRELA_CONSOLE_OUTPUT` and
//! `PRELA_CONSOLE_VERBOSITY` change where and how.

use std::fmt;
use std::thread;
use std::time::Duration;

use prela::{KeyValue, Span, SpanType, Tracer};

#[derive(Debug)]
struct FetchTimeout {
    url: &'static str,
}

impl fmt::Display for FetchTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GET {} timed out after 10.0s", self.url)
    }
}

impl std::error::Error for FetchTimeout {}

/// Stands in for a model call: records what a real client would.
fn llm_call(
    tracer: &Tracer,
    model: &'static str,
    prompt: &str,
    tokens: (i64, i64),
    work: Duration,
) -> String {
    let mut span = tracer
        .span_builder(format!("chat {model}"))
        .span_type(SpanType::Llm)
        .enter();
    span.set_attribute("gen_ai.operation.name", "chat");
    span.set_attribute(
        "gen_ai.provider.name",
        if model.starts_with("claude") {
            "anthropic"
        } else {
            "openai"
        },
    );
    span.set_attribute("gen_ai.request.model", model);
    span.set_attribute("gen_ai.request.temperature", 0.2);
    span.set_attribute("gen_ai.request.max_tokens", 1024);
    span.add_event(
        "gen_ai.user.message",
        vec![KeyValue::new("content", prompt.to_owned())],
    );
    thread::sleep(work);
    span.set_attribute("gen_ai.response.model", model);
    span.set_attribute("gen_ai.usage.input_tokens", tokens.0);
    span.set_attribute("gen_ai.usage.output_tokens", tokens.1);
    span.set_attribute("gen_ai.response.finish_reasons", vec!["stop"]);
    format!("answer from {model}")
}

/// A tool call; `fail` makes it time out.
fn tool_call(
    tracer: &Tracer,
    name: &'static str,
    input: &'static str,
    fail: bool,
) -> Option<String> {
    let mut span: Span = tracer.span_builder(name).span_type(SpanType::Tool).start();
    span.set_attribute("tool.name", name);
    span.set_attribute("tool.input", input);
    thread::sleep(Duration::from_millis(10));
    if fail {
        span.record_error(&FetchTimeout { url: input });
        return None;
    }
    let output = format!("results for {input}");
    span.set_attribute("tool.output", output.clone());
    Some(output)
}

fn retrieval(tracer: &Tracer, query: &'static str) -> Vec<&'static str> {
    let mut span = tracer
        .span_builder("vector_search")
        .span_type(SpanType::Retrieval)
        .enter();
    span.set_attribute("retriever.query", query);
    thread::sleep(Duration::from_millis(15));
    let docs = vec![
        "Rust 1.83.0 stabilises &mut, *mut, &Cell and *const Cell in const contexts.",
        "New const-stable APIs include Option::unwrap and Result::ok.",
    ];
    span.set_attribute("retriever.document_count", docs.len());
    span.add_event(
        "retrieval.completed",
        vec![KeyValue::new("scores", vec![0.92, 0.87])],
    );
    docs
}

fn main() -> std::process::ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    // Console and files unless the environment says otherwise: a named
    // exporter (PRELA_EXPORTER, OTEL_TRACES_EXPORTER) or PRELA_API_KEY
    // (Prela cloud) wins, exactly as for any program using prela::init().
    let guard = prela::init()
        .service_name("research-agent")
        .default_exporter_name("console,file")
        .install()?;
    let writes_files = guard.exporters().iter().any(|e| e == "file");
    let tracer = prela::tracer();

    let question = "What changed in Rust 1.83?";
    {
        let mut agent = tracer
            .span_builder("research_agent")
            .span_type(SpanType::Agent)
            .enter();
        agent.set_attribute("agent.name", "research_agent");
        agent.set_attribute("agent.input", question);
        agent.add_event("agent.start", vec![KeyValue::new("max_steps", 5)]);

        llm_call(
            &tracer,
            "claude-sonnet-4-20250514",
            question,
            (412, 87),
            Duration::from_millis(40),
        );

        // Two searches in parallel on worker threads, under the agent span.
        let cx = agent.context();
        thread::scope(|s| {
            for query in ["Rust 1.83 release notes", "Rust 1.83 const"] {
                let (cx, tracer) = (cx.clone(), tracer.clone());
                s.spawn(move || {
                    let _attached = cx.attach();
                    tool_call(&tracer, "web_search", query, false);
                });
            }
        });

        let docs = retrieval(&tracer, "const contexts in Rust 1.83");
        if tool_call(
            &tracer,
            "fetch_url",
            "https://releases.rs/docs/1.83.0/",
            true,
        )
        .is_none()
        {
            agent.add_event("agent.tool_error", vec![KeyValue::new("tool", "fetch_url")]);
        }
        let answer = llm_call(
            &tracer,
            "gpt-4o",
            &docs.join("\n"),
            (640, 152),
            Duration::from_millis(30),
        );
        agent.set_attribute("agent.output", answer);
        agent.set_attribute("agent.steps", 5);
    }

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
