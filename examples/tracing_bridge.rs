//! The `tracing` bridge: `#[tracing::instrument]` functions and
//! `tracing::span!` become Prela spans, events become span events.
//!
//! `cargo run --example tracing_bridge`

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tracing::instrument(fields(prela.span_type = "tool"))]
fn lookup(order: u32) -> &'static str {
    tracing::info!(order, "looking up");
    "shipped"
}

#[tracing::instrument(fields(prela.span_type = "agent", answer = tracing::field::Empty))]
fn support_agent(question: &str) {
    let status = lookup(1042);
    tracing::Span::current().record("answer", status);
}

fn main() -> std::process::ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    let guard = prela::init().service_name("bridge-example").install()?;
    tracing_subscriber::registry()
        .with(prela::tracing::PrelaLayer::new(guard.tracer().clone()))
        .init();
    support_agent("Where is my order?");
    Ok(())
}
