//! A service on plain threads (no async runtime) that exports every span
//! when it is stopped: the `ctrlc` crate's handler (feature
//! `termination`: SIGINT, SIGTERM and SIGHUP) tells the serve loop to
//! end, and `guard.shutdown()` exports what is queued before the process
//! exits.
//!
//! `cargo run --example plain_service`, then Ctrl-C. Traces go to
//! `./traces`.
//!
//! The handler must not exit the process itself: `std::process::exit`
//! skips the guard's drop, and every queued span would be lost.

use std::process::ExitCode;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

#[prela::tool]
fn look_up(request: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(1));
    request * 2
}

#[prela::span(name = "request", fields(request.id = id))]
fn handle(id: u64) -> u64 {
    look_up(id)
}

fn main() -> ExitCode {
    prela_examples::exit(run())
}

#[allow(clippy::print_stderr)] // an example program talks to its user
fn run() -> prela_examples::Outcome {
    let guard = prela::init()
        .service_name("signal-service")
        .default_exporter_name("file")
        .install()?;
    let (stop, stopped) = mpsc::channel();
    ctrlc::set_handler(move || {
        // Only tell the serve loop; it ends, then the guard exports.
        let _ = stop.send(());
    })?;
    let mut handled = 0u64;
    eprintln!("serving; Ctrl-C or SIGTERM stops");
    loop {
        match stopped.recv_timeout(Duration::from_millis(10)) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                handle(handled);
                handled += 1;
            }
        }
    }
    eprintln!("signal: stopping after {handled} request(s); exporting their spans");
    guard.shutdown()?;
    Ok(())
}
