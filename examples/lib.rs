//! Examples of the Prela tracing SDK; see the `[[example]]` targets.
//!
//! Each example's `main` ends through [`exit`], so that an error reaches
//! its user as one sentence (`error: ...` on standard error, exit code 1),
//! never as the `Debug` dump that returning an error from `main` prints.

use std::process::ExitCode;

/// What an example's body returns.
pub type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Ends an example: success is exit code 0; an error is printed as
/// `error: <its Display>` on standard error, with exit code 1.
pub fn exit(outcome: Outcome) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            #[allow(clippy::print_stderr)] // an example program talks to its user
            {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
