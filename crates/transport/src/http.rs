//! The HTTP client network exporters share (feature `http`).
//!
//! hyper (HTTP/1.1 or HTTP/2) over TCP or rustls, driven by tokio
//! current-thread runtimes (`rt`, `net`, `time`) of the client's own,
//! never by the caller's. [`HttpClient::send`] blocks until the answer or
//! the deadline, and works from a plain `fn main` and from inside any
//! async runtime:
//! - a caller outside any runtime (the batch processor's worker, a plain
//!   thread) drives the request itself, on a runtime and connections the
//!   client keeps for it between requests (one set per concurrent caller).
//!   No other thread takes part, so a request costs no hand-over between
//!   threads: at 50,000 spans/s that was ~4 of the ~6.5 context switches
//!   per exported batch (measured in the history of `docs/performance.md`);
//! - a caller inside a runtime, which must not start another on its
//!   thread, hands the request to the client's I/O thread (started when
//!   the first such request comes) and waits for the answer.
//!
//! The deadline is enforced by dropping the request future when it
//! passes; on the I/O thread's path the caller's wait is bounded too.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::handoff::{self, Receiver, Sender};

/// Largest response body read; the rest is refused (OTLP servers answer
/// with small messages).
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Which HTTP version to speak.
#[allow(clippy::exhaustive_enums)] // the two versions hyper speaks here
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpVersion {
    /// HTTP/1.1 (OTLP/HTTP).
    Http1,
    /// HTTP/2 with prior knowledge on `http://`, ALPN `h2` on `https://`
    /// (gRPC).
    Http2,
}

/// TLS settings for `https://` endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsConfig {
    /// PEM file of CA certificates to trust instead of the web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// PEM file of the client certificate chain, for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// PEM file of the client's private key, for mutual TLS.
    pub client_key_file: Option<PathBuf>,
}

impl TlsConfig {
    /// Web PKI roots, no client certificate.
    pub fn new() -> Self {
        TlsConfig::default()
    }

    /// Trust the CA certificates in this PEM file instead of the web PKI.
    #[must_use]
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Present this certificate chain and key (PEM files) for mutual TLS.
    #[must_use]
    pub fn client_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert_file = Some(cert.into());
        self.client_key_file = Some(key.into());
        self
    }
}

/// What kind of failure, and so whether a retry may help.
#[allow(clippy::exhaustive_enums)] // a closed classification
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// The TCP connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed (unknown CA, name mismatch, expired,
    /// protocol). Retrying will not help.
    Tls,
    /// The deadline passed.
    Timeout,
    /// The connection broke or the peer spoke bad HTTP.
    Io,
    /// The response body was larger than [`MAX_RESPONSE_BYTES`].
    TooLarge,
    /// The client's own settings are wrong (bad CA file, bad URL).
    Config,
}

/// An HTTP request that did not produce a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    kind: HttpErrorKind,
    message: String,
}

impl HttpError {
    fn new(kind: HttpErrorKind, message: impl Into<String>) -> Self {
        HttpError {
            kind,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> HttpErrorKind {
        self.kind
    }

    /// `true` when trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            HttpErrorKind::Connect | HttpErrorKind::Timeout | HttpErrorKind::Io
        )
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

/// A response: status, headers, body (at most [`MAX_RESPONSE_BYTES`]) and
/// trailers (gRPC status travels in them).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The trailers, if any were sent.
    pub trailers: Option<HeaderMap>,
}

/// One request, as `send` was given it.
struct Job {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    version: HttpVersion,
    deadline: Instant,
}

/// A blocking HTTP client on tokio runtimes of its own (see the module
/// docs). Cheap to clone; clones share its runtimes and connections.
///
/// It keeps one runtime and its connections for each thread that sends
/// outside an async runtime while another such send is under way (one,
/// for the batch processor at its default concurrency), and one I/O
/// thread once a thread inside an async runtime has sent.
#[derive(Clone)]
pub struct HttpClient {
    shared: Arc<Shared>,
    bytes_sent: Arc<std::sync::atomic::AtomicU64>,
}

/// A request for the I/O thread, and where its answer goes.
type Ticket = (Job, Sender<Result<HttpResponse, HttpError>>);

/// What the clones of a client share.
struct Shared {
    tls: TlsConfig,
    /// Runtimes and connections for callers outside any async runtime,
    /// which drive a request on their own thread; one per caller at a
    /// time, kept for the next.
    idle: std::sync::Mutex<Vec<Io>>,
    /// The I/O thread, for callers inside an async runtime; started when
    /// the first such caller comes. If it could not be started, every such
    /// caller gets that error.
    thread: std::sync::OnceLock<Result<Sender<Ticket>, HttpError>>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

/// Most bytes read from a PEM file: a certificate chain or key is a few
/// KiB; `/dev/zero` or a log file named by mistake must fail, not spin.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Reads a PEM file, at most [`MAX_PEM_BYTES`].
fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, HttpError> {
    let cannot = |e: std::io::Error| {
        HttpError::new(
            HttpErrorKind::Config,
            format!("cannot read {what} {}: {e}", path.display()),
        )
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_PEM_BYTES + 1),
        &mut bytes,
    )
    .map_err(cannot)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(HttpError::new(
            HttpErrorKind::Config,
            format!(
                "{what} {} is larger than {} KiB: not a PEM certificate or key",
                path.display(),
                MAX_PEM_BYTES / 1024
            ),
        ));
    }
    Ok(bytes)
}

fn load_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, HttpError> {
    let pem = read_pem(path, what)?;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&pem).collect();
    let certs = certs.map_err(|e| {
        HttpError::new(
            HttpErrorKind::Config,
            format!("bad PEM in {what} {}: {e}", path.display()),
        )
    })?;
    if certs.is_empty() {
        return Err(HttpError::new(
            HttpErrorKind::Config,
            format!("no certificate in {what} {}", path.display()),
        ));
    }
    Ok(certs)
}

fn tls_config(
    tls: &TlsConfig,
    version: HttpVersion,
) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in load_certs(path, "CA file")? {
                roots.add(cert).map_err(|e| {
                    HttpError::new(
                        HttpErrorKind::Config,
                        format!("bad CA certificate in {}: {e}", path.display()),
                    )
                })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| HttpError::new(HttpErrorKind::Config, format!("TLS setup: {e}")))?
    .with_root_certificates(roots);
    let mut config = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert), Some(key)) => {
            let chain = load_certs(cert, "client certificate file")?;
            let pem = read_pem(key, "client key")?;
            let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
                HttpError::new(
                    HttpErrorKind::Config,
                    format!("cannot read client key {}: {e}", key.display()),
                )
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                HttpError::new(
                    HttpErrorKind::Config,
                    format!("client certificate and key: {e}"),
                )
            })?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(HttpError::new(
                HttpErrorKind::Config,
                "mutual TLS needs both a client certificate and a client key",
            ));
        }
    };
    config.alpn_protocols = match version {
        HttpVersion::Http1 => vec![b"http/1.1".to_vec()],
        HttpVersion::Http2 => vec![b"h2".to_vec()],
    };
    Ok(Arc::new(config))
}

/// Says what a TLS failure means in words a user can act on.
fn describe_tls(e: &std::io::Error, host: &str) -> String {
    use rustls::{CertificateError, Error};
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<Error>());
    match inner {
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            format!(
                "TLS: the certificate of {host} is signed by an unknown CA (set a CA file to trust it)"
            )
        }
        Some(Error::InvalidCertificate(CertificateError::NotValidForName))
        | Some(Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. })) => {
            format!("TLS: the certificate of {host} is not valid for that host name")
        }
        Some(Error::InvalidCertificate(CertificateError::Expired))
        | Some(Error::InvalidCertificate(CertificateError::ExpiredContext { .. })) => {
            format!("TLS: the certificate of {host} has expired")
        }
        Some(Error::InvalidCertificate(CertificateError::NotValidYet))
        | Some(Error::InvalidCertificate(CertificateError::NotValidYetContext { .. })) => {
            format!("TLS: the certificate of {host} is not valid yet")
        }
        Some(other) => format!("TLS handshake with {host} failed: {other}"),
        None => format!("TLS handshake with {host} failed: {e}"),
    }
}

enum Sender2 {
    H1(http1::SendRequest<Full<Bytes>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// An open connection: hyper's end of it, and a second handle to its
/// socket to look at it with between requests.
struct Conn {
    sender: Sender2,
    probe: Option<std::net::TcpStream>,
}

impl Conn {
    /// Whether a request may go out on this connection. The connection's
    /// own task runs only while a request is under way, so a peer that
    /// closed it while it was idle (servers and load balancers close idle
    /// connections after a while) is not noticed by hyper until the next
    /// request has been written to it, and that request then fails. A
    /// look at the socket, without reading, tells: the end of the stream,
    /// or on HTTP/1.1 anything at all (a server's `408` before it closes),
    /// means the connection is done with.
    fn usable(&self) -> bool {
        let ready = match &self.sender {
            Sender2::H1(s) => s.is_ready(),
            Sender2::H2(s) => s.is_ready(),
        };
        let Some(probe) = &self.probe else {
            return ready;
        };
        ready
            && match probe.peek(&mut [0u8; 1]) {
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                Ok(0) => false,
                // HTTP/2 peers send frames of their own (pings, settings),
                // which hyper reads when the connection next runs.
                Ok(_) => matches!(self.sender, Sender2::H2(_)),
            }
    }
}

/// `tcp`, and a second handle to its socket for [`Conn::usable`] to look
/// at (non-blocking, as `tcp` is: the two share the socket's flags), or
/// none if the socket could not be duplicated (out of descriptors), in
/// which case the connection is trusted as hyper sees it.
fn with_probe(
    tcp: tokio::net::TcpStream,
) -> std::io::Result<(tokio::net::TcpStream, Option<std::net::TcpStream>)> {
    let std = tcp.into_std()?;
    let probe = std.try_clone().ok();
    Ok((tokio::net::TcpStream::from_std(std)?, probe))
}

/// A runtime and its connections.
struct Io {
    rt: Rt,
    conns: Conns,
}

/// A runtime that shuts down without waiting when dropped. Dropping a
/// runtime the usual way blocks on its blocking pool, and tokio panics
/// when that happens inside an async context: where the last clone of a
/// client may well be dropped.
struct Rt(Option<tokio::runtime::Runtime>);

impl Rt {
    fn block_on<F: std::future::Future>(&self, f: F) -> Option<F::Output> {
        self.0.as_ref().map(|rt| rt.block_on(f))
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// TLS configs and one open connection per origin.
struct Conns {
    tls: TlsConfig,
    tls_configs: HashMap<HttpVersion, Arc<rustls::ClientConfig>>,
    conns: HashMap<(String, u16, bool, HttpVersion), Conn>,
}

impl Conns {
    fn tls_for(&mut self, version: HttpVersion) -> Result<Arc<rustls::ClientConfig>, HttpError> {
        if let Some(c) = self.tls_configs.get(&version) {
            return Ok(Arc::clone(c));
        }
        let c = tls_config(&self.tls, version)?;
        self.tls_configs.insert(version, Arc::clone(&c));
        Ok(c)
    }

    async fn connect(&mut self, uri: &Uri, version: HttpVersion) -> Result<Conn, HttpError> {
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            other => {
                return Err(HttpError::new(
                    HttpErrorKind::Config,
                    format!("unsupported URL scheme {:?} in {uri}", other.unwrap_or("")),
                ));
            }
        };
        let host = uri
            .host()
            .ok_or_else(|| HttpError::new(HttpErrorKind::Config, format!("no host in {uri}")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| {
                HttpError::new(
                    HttpErrorKind::Connect,
                    format!("cannot connect to {host}:{port}: {e}"),
                )
            })?;
        let _ = tcp.set_nodelay(true);
        let (tcp, probe) = with_probe(tcp).map_err(|e| {
            HttpError::new(
                HttpErrorKind::Connect,
                format!("cannot set up the connection to {host}:{port}: {e}"),
            )
        })?;
        macro_rules! handshake {
            ($io:expr) => {
                match version {
                    HttpVersion::Http1 => {
                        let (send, conn) = http1::handshake($io).await.map_err(|e| {
                            HttpError::new(HttpErrorKind::Io, format!("HTTP/1.1 handshake: {e}"))
                        })?;
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                        Sender2::H1(send)
                    }
                    HttpVersion::Http2 => {
                        // An adaptive window lets a large export go out without
                        // waiting on 64 KiB flow-control round trips.
                        let (send, conn) = http2::Builder::new(TokioExecutor::new())
                            .adaptive_window(true)
                            .handshake($io)
                            .await
                            .map_err(|e| {
                                HttpError::new(HttpErrorKind::Io, format!("HTTP/2 handshake: {e}"))
                            })?;
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                        Sender2::H2(send)
                    }
                }
            };
        }
        if https {
            let config = self.tls_for(version)?;
            let name = ServerName::try_from(host.clone()).map_err(|e| {
                HttpError::new(
                    HttpErrorKind::Config,
                    format!("bad TLS server name {host:?}: {e}"),
                )
            })?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::new(HttpErrorKind::Tls, describe_tls(&e, &host)))?;
            Ok(Conn {
                sender: handshake!(TokioIo::new(tls)),
                probe,
            })
        } else {
            Ok(Conn {
                sender: handshake!(TokioIo::new(tcp)),
                probe,
            })
        }
    }

    async fn send(&mut self, job: &Job) -> Result<HttpResponse, HttpError> {
        let key = (
            job.uri.host().unwrap_or("").to_owned(),
            job.uri.port_u16().unwrap_or(0),
            job.uri.scheme_str() == Some("https"),
            job.version,
        );
        let reusable = self.conns.get(&key).is_some_and(Conn::usable);
        if !reusable {
            self.conns.remove(&key);
            let conn = self.connect(&job.uri, job.version).await?;
            self.conns.insert(key.clone(), conn);
        }
        let mut builder = Request::builder()
            .method(job.method.clone())
            .uri(job.uri.clone());
        if job.version == HttpVersion::Http1 {
            // HTTP/1.1 needs the Host header; HTTP/2 takes the authority from the URI.
            if let Some(authority) = job.uri.authority() {
                builder = builder.header(http::header::HOST, authority.as_str());
            }
            builder = builder.uri(job.uri.path_and_query().map_or("/", |p| p.as_str()));
        } else {
            builder = builder.version(http::Version::HTTP_2);
        }
        let mut req = builder
            .body(Full::new(job.body.clone()))
            .map_err(|e| HttpError::new(HttpErrorKind::Config, format!("bad request: {e}")))?;
        req.headers_mut().extend(job.headers.clone());
        let result = match self.conns.get_mut(&key).map(|c| &mut c.sender) {
            Some(Sender2::H1(s)) => s.send_request(req).await,
            Some(Sender2::H2(s)) => s.send_request(req).await,
            None => return Err(HttpError::new(HttpErrorKind::Io, "connection lost")),
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.conns.remove(&key);
                return Err(HttpError::new(
                    HttpErrorKind::Io,
                    format!("request to {} failed: {e}", job.uri),
                ));
            }
        };
        let (parts, body) = resp.into_parts();
        let collected = Limited::new(body, MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                self.conns.remove(&key);
                if e.is::<http_body_util::LengthLimitError>() {
                    HttpError::new(
                        HttpErrorKind::TooLarge,
                        format!(
                            "response from {} is larger than {MAX_RESPONSE_BYTES} bytes",
                            job.uri
                        ),
                    )
                } else {
                    HttpError::new(
                        HttpErrorKind::Io,
                        format!("reading the response from {}: {e}", job.uri),
                    )
                }
            })?;
        let trailers = collected.trailers().cloned();
        Ok(HttpResponse {
            status: parts.status,
            headers: parts.headers,
            body: collected.to_bytes(),
            trailers,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, HttpError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| {
            HttpError::new(
                HttpErrorKind::Config,
                format!("cannot start the I/O runtime: {e}"),
            )
        })
}

impl Io {
    fn new(tls: TlsConfig) -> Result<Io, HttpError> {
        Ok(Io {
            rt: Rt(Some(runtime()?)),
            conns: Conns {
                tls,
                tls_configs: HashMap::new(),
                conns: HashMap::new(),
            },
        })
    }

    /// Sends `job` on this thread, waiting at most until its deadline.
    fn exchange(&mut self, job: &Job) -> Result<HttpResponse, HttpError> {
        let remaining = job.deadline.saturating_duration_since(Instant::now());
        let conns = &mut self.conns;
        let result = self
            .rt
            .block_on(async {
                match tokio::time::timeout(remaining, conns.send(job)).await {
                    Ok(r) => r,
                    Err(_) => Err(HttpError::new(
                        HttpErrorKind::Timeout,
                        format!("no response from {} within {remaining:?}", job.uri),
                    )),
                }
            })
            .unwrap_or_else(|| Err(HttpError::new(HttpErrorKind::Io, "the I/O runtime is gone")));
        if let Err(e) = &result {
            if e.kind == HttpErrorKind::Timeout {
                // A half-finished exchange leaves the connection unusable.
                self.conns.conns.clear();
            }
        }
        result
    }
}

fn run_io(io: Result<Io, HttpError>, jobs: Receiver<Ticket>) {
    match io {
        Ok(mut io) => {
            for (job, reply) in jobs {
                let _ = reply.send(io.exchange(&job));
            }
        }
        Err(e) => {
            // Answer every job with the reason instead of hanging them.
            for (_, reply) in jobs {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

impl HttpClient {
    /// Makes a client; no thread starts here. TLS files are read (and
    /// checked) now, so a bad path fails here rather than at the first
    /// export.
    pub fn new(tls: TlsConfig) -> Result<Self, HttpError> {
        if tls.ca_file.is_some() || tls.client_cert_file.is_some() || tls.client_key_file.is_some()
        {
            tls_config(&tls, HttpVersion::Http1)?;
        }
        Ok(HttpClient {
            shared: Arc::new(Shared {
                tls,
                idle: std::sync::Mutex::new(Vec::new()),
                thread: std::sync::OnceLock::new(),
            }),
            bytes_sent: Arc::new(std::sync::atomic::AtomicU64::new(0)),
        })
    }

    /// Sends a request and waits for the response, at most until
    /// `deadline`.
    pub fn send(
        &self,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        version: HttpVersion,
        deadline: Instant,
    ) -> Result<HttpResponse, HttpError> {
        let len = body.len() as u64;
        let job = Job {
            method,
            uri,
            headers,
            body,
            version,
            deadline,
        };
        let result = if tokio::runtime::Handle::try_current().is_ok() {
            self.shared.on_io_thread(job)
        } else {
            self.shared.here(&job)
        };
        if result.is_ok() {
            self.bytes_sent
                .fetch_add(len, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }

    /// Request body bytes sent in requests that got a response.
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Shared {
    /// Drives the request on the calling thread, which is in no async
    /// runtime, with a runtime and connections of its own while it does.
    fn here(&self, job: &Job) -> Result<HttpResponse, HttpError> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        let mut io = match kept {
            Some(io) => io,
            None => Io::new(self.tls.clone())?,
        };
        let result = io.exchange(job);
        self.idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(io);
        result
    }

    /// Hands the request to the I/O thread: the caller is inside an async
    /// runtime, where starting another on its thread is not allowed.
    fn on_io_thread(&self, job: Job) -> Result<HttpResponse, HttpError> {
        let jobs = self.thread.get_or_init(|| {
            let (jobs, rx) = handoff::channel();
            let tls = self.tls.clone();
            std::thread::Builder::new()
                .name("prela-http-io".into())
                .spawn(move || {
                    prela_core::thread::mark_sdk_thread();
                    run_io(Io::new(tls), rx)
                })
                .map(|_| jobs)
                .map_err(|e| {
                    HttpError::new(
                        HttpErrorKind::Config,
                        format!("cannot start the I/O thread: {e}"),
                    )
                })
        });
        let jobs = jobs.as_ref().map_err(Clone::clone)?;
        let deadline = job.deadline;
        let (reply, answer) = handoff::channel();
        if jobs.send((job, reply)).is_err() {
            return Err(HttpError::new(
                HttpErrorKind::Io,
                "the HTTP I/O thread has stopped",
            ));
        }
        // The I/O thread enforces the deadline itself; this margin only
        // covers a thread that is wedged.
        answer
            .recv_deadline(prela_core::export::after(
                deadline,
                Duration::from_millis(200),
            ))
            .unwrap_or_else(|_| {
                Err(HttpError::new(
                    HttpErrorKind::Timeout,
                    "no response before the deadline",
                ))
            })
    }
}
