//! The bench's loopback OTLP/HTTP receiver.
//!
//! `bench-receiver` listens on 127.0.0.1 (an ephemeral port, printed as the
//! first line of stdout) and answers:
//! - `POST /v1/traces`: an OTLP/HTTP protobuf request, gzip or not. Every
//!   request is decoded: the protobuf wire format is walked field by field
//!   down to each span (lengths, varints and wire types checked; trace and
//!   span ids must be 16 and 8 bytes), and one request in 16 is also decoded
//!   in full with `opentelemetry-proto`, whose span count must agree. Spans
//!   are counted, and span ids seen twice are counted as duplicates (when
//!   the counts are asked for, so that finding them costs nothing while an
//!   SDK is measured).
//! - `GET /stats`: the counts as JSON.
//! - `POST /reset`: zero the counts.
//!
//! One thread per connection, blocking I/O: the SDKs under test each use
//! one connection at a time, so this keeps the receiver's own CPU low and
//! equal for both.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

#[derive(Default)]
struct Counts {
    spans: u64,
    requests: u64,
    bytes: u64,
    bad: u64,
    full_decodes: u64,
    last_bad: String,
    /// Every span id received, in arrival order until the counts are asked
    /// for. A hash set checked on arrival cost a cache miss per span (the
    /// table of a million ids is far bigger than the cache): a tenth of
    /// the receiver's CPU in W2, time the SDK under test, on the same two
    /// cores, then did not have. Appending is sequential and cheap; the
    /// duplicates are found by sorting, in [`Counts::duplicates`].
    seen: Vec<u64>,
}

/// Room for every span id of a bench run, so the list never grows while
/// an SDK is being measured.
const EXPECTED_SPANS: usize = 1 << 21;

impl Counts {
    fn new() -> Self {
        let mut c = Counts::default();
        c.seen.reserve(EXPECTED_SPANS);
        c
    }

    /// Span ids received more than once (each extra arrival counts).
    fn duplicates(&mut self) -> u64 {
        self.seen.sort_unstable();
        self.seen.windows(2).filter(|w| w[0] == w[1]).count() as u64
    }
}

type Shared = Arc<Mutex<Counts>>;

fn main() {
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench-receiver: bind 127.0.0.1:0: {e}");
            std::process::exit(1);
        }
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    println!("{port}");
    let counts: Shared = Arc::new(Mutex::new(Counts::new()));
    for stream in listener.incoming().flatten() {
        let counts = Arc::clone(&counts);
        std::thread::spawn(move || {
            let _ = stream.set_nodelay(true);
            serve(stream, &counts);
        });
    }
}

struct Request {
    method: String,
    path: String,
    gzip: bool,
    body: Vec<u8>,
}

fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    let mut gzip = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "content-encoding" => gzip = value.eq_ignore_ascii_case("gzip"),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                // Trailers, then the blank line.
                loop {
                    line.clear();
                    if r.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            line.clear();
            r.read_line(&mut line)?;
        }
    } else {
        body.resize(length, 0);
        r.read_exact(&mut body)?;
    }
    Ok(Some(Request {
        method,
        path,
        gzip,
        body,
    }))
}

fn serve(stream: TcpStream, counts: &Shared) {
    let Ok(mut out) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::with_capacity(1 << 16, stream);
    while let Ok(Some(req)) = read_request(&mut r) {
        let (status, content_type, body) = match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/v1/traces") => {
                receive(&req, counts);
                ("200 OK", "application/x-protobuf", String::new())
            }
            ("GET", "/stats") => ("200 OK", "application/json", stats(counts)),
            ("POST", "/reset") => {
                if let Ok(mut c) = counts.lock() {
                    *c = Counts::new();
                }
                ("200 OK", "application/json", stats(counts))
            }
            _ => ("404 Not Found", "text/plain", "no such route\n".to_owned()),
        };
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
        // Control calls are one request per connection.
        if req.path != "/v1/traces" {
            return;
        }
    }
}

fn stats(counts: &Shared) -> String {
    let Ok(mut c) = counts.lock() else {
        return "{}".to_owned();
    };
    let duplicates = c.duplicates();
    format!(
        "{{\"spans\":{},\"requests\":{},\"bytes\":{},\"bad\":{},\"duplicates\":{},\"full_decodes\":{},\"last_bad\":{:?}}}",
        c.spans, c.requests, c.bytes, c.bad, duplicates, c.full_decodes, c.last_bad
    )
}

fn receive(req: &Request, counts: &Shared) {
    let raw;
    let body: &[u8] = if req.gzip {
        let mut d = flate2::read::GzDecoder::new(&req.body[..]);
        let mut v = Vec::with_capacity(req.body.len() * 8);
        if let Err(e) = d.read_to_end(&mut v) {
            bad(counts, format!("gzip: {e}"));
            return;
        }
        raw = v;
        &raw
    } else {
        &req.body
    };
    let mut ids = Vec::with_capacity(1024);
    if let Err(e) = walk_request(body, &mut ids) {
        bad(counts, e);
        return;
    }
    let Ok(mut c) = counts.lock() else {
        return;
    };
    c.requests += 1;
    c.bytes += req.body.len() as u64;
    if c.requests % 16 == 1 {
        c.full_decodes += 1;
        match ExportTraceServiceRequest::decode(body) {
            Ok(full) => {
                let n: usize = full
                    .resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum();
                if n != ids.len() {
                    c.bad += 1;
                    c.last_bad = format!("full decode found {n} spans, the walk {}", ids.len());
                }
            }
            Err(e) => {
                c.bad += 1;
                c.last_bad = format!("full decode: {e}");
            }
        }
    }
    c.spans += ids.len() as u64;
    c.seen.extend_from_slice(&ids);
}

fn bad(counts: &Shared, why: String) {
    if let Ok(mut c) = counts.lock() {
        c.bad += 1;
        c.last_bad = why;
    }
}

/// Protobuf wire walking: `(field number, wire type, payload)` triples.
struct Fields<'a> {
    buf: &'a [u8],
}

enum Payload<'a> {
    Varint,
    Fixed,
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8]) -> Result<(u64, usize), String> {
    let mut v = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((v, i + 1));
        }
    }
    Err("bad varint".to_owned())
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u64, Payload<'a>), String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        Some(self.step())
    }
}

impl<'a> Fields<'a> {
    fn step(&mut self) -> Result<(u64, Payload<'a>), String> {
        let (tag, n) = varint(self.buf)?;
        self.buf = &self.buf[n..];
        let field = tag >> 3;
        let payload = match tag & 7 {
            0 => {
                let (_, n) = varint(self.buf)?;
                self.buf = &self.buf[n..];
                Payload::Varint
            }
            1 | 5 => {
                let n = if tag & 7 == 1 { 8 } else { 4 };
                if self.buf.len() < n {
                    return Err("truncated fixed field".to_owned());
                }
                self.buf = &self.buf[n..];
                Payload::Fixed
            }
            2 => {
                let (len, n) = varint(self.buf)?;
                let len = usize::try_from(len).map_err(|_| "length overflow".to_owned())?;
                let end = n
                    .checked_add(len)
                    .filter(|e| *e <= self.buf.len())
                    .ok_or("length past the end")?;
                let bytes = &self.buf[n..end];
                self.buf = &self.buf[end..];
                Payload::Bytes(bytes)
            }
            w => return Err(format!("wire type {w} in field {field}")),
        };
        if field == 0 {
            return Err("field number 0".to_owned());
        }
        Ok((field, payload))
    }
}

fn messages(buf: &[u8], want: u64) -> impl Iterator<Item = Result<&[u8], String>> {
    Fields { buf }.filter_map(move |f| match f {
        Ok((n, Payload::Bytes(b))) if n == want => Some(Ok(b)),
        Ok((n, _)) if n == want => Some(Err(format!("field {n} is not length-delimited"))),
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    })
}

/// ExportTraceServiceRequest.resource_spans(1) -> ResourceSpans.scope_spans(2)
/// -> ScopeSpans.spans(2) -> Span: trace_id(1), span_id(2), name(5).
fn walk_request(body: &[u8], ids: &mut Vec<u64>) -> Result<(), String> {
    for rs in messages(body, 1) {
        for ss in messages(rs?, 2) {
            for span in messages(ss?, 2) {
                let mut trace_id = false;
                let mut span_id = None;
                let mut named = false;
                for f in (Fields { buf: span? }) {
                    match f? {
                        (1, Payload::Bytes(b)) => trace_id = b.len() == 16,
                        (2, Payload::Bytes(b)) => {
                            span_id = <[u8; 8]>::try_from(b).ok().map(u64::from_be_bytes);
                        }
                        (5, Payload::Bytes(b)) => named = std::str::from_utf8(b).is_ok(),
                        _ => {}
                    }
                }
                match (trace_id, span_id, named) {
                    (true, Some(id), true) => ids.push(id),
                    _ => {
                        return Err(
                            "a span without a 16-byte trace id, an 8-byte span id and a UTF-8 name"
                                .to_owned(),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn request(ids: &[u64]) -> Vec<u8> {
        let spans = ids
            .iter()
            .map(|id| Span {
                trace_id: vec![1; 16],
                span_id: id.to_be_bytes().to_vec(),
                name: "s".into(),
                ..Span::default()
            })
            .collect();
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn the_walk_finds_every_span_id() {
        let mut ids = Vec::new();
        walk_request(&request(&[7, 1 << 40, 7]), &mut ids).expect("walk");
        assert_eq!(ids, [7, 1 << 40, 7]);
    }

    #[test]
    fn a_span_without_ids_is_bad() {
        let body = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "s".into(),
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
        .encode_to_vec();
        assert!(walk_request(&body, &mut Vec::new()).is_err());
        assert!(walk_request(&[0x0a, 0x05, 1], &mut Vec::new()).is_err());
    }

    #[test]
    fn duplicates_are_every_extra_arrival() {
        let mut c = Counts::default();
        c.seen.extend([5, 3, 5, 9, 5, 3]);
        assert_eq!(c.duplicates(), 3);
        // Asking again, after more arrivals, counts them all again.
        c.seen.extend([9, 1]);
        assert_eq!(c.duplicates(), 4);
        assert_eq!(Counts::default().duplicates(), 0);
    }
}
