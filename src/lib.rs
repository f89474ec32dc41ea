//! agentdeploy as a library: the binary in `main.rs` is a thin wrapper around
//! `orchestrate::run`.

pub mod cli;
pub mod config;
pub mod error;
pub mod lambda;
pub mod logging;
pub mod orchestrate;
pub mod output;
pub mod process;
pub mod progress;
pub mod redact;
pub mod settings;
pub mod timings;
