//! The attribute macros on sync and async functions and methods (its own
//! test binary: the macros record with the global tracer).
#![cfg(feature = "macros")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Each test holds its turn across its awaits on purpose: tests of this
// binary share the one global tracer, each on its own runtime.
#![allow(clippy::await_holding_lock)]

use std::fmt;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use prela::{SpanData, SpanType, Status};
use prela_testkit::Collect;

/// The installed tracer's spans; tests take turns.
fn collected() -> (MutexGuard<'static, ()>, &'static Collect) {
    static TURN: Mutex<()> = Mutex::new(());
    static INSTALLED: OnceLock<(Collect, prela::Guard)> = OnceLock::new();
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let (c, _) = INSTALLED.get_or_init(|| {
        let c = Collect::default();
        let guard = prela::init()
            .service_name("macros")
            .processor(c.clone())
            .capture_content(true)
            .env(|_| None)
            .install()
            .unwrap();
        (c, guard)
    });
    c.take();
    (turn, c)
}

fn by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?}"))
}

fn parent_name<'a>(spans: &'a [SpanData], name: &str) -> Option<&'a str> {
    let p = by_name(spans, name).parent_span_id?;
    spans
        .iter()
        .find(|s| s.span_context.span_id == p)
        .map(|s| &*s.name)
}

#[derive(Debug)]
struct NotFound(String);

impl fmt::Display for NotFound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no page at {}", self.0)
    }
}

impl std::error::Error for NotFound {}

#[prela::tool]
fn fetch(url: &str) -> Result<String, NotFound> {
    if url.ends_with("404") {
        return Err(NotFound(url.to_owned()));
    }
    Ok(format!("page {url}"))
}

#[prela::tool(name = "lookup", err = false)]
fn lookup_quietly(key: u32) -> Result<u32, NotFound> {
    Err(NotFound(key.to_string()))
}

#[prela::llm(
    fields(gen_ai.request.model = model.to_owned(), gen_ai.provider.name = "openai"),
    capture_args,
    skip(api_key),
    capture_result
)]
async fn chat(model: &str, prompt: &str, api_key: &str) -> Result<String, NotFound> {
    assert!(!api_key.is_empty());
    tokio::time::sleep(Duration::from_millis(1)).await;
    let page = fetch(prompt)?;
    prela::with_current_span(|s| s.set_usage(12, 3)).expect("the llm span is current");
    Ok(format!("summary of {page}"))
}

struct Agent {
    name: &'static str,
}

impl Agent {
    #[prela::agent(name = "research_agent")]
    async fn run(&self, question: &str) -> usize {
        let mut answers = 0;
        for q in [question, "404"] {
            if chat("gpt-4o", q, "sk").await.is_ok() {
                answers += 1;
            }
        }
        let _ = self.name;
        answers
    }

    #[prela::span]
    fn plan(&self) -> impl Iterator<Item = u32> {
        prela::tracer().start_span("inside plan").end();
        [1, 2].into_iter()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_method_and_its_calls_form_one_tree() {
    let (_turn, c) = collected();
    let agent = Agent { name: "a" };
    assert_eq!(agent.run("rust").await, 1);
    let spans = c.take();
    assert_eq!(
        spans.len(),
        5,
        "{:?}",
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let root = by_name(&spans, "research_agent");
    assert_eq!(root.span_type, SpanType::Agent);
    assert_eq!(root.parent_span_id, None);
    assert_eq!(root.status, Status::Success);
    let chats: Vec<&SpanData> = spans.iter().filter(|s| s.name == "chat").collect();
    assert_eq!(chats.len(), 2);
    for chat in &chats {
        assert_eq!(chat.parent_span_id, Some(root.span_context.span_id));
        assert_eq!(chat.span_type, SpanType::Llm);
        assert_eq!(
            chat.attribute("gen_ai.request.model")
                .and_then(|v| v.as_str()),
            Some("gpt-4o")
        );
        let input = chat
            .attribute("input.value")
            .and_then(|v| v.as_str())
            .unwrap();
        assert!(
            input.contains("\"model\"") && input.contains("\"prompt\""),
            "{input}"
        );
        assert!(!input.contains("api_key"), "skipped: {input}");
    }
    let fetches: Vec<&SpanData> = spans.iter().filter(|s| s.name == "fetch").collect();
    assert_eq!(fetches.len(), 2);
    for f in &fetches {
        let parent = f.parent_span_id.unwrap();
        assert!(chats.iter().any(|c| c.span_context.span_id == parent));
        assert_eq!(f.span_type, SpanType::Tool);
    }
    // The failed call: the tool's Err, propagated by `?`, marks both.
    let failed_fetch = fetches.iter().find(|f| f.status.is_error()).unwrap();
    assert_eq!(failed_fetch.status, Status::error("no page at 404"));
    assert!(
        failed_fetch
            .attribute("error.type")
            .and_then(|v| v.as_str())
            .unwrap()
            .ends_with("NotFound")
    );
    let failed_chat = chats.iter().find(|c| c.status.is_error()).unwrap();
    assert_eq!(failed_chat.status, Status::error("no page at 404"));
    let ok_chat = chats.iter().find(|c| !c.status.is_error()).unwrap();
    assert_eq!(
        ok_chat
            .attribute("gen_ai.usage.input_tokens")
            .and_then(|v| v.as_i64()),
        Some(12)
    );
    assert!(
        ok_chat
            .attribute("output.value")
            .and_then(|v| v.as_str())
            .unwrap()
            .contains("summary of page rust")
    );
}

#[test]
fn sync_functions_nest_and_options_apply() {
    let (_turn, c) = collected();
    let agent = Agent { name: "a" };
    assert_eq!(agent.plan().sum::<u32>(), 3);
    assert!(lookup_quietly(7).is_err());
    let spans = c.take();
    assert_eq!(parent_name(&spans, "inside plan"), Some("plan"));
    assert_eq!(by_name(&spans, "plan").span_type, SpanType::Custom);
    let lookup = by_name(&spans, "lookup");
    assert_eq!(lookup.status, Status::Success, "err = false");
    assert_eq!(
        lookup
            .attribute("gen_ai.tool.name")
            .and_then(|v| v.as_str()),
        Some("lookup")
    );
}

#[tokio::test]
async fn a_cancelled_call_ends_cancelled() {
    let (_turn, c) = collected();
    #[prela::retrieval]
    async fn slow_search() -> usize {
        tokio::time::sleep(Duration::from_secs(60)).await;
        0
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(5), slow_search())
            .await
            .is_err()
    );
    let spans = c.take();
    let s = by_name(&spans, "slow_search");
    assert_eq!(s.span_type, SpanType::Retrieval);
    assert_eq!(s.status, Status::error("cancelled"));
}
