//! Test servers and certificates for Prela's tests. Not published.
//!
//! - [`ScriptedServer`]: an in-process HTTP server (HTTP/1.1 and HTTP/2,
//!   plain or TLS) on a loopback port that answers each request with the
//!   next [`Reply`] of its script and records what it received.
//! - [`Pki`]: a CA and certificates made with rcgen, written to a temporary
//!   directory as PEM files.
//! - [`Collect`]: a span processor and exporter that keeps what it gets.
//! - [`Capture`]: a `tracing` subscriber that keeps the events it sees.
#![forbid(unsafe_code)]
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::exhaustive_enums,
    clippy::exhaustive_structs
)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// How the server answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status, headers and a body.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A gRPC answer: 200, a body, and `grpc-status` / `grpc-message` (and
    /// any extra) trailers.
    Grpc {
        body: Vec<u8>,
        trailers: Vec<(String, Vec<u8>)>,
    },
    /// Wait, then answer.
    Delay(Duration, Box<Reply>),
    /// Close the connection without answering.
    Reset,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn with_header(self, k: &str, v: &str) -> Self {
        match self {
            Reply::Respond {
                status,
                mut headers,
                body,
            } => {
                headers.push((k.to_owned(), v.to_owned()));
                Reply::Respond {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }

    pub fn with_body(self, b: impl Into<Vec<u8>>) -> Self {
        match self {
            Reply::Respond {
                status, headers, ..
            } => Reply::Respond {
                status,
                headers,
                body: b.into(),
            },
            other => other,
        }
    }
}

/// What the server received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// The body as sent before compression: gunzipped when the request
    /// says `content-encoding: gzip`, else as received. `None` for a gzip
    /// body that does not decode.
    pub fn decoded_body(&self) -> Option<Vec<u8>> {
        if self
            .headers
            .get("content-encoding")
            .is_some_and(|v| v == "gzip")
        {
            let mut out = Vec::new();
            std::io::Read::read_to_end(&mut GzDecoder::new(self.body.as_slice()), &mut out).ok()?;
            Some(out)
        } else {
            Some(self.body.clone())
        }
    }
}

/// The queued replies, then the reply for everything after.
struct ScriptState {
    queue: VecDeque<Reply>,
    default: Reply,
    /// A header every request must carry, else 401 (a gateway's key check).
    require: Option<(String, String)>,
    /// Keep request bodies (off for soak runs, to measure the client).
    keep_bodies: bool,
}

type Script = Arc<Mutex<ScriptState>>;

/// TLS for the server: its certificate chain and key, and, for mutual TLS,
/// the CA client certificates must chain to.
#[derive(Clone)]
pub struct ServerTls {
    pub cert_pem: String,
    pub key_pem: String,
    pub client_ca_pem: Option<String>,
}

/// A scripted HTTP server on a loopback port; stops when dropped.
pub struct ScriptedServer {
    addr: SocketAddr,
    tls: bool,
    received: Arc<Mutex<Vec<Received>>>,
    script: Script,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn server_config(tls: &ServerTls) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
            .map(|c| c.unwrap())
            .collect();
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = match &tls.client_ca_pem {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Arc::new(config)
}

async fn answer(
    req: Request<Incoming>,
    script: Script,
    received: Arc<Mutex<Vec<Received>>>,
) -> Result<Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>, std::io::Error> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes().to_vec())
        .unwrap_or_default();
    // With bodies forgotten (soak runs) nothing is kept per request, so the
    // receiver's memory stays flat and the client's can be measured.
    if script.lock().unwrap().keep_bodies {
        received.lock().unwrap().push(Received {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            version: parts.version,
            headers: parts.headers,
            body,
        });
    }
    let mut reply = {
        let mut s = script.lock().unwrap();
        let authorised = match &s.require {
            Some((k, v)) => received
                .lock()
                .unwrap()
                .last()
                .and_then(|r| r.headers.get(k.as_str()))
                .is_some_and(|h| h == v.as_str()),
            None => true,
        };
        if authorised {
            s.queue.pop_front().unwrap_or_else(|| s.default.clone())
        } else {
            Reply::status(401).with_body("invalid API key")
        }
    };
    loop {
        match reply {
            Reply::Delay(d, next) => {
                tokio::time::sleep(d).await;
                reply = *next;
            }
            Reply::Reset => return Err(std::io::Error::other("scripted reset")),
            Reply::Respond {
                status,
                headers,
                body,
            } => {
                let mut resp = Response::builder().status(StatusCode::from_u16(status).unwrap());
                for (k, v) in headers {
                    resp = resp.header(k, v);
                }
                return Ok(resp.body(Full::new(Bytes::from(body)).boxed()).unwrap());
            }
            Reply::Grpc { body, trailers } => {
                let mut map = HeaderMap::new();
                for (k, v) in trailers {
                    map.insert(
                        http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        http::HeaderValue::from_bytes(&v).unwrap(),
                    );
                }
                let frames = futures_stream(Bytes::from(body), map);
                return Ok(Response::builder()
                    .status(200)
                    .header("content-type", "application/grpc")
                    .body(frames)
                    .unwrap());
            }
        }
    }
}

/// A body of one data frame then a trailers frame.
struct GrpcBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl hyper::body::Body for GrpcBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(d) = self.data.take() {
            return std::task::Poll::Ready(Some(Ok(Frame::data(d))));
        }
        if let Some(t) = self.trailers.take() {
            return std::task::Poll::Ready(Some(Ok(Frame::trailers(t))));
        }
        std::task::Poll::Ready(None)
    }
}

fn futures_stream(
    data: Bytes,
    trailers: HeaderMap,
) -> http_body_util::combinators::BoxBody<Bytes, Infallible> {
    GrpcBody {
        data: Some(data),
        trailers: Some(trailers),
    }
    .boxed()
}

impl ScriptedServer {
    /// Starts a plain-HTTP server answering with `script`, then 200s.
    pub fn start(script: Vec<Reply>) -> Self {
        Self::start_inner(script, None, Reply::status(200))
    }

    /// Starts a plain-HTTP server answering with `script`, then `default`.
    pub fn start_with_default(script: Vec<Reply>, default: Reply) -> Self {
        Self::start_inner(script, None, default)
    }

    /// Starts a plain-HTTP server on a given address (to restart a
    /// "collector" on its old port).
    pub fn start_on(addr: SocketAddr, script: Vec<Reply>) -> Self {
        Self::start_inner_at(addr, script, None, Reply::status(200))
    }

    /// Starts a TLS server.
    pub fn start_tls(script: Vec<Reply>, tls: ServerTls) -> Self {
        Self::start_inner(script, Some(server_config(&tls)), Reply::status(200))
    }

    fn start_inner(
        script: Vec<Reply>,
        tls: Option<Arc<rustls::ServerConfig>>,
        default: Reply,
    ) -> Self {
        Self::start_inner_at("127.0.0.1:0".parse().unwrap(), script, tls, default)
    }

    fn start_inner_at(
        at: SocketAddr,
        script: Vec<Reply>,
        tls: Option<Arc<rustls::ServerConfig>>,
        default: Reply,
    ) -> Self {
        let std_listener = std::net::TcpListener::bind(at).unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let script: Script = Arc::new(Mutex::new(ScriptState {
            queue: script.into(),
            default,
            require: None,
            keep_bodies: true,
        }));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let (s2, r2, is_tls) = (Arc::clone(&script), Arc::clone(&received), tls.is_some());
        let thread = std::thread::spawn(move || {
            // The server stands for another process: its own `tracing`
            // (hyper's and h2's spans) goes nowhere, whatever the test set
            // as the global subscriber.
            let _quiet = tracing::dispatcher::set_default(&tracing::Dispatch::none());
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
                loop {
                    let (tcp, _) = tokio::select! {
                        _ = &mut stopped => return,
                        a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
                    };
                    let _ = tcp.set_nodelay(true);
                    let (script, received, acceptor) =
                        (Arc::clone(&s2), Arc::clone(&r2), acceptor.clone());
                    tokio::spawn(async move {
                        let service = hyper::service::service_fn(move |req| {
                            answer(req, Arc::clone(&script), Arc::clone(&received))
                        });
                        let builder = auto::Builder::new(TokioExecutor::new());
                        match acceptor {
                            Some(acc) => {
                                if let Ok(stream) = acc.accept(tcp).await {
                                    let _ = builder
                                        .serve_connection(TokioIo::new(stream), service)
                                        .await;
                                }
                            }
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
                            }
                        }
                    });
                }
            });
        });
        ScriptedServer {
            addr,
            tls: is_tls,
            received,
            script,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT` (or `https://localhost:PORT` with TLS, so
    /// the certificate's name matches).
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Answers 401 to requests without this header value, before the
    /// script is consulted.
    pub fn require_header(&self, name: &str, value: &str) {
        self.script.lock().unwrap().require = Some((name.to_owned(), value.to_owned()));
    }

    /// Changes the reply for requests past the script.
    pub fn set_default(&self, reply: Reply) {
        self.script.lock().unwrap().default = reply;
    }

    /// Stops recording requests (for soak runs, whose memory is measured).
    pub fn forget_bodies(&self) {
        self.script.lock().unwrap().keep_bodies = false;
    }

    /// Adds replies to the end of the script.
    pub fn push(&self, replies: Vec<Reply>) {
        self.script.lock().unwrap().queue.extend(replies);
    }
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A test PKI: a CA, server certificates for `localhost` / 127.0.0.1 (valid,
/// expired, wrong name) and a client certificate, as PEM strings and files.
pub struct Pki {
    pub dir: PathBuf,
    pub ca_pem: String,
    pub server: ServerTls,
    pub expired: ServerTls,
    pub wrong_name: ServerTls,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub ca_file: PathBuf,
    /// A second CA that signed nothing here: trusting it means the server
    /// is signed by an unknown CA.
    pub other_ca_file: PathBuf,
}

fn ca(name: &str) -> (rcgen::CertificateParams, rcgen::KeyPair, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (params, key, cert.pem())
}

impl Pki {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).unwrap();
        let (ca_params, ca_key, ca_pem) = ca("prela test CA");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, expired: bool, client: bool| {
            let mut params = rcgen::CertificateParams::new(names).unwrap();
            if expired {
                params.not_before = rcgen::date_time_ymd(2020, 1, 1);
                params.not_after = rcgen::date_time_ymd(2021, 1, 1);
            }
            if client {
                params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
            }
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            ServerTls {
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
                client_ca_pem: None,
            }
        };
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let server = leaf(names.clone(), false, false);
        let expired = leaf(names, true, false);
        let wrong_name = leaf(vec!["collector.example".to_owned()], false, false);
        let client = leaf(vec!["prela-client".to_owned()], false, true);
        let (_, _, other_ca_pem) = ca("some other CA");
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let ca_file = write("ca.pem", &ca_pem);
        let other_ca_file = write("other-ca.pem", &other_ca_pem);
        let client_cert = write("client.pem", &client.cert_pem);
        let client_key = write("client-key.pem", &client.key_pem);
        Pki {
            dir,
            ca_pem,
            server,
            expired,
            wrong_name,
            client_cert,
            client_key,
            ca_file,
            other_ca_file,
        }
    }

    /// The server identity that also demands a client certificate from this
    /// CA.
    pub fn server_requiring_client_cert(&self) -> ServerTls {
        ServerTls {
            client_ca_pem: Some(self.ca_pem.clone()),
            ..self.server.clone()
        }
    }
}

/// gzip decoding for tests that read compressed bodies.
pub use flate2::read::GzDecoder;

/// Keeps every span it receives, as a processor or as an exporter.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<prela_core::SpanData>>>);

impl Collect {
    /// Takes what was collected so far.
    pub fn take(&self) -> Vec<prela_core::SpanData> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// A copy of what was collected so far.
    pub fn spans(&self) -> Vec<prela_core::SpanData> {
        self.0.lock().unwrap().clone()
    }
}

impl prela_core::SpanProcessor for Collect {
    fn on_end(&self, span: prela_core::SpanData) {
        self.0.lock().unwrap().push(span);
    }
    fn force_flush(&self, _: std::time::Instant) -> Result<(), prela_core::ExportError> {
        Ok(())
    }
    fn shutdown(&self, _: std::time::Instant) -> Result<(), prela_core::ExportError> {
        Ok(())
    }
}

impl prela_core::SpanExporter for Collect {
    fn export(&self, batch: &[prela_core::SpanData]) -> prela_core::ExportResult {
        self.0.lock().unwrap().extend_from_slice(batch);
        prela_core::ExportResult::Success
    }
}

/// The six attributes of the benchmarks' `llm.call` span: model,
/// temperature, streaming, tool, input and output tokens.
pub fn llm_call_attributes() -> Vec<prela_core::KeyValue> {
    use prela_core::KeyValue;
    vec![
        KeyValue::new("gen_ai.request.model", "gpt-4o"),
        KeyValue::new("gen_ai.request.temperature", 0.7),
        KeyValue::new("llm.stream", false),
        KeyValue::new("tool.name", "web_search"),
        KeyValue::new("gen_ai.usage.input_tokens", 412i64),
        KeyValue::new("gen_ai.usage.output_tokens", 87i64),
    ]
}

/// An exporter that counts the spans it is given and keeps nothing.
#[derive(Default)]
pub struct Count(pub std::sync::atomic::AtomicU64);

impl prela_core::SpanExporter for Count {
    fn export(&self, batch: &[prela_core::SpanData]) -> prela_core::ExportResult {
        self.0
            .fetch_add(batch.len() as u64, std::sync::atomic::Ordering::Relaxed);
        prela_core::ExportResult::Success
    }
}

/// An exporter that accepts and forgets everything.
#[derive(Clone, Copy, Default)]
pub struct Discard;

impl prela_core::SpanExporter for Discard {
    fn export(&self, _: &[prela_core::SpanData]) -> prela_core::ExportResult {
        prela_core::ExportResult::Success
    }
}

/// One `tracing` event as [`Capture`] saw it.
#[derive(Clone, Debug)]
pub struct Captured {
    pub target: String,
    pub level: String,
    /// The `message` field, `Debug`-formatted without quotes where it was
    /// text.
    pub message: String,
    /// Every field as `name=value ` (`Debug` formatting), message included.
    pub fields: String,
}

/// A `tracing` subscriber keeping every event (use with
/// `tracing::subscriber::with_default`).
#[derive(Clone, Default)]
pub struct Capture(pub Arc<Mutex<Vec<Captured>>>);

impl Capture {
    /// Every event so far.
    pub fn events(&self) -> Vec<Captured> {
        self.0.lock().unwrap().clone()
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Visit(String, String);
        impl tracing::field::Visit for Visit {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                let text = format!("{v:?}");
                if f.name() == "message" {
                    self.1 = text.clone();
                }
                self.0.push_str(&format!("{}={text} ", f.name()));
            }
        }
        let mut v = Visit(String::new(), String::new());
        event.record(&mut v);
        let m = event.metadata();
        self.0.lock().unwrap().push(Captured {
            target: m.target().to_owned(),
            level: m.level().to_string(),
            message: v.1,
            fields: v.0,
        });
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The rotel collector installed by `cargo xtask test` into
/// `target/peers/venv`, if it is there (or `PRELA_TEST_ROTEL`).
pub fn rotel_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PRELA_TEST_ROTEL") {
        return Some(PathBuf::from(p));
    }
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/rotel/rotel-agent");
        p.exists().then_some(p)
    })
}

/// A rotel process on loopback ports, forwarding over OTLP/HTTP to
/// `forward_to`; killed when dropped.
pub struct Rotel(std::process::Child);

impl Rotel {
    /// Starts rotel receiving on `http` and `grpc` (loopback) and waits
    /// until both ports listen.
    pub fn start(
        binary: &std::path::Path,
        http: u16,
        grpc: u16,
        forward_to: &str,
        log: &std::path::Path,
    ) -> Rotel {
        let out = std::fs::File::create(log.with_extension("out")).unwrap();
        let child = std::process::Command::new(binary)
            .args([
                "start",
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{http}"),
            ])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args([
                "--exporter",
                "otlp",
                "--otlp-exporter-endpoint",
                forward_to,
                "--otlp-exporter-protocol",
                "http",
            ])
            .args(["--batch-timeout", "20ms"])
            .arg("--log-file")
            .arg(log)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let rotel = Rotel(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        for port in [http, grpc] {
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "rotel did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        rotel
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Finite, non-zero floats for checking how floats are written: the
/// extremes, the edges of Python's fixed and exponent forms, ties such as
/// `2**-25` (whose shortest form's last digit rounds half to even), every
/// `step`-th power of two and every power of ten with their neighbours
/// (subnormals among them), then `random` more from random bits (a fixed
/// seed); each also negated.
pub fn floats_to_check(step: usize, random: usize) -> Vec<f64> {
    let neighbours = |p: f64| {
        [
            p,
            f64::from_bits(p.to_bits() + 1),
            f64::from_bits(p.to_bits() - 1),
        ]
    };
    let mut v = vec![
        f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        0.1,
        0.3,
        1e15,
        1e16,
        1e-4,
        1e-5,
        2f64.powi(-25),
        2f64.powi(-24),
    ];
    for e in (-1074i32..=1023).step_by(step.max(1)) {
        v.extend(neighbours(if e >= -1022 {
            f64::from_bits(((e + 1023) as u64) << 52)
        } else {
            f64::from_bits(1 << (e + 1074))
        }));
    }
    for e in -323..=308 {
        v.extend(neighbours(format!("1e{e}").parse().unwrap()));
    }
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut left = random;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if f.is_finite() && f != 0.0 {
            v.push(f.abs());
            left -= 1;
        }
    }
    v.retain(|f| f.is_finite() && *f != 0.0);
    let negated: Vec<f64> = v.iter().map(|f| -f).collect();
    v.extend(negated);
    v
}
