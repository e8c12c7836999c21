//! A tokio service that exports every span when it is stopped. Ctrl-C
//! (SIGINT) or SIGTERM (what `docker stop`, systemd and Kubernetes send)
//! ends the serve loop; `guard.shutdown()` then exports what is queued
//! before the process exits.
//!
//! `cargo run --example service`, then Ctrl-C. Traces go to `./traces`.
//!
//! Without a handler a signal ends the process at once and every queued
//! span is lost; `std::process::exit` skips the guard the same way.

use std::process::ExitCode;
use std::time::Duration;

#[prela::tool]
async fn look_up(request: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    request * 2
}

#[prela::span(name = "request", fields(request.id = id))]
async fn handle(id: u64) -> u64 {
    look_up(id).await
}

/// Resolves at the first Ctrl-C or SIGTERM, naming it.
async fn stop_signal() -> std::io::Result<&'static str> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.map(|()| "Ctrl-C"),
            _ = term.recv() => Ok("SIGTERM"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.map(|()| "Ctrl-C")
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    prela_examples::exit(run().await)
}

#[allow(clippy::print_stderr)] // an example program talks to its user
async fn run() -> prela_examples::Outcome {
    let guard = prela::init()
        .service_name("signal-service")
        .default_exporter_name("file")
        .install()?;
    let stop = stop_signal();
    tokio::pin!(stop);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut handled = 0u64;
    eprintln!("serving; Ctrl-C or SIGTERM stops");
    let why = loop {
        tokio::select! {
            why = &mut stop => break why?,
            // A request runs to its end: the select waits for the branch.
            _ = tick.tick() => {
                handle(handled).await;
                handled += 1;
            }
        }
    };
    eprintln!("{why}: stopping after {handled} request(s); exporting their spans");
    guard.shutdown()?;
    Ok(())
}
