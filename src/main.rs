//! agentdeploy: ship a Strands-style Python agent to AWS Lambda in one command.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match agentdeploy::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = agentdeploy::output::print_parse_error(&err, &args);
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
    };
    agentdeploy::logging::init(&cli.global);
    let code = agentdeploy::orchestrate::run(cli).await;
    // Every code agentdeploy uses (SPEC §8: 0-6, 130) fits; anything else would be a bug.
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
