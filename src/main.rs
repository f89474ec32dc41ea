//! agentdeploy: ship a Strands-style Python agent to AWS Lambda in one command.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = agentdeploy::cli::Cli::parse();
    agentdeploy::logging::init(&cli.global);
    let code = agentdeploy::orchestrate::run(cli).await;
    std::process::exit(code);
}
