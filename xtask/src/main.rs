//! `cargo xtask <command>`: project automation, std only.
//!
//! - `cargo xtask test`: every gate CI runs, peers included, with timings.
//! - `cargo xtask peers`: installs the interop peers only.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// The interop peers from PyPI: the Python Prela SDK our JSONL must stay
/// readable by, and the rotel OpenTelemetry collector.
const PEERS: [&str; 2] = ["prela==0.1.0", "rotel==0.0.1a15"];

/// Exits 0 when every peer is installed at its pinned version.
const PEERS_CHECK: &str = "import sys, importlib.metadata as m\n\
ok = m.version('prela') == '0.1.0' and m.version('rotel') == '0.0.1a15'\n\
sys.exit(0 if ok else 1)";

fn root() -> PathBuf {
    // xtask/ sits at the workspace root.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or(manifest.clone(), Path::to_path_buf)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

struct Gate {
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

fn venv_python() -> PathBuf {
    root().join("target/peers/venv/bin/python")
}

/// Installs the interop peers into `target/peers/venv` unless they are
/// there at their pinned versions.
fn peers(gates: &mut Vec<Gate>) -> bool {
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

fn test() -> bool {
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
    ok &= run(
        &mut gates,
        "clippy (facade, no default features)",
        Command::new(&c).args([
            "clippy",
            "-p",
            "prela",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ]),
    );
    ok &= run(
        &mut gates,
        "docs",
        Command::new(&c)
            .args(["doc", "--workspace", "--no-deps", "--all-features"])
            .env("RUSTDOCFLAGS", "-D warnings"),
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
    let agent_dir = root().join("target/xtask/agent-traces");
    let _ = std::fs::remove_dir_all(&agent_dir);
    ok &= run(
        &mut gates,
        "main job: cargo run --example agent",
        Command::new(&c)
            .args(["run", "--quiet", "--example", "agent"])
            .env("PRELA_TRACE_DIR", &agent_dir),
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("peers") => peers(&mut Vec::new()),
        _ => {
            eprintln!("usage: cargo xtask <test|peers>");
            eprintln!("  test   every CI gate: fmt, clippy, docs, tests with peers, the main job");
            eprintln!("  peers  install the interop peers under target/peers");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
