//! `cargo xtask bench`: Prela against opentelemetry-rust on one workload.
//!
//! Builds the `bench/` workspace in release mode (one binary per SDK and the
//! loopback receiver), runs every workload with each SDK alternately for a
//! number of rounds, checks that the numbers add up, and writes
//! `target/bench/results.{json,md}` and `target/bench/ratios.svg`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::svg::Svg;

/// The SDKs compared, in the order of the first round.
pub const SDKS: [&str; 2] = ["prela", "otel"];

/// Every workload, in report order.
pub const WORKLOADS: [&str; 11] = [
    "w1", "w3", "w2", "w2-gzip", "w2-paced", "w1-paced", "pacing", "sending", "w4", "reserve",
    "max-rate",
];

/// The paced rates `max-rate` searches between, in spans/s.
pub const MAX_RATE_RANGE: (u64, u64) = (50_000, 2_000_000);

/// Steps of the search after its two ends: the 40x range halved in log
/// scale 7 times leaves the answer within 3%.
const MAX_RATE_STEPS: u32 = 7;

/// Spans in each request of the `sending` workload (the bench harness's
/// `sending::BATCH`).
pub const SENDING_BATCH: u64 = 512;

/// What to run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Rounds of every workload with each SDK.
    pub rounds: u32,
    /// Spans per run (1,000,000 for the figures in docs/performance.md).
    pub spans: u64,
    /// Spans per second for `w2-paced`.
    pub pace: u64,
    /// The workloads to run.
    pub workloads: Vec<String>,
    /// Fail when a target is missed, not only when numbers do not add up.
    pub enforce_targets: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 3,
            spans: 1_000_000,
            pace: 50_000,
            workloads: WORKLOADS.iter().map(|w| (*w).to_owned()).collect(),
            enforce_targets: false,
        }
    }
}

impl Options {
    /// Parses `[--rounds N] [--spans N] [--pace N] [--only w1,w2] [--enforce-targets]`.
    pub fn parse(args: &[&str]) -> Result<Options, String> {
        let mut o = Options::default();
        let mut i = 0;
        while i < args.len() {
            let flag = args[i];
            if flag == "--enforce-targets" {
                o.enforce_targets = true;
                i += 1;
                continue;
            }
            let value = *args
                .get(i + 1)
                .ok_or_else(|| format!("{flag} needs a value"))?;
            let number =
                || {
                    value.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                        format!("{flag} takes a positive whole number, not {value:?}")
                    })
                };
            match flag {
                "--rounds" => o.rounds = u32::try_from(number()?).map_err(|e| e.to_string())?,
                "--spans" => {
                    o.spans = number()?;
                    if o.spans % 400 != 0 {
                        return Err(format!(
                            "--spans must be a multiple of 400 (traces of 100 over 4 producers), not {value}"
                        ));
                    }
                }
                "--pace" => o.pace = number()?,
                "--only" => {
                    o.workloads = value.split(',').map(str::to_owned).collect();
                    if let Some(bad) = o
                        .workloads
                        .iter()
                        .find(|w| !WORKLOADS.contains(&w.as_str()))
                    {
                        return Err(format!(
                            "unknown workload {bad:?}; the workloads are {}",
                            WORKLOADS.join(", ")
                        ));
                    }
                }
                _ => return Err(format!("unknown option {flag:?}")),
            }
            i += 2;
        }
        Ok(o)
    }
}

struct Receiver {
    child: Child,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    fn start(bin: &Path) -> Result<Receiver, String> {
        let mut child = Command::new(bin)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("start {}: {e}", bin.display()))?;
        let mut line = String::new();
        let read = child
            .stdout
            .take()
            .map(|out| BufReader::new(out).read_line(&mut line));
        let port = line.trim().parse::<u16>().ok();
        match (read, port) {
            (Some(Ok(_)), Some(port)) => Ok(Receiver { child, port }),
            _ => {
                let _ = child.kill();
                Err(format!(
                    "the receiver did not print its port (got {line:?})"
                ))
            }
        }
    }

    fn call(&self, method: &str, path: &str) -> Result<Value, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .map_err(|e| e.to_string())?;
        let mut response = String::new();
        s.read_to_string(&mut response).map_err(|e| e.to_string())?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .ok_or("the receiver's answer has no body")?;
        serde_json::from_str(body).map_err(|e| format!("receiver stats {body:?}: {e}"))
    }
}

fn num(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN)
}

/// Derives the reported figures of one run and checks that they add up:
/// what arrived (at the receiver or the discarding exporter) plus what was
/// lost is what was made; nothing arrived twice or malformed; the SDK's own
/// counters (when it has any) agree with what arrived.
pub fn derive(
    workload: &str,
    sdk: &str,
    run: &Value,
    receiver: Option<&Value>,
) -> Result<Value, String> {
    let fail = |what: String| Err(format!("{workload} {sdk}: {what}"));
    if workload == "reserve" {
        return Ok(json!({
            "vm_delta": num(run, "vm_delta"),
            "rss_delta": num(run, "rss_delta"),
            "queue": num(run, "queue"),
        }));
    }
    let produced = run.get("produced").and_then(Value::as_u64).unwrap_or(0);
    if produced == 0 {
        return fail(format!("no spans produced: {run}"));
    }
    let per_million = |key: &str| num(run, key) * 1e6 / produced as f64;
    // The process's CPU, and the part of it the producer threads used
    // (measured by each on itself); the rest is the SDK's own threads and
    // the shutdown call.
    let (cpu, producers) = (per_million("cpu_s"), per_million("producer_cpu_s"));
    if workload == "pacing" || workload == "sending" {
        // No SDK: only the CPU the paced loop took, and for `sending` what
        // the requests it shipped came to.
        let mut out = json!({
            "cpu_s_per_million": cpu,
            "producer_cpu_s_per_million": producers,
            "produced": produced,
        });
        if workload == "sending" {
            out["bytes_per_span"] = match sending_bytes_per_span(run, receiver, produced) {
                Ok(bytes) => json!(bytes),
                Err(what) => return fail(what),
            };
        }
        return Ok(out);
    }
    let delivered = match receiver {
        Some(r) => {
            for key in ["bad", "duplicates"] {
                let n = r.get(key).and_then(Value::as_u64).unwrap_or(u64::MAX);
                if n != 0 {
                    return fail(format!("the receiver counted {n} {key} ({r})"));
                }
            }
            if workload == "w4" && r.get("requests").and_then(Value::as_u64) != Some(0) {
                return fail(format!(
                    "requests reached the receiver during the outage: {r}"
                ));
            }
            r.get("spans").and_then(Value::as_u64).unwrap_or(u64::MAX)
        }
        None => run
            .get("discarded")
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX),
    };
    if delivered > produced {
        return fail(format!("{delivered} spans delivered of {produced} made"));
    }
    let lost = produced - delivered;
    if let Some(own) = run.get("self_reported_dropped").and_then(Value::as_u64) {
        if own != lost {
            return fail(format!(
                "the SDK says it lost {own} spans; {delivered} of {produced} arrived, so {lost} were lost"
            ));
        }
    }
    let ok = run
        .get("shutdown_ok")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let stated = run.get("stated_lost").and_then(Value::as_u64);
    // Shutdown told the truth if it said success exactly when everything
    // arrived, and any count it gave is the real one.
    let truthful = ok == (lost == 0) && stated.is_none_or(|n| n == lost);
    if sdk == "prela" && !truthful {
        return fail(format!(
            "shutdown said ok={ok}, lost={stated:?}, but {lost} of {produced} spans were lost ({})",
            run.get("shutdown_message")
                .and_then(Value::as_str)
                .unwrap_or("")
        ));
    }
    let total_s = num(run, "total_s");
    Ok(json!({
        "producer_ns_per_span": num(run, "producer_ns_per_span"),
        "delivered": delivered,
        "dropped": lost,
        "delivered_per_s": delivered as f64 / total_s,
        "cpu_s_per_million": cpu,
        "producer_cpu_s_per_million": producers,
        "other_cpu_s_per_million": cpu - producers,
        "peak_rss": num(run, "peak_rss"),
        "idle_rss": num(run, "idle_rss"),
        "shutdown_s": num(run, "shutdown_s"),
        "max_trace_us": num(run, "max_trace_us"),
        "truthful": truthful,
        "stated_lost": stated,
        "shutdown_message": run.get("shutdown_message").cloned().unwrap_or(Value::Null),
        "produced": produced,
    }))
}

/// Checks a `sending` run: the sender never failed, and every request due
/// (one per full [`SENDING_BATCH`] of the spans made) arrived whole at the
/// receiver. The bytes it counted per span, when they did.
fn sending_bytes_per_span(
    run: &Value,
    receiver: Option<&Value>,
    produced: u64,
) -> Result<f64, String> {
    let count = |key: &str| {
        receiver
            .and_then(|r| r.get(key))
            .and_then(Value::as_u64)
            .unwrap_or(u64::MAX)
    };
    let (requests, spans, bad) = (count("requests"), count("spans"), count("bad"));
    if run.get("shutdown_ok").and_then(Value::as_bool) != Some(true) {
        return Err(format!(
            "the sender failed: {}",
            run.get("shutdown_message")
                .and_then(Value::as_str)
                .unwrap_or("")
        ));
    }
    if bad != 0 || requests != produced / SENDING_BATCH || spans != requests * SENDING_BATCH {
        return Err(format!(
            "{} requests of {SENDING_BATCH} spans were due for {produced} spans; the receiver counted {requests} requests, {spans} spans and {bad} bad",
            produced / SENDING_BATCH
        ));
    }
    Ok(count("bytes") as f64 / spans as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Medians over rounds of each numeric figure; `truthful` is true only if
/// every round was. Drops are also kept at their worst (`dropped_max`) with
/// the number of rounds that dropped any (`dropped_rounds`): a target of
/// "nothing dropped" must hold in every round, not in the median one.
pub fn summarise(runs: &[Value]) -> Value {
    let mut out = serde_json::Map::new();
    let Some(first) = runs.first().and_then(Value::as_object) else {
        return Value::Object(out);
    };
    for (key, v) in first {
        if v.is_number() {
            out.insert(
                key.clone(),
                json!(median(runs.iter().map(|r| num(r, key)).collect())),
            );
        }
    }
    if first.contains_key("dropped") {
        let dropped: Vec<f64> = runs.iter().map(|r| num(r, "dropped")).collect();
        let max = dropped
            .iter()
            .copied()
            .filter(|d| !d.is_nan())
            .fold(0.0, f64::max);
        let rounds = dropped.iter().filter(|d| **d > 0.0).count();
        out.insert("dropped_max".into(), json!(max));
        out.insert("dropped_rounds".into(), json!(rounds));
    }
    // The figures the ratio targets compare, round by round, so that a
    // target met on the medians can also say how many rounds met it.
    for key in ROUND_FIGURES {
        if first.contains_key(key) {
            let v: Vec<f64> = runs.iter().map(|r| num(r, key)).collect();
            out.insert(format!("{key}_by_round"), json!(v));
        }
    }
    if first.contains_key("truthful") {
        let all = runs
            .iter()
            .all(|r| r.get("truthful").and_then(Value::as_bool) == Some(true));
        out.insert("truthful".into(), json!(all));
    }
    out.insert("rounds".into(), json!(runs.len()));
    Value::Object(out)
}

/// The figures that ratio targets compare, kept round by round in the
/// summary (as `<figure>_by_round`).
const ROUND_FIGURES: [&str; 4] = [
    "producer_ns_per_span",
    "delivered_per_s",
    "cpu_s_per_million",
    "max_zero_drop_per_s",
];

/// Prela's `figure` over opentelemetry's in `w`, round by round (rounds
/// paired by number), and how many of them are within `bound`; `None`
/// without the per-round figures of both.
fn round_ratios(s: &Value, w: &str, figure: &str, bound: f64, at_least: bool) -> Option<String> {
    let rounds = |sdk: &str| -> Option<Vec<f64>> {
        s.get(w)?
            .get(sdk)?
            .get(format!("{figure}_by_round"))?
            .as_array()?
            .iter()
            .map(Value::as_f64)
            .collect()
    };
    let (ours, theirs) = (rounds("prela")?, rounds("otel")?);
    if ours.len() != theirs.len() || ours.is_empty() {
        return None;
    }
    let ratios: Vec<f64> = ours.iter().zip(&theirs).map(|(a, b)| a / b).collect();
    let within = ratios
        .iter()
        .filter(|r| if at_least { **r >= bound } else { **r <= bound })
        .count();
    let list: Vec<String> = ratios.iter().map(|r| format!("{r:.3}x")).collect();
    Some(format!(
        "round by round {}: {within} of {} within the bound",
        list.join(", "),
        ratios.len()
    ))
}

/// `detail` with `more` after it, "; " between them when both say something.
fn joined(detail: String, more: Option<String>) -> String {
    match more {
        Some(m) if detail.is_empty() => m,
        Some(m) => format!("{detail}; {m}"),
        None => detail,
    }
}

/// One target: what it compares and whether it held.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Target {
    /// What it says, e.g. "W1 producer ns/span <= 0.25x".
    pub name: String,
    /// The figure reached (a ratio, or an absolute value).
    pub value: f64,
    /// The bound.
    pub bound: f64,
    /// Whether `value` is within `bound` (and any side condition holds).
    pub met: bool,
    /// The side condition's figures, said plainly.
    pub detail: String,
}

fn get(s: &Value, w: &str, sdk: &str, key: &str) -> f64 {
    s.get(w)
        .and_then(|x| x.get(sdk))
        .map_or(f64::NAN, |v| num(v, key))
}

/// Prela's most spans dropped in one round of `w`, the rounds that dropped
/// any, and the rounds (a summary without the worst-round figures counts
/// as one round of its median).
fn worst_drops(s: &Value, w: &str) -> (f64, u64, u64) {
    let p = s.get(w).and_then(|x| x.get("prela"));
    let field = |key: &str| p.and_then(|p| p.get(key)).and_then(Value::as_f64);
    match (
        field("dropped_max"),
        field("dropped_rounds"),
        field("rounds"),
    ) {
        (Some(max), Some(k), Some(n)) => (max, k as u64, n as u64),
        _ => {
            let d = get(s, w, "prela", "dropped");
            (d, u64::from(d > 0.0), 1)
        }
    }
}

/// The targets, evaluated on the summary.
pub fn targets(s: &Value) -> Vec<Target> {
    let mut t = Vec::new();
    let ratio = |w: &str, key: &str| get(s, w, "prela", key) / get(s, w, "otel", key);
    if s.get("w1").is_some() {
        let r = ratio("w1", "producer_ns_per_span");
        let (dropped, rounds, of) = worst_drops(s, "w1");
        t.push(Target {
            name: "W1 producer ns/span <= 0.25x, 0 dropped".into(),
            value: r,
            bound: 0.25,
            met: r <= 0.25 && dropped == 0.0,
            detail: joined(
                if dropped == 0.0 {
                    format!("0 dropped in {of} of {of} rounds")
                } else {
                    format!("dropped in {rounds} of {of} rounds, at most {dropped}")
                },
                round_ratios(s, "w1", "producer_ns_per_span", 0.25, false),
            ),
        });
    }
    if s.get("w3").is_some() {
        let r = ratio("w3", "producer_ns_per_span");
        let (dropped, _, _) = worst_drops(s, "w3");
        let share = dropped / get(s, "w3", "prela", "produced");
        t.push(Target {
            name: "W3 aggregate ns/span <= 0.3x, < 1% dropped".into(),
            value: r,
            bound: 0.3,
            met: r <= 0.3 && share < 0.01,
            detail: joined(
                format!("{:.2}% dropped in the worst round", share * 100.0),
                round_ratios(s, "w3", "producer_ns_per_span", 0.3, false),
            ),
        });
    }
    // Plain ratio targets: (workload, figure, name, bound, at least?).
    for (w, figure, name, bound, at_least) in [
        (
            "w2",
            "delivered_per_s",
            "W2 delivered spans/s >= 5x",
            5.0,
            true,
        ),
        (
            "w2-paced",
            "cpu_s_per_million",
            "W2 paced CPU per span <= 0.2x",
            0.2,
            false,
        ),
        (
            "w2-gzip",
            "delivered_per_s",
            "W2 gzip delivered spans/s >= 4x",
            4.0,
            true,
        ),
    ] {
        if s.get(w).is_some() {
            let r = ratio(w, figure);
            t.push(Target {
                name: name.into(),
                value: r,
                bound,
                met: if at_least { r >= bound } else { r <= bound },
                detail: joined(
                    if w == "w2-paced" {
                        paced_detail(s)
                    } else {
                        String::new()
                    },
                    round_ratios(s, w, figure, bound, at_least),
                ),
            });
        }
    }
    if s.get("w4").is_some() {
        let shutdown = get(s, "w4", "prela", "shutdown_s");
        let over = (get(s, "w4", "prela", "peak_rss") - get(s, "w4", "prela", "idle_rss"))
            / (1024.0 * 1024.0);
        let max_trace_ms = get(s, "w4", "prela", "max_trace_us") / 1000.0;
        let truthful = s
            .get("w4")
            .and_then(|w| w.get("prela"))
            .and_then(|p| p.get("truthful"))
            .and_then(Value::as_bool)
            == Some(true);
        t.push(Target {
            name: "W4 peak RSS <= idle + 10 MiB; shutdown by its 5 s deadline with the count; producer never waits".into(),
            value: over,
            bound: 10.0,
            // A 100-span trace taking 50 ms would mean the producer waited
            // on the network (connect and retry delays are 100 ms or more).
            met: over <= 10.0 && shutdown <= 5.1 && truthful && max_trace_ms < 50.0,
            detail: format!(
                "{over:.1} MiB over idle; shutdown {shutdown:.2} s, truthful {truthful}; slowest trace {max_trace_ms:.1} ms"
            ),
        });
    }
    if s.get("reserve").is_some() {
        let vm = get(s, "reserve", "prela", "vm_delta");
        let rss = get(s, "reserve", "prela", "rss_delta");
        // Memory taken, i.e. resident; address space the allocator maps
        // for the worker thread's arena (64 MiB with glibc, committed only
        // as used) is shown beside it, not counted.
        let reserved = rss / 1e6;
        t.push(Target {
            name: "empty queue of 65,536 reserves < 2 MB (resident)".into(),
            value: reserved,
            bound: 2.0,
            met: reserved < 2.0,
            detail: format!(
                "resident {:.2} MB, address space {:.2} MB (opentelemetry: resident {:.2} MB, address space {:.2} MB)",
                rss / 1e6,
                vm / 1e6,
                get(s, "reserve", "otel", "rss_delta") / 1e6,
                get(s, "reserve", "otel", "vm_delta") / 1e6
            ),
        });
    }
    if s.get("max-rate").is_some() {
        let r = ratio("max-rate", "max_zero_drop_per_s");
        t.push(Target {
            name: "highest paced rate with 0 dropped >= 1.5x".into(),
            value: r,
            bound: 1.5,
            met: r >= 1.5,
            detail: joined(
                format!(
                    "Prela {} spans/s, opentelemetry {}",
                    fmt_rate(get(s, "max-rate", "prela", "max_zero_drop_per_s")),
                    fmt_rate(get(s, "max-rate", "otel", "max_zero_drop_per_s"))
                ),
                round_ratios(s, "max-rate", "max_zero_drop_per_s", 1.5, true),
            ),
        });
    }
    t
}

/// The paced target's CPU per span for each SDK, how much of it producing
/// alone costs at the same pace (`w1-paced`), how much the pacing loop
/// with no SDK costs (`pacing`), and how much that loop with the requests
/// shipped over a plain socket costs (`sending`: a floor under any SDK's
/// paced CPU), when they ran.
fn paced_detail(s: &Value) -> String {
    let us = |w: &str, sdk: &str| get(s, w, sdk, "cpu_s_per_million");
    let mut d = format!(
        "CPU per span: Prela {:.2} us, opentelemetry {:.2} us",
        us("w2-paced", "prela"),
        us("w2-paced", "otel")
    );
    if s.get("w1-paced").is_some() {
        d.push_str(&format!(
            "; producing alone at that pace (w1-paced): Prela {:.2} us, opentelemetry {:.2} us",
            us("w1-paced", "prela"),
            us("w1-paced", "otel")
        ));
    }
    if s.get("pacing").is_some() {
        let (ours, theirs) = (us("pacing", "prela"), us("pacing", "otel"));
        d.push_str(&format!(
            "; the pacing loop alone, no SDK (pacing): {ours:.2} us in Prela's binary, {theirs:.2} us in opentelemetry's, in both figures above; net of it, {:.3}x",
            (us("w2-paced", "prela") - ours) / (us("w2-paced", "otel") - theirs)
        ));
    }
    if s.get("sending").is_some() {
        // The same code and requests in both binaries: one floor, the mean
        // of their medians.
        let floor = (us("sending", "prela") + us("sending", "otel")) / 2.0;
        let bound = 0.2 * us("w2-paced", "otel");
        d.push_str(&format!(
            "; the pacing loop with the requests shipped over a plain socket, no SDK (sending): {floor:.2} us, {:.3}x on its own, leaving {:.2} us under the bound for an SDK's spans, encoding and HTTP",
            floor / us("w2-paced", "otel"),
            bound - floor
        ));
        if s.get("w1-paced").is_some() && s.get("pacing").is_some() {
            d.push_str(&format!(
                " (Prela's producing alone at the pace, net of the pacing loop: {:.2} us)",
                us("w1-paced", "prela") - us("pacing", "prela")
            ));
        }
    }
    d
}

/// The rows of the report: (key, label, unit scale, digits).
const FIGURES: [(&str, &str, f64, usize); 10] = [
    ("producer_ns_per_span", "producer ns/span", 1.0, 0),
    ("delivered", "spans delivered", 1.0, 0),
    ("dropped", "spans dropped", 1.0, 0),
    ("delivered_per_s", "delivered spans/s", 1.0, 0),
    ("cpu_s_per_million", "CPU s per million spans", 1.0, 3),
    (
        "producer_cpu_s_per_million",
        "of which the producer threads",
        1.0,
        3,
    ),
    (
        "other_cpu_s_per_million",
        "of which the SDK's threads and shutdown",
        1.0,
        3,
    ),
    ("peak_rss", "peak RSS (MiB)", 1.0 / 1_048_576.0, 1),
    ("shutdown_s", "shutdown (s)", 1.0, 3),
    ("max_trace_us", "slowest trace (us)", 1.0, 0),
];

/// A `max-rate` result; the top of the range searched is a floor, not a
/// figure.
fn fmt_rate(v: f64) -> String {
    if v >= MAX_RATE_RANGE.1 as f64 {
        format!("at least {} (the top of the range)", fmt_num(v, 0))
    } else {
        fmt_num(v, 0)
    }
}

fn fmt_num(v: f64, digits: usize) -> String {
    if v.is_nan() {
        return "-".into();
    }
    if digits == 0 {
        let n = v.round() as i64;
        let s = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else {
        format!("{v:.digits$}")
    }
}

fn fmt_ratio(ours: f64, theirs: f64) -> String {
    if theirs == 0.0 && ours == 0.0 {
        "=".into()
    } else if theirs == 0.0 || ours.is_nan() || theirs.is_nan() {
        "-".into()
    } else {
        format!("{:.2}x", ours / theirs)
    }
}

/// One table row: `key` of each SDK in the workload's summary `ws`, times
/// `scale`, and their ratio.
fn row(ws: &Value, key: &str, label: &str, scale: f64, digits: usize) -> String {
    let of = |sdk: &str| ws.get(sdk).map_or(f64::NAN, |v| num(v, key)) * scale;
    let (a, b) = (of("prela"), of("otel"));
    format!(
        "| {label} | {} | {} | {} |\n",
        fmt_num(a, digits),
        fmt_num(b, digits),
        fmt_ratio(a, b)
    )
}

/// The markdown report: one table per workload, then the targets.
pub fn markdown(summary: &Value, targets: &[Target], options: &Options) -> String {
    let mut md = String::new();
    md.push_str(&format!(
        "Prela vs opentelemetry_sdk + opentelemetry-otlp 0.33: {} spans per run (traces of 100), {} round(s), medians. Ratio = Prela / opentelemetry.\n\n",
        fmt_num(options.spans as f64, 0),
        options.rounds
    ));
    for w in &options.workloads {
        let Some(ws) = summary.get(w) else { continue };
        md.push_str(&format!("### {}\n\n", describe(w, options)));
        md.push_str("| figure | Prela | opentelemetry | ratio |\n|---|---:|---:|---:|\n");
        if w == "pacing" || w == "sending" {
            md.push_str(&row(
                ws,
                "cpu_s_per_million",
                "CPU s per million spans",
                1.0,
                3,
            ));
            md.push('\n');
            continue;
        }
        if w == "max-rate" {
            md.push_str(&row(
                ws,
                "max_zero_drop_per_s",
                "highest paced spans/s with nothing dropped",
                1.0,
                0,
            ));
            md.push('\n');
            continue;
        }
        if w == "reserve" {
            for (key, label) in [
                ("rss_delta", "resident memory added (MB)"),
                ("vm_delta", "address space mapped (MB)"),
            ] {
                md.push_str(&row(ws, key, label, 1e-6, 2));
            }
            md.push('\n');
            continue;
        }
        for (key, label, scale, digits) in FIGURES {
            md.push_str(&row(ws, key, label, scale, digits));
        }
        let truth = |sdk: &str| {
            let v = ws.get(sdk);
            let t = v.and_then(|v| v.get("truthful")).and_then(Value::as_bool);
            match t {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            }
        };
        md.push_str(&format!(
            "| shutdown told the truth | {} | {} | |\n\n",
            truth("prela"),
            truth("otel")
        ));
    }
    md.push_str(
        "### Targets\n\n| target | reached | bound | met | detail |\n|---|---:|---:|---|---|\n",
    );
    for t in targets {
        md.push_str(&format!(
            "| {} | {:.3} | {} | {} | {} |\n",
            t.name,
            t.value,
            t.bound,
            if t.met { "yes" } else { "**no**" },
            t.detail
        ));
    }
    md
}

fn describe(w: &str, o: &Options) -> String {
    match w {
        "w1" => "W1: one producer, exporter that discards".into(),
        "w3" => "W3: four producers, exporter that discards".into(),
        "w2" => "W2: one producer, OTLP/HTTP protobuf to the loopback receiver".into(),
        "w2-gzip" => "W2 with gzip".into(),
        "w2-paced" => format!("W2 paced at {} spans/s", fmt_num(o.pace as f64, 0)),
        "w1-paced" => format!(
            "W1 paced at {} spans/s: producing alone, exporter that discards",
            fmt_num(o.pace as f64, 0)
        ),
        "pacing" => format!(
            "The pacing loop alone at {} spans/s: no SDK, one sleep per trace (the same code in both binaries)",
            fmt_num(o.pace as f64, 0)
        ),
        "sending" => format!(
            "The pacing loop and the requests alone at {} spans/s: no SDK, one fixed {SENDING_BATCH}-span OTLP/HTTP request per {SENDING_BATCH} spans over a plain socket (the same code in both binaries)",
            fmt_num(o.pace as f64, 0)
        ),
        "w4" => "W4: OTLP/HTTP to a closed loopback port".into(),
        "reserve" => "An empty processor with a 65,536-span queue".into(),
        "max-rate" => format!(
            "W2 paced, the highest rate with nothing dropped (searched between {} and {} spans/s)",
            fmt_num(MAX_RATE_RANGE.0 as f64, 0),
            fmt_num(MAX_RATE_RANGE.1 as f64, 0)
        ),
        other => other.into(),
    }
}

/// The chart: one bar per target ratio on a log scale around 1x, green
/// where Prela is ahead of opentelemetry, with the target marked.
pub fn chart(summary: &Value) -> Svg {
    // (label, ours / theirs, target ratio, lower is better)
    let mut rows: Vec<(String, f64, Option<f64>, bool)> = Vec::new();
    let ratio = |w: &str, key: &str| get(summary, w, "prela", key) / get(summary, w, "otel", key);
    let mut add = |label: &str, w: &str, key: &str, target: Option<f64>, lower: bool| {
        if summary.get(w).is_some() {
            rows.push((label.to_owned(), ratio(w, key), target, lower));
        }
    };
    add("W1 NS/SPAN", "w1", "producer_ns_per_span", Some(0.25), true);
    add("W3 NS/SPAN", "w3", "producer_ns_per_span", Some(0.3), true);
    add("W2 DELIVERED/S", "w2", "delivered_per_s", Some(5.0), false);
    add(
        "W2 GZIP DELIVERED/S",
        "w2-gzip",
        "delivered_per_s",
        Some(4.0),
        false,
    );
    add(
        "W2 PACED CPU/SPAN",
        "w2-paced",
        "cpu_s_per_million",
        Some(0.2),
        true,
    );
    add(
        "ZERO-DROP PACED RATE",
        "max-rate",
        "max_zero_drop_per_s",
        Some(1.5),
        false,
    );
    add("W2 PEAK RSS", "w2", "peak_rss", None, true);
    add("W4 NS/SPAN", "w4", "producer_ns_per_span", None, true);
    add("W4 PEAK RSS", "w4", "peak_rss", None, true);
    add("QUEUE 65536 RESIDENT", "reserve", "rss_delta", None, true);
    let (w, row_h, left, right_pad) = (960u32, 34i64, 250i64, 40i64);
    let h = 70 + row_h * rows.len() as i64 + 40;
    let mut c = Svg::new(w, h as u32, [255, 255, 255]);
    let ink = [30, 30, 30];
    c.text(
        16,
        14,
        "Prela / opentelemetry-rust (log scale; green = Prela ahead)",
        14,
        ink,
    );
    // Log2 axis from 1/64x to 64x.
    let span = f64::from(w) - left as f64 - right_pad as f64;
    let x_of = |r: f64| left as f64 + (r.log2().clamp(-6.0, 6.0) + 6.0) / 12.0 * span;
    let top = 50;
    let bottom = top + row_h * rows.len() as i64;
    for k in -6..=6i32 {
        let x = x_of(2f64.powi(k)) as i64;
        c.rect(x, top, 1, bottom - top, [225, 225, 225]);
        let label = if k >= 0 {
            format!("{}x", 1u64 << k)
        } else {
            format!("1/{}", 1u64 << (-k))
        };
        c.text(x - 8, bottom + 8, &label, 14, ink);
    }
    let one = x_of(1.0) as i64;
    c.rect(one - 1, top, 2, bottom - top, [90, 90, 90]);
    for (i, (label, r, target, lower)) in rows.iter().enumerate() {
        let y = top + row_h * i as i64;
        c.text(12, y + 10, label, 14, ink);
        if !r.is_finite() || *r <= 0.0 {
            c.text(
                one + 8,
                y + 10,
                if *r == 0.0 { "0 (none)" } else { "N/A" },
                14,
                ink,
            );
            continue;
        }
        let ahead = if *lower { *r < 1.0 } else { *r > 1.0 };
        let colour = if ahead { [46, 160, 67] } else { [207, 34, 46] };
        let x = x_of(*r) as i64;
        let (x0, x1) = if x < one { (x, one) } else { (one, x) };
        c.rect(x0, y + 6, (x1 - x0).max(2), row_h - 12, colour);
        if let Some(t) = target {
            let tx = x_of(*t) as i64;
            c.rect(tx - 1, y + 2, 3, row_h - 4, [20, 20, 160]);
        }
        let text = format!("{r:.2}x");
        let tx = (x1 + 6).min(i64::from(c.width()) - 60);
        c.text(tx, y + 10, &text, 14, ink);
    }
    c.text(
        16,
        h - 22,
        "Blue tick: target. Ratio = Prela / opentelemetry-rust",
        14,
        ink,
    );
    c
}

/// A saved `results.json`, parsed.
fn load(results: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(results).map_err(|e| format!("read {}: {e}", results.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", results.display()))
}

/// Draws the chart of a saved `results.json` again.
pub fn redraw(results: &Path, svg: &Path) -> Result<(), String> {
    let v = load(results)?;
    let summary = v
        .get("summary")
        .ok_or_else(|| format!("{} has no summary", results.display()))?;
    std::fs::write(svg, chart(summary).finish())
        .map_err(|e| format!("write {}: {e}", svg.display()))
}

fn run_one(
    bin: &Path,
    workload: &str,
    options: &Options,
    endpoint: Option<&str>,
) -> Result<Value, String> {
    let mut cmd = Command::new(bin);
    cmd.args([
        "--workload",
        workload,
        "--spans",
        &options.spans.to_string(),
    ]);
    cmd.args(["--pace", &options.pace.to_string()]);
    if let Some(e) = endpoint {
        cmd.args(["--endpoint", e]);
    }
    let out = cmd
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("run {}: {e}", bin.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "{} --workload {workload} failed ({}): {}{}",
            bin.display(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("{} --workload {workload} printed no result", bin.display()))?;
    serde_json::from_str(line).map_err(|e| format!("result {line:?}: {e}"))
}

/// The highest paced rate at which the SDK of `bin` delivers every span of
/// W2 (OTLP/HTTP protobuf to the receiver), keeping the pace: a search in
/// log scale over [`MAX_RATE_RANGE`]. Each step runs two seconds' worth of
/// spans, within 100,000 and the run's `--spans` (either way round). 0 when
/// even the lowest rate drops.
fn max_rate(
    bin: &Path,
    sdk: &str,
    options: &Options,
    live: &str,
    receiver: &Receiver,
) -> Result<Value, String> {
    let holds = |pace: u64| -> Result<(bool, Value), String> {
        let mut o = options.clone();
        o.pace = pace;
        let (a, b) = (options.spans.min(100_000), options.spans.max(100_000));
        o.spans = (pace * 2).clamp(a, b);
        receiver.call("POST", "/reset")?;
        let run = run_one(bin, "w2-paced", &o, Some(live))?;
        let stats = receiver.call("GET", "/stats")?;
        let d = derive("w2-paced", sdk, &run, Some(&stats))?;
        // Kept up: the producer took no longer than the pace allows (5%).
        let kept_up = num(&d, "producer_ns_per_span") <= 1.05e9 / pace as f64;
        let ok = num(&d, "dropped") == 0.0 && kept_up;
        Ok((
            ok,
            json!({"pace": pace, "ok": ok, "dropped": d["dropped"], "producer_ns_per_span": d["producer_ns_per_span"]}),
        ))
    };
    let (mut lo, mut hi) = MAX_RATE_RANGE;
    let mut steps = Vec::new();
    let (ok, step) = holds(lo)?;
    steps.push(step);
    if !ok {
        return Ok(json!({"max_zero_drop_per_s": 0, "steps": steps}));
    }
    let (ok, step) = holds(hi)?;
    steps.push(step);
    if ok {
        return Ok(json!({"max_zero_drop_per_s": hi, "steps": steps}));
    }
    for _ in 0..MAX_RATE_STEPS {
        let mid = ((lo as f64) * (hi as f64)).sqrt() as u64;
        let (ok, step) = holds(mid)?;
        steps.push(step);
        if ok {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(json!({"max_zero_drop_per_s": lo, "steps": steps}))
}

/// Builds, runs, checks and reports. `Err` when something does not add up
/// (or, with `enforce_targets`, when a target is missed).
pub fn run(root: &Path, options: &Options) -> Result<(), String> {
    let target_dir = root.join("target/bench");
    println!("==> building bench/ in release mode");
    let status = Command::new(crate::cargo())
        .args(["build", "--release", "--locked", "--manifest-path"])
        .arg(root.join("bench/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("cargo build: {e}"))?;
    if !status.success() {
        return Err("building bench/ failed".into());
    }
    let bins = target_dir.join("release");
    let receiver = Receiver::start(&bins.join("bench-receiver"))?;
    let live = format!("http://127.0.0.1:{}/v1/traces", receiver.port);
    let mut raw = Vec::new();
    for round in 0..options.rounds {
        for w in &options.workloads {
            let order: Vec<&str> = if round % 2 == 0 {
                SDKS.to_vec()
            } else {
                SDKS.iter().rev().copied().collect()
            };
            for sdk in order {
                let closed;
                let endpoint = match w.as_str() {
                    "w2" | "w2-gzip" | "w2-paced" | "sending" => Some(live.as_str()),
                    "w4" => {
                        // A port bound and released: nothing listens there (the
                        // kernel hands out ephemeral ports in sequence, so it is
                        // not reused at once).
                        closed = format!("http://127.0.0.1:{}/v1/traces", crate::free_port());
                        Some(closed.as_str())
                    }
                    _ => None,
                };
                let bin: PathBuf = bins.join(format!("bench-{sdk}"));
                if w == "max-rate" {
                    let result = max_rate(&bin, sdk, options, &live, &receiver)?;
                    let derived =
                        json!({"max_zero_drop_per_s": num(&result, "max_zero_drop_per_s")});
                    println!("round {} {w:<9} {sdk:<6} {}", round + 1, result);
                    raw.push(json!({"round": round + 1, "workload": w, "sdk": sdk, "run": result, "derived": derived}));
                    continue;
                }
                receiver.call("POST", "/reset")?;
                let result = run_one(&bin, w, options, endpoint)?;
                let stats = if endpoint.is_some() {
                    Some(receiver.call("GET", "/stats")?)
                } else {
                    None
                };
                let derived = derive(w, sdk, &result, stats.as_ref())?;
                println!("round {} {w:<9} {sdk:<6} {}", round + 1, brief(&derived));
                raw.push(json!({"round": round + 1, "workload": w, "sdk": sdk, "run": result, "receiver": stats, "derived": derived}));
            }
        }
    }
    drop(receiver);
    let targets = report(&target_dir, options, raw)?;
    let missed: Vec<&str> = targets
        .iter()
        .filter(|t| !t.met)
        .map(|t| t.name.as_str())
        .collect();
    if options.enforce_targets && !missed.is_empty() {
        return Err(format!("targets missed: {}", missed.join("; ")));
    }
    Ok(())
}

/// Summarises `raw` (every run, in the order they ran), evaluates the
/// targets, prints the markdown and writes `results.json`, `results.md`
/// and `ratios.svg` into `dir`.
fn report(dir: &Path, options: &Options, raw: Vec<Value>) -> Result<Vec<Target>, String> {
    // Each workload and SDK's runs, in round order.
    let mut runs: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for r in &raw {
        let field = |key: &str| r.get(key).and_then(Value::as_str).unwrap_or_default();
        runs.entry((field("workload").to_owned(), field("sdk").to_owned()))
            .or_default()
            .push(r.get("derived").cloned().unwrap_or(Value::Null));
    }
    let mut summary = serde_json::Map::new();
    for ((w, sdk), list) in &runs {
        let entry = summary
            .entry(w.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(o) = entry.as_object_mut() {
            o.insert(sdk.clone(), summarise(list));
        }
    }
    let summary = Value::Object(summary);
    let targets = targets(&summary);
    let md = markdown(&summary, &targets, options);
    println!("\n{md}");
    let results = json!({
        "spans": options.spans,
        "rounds": options.rounds,
        "pace": options.pace,
        "summary": summary,
        "targets": targets.iter().map(|t| json!({"name": t.name, "value": t.value, "bound": t.bound, "met": t.met, "detail": t.detail})).collect::<Vec<_>>(),
        "runs": raw,
    });
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| format!("write {}: {e}", path.display()))
    };
    write(
        "results.json",
        serde_json::to_string_pretty(&results)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )?;
    write("results.md", md.as_bytes())?;
    write("ratios.svg", chart(&summary).finish().as_bytes())?;
    println!(
        "wrote results.json, results.md and ratios.svg in {}",
        dir.display()
    );
    Ok(targets)
}

/// Reports a saved run again from its `results.json` (every run's derived
/// figures are in it), as the current code summarises and judges them:
/// rewrites `results.json`, `results.md` and `ratios.svg` beside it.
pub fn rereport(results: &Path) -> Result<(), String> {
    let saved = load(results)?;
    let raw = saved
        .get("runs")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| format!("{}: no runs", results.display()))?;
    let mut workloads: Vec<String> = Vec::new();
    for r in &raw {
        if let Some(w) = r.get("workload").and_then(Value::as_str) {
            if !workloads.iter().any(|x| x == w) {
                workloads.push(w.to_owned());
            }
        }
    }
    let whole = |key: &str| saved.get(key).and_then(Value::as_u64);
    let d = Options::default();
    let options = Options {
        rounds: whole("rounds").map_or(d.rounds, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        spans: whole("spans").unwrap_or(d.spans),
        pace: whole("pace").unwrap_or(d.pace),
        workloads,
        enforce_targets: false,
    };
    let dir = results.parent().unwrap_or_else(|| Path::new("."));
    report(dir, &options, raw).map(|_| ())
}

fn brief(d: &Value) -> String {
    if d.get("vm_delta").is_some() {
        return format!(
            "resident {:.2} MB, address space {:.2} MB",
            num(d, "rss_delta") / 1e6,
            num(d, "vm_delta") / 1e6
        );
    }
    if d.get("delivered").is_none() {
        return format!("cpu {:.2} s/M, no SDK", num(d, "cpu_s_per_million"));
    }
    format!(
        "{:>6.0} ns/span  delivered {:>8}  dropped {:>8}  {:>9.0}/s  cpu {:.2} s/M  rss {:.1} MiB  shutdown {:.3} s  truthful {}",
        num(d, "producer_ns_per_span"),
        d.get("delivered").and_then(Value::as_u64).unwrap_or(0),
        d.get("dropped").and_then(Value::as_u64).unwrap_or(0),
        num(d, "delivered_per_s"),
        num(d, "cpu_s_per_million"),
        num(d, "peak_rss") / 1_048_576.0,
        num(d, "shutdown_s"),
        d.get("truthful").and_then(Value::as_bool).unwrap_or(false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_json(
        produced: u64,
        discarded: u64,
        ok: bool,
        stated: Option<u64>,
        own: Option<u64>,
    ) -> Value {
        json!({
            "produced": produced, "discarded": discarded, "shutdown_ok": ok,
            "stated_lost": stated, "self_reported_dropped": own,
            "producer_ns_per_span": 100.0, "total_s": 2.0, "cpu_s": 1.0, "producer_cpu_s": 0.75,
            "peak_rss": 5e6, "idle_rss": 2e6, "shutdown_s": 0.01, "max_trace_us": 30,
        })
    }

    #[test]
    fn honest_runs_add_up() {
        let d = derive(
            "w1",
            "prela",
            &run_json(1000, 1000, true, None, Some(0)),
            None,
        )
        .unwrap();
        assert_eq!(d["dropped"], 0);
        assert_eq!(d["truthful"], true);
        assert_eq!(num(&d, "delivered_per_s"), 500.0);
        assert_eq!(num(&d, "cpu_s_per_million"), 1000.0);
        assert_eq!(num(&d, "producer_cpu_s_per_million"), 750.0);
        assert_eq!(num(&d, "other_cpu_s_per_million"), 250.0);
        let d = derive(
            "w1",
            "prela",
            &run_json(1000, 900, false, Some(100), Some(100)),
            None,
        )
        .unwrap();
        assert_eq!(d["dropped"], 100);
    }

    #[test]
    fn numbers_that_do_not_add_up_fail() {
        // The SDK's counters disagree with what arrived.
        let e = derive(
            "w1",
            "prela",
            &run_json(1000, 900, false, Some(100), Some(50)),
            None,
        )
        .unwrap_err();
        assert!(e.contains("lost 50"), "{e}");
        // More arrived than was made.
        assert!(derive("w1", "otel", &run_json(1000, 1001, true, None, None), None).is_err());
        // Our shutdown claims success while spans were lost.
        assert!(
            derive(
                "w1",
                "prela",
                &run_json(1000, 900, true, None, Some(100)),
                None
            )
            .is_err()
        );
        // The receiver saw duplicates or malformed requests.
        let r = json!({"spans": 10, "requests": 1, "bad": 0, "duplicates": 1});
        assert!(derive("w2", "otel", &run_json(1000, 0, true, None, None), Some(&r)).is_err());
        // Anything reached the receiver during the outage.
        let r = json!({"spans": 0, "requests": 1, "bad": 0, "duplicates": 0});
        assert!(
            derive(
                "w4",
                "prela",
                &run_json(1000, 0, false, Some(1000), Some(1000)),
                Some(&r)
            )
            .is_err()
        );
    }

    #[test]
    fn their_untruthful_shutdown_is_reported_not_fatal() {
        let d = derive("w1", "otel", &run_json(1000, 900, true, None, None), None).unwrap();
        assert_eq!(d["truthful"], false);
        assert_eq!(d["dropped"], 100);
    }

    #[test]
    fn medians_and_targets() {
        let runs = vec![
            json!({"a": 1.0, "truthful": true}),
            json!({"a": 5.0, "truthful": false}),
            json!({"a": 3.0, "truthful": true}),
        ];
        let s = summarise(&runs);
        assert_eq!(s["a"], 3.0);
        assert_eq!(s["truthful"], false);
        // One round of three dropped: the median is 0, the target is not met.
        let w1 = |dropped: f64| json!({"producer_ns_per_span": 100.0, "dropped": dropped, "produced": 1000.0});
        let prela = summarise(&[w1(0.0), w1(25.0), w1(0.0)]);
        assert_eq!(prela["dropped"], 0.0);
        assert_eq!(
            (
                prela["dropped_max"].as_f64(),
                prela["dropped_rounds"].as_u64()
            ),
            (Some(25.0), Some(1))
        );
        let t = targets(&json!({"w1": {"prela": prela, "otel": {"producer_ns_per_span": 500.0}}}));
        assert!(!t[0].met, "{t:?}");
        assert_eq!(t[0].detail, "dropped in 1 of 3 rounds, at most 25");
        let summary = json!({
            "w1": {"prela": {"producer_ns_per_span": 100.0, "dropped": 0.0}, "otel": {"producer_ns_per_span": 500.0}},
            "w2": {"prela": {"delivered_per_s": 400.0}, "otel": {"delivered_per_s": 100.0}},
        });
        let t = targets(&summary);
        assert_eq!(t.len(), 2);
        assert!(t[0].met, "{t:?}");
        assert!((t[0].value - 0.2).abs() < 1e-9);
        assert!(!t[1].met, "4x is short of 5x");
        let svg = chart(&summary).finish();
        assert!(svg.contains(">W1 NS/SPAN</text>"), "{svg}");
    }

    #[test]
    fn the_zero_drop_rate_is_a_target_and_its_top_is_a_floor() {
        let summary = json!({
            "max-rate": {
                "prela": {"max_zero_drop_per_s": 2_000_000.0, "max_zero_drop_per_s_by_round": [2_000_000.0]},
                "otel": {"max_zero_drop_per_s": 500_000.0, "max_zero_drop_per_s_by_round": [500_000.0]},
            },
        });
        let t = targets(&summary);
        assert_eq!(t.len(), 1);
        assert!(t[0].met && (t[0].value - 4.0).abs() < 1e-9, "{t:?}");
        assert!(
            t[0].detail.starts_with(
                "Prela at least 2,000,000 (the top of the range) spans/s, opentelemetry 500,000"
            ),
            "{}",
            t[0].detail
        );
        let svg = chart(&summary).finish();
        assert!(svg.contains(">ZERO-DROP PACED RATE</text>"), "{svg}");
    }

    #[test]
    fn ratio_targets_tell_each_round_beside_the_medians() {
        let w3 = |ns: f64| json!({"producer_ns_per_span": ns, "dropped": 0.0, "produced": 1000.0});
        // Met on the medians (102 / 359), in one round of three.
        let prela = summarise(&[w3(97.0), w3(130.0), w3(102.0)]);
        let otel = summarise(&[w3(364.0), w3(359.0), w3(292.0)]);
        assert_eq!(
            prela["producer_ns_per_span_by_round"],
            json!([97.0, 130.0, 102.0])
        );
        let t = targets(&json!({"w3": {"prela": prela, "otel": otel}}));
        assert!(t[0].met, "{t:?}");
        assert_eq!(
            t[0].detail,
            "0.00% dropped in the worst round; round by round 0.266x, 0.362x, 0.349x: 1 of 3 within the bound"
        );
        // An at-least target counts rounds at or over its bound.
        let w2 = |n: f64| json!({"delivered_per_s": n});
        let t = targets(&json!({"w2": {
            "prela": summarise(&[w2(600.0), w2(400.0)]),
            "otel": summarise(&[w2(100.0), w2(100.0)]),
        }}));
        assert_eq!(
            t[0].detail,
            "round by round 6.000x, 4.000x: 1 of 2 within the bound"
        );
        // Without per-round figures (an older summary), the detail is as
        // before.
        let t = targets(&json!({"w2": {"prela": w2(600.0), "otel": w2(100.0)}}));
        assert_eq!(t[0].detail, "");
    }

    #[test]
    fn a_saved_run_is_reported_again_from_its_runs() {
        let dir = std::env::temp_dir().join(format!("prela-bench-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |round: u32, sdk: &str, ns: f64| {
            json!({"round": round, "workload": "w1", "sdk": sdk,
                   "derived": {"producer_ns_per_span": ns, "dropped": 0.0, "produced": 1000.0}})
        };
        let saved = json!({"spans": 4000, "rounds": 2, "pace": 50000, "runs": [
            run(1, "prela", 100.0), run(1, "otel", 500.0),
            run(2, "otel", 400.0), run(2, "prela", 120.0),
        ]});
        let path = dir.join("results.json");
        std::fs::write(&path, saved.to_string()).unwrap();
        rereport(&path).unwrap();
        let md = std::fs::read_to_string(dir.join("results.md")).unwrap();
        assert!(md.contains("4,000 spans per run"), "{md}");
        assert!(md.contains("2 round(s)"), "{md}");
        assert!(
            md.contains("| producer ns/span | 110 | 450 | 0.24x |"),
            "{md}"
        );
        assert!(
            md.contains("round by round 0.200x, 0.300x: 1 of 2 within the bound"),
            "{md}"
        );
        let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(again["runs"].as_array().map(Vec::len), Some(4));
        assert_eq!(again["targets"][0]["met"], true);
        assert!(dir.join("ratios.svg").exists());
        let missing = dir.join("absent.json");
        assert!(rereport(&missing).unwrap_err().contains("absent.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_paced_target_tells_what_producing_alone_costs() {
        let cpu = |us: f64| json!({"cpu_s_per_million": us});
        let mut s = json!({"w2-paced": {"prela": cpu(1.0), "otel": cpu(4.0)}});
        let t = targets(&s);
        assert!(!t[0].met, "0.25x is over 0.2x");
        assert_eq!(
            t[0].detail,
            "CPU per span: Prela 1.00 us, opentelemetry 4.00 us"
        );
        s["w1-paced"] = json!({"prela": cpu(0.4), "otel": cpu(0.8)});
        let t = targets(&s);
        assert!(t[0].detail.ends_with(
            "producing alone at that pace (w1-paced): Prela 0.40 us, opentelemetry 0.80 us"
        ));
        let o = Options::parse(&["--only", "w1-paced"]).unwrap();
        assert!(describe("w1-paced", &o).contains("50,000 spans/s"));
        // The pacing loop's own cost is told apart; the target stays on
        // the whole figures, which include it.
        s["pacing"] = json!({"prela": cpu(0.3), "otel": cpu(0.2)});
        let t = targets(&s);
        assert!(!t[0].met);
        assert!(
            t[0].detail.ends_with(
                "; the pacing loop alone, no SDK (pacing): 0.30 us in Prela's binary, 0.20 us in opentelemetry's, in both figures above; net of it, 0.184x"
            ),
            "{}",
            t[0].detail
        );
    }

    #[test]
    fn the_pacing_loop_alone_is_its_cpu_and_nothing_else() {
        let run = json!({"produced": 200_000, "cpu_s": 0.07, "producer_cpu_s": 0.06, "discarded": 0, "shutdown_ok": true});
        let d = derive("pacing", "prela", &run, None).unwrap();
        assert_eq!(num(&d, "cpu_s_per_million"), 0.35);
        assert_eq!(num(&d, "producer_cpu_s_per_million"), 0.3);
        assert!(d.get("delivered").is_none() && d.get("truthful").is_none());
        assert_eq!(brief(&d), "cpu 0.35 s/M, no SDK");
        assert!(
            derive("pacing", "prela", &json!({"produced": 0}), None)
                .unwrap_err()
                .contains("no spans produced")
        );
        let o = Options::parse(&["--only", "pacing"]).unwrap();
        let summary = json!({"pacing": {"prela": {"cpu_s_per_million": 0.35}, "otel": {"cpu_s_per_million": 0.3}}});
        let md = markdown(&summary, &[], &o);
        assert!(
            md.contains("### The pacing loop alone at 50,000 spans/s"),
            "{md}"
        );
        assert!(
            md.contains("| CPU s per million spans | 0.350 | 0.300 | 1.17x |"),
            "{md}"
        );
        assert!(!md.contains("spans delivered"), "{md}");
    }

    #[test]
    fn the_requests_alone_are_checked_against_the_receiver() {
        let run = json!({"produced": 200_000, "cpu_s": 0.11, "producer_cpu_s": 0.06, "shutdown_ok": true});
        // 390 full requests of 512 spans; the last 320 spans make none.
        let receiver = json!({"requests": 390, "spans": 199_680, "bytes": 59_181_720, "bad": 0, "duplicates": 199_168});
        let d = derive("sending", "prela", &run, Some(&receiver)).unwrap();
        assert!((num(&d, "cpu_s_per_million") - 0.55).abs() < 1e-9, "{d}");
        assert_eq!(num(&d, "bytes_per_span"), 59_181_720.0 / 199_680.0);
        assert!(d.get("delivered").is_none());
        let mut short = receiver.clone();
        short["requests"] = json!(389);
        short["spans"] = json!(389 * 512);
        let e = derive("sending", "prela", &run, Some(&short)).unwrap_err();
        assert!(
            e.contains("390 requests of 512 spans were due for 200000 spans; the receiver counted 389 requests"),
            "{e}"
        );
        let mut bad = receiver.clone();
        bad["bad"] = json!(1);
        assert!(derive("sending", "otel", &run, Some(&bad)).is_err());
        assert!(derive("sending", "otel", &run, None).is_err());
        let failed = json!({"produced": 200_000, "cpu_s": 0.11, "producer_cpu_s": 0.06, "shutdown_ok": false, "shutdown_message": "the receiver closed the connection"});
        let e = derive("sending", "prela", &failed, Some(&receiver)).unwrap_err();
        assert!(e.contains("the receiver closed the connection"), "{e}");
        let o = Options::parse(&["--only", "sending"]).unwrap();
        let summary = json!({"sending": {"prela": {"cpu_s_per_million": 0.6}, "otel": {"cpu_s_per_million": 0.5}}});
        let md = markdown(&summary, &[], &o);
        assert!(
            md.contains("one fixed 512-span OTLP/HTTP request per 512 spans"),
            "{md}"
        );
        assert!(
            md.contains("| CPU s per million spans | 0.600 | 0.500 | 1.20x |"),
            "{md}"
        );
    }

    #[test]
    fn the_paced_target_tells_its_floor() {
        let cpu = |us: f64| json!({"cpu_s_per_million": us});
        let mut s = json!({
            "w2-paced": {"prela": cpu(1.2), "otel": cpu(4.0)},
            "sending": {"prela": cpu(0.6), "otel": cpu(0.5)},
        });
        let t = targets(&s);
        assert!(
            t[0].detail.ends_with(
                "; the pacing loop with the requests shipped over a plain socket, no SDK (sending): 0.55 us, 0.138x on its own, leaving 0.25 us under the bound for an SDK's spans, encoding and HTTP"
            ),
            "{}",
            t[0].detail
        );
        s["w1-paced"] = json!({"prela": cpu(0.7), "otel": cpu(1.0)});
        s["pacing"] = json!({"prela": cpu(0.3), "otel": cpu(0.3)});
        let t = targets(&s);
        assert!(
            t[0].detail.contains(
                "for an SDK's spans, encoding and HTTP (Prela's producing alone at the pace, net of the pacing loop: 0.40 us)"
            ),
            "{}",
            t[0].detail
        );
    }

    #[test]
    fn options_parse_and_reject() {
        let o = Options::parse(&["--rounds", "2", "--only", "w1,w4", "--spans", "4000"]).unwrap();
        assert_eq!((o.rounds, o.spans), (2, 4000));
        assert_eq!(o.workloads, ["w1", "w4"]);
        assert!(
            Options::parse(&["--spans", "1001"])
                .unwrap_err()
                .contains("1001")
        );
        assert!(
            Options::parse(&["--only", "w9"])
                .unwrap_err()
                .contains("w9")
        );
        assert!(Options::parse(&["--rounds"]).is_err());
    }

    #[test]
    fn numbers_print_readably() {
        assert_eq!(fmt_num(1234567.4, 0), "1,234,567");
        assert_eq!(fmt_num(0.1234, 3), "0.123");
        assert_eq!(fmt_ratio(1.0, 4.0), "0.25x");
        assert_eq!(fmt_ratio(0.0, 0.0), "=");
    }
}
