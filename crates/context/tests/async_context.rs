//! The context follows tasks across a multi-thread runtime.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use prela_context::{Context, FutureExt};
use prela_core::{SpanContext, SpanId, TraceFlags, TraceId};

static NEXT: AtomicU64 = AtomicU64::new(1);

fn child_of_current() -> (Option<SpanId>, Context) {
    let parent = Context::map_current(|cx| cx.span().map(|s| s.span_id));
    let id = SpanId::from_u64(NEXT.fetch_add(1, Ordering::Relaxed));
    let sc = SpanContext::new(TraceId::from_u128(1), id, TraceFlags::SAMPLED);
    (parent, Context::current().with_span(sc))
}

fn id_of(cx: &Context) -> SpanId {
    cx.span().unwrap().span_id
}

#[test]
fn a_thousand_interleaved_tasks_keep_their_parents() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut handles = Vec::new();
        for _ in 0..1000 {
            let (_, root) = child_of_current();
            let root_id = id_of(&root);
            let task = async move {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                    let (parent, child) = child_of_current();
                    assert_eq!(parent, Some(root_id));
                    let child_id = id_of(&child);
                    async move {
                        tokio::task::yield_now().await;
                        let (parent, grandchild) = child_of_current();
                        assert_eq!(parent, Some(child_id));
                        let grandchild_id = id_of(&grandchild);
                        async move {
                            tokio::time::sleep(std::time::Duration::from_micros(50)).await;
                            let (parent, _) = child_of_current();
                            assert_eq!(parent, Some(grandchild_id));
                        }
                        .with_context(grandchild)
                        .await;
                        // Back in the child's context after the inner future.
                        assert_eq!(
                            Context::map_current(|c| c.span().map(|s| s.span_id)),
                            Some(child_id)
                        );
                    }
                    .with_context(child)
                    .await;
                }
                root_id
            }
            .with_context(root);
            handles.push(tokio::spawn(task));
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    // Nothing leaked onto this thread.
    assert!(Context::current().span().is_none());
}
