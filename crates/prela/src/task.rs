//! Tokio tasks that carry the caller's context (feature `tokio`).
//!
//! `tokio::spawn` starts a task with nothing current, so a span started in
//! it begins a new trace. [`spawn`] and [`spawn_blocking`] carry the
//! context current at the call (the caller's span, its baggage) into the
//! task, on whatever worker thread runs it. For `std::thread::spawn` and
//! thread pools, use [`Context::wrap`](crate::Context::wrap).

use std::future::Future;

use prela_context::{Context, FutureExt};
use tokio::task::JoinHandle;

/// `tokio::spawn`, with the caller's context current during every poll of
/// the task.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let tracer = prela::tracer();
/// tracer
///     .in_span_async("agent", async {
///         let tool = prela::spawn(async {
///             // a child of "agent", whichever worker runs it
///             prela::tracer().in_span_async("web_search", async { 3 }).await
///         });
///         tool.await.unwrap_or(0)
///     })
///     .await;
/// # }
/// ```
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.with_context(Context::current()))
}

/// `tokio::task::spawn_blocking`, with the caller's context current while
/// `f` runs.
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(Context::current().wrap(f))
}

/// Spawns `future` on `set` (a `tokio::task::JoinSet`) with the caller's
/// context current during every poll.
pub fn spawn_in<F>(set: &mut tokio::task::JoinSet<F::Output>, future: F) -> tokio::task::AbortHandle
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    set.spawn(future.with_context(Context::current()))
}
