//! Rendering one trace as a tree.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;
use std::time::{Duration, SystemTime};

use prela_core::time::UtcTime;
use prela_core::{SpanData, SpanId, SpanType, Status, Value};

use crate::pyrepr::{repr, str_of};

/// How much of each span is shown.
#[allow(clippy::exhaustive_enums)] // three levels, as in the Python SDK
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Verbosity {
    /// One line per span: type, name, duration, outcome.
    Minimal,
    /// Plus a summary line: model and tokens, tool and input, query and
    /// document count, error.
    #[default]
    Normal,
    /// Plus every attribute (sorted) and every event.
    Verbose,
}

/// ANSI styles, used only when colour is on.
struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, out: &mut String, code: &str, text: &str) {
        if self.on {
            let _ = write!(out, "\x1b[{code}m{text}\x1b[0m");
        } else {
            out.push_str(text);
        }
    }
}

fn type_color(t: SpanType) -> &'static str {
    match t {
        SpanType::Agent => "1;35",
        SpanType::Llm => "1;36",
        SpanType::Tool => "1;33",
        SpanType::Retrieval => "1;34",
        SpanType::Embedding => "1;32",
        SpanType::Custom => "1",
    }
}

/// `HH:MM:SS.mmm` in UTC.
pub fn clock(t: SystemTime) -> String {
    let u = UtcTime::from_system_time(t);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        u.hour,
        u.minute,
        u.second,
        u.micros / 1000
    )
}

/// `NNµs` below a millisecond, `NNNms` below a second, `N.NNNs` above.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{}µs", us.round())
    } else if us < 1e6 {
        format!("{}ms", (us / 1000.0).round())
    } else {
        format!("{:.3}s", us / 1e6)
    }
}

fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

fn first<'a>(span: &'a SpanData, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| span.attribute(k))
}

fn shown(v: &Value) -> String {
    let mut s = String::new();
    str_of(&mut s, v);
    s
}

/// The `key: value | key: value` summary of the normal view.
fn summary(span: &SpanData) -> Vec<String> {
    let mut parts = Vec::new();
    match span.span_type {
        SpanType::Llm | SpanType::Embedding => {
            if let Some(m) = first(
                span,
                &["llm.model", "gen_ai.request.model", "gen_ai.response.model"],
            ) {
                parts.push(format!("model: {}", shown(m)));
            }
            let input = first(
                span,
                &[
                    "llm.input_tokens",
                    "llm.prompt_tokens",
                    "gen_ai.usage.input_tokens",
                ],
            );
            let output = first(
                span,
                &[
                    "llm.output_tokens",
                    "llm.completion_tokens",
                    "gen_ai.usage.output_tokens",
                ],
            );
            if input.is_some() || output.is_some() {
                let f = |v: Option<&Value>| v.map_or_else(|| "?".to_owned(), shown);
                parts.push(format!("tokens: {} → {}", f(input), f(output)));
            }
        }
        SpanType::Tool => {
            if let Some(n) = first(span, &["tool.name", "gen_ai.tool.name"]) {
                parts.push(format!("tool: {}", shown(n)));
            }
            if let Some(i) = first(span, &["tool.input", "gen_ai.tool.call.arguments"]) {
                parts.push(format!("input: {}", cut(&shown(i), 50)));
            }
        }
        SpanType::Retrieval => {
            if let Some(q) = first(
                span,
                &[
                    "retriever.query",
                    "retrieval.query",
                    "gen_ai.retrieval.query",
                ],
            ) {
                parts.push(format!("query: {}", shown(q)));
            }
            if let Some(n) = first(
                span,
                &["retriever.document_count", "retrieval.document_count"],
            ) {
                parts.push(format!("docs: {}", shown(n)));
            }
        }
        SpanType::Agent | SpanType::Custom => {}
    }
    if let Status::Error { message } = &span.status {
        parts.push(format!("error: {}", cut(message, 100)));
    }
    parts
}

fn details(span: &SpanData, verbosity: Verbosity) -> Vec<String> {
    match verbosity {
        Verbosity::Minimal => Vec::new(),
        Verbosity::Normal => {
            let parts = summary(span);
            if parts.is_empty() {
                Vec::new()
            } else {
                vec![parts.join(" | ")]
            }
        }
        Verbosity::Verbose => {
            let mut lines = Vec::new();
            let mut attrs: Vec<_> = span.attributes.iter().collect();
            // The resource's service.name is shown as the Python SDK shows it.
            let service = span
                .resource
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == "service.name");
            if let Some(s) = service.filter(|_| span.attribute("service.name").is_none()) {
                attrs.push(s);
            }
            attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
            for kv in attrs {
                let mut l = format!("{} = ", kv.key);
                repr(&mut l, &kv.value);
                lines.push(l);
            }
            if !span.events.is_empty() {
                lines.push("Events:".to_owned());
                for e in &span.events {
                    let mut l = format!("  - {} {}", clock(e.timestamp), e.name);
                    if !e.attributes.is_empty() {
                        let mut kvs: Vec<_> = e.attributes.iter().collect();
                        kvs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
                        l.push_str(" (");
                        for (i, kv) in kvs.iter().enumerate() {
                            if i > 0 {
                                l.push_str(", ");
                            }
                            let _ = write!(l, "{}=", kv.key);
                            str_of(&mut l, &kv.value);
                        }
                        l.push(')');
                    }
                    lines.push(l);
                }
            }
            lines
        }
    }
}

/// Renders the spans of one trace (in any order) as a tree, the way the
/// Python SDK's console exporter does. Spans whose parent is not among them
/// are shown at the top level. Ends with a newline.
pub fn render_trace(spans: &[SpanData], verbosity: Verbosity, color: bool) -> String {
    let style = Style { on: color };
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_context.span_id).collect();
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let mut roots: Vec<&SpanData> = Vec::new();
    for s in spans {
        match s.parent_span_id.filter(|p| ids.contains(p)) {
            Some(p) => children.entry(p).or_default().push(s),
            None => roots.push(s),
        }
    }
    let by_start = |a: &&SpanData, b: &&SpanData| a.start_time.cmp(&b.start_time);
    roots.sort_by(by_start);
    for list in children.values_mut() {
        list.sort_by(by_start);
    }
    let mut out = String::from("\n");
    let (Some(first_root), Some(any)) = (roots.first(), spans.first()) else {
        return String::new();
    };
    let header = format!(
        "Trace {} @ {}",
        &any.span_context.trace_id.to_string()[..8],
        clock(first_root.start_time)
    );
    style.paint(&mut out, "1", &header);
    out.push('\n');
    if !color {
        out.push_str(&"=".repeat(header.chars().count()));
        out.push('\n');
    }
    let n = roots.len();
    let mut visited = HashSet::new();
    for (i, root) in roots.iter().enumerate() {
        write_node(
            &mut out,
            root,
            "",
            i + 1 == n,
            &children,
            verbosity,
            &style,
            &mut visited,
        );
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn write_node(
    out: &mut String,
    span: &SpanData,
    prefix: &str,
    last: bool,
    children: &HashMap<SpanId, Vec<&SpanData>>,
    verbosity: Verbosity,
    style: &Style,
    visited: &mut HashSet<SpanId>,
) {
    // A span id repeated in the input must not loop forever.
    if !visited.insert(span.span_context.span_id) {
        return;
    }
    out.push_str(prefix);
    out.push_str(if last { "└─ " } else { "├─ " });
    style.paint(out, type_color(span.span_type), span.span_type.as_str());
    out.push_str(": ");
    out.push_str(&span.name);
    let duration = span
        .duration()
        .map_or_else(|| "…".to_owned(), format_duration);
    out.push_str(" (");
    style.paint(out, "2", &duration);
    out.push_str(") ");
    match span.status {
        Status::Success => style.paint(out, "32", "✓"),
        Status::Error { .. } => style.paint(out, "31", "✗"),
        Status::Pending => style.paint(out, "33", "⋯"),
    }
    out.push('\n');
    let child_prefix = format!("{prefix}{}", if last { "   " } else { "│  " });
    for line in details(span, verbosity) {
        out.push_str(&child_prefix);
        out.push_str("   ");
        out.push_str(&line);
        out.push('\n');
    }
    if let Some(kids) = children.get(&span.span_context.span_id) {
        let n = kids.len();
        for (i, kid) in kids.iter().enumerate() {
            write_node(
                out,
                kid,
                &child_prefix,
                i + 1 == n,
                children,
                verbosity,
                style,
                visited,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(format_duration(Duration::from_micros(24)), "24µs");
        assert_eq!(format_duration(Duration::from_micros(208_832)), "209ms");
        assert_eq!(format_duration(Duration::from_micros(999_400)), "999ms");
        assert_eq!(format_duration(Duration::from_micros(1_234_567)), "1.235s");
    }

    #[test]
    fn cut_is_char_safe() {
        assert_eq!(cut("ééééé", 3), "ééé...");
        assert_eq!(cut("abc", 3), "abc");
    }
}
