//! Resolves one agent's effective settings from built-in defaults, the config file, the
//! `AGENTDEPLOY_*` variables and the flags (in that order), and validates every value before
//! any work starts (SPEC §3, §4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::{Architecture, AuthMode, EndpointKind, LambdaArgs, UseContainer};
use crate::config::{AgentSection, LoadedConfig};
use crate::error::{Error, Result};

pub const DEFAULT_MEMORY: u32 = 512;
pub const DEFAULT_TIMEOUT: u32 = 300;
pub const API_GATEWAY_TIMEOUT_SECONDS: u32 = 29;

/// Where secret values live (SPEC §7, issue: secrets end to end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretsStore {
    /// NoEcho CloudFormation parameters into the function's environment variables.
    Env,
    /// SSM Parameter Store SecureStrings, read by the function once per cold start.
    Ssm,
}

impl SecretsStore {
    /// The SSM parameter holding one secret of one stack.
    pub fn parameter_name(stack_name: &str, secret: &str) -> String {
        format!("/agentdeploy/{stack_name}/{secret}")
    }
}

/// What a deployment ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentKind {
    /// The user's agent file inside the generated handler.
    Agent,
    /// agentdeploy's ready code-execution function, discovered by the lambda-tool MCP server.
    CodeInterpreter,
}

impl DeploymentKind {
    /// Functions whose names start with this are the MCP server's tools (`FUNCTION_PREFIX`).
    pub const MCP_FUNCTION_PREFIX: &'static str = "mcp-tool-";

    pub fn parse(text: &str) -> Option<DeploymentKind> {
        match text {
            "agent" => Some(DeploymentKind::Agent),
            "code-interpreter" => Some(DeploymentKind::CodeInterpreter),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentKind::Agent => "agent",
            DeploymentKind::CodeInterpreter => "code-interpreter",
        }
    }

    /// The deployed function's name: a code interpreter carries the MCP prefix.
    pub fn function_name(self, name: &str) -> String {
        match self {
            DeploymentKind::CodeInterpreter if !name.starts_with(Self::MCP_FUNCTION_PREFIX) => {
                format!("{}{name}", Self::MCP_FUNCTION_PREFIX)
            }
            _ => name.to_string(),
        }
    }
}

/// A Lambda Python runtime, `python3.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Runtime {
    pub minor: u8,
}

impl Runtime {
    pub const SUPPORTED: [Runtime; 3] = [
        Runtime { minor: 14 },
        Runtime { minor: 13 },
        Runtime { minor: 12 },
    ];
    pub const DEPRECATED: [Runtime; 2] = [Runtime { minor: 11 }, Runtime { minor: 10 }];
    pub const FALLBACK: Runtime = Runtime { minor: 13 };

    pub fn name(self) -> String {
        format!("python3.{}", self.minor)
    }

    /// `3.13`, as pip's `--python-version` wants it.
    pub fn version(self) -> String {
        format!("3.{}", self.minor)
    }

    /// The interpreter `sam build` looks for on PATH.
    pub fn interpreter(self) -> String {
        self.name()
    }

    /// python3.12 and newer run on Amazon Linux 2023 (glibc 2.34); older ones on Amazon Linux 2.
    pub fn on_amazon_linux_2023(self) -> bool {
        self.minor >= 12
    }

    pub fn parse(text: &str) -> Option<Runtime> {
        let minor = text.strip_prefix("python3.")?.parse::<u8>().ok()?;
        Some(Runtime { minor })
    }

    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    pub fn is_deprecated(self) -> bool {
        Self::DEPRECATED.contains(&self)
    }
}

/// Whose conversation a request continues (SPEC §5). Serialized as its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversation {
    /// Every request starts from the agents' state right after import.
    Isolated,
    /// One process-wide memory, as the agent code alone would behave.
    Shared,
    /// Stored per (caller, session_id) in the stack's private S3 bucket, across cold starts;
    /// kept for this many days after the last turn.
    Session { ttl_days: u32 },
}

impl Conversation {
    pub fn as_str(self) -> &'static str {
        match self {
            Conversation::Isolated => "isolated",
            Conversation::Shared => "shared",
            Conversation::Session { .. } => "session",
        }
    }

    pub fn session_ttl_days(self) -> Option<u32> {
        match self {
            Conversation::Session { ttl_days } => Some(ttl_days),
            _ => None,
        }
    }
}

impl Serialize for Conversation {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "bucket")]
pub enum ArtifactBucket {
    Resolve,
    Named(String),
}

/// Everything one deployment needs, validated.
#[derive(Debug, Clone, Serialize)]
pub struct LambdaSettings {
    pub kind: DeploymentKind,
    pub function_name: String,
    pub env_name: Option<String>,
    pub agent: PathBuf,
    pub requirements: Option<PathBuf>,
    pub memory: u32,
    pub timeout: u32,
    pub runtime: Runtime,
    pub architecture: Architecture,
    pub stack_name: String,
    pub env_vars: BTreeMap<String, String>,
    pub secrets: Vec<String>,
    pub secrets_store: SecretsStore,
    /// `--entry`: the function or Agent variable the handler calls (None: found by the rules).
    pub entry: Option<String>,
    /// `--include`: files of the agent directory shipped although their names look secret.
    pub include: Vec<PathBuf>,
    pub conversation: Conversation,
    pub endpoint: EndpointKind,
    pub auth: AuthMode,
    /// API-key endpoints: the usage plan's throttle and quota (None for other endpoints).
    pub usage_limits: Option<UsageLimits>,
    /// `--reserved-concurrency`: reserved for, and capping, the function.
    pub reserved_concurrency: Option<u32>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    pub policies: Vec<String>,
    pub artifact_bucket: ArtifactBucket,
    pub use_container: UseContainer,
    pub out_dir: PathBuf,
    pub region: Option<String>,
    pub profile: Option<String>,
    #[serde(skip)]
    pub force: bool,
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Where `.env` files and the deployment record live: the config's folder, else the cwd.
    #[serde(skip)]
    pub project_dir: PathBuf,
}

/// Which interpreters answer on PATH; injected so tests decide what "installed" means.
pub trait InterpreterProbe {
    fn has_interpreter(&self, runtime: Runtime) -> bool;

    /// The first of `candidates` (newest first) whose interpreter answers.
    fn first_available(&self, candidates: &[Runtime]) -> Option<Runtime> {
        candidates
            .iter()
            .copied()
            .find(|r| self.has_interpreter(*r))
    }
}

/// Remembers another probe's answers: a fleet of many agents asks the machine once per run, not
/// once per agent (500 agents: one interpreter start instead of 500).
pub struct CachedProbe<P> {
    inner: P,
    answers: std::sync::Mutex<BTreeMap<Vec<u8>, Option<Runtime>>>,
}

impl<P: InterpreterProbe> CachedProbe<P> {
    pub fn new(inner: P) -> Self {
        CachedProbe {
            inner,
            answers: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
}

impl<P: InterpreterProbe> InterpreterProbe for CachedProbe<P> {
    fn has_interpreter(&self, runtime: Runtime) -> bool {
        self.first_available(&[runtime]).is_some()
    }

    fn first_available(&self, candidates: &[Runtime]) -> Option<Runtime> {
        let key: Vec<u8> = candidates.iter().map(|r| r.minor).collect();
        if let Ok(answers) = self.answers.lock()
            && let Some(answer) = answers.get(&key)
        {
            return *answer;
        }
        let answer = self.inner.first_available(candidates);
        if let Ok(mut answers) = self.answers.lock() {
            answers.insert(key, answer);
        }
        answer
    }
}

/// Asks the machine: `python3.X` must be on PATH *and* start (a pyenv shim for a version that is
/// not selected is on PATH but fails, exactly as `sam build`'s binary validation would).
pub struct PathProbe;

impl InterpreterProbe for PathProbe {
    fn has_interpreter(&self, runtime: Runtime) -> bool {
        self.first_available(&[runtime]).is_some()
    }

    /// Starts every candidate at once and reads the answers newest first, so the choice costs
    /// one interpreter start (a pyenv shim takes ~0.2 s), not one per candidate; the probes no
    /// longer needed are stopped.
    fn first_available(&self, candidates: &[Runtime]) -> Option<Runtime> {
        use crate::tools::VersionProbe;
        let probes: Vec<(Runtime, Option<VersionProbe>)> = candidates
            .iter()
            .map(|r| (*r, VersionProbe::start(&r.interpreter())))
            .collect();
        let mut found = None;
        for (runtime, probe) in probes {
            let Some(probe) = probe else { continue };
            if found.is_some() {
                probe.stop();
            } else if probe.finish() == Some((3, u32::from(runtime.minor))) {
                found = Some(runtime);
            }
        }
        found
    }
}

pub struct ResolveInput<'a> {
    pub function_name: &'a str,
    pub args: &'a LambdaArgs,
    pub config: Option<&'a LoadedConfig>,
    pub env_name: Option<&'a str>,
    pub global_region: Option<&'a str>,
    pub global_profile: Option<&'a str>,
    pub cwd: &'a Path,
}

pub fn resolve(input: ResolveInput<'_>, probe: &dyn InterpreterProbe) -> Result<LambdaSettings> {
    let ResolveInput {
        function_name,
        args,
        config,
        env_name,
        global_region,
        global_profile,
        cwd,
    } = input;
    validate_function_name(function_name)?;
    let config_name = function_name;
    let section = match config {
        Some(config) => config.section_for(function_name, env_name)?,
        None => {
            if let Some(env) = env_name {
                return Err(Error::usage_hint(
                    "--env",
                    format!("environment `{env}` selected but there is no config file"),
                    "create agentdeploy.toml with an [environments.NAME] table (`agentdeploy init`), or drop --env",
                ));
            }
            AgentSection::default()
        }
    };
    let project_dir = config
        .map(|c| c.dir().to_path_buf())
        .unwrap_or_else(|| cwd.to_path_buf());
    let mut warnings = Vec::new();

    let kind = match args.kind.as_deref().or(section.kind.as_deref()) {
        None => DeploymentKind::Agent,
        Some(text) => DeploymentKind::parse(text).ok_or_else(|| {
            Error::usage(
                "--kind",
                format!("`{text}` is not one of: agent, code-interpreter"),
            )
        })?,
    };
    let deployed_name = kind.function_name(config_name);
    validate_function_name(&deployed_name)?;
    let function_name = deployed_name.as_str();
    let is_interpreter = kind == DeploymentKind::CodeInterpreter;

    let agent = if is_interpreter {
        // The code interpreter's source is built in; no agent file is read.
        project_dir.join("code_interpreter.py")
    } else {
        args
        .agent
        .clone()
        .map(|p| absolutize(cwd, p))
        .or(section.agent.clone())
        .ok_or_else(|| {
            Error::usage_hint(
                "--agent",
                format!("no agent file for `{function_name}`"),
                format!("pass --agent FILE, or set `agent` under [agents.{function_name}] in agentdeploy.toml"),
            )
        })?
    };
    let requirements = args
        .requirements
        .clone()
        .map(|p| absolutize(cwd, p))
        .or(section.requirements.clone());

    let memory = pick_number(
        "--memory",
        args.memory.as_deref(),
        section.memory,
        if is_interpreter { 1024 } else { DEFAULT_MEMORY },
    )?;
    validate_memory(memory)?;
    let timeout = pick_number(
        "--timeout",
        args.timeout.as_deref(),
        section.timeout,
        if is_interpreter { 600 } else { DEFAULT_TIMEOUT },
    )?;
    if !(3..=900).contains(&timeout) {
        return Err(Error::usage(
            "--timeout",
            format!("{timeout} s is out of range; allowed: 3-900 seconds"),
        ));
    }

    let allow_deprecated =
        args.allow_deprecated_runtime || section.allow_deprecated_runtime.unwrap_or(false);
    let runtime = match args.runtime.as_deref().or(section.runtime.as_deref()) {
        Some(text) => validate_runtime(text, allow_deprecated, &mut warnings)?,
        None if is_interpreter => Runtime::FALLBACK,
        None => default_runtime(probe),
    };

    let architecture = match args
        .architecture
        .as_deref()
        .or(section.architecture.as_deref())
    {
        None if is_interpreter => Architecture::Arm64,
        None => Architecture::X86_64,
        Some("x86_64") => Architecture::X86_64,
        Some("arm64") => Architecture::Arm64,
        Some(other) => {
            return Err(Error::usage(
                "--architecture",
                format!("`{other}` is not an architecture Lambda offers; allowed: x86_64, arm64"),
            ));
        }
    };

    let stack_name = match args.stack_name.clone().or(section.stack_name.clone()) {
        Some(name) => name,
        None => default_stack_name(function_name, env_name),
    };
    validate_stack_name(&stack_name)?;

    let mut env_vars = section.env_vars.clone().unwrap_or_default();
    for pair in &args.env_vars {
        let (key, value) = parse_pair("--env-var", pair)?;
        env_vars.insert(key, value);
    }
    for key in env_vars.keys() {
        validate_env_key("--env-var", key)?;
    }
    let mut secrets = section.secrets.clone().unwrap_or_default();
    for name in &args.secrets {
        if name.contains('=') {
            return Err(Error::usage_hint(
                "--secret",
                format!(
                    "`{}` looks like NAME=VALUE; secret values never go on the command line",
                    name.split('=').next().unwrap_or_default()
                ),
                "pass only the NAME and export its value in the environment or put it in .env",
            ));
        }
        if !secrets.contains(name) {
            secrets.push(name.clone());
        }
    }
    for name in &secrets {
        validate_env_key("--secret", name)?;
        if env_vars.contains_key(name) {
            return Err(Error::usage(
                "--secret",
                format!("`{name}` is both an env var and a secret; keep it in one place"),
            ));
        }
    }

    let secrets_store = match args
        .secrets_store
        .as_deref()
        .or(section.secrets_store.as_deref())
    {
        None | Some("env") => SecretsStore::Env,
        Some("ssm") => SecretsStore::Ssm,
        Some(other) => {
            return Err(Error::usage(
                "--secrets-store",
                format!("`{other}` is not one of: env, ssm"),
            ));
        }
    };

    let entry = args.entry.clone().or(section.entry.clone());
    if let Some(name) = &entry {
        let mut chars = name.chars();
        let identifier = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Error::usage(
                "--entry",
                format!("`{name}` is not a Python name (a top-level function or Agent variable)"),
            ));
        }
    }

    let conversation = match args
        .conversation
        .as_deref()
        .or(section.conversation.as_deref())
    {
        None | Some("isolated") => Conversation::Isolated,
        Some("shared") => {
            warnings.push("--conversation shared: callers share the agent's memory and see each other's conversations; use it only when one caller owns the function".into());
            Conversation::Shared
        }
        Some("session") => Conversation::Session {
            ttl_days: session_ttl_days(args, &section)?,
        },
        Some(other) => {
            return Err(Error::usage(
                "--conversation",
                format!("`{other}` is not one of: isolated, shared, session"),
            ));
        }
    };

    if args.session_ttl_days.is_some() && conversation.session_ttl_days().is_none() {
        return Err(Error::usage_hint(
            "--session-ttl-days",
            "sessions are kept only with --conversation session",
            "add --conversation session, or drop --session-ttl-days",
        ));
    }

    let endpoint = match args.endpoint.as_deref().or(section.endpoint.as_deref()) {
        None if is_interpreter => EndpointKind::None,
        None | Some("api") => EndpointKind::Api,
        Some("url") => EndpointKind::Url,
        Some("none") => EndpointKind::None,
        Some(other) => {
            return Err(Error::usage(
                "--endpoint",
                format!("`{other}` is not one of: api, url, none"),
            ));
        }
    };
    let auth = match args.auth.as_deref().or(section.auth.as_deref()) {
        None => match endpoint {
            EndpointKind::Api => AuthMode::ApiKey,
            EndpointKind::Url | EndpointKind::None => AuthMode::Iam,
        },
        Some("none") => AuthMode::None,
        Some("api-key") => AuthMode::ApiKey,
        Some("iam") => AuthMode::Iam,
        Some(other) => {
            return Err(Error::usage(
                "--auth",
                format!("`{other}` is not one of: none, api-key, iam"),
            ));
        }
    };
    match (endpoint, auth) {
        (EndpointKind::Url, AuthMode::ApiKey) => {
            return Err(Error::usage_hint(
                "--auth",
                "api-key authentication needs --endpoint api; a Function URL supports only iam or none",
                "use --endpoint api --auth api-key, or --endpoint url --auth iam",
            ));
        }
        (EndpointKind::None, AuthMode::None | AuthMode::ApiKey)
            if args.auth.is_some() || section.auth.is_some() =>
        {
            return Err(Error::usage(
                "--auth",
                "there is no endpoint to protect with --endpoint none; drop --auth",
            ));
        }
        (EndpointKind::Api | EndpointKind::Url, AuthMode::None) if is_interpreter => {
            return Err(Error::usage_hint(
                "--auth",
                format!(
                    "a code interpreter runs whatever code it is sent; a public {} endpoint (--auth none) would let anyone run code on your account",
                    endpoint.as_str()
                ),
                "use --auth iam (or api-key with --endpoint api), or --endpoint none and call it with Lambda Invoke",
            ));
        }
        (EndpointKind::Api | EndpointKind::Url, AuthMode::None) => warnings.push(format!(
            "the {} endpoint is public (--auth none): anyone who finds it can run up model costs",
            endpoint.as_str()
        )),
        _ => {}
    }
    let usage_limits = usage_limits(args, &section, endpoint, auth)?;
    let reserved_concurrency = match args
        .reserved_concurrency
        .as_deref()
        .map(|text| {
            text.trim().parse::<u32>().map_err(|_| {
                Error::usage(
                    "--reserved-concurrency",
                    format!("`{text}` is not a whole number"),
                )
            })
        })
        .transpose()?
        .or(section.reserved_concurrency)
    {
        Some(0) => {
            return Err(Error::usage_hint(
                "--reserved-concurrency",
                "0 would stop every invocation of the function",
                "give at least 1, or leave it out for the account's unreserved pool; to take the agent offline use `agentdeploy destroy`",
            ));
        }
        other => other,
    };
    if endpoint == EndpointKind::Api && timeout > API_GATEWAY_TIMEOUT_SECONDS {
        warnings.push(format!(
            "API Gateway cuts requests at {API_GATEWAY_TIMEOUT_SECONDS} s but the timeout is {timeout} s: long agent runs will get 504s; consider --endpoint url"
        ));
    }

    let subnet_ids = pick_list(&args.subnet_ids, &section.subnet_ids);
    let security_group_ids = pick_list(&args.security_group_ids, &section.security_group_ids);
    match (subnet_ids.is_empty(), security_group_ids.is_empty()) {
        (false, true) => {
            return Err(Error::usage(
                "--subnet-ids",
                "VPC subnets need --security-group-ids too",
            ));
        }
        (true, false) => {
            return Err(Error::usage(
                "--security-group-ids",
                "VPC security groups need --subnet-ids too",
            ));
        }
        _ => {}
    }
    for id in &subnet_ids {
        if !is_resource_id(id, "subnet-") {
            return Err(Error::usage(
                "--subnet-ids",
                format!("`{id}` is not a subnet id (subnet- and 8 or 17 hex digits)"),
            ));
        }
    }
    for id in &security_group_ids {
        if !is_resource_id(id, "sg-") {
            return Err(Error::usage(
                "--security-group-ids",
                format!("`{id}` is not a security group id (sg- and 8 or 17 hex digits)"),
            ));
        }
    }

    let mut tags = section.tags.clone().unwrap_or_default();
    for pair in &args.tags {
        let (key, value) = parse_pair("--tag", pair)?;
        tags.insert(key, value);
    }
    for (key, value) in &tags {
        if key.is_empty() || key.len() > 128 || value.len() > 256 || key.starts_with("aws:") {
            return Err(Error::usage(
                "--tag",
                format!(
                    "`{key}`: tag keys are 1-128 characters, not starting with aws:, values at most 256"
                ),
            ));
        }
    }

    let policies = pick_list(&args.policies, &section.policies);
    for arn in &policies {
        if !arn.starts_with("arn:") || !arn.contains(":policy/") {
            return Err(Error::usage(
                "--policy",
                format!("`{arn}` is not a managed policy ARN (arn:aws:iam::...:policy/...)"),
            ));
        }
    }

    let bucket = args.s3_bucket.clone().or(section.s3_bucket.clone());
    let resolve_s3 =
        args.resolve_s3 || (section.resolve_s3 == Some(true) && args.s3_bucket.is_none());
    let artifact_bucket = match (bucket, resolve_s3) {
        (Some(_), true) => {
            return Err(Error::usage(
                "--s3-bucket",
                "--s3-bucket and --resolve-s3 exclude each other; pick one",
            ));
        }
        (Some(bucket), false) => {
            validate_bucket_name(&bucket)?;
            ArtifactBucket::Named(bucket)
        }
        (None, _) => ArtifactBucket::Resolve,
    };

    let use_container = match args
        .use_container
        .as_deref()
        .or(section.use_container.as_deref())
    {
        None | Some("auto") => UseContainer::Auto,
        Some("always") => UseContainer::Always,
        Some("never") => UseContainer::Never,
        Some(other) => {
            return Err(Error::usage(
                "--use-container",
                format!("`{other}` is not one of: auto, always, never"),
            ));
        }
    };

    let out_dir = args
        .out_dir
        .clone()
        .map(|p| absolutize(cwd, p))
        .or(section.out_dir.clone())
        .unwrap_or_else(|| {
            project_dir
                .join(".agentdeploy")
                .join(env_name.unwrap_or("default"))
                .join(function_name)
        });
    let agent_dir = agent.is_dir().then_some(agent.as_path());
    if let Some(problem) = crate::files::out_dir_problem(&out_dir, &project_dir, agent_dir) {
        return Err(Error::usage_hint(
            "--out-dir",
            problem,
            "pick a new or empty folder (or leave --out-dir out: agentdeploy uses .agentdeploy/ENV/FUNCTION)",
        ));
    }

    let include = included_files(&pick_list(&args.include, &section.include), agent_dir)?;

    Ok(LambdaSettings {
        kind,
        function_name: function_name.to_string(),
        env_name: env_name.map(str::to_string),
        agent,
        requirements,
        memory,
        timeout,
        runtime,
        architecture,
        stack_name,
        env_vars,
        secrets,
        secrets_store,
        entry,
        include,
        conversation,
        endpoint,
        auth,
        usage_limits,
        reserved_concurrency,
        subnet_ids,
        security_group_ids,
        tags,
        policies,
        artifact_bucket,
        use_container,
        out_dir,
        region: match global_region.map(str::to_string).or(section.region.clone()) {
            Some(region) => Some(validate_region(region)?),
            None => None,
        },
        profile: global_profile
            .map(str::to_string)
            .or(section.profile.clone()),
        force: args.force,
        warnings,
        project_dir,
    })
}

/// EC2 ids: a prefix and 8 or 17 lowercase hex digits.
fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn absolutize(cwd: &Path, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        cwd.join(path)
    }
}

/// `--include` paths: relative to the agent directory, inside it, and present.
fn included_files(paths: &[String], agent_dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut included = Vec::new();
    for path in paths {
        let Some(agent_dir) = agent_dir else {
            return Err(Error::usage_hint(
                "--include",
                format!(
                    "`{path}`: --include names files of an agent directory, and --agent is a single file"
                ),
                "point --agent at the folder, or drop --include",
            ));
        };
        let relative = Path::new(path);
        let escapes = relative.is_absolute()
            || relative
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
        if escapes {
            return Err(Error::usage(
                "--include",
                format!(
                    "`{path}` must be a plain path relative to the agent directory (no `..`, not absolute)"
                ),
            ));
        }
        if !agent_dir.join(relative).is_file() {
            return Err(Error::usage(
                "--include",
                format!("`{path}` is not a file in {}", agent_dir.display()),
            ));
        }
        included.push(relative.to_path_buf());
    }
    Ok(included)
}

fn pick_list(flag: &[String], section: &Option<Vec<String>>) -> Vec<String> {
    if flag.is_empty() {
        section.clone().unwrap_or_default()
    } else {
        flag.to_vec()
    }
}

fn pick_number(flag: &str, text: Option<&str>, section: Option<u32>, default: u32) -> Result<u32> {
    match text {
        Some(text) => text
            .trim()
            .parse::<u32>()
            .map_err(|_| Error::usage(flag, format!("`{text}` is not a whole number"))),
        None => Ok(section.unwrap_or(default)),
    }
}

pub fn validate_function_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::usage(
            "--function-name",
            format!(
                "`{name}` is not a valid function name; use 1-64 characters of A-Z a-z 0-9 - _"
            ),
        ))
    }
}

/// `agentdeploy-FUNCTION[-ENV]`, with `_` (valid in function names, not in stack names) as `-`.
/// Function names (64) and environment names (32) are bounded, so it always fits 128 characters.
pub fn default_stack_name(function_name: &str, env_name: Option<&str>) -> String {
    let name = match env_name {
        Some(env) => format!("agentdeploy-{function_name}-{env}"),
        None => format!("agentdeploy-{function_name}"),
    };
    name.replace('_', "-")
}

fn validate_stack_name(name: &str) -> Result<()> {
    let valid = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::usage(
            "--stack-name",
            format!(
                "`{name}` is not a valid stack name; start with a letter, use A-Z a-z 0-9 -, at most 128 characters"
            ),
        ))
    }
}

fn validate_runtime(
    text: &str,
    allow_deprecated: bool,
    warnings: &mut Vec<String>,
) -> Result<Runtime> {
    let allowed = "allowed: python3.12, python3.13, python3.14";
    let runtime = Runtime::parse(text).ok_or_else(|| {
        Error::usage(
            "--runtime",
            format!("`{text}` is not a Lambda Python runtime; {allowed}"),
        )
    })?;
    if runtime.is_supported() {
        return Ok(runtime);
    }
    if runtime.is_deprecated() {
        if allow_deprecated {
            warnings.push(format!(
                "{} is deprecated: Lambda blocks creating and updating functions on it; deploys may be refused",
                runtime.name()
            ));
            return Ok(runtime);
        }
        return Err(Error::usage_hint(
            "--runtime",
            format!(
                "{} is deprecated: Lambda no longer creates or updates functions on it; {allowed}",
                runtime.name()
            ),
            "move to python3.13, or pass --allow-deprecated-runtime to try anyway",
        ));
    }
    Err(Error::usage(
        "--runtime",
        format!("`{text}` is not a Lambda Python runtime; {allowed}"),
    ))
}

/// Lambda's memory range.
pub fn validate_memory(memory: u32) -> Result<()> {
    if (128..=10240).contains(&memory) {
        Ok(())
    } else {
        Err(Error::usage(
            "--memory",
            format!("{memory} MB is out of range; allowed: 128-10240 MB"),
        ))
    }
}

/// The newest supported runtime whose interpreter answers, else python3.13.
pub fn default_runtime(probe: &dyn InterpreterProbe) -> Runtime {
    probe
        .first_available(&Runtime::SUPPORTED)
        .unwrap_or(Runtime::FALLBACK)
}

/// `KEY=VALUE` with a non-empty key.
pub fn parse_pair(flag: &str, pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(Error::usage(flag, format!("`{pair}` is not KEY=VALUE"))),
    }
}

/// Names the session bucket for the handler (`--conversation session`).
pub const SESSION_BUCKET_VARIABLE: &str = "AGENTDEPLOY_SESSION_BUCKET";

/// Days a session is kept after its last turn (S3 lifecycle expiry).
pub const DEFAULT_SESSION_TTL_DAYS: u32 = 7;

fn session_ttl_days(args: &LambdaArgs, section: &AgentSection) -> Result<u32> {
    let days = match args.session_ttl_days.as_deref() {
        Some(text) => text.trim().parse::<u32>().map_err(|_| {
            Error::usage(
                "--session-ttl-days",
                format!("`{text}` is not a whole number of days"),
            )
        })?,
        None => section.session_ttl_days.unwrap_or(DEFAULT_SESSION_TTL_DAYS),
    };
    if !(1..=3650).contains(&days) {
        return Err(Error::usage(
            "--session-ttl-days",
            format!("{days} days is out of range; allowed: 1-3650"),
        ));
    }
    Ok(days)
}

/// An API key's limits: a leaked key can cost at most this much model use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageLimits {
    pub rate_per_second: f64,
    pub burst: u32,
    pub quota: u32,
    /// DAY, WEEK or MONTH, as API Gateway names them.
    pub quota_period: &'static str,
}

/// Defaults for an LLM agent: each request is a model call (cents to dimes), so a key gets a
/// human's pace, not a load test's; a leaked key costs at most 1,000 calls a day.
pub const DEFAULT_USAGE_LIMITS: UsageLimits = UsageLimits {
    rate_per_second: 2.0,
    burst: 5,
    quota: 1000,
    quota_period: "DAY",
};

fn usage_limits(
    args: &LambdaArgs,
    section: &AgentSection,
    endpoint: EndpointKind,
    auth: AuthMode,
) -> Result<Option<UsageLimits>> {
    let rate = match args.rate_limit.as_deref() {
        Some(text) => Some(text.trim().parse::<f64>().map_err(|_| {
            Error::usage(
                "--rate-limit",
                format!("`{text}` is not a positive number of requests per second"),
            )
        })?),
        None => section.rate_limit,
    };
    let burst = match args.burst_limit.as_deref() {
        Some(text) => Some(text.trim().parse::<u32>().map_err(|_| {
            Error::usage(
                "--burst-limit",
                format!("`{text}` is not a whole number of at least 1"),
            )
        })?),
        None => section.burst_limit,
    };
    let quota = args.quota.clone().or(section.quota.clone());
    let given = [
        ("--rate-limit", rate.is_some()),
        ("--burst-limit", burst.is_some()),
        ("--quota", quota.is_some()),
    ];
    if !(endpoint == EndpointKind::Api && auth == AuthMode::ApiKey) {
        if let Some((flag, _)) = given.iter().find(|(_, set)| *set) {
            return Err(Error::usage_hint(
                *flag,
                "usage limits apply to API keys, and this endpoint has none",
                "use --endpoint api --auth api-key, or drop the limit (--reserved-concurrency caps any endpoint)",
            ));
        }
        return Ok(None);
    }
    let mut limits = DEFAULT_USAGE_LIMITS;
    // One check for the flag and the config value alike.
    if let Some(rate) = rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(Error::usage(
                "--rate-limit",
                format!("`{rate}` is not a positive number of requests per second"),
            ));
        }
        limits.rate_per_second = rate;
    }
    if let Some(burst) = burst {
        if burst == 0 {
            return Err(Error::usage(
                "--burst-limit",
                "`0` is not a whole number of at least 1",
            ));
        }
        limits.burst = burst;
    }
    if let Some(text) = quota {
        let parsed = text.split_once('/').and_then(|(count, period)| {
            let count = count.trim().parse::<u32>().ok().filter(|c| *c >= 1)?;
            let period = match period.trim() {
                "day" => "DAY",
                "week" => "WEEK",
                "month" => "MONTH",
                _ => return None,
            };
            Some((count, period))
        });
        let Some((count, period)) = parsed else {
            return Err(Error::usage_hint(
                "--quota",
                format!("`{}` is not N/day, N/week or N/month", text.escape_debug()),
                "for example --quota 5000/day",
            ));
        };
        limits.quota = count;
        limits.quota_period = period;
    }
    Ok(Some(limits))
}

/// S3's bucket naming rules: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
fn validate_bucket_name(bucket: &str) -> Result<()> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(Error::usage(
            "--s3-bucket",
            format!(
                "`{}` is not a valid S3 bucket name; use 3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit",
                bucket.escape_debug()
            ),
        ))
    }
}

/// An AWS region code (`us-east-1`, `us-gov-west-1`, `eu-central-2`): letters, dashes, a number.
fn validate_region(region: String) -> Result<String> {
    let parts: Vec<&str> = region.split('-').collect();
    let valid = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if valid {
        Ok(region)
    } else {
        Err(Error::usage_hint(
            "--region",
            format!("`{}` is not an AWS region code", region.escape_debug()),
            "use a code such as us-east-1 or eu-central-1",
        ))
    }
}

/// Names Lambda sets itself (credentials, region, runtime paths) or agentdeploy's handler uses:
/// a value under one of them would replace the function's own (for `AWS_SECRET_ACCESS_KEY`, the
/// deployer's key would become the function's credentials).
fn is_reserved_env_name(key: &str) -> bool {
    ["AWS_", "LAMBDA_", "_AGENTDEPLOY", "_HANDLER", "_X_AMZN"]
        .iter()
        .any(|prefix| key.starts_with(prefix))
        || key == crate::secrets::SSM_SECRETS_VARIABLE
        || key == SESSION_BUCKET_VARIABLE
}

fn validate_env_key(flag: &str, key: &str) -> Result<()> {
    let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid && is_reserved_env_name(key) {
        Err(Error::usage(
            flag,
            format!(
                "`{key}` is reserved by Lambda or agentdeploy (AWS_*, LAMBDA_*, _HANDLER...); choose another name"
            ),
        ))
    } else if valid {
        Ok(())
    } else {
        Err(Error::usage(
            flag,
            format!(
                "`{key}` is not a valid environment variable name; start with a letter, then A-Z a-z 0-9 _"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Has(Vec<u8>);
    impl InterpreterProbe for Has {
        fn has_interpreter(&self, runtime: Runtime) -> bool {
            self.0.contains(&runtime.minor)
        }
    }

    fn resolve_args(args: LambdaArgs) -> Result<LambdaSettings> {
        resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: None,
                env_name: None,
                global_region: None,
                global_profile: None,
                cwd: Path::new("/w"),
            },
            &Has(vec![]),
        )
    }

    fn with_agent() -> LambdaArgs {
        LambdaArgs {
            agent: Some("a.py".into()),
            ..Default::default()
        }
    }

    fn flag_of(err: Error) -> (String, String) {
        match err {
            Error::Usage { flag, message, .. } => (flag, message),
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = resolve_args(with_agent()).unwrap();
        assert_eq!(s.memory, 512);
        assert_eq!(s.timeout, 300);
        assert_eq!(s.runtime.name(), "python3.13");
        assert_eq!(s.architecture, Architecture::X86_64);
        assert_eq!(s.stack_name, "agentdeploy-agent");
        assert_eq!(s.endpoint, EndpointKind::Api);
        assert_eq!(s.auth, AuthMode::ApiKey);
        assert_eq!(s.artifact_bucket, ArtifactBucket::Resolve);
        assert_eq!(s.out_dir, Path::new("/w/.agentdeploy/default/agent"));
        assert_eq!(s.agent, Path::new("/w/a.py"));
        // 300 s behind API Gateway is cut at 29 s.
        assert!(
            s.warnings.iter().any(|w| w.contains("29 s")),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn default_runtime_is_the_newest_with_an_interpreter() {
        let args = with_agent();
        let input = |probe: &dyn InterpreterProbe| {
            resolve(
                ResolveInput {
                    function_name: "a",
                    args: &args,
                    config: None,
                    env_name: None,
                    global_region: None,
                    global_profile: None,
                    cwd: Path::new("/"),
                },
                probe,
            )
            .unwrap()
            .runtime
        };
        assert_eq!(input(&Has(vec![12])).name(), "python3.12");
        assert_eq!(input(&Has(vec![12, 14])).name(), "python3.14");
        assert_eq!(input(&Has(vec![11])).name(), "python3.13");
    }

    #[test]
    fn function_names() {
        for good in ["a", "my-agent_2", &"x".repeat(64)] {
            assert!(validate_function_name(good).is_ok(), "{good}");
        }
        for bad in ["", "has space", "dot.name", &"x".repeat(65), "ünï"] {
            let (flag, _) = flag_of(validate_function_name(bad).unwrap_err());
            assert_eq!(flag, "--function-name");
        }
    }

    #[test]
    fn ranges_name_the_flag_and_the_range() {
        let (flag, msg) = flag_of(
            resolve_args(LambdaArgs {
                memory: Some("64".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--memory");
        assert!(msg.contains("128-10240"), "{msg}");
        let (flag, msg) = flag_of(
            resolve_args(LambdaArgs {
                memory: Some("lots".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--memory");
        assert!(msg.contains("not a whole number"), "{msg}");
        let (flag, msg) = flag_of(
            resolve_args(LambdaArgs {
                timeout: Some("901".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--timeout");
        assert!(msg.contains("3-900"), "{msg}");
        assert!(
            resolve_args(LambdaArgs {
                timeout: Some("3".into()),
                memory: Some("10240".into()),
                ..with_agent()
            })
            .is_ok()
        );
    }

    #[test]
    fn runtimes() {
        let rt = |r: &str, allow: bool| {
            resolve_args(LambdaArgs {
                runtime: Some(r.into()),
                allow_deprecated_runtime: allow,
                ..with_agent()
            })
        };
        assert_eq!(rt("python3.12", false).unwrap().runtime.minor, 12);
        assert_eq!(rt("python3.14", false).unwrap().runtime.minor, 14);
        let (flag, msg) = flag_of(rt("python3.11", false).unwrap_err());
        assert_eq!(flag, "--runtime");
        assert!(msg.contains("deprecated"), "{msg}");
        let s = rt("python3.11", true).unwrap();
        assert_eq!(s.runtime.minor, 11);
        assert!(
            s.warnings
                .iter()
                .any(|w| w.contains("python3.11 is deprecated"))
        );
        assert!(rt("python3.9", true).is_err());
        assert!(rt("nodejs20.x", false).is_err());
    }

    #[test]
    fn stack_names() {
        let sn = |n: &str| {
            resolve_args(LambdaArgs {
                stack_name: Some(n.into()),
                ..with_agent()
            })
        };
        assert!(sn("My-Stack-1").is_ok());
        for bad in ["1stack", "has_underscore", "-x", &"a".repeat(129)] {
            assert_eq!(flag_of(sn(bad).unwrap_err()).0, "--stack-name", "{bad}");
        }
    }

    #[test]
    fn pairs_and_conflicts() {
        let err = resolve_args(LambdaArgs {
            env_vars: vec!["NOEQUALS".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--env-var");
        let err = resolve_args(LambdaArgs {
            tags: vec!["=v".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--tag");
        let s = resolve_args(LambdaArgs {
            env_vars: vec!["A=b=c".into()],
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.env_vars["A"], "b=c");

        let err = resolve_args(LambdaArgs {
            s3_bucket: Some("b".into()),
            resolve_s3: true,
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--s3-bucket");
        let err = resolve_args(LambdaArgs {
            subnet_ids: vec!["subnet-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--subnet-ids");
        let err = resolve_args(LambdaArgs {
            security_group_ids: vec!["sg-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--security-group-ids");
        let err = resolve_args(LambdaArgs {
            subnet_ids: vec!["subnet-xyz".into()],
            security_group_ids: vec!["sg-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--subnet-ids");
        let err = resolve_args(LambdaArgs {
            subnet_ids: vec!["subnet-0123abcd".into()],
            security_group_ids: vec!["sg-1".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--security-group-ids");
        let err = resolve_args(LambdaArgs {
            endpoint: Some("url".into()),
            auth: Some("api-key".into()),
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--auth");
        let err = resolve_args(LambdaArgs {
            secrets: vec!["TOKEN=abc".into()],
            ..with_agent()
        })
        .unwrap_err();
        let (flag, msg) = flag_of(err);
        assert_eq!(flag, "--secret");
        assert!(!msg.contains("abc"), "the value must not be echoed: {msg}");
    }

    #[test]
    fn url_endpoint_defaults_to_iam_and_public_warns() {
        let s = resolve_args(LambdaArgs {
            endpoint: Some("url".into()),
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.auth, AuthMode::Iam);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let s = resolve_args(LambdaArgs {
            endpoint: Some("url".into()),
            auth: Some("none".into()),
            ..with_agent()
        })
        .unwrap();
        assert!(s.warnings.iter().any(|w| w.contains("public")));
    }

    #[test]
    fn flags_beat_config_and_env_stack_suffix() {
        let file = crate::config::parse_toml(
            Path::new("/p/agentdeploy.toml"),
            "[agents.agent]\nagent = \"a.py\"\nmemory = 1024\n[environments.prod]\nmemory = 2048\n",
        )
        .unwrap();
        let config = LoadedConfig {
            path: "/p/agentdeploy.toml".into(),
            file,
        };
        let args = LambdaArgs {
            timeout: Some("20".into()),
            ..Default::default()
        };
        let s = resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: Some(&config),
                env_name: Some("prod"),
                global_region: None,
                global_profile: None,
                cwd: Path::new("/elsewhere"),
            },
            &Has(vec![]),
        )
        .unwrap();
        assert_eq!(s.memory, 2048);
        assert_eq!(s.timeout, 20);
        assert_eq!(s.stack_name, "agentdeploy-agent-prod");
        assert_eq!(s.agent, Path::new("/p/a.py"));
        assert_eq!(s.out_dir, Path::new("/p/.agentdeploy/prod/agent"));
        let args = LambdaArgs {
            memory: Some("4096".into()),
            ..Default::default()
        };
        let s = resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: Some(&config),
                env_name: Some("prod"),
                global_region: None,
                global_profile: None,
                cwd: Path::new("/"),
            },
            &Has(vec![]),
        )
        .unwrap();
        assert_eq!(s.memory, 4096);
    }

    #[test]
    fn a_cached_probe_asks_once_per_question() {
        struct Counting(std::cell::Cell<usize>);
        impl InterpreterProbe for Counting {
            fn has_interpreter(&self, runtime: Runtime) -> bool {
                self.0.set(self.0.get() + 1);
                runtime.minor == 12
            }
        }
        let probe = CachedProbe::new(Counting(std::cell::Cell::new(0)));
        for _ in 0..500 {
            assert_eq!(
                probe.first_available(&Runtime::SUPPORTED),
                Some(Runtime { minor: 12 })
            );
        }
        let asked_once = probe.inner.0.get();
        assert!(asked_once <= Runtime::SUPPORTED.len(), "{asked_once}");
    }
}
