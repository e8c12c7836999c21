//! Which threads the HTTP client uses: none of its own for a caller
//! outside any async runtime, its I/O thread for a caller inside one. One
//! test in a binary of its own, so that no other test's client is in the
//! thread list it reads.
#![cfg(all(feature = "http", target_os = "linux"))]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use prela_testkit::ScriptedServer;
use prela_transport::http::{HttpClient, HttpVersion, TlsConfig};

/// Threads of this process named as the client names its I/O thread.
fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|task| {
            std::fs::read_to_string(task.as_ref().unwrap().path().join("comm"))
                .is_ok_and(|name| name.trim() == "prela-http-io")
        })
        .count()
}

fn status(client: &HttpClient, url: &str, version: HttpVersion) -> StatusCode {
    client
        .send(
            Method::POST,
            format!("{url}/v1/traces").parse().unwrap(),
            HeaderMap::new(),
            Bytes::from_static(b"payload"),
            version,
            Instant::now() + Duration::from_secs(10),
        )
        .unwrap()
        .status
}

#[test]
fn the_io_thread_serves_only_callers_inside_a_runtime() {
    let server = ScriptedServer::start(vec![]);
    let url = server.url();
    let client = HttpClient::new(TlsConfig::new()).unwrap();
    // Callers on plain threads, one after another and two at a time.
    for version in [HttpVersion::Http1, HttpVersion::Http2] {
        assert_eq!(status(&client, &url, version), 200);
    }
    std::thread::scope(|s| {
        let callers: Vec<_> = (0..2)
            .map(|_| s.spawn(|| status(&client, &url, HttpVersion::Http1)))
            .collect();
        for c in callers {
            assert_eq!(c.join().unwrap(), 200);
        }
    });
    assert_eq!(
        io_threads(),
        0,
        "no I/O thread for callers outside a runtime"
    );
    assert_eq!(server.received().len(), 4);
    // A caller inside a runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async { status(&client, &url, HttpVersion::Http1) });
    assert_eq!(got, 200);
    assert_eq!(io_threads(), 1);
    // The last clone let go of inside an async context, with the runtimes
    // the plain callers left with it: tokio panics if a runtime's drop
    // blocks there.
    rt.block_on(async move { drop(client) });
    // And the I/O thread ends once the client is gone.
    let deadline = Instant::now() + Duration::from_secs(10);
    while io_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "the I/O thread outlived its client"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
