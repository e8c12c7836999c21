//! `cargo xtask release <version> --dry-run` on a copy of the workspace.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::Path;
use std::process::Command;

fn copy_tracked(from: &Path, to: &Path) {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(from)
        .output()
        .unwrap();
    assert!(out.status.success(), "git ls-files failed");
    for rel in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let rel = std::str::from_utf8(rel).unwrap();
        let src = from.join(rel);
        if !src.is_file() {
            continue;
        }
        let dst = to.join(rel);
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(&src, &dst).unwrap();
    }
}

#[test]
fn dry_run_bumps_packages_and_publishes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tracked(&xtask::root(), tmp.path());
    // Share the build cache; packaging compiles nothing.
    let order = xtask::release::run_at(tmp.path(), "9.8.7", true).unwrap();
    assert_eq!(
        order.first().map(String::as_str),
        Some("prela-core"),
        "leaves first: {order:?}"
    );
    assert_eq!(
        order.last().map(String::as_str),
        Some("prela"),
        "facade last: {order:?}"
    );
    let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
    assert!(pos("prela-transport") < pos("prela-export-otlp"));
    assert!(pos("prela-context") < pos("prela-tracer"));
    assert!(
        !order
            .iter()
            .any(|n| n == "xtask" || n == "prela-testkit" || n == "prela-examples")
    );
    let manifest = fs::read_to_string(tmp.path().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("version = \"9.8.7\"\n"));
    assert!(manifest.contains("prela-core = { path = \"crates/core\", version = \"9.8.7\""));
    let changelog = fs::read_to_string(tmp.path().join("CHANGELOG.md")).unwrap();
    assert!(
        changelog.contains("## Unreleased\n\n## 9.8.7 - "),
        "{changelog}"
    );
    for name in &order {
        let krate = tmp
            .path()
            .join(format!("target/package/{name}-9.8.7.crate"));
        assert!(krate.is_file(), "{} was packaged", krate.display());
    }
    // Nothing was tagged.
    let tags = Command::new("git")
        .args(["tag", "--list", "v9.8.7"])
        .current_dir(xtask::root())
        .output()
        .unwrap();
    assert!(tags.stdout.is_empty());
}

#[test]
fn a_bad_version_is_refused_before_anything_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let e = xtask::release::run_at(tmp.path(), "v1", true).unwrap_err();
    assert!(e.contains("invalid version \"v1\""), "{e}");
}
