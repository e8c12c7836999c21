//! [`OtlpExporter`]: OTLP/HTTP (protobuf or JSON) and OTLP/gRPC.

use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prela_core::config::{ConfigError, parse_bool, parse_usize};
use prela_core::{ExportError, ExportResult, SpanData, SpanExporter};
use prela_transport::gzip::Gzip;
use prela_transport::http::{HttpClient, HttpError, HttpResponse, HttpVersion, TlsConfig};
use prela_transport::text::percent_decode;

use crate::grpc::{self, GrpcStatus};

/// Largest request body before a batch is split (64 MiB).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// The OTLP transport and encoding.
#[allow(clippy::exhaustive_enums)] // the three OTLP protocols
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/HTTP with protobuf (`http/protobuf`, the default).
    HttpProtobuf,
    /// OTLP/HTTP with JSON (`http/json`).
    HttpJson,
    /// OTLP/gRPC (`grpc`).
    Grpc,
}

impl Protocol {
    fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc => "http://localhost:4317",
            _ => "http://localhost:4318",
        }
    }
}

/// Request compression.
#[allow(clippy::exhaustive_enums)] // the two values OTLP defines
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// None (default).
    None,
    /// gzip.
    Gzip,
}

/// Why an exporter could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum OtlpError {
    /// A setting or variable is invalid.
    Config(ConfigError),
    /// The HTTP client could not be set up (for example a TLS file).
    Http(HttpError),
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpError::Config(e) => e.fmt(f),
            OtlpError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OtlpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OtlpError::Config(e) => Some(e),
            OtlpError::Http(e) => Some(e),
        }
    }
}

impl From<ConfigError> for OtlpError {
    fn from(e: ConfigError) -> Self {
        OtlpError::Config(e)
    }
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Configures an [`OtlpExporter`]. Values set here win over the
/// `OTEL_EXPORTER_OTLP_TRACES_*` variables, which win over the
/// `OTEL_EXPORTER_OTLP_*` ones, which win over the defaults.
#[must_use]
pub struct OtlpExporterBuilder {
    endpoint: Option<(String, bool)>,
    protocol: Option<Protocol>,
    headers: Vec<(String, String)>,
    compression: Option<Compression>,
    timeout: Option<Duration>,
    tls: Option<TlsConfig>,
    insecure: Option<bool>,
    lookup: Lookup,
    /// `lookup` is the process environment (checked at `build`).
    process_env: bool,
}

impl fmt::Debug for OtlpExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values may be credentials: names only.
        f.debug_struct("OtlpExporterBuilder")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn header_list(variable: &str, value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    // Never a value in the message, nor an item without '=' (which may be
    // a secret with a mistyped separator, `x-api-key:SECRET`): only the
    // item's position and, when it has one, its key.
    let bad = |n: usize, what: String| {
        ConfigError::new(
            variable,
            "<redacted>",
            format!("comma-separated key=value pairs (item {n}: {what})"),
        )
    };
    let items = value.split(',').map(str::trim).filter(|i| !i.is_empty());
    for (i, item) in items.enumerate() {
        let n = i + 1;
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| bad(n, "no '='".to_owned()))?;
        let k = k.trim();
        if HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(bad(n, "an invalid header name".to_owned()));
        }
        let v = percent_decode(v.trim())
            .ok_or_else(|| bad(n, format!("a bad percent escape in the value of {k:?}")))?;
        if HeaderValue::from_str(&v).is_err() {
            return Err(bad(n, format!("an invalid value for {k:?}")));
        }
        out.push((k.to_owned(), v));
    }
    Ok(out)
}

impl OtlpExporterBuilder {
    /// The traces endpoint, used as given (like
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`): for OTLP/HTTP the full URL,
    /// e.g. `http://collector:4318/v1/traces`; for gRPC `http(s)://host:port`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some((url.into(), true));
        self
    }

    /// A base endpoint (like `OTEL_EXPORTER_OTLP_ENDPOINT`): OTLP/HTTP
    /// appends `v1/traces`.
    pub fn base_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some((url.into(), false));
        self
    }

    /// The protocol (default `http/protobuf`).
    pub fn protocol(mut self, p: Protocol) -> Self {
        self.protocol = Some(p);
        self
    }

    /// Adds a header sent with every request (for example an API key).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Compression (default none).
    pub fn compression(mut self, c: Compression) -> Self {
        self.compression = Some(c);
        self
    }

    /// Time budget for one request (default 10 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// TLS settings for `https://` endpoints.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Reads variables from `lookup` instead of the process environment.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.lookup = Box::new(lookup);
        self.process_env = false;
        self
    }

    /// The first set variable among `OTEL_EXPORTER_OTLP_TRACES_<name>` and
    /// `OTEL_EXPORTER_OTLP_<name>`, with its name.
    fn var(&self, name: &str) -> Option<(String, String)> {
        [
            format!("OTEL_EXPORTER_OTLP_TRACES_{name}"),
            format!("OTEL_EXPORTER_OTLP_{name}"),
        ]
        .into_iter()
        .find_map(|v| {
            (self.lookup)(&v)
                .filter(|x| !x.trim().is_empty())
                .map(|x| (v, x.trim().to_owned()))
        })
    }

    /// Validates everything and starts the exporter's HTTP client.
    pub fn build(self) -> Result<OtlpExporter, OtlpError> {
        if self.process_env {
            prela_core::config::check_environment()?;
        }
        let protocol = match self.protocol {
            Some(p) => p,
            None => match self.var("PROTOCOL") {
                None => Protocol::HttpProtobuf,
                Some((var, v)) => match v.as_str() {
                    "http/protobuf" => Protocol::HttpProtobuf,
                    "http/json" => Protocol::HttpJson,
                    "grpc" => Protocol::Grpc,
                    _ => {
                        return Err(
                            ConfigError::new(var, v, "grpc, http/protobuf or http/json").into()
                        );
                    }
                },
            },
        };
        let compression = match self.compression {
            Some(c) => c,
            None => match self.var("COMPRESSION") {
                None => Compression::None,
                Some((var, v)) => match v.as_str() {
                    "gzip" => Compression::Gzip,
                    "none" => Compression::None,
                    _ => return Err(ConfigError::new(var, v, "gzip or none").into()),
                },
            },
        };
        let timeout = match self.timeout {
            Some(t) => t,
            None => match self.var("TIMEOUT") {
                None => Duration::from_secs(10),
                Some((var, v)) => {
                    let ms = parse_usize(&var, &v)?;
                    if ms == 0 {
                        return Err(
                            ConfigError::new(var, v, "a positive number of milliseconds").into(),
                        );
                    }
                    Duration::from_millis(ms as u64)
                }
            },
        };
        let insecure = match self.insecure {
            Some(i) => i,
            None => match self.var("INSECURE") {
                None => false,
                Some((var, v)) => parse_bool(&var, &v)?,
            },
        };
        // Endpoint: code, then the per-signal variable (used as is), then the
        // base variable (+ v1/traces for HTTP), then the default.
        let traces_var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
        let base_var = "OTEL_EXPORTER_OTLP_ENDPOINT";
        let (variable, raw, as_is) = match &self.endpoint {
            Some((u, as_is)) => ("endpoint".to_owned(), u.clone(), *as_is),
            None => match (
                (self.lookup)(traces_var).filter(|v| !v.trim().is_empty()),
                (self.lookup)(base_var).filter(|v| !v.trim().is_empty()),
            ) {
                (Some(v), _) => (traces_var.to_owned(), v.trim().to_owned(), true),
                (None, Some(v)) => (base_var.to_owned(), v.trim().to_owned(), false),
                (None, None) => (
                    "default".to_owned(),
                    protocol.default_endpoint().to_owned(),
                    false,
                ),
            },
        };
        let with_scheme = if raw.contains("://") {
            raw.clone()
        } else if protocol == Protocol::Grpc {
            // A gRPC endpoint may be host:port; OTEL_EXPORTER_OTLP_INSECURE
            // picks plain text.
            format!("{}://{raw}", if insecure { "http" } else { "https" })
        } else {
            raw.clone()
        };
        let url = match protocol {
            Protocol::Grpc => format!(
                "{}{}",
                with_scheme.trim_end_matches('/'),
                grpc::TRACE_EXPORT_PATH
            ),
            _ if as_is => with_scheme.clone(),
            _ => format!("{}/v1/traces", with_scheme.trim_end_matches('/')),
        };
        let uri: Uri = url
            .parse()
            .ok()
            .filter(|u: &Uri| {
                matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some()
            })
            .ok_or_else(|| {
                ConfigError::new(variable.clone(), raw.clone(), "an http:// or https:// URL")
            })?;
        if let Some(authority) = uri.authority() {
            prela_core::config::check_port(authority.as_str()).map_err(|why| {
                ConfigError::new(
                    variable.clone(),
                    raw.clone(),
                    format!("a URL with a valid port ({why})"),
                )
            })?;
        }

        let mut headers = HeaderMap::new();
        if let Some((var, v)) = self.var("HEADERS") {
            for (k, v) in header_list(&var, &v)? {
                insert(&mut headers, &k, &v, &var)?;
            }
        }
        for (k, v) in &self.headers {
            insert(&mut headers, k, v, "header")?;
        }
        let secrets = secrets_of(&headers);
        let user_agent = concat!("prela-rust/", env!("CARGO_PKG_VERSION"));
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(user_agent),
        );
        match protocol {
            Protocol::HttpProtobuf => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-protobuf"),
                );
            }
            Protocol::HttpJson => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
            }
            Protocol::Grpc => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/grpc"),
                );
                headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
                headers.insert("grpc-accept-encoding", HeaderValue::from_static("gzip"));
                if let Ok(v) = HeaderValue::from_str(&format!("{}m", timeout.as_millis())) {
                    headers.insert("grpc-timeout", v);
                }
            }
        }
        if compression == Compression::Gzip {
            let name = if protocol == Protocol::Grpc {
                "grpc-encoding"
            } else {
                "content-encoding"
            };
            headers.insert(name, HeaderValue::from_static("gzip"));
        }

        let tls = match self.tls {
            Some(t) => t,
            None => {
                let mut t = TlsConfig::new();
                t.ca_file = self.var("CERTIFICATE").map(|(_, v)| PathBuf::from(v));
                t.client_cert_file = self
                    .var("CLIENT_CERTIFICATE")
                    .map(|(_, v)| PathBuf::from(v));
                t.client_key_file = self.var("CLIENT_KEY").map(|(_, v)| PathBuf::from(v));
                t
            }
        };
        let client = HttpClient::new(tls).map_err(OtlpError::Http)?;
        Ok(OtlpExporter {
            uri,
            protocol,
            compression,
            timeout,
            headers,
            secrets,
            client,
            gzip: Gzip::new(),
            shut_down: AtomicBool::new(false),
        })
    }
}

fn insert(headers: &mut HeaderMap, k: &str, v: &str, source: &str) -> Result<(), ConfigError> {
    let name = HeaderName::from_bytes(k.as_bytes())
        .map_err(|_| ConfigError::new(source, k, "a valid HTTP header name"))?;
    let mut value = HeaderValue::from_str(v).map_err(|_| {
        ConfigError::new(
            source,
            format!("{k}=<redacted>"),
            "a valid HTTP header value",
        )
    })?;
    value.set_sensitive(true);
    headers.append(name, value);
    Ok(())
}

/// Sends spans to an OpenTelemetry collector or backend over OTLP. Use it
/// behind a `BatchProcessor`. See the crate docs.
pub struct OtlpExporter {
    uri: Uri,
    protocol: Protocol,
    compression: Compression,
    timeout: Duration,
    headers: HeaderMap,
    /// The configured header values (and the token of a `Bearer ...`
    /// value), scrubbed from any text the receiver sends back.
    secrets: Vec<String>,
    client: HttpClient,
    gzip: Gzip,
    shut_down: AtomicBool,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("uri", &self.uri)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // An HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime forms).
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Every configured header's value, and the last word of a value of
/// several words (the token of `Bearer <token>`), longest first so that a
/// value is replaced before a part of it.
fn secrets_of(headers: &HeaderMap) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in headers.values() {
        let Ok(v) = v.to_str() else { continue };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        out.push(v.to_owned());
        if let Some(last) = v
            .split_whitespace()
            .last()
            .filter(|w| w.len() >= 8 && *w != v)
        {
            out.push(last.to_owned());
        }
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

impl OtlpExporter {
    /// A builder; see [`OtlpExporterBuilder`].
    pub fn builder() -> OtlpExporterBuilder {
        OtlpExporterBuilder {
            endpoint: None,
            protocol: None,
            headers: Vec::new(),
            compression: None,
            timeout: None,
            tls: None,
            insecure: None,
            lookup: Box::new(prela_core::config::env_var),
            process_env: true,
        }
    }

    /// The URL requests go to.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    fn body(&self, batch: &[SpanData]) -> Vec<u8> {
        match self.protocol {
            Protocol::HttpJson => crate::json::encode_request(batch),
            Protocol::HttpProtobuf | Protocol::Grpc => crate::wire::encode_request(batch),
        }
    }

    fn compress(&self, body: Vec<u8>) -> Result<Vec<u8>, ExportError> {
        match self.compression {
            Compression::None => Ok(body),
            Compression::Gzip => self.gzip.compress(&body).map_err(ExportError::Encode),
        }
    }

    fn send_one(&self, batch: &[SpanData]) -> ExportResult {
        let body = self.body(batch);
        if body.len() > MAX_REQUEST_BYTES && batch.len() > 1 {
            // Too large for one request: halves, in order.
            let (a, b) = batch.split_at(batch.len() / 2);
            return match self.send_one(a) {
                ExportResult::Success => self.send_one(b),
                other => other,
            };
        }
        let body = match self.compress(body) {
            Ok(b) => b,
            Err(e) => return ExportResult::Failure(e),
        };
        let (body, version) = match self.protocol {
            Protocol::Grpc => (
                grpc::frame(&body, self.compression == Compression::Gzip),
                HttpVersion::Http2,
            ),
            _ => (body, HttpVersion::Http1),
        };
        let result = self.client.send(
            Method::POST,
            self.uri.clone(),
            self.headers.clone(),
            Bytes::from(body),
            version,
            prela_core::deadline_in(self.timeout),
        );
        match result {
            Err(e) if e.is_transient() => ExportResult::Retry {
                after: None,
                reason: e.to_string(),
            },
            Err(e) => ExportResult::Failure(ExportError::Transport(Box::new(e))),
            Ok(resp) => match self.protocol {
                Protocol::Grpc => self.grpc_outcome(&resp, batch.len()),
                _ => self.http_outcome(&resp, batch.len()),
            },
        }
    }

    /// `text` from the receiver, with every configured header value
    /// replaced by `<redacted>` (a collector may echo the request).
    fn scrub(&self, text: String) -> String {
        let mut text = text;
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                text = text.replace(s.as_str(), "<redacted>");
            }
        }
        text
    }

    /// A bounded piece of a response body, scrubbed before it is cut, so
    /// that no part of a secret survives at the cut.
    fn body_text(&self, body: &[u8]) -> String {
        const MAX: usize = 512;
        let longest = self.secrets.first().map_or(0, String::len);
        let head = &body[..body.len().min(MAX + longest)];
        let text = self.scrub(String::from_utf8_lossy(head).into_owned());
        let text = text.trim();
        match text.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}...", &text[..cut]),
            None if body.len() > head.len() => format!("{text}..."),
            None => text.to_owned(),
        }
    }

    fn partial(&self, resp: Option<ExportTraceServiceResponse>, n: usize) -> ExportResult {
        match resp.and_then(|r| r.partial_success) {
            Some(p) if p.rejected_spans > 0 || !p.error_message.is_empty() => {
                ExportResult::PartialSuccess {
                    rejected: u64::try_from(p.rejected_spans).unwrap_or(0).min(n as u64),
                    message: self.scrub(p.error_message),
                }
            }
            _ => ExportResult::Success,
        }
    }

    fn http_outcome(&self, resp: &HttpResponse, n: usize) -> ExportResult {
        let status = resp.status.as_u16();
        match status {
            200..=299 => {
                let decoded = match self.protocol {
                    Protocol::HttpJson => serde_json::from_slice::<serde_json::Value>(&resp.body).ok().map(|v| {
                        let p = &v["partialSuccess"];
                        let rejected = p["rejectedSpans"]
                            .as_i64()
                            .or_else(|| p["rejectedSpans"].as_str().and_then(|s| s.parse().ok()))
                            .unwrap_or(0);
                        ExportTraceServiceResponse {
                            partial_success: Some(opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess {
                                rejected_spans: rejected,
                                error_message: p["errorMessage"].as_str().unwrap_or("").to_owned(),
                            }),
                        }
                    }),
                    _ => prost::Message::decode(resp.body.as_ref()).ok(),
                };
                self.partial(decoded, n)
            }
            429 | 502 | 503 | 504 => ExportResult::Retry {
                after: resp
                    .headers
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now())),
                reason: format!("{} answered with status {status}", self.uri),
            },
            _ => ExportResult::Failure(ExportError::Rejected {
                status,
                message: self.body_text(&resp.body),
            }),
        }
    }

    fn grpc_outcome(&self, resp: &HttpResponse, n: usize) -> ExportResult {
        let status = match GrpcStatus::from_metadata(&resp.headers, resp.trailers.as_ref()) {
            Some(s) => s,
            None if resp.status.is_success() => {
                return ExportResult::Failure(ExportError::Other(
                    "gRPC answer without grpc-status".into(),
                ));
            }
            None => GrpcStatus {
                code: grpc::code_for_http_status(resp.status.as_u16()),
                message: format!(
                    "HTTP {} from a proxy: {}",
                    resp.status.as_u16(),
                    self.body_text(&resp.body)
                ),
                retry_after: None,
            },
        };
        if status.code == 0 {
            let decoded = grpc::unframe(&resp.body).and_then(|(compressed, msg)| {
                if compressed {
                    let mut out = Vec::new();
                    let mut dec = flate2::read::GzDecoder::new(msg);
                    std::io::Read::read_to_end(&mut dec, &mut out).ok()?;
                    prost::Message::decode(out.as_slice()).ok()
                } else {
                    prost::Message::decode(msg).ok()
                }
            });
            return self.partial(decoded, n);
        }
        if status.is_retryable() {
            ExportResult::Retry {
                after: status.retry_after,
                reason: self.scrub(format!(
                    "{} answered gRPC {}: {}",
                    self.uri,
                    status.code_name(),
                    status.message
                )),
            }
        } else {
            ExportResult::Failure(ExportError::Rejected {
                status: u16::try_from(status.code).unwrap_or(u16::MAX),
                message: self.scrub(format!("gRPC {}: {}", status.code_name(), status.message)),
            })
        }
    }
}

impl SpanExporter for OtlpExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        if self.shut_down.load(Ordering::Acquire) {
            return ExportResult::Failure(ExportError::Shutdown);
        }
        if batch.is_empty() {
            return ExportResult::Success;
        }
        self.send_one(batch)
    }

    fn shutdown(&self, _deadline: Instant) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }

    fn bytes_sent(&self) -> u64 {
        self.client.bytes_sent()
    }

    /// 2: the next batch is encoded while the previous one is on the wire
    /// (requests still go out one at a time per connection).
    fn max_concurrent_exports(&self) -> usize {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777); // 1994-11-06 08:49:37
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:27 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
