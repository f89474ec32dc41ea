//! agentdeploy: ship a Strands-style Python agent to AWS Lambda in one command.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // The build-time sandbox's launcher is agentdeploy itself, and must start before any thread.
    if let Some(code) = agentdeploy::sandbox::run_if_launcher() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::from(1);
        }
    };
    // Every code agentdeploy uses (reference §8: 0-6, 130) fits; anything else would be a bug.
    ExitCode::from(u8::try_from(runtime.block_on(run())).unwrap_or(1))
}

async fn run() -> i32 {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match agentdeploy::cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(err) => return agentdeploy::output::print_parse_error(&err, &args),
    };
    agentdeploy::logging::init(&cli.global);
    agentdeploy::orchestrate::run(cli).await
}
