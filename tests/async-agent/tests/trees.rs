//! A research agent as a tokio service writes it: LLM calls with
//! `#[prela::llm]`, tools through `prela::spawn`, `prela::spawn_blocking`
//! and a `JoinSet`, two branches under `tokio::join!`, a tool cancelled by
//! `tokio::select!` with a timeout, a `#[tracing::instrument]` library
//! function calling back into a `#[prela::tool]`, a `tracing::info!` inside
//! an LLM span, and a tool that panics. 200 agents run at once on the
//! current-thread runtime, then 200 on the multi-thread runtime; every
//! trace's tree (each span's parent, type and status, and the LLM span's
//! event) must be exactly the expected one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use prela::{SpanData, SpanId, Status, TraceId};
use prela_testkit::Collect;
use tokio::task::JoinSet;
use tracing_subscriber::layer::SubscriberExt;

const AGENTS: usize = 200;

#[derive(Debug)]
struct AgentError(String);

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AgentError {}

#[prela::llm(fields(gen_ai.request.model = "gpt-4o", gen_ai.provider.name = "openai"))]
async fn plan(question: usize) -> Result<usize, AgentError> {
    tracing::info!(question, "planning");
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(question % 3 + 1)
}

#[prela::llm]
async fn summarize(part: &'static str) -> String {
    tokio::task::yield_now().await;
    format!("summary of {part}")
}

#[prela::tool]
async fn search(query: &'static str) -> usize {
    tokio::time::sleep(Duration::from_millis(1)).await;
    query.len()
}

#[prela::tool]
fn parse(i: usize) -> usize {
    std::thread::sleep(Duration::from_millis(1));
    i * 2
}

#[prela::tool]
async fn fetch(k: usize) -> Result<usize, AgentError> {
    tokio::task::yield_now().await;
    Ok(k)
}

#[prela::span]
async fn left_branch() -> String {
    tokio::time::sleep(Duration::from_millis(2)).await;
    summarize("left").await
}

#[prela::span]
async fn right_branch() -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    summarize("right").await
}

#[prela::tool]
async fn slow_tool() -> usize {
    tokio::time::sleep(Duration::from_secs(60)).await;
    0
}

#[prela::tool]
fn callback(i: usize) -> usize {
    i + 1
}

/// Library code instrumented with `tracing`, calling back into a Prela
/// tool.
#[tracing::instrument]
fn lookup(i: usize) -> usize {
    callback(i)
}

#[prela::tool]
async fn exploding_tool() {
    tokio::task::yield_now().await;
    panic!("tool exploded");
}

#[prela::agent(name = "research_agent")]
async fn research_agent(i: usize) -> Result<usize, AgentError> {
    let steps = plan(i).await?;
    let searched = prela::spawn(search("rust async"));
    let parsed = prela::spawn_blocking(move || parse(i));
    let mut fetches = JoinSet::new();
    for k in 0..2 {
        prela::spawn_in(&mut fetches, fetch(k));
    }
    let mut total = searched.await.map_err(|e| AgentError(e.to_string()))?
        + parsed.await.map_err(|e| AgentError(e.to_string()))?;
    while let Some(r) = fetches.join_next().await {
        total += r.map_err(|e| AgentError(e.to_string()))??;
    }
    let (left, right) = tokio::join!(left_branch(), right_branch());
    total += left.len() + right.len();
    tokio::select! {
        n = slow_tool() => total += n,
        () = tokio::time::sleep(Duration::from_millis(2)) => {}
    }
    total += lookup(i);
    if prela::spawn(exploding_tool()).await.is_ok() {
        return Err(AgentError("the exploding tool did not explode".into()));
    }
    Ok(total + steps)
}

/// The expected tree of every trace: `type name status`, children sorted,
/// the LLM span's events in brackets.
const EXPECTED: &str = "\
agent research_agent ok
  custom left_branch ok
    llm summarize ok
  custom lookup ok
    tool callback ok
  custom right_branch ok
    llm summarize ok
  llm plan ok [planning]
  tool exploding_tool error: panicked
  tool fetch ok
  tool fetch ok
  tool parse ok
  tool search ok
  tool slow_tool error: cancelled
";

fn status(s: &Status) -> String {
    match s {
        Status::Error { message } => format!("error: {message}"),
        _ => "ok".to_owned(),
    }
}

/// One trace as an indented tree, children sorted so that the order the
/// runtime ran them in does not matter.
fn render(spans: &[&SpanData]) -> String {
    let mut children: BTreeMap<Option<SpanId>, Vec<&SpanData>> = BTreeMap::new();
    for s in spans {
        children.entry(s.parent_span_id).or_default().push(s);
    }
    fn line(s: &SpanData) -> String {
        let mut l = format!("{} {} {}", s.span_type, s.name, status(&s.status));
        if s.span_type == prela::SpanType::Llm && !s.events.is_empty() {
            let names: Vec<&str> = s.events.iter().map(|e| &*e.name).collect();
            let _ = write!(l, " [{}]", names.join(", "));
        }
        l
    }
    fn walk(
        out: &mut String,
        children: &BTreeMap<Option<SpanId>, Vec<&SpanData>>,
        parent: Option<SpanId>,
        depth: usize,
    ) {
        let mut kids: Vec<&SpanData> = children.get(&parent).cloned().unwrap_or_default();
        kids.sort_by_key(|s| line(s));
        for s in kids {
            let _ = writeln!(out, "{}{}", "  ".repeat(depth), line(s));
            walk(out, children, Some(s.span_context.span_id), depth + 1);
        }
    }
    let mut out = String::new();
    walk(&mut out, &children, None, 0);
    // Spans whose parent is not in the trace would be missed above.
    let ids: Vec<SpanId> = spans.iter().map(|s| s.span_context.span_id).collect();
    for s in spans {
        if let Some(p) = s.parent_span_id {
            if !ids.contains(&p) {
                let _ = writeln!(out, "orphan: {}", line(s));
            }
        }
    }
    out
}

fn check(c: &Collect, runtime: &str) {
    let spans = c.take();
    let mut traces: BTreeMap<TraceId, Vec<&SpanData>> = BTreeMap::new();
    for s in &spans {
        traces.entry(s.span_context.trace_id).or_default().push(s);
    }
    assert_eq!(traces.len(), AGENTS, "{runtime}: one trace per agent");
    for (id, trace) in &traces {
        let tree = render(trace);
        assert_eq!(tree, EXPECTED, "{runtime}: trace {id}");
    }
}

async fn run_agents() {
    let mut agents = JoinSet::new();
    for i in 0..AGENTS {
        // A plain tokio::spawn: each agent is a trace of its own.
        agents.spawn(research_agent(i));
    }
    while let Some(r) = agents.join_next().await {
        r.expect("the agent task").expect("the agent");
    }
}

#[test]
fn every_trace_has_the_expected_tree_on_both_runtimes() {
    // The exploding tool's panic is expected: keep its message off the
    // output, and every other panic's on it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"tool exploded") {
            default_hook(info);
        }
    }));
    // Logging set up first, with a tracer taken before install(), as a
    // service usually does it.
    let _log = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(prela::tracing::PrelaLayer::new(prela::tracer())),
    );
    let c = Collect::default();
    let guard = prela::init()
        .service_name("async-agent")
        .processor(c.clone())
        .env(|_| None)
        .install()
        .unwrap();

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_agents());
    check(&c, "current-thread runtime");

    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_agents());
    check(&c, "multi-thread runtime");

    guard.shutdown().unwrap();
}
