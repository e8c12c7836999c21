//! The HTTP client against real loopback servers: plain, HTTP/2, rustls
//! with generated certificates, and scripted faults.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use prela_testkit::{Pki, Reply, ScriptedServer};
use prela_transport::http::{HttpClient, HttpErrorKind, HttpVersion, TlsConfig};

fn post(
    client: &HttpClient,
    url: &str,
    version: HttpVersion,
    timeout: Duration,
) -> Result<prela_transport::http::HttpResponse, prela_transport::http::HttpError> {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/x-protobuf".parse().unwrap());
    client.send(
        Method::POST,
        format!("{url}/v1/traces").parse::<Uri>().unwrap(),
        headers,
        Bytes::from_static(b"payload"),
        version,
        Instant::now() + timeout,
    )
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn http1_and_http2_on_plain_tcp() {
    let server = ScriptedServer::start(vec![Reply::status(200).with_body("ok")]);
    let client = HttpClient::new(TlsConfig::new()).unwrap();
    let r = post(&client, &server.url(), HttpVersion::Http1, secs(5)).unwrap();
    assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"ok"[..]));
    let r = post(&client, &server.url(), HttpVersion::Http2, secs(5)).unwrap();
    assert_eq!(r.status.as_u16(), 200);
    let got = server.received();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].method.as_str(), got[0].path.as_str()),
        ("POST", "/v1/traces")
    );
    assert_eq!(got[0].version, http::Version::HTTP_11);
    assert_eq!(got[0].body, b"payload");
    assert_eq!(got[0].headers["content-type"], "application/x-protobuf");
    assert_eq!(got[1].version, http::Version::HTTP_2);
    assert_eq!(client.bytes_sent(), 14);
}

#[test]
fn tls_with_a_custom_ca_and_the_errors_users_meet() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let server = ScriptedServer::start_tls(vec![], pki.server.clone());
    let client = HttpClient::new(TlsConfig::new().ca_file(&pki.ca_file)).unwrap();
    assert_eq!(
        post(&client, &server.url(), HttpVersion::Http1, secs(5))
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        post(&client, &server.url(), HttpVersion::Http2, secs(5))
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        server.received()[1].version,
        http::Version::HTTP_2,
        "ALPN h2"
    );

    let cases = [
        (TlsConfig::new(), pki.server.clone(), "unknown CA"),
        (
            TlsConfig::new().ca_file(&pki.other_ca_file),
            pki.server.clone(),
            "unknown CA",
        ),
        (
            TlsConfig::new().ca_file(&pki.ca_file),
            pki.wrong_name.clone(),
            "not valid for that host name",
        ),
        (
            TlsConfig::new().ca_file(&pki.ca_file),
            pki.expired.clone(),
            "expired",
        ),
    ];
    for (tls, identity, want) in cases {
        let server = ScriptedServer::start_tls(vec![], identity);
        let client = HttpClient::new(tls).unwrap();
        let e = post(&client, &server.url(), HttpVersion::Http1, secs(5)).unwrap_err();
        assert_eq!(e.kind(), HttpErrorKind::Tls, "{e}");
        assert!(!e.is_transient());
        assert!(e.to_string().contains(want), "{e}");
    }
}

#[test]
fn mutual_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::new(tmp.path());
    let server = ScriptedServer::start_tls(vec![], pki.server_requiring_client_cert());
    let with_identity = HttpClient::new(
        TlsConfig::new()
            .ca_file(&pki.ca_file)
            .client_identity(&pki.client_cert, &pki.client_key),
    )
    .unwrap();
    assert_eq!(
        post(&with_identity, &server.url(), HttpVersion::Http1, secs(5))
            .unwrap()
            .status,
        200
    );
    let without = HttpClient::new(TlsConfig::new().ca_file(&pki.ca_file)).unwrap();
    let e = post(&without, &server.url(), HttpVersion::Http1, secs(5)).unwrap_err();
    assert!(
        matches!(e.kind(), HttpErrorKind::Tls | HttpErrorKind::Io),
        "{e:?}"
    );
    assert_eq!(
        server.received().len(),
        1,
        "the request without a certificate never arrived"
    );
}

#[test]
fn bad_tls_files_fail_when_the_client_is_made() {
    let tmp = tempfile::tempdir().unwrap();
    let e = HttpClient::new(TlsConfig::new().ca_file(tmp.path().join("missing.pem"))).unwrap_err();
    assert_eq!(e.kind(), HttpErrorKind::Config);
    assert!(e.to_string().contains("missing.pem"), "{e}");
    let junk = tmp.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let e = HttpClient::new(TlsConfig::new().ca_file(&junk)).unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    let pki = Pki::new(tmp.path().join("pki"));
    let mut half = TlsConfig::new();
    half.client_cert_file = Some(pki.client_cert.clone());
    let e = HttpClient::new(half).unwrap_err();
    assert!(e.to_string().contains("both"), "{e}");
}

#[test]
fn faults() {
    let server = ScriptedServer::start(vec![
        Reply::Delay(Duration::from_secs(3), Box::new(Reply::status(200))),
        Reply::Reset,
        Reply::status(200).with_body(vec![b'x'; 5 * 1024 * 1024]),
        Reply::status(200),
    ]);
    let client = HttpClient::new(TlsConfig::new()).unwrap();
    let t = Instant::now();
    let e = post(
        &client,
        &server.url(),
        HttpVersion::Http1,
        Duration::from_millis(200),
    )
    .unwrap_err();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "took {:?}",
        t.elapsed()
    );
    assert_eq!(e.kind(), HttpErrorKind::Timeout, "{e}");
    assert!(e.is_transient());
    let e = post(&client, &server.url(), HttpVersion::Http1, secs(5)).unwrap_err();
    assert_eq!(e.kind(), HttpErrorKind::Io, "{e}");
    assert!(e.is_transient());
    let e = post(&client, &server.url(), HttpVersion::Http1, secs(5)).unwrap_err();
    assert_eq!(e.kind(), HttpErrorKind::TooLarge, "{e}");
    // The client recovers on a fresh connection.
    assert_eq!(
        post(&client, &server.url(), HttpVersion::Http1, secs(5))
            .unwrap()
            .status,
        200
    );
}

#[test]
fn connection_refused_is_transient() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = HttpClient::new(TlsConfig::new()).unwrap();
    let e = post(
        &client,
        &format!("http://127.0.0.1:{port}"),
        HttpVersion::Http1,
        secs(5),
    )
    .unwrap_err();
    assert_eq!(e.kind(), HttpErrorKind::Connect, "{e}");
    assert!(e.is_transient());
    assert!(e.to_string().contains(&port.to_string()));
}

#[test]
fn works_inside_current_thread_and_multi_thread_runtimes() {
    let server = ScriptedServer::start(vec![]);
    let client = HttpClient::new(TlsConfig::new()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = server.url();
    let status = rt.block_on(async {
        post(&client, &url, HttpVersion::Http1, secs(5))
            .unwrap()
            .status
    });
    assert_eq!(status, 200);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (c, u) = (client.clone(), url.clone());
    let status = rt.block_on(async move {
        tokio::spawn(async move { post(&c, &u, HttpVersion::Http2, secs(5)).unwrap().status })
            .await
            .unwrap()
    });
    assert_eq!(status, 200);
}

/// A plain HTTP/1.1 server that answers each connection's one request with
/// 200 and then, without saying so, closes it, after first writing
/// `before_close` (a `408`, as some servers send to idle connections).
/// Returns its URL and the count of connections it accepted.
fn closing_server(
    before_close: &'static [u8],
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            // The request: headers, then the 7-byte body.
            while !(got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"payload")) {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            std::thread::sleep(Duration::from_millis(20));
            let _ = conn.write_all(before_close);
        }
    });
    (url, accepted)
}

#[test]
fn a_connection_the_server_closed_while_idle_is_not_used_again() {
    for before_close in [
        &b""[..],
        b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n\r\n",
    ] {
        let (url, accepted) = closing_server(before_close);
        let client = HttpClient::new(TlsConfig::new()).unwrap();
        for _ in 0..3 {
            let r = post(&client, &url, HttpVersion::Http1, secs(5));
            assert_eq!(
                r.unwrap().status,
                200,
                "{:?}",
                String::from_utf8_lossy(before_close)
            );
            // Longer than the server keeps the connection.
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
