//! One trace across a client and a server: the client injects
//! `traceparent` into its request headers, the server extracts it and
//! starts its span as a child. Both sides run here, on loopback, with a
//! minimal HTTP/1.1 exchange over std's TCP so nothing hides the headers.
//!
//! `cargo run --example http_propagation`
#![allow(clippy::print_stdout)] // an example program talks to its user

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

use prela::context::propagation::{self, TextMapPropagator, W3cPropagator};

/// Reads a request's headers into a map (names lowercased).
fn read_headers(stream: &TcpStream) -> std::io::Result<HashMap<String, String>> {
    let mut headers = HashMap::new();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?; // request line
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
}

fn server(listener: TcpListener) -> std::io::Result<()> {
    let (mut stream, _) = listener.accept()?;
    let headers = read_headers(&stream)?;
    // Extract the caller's context and make the server span its child.
    let parent = propagation::extract(&headers);
    let tracer = prela::tracer();
    let mut span = tracer
        .span_builder("GET /orders/1042")
        .parent(&parent)
        .start();
    span.set_attribute("http.request.method", "GET");
    span.set_attribute("http.response.status_code", 200);
    span.end();
    stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\n\r\nshipped")
}

fn main() -> std::process::ExitCode {
    prela_examples::exit(run())
}

fn run() -> prela_examples::Outcome {
    let _guard = prela::init().service_name("shop").install()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let srv = std::thread::spawn(move || server(listener));

    let tracer = prela::tracer();
    let client = tracer.span("client: fetch order");
    // Inject the current context (the client span) into the headers.
    let mut headers: HashMap<String, String> = HashMap::new();
    W3cPropagator::new().inject(&client.context(), &mut headers);
    let mut req = format!("GET /orders/1042 HTTP/1.1\r\nhost: {addr}\r\n");
    for (k, v) in &headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(req.as_bytes())?;
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer)?;
    srv.join().map_err(|_| "server thread panicked")??;
    println!("sent traceparent: {}", headers["traceparent"]);
    drop(client);
    Ok(())
}
