//! Resolves one agent's effective settings from built-in defaults, the config file, the
//! `AGENTDEPLOY_*` variables and the flags (in that order), and validates every value before
//! any work starts (reference §3, §4).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::lambda::kinds::{Architecture, AuthMode, EndpointKind, Isolation, UseContainer};
use crate::lambda::names::{ORIGIN_VARIABLE, SESSION_BUCKET_VARIABLE};
use crate::options::AgentSection;
use crate::options::{Given, Layers, Source};
use crate::target::ResolveInput;

pub const DEFAULT_MEMORY: u32 = 512;
pub const DEFAULT_TIMEOUT: u32 = 300;
pub const API_GATEWAY_TIMEOUT_SECONDS: u32 = 29;

/// Where secret values live (reference §7, issue: secrets end to end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
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

use crate::lambda::runtime::Runtime;

/// Whose conversation a request continues (reference §5). Serialized as its name.
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
    /// `--smoke`: the cases a new version must pass before `live` moves to it, read and checked
    /// with the settings.
    #[serde(skip)]
    pub smoke: Option<crate::smoke::Cases>,
    /// Dependency builds are shared through the artifact bucket (off: `--no-remote-cache`).
    pub remote_cache: bool,
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
    /// Days the function's log group keeps its lines.
    pub log_retention_days: u32,
    /// `--snapstart`: SnapStart on the published versions.
    pub snapstart: bool,
    /// `--isolation`: tenant isolation (execution environments per caller) or process (the
    /// runtime's per-request reset only).
    pub isolation: Isolation,
    /// `--managed-instances`: the capacity provider whose instances run the function, several
    /// requests per execution environment.
    pub managed_instances: Option<ManagedInstances>,
    /// Whether the build imports the agent (sandboxed) to find what to compile; `false` with
    /// `--no-import-probe`.
    pub import_probe: bool,
    /// `--stream`: answers stream through the Lambda Web Adapter (some entries always do).
    pub stream: bool,
    /// `--web-adapter-layer`: the adapter's layer ARN instead of the pinned one.
    pub web_adapter_layer: Option<String>,
    /// `--tracing`: X-Ray active tracing and OpenTelemetry spans through the ADOT layer.
    pub tracing: Option<Tracing>,
    /// `--alarm-errors` / `--alarm-p95`: CloudWatch alarms on the per-request metrics.
    pub alarms: Alarms,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
    /// `--ttl`: a preview stack's age limit after its last change (its `agentdeploy:ttl` tag).
    pub ttl: Option<String>,
    pub policies: Vec<String>,
    /// `--permissions-boundary`: set on every role the stack makes.
    pub permissions_boundary: Option<String>,
    /// `--role`: the function's existing execution role (the stack makes none).
    pub role: Option<String>,
    pub artifact_bucket: ArtifactBucket,
    pub use_container: UseContainer,
    pub out_dir: PathBuf,
    pub region: Option<String>,
    pub profile: Option<String>,
    #[serde(skip)]
    pub force: bool,
    /// `--replace`: a change Lambda allows only at creation replaces the function.
    #[serde(skip)]
    pub replace: bool,
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
        use crate::lambda::tools::VersionProbe;
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

/// Each decision is a named step below; the length is the validated struct's literal.
pub fn resolve(input: ResolveInput<'_>, probe: &dyn InterpreterProbe) -> Result<LambdaSettings> {
    validate_function_name(input.function_name)?;
    let section = config_section(&input)?;
    let cwd = input.cwd;
    let env_name = input.env_name;
    let project_dir = input
        .config
        .map(|c| c.dir().to_path_buf())
        .unwrap_or_else(|| cwd.to_path_buf());
    let layers = layers(&input, &section);
    let mut warnings = Vec::new();

    let kind = deployment_kind(&layers)?;
    let function_name = kind.function_name(input.function_name);
    validate_function_name(&function_name)?;
    let agent = agent_path(&layers, kind, &function_name, &project_dir, cwd)?;
    let (memory, timeout) = sizing(&layers, kind)?;
    let runtime = runtime(&layers, kind, probe, &mut warnings)?;
    let architecture = architecture(&layers, kind)?;
    let stack_name = match layers.stack_name().text() {
        Some(given) => validate_stack_name(given)?,
        None => default_stack_name(&function_name, env_name),
    };
    let (env_vars, secrets) = variables(&layers)?;
    let access = access(&layers, kind, &mut warnings)?;
    let (subnet_ids, security_group_ids) = network(&layers)?;
    let out_dir = out_dir(&layers, &project_dir, env_name, &function_name, &agent, cwd)?;
    let agent_dir = agent.is_dir().then_some(agent.as_path());
    let region = region(&layers, &input)?;
    let snapstart = snapstart(&layers, runtime, region.as_deref(), &mut warnings)?;
    let (isolation, managed_instances) =
        execution(&layers, runtime, &access, snapstart, !subnet_ids.is_empty())?;

    Ok(LambdaSettings {
        kind,
        env_name: env_name.map(str::to_string),
        requirements: layers.requirements().path(cwd),
        smoke: smoke_cases(&layers, cwd)?,
        remote_cache: !layers.no_remote_cache().switch(),
        memory,
        timeout,
        runtime,
        architecture,
        stack_name,
        env_vars,
        secrets,
        secrets_store: secrets_store(&layers)?,
        entry: entry(&layers)?,
        include: included_files(&layers, agent_dir)?,
        conversation: conversation_for(&layers, &access, &mut warnings)?,
        endpoint: access.endpoint,
        auth: access.auth,
        usage_limits: access.usage_limits,
        reserved_concurrency: access.reserved_concurrency,
        log_retention_days: log_retention_days(&layers)?,
        snapstart,
        isolation,
        managed_instances,
        import_probe: !layers.no_import_probe().switch(),
        stream: layers.stream().switch(),
        web_adapter_layer: layer_arn(layers.web_adapter_layer().text())?,
        tracing: tracing(&layers)?,
        alarms: alarms(&layers)?,
        subnet_ids,
        security_group_ids,
        tags: tags(&layers)?,
        ttl: ttl(&layers)?,
        policies: policies(&layers)?,
        permissions_boundary: iam_arn(layers.permissions_boundary().text(), "policy")?,
        role: iam_arn(layers.role().text(), "role")?,
        artifact_bucket: artifact_bucket(&layers)?,
        use_container: use_container(&layers)?,
        out_dir,
        region,
        profile: profile(&layers, &input),
        force: input.args.force,
        replace: input.args.replace,
        warnings,
        project_dir,
        function_name,
        agent,
    })
}

/// `--ttl`: `30m`, `12h`, `3d` (up to a year), as the stack's tag writes it.
fn ttl(layers: &Layers<'_>) -> Result<Option<String>> {
    let Some(given) = layers.ttl().text() else {
        return Ok(None);
    };
    match crate::age::parse(given.value) {
        Some(age) if age.as_secs() <= 365 * 86_400 => Ok(Some(given.value.trim().to_string())),
        _ => Err(given.error(format!(
            "`{}` is not an age up to 365d, like 12h or 3d",
            given.value
        ))),
    }
}

fn smoke_cases(layers: &Layers<'_>, cwd: &Path) -> Result<Option<crate::smoke::Cases>> {
    layers
        .smoke()
        .path(cwd)
        .map(|path| crate::smoke::load(&path))
        .transpose()
}

fn secrets_store(layers: &Layers<'_>) -> Result<SecretsStore> {
    Ok(match layers.secrets_store().text() {
        None => SecretsStore::Env,
        Some(given) => given.choice()?,
    })
}

fn use_container(layers: &Layers<'_>) -> Result<UseContainer> {
    Ok(match layers.use_container().text() {
        None => UseContainer::Auto,
        Some(given) => given.choice()?,
    })
}

/// The conversation mode, and whether its sessions have a caller to be keyed by.
fn conversation_for(
    layers: &Layers<'_>,
    access: &Access,
    warnings: &mut Vec<String>,
) -> Result<Conversation> {
    let chosen = conversation(layers, warnings)?;
    session_callers(layers, chosen, access, warnings)
}

/// What `doctor` checks against: the runtime, region and profile a deploy of this function
/// (or, without `--function-name`, of any agent) would use, by the same precedence and checks.
pub struct DoctorSettings {
    pub runtime: Runtime,
    pub region: Option<String>,
    pub profile: Option<String>,
}

pub fn resolve_for_doctor(
    input: ResolveInput<'_>,
    probe: &dyn InterpreterProbe,
) -> Result<DoctorSettings> {
    let section = config_section(&input)?;
    let layers = layers(&input, &section);
    let mut warnings = Vec::new();
    Ok(DoctorSettings {
        runtime: runtime(&layers, DeploymentKind::Agent, probe, &mut warnings)?,
        region: region(&layers, &input)?,
        profile: profile(&layers, &input),
    })
}

/// The option layers of one agent: its flags over its config section.
fn layers<'a>(input: &ResolveInput<'a>, section: &'a AgentSection) -> Layers<'a> {
    Layers {
        flags: &input.args.options,
        section,
        config_path: input.config.map(|c| c.path.as_path()),
    }
}

/// `--region` (else the config's), checked as a region code.
fn region(layers: &Layers<'_>, input: &ResolveInput<'_>) -> Result<Option<String>> {
    layers
        .region(input.global_region)
        .text()
        .map(validate_region)
        .transpose()
}

fn profile(layers: &Layers<'_>, input: &ResolveInput<'_>) -> Option<String> {
    layers
        .profile(input.global_profile)
        .text()
        .map(|given| given.value.to_string())
}

/// The agent's merged config section (`[defaults]` < `[agents.NAME]` < the environment's).
/// A preview (`--ttl`) may name an environment the config does not declare (`pr-42`): then
/// only `[defaults]` and `[agents.NAME]` apply.
fn config_section(input: &ResolveInput<'_>) -> Result<AgentSection> {
    let preview = input.args.options.ttl.is_some();
    match (input.config, input.env_name) {
        (Some(config), Some(env)) if preview && config.environment(env).is_err() => {
            config.section_for(input.function_name, None)
        }
        (None, Some(_)) if preview => Ok(AgentSection::default()),
        (Some(config), env) => config.section_for(input.function_name, env),
        (None, Some(env)) => Err(Error::usage_hint(
            "--env",
            format!("environment `{env}` selected but there is no config file"),
            "create agentdeploy.toml with an [environments.NAME] table (`agentdeploy init`), or drop --env",
        )),
        (None, None) => Ok(AgentSection::default()),
    }
}

fn agent_path(
    layers: &Layers<'_>,
    kind: DeploymentKind,
    function_name: &str,
    project_dir: &Path,
    cwd: &Path,
) -> Result<PathBuf> {
    if kind == DeploymentKind::CodeInterpreter {
        // The code interpreter's source is built in; no agent file is read.
        return Ok(project_dir.join("code_interpreter.py"));
    }
    layers.agent().path(cwd).ok_or_else(|| {
        Error::usage_hint(
            "--agent",
            format!("no agent file for `{function_name}`"),
            format!(
                "pass --agent FILE, or set `agent` under [agents.{function_name}] in agentdeploy.toml"
            ),
        )
    })
}

/// Memory and timeout: a code interpreter gets room for the code it runs.
fn sizing(layers: &Layers<'_>, kind: DeploymentKind) -> Result<(u32, u32)> {
    let interpreter = kind == DeploymentKind::CodeInterpreter;
    let memory = match layers.memory().number("a whole number")? {
        Some(given) => {
            check_memory(given.value).map_err(|message| given.error(message))?;
            given.value
        }
        None if interpreter => 1024,
        None => DEFAULT_MEMORY,
    };
    let timeout = match layers.timeout().number("a whole number")? {
        Some(given) if !(3..=900).contains(&given.value) => {
            return Err(given.error(format!(
                "{} s is out of range; allowed: 3-900 seconds",
                given.value
            )));
        }
        Some(given) => given.value,
        None if interpreter => 600,
        None => DEFAULT_TIMEOUT,
    };
    Ok((memory, timeout))
}

fn runtime(
    layers: &Layers<'_>,
    kind: DeploymentKind,
    probe: &dyn InterpreterProbe,
    warnings: &mut Vec<String>,
) -> Result<Runtime> {
    let allow_deprecated = layers.allow_deprecated_runtime().switch();
    Ok(match layers.runtime().text() {
        Some(given) => validate_runtime(given, allow_deprecated, warnings)?,
        None if kind == DeploymentKind::CodeInterpreter => Runtime::FALLBACK,
        None => default_runtime(probe),
    })
}

fn architecture(layers: &Layers<'_>, kind: DeploymentKind) -> Result<Architecture> {
    match layers.architecture().text() {
        None if kind == DeploymentKind::CodeInterpreter => Ok(Architecture::Arm64),
        None => Ok(Architecture::X86_64),
        Some(given) => given.choice().map_err(|_| {
            given.error(format!(
                "`{}` is not an architecture Lambda offers; allowed: x86_64, arm64",
                given.value.escape_debug()
            ))
        }),
    }
}

/// The function's environment variables and secret names: valid, not reserved, not both.
/// Lambda's limit on a function's environment: names and values together.
const LAMBDA_ENVIRONMENT_BYTES: usize = 4096;

fn variables(layers: &Layers<'_>) -> Result<(BTreeMap<String, String>, Vec<String>)> {
    let env_vars = layers.env_vars().pairs()?;
    let mut total = 0usize;
    for (key, given) in &env_vars {
        check_env_key(key).map_err(|message| given.error(message))?;
        refuse_dynamic_reference(key, given)?;
        // Lambda refuses a function whose variables exceed 4 KB, at deploy, after the build.
        total += key.len() + given.value.len();
        if total > LAMBDA_ENVIRONMENT_BYTES {
            return Err(given.error_hint(
                format!(
                    "with `{key}` the env vars pass Lambda's limit of {LAMBDA_ENVIRONMENT_BYTES} bytes in total (names and values)"
                ),
                "ship large values as a file beside the agent, or keep them in SSM with --secret NAME --secrets-store ssm",
            ));
        }
    }
    let secrets = layers.secrets().union();
    for given in &secrets {
        if given.value.contains('=') {
            return Err(given.error_hint(
                format!(
                    "`{}` looks like NAME=VALUE; secret values never go on the command line",
                    given.value.split('=').next().unwrap_or_default()
                ),
                "pass only the NAME and export its value in the environment or put it in .env",
            ));
        }
        check_env_key(given.value).map_err(|message| given.error(message))?;
        if env_vars.contains_key(given.value) {
            return Err(given.error(format!(
                "`{}` is both an env var and a secret; keep it in one place",
                given.value
            )));
        }
    }
    Ok((
        env_vars
            .into_iter()
            .map(|(key, given)| (key, given.value))
            .collect(),
        secrets
            .iter()
            .map(|given| given.value.to_string())
            .collect(),
    ))
}

/// Python's keywords: spelled like names, never bound as one.
const PYTHON_KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// A name Python accepts as an identifier (PEP 3131: `función`, `_main2`), not a keyword.
fn is_python_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c == '_' || unicode_ident::is_xid_start(c))
        && chars.all(unicode_ident::is_xid_continue)
        && !PYTHON_KEYWORDS.contains(&text)
}

/// A Lambda layer version ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`; the region
/// may be `${AWS::Region}`, resolved by CloudFormation).
fn layer_arn(given: Option<Given<'_, &str>>) -> Result<Option<String>> {
    let Some(given) = given else {
        return Ok(None);
    };
    // `${AWS::Region}` (resolved by CloudFormation) holds colons of its own.
    let resolved = given.value.replace("${AWS::Region}", "region");
    let parts: Vec<&str> = resolved.split(':').collect();
    let well_formed = parts.len() == 8
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "lambda"
        && parts[5] == "layer"
        && !parts[6].is_empty()
        && parts[7].parse::<u32>().is_ok()
        && given
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":-_${}".contains(c));
    if !well_formed {
        return Err(given.error(format!(
            "`{}` is not a Lambda layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)",
            given.value.escape_debug()
        )));
    }
    Ok(Some(given.value.to_string()))
}

/// `--tracing`, with the ADOT layer it names (`None`: the pinned one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tracing {
    pub layer: Option<String>,
}

fn tracing(layers: &Layers<'_>) -> Result<Option<Tracing>> {
    let layer = layer_arn(layers.tracing_layer().text())?;
    if !layers.tracing().switch() {
        if layer.is_some() {
            return Err(layers
                .tracing_layer()
                .error("a tracing layer without --tracing does nothing; add --tracing"));
        }
        return Ok(None);
    }
    Ok(Some(Tracing { layer }))
}

/// The opt-in alarms and where they notify.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Alarms {
    /// Share of requests (0-1) answered 5xx in 5 minutes above which the alarm fires.
    pub error_rate: Option<f64>,
    /// p95 of request durations (ms) in 5 minutes above which the alarm fires.
    pub p95_ms: Option<u32>,
    /// An existing SNS topic; `None` with an alarm: the stack makes one.
    pub topic: Option<String>,
}

impl Alarms {
    pub fn any(&self) -> bool {
        self.error_rate.is_some() || self.p95_ms.is_some()
    }
}

fn alarms(layers: &Layers<'_>) -> Result<Alarms> {
    const SHARE: &str = "a share of requests above 0 and below 1 (like 0.05 or 5%)";
    let error_rate = match layers.alarm_errors().share(SHARE)? {
        None => None,
        Some(given) if given.value > 0.0 && given.value < 1.0 => Some(given.value),
        Some(given) => {
            return Err(given.error(format!("{} % is not {SHARE}", given.value * 100.0)));
        }
    };
    let p95_ms = match layers
        .alarm_p95()
        .number("a whole number of milliseconds")?
    {
        None => None,
        Some(given) if (1..=900_000).contains(&given.value) => Some(given.value),
        Some(given) => {
            return Err(given.error(format!(
                "{} ms is out of range: 1 to 900000 (Lambda's 15-minute limit)",
                given.value
            )));
        }
    };
    let topic = match layers.alarm_topic().text() {
        None => None,
        Some(given) => {
            let parts: Vec<&str> = given.value.split(':').collect();
            let well_formed = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sns"
                && !parts[3].is_empty()
                && parts[4].len() == 12
                && parts[4].chars().all(|c| c.is_ascii_digit())
                && !parts[5].is_empty()
                && parts[5]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !well_formed {
                return Err(given.error(format!(
                    "`{}` is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                    given.value.escape_debug()
                )));
            }
            if parts[5].ends_with(".fifo") {
                return Err(given.error(format!(
                    "`{}` is a FIFO topic: CloudWatch alarms publish only to standard topics",
                    given.value.escape_debug()
                )));
            }
            Some(given.value.to_string())
        }
    };
    if topic.is_some() && error_rate.is_none() && p95_ms.is_none() {
        return Err(layers.alarm_topic().error(
            "an alarm topic without an alarm does nothing; add --alarm-errors or --alarm-p95",
        ));
    }
    Ok(Alarms {
        error_rate,
        p95_ms,
        topic,
    })
}

fn entry(layers: &Layers<'_>) -> Result<Option<String>> {
    let Some(given) = layers.entry().text() else {
        return Ok(None);
    };
    if !is_python_name(given.value) {
        return Err(given.error(format!(
            "`{}` is not a Python name (a top-level function or Agent variable)",
            given.value.escape_debug()
        )));
    }
    Ok(Some(given.value.to_string()))
}

fn conversation(layers: &Layers<'_>, warnings: &mut Vec<String>) -> Result<Conversation> {
    #[derive(Clone, Copy)]
    enum Mode {
        Isolated,
        Shared,
        Session,
    }
    let mode = match layers.conversation().text() {
        None => Mode::Isolated,
        Some(given) => given.one_of(&[
            ("isolated", Mode::Isolated),
            ("shared", Mode::Shared),
            ("session", Mode::Session),
        ])?,
    };
    let ttl_days = layers.session_ttl_days().number("a whole number of days")?;
    Ok(match (mode, ttl_days) {
        (Mode::Isolated | Mode::Shared, Some(given)) => {
            return Err(given.error_hint(
                "sessions are kept only with --conversation session",
                "add --conversation session, or drop --session-ttl-days",
            ));
        }
        (Mode::Isolated, None) => Conversation::Isolated,
        (Mode::Shared, None) => {
            warnings.push("--conversation shared: callers share the agent's memory and see each other's conversations; use it only when one caller owns the function".into());
            Conversation::Shared
        }
        (Mode::Session, None) => Conversation::Session {
            ttl_days: DEFAULT_SESSION_TTL_DAYS,
        },
        (Mode::Session, Some(given)) if (1..=3650).contains(&given.value) => {
            Conversation::Session {
                ttl_days: given.value,
            }
        }
        (Mode::Session, Some(given)) => {
            return Err(given.error(format!(
                "{} days is out of range; allowed: 1-3650",
                given.value
            )));
        }
    })
}

/// Sessions are kept per caller: an endpoint without authentication has no caller to key them
/// by, and ids anyone can guess would let one caller continue another's conversation. A Function
/// URL's events cannot be marked by AWS as API Gateway's are (a stage variable), which the plan
/// says.
fn session_callers(
    layers: &Layers<'_>,
    conversation: Conversation,
    access: &Access,
    warnings: &mut Vec<String>,
) -> Result<Conversation> {
    let Some(given) = layers.conversation().text() else {
        return Ok(conversation);
    };
    if conversation.session_ttl_days().is_none() {
        return Ok(conversation);
    }
    if access.auth == AuthMode::None && access.endpoint != EndpointKind::None {
        return Err(given.error_hint(
            "sessions are kept per caller, and with --auth none the endpoint knows no caller: anyone could continue anyone's session",
            "use --auth api-key or --auth iam, or --conversation isolated",
        ));
    }
    if access.endpoint == EndpointKind::Url {
        warnings.push("--conversation session with --endpoint url: sessions are keyed by the IAM caller the URL reports, and a principal allowed lambda:InvokeFunction on this function could imitate a URL event naming another caller; use --endpoint api to key sessions by API key".into());
    }
    Ok(conversation)
}

/// AWS's integers (API Gateway's burst and quota, Lambda's reserved concurrency) are signed 32-bit.
const AWS_INTEGER_MAX: u32 = i32::MAX as u32;

/// Who may call the function and how much: endpoint, auth, the API key's limits, concurrency.
struct Access {
    endpoint: EndpointKind,
    auth: AuthMode,
    usage_limits: Option<UsageLimits>,
    reserved_concurrency: Option<u32>,
}

/// Endpoint, auth and limits decide each other (a URL has no API key, a public endpoint needs
/// limits), so they are settled together, in one reading order.
fn access(layers: &Layers<'_>, kind: DeploymentKind, warnings: &mut Vec<String>) -> Result<Access> {
    let is_interpreter = kind == DeploymentKind::CodeInterpreter;
    let endpoint = match layers.endpoint().text() {
        None if is_interpreter => EndpointKind::None,
        None => EndpointKind::Api,
        Some(given) => given.choice()?,
    };
    let given_auth = layers.auth().text();
    let auth = match &given_auth {
        None => match endpoint {
            EndpointKind::Api => AuthMode::ApiKey,
            EndpointKind::Url | EndpointKind::None => AuthMode::Iam,
        },
        Some(given) => given.choice()?,
    };
    let auth_error = |message: String, hint: Option<&str>| {
        let auth = layers.auth();
        match (&given_auth, hint) {
            (Some(given), Some(hint)) => given.error_hint(message, hint),
            (Some(given), None) => given.error(message),
            (None, _) => auth.error(message),
        }
    };
    match (endpoint, auth) {
        (EndpointKind::Url, AuthMode::ApiKey) => {
            return Err(auth_error(
                "api-key authentication needs --endpoint api; a Function URL supports only iam or none".into(),
                Some("use --endpoint api --auth api-key, or --endpoint url --auth iam"),
            ));
        }
        (EndpointKind::None, AuthMode::None | AuthMode::ApiKey) if given_auth.is_some() => {
            return Err(auth_error(
                "there is no endpoint to protect with --endpoint none; drop --auth".into(),
                None,
            ));
        }
        (EndpointKind::Api | EndpointKind::Url, AuthMode::None) if is_interpreter => {
            return Err(auth_error(
                format!(
                    "a code interpreter runs whatever code it is sent; a public {} endpoint (--auth none) would let anyone run code on your account",
                    endpoint.as_str()
                ),
                Some(
                    "use --auth iam (or api-key with --endpoint api), or --endpoint none and call it with Lambda Invoke",
                ),
            ));
        }
        (EndpointKind::Api | EndpointKind::Url, AuthMode::None) => warnings.push(format!(
            "the {} endpoint is public (--auth none): anyone who finds it can run up model costs",
            endpoint.as_str()
        )),
        _ => {}
    }
    let reserved_concurrency = match layers.reserved_concurrency().number("a whole number")? {
        Some(given) if given.value > AWS_INTEGER_MAX => {
            return Err(given.error(format!(
                "{} is more than AWS accepts (at most {AWS_INTEGER_MAX})",
                given.value
            )));
        }
        Some(given) if given.value == 0 => {
            return Err(given.error_hint(
                "0 would stop every invocation of the function",
                "give at least 1, or leave it out for the account's unreserved pool; to take the agent offline use `agentdeploy destroy`",
            ));
        }
        other => other.map(|given| given.value),
    };
    Ok(Access {
        endpoint,
        auth,
        usage_limits: usage_limits(layers, endpoint, auth)?,
        reserved_concurrency,
    })
}

/// CloudWatch Logs' allowed retention periods, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// A month of logs: enough to look back at an incident, not kept (and billed) forever.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 30;

fn log_retention_days(layers: &Layers<'_>) -> Result<u32> {
    match layers
        .log_retention_days()
        .number("a whole number of days")?
    {
        None => Ok(DEFAULT_LOG_RETENTION_DAYS),
        Some(given) if LOG_RETENTION_DAYS.contains(&given.value) => Ok(given.value),
        Some(given) => Err(given.error_hint(
            format!(
                "{} days is not a retention CloudWatch Logs offers",
                given.value
            ),
            format!(
                "use one of {}",
                LOG_RETENTION_DAYS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// `--isolation tenant`: Lambda gives each tenant id execution environments of its own, so the
/// tenant must be a caller API Gateway vouches for (an API key or an IAM identity) or one a
/// direct Invoke names (`--endpoint none`). Lambda offers it without Function URLs and SnapStart.
fn isolation(layers: &Layers<'_>, access: &Access, snapstart: bool) -> Result<Isolation> {
    let Some(given) = layers.isolation().text() else {
        return Ok(Isolation::Process);
    };
    let isolation: Isolation = given.choice()?;
    if isolation == Isolation::Process {
        return Ok(isolation);
    }
    let refused = match (access.endpoint, access.auth) {
        (EndpointKind::Url, _) => Some(
            "Lambda tenant isolation is not offered with Function URLs (they cannot name a tenant); use --endpoint api or none",
        ),
        (EndpointKind::Api, AuthMode::None) => Some(
            "an API without auth has no caller to give environments of their own; use --auth api-key or iam",
        ),
        _ if snapstart => {
            Some("Lambda tenant isolation is not offered with SnapStart; drop --snapstart")
        }
        _ => None,
    };
    match refused {
        Some(why) => Err(given.error(why)),
        None => Ok(isolation),
    }
}

/// `--kind`: an agent unless it says otherwise.
fn deployment_kind(layers: &Layers<'_>) -> Result<DeploymentKind> {
    match layers.kind().text() {
        None => Ok(DeploymentKind::Agent),
        Some(given) => given.choice(),
    }
}

/// Where the function runs and who shares an execution environment: `--isolation` and
/// `--managed-instances`, which rule each other out.
fn execution(
    layers: &Layers<'_>,
    runtime: Runtime,
    access: &Access,
    snapstart: bool,
    in_vpc: bool,
) -> Result<(Isolation, Option<ManagedInstances>)> {
    let isolation = isolation(layers, access, snapstart)?;
    let managed = managed_instances(layers, runtime, isolation, snapstart, in_vpc)?;
    Ok((isolation, managed))
}

/// `--managed-instances`: the function's execution environments run on the capacity provider's
/// EC2 instances, each serving several requests at once (Python: one process per request).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagedInstances {
    pub capacity_provider: String,
    /// `--instance-concurrency`: requests one execution environment serves at once.
    pub concurrency: Option<u32>,
    /// `--memory-per-vcpu`: GiB of memory per vCPU.
    pub memory_per_vcpu: Option<u32>,
}

/// Python 3.13 is the oldest runtime Lambda Managed Instances run.
const MANAGED_INSTANCES_MIN_MINOR: u8 = 13;

fn managed_instances(
    layers: &Layers<'_>,
    runtime: Runtime,
    isolation: Isolation,
    snapstart: bool,
    in_vpc: bool,
) -> Result<Option<ManagedInstances>> {
    let concurrency = layers.instance_concurrency().number("a whole number")?;
    let memory_per_vcpu = layers.memory_per_vcpu().number("a whole number")?;
    let Some(given) = layers.managed_instances().text() else {
        let orphan = [
            (concurrency.is_some(), layers.instance_concurrency()),
            (memory_per_vcpu.is_some(), layers.memory_per_vcpu()),
        ]
        .into_iter()
        .find(|(set, _)| *set);
        return match orphan {
            Some((_, pick)) => Err(pick.error(
                "applies to functions on managed instances only; add --managed-instances CAPACITY_PROVIDER_ARN or drop it",
            )),
            None => Ok(None),
        };
    };
    if !is_capacity_provider_arn(given.value) {
        return Err(given.error_hint(
            format!(
                "`{}` is not a capacity provider ARN",
                given.value.escape_debug()
            ),
            "use arn:aws:lambda:REGION:ACCOUNT:capacity-provider:NAME (`aws lambda list-capacity-providers`)",
        ));
    }
    let refused = if runtime.minor < MANAGED_INSTANCES_MIN_MINOR {
        Some(format!(
            "Lambda Managed Instances run python3.13 and newer, not {}; pick a newer --runtime",
            runtime.name()
        ))
    } else if isolation == Isolation::Tenant {
        Some("Lambda tenant isolation is not offered on managed instances; pick one of --isolation tenant and --managed-instances".into())
    } else if snapstart {
        Some("SnapStart is not offered on managed instances; drop --snapstart".into())
    } else {
        None
    };
    if let Some(why) = refused {
        return Err(given.error(why));
    }
    if in_vpc {
        return Err(layers.subnet_ids().error(
            "a function on managed instances runs in its capacity provider's VPC; drop --subnet-ids and --security-group-ids",
        ));
    }
    if let Some(n) = concurrency.filter(|n| !(1..=1600).contains(&n.value)) {
        return Err(n.error(format!(
            "{} is out of range; allowed: 1-1600 requests per execution environment",
            n.value
        )));
    }
    if let Some(gib) = memory_per_vcpu.filter(|g| ![2, 4, 8].contains(&g.value)) {
        return Err(gib.error(format!(
            "{} GiB per vCPU is not a ratio Lambda offers; allowed: 2, 4, 8",
            gib.value
        )));
    }
    Ok(Some(ManagedInstances {
        capacity_provider: given.value.to_string(),
        concurrency: concurrency.map(|n| n.value),
        memory_per_vcpu: memory_per_vcpu.map(|g| g.value),
    }))
}

/// `arn:PARTITION:lambda:REGION:ACCOUNT:capacity-provider:NAME`, as CloudFormation's schema
/// spells it.
fn is_capacity_provider_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let [scheme, partition, service, region, account, kind, name] = parts[..] else {
        return false;
    };
    scheme == "arn"
        && partition.starts_with("aws")
        && service == "lambda"
        && region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && kind == "capacity-provider"
        && !name.is_empty()
        && name.len() <= 80
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && arn.len() <= 140
}

/// Commercial regions without SnapStart (Lambda's documentation, 2026).
const SNAPSTART_UNAVAILABLE_REGIONS: [&str; 2] = ["ap-east-2", "ap-southeast-6"];

/// SnapStart: Python 3.12 and newer only, not everywhere; priced per cached snapshot and per
/// restore. (Its other exclusions, provisioned concurrency, EFS and over 512 MB of ephemeral
/// storage, are nothing agentdeploy sets.)
fn snapstart(
    layers: &Layers<'_>,
    runtime: Runtime,
    region: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<bool> {
    let region = crate::aws::local_region(region);
    let region = region.as_deref();
    let pick = layers.snapstart();
    if !pick.switch() {
        return Ok(false);
    }
    if let Some(region) = region.filter(|r| SNAPSTART_UNAVAILABLE_REGIONS.contains(r)) {
        return Err(pick.error(format!(
            "SnapStart is not offered in {region}; deploy to another region or drop --snapstart"
        )));
    }
    if runtime.minor < 12 {
        return Err(pick.error(format!(
            "SnapStart supports python3.12 and newer, not {}; pick a newer --runtime or drop --snapstart",
            runtime.name()
        )));
    }
    warnings.push("--snapstart: Python SnapStart is billed for each cached snapshot (per GB-second while the version is active) and for each restore (per GB); `agentdeploy cost` includes it".into());
    Ok(true)
}

/// What the deployment's region rules out, once the region is known (from a flag, the config, a
/// profile or the environment): SnapStart where Lambda does not offer it, and a layer or an
/// alarm topic in another region (Lambda and CloudWatch use only their own region's).
pub fn region_problem(settings: &LambdaSettings, region: &str) -> Option<Error> {
    if settings.snapstart && SNAPSTART_UNAVAILABLE_REGIONS.contains(&region) {
        return Some(Error::usage_hint(
            "--snapstart",
            format!("SnapStart is not offered in {region}"),
            "deploy to another region or drop --snapstart",
        ));
    }
    let elsewhere = |arn: &str| {
        arn.split(':')
            .nth(3)
            // `${AWS::Region}` is the deployment's own region.
            .filter(|arn_region| {
                !arn_region.is_empty() && !arn_region.starts_with('$') && *arn_region != region
            })
            .map(str::to_string)
    };
    let given = [
        (
            "--tracing-layer",
            settings.tracing.as_ref().and_then(|t| t.layer.as_deref()),
        ),
        ("--web-adapter-layer", settings.web_adapter_layer.as_deref()),
        ("--alarm-topic", settings.alarms.topic.as_deref()),
        (
            "--managed-instances",
            settings
                .managed_instances
                .as_ref()
                .map(|m| m.capacity_provider.as_str()),
        ),
    ];
    given.into_iter().find_map(|(flag, arn)| {
        let arn = arn?;
        let other = elsewhere(arn)?;
        Some(Error::usage_hint(
            flag,
            format!("{arn} is in {other}, but the deployment goes to {region}"),
            format!("use the one in {region} (layers, topics and capacity providers are regional)"),
        ))
    })
}

/// VPC subnets and security groups: both or neither, each a well-formed id.
fn network(layers: &Layers<'_>) -> Result<(Vec<String>, Vec<String>)> {
    let subnets = layers.subnet_ids().list();
    let groups = layers.security_group_ids().list();
    match (subnets.is_empty(), groups.is_empty()) {
        (false, true) => {
            return Err(layers
                .subnet_ids()
                .error("VPC subnets need --security-group-ids too"));
        }
        (true, false) => {
            return Err(layers
                .security_group_ids()
                .error("VPC security groups need --subnet-ids too"));
        }
        _ => {}
    }
    for (items, prefix, what) in [
        (&subnets, "subnet-", "a subnet id"),
        (&groups, "sg-", "a security group id"),
    ] {
        for given in items {
            if !is_resource_id(given.value, prefix) {
                return Err(given.error(format!(
                    "`{}` is not {what} ({prefix} and 8 or 17 hex digits)",
                    given.value.escape_debug()
                )));
            }
        }
    }
    let values = |items: Vec<Given<'_, &str>>| items.iter().map(|g| g.value.to_string()).collect();
    Ok((values(subnets), values(groups)))
}

/// CloudFormation replaces `{{resolve:ssm:…}}`, `{{resolve:ssm-secure:…}}` and
/// `{{resolve:secretsmanager:…}}` anywhere in a template with the value it names, read with the
/// deployer's permissions: a value passed through would become whatever that parameter or secret
/// holds (a secret in plain sight in the function's configuration).
fn refuse_dynamic_reference(key: &str, given: &Given<'_, String>) -> Result<()> {
    if given.value.contains("{{resolve:") {
        return Err(given.error_hint(
            format!("`{key}` holds `{{{{resolve:`, which CloudFormation would replace with a parameter's or secret's value"),
            "pass secrets with --secret NAME (and --secrets-store ssm to keep them in SSM); write the value without `{{resolve:`",
        ));
    }
    Ok(())
}

fn tags(layers: &Layers<'_>) -> Result<BTreeMap<String, String>> {
    let tags = layers.tags().pairs()?;
    for (key, given) in &tags {
        refuse_dynamic_reference(key, given)?;
        // AWS counts a tag's length in characters, not bytes.
        let too_long = key.chars().count() > 128 || given.value.chars().count() > 256;
        if key.is_empty() || too_long || key.starts_with("aws:") {
            return Err(given.error(format!(
                "`{key}`: tag keys are 1-128 characters, not starting with aws:, values at most 256"
            )));
        }
    }
    Ok(tags
        .into_iter()
        .map(|(key, given)| (key, given.value))
        .collect())
}

fn policies(layers: &Layers<'_>) -> Result<Vec<String>> {
    let policies = layers.policies().list();
    for given in &policies {
        if !given.value.starts_with("arn:") || !given.value.contains(":policy/") {
            return Err(given.error(format!(
                "`{}` is not a managed policy ARN (arn:aws:iam::...:policy/...)",
                given.value.escape_debug()
            )));
        }
    }
    Ok(policies.iter().map(|g| g.value.to_string()).collect())
}

/// An IAM ARN of `kind` (`policy`, `role`): `arn:PARTITION:iam::ACCOUNT:KIND/PATH/NAME`.
fn iam_arn(given: Option<Given<'_, &str>>, kind: &str) -> Result<Option<String>> {
    let Some(given) = given else {
        return Ok(None);
    };
    let parts: Vec<&str> = given.value.splitn(6, ':').collect();
    let name = parts
        .get(5)
        .and_then(|rest| rest.strip_prefix(&format!("{kind}/")));
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && (parts[4].len() == 12 && parts[4].chars().all(|c| c.is_ascii_digit())
            || (kind == "policy" && parts[4] == "aws"))
        && name.is_some_and(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@-_/".contains(c))
        });
    if !well_formed {
        return Err(given.error(format!(
            "`{}` is not an IAM {kind} ARN (arn:aws:iam::ACCOUNT:{kind}/NAME)",
            given.value.escape_debug()
        )));
    }
    Ok(Some(given.value.to_string()))
}

fn artifact_bucket(layers: &Layers<'_>) -> Result<ArtifactBucket> {
    let bucket = layers.s3_bucket().text();
    let resolve_s3 = layers.resolve_s3();
    // A bucket flag beats `resolve_s3 = true` in the config; both as flags is a contradiction.
    let resolve = resolve_s3.flag_given()
        || (resolve_s3.switch() && bucket.is_none_or(|b| b.source != Source::Flag));
    match (bucket, resolve) {
        (Some(_), true) => Err(layers
            .s3_bucket()
            .error("--s3-bucket and --resolve-s3 exclude each other; pick one")),
        (Some(given), false) => {
            check_bucket_name(given.value).map_err(|message| given.error(message))?;
            Ok(ArtifactBucket::Named(given.value.to_string()))
        }
        (None, _) => Ok(ArtifactBucket::Resolve),
    }
}

fn out_dir(
    layers: &Layers<'_>,
    project_dir: &Path,
    env_name: Option<&str>,
    function_name: &str,
    agent: &Path,
    cwd: &Path,
) -> Result<PathBuf> {
    let out_dir = layers.out_dir().path(cwd).unwrap_or_else(|| {
        project_dir
            .join(".agentdeploy")
            .join(env_name.unwrap_or("default"))
            .join(function_name)
    });
    let agent_dir = agent.is_dir().then_some(agent);
    match crate::files::out_dir_problem(&out_dir, project_dir, agent_dir) {
        Some(problem) => Err(Error::usage_hint(
            "--out-dir",
            problem,
            "pick a new or empty folder (or leave --out-dir out: agentdeploy uses .agentdeploy/ENV/FUNCTION)",
        )),
        None => Ok(out_dir),
    }
}

/// EC2 ids: a prefix and 8 or 17 lowercase hex digits.
fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// `--include` paths: relative to the agent directory, inside it, and present.
fn included_files(layers: &Layers<'_>, agent_dir: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut included = Vec::new();
    for given in layers.include().list() {
        let path = given.value;
        let Some(agent_dir) = agent_dir else {
            return Err(given.error_hint(
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
            return Err(given.error(format!(
                "`{path}` must be a plain path relative to the agent directory (no `..`, not absolute)"
            )));
        }
        if !agent_dir.join(relative).is_file() {
            return Err(given.error(format!("`{path}` is not a file in {}", agent_dir.display())));
        }
        included.push(relative.to_path_buf());
    }
    Ok(included)
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

fn validate_stack_name(given: Given<'_, &str>) -> Result<String> {
    let name = given.value;
    let valid = name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if valid {
        Ok(name.to_string())
    } else {
        Err(given.error(format!(
            "`{}` is not a valid stack name; start with a letter, use A-Z a-z 0-9 -, at most 128 characters",
            name.escape_debug()
        )))
    }
}

fn validate_runtime(
    given: Given<'_, &str>,
    allow_deprecated: bool,
    warnings: &mut Vec<String>,
) -> Result<Runtime> {
    let allowed = "allowed: python3.12, python3.13, python3.14";
    let not_a_runtime = || {
        given.error(format!(
            "`{}` is not a Lambda Python runtime; {allowed}",
            given.value.escape_debug()
        ))
    };
    let runtime = Runtime::parse(given.value).ok_or_else(not_a_runtime)?;
    if runtime.is_supported() {
        return Ok(runtime);
    }
    if !runtime.is_deprecated() {
        return Err(not_a_runtime());
    }
    if allow_deprecated {
        warnings.push(format!(
            "{} is deprecated: Lambda blocks creating and updating functions on it; deploys may be refused",
            runtime.name()
        ));
        return Ok(runtime);
    }
    Err(given.error_hint(
        format!(
            "{} is deprecated: Lambda no longer creates or updates functions on it; {allowed}",
            runtime.name()
        ),
        "move to python3.13, or pass --allow-deprecated-runtime to try anyway",
    ))
}

/// Lambda's memory range.
pub fn validate_memory(memory: u32) -> Result<()> {
    check_memory(memory).map_err(|message| Error::usage("--memory", message))
}

fn check_memory(memory: u32) -> std::result::Result<(), String> {
    if (128..=10240).contains(&memory) {
        Ok(())
    } else {
        Err(format!(
            "{memory} MB is out of range; allowed: 128-10240 MB"
        ))
    }
}

/// The newest supported runtime whose interpreter answers, else python3.13.
pub fn default_runtime(probe: &dyn InterpreterProbe) -> Runtime {
    probe
        .first_available(&Runtime::SUPPORTED)
        .unwrap_or(Runtime::FALLBACK)
}

/// Where the stack's origin value is kept (a SecureString, removed by `destroy` with the rest).
pub fn origin_parameter_name(stack_name: &str) -> String {
    format!("/agentdeploy/{stack_name}/record/origin")
}

/// Days a session is kept after its last turn (S3 lifecycle expiry).
pub const DEFAULT_SESSION_TTL_DAYS: u32 = 7;

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
    layers: &Layers<'_>,
    endpoint: EndpointKind,
    auth: AuthMode,
) -> Result<Option<UsageLimits>> {
    let rate = layers
        .rate_limit()
        .number("a positive number of requests per second")?;
    let burst = layers
        .burst_limit()
        .number("a whole number of at least 1")?;
    let quota = layers.quota().text();
    if !(endpoint == EndpointKind::Api && auth == AuthMode::ApiKey) {
        let hint = "use --endpoint api --auth api-key, or drop the limit (--reserved-concurrency caps any endpoint)";
        let message = "usage limits apply to API keys, and this endpoint has none";
        return match (rate, burst, quota) {
            (Some(given), _, _) => Err(given.error_hint(message, hint)),
            (_, Some(given), _) => Err(given.error_hint(message, hint)),
            (_, _, Some(given)) => Err(given.error_hint(message, hint)),
            (None, None, None) => Ok(None),
        };
    }
    let mut limits = DEFAULT_USAGE_LIMITS;
    if let Some(given) = rate {
        if !(given.value.is_finite() && given.value > 0.0) {
            return Err(given.error(format!(
                "`{}` is not a positive number of requests per second",
                given.value
            )));
        }
        limits.rate_per_second = given.value;
    }
    if let Some(given) = burst {
        if given.value == 0 {
            return Err(given.error("`0` is not a whole number of at least 1"));
        }
        if given.value > AWS_INTEGER_MAX {
            return Err(given.error(format!(
                "{} is more than AWS accepts (at most {AWS_INTEGER_MAX})",
                given.value
            )));
        }
        limits.burst = given.value;
    }
    if let Some(given) = quota {
        let parsed = given.value.split_once('/').and_then(|(count, period)| {
            let count = count
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|c| (1..=AWS_INTEGER_MAX).contains(c))?;
            let period = match period.trim() {
                "day" => "DAY",
                "week" => "WEEK",
                "month" => "MONTH",
                _ => return None,
            };
            Some((count, period))
        });
        let Some((count, period)) = parsed else {
            return Err(given.error_hint(
                format!(
                    "`{}` is not N/day, N/week or N/month",
                    given.value.escape_debug()
                ),
                "for example --quota 5000/day",
            ));
        };
        limits.quota = count;
        limits.quota_period = period;
    }
    Ok(Some(limits))
}

/// S3's bucket naming rules: 3-63 of a-z 0-9 . -, starting and ending with a letter or digit.
fn check_bucket_name(bucket: &str) -> std::result::Result<(), String> {
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid S3 bucket name; use 3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit",
            bucket.escape_debug()
        ))
    }
}

/// An AWS region code (`us-east-1`, `us-gov-west-1`, `eu-central-2`): letters, dashes, a number.
fn validate_region(given: Given<'_, &str>) -> Result<String> {
    let parts: Vec<&str> = given.value.split('-').collect();
    let valid = parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if valid {
        Ok(given.value.to_string())
    } else {
        Err(given.error_hint(
            format!("`{}` is not an AWS region code", given.value.escape_debug()),
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
        || key == crate::lambda::names::SSM_SECRETS_VARIABLE
        || key == SESSION_BUCKET_VARIABLE
        || key == ORIGIN_VARIABLE
}

fn check_env_key(key: &str) -> std::result::Result<(), String> {
    let valid = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid && is_reserved_env_name(key) {
        Err(format!(
            "`{key}` is reserved by Lambda or agentdeploy (AWS_*, LAMBDA_*, _HANDLER...); choose another name"
        ))
    } else if valid {
        Ok(())
    } else {
        Err(format!(
            "`{key}` is not a valid environment variable name; start with a letter, then A-Z a-z 0-9 _"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::DeployArgs;
    use crate::config::LoadedConfig;
    use crate::options::AgentFlags;

    struct Has(Vec<u8>);
    impl InterpreterProbe for Has {
        fn has_interpreter(&self, runtime: Runtime) -> bool {
            self.0.contains(&runtime.minor)
        }
    }

    fn resolve_args(options: AgentFlags) -> Result<LambdaSettings> {
        let args = DeployArgs {
            options,
            ..DeployArgs::default()
        };
        resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: None,
                env_name: None,
                global_region: &None,
                global_profile: &None,
                cwd: Path::new("/w"),
            },
            &Has(vec![]),
        )
    }

    fn with_agent() -> AgentFlags {
        AgentFlags {
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
    fn the_region_known_at_deploy_time_rules_out_snapstart_and_other_regions_arns() {
        let mut s = resolve_args(with_agent()).unwrap();
        assert!(region_problem(&s, "ap-east-2").is_none());
        s.snapstart = true;
        // A region from a profile is known only once AWS is reached.
        let (flag, message) = flag_of(region_problem(&s, "ap-east-2").unwrap());
        assert_eq!(
            (flag.as_str(), message.as_str()),
            ("--snapstart", "SnapStart is not offered in ap-east-2")
        );
        assert!(region_problem(&s, "eu-west-1").is_none());
        s.snapstart = false;
        s.tracing = Some(Tracing {
            layer: Some(
                "arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-python-amd64-ver-1-32-0:2"
                    .into(),
            ),
        });
        let (flag, message) = flag_of(region_problem(&s, "us-east-1").unwrap());
        assert_eq!(flag, "--tracing-layer");
        assert!(
            message.contains("is in eu-west-1, but the deployment goes to us-east-1"),
            "{message}"
        );
        s.tracing = None;
        s.alarms.topic = Some("arn:aws:sns:us-west-2:123456789012:ops".into());
        assert_eq!(
            flag_of(region_problem(&s, "us-east-1").unwrap()).0,
            "--alarm-topic"
        );
        assert!(region_problem(&s, "us-west-2").is_none());
        s.alarms.topic = None;
        s.managed_instances = Some(ManagedInstances {
            capacity_provider: "arn:aws:lambda:eu-west-1:123456789012:capacity-provider:agents"
                .into(),
            concurrency: None,
            memory_per_vcpu: None,
        });
        let (flag, message) = flag_of(region_problem(&s, "us-east-1").unwrap());
        assert_eq!(flag, "--managed-instances");
        assert!(message.contains("is in eu-west-1"), "{message}");
        assert!(region_problem(&s, "eu-west-1").is_none());
    }

    #[test]
    fn capacity_provider_arns_are_checked_as_cloudformation_spells_them() {
        for good in [
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:agents",
            "arn:aws-cn:lambda:cn-north-1:123456789012:capacity-provider:a_b-1",
        ] {
            assert!(is_capacity_provider_arn(good), "{good}");
        }
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:function:agents",
            "arn:aws:lambda:us-east-1:1234:capacity-provider:agents",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:",
            "arn:aws:lambda:us-east-1:123456789012:capacity-provider:a/b",
            "agents",
        ] {
            assert!(!is_capacity_provider_arn(bad), "{bad}");
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
        // That 300 s behind API Gateway is cut at 29 s is the plan's to say (it knows whether
        // the answer streams): `dry_run` tests it.
        assert!(!s.warnings.iter().any(|w| w.contains("29 s")));
    }

    #[test]
    fn default_runtime_is_the_newest_with_an_interpreter() {
        let args = DeployArgs {
            options: with_agent(),
            ..DeployArgs::default()
        };
        let input = |probe: &dyn InterpreterProbe| {
            resolve(
                ResolveInput {
                    function_name: "a",
                    args: &args,
                    config: None,
                    env_name: None,
                    global_region: &None,
                    global_profile: &None,
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
            resolve_args(AgentFlags {
                memory: Some("64".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--memory");
        assert!(msg.contains("128-10240"), "{msg}");
        let (flag, msg) = flag_of(
            resolve_args(AgentFlags {
                memory: Some("lots".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--memory");
        assert!(msg.contains("not a whole number"), "{msg}");
        let (flag, msg) = flag_of(
            resolve_args(AgentFlags {
                timeout: Some("901".into()),
                ..with_agent()
            })
            .unwrap_err(),
        );
        assert_eq!(flag, "--timeout");
        assert!(msg.contains("3-900"), "{msg}");
        assert!(
            resolve_args(AgentFlags {
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
            resolve_args(AgentFlags {
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
            resolve_args(AgentFlags {
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
    fn env_vars_past_lambdas_4_kb_are_refused_naming_the_one_that_crosses() {
        let s = resolve_args(AgentFlags {
            env_vars: vec![format!("A={}", "x".repeat(4094))],
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.env_vars["A"].len(), 4094);
        let err = resolve_args(AgentFlags {
            env_vars: vec![format!("A={}", "x".repeat(4090)), "BIG=0123456789".into()],
            ..with_agent()
        })
        .unwrap_err();
        let (flag, message) = flag_of(err);
        assert_eq!(flag, "--env-var");
        assert!(
            message.contains("with `BIG`") && message.contains("4096 bytes"),
            "{message}"
        );
        let many: Vec<String> = (0..1000).map(|n| format!("VAR_{n}=v")).collect();
        let err = resolve_args(AgentFlags {
            env_vars: many,
            ..with_agent()
        })
        .unwrap_err();
        assert!(flag_of(err).1.contains("4096 bytes"));
    }

    #[test]
    fn tag_lengths_are_counted_in_characters_as_aws_counts_them() {
        let s = resolve_args(AgentFlags {
            tags: vec![format!("team={}", "é".repeat(200))],
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.tags["team"].chars().count(), 200);
        let err = resolve_args(AgentFlags {
            tags: vec![format!("team={}", "é".repeat(257))],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--tag");
    }

    #[test]
    fn pairs_and_conflicts() {
        let err = resolve_args(AgentFlags {
            env_vars: vec!["NOEQUALS".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--env-var");
        let err = resolve_args(AgentFlags {
            tags: vec!["=v".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--tag");
        let s = resolve_args(AgentFlags {
            env_vars: vec!["A=b=c".into()],
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.env_vars["A"], "b=c");

        let err = resolve_args(AgentFlags {
            s3_bucket: Some("b".into()),
            resolve_s3: true,
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--s3-bucket");
        let err = resolve_args(AgentFlags {
            subnet_ids: vec!["subnet-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--subnet-ids");
        let err = resolve_args(AgentFlags {
            security_group_ids: vec!["sg-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--security-group-ids");
        let err = resolve_args(AgentFlags {
            subnet_ids: vec!["subnet-xyz".into()],
            security_group_ids: vec!["sg-0123abcd".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--subnet-ids");
        let err = resolve_args(AgentFlags {
            subnet_ids: vec!["subnet-0123abcd".into()],
            security_group_ids: vec!["sg-1".into()],
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--security-group-ids");
        let err = resolve_args(AgentFlags {
            endpoint: Some("url".into()),
            auth: Some("api-key".into()),
            ..with_agent()
        })
        .unwrap_err();
        assert_eq!(flag_of(err).0, "--auth");
        let err = resolve_args(AgentFlags {
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
        let s = resolve_args(AgentFlags {
            endpoint: Some("url".into()),
            ..with_agent()
        })
        .unwrap();
        assert_eq!(s.auth, AuthMode::Iam);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        let s = resolve_args(AgentFlags {
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
        let args = DeployArgs {
            options: AgentFlags {
                timeout: Some("20".into()),
                ..AgentFlags::default()
            },
            ..DeployArgs::default()
        };
        let s = resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: Some(&config),
                env_name: Some("prod"),
                global_region: &None,
                global_profile: &None,
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
        let args = DeployArgs {
            options: AgentFlags {
                memory: Some("4096".into()),
                ..AgentFlags::default()
            },
            ..DeployArgs::default()
        };
        let s = resolve(
            ResolveInput {
                function_name: "agent",
                args: &args,
                config: Some(&config),
                env_name: Some("prod"),
                global_region: &None,
                global_profile: &None,
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
