//! GenAI helpers: span names, types and semantic-convention attributes;
//! content capture off by default.
#![allow(clippy::unwrap_used)]

use prela_testkit::Collect;

use prela_core::{SpanData, SpanType, Value};
use prela_tracer::Tracer;

fn run(capture: bool) -> Vec<SpanData> {
    let c = Collect::default();
    let t = Tracer::builder()
        .processor(c.clone())
        .capture_content(capture)
        .build();
    {
        let _agent = t.agent("researcher").conversation("conv-1").enter();
        let mut llm = t
            .llm("openai", "gpt-4o")
            .temperature(0.2)
            .max_tokens(1024)
            .top_p(0.9)
            .stop_sequences(&["END"])
            .prompt(Value::Array(vec![Value::Map(vec![
                ("role".into(), "user".into()),
                ("content".into(), "secret question".into()),
            ])]))
            .enter();
        llm.mark_first_token();
        llm.mark_first_token();
        llm.set_usage(412, 87);
        llm.set_finish_reasons(&["stop"]);
        llm.set_response("gpt-4o-2024-08-06", "chatcmpl-1");
        llm.record_completion("secret answer");
        drop(llm);
        let mut tool = t
            .tool("web_search")
            .call_id("call-7")
            .arguments(r#"{"q":"rust"}"#)
            .start();
        tool.record_tool_result("3 results");
        tool.end();
        let mut r = t.retrieval("docs-index", "const contexts").start();
        r.set_document_count(2);
        r.end();
        let mut e = t
            .embedding("openai", "text-embedding-3-small")
            .dimensions(1536)
            .start();
        e.set_usage(12, 0);
        e.end();
    }
    std::mem::take(&mut *c.0.lock().unwrap())
}

fn get<'a>(s: &'a SpanData, k: &str) -> Option<&'a Value> {
    s.attribute(k)
}

#[test]
fn names_types_and_attributes_follow_the_conventions() {
    let spans = run(false);
    let by = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap_or_else(|| panic!("no span {n}"))
    };
    let agent = by("invoke_agent researcher");
    assert_eq!(agent.span_type, SpanType::Agent);
    assert_eq!(
        get(agent, "gen_ai.operation.name").and_then(Value::as_str),
        Some("invoke_agent")
    );
    assert_eq!(
        get(agent, "gen_ai.conversation.id").and_then(Value::as_str),
        Some("conv-1")
    );
    let llm = by("chat gpt-4o");
    assert_eq!(llm.span_type, SpanType::Llm);
    assert_eq!(llm.parent_span_id, Some(agent.span_context.span_id));
    for (k, v) in [
        ("gen_ai.operation.name", Value::from("chat")),
        ("gen_ai.provider.name", Value::from("openai")),
        ("gen_ai.request.model", Value::from("gpt-4o")),
        ("gen_ai.request.temperature", Value::from(0.2)),
        ("gen_ai.request.max_tokens", Value::from(1024u32)),
        ("gen_ai.usage.input_tokens", Value::from(412u64)),
        ("gen_ai.usage.output_tokens", Value::from(87u64)),
        ("gen_ai.response.model", Value::from("gpt-4o-2024-08-06")),
        ("gen_ai.response.id", Value::from("chatcmpl-1")),
    ] {
        assert_eq!(get(llm, k), Some(&v), "{k}");
    }
    assert_eq!(
        get(llm, "gen_ai.response.finish_reasons"),
        Some(&Value::Array(vec!["stop".into()]))
    );
    assert!(
        get(llm, "prela.llm.time_to_first_token_ms")
            .and_then(Value::as_f64)
            .is_some()
    );
    assert_eq!(
        llm.events
            .iter()
            .filter(|e| e.name == "gen_ai.first_token")
            .count(),
        1
    );
    let tool = by("execute_tool web_search");
    assert_eq!(
        get(tool, "gen_ai.tool.call.id").and_then(Value::as_str),
        Some("call-7")
    );
    let r = by("retrieval docs-index");
    assert_eq!(
        get(r, "retriever.query").and_then(Value::as_str),
        Some("const contexts")
    );
    assert_eq!(get(r, "retriever.document_count"), Some(&Value::I64(2)));
    let e = by("embeddings text-embedding-3-small");
    assert_eq!(e.span_type, SpanType::Embedding);
    assert_eq!(
        get(e, "gen_ai.embeddings.dimension.count"),
        Some(&Value::I64(1536))
    );
}

#[test]
fn content_is_captured_only_when_asked() {
    for s in run(false) {
        for k in [
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
        ] {
            assert!(get(&s, k).is_none(), "{k} on {} without capture", s.name);
        }
        let text = format!("{s:?}");
        assert!(!text.contains("secret"), "{text}");
    }
    let spans = run(true);
    let llm = spans.iter().find(|s| s.name == "chat gpt-4o").unwrap();
    let input = get(llm, "gen_ai.input.messages")
        .and_then(Value::as_str)
        .unwrap();
    assert!(
        input.contains("secret question") && input.starts_with('['),
        "{input}"
    );
    assert_eq!(
        get(llm, "gen_ai.output.messages").and_then(Value::as_str),
        Some("secret answer")
    );
    let tool = spans
        .iter()
        .find(|s| s.name == "execute_tool web_search")
        .unwrap();
    assert_eq!(
        get(tool, "gen_ai.tool.call.arguments").and_then(Value::as_str),
        Some(r#"{"q":"rust"}"#)
    );
    assert_eq!(
        get(tool, "gen_ai.tool.call.result").and_then(Value::as_str),
        Some("3 results")
    );
}
