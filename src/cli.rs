//! The command-line surface (SPEC §3). Parsing only: values are validated in `settings`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Lambda(Box<LambdaArgs>),
    /// Run every preflight check and report each one
    Doctor(Box<LambdaArgs>),
    /// Stack status, function state, outputs and the last deployment record
    Status(NameArgs),
    /// Call a deployed function and print its answer
    Invoke(InvokeArgs),
    /// Delete a deployment's stack and its record
    Destroy(DestroyArgs),
    /// Deployments this project has recorded
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Api,
    Url,
    None,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Api => "api",
            EndpointKind::Url => "url",
            EndpointKind::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    None,
    ApiKey,
    Iam,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::ApiKey => "api-key",
            AuthMode::Iam => "iam",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseContainer {
    Auto,
    Always,
    Never,
}

/// Every `lambda` option. All are optional here so the config file can supply them; the
/// `AGENTDEPLOY_*` variables sit between the config file and the flags (SPEC §4).
#[derive(Debug, Args, Clone, Default)]
pub struct LambdaArgs {
    /// What to deploy: agent (default) or code-interpreter (a ready code-execution function for MCP agents)
    #[arg(long, env = "AGENTDEPLOY_KIND", value_name = "KIND")]
    pub kind: Option<String>,

    /// Function name (1-64 of A-Za-z0-9-_); also the key under [agents.NAME]
    #[arg(long, env = "AGENTDEPLOY_FUNCTION_NAME", value_name = "NAME")]
    pub function_name: Option<String>,

    /// Agent file (.py) or a directory holding agent.py / main.py / app.py
    #[arg(long, env = "AGENTDEPLOY_AGENT", value_name = "FILE")]
    pub agent: Option<PathBuf>,

    /// requirements.txt to use instead of inference
    #[arg(long, env = "AGENTDEPLOY_REQUIREMENTS", value_name = "FILE")]
    pub requirements: Option<PathBuf>,

    /// Memory in MB, 128-10240 [default: 512]
    #[arg(
        long,
        env = "AGENTDEPLOY_MEMORY",
        value_name = "MB",
        allow_hyphen_values = true
    )]
    pub memory: Option<String>,

    /// Timeout in seconds, 3-900 [default: 300]
    #[arg(
        long,
        env = "AGENTDEPLOY_TIMEOUT",
        value_name = "SECONDS",
        allow_hyphen_values = true
    )]
    pub timeout: Option<String>,

    /// python3.12, python3.13 or python3.14 [default: newest with an interpreter on PATH, else python3.13]
    #[arg(long, env = "AGENTDEPLOY_RUNTIME", value_name = "RUNTIME")]
    pub runtime: Option<String>,

    /// Accept python3.10 / python3.11, which Lambda no longer creates or updates
    #[arg(long)]
    pub allow_deprecated_runtime: bool,

    /// x86_64 or arm64 [default: x86_64]
    #[arg(long, env = "AGENTDEPLOY_ARCHITECTURE", value_name = "ARCH")]
    pub architecture: Option<String>,

    /// Stack name [default: agentdeploy-<function-name>[-<env>]]
    #[arg(long, env = "AGENTDEPLOY_STACK_NAME", value_name = "NAME")]
    pub stack_name: Option<String>,

    /// Environment variable for the function (repeatable)
    #[arg(long = "env-var", value_name = "KEY=VALUE")]
    pub env_vars: Vec<String>,

    /// Where secret values live: env (NoEcho parameters into the function's environment, default)
    /// or ssm (SSM Parameter Store SecureStrings read by the function at cold start)
    #[arg(long, env = "AGENTDEPLOY_SECRETS_STORE", value_name = "STORE")]
    pub secrets_store: Option<String>,

    /// Secret passed to the function; its value is read from the environment or .env (repeatable)
    #[arg(long = "secret", value_name = "NAME")]
    pub secrets: Vec<String>,

    /// api (API Gateway REST), url (Function URL) or none [default: api]
    #[arg(long, env = "AGENTDEPLOY_ENDPOINT", value_name = "KIND")]
    pub endpoint: Option<String>,

    /// none, api-key or iam [default: api-key for api, iam for url]
    #[arg(long, env = "AGENTDEPLOY_AUTH", value_name = "MODE")]
    pub auth: Option<String>,

    /// VPC subnets, comma-separated (needs --security-group-ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub subnet_ids: Vec<String>,

    /// VPC security groups, comma-separated (needs --subnet-ids)
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub security_group_ids: Vec<String>,

    /// Tag for the stack's resources (repeatable)
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<String>,

    /// Extra managed policy ARN for the function role (repeatable)
    #[arg(long = "policy", value_name = "ARN")]
    pub policies: Vec<String>,

    /// Upload artifacts to this bucket
    #[arg(long, env = "AGENTDEPLOY_S3_BUCKET", value_name = "BUCKET")]
    pub s3_bucket: Option<String>,

    /// Let sam create and use its managed artifact bucket [default]
    #[arg(long)]
    pub resolve_s3: bool,

    /// What the handler calls: a top-level function or a module-level `Agent` variable
    /// [default: main, else handler/lambda_handler, else the one module-level Agent]
    #[arg(long, env = "AGENTDEPLOY_ENTRY", value_name = "NAME")]
    pub entry: Option<String>,

    /// Whose conversation a request continues: isolated (each request starts from the agent's
    /// state at import, default), session (stored per caller and session_id in a private S3
    /// bucket, across cold starts) or shared (one process-wide memory: callers see each other's
    /// turns)
    #[arg(long, env = "AGENTDEPLOY_CONVERSATION", value_name = "MODE")]
    pub conversation: Option<String>,

    /// API-key endpoints: steady requests per second a key may make [default: 2]
    #[arg(long, env = "AGENTDEPLOY_RATE_LIMIT", value_name = "PER_SECOND")]
    pub rate_limit: Option<String>,

    /// API-key endpoints: requests a key may burst above the rate [default: 5]
    #[arg(long, env = "AGENTDEPLOY_BURST_LIMIT", value_name = "REQUESTS")]
    pub burst_limit: Option<String>,

    /// API-key endpoints: requests a key may make per day, week or month, e.g. 1000/day
    /// [default: 1000/day]
    #[arg(long, env = "AGENTDEPLOY_QUOTA", value_name = "N/PERIOD")]
    pub quota: Option<String>,

    /// Concurrent executions reserved for (and capping) the function [default: none]
    #[arg(long, env = "AGENTDEPLOY_RESERVED_CONCURRENCY", value_name = "N")]
    pub reserved_concurrency: Option<String>,

    /// Ship this file of the agent directory even though its name looks like a secret (`.env.*`,
    /// `*.pem`, `id_rsa`, `.aws/`...); a path relative to the agent directory, repeatable
    #[arg(long = "include", value_name = "PATH")]
    pub include: Vec<String>,

    /// With --conversation session: days a session is kept after its last turn [default: 7]
    #[arg(long, env = "AGENTDEPLOY_SESSION_TTL_DAYS", value_name = "DAYS")]
    pub session_ttl_days: Option<String>,

    /// Build in a container: auto, always or never [default: auto]
    #[arg(long, env = "AGENTDEPLOY_USE_CONTAINER", value_name = "WHEN")]
    pub use_container: Option<String>,

    /// Deploy even if nothing changed
    #[arg(long)]
    pub force: bool,

    /// Where the SAM project is written [default: .agentdeploy/<env-or-default>/<function-name>/]
    #[arg(long, env = "AGENTDEPLOY_OUT_DIR", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

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
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Function name
    pub name: String,
    /// Do not ask
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Check each stack's current status
    #[arg(long)]
    pub refresh: bool,
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
    #[arg(long, value_enum)]
    pub architecture: Option<Architecture>,
    /// Count API Gateway REST requests: on or off (on follows the agent's endpoint)
    #[arg(long, default_value = "on")]
    pub api_gateway: String,
    /// TOML file overriding some or all prices (see templates/prices.toml)
    #[arg(long, env = "AGENTDEPLOY_PRICES", value_name = "FILE")]
    pub prices: Option<std::path::PathBuf>,
}
