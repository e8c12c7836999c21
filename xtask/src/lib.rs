//! Project automation behind `cargo xtask`: the CI gates (`test`),
//! `codegen`, `release`, `bench`, and the interop peers. Std, serde_json and
//! flate2 (for the bench chart's PNG).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

pub mod bench;
pub mod codegen;
pub mod release;
pub mod svg;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The interop peers from PyPI: the Python Prela SDK our JSONL must stay
/// readable by, and the rotel OpenTelemetry collector.
pub const PEERS: [&str; 2] = ["prela==0.1.0", "rotel==0.0.1a15"];

/// Exits 0 when every peer is installed at its pinned version.
const PEERS_CHECK: &str = "import sys, importlib.metadata as m\n\
ok = m.version('prela') == '0.1.0' and m.version('rotel') == '0.0.1a15'\n\
sys.exit(0 if ok else 1)";

/// The workspace root (xtask/ sits in it).
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// One gate's outcome.
#[derive(Debug)]
pub struct Gate {
    name: String,
    ok: bool,
    secs: f64,
}

fn run(gates: &mut Vec<Gate>, name: &str, cmd: &mut Command) -> bool {
    println!("\n==> {name}");
    let start = Instant::now();
    let ok = match cmd.current_dir(root()).status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("xtask: could not run {name}: {e}");
            false
        }
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "<== {name}: {} in {secs:.1}s",
        if ok { "ok" } else { "FAILED" }
    );
    gates.push(Gate {
        name: name.to_owned(),
        ok,
        secs,
    });
    ok
}

fn record(gates: &mut Vec<Gate>, name: &str, start: Instant, result: Result<(), String>) -> bool {
    let ok = match result {
        Ok(()) => true,
        Err(e) => {
            eprintln!("xtask: {name}: {e}");
            false
        }
    };
    gates.push(Gate {
        name: name.to_owned(),
        ok,
        secs: start.elapsed().as_secs_f64(),
    });
    ok
}

fn venv_python() -> PathBuf {
    root().join("target/peers/venv/bin/python")
}

/// Installs the interop peers into `target/peers/venv` unless they are
/// there at their pinned versions.
pub fn peers(gates: &mut Vec<Gate>) -> bool {
    let python = venv_python();
    let have = Command::new(&python)
        .args(["-c", PEERS_CHECK])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have {
        println!("peers: {} already in target/peers/venv", PEERS.join(", "));
        return true;
    }
    let venv = root().join("target/peers/venv");
    let host_python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    (python.exists()
        || run(
            gates,
            "peers: python venv",
            Command::new(host_python).arg("-m").arg("venv").arg(&venv),
        ))
        && run(
            gates,
            "peers: pip install prela rotel",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(PEERS),
        )
}

/// Every dependency's declared `rust-version` is at most ours, so the MSRV
/// in `[workspace.package]` is not a promise the graph breaks.
fn msrv_check() -> Result<(), String> {
    let out = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--all-features"])
        .current_dir(root())
        .output()
        .map_err(|e| e.to_string())?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    // "1.85" and "1.85.0" are the same version.
    let parse = |v: &str| -> [u32; 3] {
        let mut out = [0; 3];
        for (slot, part) in out.iter_mut().zip(v.split('.')) {
            *slot = part.parse().unwrap_or(0);
        }
        out
    };
    let ours = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "prela")
        .and_then(|p| p["rust_version"].as_str())
        .ok_or("the prela package declares no rust-version")?
        .to_owned();
    // Only what users build: normal dependencies of the published crates.
    let resolve = &meta["resolve"]["nodes"];
    let ids: std::collections::BTreeSet<&str> = resolve
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["id"].as_str())
        .collect();
    let mut too_new = Vec::new();
    for p in meta["packages"].as_array().into_iter().flatten() {
        if !ids.contains(p["id"].as_str().unwrap_or("")) {
            continue;
        }
        if let Some(rv) = p["rust_version"].as_str() {
            if parse(rv) > parse(&ours) {
                too_new.push(format!(
                    "{} {} needs {rv}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    let dev_only = ["criterion", "rcgen", "tempfile", "tokio", "prela-testkit"];
    too_new.retain(|s| !dev_only.iter().any(|d| s.starts_with(&format!("{d} "))));
    if too_new.is_empty() {
        println!("msrv: every dependency builds with Rust {ours}");
        Ok(())
    } else {
        Err(format!("declared MSRV {ours}, but: {}", too_new.join("; ")))
    }
}

fn ensure_cargo_deny(gates: &mut Vec<Gate>) -> bool {
    let have = Command::new(cargo())
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    have || run(
        gates,
        "install cargo-deny",
        Command::new(cargo()).args(["install", "cargo-deny", "--locked"]),
    )
}

fn rotel_binary() -> Option<PathBuf> {
    let lib = root().join("target/peers/venv/lib");
    std::fs::read_dir(lib).ok()?.flatten().find_map(|e| {
        let p = e.path().join("site-packages/rotel/rotel-agent");
        p.exists().then_some(p)
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_or(0, |a| a.port())
}

/// A rotel collector on loopback ports that drops what it receives;
/// killed when dropped.
struct Rotel(std::process::Child);

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_rotel(http: u16, grpc: u16) -> Result<Rotel, String> {
    let bin = rotel_binary().ok_or("rotel is not installed (cargo xtask peers)")?;
    let log = root().join("target/xtask/rotel-examples.log");
    let child = Command::new(bin)
        .args([
            "start",
            "--otlp-http-endpoint",
            &format!("127.0.0.1:{http}"),
        ])
        .args([
            "--otlp-grpc-endpoint",
            &format!("127.0.0.1:{grpc}"),
            "--exporter",
            "blackhole",
        ])
        .arg("--log-file")
        .arg(&log)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start rotel: {e}"))?;
    let rotel = Rotel(child);
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    for port in [http, grpc] {
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("rotel did not listen on {port}"));
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Ok(rotel)
}

/// Runs every example as a user would; the OTLP one against a real rotel
/// collector on loopback, over HTTP and gRPC. `true` if all succeeded.
pub fn examples(gates: &mut Vec<Gate>) -> bool {
    let c = cargo();
    let dir = root().join("target/xtask/example-traces");
    let _ = std::fs::remove_dir_all(&dir);
    let mut ok = run(
        gates,
        "examples build",
        Command::new(&c).args(["build", "-q", "-p", "prela-examples", "--examples"]),
    );
    let example = |name: &str| {
        let mut cmd = Command::new(cargo());
        cmd.args(["run", "-q", "-p", "prela-examples", "--example", name])
            .env("PRELA_TRACE_DIR", &dir)
            .env_remove("PRELA_API_KEY")
            .env_remove("PRELA_EXPORTER")
            .stdout(std::process::Stdio::null());
        cmd
    };
    for name in [
        "quickstart",
        "agent",
        "async_agent",
        "custom_exporter",
        "multi_exporter",
        "tracing_bridge",
        "http_propagation",
    ] {
        ok &= run(gates, &format!("example {name}"), &mut example(name));
    }
    // Without a key, the cloud example says what to set and exits 2.
    let start = Instant::now();
    let cloud = example("cloud")
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.code());
    ok &= record(
        gates,
        "example cloud (no key: explains and exits 2)",
        start,
        match cloud {
            Ok(Some(2)) => Ok(()),
            other => Err(format!("expected exit code 2, got {other:?}")),
        },
    );
    let (http, grpc) = (free_port(), free_port());
    let start = Instant::now();
    match start_rotel(http, grpc) {
        Ok(rotel) => {
            ok &= run(
                gates,
                "example otlp (HTTP/protobuf to rotel)",
                example("otlp").env(
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("http://127.0.0.1:{http}"),
                ),
            );
            ok &= run(
                gates,
                "example otlp (gRPC to rotel)",
                example("otlp")
                    .env(
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                        format!("http://127.0.0.1:{grpc}"),
                    )
                    .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            );
            drop(rotel);
        }
        Err(e) => ok &= record(gates, "example otlp", start, Err(e)),
    }
    ok
}

/// The fuzz targets under `fuzz/`.
pub const FUZZ_TARGETS: [&str; 8] = [
    "w3c_headers",
    "prela_json",
    "otlp_response",
    "config",
    "redact",
    "retry_delays",
    "env_bytes",
    "nested_values",
];

/// Runs every fuzz target for `seconds` each with cargo-fuzz (installed if
/// missing; `--sanitizer none`, which builds on the stable toolchain).
/// Crashes land in `fuzz/artifacts/<target>/`.
pub fn fuzz(seconds: u64) -> bool {
    let mut gates = Vec::new();
    let have = Command::new(cargo())
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have
        && !run(
            &mut gates,
            "install cargo-fuzz",
            Command::new(cargo()).args(["install", "cargo-fuzz", "--locked"]),
        )
    {
        return false;
    }
    let mut ok = true;
    for t in FUZZ_TARGETS {
        ok &= run(
            &mut gates,
            &format!("fuzz {t} ({seconds} s)"),
            Command::new(cargo())
                .args(["fuzz", "run", "-s", "none", t, "--"])
                .arg(format!("-max_total_time={seconds}"))
                .arg("-max_len=4096")
                .current_dir(root().join("fuzz")),
        );
    }
    ok
}

/// Runs the soak test in release mode for `seconds`: a steady rate from 4
/// producers to a collector stopped and started every minute; RSS, threads
/// and file descriptors must stay flat.
pub fn soak(seconds: u64) -> bool {
    let mut gates = Vec::new();
    run(
        &mut gates,
        &format!("soak ({seconds} s)"),
        Command::new(cargo())
            .args([
                "test",
                "--release",
                "-p",
                "prela",
                "--all-features",
                "--test",
                "soak",
                "--",
                "--ignored",
                "--nocapture",
            ])
            .env("PRELA_SOAK_SECS", seconds.to_string()),
    )
}

/// Every CI gate, in order, with timings. `true` if all passed.
pub fn test() -> bool {
    let mut gates = Vec::new();
    let total = Instant::now();
    let c = cargo();
    let mut ok = peers(&mut gates);
    ok &= run(
        &mut gates,
        "fmt",
        Command::new(&c).args(["fmt", "--all", "--check"]),
    );
    ok &= run(
        &mut gates,
        "clippy (workspace, all targets, all features)",
        Command::new(&c).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]),
    );
    for features in [
        "", "console", "file", "otlp", "cloud", "tracing", "tokio", "macros",
    ] {
        let name = if features.is_empty() {
            "none".to_owned()
        } else {
            features.to_owned()
        };
        let mut cmd = Command::new(&c);
        cmd.args(["clippy", "-p", "prela", "--no-default-features"]);
        if !features.is_empty() {
            cmd.args(["--features", features]);
        }
        cmd.args(["--", "-D", "warnings"]);
        ok &= run(
            &mut gates,
            &format!("clippy (facade, features: {name})"),
            &mut cmd,
        );
    }
    ok &= run(
        &mut gates,
        "docs",
        Command::new(&c)
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    );
    let start = Instant::now();
    ok &= record(
        &mut gates,
        "msrv (declared, checked against the dependency graph)",
        start,
        msrv_check(),
    );
    ok &= ensure_cargo_deny(&mut gates);
    ok &= run(
        &mut gates,
        "cargo deny check licenses bans sources",
        Command::new(&c).args([
            "deny",
            "--all-features",
            "check",
            "licenses",
            "bans",
            "sources",
        ]),
    );
    ok &= run(
        &mut gates,
        "tests (workspace, all features, peers required)",
        Command::new(&c)
            .args(["test", "--workspace", "--all-features"])
            .env("PRELA_REQUIRE_PEERS", "1")
            .env("PRELA_TEST_PYTHON", venv_python()),
    );
    ok &= run(
        &mut gates,
        "tests (facade and context, no default features)",
        Command::new(&c).args([
            "test",
            "-p",
            "prela",
            "-p",
            "prela-context",
            "--no-default-features",
        ]),
    );
    ok &= examples(&mut gates);
    let agent_dir = root().join("target/xtask/agent-traces");
    let _ = std::fs::remove_dir_all(&agent_dir);
    ok &= run(
        &mut gates,
        "main job: cargo run --example agent",
        Command::new(&c)
            .args(["run", "--quiet", "--example", "agent"])
            .env("PRELA_TRACE_DIR", &agent_dir),
    );
    // The bench's own unit tests (workload table, receiver's decoding and
    // counting), in the release build the bench smoke below reuses.
    ok &= run(
        &mut gates,
        "bench unit tests (bench/, release)",
        Command::new(&c)
            .args(["test", "--release", "--locked", "--manifest-path"])
            .arg(root().join("bench/Cargo.toml"))
            .arg("--target-dir")
            .arg(root().join("target/bench")),
    );
    // The cross-SDK bench, small: it builds, runs every workload with both
    // SDKs, and its numbers add up. Speed targets are not checked here
    // (docs/performance.md has the full run's figures).
    let start = Instant::now();
    println!("\n==> bench smoke: cargo xtask bench --rounds 1 --spans 40000 --pace 200000");
    ok &= record(
        &mut gates,
        "bench smoke (both SDKs, numbers add up)",
        start,
        bench::Options::parse(&["--rounds", "1", "--spans", "40000", "--pace", "200000"])
            .and_then(|o| bench::run(&root(), &o)),
    );
    println!("\n{:<52} {:>8}  result", "gate", "seconds");
    for g in &gates {
        println!(
            "{:<52} {:>8.1}  {}",
            g.name,
            g.secs,
            if g.ok { "ok" } else { "FAILED" }
        );
    }
    let passed = gates.iter().filter(|g| g.ok).count();
    println!("total {:.1}s", total.elapsed().as_secs_f64());
    println!("gates: {passed} passed, {} failed", gates.len() - passed);
    ok
}
