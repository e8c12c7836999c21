//! Prela cloud exporter: traces to the Prela ingest gateway over HTTPS,
//! authenticated with an API key.
//!
//! ```no_run
//! use prela_export_cloud::CloudExporter;
//! // PRELA_API_KEY and (optionally) PRELA_ENDPOINT from the environment:
//! let exporter = CloudExporter::builder().build()?;
//! # Ok::<(), prela_export_cloud::CloudError>(())
//! ```
//!
//! ## Protocol
//!
//! Each export batch is grouped by trace; each trace is one `POST` of a JSON
//! document (gzip by default):
//!
//! ```json
//! {"trace_id": "4d63af3a-e2bb-4dc8-91d1-2234dc133607", "service_name": "research-agent",
//!  "started_at": "2026-11-22T03:31:22.167762+00:00", "completed_at": "2026-11-22T03:31:22.696761+00:00",
//!  "duration_ms": 528.999, "status": "SUCCESS", "spans": [ ...Prela span objects... ]}
//! ```
//!
//! This is the Python SDK's shape with its values corrected: `started_at`
//! is the earliest start, `completed_at` the latest end, `duration_ms` the
//! wall time between them, and timestamps are valid RFC 3339. `status` is
//! `ERROR` if any span failed.
//!
//! **Traces split across batches.** Spans are grouped per batch: a trace
//! whose spans end in different batches is sent as several documents with
//! the same `trace_id`, each describing its own spans; nothing is held back,
//! so memory stays bounded by the batch.
//!
//! **Retries without duplicates.** When one trace of a batch fails with a
//! transient error after others were accepted, the exporter remembers which
//! documents of that batch were delivered, so the processor's retry sends
//! only the rest.
//!
//! ## Responses
//!
//! | answer | result |
//! |---|---|
//! | 200, 202 | success; `X-Prela-Tier` is kept in [`CloudStats::tier`] |
//! | 401, 403 | permanent: "the API key was rejected"; after 3 in a row the exporter stops sending and says so once |
//! | 402, or 429 whose body mentions the quota | permanent: "quota exhausted: N span(s) not accepted" |
//! | 429 | retry, after `Retry-After` |
//! | 5xx, timeout, connection error | retry with backoff |
//! | other | permanent, with the status and a bounded piece of the body |
//!
//! The API key never appears in `Debug` output, errors or log messages.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::HashSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use prela_core::config::ConfigError;
use prela_core::json::PrelaSpan;
use prela_core::time::{format_timestamp, unix_micros};
use prela_core::{ExportError, ExportResult, SpanData, SpanExporter, SpanId, TraceId};
use prela_transport::gzip::Gzip;
use prela_transport::http::{HttpClient, HttpError, TlsConfig};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// Where traces go when `PRELA_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://api.prela.io/v1/traces";

/// Consecutive 401/403 answers after which the exporter stops sending.
pub const MAX_AUTH_FAILURES: u32 = 3;

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the one place that sends it.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the key is sent.
#[allow(clippy::exhaustive_enums)] // the two schemes the gateway accepts
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>` (default).
    #[default]
    Bearer,
    /// `X-API-Key: <key>`, as the Python SDK's `api_key` option.
    ApiKeyHeader,
}

/// Why the exporter could not be built.
#[derive(Debug)]
#[non_exhaustive]
pub enum CloudError {
    /// A setting or variable is missing or invalid.
    Config(ConfigError),
    /// The HTTP client could not be set up.
    Http(HttpError),
}

impl fmt::Display for CloudError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloudError::Config(e) => e.fmt(f),
            CloudError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CloudError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CloudError::Config(e) => Some(e),
            CloudError::Http(e) => Some(e),
        }
    }
}

impl From<ConfigError> for CloudError {
    fn from(e: ConfigError) -> Self {
        CloudError::Config(e)
    }
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Configures a [`CloudExporter`]. Code wins over `PRELA_API_KEY`,
/// `PRELA_ENDPOINT` and the Python SDK's `PRELA_HTTP_ENDPOINT`.
#[must_use]
pub struct CloudExporterBuilder {
    api_key: Option<ApiKey>,
    endpoint: Option<String>,
    auth: AuthScheme,
    gzip: bool,
    timeout: Duration,
    tls: TlsConfig,
    lookup: Lookup,
    /// `lookup` is the process environment (checked at `build`).
    process_env: bool,
}

impl fmt::Debug for CloudExporterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudExporterBuilder")
            .field("api_key", &self.api_key)
            .field("endpoint", &self.endpoint)
            .field("auth", &self.auth)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .finish()
    }
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl CloudExporterBuilder {
    /// The API key (else `PRELA_API_KEY`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// The ingest URL (else `PRELA_ENDPOINT`, `PRELA_HTTP_ENDPOINT`,
    /// [`DEFAULT_ENDPOINT`]). Must be `https://`, except on loopback.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// How the key is sent (default `Authorization: Bearer`).
    pub fn auth_scheme(mut self, scheme: AuthScheme) -> Self {
        self.auth = scheme;
        self
    }

    /// gzip request bodies (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Time budget for one request (default 10 s).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// TLS settings (default: web PKI roots).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Reads variables from `lookup` instead of the process environment.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.lookup = Box::new(lookup);
        self.process_env = false;
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Validates the settings and starts the HTTP client.
    pub fn build(self) -> Result<CloudExporter, CloudError> {
        if self.process_env {
            prela_core::config::check_environment()?;
        }
        let api_key = match self
            .api_key
            .clone()
            .or_else(|| self.var("PRELA_API_KEY").map(ApiKey::new))
        {
            Some(k) => k,
            None => {
                return Err(ConfigError::new(
                    "PRELA_API_KEY",
                    "",
                    "an API key from your Prela dashboard",
                )
                .into());
            }
        };
        let (variable, endpoint) = match (
            &self.endpoint,
            self.var("PRELA_ENDPOINT"),
            self.var("PRELA_HTTP_ENDPOINT"),
        ) {
            (Some(e), _, _) => ("endpoint", e.clone()),
            (None, Some(e), _) => ("PRELA_ENDPOINT", e),
            (None, None, Some(e)) => ("PRELA_HTTP_ENDPOINT", e),
            (None, None, None) => ("default", DEFAULT_ENDPOINT.to_owned()),
        };
        let uri: Uri = endpoint
            .parse()
            .ok()
            .filter(|u: &Uri| u.host().is_some())
            .ok_or_else(|| ConfigError::new(variable, endpoint.clone(), "an https:// URL"))?;
        if let Some(authority) = uri.authority() {
            prela_core::config::check_port(authority.as_str()).map_err(|why| {
                ConfigError::new(
                    variable,
                    endpoint.clone(),
                    format!("a URL with a valid port ({why})"),
                )
            })?;
        }
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if uri.host().is_some_and(is_loopback) => {}
            _ => {
                return Err(ConfigError::new(
                    variable,
                    endpoint.clone(),
                    "an https:// URL (plain http:// only on loopback): the API key must not travel in clear",
                )
                .into());
            }
        }
        let mut headers = HeaderMap::new();
        let (name, value) = match self.auth {
            AuthScheme::Bearer => ("authorization", format!("Bearer {}", api_key.expose())),
            AuthScheme::ApiKeyHeader => ("x-api-key", api_key.expose().to_owned()),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            ConfigError::new("PRELA_API_KEY", "<redacted>", "printable ASCII characters")
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            http::header::USER_AGENT,
            HeaderValue::from_static(concat!("prela-rust/", env!("CARGO_PKG_VERSION"))),
        );
        if self.gzip {
            headers.insert(
                http::header::CONTENT_ENCODING,
                HeaderValue::from_static("gzip"),
            );
        }
        let client = HttpClient::new(self.tls).map_err(CloudError::Http)?;
        Ok(CloudExporter {
            uri,
            headers,
            gzip: self.gzip.then(Gzip::new),
            timeout: self.timeout,
            api_key,
            client,
            auth_failures: AtomicU32::new(0),
            disabled: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            documents: AtomicU64::new(0),
            tier: Mutex::new(None),
            delivered: Mutex::new((None, HashSet::new())),
        })
    }
}

/// What the exporter knows about its account and traffic.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloudStats {
    /// The subscription tier the gateway reported (`X-Prela-Tier`).
    pub tier: Option<String>,
    /// Trace documents accepted.
    pub documents_sent: u64,
    /// 401/403 answers in a row.
    pub consecutive_auth_failures: u32,
    /// `true` once the exporter stopped sending after repeated auth failures.
    pub disabled: bool,
}

/// Identifies one trace document of a batch, for retries without duplicates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct DocKey(TraceId, SpanId, usize);

/// The batch being retried, by its first span id and length, and which of
/// its documents were accepted.
type Delivered = (Option<(SpanId, usize)>, HashSet<DocKey>);

/// Sends traces to Prela cloud. Use it behind a `BatchProcessor`.
pub struct CloudExporter {
    uri: Uri,
    headers: HeaderMap,
    /// Set when bodies are gzipped.
    gzip: Option<Gzip>,
    timeout: Duration,
    api_key: ApiKey,
    client: HttpClient,
    auth_failures: AtomicU32,
    disabled: AtomicBool,
    shut_down: AtomicBool,
    documents: AtomicU64,
    tier: Mutex<Option<String>>,
    /// The batch being retried (first span id, length) and which of its
    /// documents were already accepted.
    delivered: Mutex<Delivered>,
}

impl fmt::Debug for CloudExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudExporter")
            .field("uri", &self.uri)
            .field("api_key", &self.api_key)
            .field("gzip", &self.gzip.is_some())
            .field("timeout", &self.timeout)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Spans<'a>(&'a [&'a SpanData]);

impl Serialize for Spans<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for span in self.0 {
            seq.serialize_element(&PrelaSpan(span))?;
        }
        seq.end()
    }
}

/// One trace document.
struct TraceDoc<'a>(&'a [&'a SpanData]);

impl Serialize for TraceDoc<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let spans = self.0;
        let start = spans
            .iter()
            .map(|x| x.start_time)
            .min()
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let end = spans
            .iter()
            .filter_map(|x| x.end_time)
            .max()
            .unwrap_or(start)
            .max(start);
        let service = spans
            .iter()
            .find_map(|x| x.resource.service_name().map(str::to_owned))
            .or_else(|| {
                spans.iter().find_map(|x| {
                    x.attribute("service.name")
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                })
            })
            .unwrap_or_else(|| "unknown_service".to_owned());
        let trace_id = spans
            .first()
            .map(|x| x.span_context.trace_id)
            .unwrap_or_default();
        let mut m = s.serialize_map(Some(7))?;
        m.serialize_entry("trace_id", &trace_id.uuid().to_string())?;
        m.serialize_entry("service_name", &service)?;
        m.serialize_entry("started_at", &format_timestamp(start))?;
        m.serialize_entry("completed_at", &format_timestamp(end))?;
        m.serialize_entry(
            "duration_ms",
            &((unix_micros(end) - unix_micros(start)) as f64 / 1000.0),
        )?;
        let failed = spans.iter().any(|x| x.status.is_error());
        m.serialize_entry("status", if failed { "ERROR" } else { "SUCCESS" })?;
        m.serialize_entry("spans", &Spans(spans))?;
        m.end()
    }
}

/// The batch's spans grouped by trace, in order of first appearance.
fn by_trace(batch: &[SpanData]) -> Vec<Vec<&SpanData>> {
    let mut groups: Vec<Vec<&SpanData>> = Vec::new();
    for s in batch {
        match groups
            .iter_mut()
            .find(|g| g[0].span_context.trace_id == s.span_context.trace_id)
        {
            Some(g) => g.push(s),
            None => groups.push(vec![s]),
        }
    }
    groups
}

fn quota_exhausted(status: u16, body: &[u8]) -> bool {
    status == 402
        || (status == 429
            && String::from_utf8_lossy(body)
                .to_ascii_lowercase()
                .contains("quota"))
}

enum Sent {
    Ok,
    Result(ExportResult),
}

impl CloudExporter {
    /// A builder.
    pub fn builder() -> CloudExporterBuilder {
        CloudExporterBuilder {
            api_key: None,
            endpoint: None,
            auth: AuthScheme::Bearer,
            gzip: true,
            timeout: Duration::from_secs(10),
            tls: TlsConfig::new(),
            lookup: Box::new(prela_core::config::env_var),
            process_env: true,
        }
    }

    /// The ingest URL.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Tier, documents sent, and the auth state.
    pub fn stats(&self) -> CloudStats {
        CloudStats {
            tier: self.tier.lock().map(|t| t.clone()).unwrap_or(None),
            documents_sent: self.documents.load(Ordering::Relaxed),
            consecutive_auth_failures: self.auth_failures.load(Ordering::Relaxed),
            disabled: self.disabled.load(Ordering::Relaxed),
        }
    }

    /// Removes the key from text that came from elsewhere (a gateway body).
    fn scrub(&self, text: &str) -> String {
        let key = self.api_key.expose();
        if key.is_empty() {
            text.to_owned()
        } else {
            text.replace(key, "<redacted>")
        }
    }

    fn body(&self, doc: &[&SpanData]) -> Result<Vec<u8>, ExportError> {
        let json =
            serde_json::to_vec(&TraceDoc(doc)).map_err(|e| ExportError::Encode(e.to_string()))?;
        match &self.gzip {
            Some(gz) => gz.compress(&json).map_err(ExportError::Encode),
            None => Ok(json),
        }
    }

    fn send(&self, doc: &[&SpanData], unsent_spans: u64) -> Sent {
        let body = match self.body(doc) {
            Ok(b) => b,
            Err(e) => return Sent::Result(ExportResult::Failure(e)),
        };
        let resp = match self.client.send(
            Method::POST,
            self.uri.clone(),
            self.headers.clone(),
            Bytes::from(body),
            prela_transport::http::HttpVersion::Http1,
            prela_core::deadline_in(self.timeout),
        ) {
            Ok(r) => r,
            Err(e) if e.is_transient() => {
                return Sent::Result(ExportResult::Retry {
                    after: None,
                    reason: e.to_string(),
                });
            }
            Err(e) => {
                return Sent::Result(ExportResult::Failure(ExportError::Transport(Box::new(e))));
            }
        };
        let status = resp.status.as_u16();
        let retry_after = || {
            resp.headers
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs)
        };
        match status {
            200 | 202 => {
                self.auth_failures.store(0, Ordering::Relaxed);
                self.documents.fetch_add(1, Ordering::Relaxed);
                if let Some(tier) = resp
                    .headers
                    .get("x-prela-tier")
                    .and_then(|v| v.to_str().ok())
                {
                    if let Ok(mut t) = self.tier.lock() {
                        *t = Some(tier.to_owned());
                    }
                }
                Sent::Ok
            }
            401 | 403 => {
                let n = self.auth_failures.fetch_add(1, Ordering::Relaxed) + 1;
                if n >= MAX_AUTH_FAILURES && !self.disabled.swap(true, Ordering::Relaxed) {
                    tracing::error!(
                        target: "prela",
                        "prela: the API key was rejected {n} times in a row; no longer sending to {} \
                         (check PRELA_API_KEY and restart)",
                        self.uri
                    );
                }
                Sent::Result(ExportResult::Failure(ExportError::Rejected {
                    status,
                    message: format!("the API key was rejected by {}", self.uri),
                }))
            }
            _ if quota_exhausted(status, &resp.body) => {
                Sent::Result(ExportResult::Failure(ExportError::Rejected {
                    status,
                    message: format!("quota exhausted: {unsent_spans} span(s) not accepted"),
                }))
            }
            429 | 500..=599 => Sent::Result(ExportResult::Retry {
                after: retry_after(),
                reason: format!("{} answered with status {status}", self.uri),
            }),
            _ => {
                // Scrubbed before it is cut: no piece of the key survives
                // at the cut.
                let key_len = self.api_key.expose().len();
                let head = &resp.body[..resp.body.len().min(512 + key_len)];
                let text = self.scrub(String::from_utf8_lossy(head).trim());
                let text = match text.char_indices().nth(512) {
                    Some((cut, _)) => text[..cut].to_owned(),
                    None => text,
                };
                Sent::Result(ExportResult::Failure(ExportError::Rejected {
                    status,
                    message: text,
                }))
            }
        }
    }
}

impl SpanExporter for CloudExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        if self.shut_down.load(Ordering::Acquire) {
            return ExportResult::Failure(ExportError::Shutdown);
        }
        if batch.is_empty() {
            return ExportResult::Success;
        }
        if self.disabled.load(Ordering::Relaxed) {
            return ExportResult::Failure(ExportError::Other(format!(
                "not sent: the API key was rejected {MAX_AUTH_FAILURES} times in a row by {}",
                self.uri
            )));
        }
        let docs = by_trace(batch);
        let batch_id = (batch[0].span_context.span_id, batch.len());
        if let Ok(mut d) = self.delivered.lock() {
            if d.0 != Some(batch_id) {
                // A new batch: what an earlier one delivered is irrelevant.
                *d = (Some(batch_id), HashSet::new());
            }
        }
        let forget = || {
            if let Ok(mut d) = self.delivered.lock() {
                *d = (None, HashSet::new());
            }
        };
        let mut accepted = 0u64;
        for (i, doc) in docs.iter().enumerate() {
            let key = DocKey(
                doc[0].span_context.trace_id,
                doc[0].span_context.span_id,
                doc.len(),
            );
            if self.delivered.lock().is_ok_and(|d| d.1.contains(&key)) {
                accepted += doc.len() as u64;
                continue;
            }
            let unsent: u64 = docs[i..].iter().map(|d| d.len() as u64).sum();
            match self.send(doc, unsent) {
                Sent::Ok => {
                    accepted += doc.len() as u64;
                    if let Ok(mut d) = self.delivered.lock() {
                        d.1.insert(key);
                    }
                }
                // The processor retries this same batch; delivered documents
                // are remembered and skipped.
                Sent::Result(r @ ExportResult::Retry { .. }) => return r,
                Sent::Result(ExportResult::Failure(e)) if accepted > 0 => {
                    forget();
                    return ExportResult::PartialSuccess {
                        rejected: unsent,
                        message: e.to_string(),
                    };
                }
                Sent::Result(other) => {
                    forget();
                    return other;
                }
            }
        }
        forget();
        ExportResult::Success
    }

    fn shutdown(&self, _deadline: Instant) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }

    fn bytes_sent(&self) -> u64 {
        self.client.bytes_sent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in ["localhost", "127.0.0.1", "127.9.9.9", "[::1]"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["10.0.0.1", "example.com", "[::2]"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn keys_do_not_print() {
        let k = ApiKey::new("sk-live-123");
        assert_eq!(format!("{k:?} {k}"), "ApiKey(<redacted>) <redacted>");
    }
}
