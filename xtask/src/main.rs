//! `cargo xtask <command>`; see `xtask::` for what each does.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>
  test                         every CI gate: peers, fmt, clippy, docs, msrv, deny, tests, examples, the main job
  codegen [--check]            regenerate crates/core/src/attributes.rs from codegen/attributes.json
  release <version> [--dry-run] bump versions, move the changelog, package, publish leaves first, tag
  examples                     run every example (the OTLP one against a rotel collector)
  fuzz [seconds]               run every fuzz target (default 60 s each; cargo-fuzz on stable)
  soak [--minutes N | seconds] release-mode soak: steady rate, the collector stopped and started every minute
  peers                        install the interop peers under target/peers
  bench [--rounds N] [--spans N] [--pace N] [--only w1,w2,...] [--enforce-targets]
                               Prela vs opentelemetry-rust, release builds, alternate runs;
                               writes target/bench/results.{json,md} and ratios.svg
  bench-chart <results.json> <out.svg>   redraw the chart of a saved bench run
  bench-report <results.json>  summarise and judge a saved bench run again, rewriting
                               results.{json,md} and ratios.svg beside it";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let result: Result<(), String> = match words.as_slice() {
        ["test"] => xtask::test()
            .then_some(())
            .ok_or_else(|| "some gates failed".to_owned()),
        ["examples"] => {
            let mut gates = Vec::new();
            (xtask::peers(&mut gates) && xtask::examples(&mut gates))
                .then_some(())
                .ok_or_else(|| "an example failed".to_owned())
        }
        ["fuzz"] => xtask::fuzz(60)
            .then_some(())
            .ok_or_else(|| "a fuzz target failed".to_owned()),
        ["fuzz", secs] => match secs.parse() {
            Ok(n) => xtask::fuzz(n)
                .then_some(())
                .ok_or_else(|| "a fuzz target failed".to_owned()),
            Err(_) => Err(format!("not a number of seconds: {secs:?}")),
        },
        ["soak"] => xtask::soak(60)
            .then_some(())
            .ok_or_else(|| "the soak failed".to_owned()),
        ["soak", "--minutes", m] => match m.parse::<u64>() {
            Ok(n) if n > 0 => xtask::soak(n * 60)
                .then_some(())
                .ok_or_else(|| "the soak failed".to_owned()),
            _ => Err(format!(
                "--minutes takes a positive whole number, not {m:?}"
            )),
        },
        ["soak", secs] => match secs.parse() {
            Ok(n) => xtask::soak(n)
                .then_some(())
                .ok_or_else(|| "the soak failed".to_owned()),
            Err(_) => Err(format!("not a number of seconds: {secs:?}")),
        },
        ["bench-chart", json, svg] => xtask::bench::redraw(json.as_ref(), svg.as_ref()),
        ["bench-report", json] => xtask::bench::rereport(json.as_ref()),
        ["bench", rest @ ..] => {
            xtask::bench::Options::parse(rest).and_then(|o| xtask::bench::run(&xtask::root(), &o))
        }
        ["peers"] => xtask::peers(&mut Vec::new())
            .then_some(())
            .ok_or_else(|| "peer install failed".to_owned()),
        ["codegen"] => xtask::codegen::run_at(&xtask::root(), false),
        ["codegen", "--check"] => xtask::codegen::run_at(&xtask::root(), true),
        ["release", version] => xtask::release::run_at(&xtask::root(), version, false).map(|_| ()),
        ["release", version, "--dry-run"] | ["release", "--dry-run", version] => {
            xtask::release::run_at(&xtask::root(), version, true).map(|_| ())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}
