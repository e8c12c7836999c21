//! A realistic tokio agent traced with Prela, run on the current-thread
//! and the multi-thread runtime, whose every trace tree is checked: see
//! `tests/trees.rs`.
