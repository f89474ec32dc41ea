//! agentdeploy as a library: the binary in `main.rs` is a thin wrapper around
//! `orchestrate::run`.

// Short steps: no function in the library over 80 lines (threshold in clippy.toml); clippy runs
// with -D warnings before every commit.
#![warn(clippy::too_many_lines)]

pub mod age;
pub mod aws;
pub mod build_report;
pub mod cli;
pub mod config;
pub mod digest;
pub mod error;
pub mod exit_codes;
pub mod files;
pub mod folder;
pub mod hints;
pub mod lambda;
pub mod logging;
pub mod options;
pub mod orchestrate;
pub mod output;
pub mod prices;
pub mod process;
pub mod progress;
pub mod redact;
pub mod sandbox;
pub mod secrets;
pub mod smoke;
pub mod sse;
pub mod target;
pub mod targets;
pub mod timings;
pub mod untrusted;
pub mod walk;
