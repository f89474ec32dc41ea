//! The command-line surface (reference §3). Parsing only: values are validated in `settings`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::options::AgentFlags;

#[derive(Debug, Parser)]
#[command(
    name = "agentdeploy",
    version = env!("AGENTDEPLOY_VERSION"),
    about = "Ship a Strands-style Python agent to AWS Lambda in one command",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Config file (default: ./agentdeploy.toml or ./agentdeploy.yaml if present)
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Config environment to apply, e.g. `prod`
    #[arg(
        short = 'e',
        long = "env",
        global = true,
        env = "AGENTDEPLOY_ENV",
        value_name = "NAME"
    )]
    pub env: Option<String>,

    /// Result format on stdout
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,

    /// No progress on stderr
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// More logging on stderr (-v: tool output, -vv: debug)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Colour on stderr (NO_COLOR is honoured by `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// AWS region (else config, AWS_REGION, the profile)
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,

    /// AWS shared-config profile
    #[arg(long, global = true, env = "AWS_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,

    /// AWS endpoint override for every SDK client and `sam` (also AWS_ENDPOINT_URL)
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse, render, build and deploy agents to AWS Lambda
    Lambda(Box<DeployArgs>),
    /// Run every preflight check and report each one
    Doctor(Box<DeployArgs>),
    /// The least-privilege IAM policy a deployer (a CI role) needs for these agents: deploy,
    /// status, rollback, logs, metrics and destroy (takes `lambda`'s flags)
    Policy(Box<DeployArgs>),
    /// Stack status, function state, outputs and the last deployment record
    Status(NameArgs),
    /// Serve an agent on this machine as its function runs, restarting it on every change
    /// (takes `lambda`'s per-agent flags)
    Dev(Box<DevArgs>),
    /// A conversation in the terminal with a deployed agent, or with one `dev` serves
    Chat(ChatArgs),
    /// Put a code-only change straight into a deployed function and move `live` to it, without
    /// CloudFormation (for dev stacks; takes `lambda`'s per-agent flags)
    Sync(Box<SyncArgs>),
    /// Call a deployed function and print its answer
    Invoke(InvokeArgs),
    /// Delete a deployment's stack and its record
    Destroy(DestroyArgs),
    /// Point the `live` alias back at an earlier version, without building
    Rollback(RollbackArgs),
    /// Run smoke cases against the live version (exit 6 when one fails)
    Test(TestArgs),
    /// The function's log lines, oldest first, with time and request id
    Logs(LogsArgs),
    /// Requests, errors, latency, cold starts, tokens and their cost, from the function's
    /// per-request metrics
    Metrics(MetricsArgs),
    /// Deployments this project has recorded, else those its stacks in the region show
    List(ListArgs),
    /// Write a commented agentdeploy.toml (and a sample agent if none exists)
    Init(InitArgs),
    /// Monthly cost estimate
    Cost(CostArgs),
    /// Shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The `lambda` and `doctor` flags: the per-agent options (declared once in `options`) and
/// what steers one run.
#[derive(Debug, Args, Clone, Default)]
pub struct DeployArgs {
    /// Function name (1-64 of A-Za-z0-9-_); also the key under [agents.NAME]
    #[arg(long, env = "AGENTDEPLOY_FUNCTION_NAME", value_name = "NAME")]
    pub function_name: Option<String>,

    #[command(flatten)]
    pub options: AgentFlags,

    /// Deploy even if nothing changed
    #[arg(long)]
    pub force: bool,

    /// Replace the function where a change needs a new one (--isolation, which Lambda sets at
    /// creation): its stack is deleted first, endpoint, API key and stored conversations with it
    #[arg(long)]
    pub replace: bool,

    /// Answer yes to every question
    #[arg(long)]
    pub yes: bool,

    /// Render the project and print the plan; touch nothing remote
    #[arg(long)]
    pub dry_run: bool,

    /// Deploy every agent of the config file
    #[arg(long)]
    pub all: bool,

    /// Deploy only these agents of the config file (comma-separated)
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub only: Vec<String>,

    /// How many agents deploy at once
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub jobs: usize,

    /// Stop the fleet at the first failure
    #[arg(long)]
    pub fail_fast: bool,

    /// Seconds to wait for another deploy of the same function to finish
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub lock_timeout: u64,
}

/// `dev`: the agent to serve (the per-agent options, as `lambda` takes them) and where.
#[derive(Debug, Args, Clone)]
pub struct DevArgs {
    /// The agent of agentdeploy.toml to serve (else its only one, else the --agent file)
    pub name: Option<String>,

    #[command(flatten)]
    pub options: AgentFlags,

    /// The port on 127.0.0.1 to serve on (0: any free port)
    #[arg(long, default_value_t = 8765, value_name = "PORT")]
    pub port: u16,

    /// Serve nothing here: sync every change into the deployed function NAME instead (as
    /// `sync NAME --watch`)
    #[arg(long, requires = "name")]
    pub remote: bool,
}

/// `sync`: which deployed agent, as `lambda` deployed it.
#[derive(Debug, Args, Clone)]
pub struct SyncArgs {
    /// The deployed agent (its function name)
    pub name: String,

    #[command(flatten)]
    pub options: AgentFlags,

    /// Sync again on every change to the agent's files, until Ctrl-C
    #[arg(long)]
    pub watch: bool,

    /// Sync an environment the config marks `protected = true`
    #[arg(long)]
    pub yes: bool,
}

/// `chat`: with whom.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The deployed agent (its `live` alias, through Lambda Invoke)
    #[arg(required_unless_present = "local", conflicts_with = "local")]
    pub name: Option<String>,
    /// The agent `agentdeploy dev` serves at this URL (e.g. http://127.0.0.1:8765)
    #[arg(long, value_name = "URL")]
    pub local: Option<String>,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    /// Function name
    pub name: String,
}

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// Function name
    pub name: String,
    /// The user input, sent as {"input": TEXT}
    #[arg(long)]
    pub input: Option<String>,
    /// JSON data, sent as {"data": ...}
    #[arg(long)]
    pub data: Option<String>,
    /// Print the whole response payload
    #[arg(long)]
    pub raw: bool,
    /// Print the answer as it is written (InvokeWithResponseStream); with -o json, one event per
    /// line
    #[arg(long)]
    pub stream: bool,
    /// Call as this tenant (a function deployed with --isolation tenant needs one)
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Function name
    #[arg(required_unless_present = "expired", conflicts_with = "expired")]
    pub name: Option<String>,
    /// Do not ask
    #[arg(long)]
    pub yes: bool,
    /// Every preview past its --ttl (agentdeploy's stacks in the region; the config's agents
    /// only, when there is one)
    #[arg(long)]
    pub expired: bool,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Function name
    pub name: String,
    /// How far back to start: 30s, 10m, 2h or 1d
    #[arg(long, default_value = "10m", value_name = "AGE")]
    pub since: String,
    /// Keep printing new lines until Ctrl-C
    #[arg(long)]
    pub follow: bool,
    /// Only lines holding this text
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
}

#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Function name
    pub name: String,
    /// How far back to look: 30m, 2h, 1d (up to 455d, CloudWatch's retention)
    #[arg(long, default_value = "1h", value_name = "AGE")]
    pub since: String,
    /// TOML file overriding some or all prices, model prices in its [models] table (see
    /// templates/prices.toml)
    #[arg(long, env = "AGENTDEPLOY_PRICES", value_name = "FILE")]
    pub prices: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// Function name
    pub name: String,
    /// The version to serve [default: the one before the live one]
    #[arg(long, value_name = "VERSION")]
    pub to: Option<String>,
    /// Do not ask
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Function name
    pub name: String,
    /// The cases (JSON, YAML or TOML) [default: the agent's `smoke` in agentdeploy.toml]
    #[arg(long, value_name = "FILE")]
    pub cases: Option<std::path::PathBuf>,
    /// Also write the results as JUnit XML, for CI systems
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    /// Call as this tenant (a function deployed with --isolation tenant needs one)
    #[arg(long, value_name = "ID")]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Check each stack's current status
    #[arg(long)]
    pub refresh: bool,
    /// Read the deployments from AWS (agentdeploy's stacks in the region) even when this
    /// checkout has a record [default: only when it has none]
    #[arg(long)]
    pub remote: bool,
    /// Only the previews past their --ttl (read from AWS)
    #[arg(long)]
    pub expired: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Overwrite existing files
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// Function name from the config file (its memory and architecture are used)
    pub name: Option<String>,
    /// Memory in MB
    #[arg(long)]
    pub memory: Option<u32>,
    /// Mean duration of one invocation, in seconds
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Invocations per month
    #[arg(long, default_value_t = 10_000)]
    pub invocations: u64,
    /// x86_64 or arm64
    #[arg(long, value_parser = ["x86_64", "arm64"])]
    pub architecture: Option<String>,
    /// Count API Gateway REST requests: on or off (on follows the agent's endpoint)
    #[arg(long, default_value = "on")]
    pub api_gateway: String,
    /// TOML file overriding some or all prices (see templates/prices.toml)
    #[arg(long, env = "AGENTDEPLOY_PRICES", value_name = "FILE")]
    pub prices: Option<std::path::PathBuf>,
    /// Share of invocations that are cold starts, 0-1 (their INIT time is billed since August 2025)
    #[arg(long, default_value_t = 0.1, value_name = "FRACTION")]
    pub cold_start_share: f64,
    /// INIT duration of one cold start, in seconds (importing the agent and its dependencies)
    /// [default: 2.5; with --from-metrics, the measured one]
    #[arg(long, value_name = "SECONDS")]
    pub init_duration: Option<f64>,
    /// Count SnapStart's snapshot cache and restores instead of INIT (on follows the agent's config)
    #[arg(long)]
    pub snapstart: bool,
    /// Use the deployed function's measured requests, durations, cold starts and tokens (over
    /// --since, scaled to a month) instead of --invocations / --duration / --cold-start-share
    #[arg(long, requires = "name", conflicts_with_all = ["duration", "invocations", "cold_start_share"])]
    pub from_metrics: bool,
    /// With --from-metrics: the window measured
    #[arg(
        long,
        default_value = "7d",
        value_name = "AGE",
        requires = "from_metrics"
    )]
    pub since: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        // clap checks names, conflicts and defaults only when a parse reaches them; a
        // duplicated option (say, declared in `options` and here) would panic at run time.
        super::Cli::command().debug_assert();
    }
}
