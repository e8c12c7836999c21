//! Examples of the Prela tracing SDK; see the `[[example]]` targets.
