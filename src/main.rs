//! agentdeploy: ship a Strands-style Python agent to AWS Lambda in one command.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = agentdeploy::cli::Cli::parse();
    agentdeploy::logging::init(&cli.global);
    let code = agentdeploy::orchestrate::run(cli).await;
    // Every code agentdeploy uses (SPEC §8: 0-6, 130) fits; anything else would be a bug.
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
