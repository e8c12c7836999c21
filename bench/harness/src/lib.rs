//! The workload both SDK binaries run, and what they measure.
//!
//! Each binary supplies an [`Sdk`]: how to make one trace, and how to shut
//! down. This crate runs the producers, paces them when asked, reads the
//! process's CPU time and memory from `/proc/self`, and prints one JSON line
//! of results for `cargo xtask bench` to collect.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark binary's library

use std::fmt::Write as _;
use std::time::{Duration, Instant};

pub mod sending;

/// Spans per trace: a root `agent.run` and 99 `llm.call` children.
pub const SPANS_PER_TRACE: u64 = 100;

/// The four model names `gen_ai.request.model` cycles through.
pub const MODELS: [&str; 4] = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "llama-3.1-70b"];

/// The five tool names `tool.name` cycles through.
pub const TOOLS: [&str; 5] = [
    "web_search",
    "calculator",
    "code_interpreter",
    "vector_lookup",
    "send_email",
];

/// The attributes of child `k` (counting every child made by this producer).
#[derive(Debug, Clone, Copy)]
pub struct Child {
    /// `gen_ai.request.model`.
    pub model: &'static str,
    /// `gen_ai.request.temperature`.
    pub temperature: f64,
    /// `llm.stream`.
    pub stream: bool,
    /// `tool.name`.
    pub tool: &'static str,
    /// `gen_ai.usage.input_tokens`.
    pub input_tokens: i64,
    /// `gen_ai.usage.output_tokens`.
    pub output_tokens: i64,
}

/// Every child's values repeat after this many children (the least common
/// multiple of the cycles in [`Child::nth`]).
pub const CHILD_PERIOD: u64 = 900;

/// The 99 children of the trace whose first child is number `first`, from
/// a table made once, so that working out the values costs the producer
/// (of either SDK) no divisions.
pub fn children(first: u64) -> impl Iterator<Item = &'static Child> {
    static TABLE: std::sync::OnceLock<Vec<Child>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| (0..CHILD_PERIOD).map(Child::nth).collect());
    let start = (first % CHILD_PERIOD) as usize;
    table[start..]
        .iter()
        .chain(table.iter())
        .take((SPANS_PER_TRACE - 1) as usize)
}

impl Child {
    /// The values for child number `k`.
    pub fn nth(k: u64) -> Child {
        Child {
            model: MODELS[(k % 4) as usize],
            temperature: 0.1 * (k % 10) as f64,
            stream: k.is_multiple_of(2),
            tool: TOOLS[(k % 5) as usize],
            input_tokens: 100 + (k % 900) as i64,
            output_tokens: 20 + (k % 300) as i64,
        }
    }
}

/// One of the benchmark's workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// One producer, an exporter that discards.
    W1,
    /// One producer, OTLP/HTTP protobuf to the loopback receiver.
    W2,
    /// W2 with gzip.
    W2Gzip,
    /// W2 paced at a fixed rate (spans per second).
    W2Paced,
    /// W1 paced at W2's rate: what producing alone costs when paced, the
    /// share of the paced CPU that is no exporter's.
    W1Paced,
    /// The paced loop with no SDK at all: what pacing itself costs (a
    /// sleep per trace), which is part of both SDKs' paced figures.
    Pacing,
    /// The paced loop with no SDK, and a thread that sends one fixed OTLP
    /// request per batch's worth of spans over a plain TCP connection: what
    /// shipping the spans alone costs at the pace (see [`sending`]).
    Sending,
    /// Four producers, an exporter that discards.
    W3,
    /// OTLP/HTTP to a closed loopback port.
    W4,
    /// No spans: what an empty processor with a 65,536-span queue reserves.
    Reserve,
}

impl Workload {
    /// Parses `w1`, `w1-paced`, `w2`, `w2-gzip`, `w2-paced`, `pacing`,
    /// `sending`, `w3`, `w4`, `reserve`.
    pub fn parse(s: &str) -> Option<Workload> {
        Some(match s {
            "w1" => Workload::W1,
            "w1-paced" => Workload::W1Paced,
            "w2" => Workload::W2,
            "w2-gzip" => Workload::W2Gzip,
            "w2-paced" => Workload::W2Paced,
            "pacing" => Workload::Pacing,
            "sending" => Workload::Sending,
            "w3" => Workload::W3,
            "w4" => Workload::W4,
            "reserve" => Workload::Reserve,
            _ => return None,
        })
    }

    /// Whether spans go to an OTLP endpoint (else to a discarding exporter).
    pub fn is_otlp(self) -> bool {
        matches!(
            self,
            Workload::W2 | Workload::W2Gzip | Workload::W2Paced | Workload::W4 | Workload::Sending
        )
    }

    /// Whether the OTLP requests are gzip-compressed.
    pub fn gzip(self) -> bool {
        self == Workload::W2Gzip
    }
}

/// What the binary was asked to do.
#[derive(Debug, Clone)]
pub struct Config {
    /// The workload.
    pub workload: Workload,
    /// The OTLP/HTTP traces URL, for OTLP workloads.
    pub endpoint: String,
    /// Spans in all (a multiple of 100).
    pub spans: u64,
    /// Producer threads.
    pub producers: u64,
    /// Spans per second, when paced.
    pub pace: Option<u64>,
    /// Queue size for the `reserve` workload.
    pub queue: usize,
    /// How long shutdown may take, as an application would give it at exit.
    pub shutdown_timeout: Duration,
}

impl Config {
    /// Reads `--workload W [--endpoint URL] [--spans N] [--pace N]`.
    pub fn from_args() -> Result<Config, String> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut workload = None;
        let mut endpoint = String::new();
        let mut spans = 1_000_000u64;
        let mut pace = 50_000u64;
        let mut i = 0;
        while i < args.len() {
            let value = args
                .get(i + 1)
                .ok_or_else(|| format!("{} needs a value", args[i]))?;
            match args[i].as_str() {
                "--workload" => {
                    workload = Some(
                        Workload::parse(value)
                            .ok_or_else(|| format!("unknown workload {value:?}"))?,
                    );
                }
                "--endpoint" => endpoint = value.clone(),
                "--spans" => {
                    spans = value
                        .parse()
                        .ok()
                        .filter(|n| n % (SPANS_PER_TRACE * 4) == 0 && *n > 0)
                        .ok_or_else(|| {
                            format!("--spans must be a positive multiple of 400, not {value:?}")
                        })?;
                }
                "--pace" => {
                    pace =
                        value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            format!("--pace must be spans per second, not {value:?}")
                        })?;
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
            i += 2;
        }
        let workload = workload.ok_or("--workload is required")?;
        if workload.is_otlp() && endpoint.is_empty() {
            return Err(format!("workload {workload:?} needs --endpoint"));
        }
        Ok(Config {
            workload,
            endpoint,
            spans,
            producers: if workload == Workload::W3 { 4 } else { 1 },
            pace: matches!(
                workload,
                Workload::W2Paced | Workload::W1Paced | Workload::Pacing | Workload::Sending
            )
            .then_some(pace),
            queue: 65_536,
            shutdown_timeout: Duration::from_secs(5),
        })
    }
}

/// What shutdown said.
#[derive(Debug, Clone, Default)]
pub struct ShutdownReport {
    /// `true` if shutdown returned success.
    pub ok: bool,
    /// The number of spans the error says were not exported, if it says.
    pub stated_lost: Option<u64>,
    /// The error's text (empty on success).
    pub message: String,
}

/// One SDK set up for a workload.
pub trait Sdk: Sync {
    /// Makes trace number `trace` (children numbered from `first_child`),
    /// on the calling thread.
    fn trace(&self, first_child: u64);
    /// Spans the discarding exporter received so far (discard workloads).
    fn discarded(&self) -> u64;
    /// Shuts the SDK down as an application does at exit.
    fn shutdown(&self, timeout: Duration) -> ShutdownReport;
    /// What the SDK itself says it dropped, if it says (its own counters).
    fn self_reported_dropped(&self) -> Option<u64>;
}

/// A line of `/proc/self/status`, in bytes (`VmRSS`, `VmHWM`, `VmSize`).
pub fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(str::to_owned))
        })
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// User + system CPU time of the whole process (threads that have exited
/// included), from `/proc/self/stat`, in seconds. Linux reports it in
/// USER_HZ ticks, which are 1/100 s on every architecture Rust targets.
pub fn cpu_seconds() -> f64 {
    stat_cpu_seconds("/proc/self/stat")
}

/// [`cpu_seconds`] of the calling thread alone (`/proc/thread-self/stat`).
pub fn thread_cpu_seconds() -> f64 {
    stat_cpu_seconds("/proc/thread-self/stat")
}

/// utime + stime of a `stat` file of `/proc`, in seconds.
fn stat_cpu_seconds(path: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) in parens.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (tick(11) + tick(12)) as f64 / 100.0
}

/// No SDK: a trace is nothing (for [`Workload::Pacing`]).
struct Nothing;

impl Sdk for Nothing {
    fn trace(&self, first_child: u64) {
        std::hint::black_box(first_child);
    }

    fn discarded(&self) -> u64 {
        0
    }

    fn shutdown(&self, _timeout: Duration) -> ShutdownReport {
        ShutdownReport {
            ok: true,
            ..ShutdownReport::default()
        }
    }

    fn self_reported_dropped(&self) -> Option<u64> {
        None
    }
}

/// Runs `sdk` (made by `setup`, after the idle process was measured) on the
/// workload and prints one JSON line of results. [`Workload::Pacing`]
/// and [`Workload::Sending`] make no SDK: the paced loop alone, and with
/// the requests shipped over a plain socket.
pub fn run<S: Sdk>(config: &Config, setup: impl FnOnce(&Config) -> Result<S, String>) {
    if config.workload == Workload::Pacing {
        measure(config, &Nothing, status_bytes("VmRSS"));
        return;
    }
    if config.workload == Workload::Sending {
        let idle_rss = status_bytes("VmRSS");
        match sending::Sending::new(config) {
            Ok(s) => measure(config, &s, idle_rss),
            Err(e) => {
                eprintln!("setup failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let idle_rss = status_bytes("VmRSS");
    let idle_vm = status_bytes("VmSize");
    let sdk = match setup(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("setup failed: {e}");
            std::process::exit(1);
        }
    };
    if config.workload == Workload::Reserve {
        // Let the SDK's threads start and settle before measuring.
        std::thread::sleep(Duration::from_millis(200));
        let out = format!(
            "{{\"workload\":\"reserve\",\"queue\":{},\"idle_rss\":{idle_rss},\"rss_delta\":{},\"vm_delta\":{}}}",
            config.queue,
            status_bytes("VmRSS").saturating_sub(idle_rss),
            status_bytes("VmSize").saturating_sub(idle_vm),
        );
        println!("{out}");
        drop(sdk);
        return;
    }
    measure(config, &sdk, idle_rss);
    drop(sdk);
}

/// The producers on `sdk`, then its shutdown; prints the JSON line.
fn measure<S: Sdk>(config: &Config, sdk: &S, idle_rss: u64) {
    let traces = config.spans / SPANS_PER_TRACE;
    let per_producer = traces / config.producers;
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let (production, max_trace, producer_cpu) = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..config.producers)
            .map(|p| {
                scope.spawn(move || {
                    let cpu0 = thread_cpu_seconds();
                    let mut max_trace = Duration::ZERO;
                    for t in 0..per_producer {
                        if let Some(rate) = config.pace {
                            let due = start
                                + Duration::from_nanos(t * SPANS_PER_TRACE * 1_000_000_000 / rate);
                            let now = Instant::now();
                            if due > now {
                                std::thread::sleep(due - now);
                            }
                        }
                        let t0 = Instant::now();
                        sdk.trace((p * per_producer + t) * (SPANS_PER_TRACE - 1));
                        max_trace = max_trace.max(t0.elapsed());
                    }
                    (max_trace, thread_cpu_seconds() - cpu0)
                })
            })
            .collect();
        let (mut max, mut cpu) = (Duration::ZERO, 0.0);
        for h in handles {
            let Ok((m, c)) = h.join() else {
                eprintln!("a producer thread panicked");
                std::process::exit(1);
            };
            max = max.max(m);
            cpu += c;
        }
        (start.elapsed(), max, cpu)
    });
    let discarded_before_shutdown = sdk.discarded();
    let shutdown_start = Instant::now();
    let report = sdk.shutdown(config.shutdown_timeout);
    let shutdown = shutdown_start.elapsed();
    let total = start.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let produced = per_producer * config.producers * SPANS_PER_TRACE;
    let mut out = String::new();
    let _ = write!(
        out,
        "{{\"workload\":\"{:?}\",\"produced\":{produced},\"producers\":{},\"production_s\":{},\
         \"producer_ns_per_span\":{},\"max_trace_us\":{},\"shutdown_s\":{},\"total_s\":{},\
         \"cpu_s\":{},\"producer_cpu_s\":{producer_cpu},\"idle_rss\":{idle_rss},\"peak_rss\":{},\"discarded\":{},\
         \"discarded_before_shutdown\":{discarded_before_shutdown},\"shutdown_ok\":{},\
         \"stated_lost\":{},\"self_reported_dropped\":{},\"shutdown_message\":\"{}\"}}",
        config.workload,
        config.producers,
        production.as_secs_f64(),
        production.as_nanos() as f64 / produced as f64,
        max_trace.as_micros(),
        shutdown.as_secs_f64(),
        total.as_secs_f64(),
        cpu,
        status_bytes("VmHWM"),
        sdk.discarded(),
        report.ok,
        report
            .stated_lost
            .map_or_else(|| "null".to_owned(), |n| n.to_string()),
        sdk.self_reported_dropped()
            .map_or_else(|| "null".to_owned(), |n| n.to_string()),
        json_escape(&report.message),
    );
    println!("{out}");
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().take(500) {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_formula() {
        for first in [0u64, 1, 850, 899, 900, 123_456] {
            let got: Vec<_> = children(first)
                .map(|c| (c.model, c.tool, c.input_tokens))
                .collect();
            let want: Vec<_> = (first..first + 99)
                .map(Child::nth)
                .map(|c| (c.model, c.tool, c.input_tokens))
                .collect();
            assert_eq!(got, want, "{first}");
        }
    }

    #[test]
    fn children_cycle() {
        assert_eq!(Child::nth(0).model, MODELS[0]);
        assert_eq!(Child::nth(5).model, MODELS[1]);
        assert_eq!(Child::nth(5).tool, TOOLS[0]);
        assert!(Child::nth(2).stream);
    }

    #[test]
    fn proc_meters_read_something() {
        assert!(status_bytes("VmRSS") > 0);
        assert!(status_bytes("VmHWM") >= status_bytes("VmRSS") / 2);
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(cpu_seconds() > 0.0, "{x}");
        let busy = thread_cpu_seconds();
        assert!(busy > 0.0 && busy <= cpu_seconds() + 0.01, "{busy}");
    }

    #[test]
    fn the_pacing_loop_alone_is_a_workload_without_an_exporter() {
        let w = Workload::parse("pacing");
        assert_eq!(w, Some(Workload::Pacing));
        assert!(w.is_some_and(|w| !w.is_otlp() && !w.gzip()));
        assert_eq!(Workload::parse("w9"), None);
    }

    #[test]
    fn escapes() {
        assert_eq!(json_escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }
}
