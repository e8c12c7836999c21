//! The examples as a user meets them: built binaries run with the
//! environment a user would set. Exporters are chosen exactly as
//! `prela::init()` chooses them, and every failure reads as one sentence
//! (`error: ...`), never as a `Debug` dump.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use prela_testkit::{Reply, ScriptedServer};

/// Every example target of this package.
const EXAMPLES: [&str; 11] = [
    "agent",
    "quickstart",
    "async_agent",
    "cloud",
    "otlp",
    "custom_exporter",
    "multi_exporter",
    "tracing_bridge",
    "http_propagation",
    "service",
    "plain_service",
];

/// `target/<profile>/examples/<name>`, built by `cargo test` beside this
/// test's own binary (`target/<profile>/deps/`).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile = exe.parent().unwrap().parent().unwrap();
    profile
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// A command for an example with none of the SDK's variables inherited.
fn command(name: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(example(name));
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PRELA_") || k.starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(dir).env("NO_COLOR", "1");
    cmd
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A failure a user reads: exit code 1, one `error: ...` line, and no
/// `Debug` form (`Name { field: .. }`) anywhere in the output.
fn assert_readable_failure(name: &str, out: &Output, mentions: &str) {
    let (stdout, stderr) = text(out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{name}: exit code\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{name}: one error line\nstderr:\n{stderr}");
    assert!(
        errors[0].contains(mentions),
        "{name}: the error names {mentions:?}: {}",
        errors[0]
    );
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(
            !line.contains("{ ") && !line.contains("Some(\""),
            "{name}: a Debug form in the output: {line}"
        );
    }
}

#[test]
fn the_main_job_prints_and_writes_files_when_nothing_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = command("agent", dir.path()).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("agent: research_agent"), "{stdout}");
    let files = prela::file::trace_files(&dir.path().join("traces")).unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    let lines = std::fs::read_to_string(&files[0]).unwrap().lines().count();
    assert_eq!(lines, 7, "the agent's seven spans");
    assert!(stdout.contains("traces written to"), "{stdout}");
}

#[test]
fn the_main_job_sends_to_prela_cloud_when_a_key_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = ScriptedServer::start_with_default(Vec::new(), Reply::status(200));
    let out = command("agent", dir.path())
        .env("PRELA_API_KEY", "sk-first-contact")
        .env("PRELA_ENDPOINT", format!("{}/v1/traces", gateway.url()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // No console tree and no files: the key chose Prela cloud alone.
    assert!(!stdout.contains("research_agent"), "{stdout}");
    assert!(!dir.path().join("traces").exists());
    let got = gateway.received();
    assert!(!got.is_empty(), "the gateway got the trace");
    let body = String::from_utf8(got[0].decoded_body().unwrap()).unwrap();
    assert!(body.contains("research_agent"), "{body}");
    assert!(!stdout.contains("sk-first-contact") && !stderr.contains("sk-first-contact"));
}

#[test]
fn a_named_exporter_wins_over_the_examples_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = command("agent", dir.path())
        .env("PRELA_EXPORTER", "console")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("agent: research_agent"), "{stdout}");
    assert!(!dir.path().join("traces").exists(), "no file exporter");
}

#[test]
fn console_output_goes_to_the_stream_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let out = command("quickstart", dir.path())
        .env("PRELA_CONSOLE_OUTPUT", "stderr")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stderr.contains("llm: chat gpt-4o"), "{stderr}");
    assert!(!stdout.contains("chat gpt-4o"), "{stdout}");
}

#[test]
fn every_example_fails_on_a_bad_variable_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    for name in EXAMPLES {
        let mut cmd = command(name, dir.path());
        cmd.env("PRELA_SAMPLE_RATE", "lots");
        if name == "cloud" {
            cmd.env("PRELA_API_KEY", "sk-test");
        }
        let out = cmd.output().unwrap();
        assert_readable_failure(name, &out, "PRELA_SAMPLE_RATE");
    }
}

#[test]
fn examples_that_export_say_plainly_when_the_backend_is_down() {
    let dir = tempfile::tempdir().unwrap();
    // A loopback port with nothing listening on it.
    let port = prela_testkit::free_port();
    let down = format!("http://127.0.0.1:{port}");
    let cases: [(&str, &[(&str, &str)]); 4] = [
        (
            "agent",
            &[
                ("PRELA_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &down),
            ],
        ),
        (
            "agent",
            &[("PRELA_API_KEY", "sk-test"), ("PRELA_ENDPOINT", &down)],
        ),
        ("otlp", &[("OTEL_EXPORTER_OTLP_ENDPOINT", &down)]),
        (
            "cloud",
            &[("PRELA_API_KEY", "sk-test"), ("PRELA_ENDPOINT", &down)],
        ),
    ];
    for (name, env) in cases {
        let mut cmd = command(name, dir.path());
        cmd.envs(env.iter().copied())
            .env("OTEL_BSP_EXPORT_TIMEOUT", "1000");
        let out = cmd.output().unwrap();
        assert_readable_failure(name, &out, "not exported");
    }
}

#[test]
fn every_example_target_is_covered() {
    // The list above must name every example this package builds.
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let declared = manifest.matches("[[example]]").count();
    assert_eq!(declared, EXAMPLES.len(), "EXAMPLES lists every [[example]]");
}

#[cfg(unix)]
#[test]
fn a_variable_that_is_not_utf8_fails_install_naming_it() {
    use std::os::unix::ffi::OsStringExt;
    let dir = tempfile::tempdir().unwrap();
    let bad = std::ffi::OsString::from_vec(b"x-api-key=\xffsecret".to_vec());
    for (name, var) in [
        ("quickstart", "PRELA_SAMPLE_RATE"),
        ("otlp", "OTEL_EXPORTER_OTLP_HEADERS"),
        ("agent", "PRELA_SERVICE_NAME"),
    ] {
        let out = command(name, dir.path()).env(var, &bad).output().unwrap();
        assert_readable_failure(name, &out, var);
        let (_, stderr) = text(&out);
        assert!(stderr.contains("UTF-8"), "{stderr}");
        assert!(
            !stderr.contains("secret"),
            "the value is not shown: {stderr}"
        );
    }
}
