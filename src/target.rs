//! What the orchestration layer asks of a deployment target (plan / ship / live state, and the
//! commands around a deployment: status, invoke, rollback, logs, destroy), and the
//! target-neutral results it gets back. The lifecycle around it — locks, the deployment record,
//! the unchanged check, progress, reports — is the same for every target; the Lambda target is
//! the first implementation; the registry (`crate::targets`) chooses one per agent.
//!
//! The trait lives outside `orchestrate/` so a target can implement it without importing the
//! orchestration layer (the layers only point down).

use std::future::Future;
use std::path::Path;

use crate::aws::AwsContext;
use crate::cli::{CostArgs, DeployArgs};
use crate::config::LoadedConfig;
use crate::error::Result;
use crate::options::AgentSection;
use crate::output::{BuildInfo, EndpointAccess, PlanView};
use crate::prices::Prices;
use crate::process::ToolOptions;
use crate::secrets::SecretValues;

/// What resolving one agent's settings reads: its name, the flags, the config file and the run's
/// global choices.
pub struct ResolveInput<'a> {
    pub function_name: &'a str,
    pub args: &'a DeployArgs,
    pub config: Option<&'a LoadedConfig>,
    pub env_name: Option<&'a str>,
    pub global_region: &'a Option<String>,
    pub global_profile: &'a Option<String>,
    pub cwd: &'a Path,
}

/// One `doctor` check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One `doctor` check, as the report lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub fn new(name: &str, status: CheckStatus, detail: String, hint: Option<String>) -> Check {
        Check {
            name: name.into(),
            status,
            detail,
            hint,
        }
    }

    /// A failed check that reports `err` and its hint.
    pub fn failed(name: &str, err: &crate::error::Error) -> Check {
        Check::new(
            name,
            CheckStatus::Fail,
            err.to_string(),
            err.hint().map(str::to_string),
        )
    }
}

/// What a target's `doctor` found: its own checks (its tools), and what a deploy would use.
#[derive(Debug, Clone)]
pub struct DoctorFindings {
    /// The runtime a deploy would run the agent on (`python3.13`).
    pub runtime: String,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub checks: Vec<Check>,
}

/// A month of a deployment, priced by its target: the document `cost` prints, its text lines,
/// and the figures other results reuse.
#[derive(Debug, Clone)]
pub struct CostEstimate {
    pub document: serde_json::Value,
    pub lines: Vec<String>,
    pub requests_usd: f64,
    pub compute_usd: f64,
    pub total_usd: f64,
}

impl serde::Serialize for CostEstimate {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.document.serialize(serializer)
    }
}

impl crate::output::CommandResult for CostEstimate {
    fn text_lines(&self) -> Vec<String> {
        self.lines.clone()
    }
}

/// The steps of shipping, in order, as the progress line and the record report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Resolving,
    Building,
    Deploying,
    Verifying,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving dependencies",
            Phase::Building => "building",
            Phase::Deploying => "deploying",
            Phase::Verifying => "verifying",
        }
    }
}

/// What the lifecycle reads of one deployment's settings. Everything else in them (memory,
/// endpoints, runtimes, ...) belongs to the target that resolved them.
pub trait DeploymentSettings: Clone + Send + Sync + 'static {
    fn function_name(&self) -> &str;
    /// `--env`: the environment of the config file this deployment belongs to.
    fn env_name(&self) -> Option<&str>;
    /// The name of the deployment as a whole in the cloud (a CloudFormation stack).
    fn stack_name(&self) -> &str;
    /// The region given by flag or config (`None`: the SDK's chain decides).
    fn region(&self) -> Option<&str>;
    fn profile(&self) -> Option<&str>;
    /// The bucket artifacts go to, when one is named (`None`: the target finds its own).
    fn artifact_bucket(&self) -> Option<&str>;
    /// Where `.env` files and the deployment record live.
    fn project_dir(&self) -> &Path;
    /// Where the rendered project is written.
    fn out_dir(&self) -> &Path;
    /// Names of the secrets whose values the deploy reads.
    fn secret_names(&self) -> &[String];
    /// `--force`: deploy although nothing changed.
    fn force(&self) -> bool;
    /// `--smoke`: what a new version must answer before `live` moves to it.
    fn smoke(&self) -> Option<&crate::smoke::Cases>;
    /// Warnings found while resolving.
    fn warnings(&self) -> &[String];
    /// The headline facts every report and record entry carries.
    fn shape(&self) -> Shape;
    /// The tenant agentdeploy's own calls (smoke cases) use, where the deployment gives each
    /// tenant execution environments of its own.
    fn call_tenant(&self) -> Option<&str> {
        None
    }

    /// What the deployment is made of on this machine (the agent's folder, its requirements,
    /// `.env`): `dev` and `sync --watch` act on a change to them.
    fn sources(&self) -> Vec<std::path::PathBuf> {
        Vec::new()
    }
}

/// The facts of a deployment a report shows before anything is planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub endpoint_kind: String,
    pub runtime: String,
    pub architecture: String,
    pub memory: u32,
    pub timeout: u32,
}

/// A deployment planned without touching anything remote.
pub trait Planned: Send + Sync {
    type Settings: DeploymentSettings;
    fn warnings(&self) -> &[String];
    /// The plan's warnings that the resolved dependencies (`name==version`, and what they hold)
    /// show unfounded (a module a listed distribution brings along): withdrawn from the report
    /// once known.
    fn unfounded_warnings(&self, _settings: &Self::Settings, _pins: &[String]) -> Vec<String> {
        Vec::new()
    }
    /// What decides the dependency set (the requirement lines as given): `dev` re-resolves
    /// only when it changes.
    fn dependency_specifiers(&self) -> Vec<String> {
        Vec::new()
    }
    /// What of the deployment is not the code, part by part (a name → its digest): the
    /// dependency set, the settings, permissions and endpoint. `sync` ships a change only when
    /// every part is as the last deploy left it.
    fn shape(
        &self,
        _settings: &Self::Settings,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        Ok(Default::default())
    }
    /// Writes the rendered project into the settings' out-dir.
    fn write(&self, settings: &Self::Settings) -> Result<()>;
    /// The plan section of the result (`pins`: the resolved dependencies, once known).
    fn describe(&self, settings: &Self::Settings, pins: Option<&[String]>) -> PlanView;
    /// Hash of everything that decides what gets deployed (secrets only as keyed digests).
    fn input_hash(&self, region: &str, secrets: &[(String, String)], digest_key: &[u8]) -> String;
}

/// What shipping needs besides the plan.
pub struct ShipRequest<'a, P: Planned> {
    pub settings: &'a P::Settings,
    pub plan: &'a P,
    pub aws: &'a AwsContext,
    pub secrets: &'a SecretValues,
    pub tool: ToolOptions<'a>,
    /// A rollback moved the live version away from the deployment's own: move it back.
    pub restore_live: bool,
    /// The secret values as one keyed digest (hex; `None` without secrets): a new value must
    /// publish a new version, which the values themselves (parameters) do not make happen.
    pub secrets_version: Option<String>,
    /// Keep `live` on this version: the new one must pass its smoke cases first.
    pub hold_live: Option<String>,
}

/// A deployment as its callers reach it.
#[derive(Debug, Clone)]
pub struct Live {
    pub function_arn: Option<String>,
    pub endpoint: Option<String>,
    pub api_key_id: Option<String>,
    pub access: EndpointAccess,
}

/// What a deploy leaves in the cloud for the next one, from any machine: a fresh checkout finds
/// an unchanged agent unchanged, and reports the build it would have made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LastDeploy {
    pub input_hash: String,
    pub region: String,
    pub build_strategy: Option<String>,
    pub artifact_bytes: Option<u64>,
    pub cold_start: Option<crate::build_report::ColdStart>,
    /// The version that deploy put live: a rollback since has moved it away.
    #[serde(default)]
    pub live_version: Option<String>,
    /// The hash of the code `live` served after that deploy.
    #[serde(default)]
    pub code_sha256: Option<String>,
    /// The endpoint's auth as the platform reported it after that deploy.
    #[serde(default)]
    pub endpoint_auth: Option<String>,
    /// What besides the code that deploy shipped, part by part (`Planned::shape`, and the
    /// secrets' digest): `sync` ships only a change none of them sees.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub shape: std::collections::BTreeMap<String, String>,
}

/// What the deployed function is now, as the unchanged check compares it with what the last
/// deploy left: something changed by hand since is deployed again, not called "unchanged".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    pub live_version: Option<String>,
    pub code_sha256: Option<String>,
    /// `None`: no endpoint the platform configures auth on (an API Gateway API, none).
    pub endpoint_auth: Option<String>,
}

impl Fingerprint {
    /// Why the deployment is not what `deployed` recorded (`None`: it is). What was not
    /// recorded (records from before a field) is not compared.
    pub fn drift_from(&self, deployed: &LastDeploy) -> Option<String> {
        let shown = |v: &Option<String>| v.as_deref().unwrap_or("none").to_string();
        if let Some(version) = &deployed.live_version
            && self.live_version.as_ref() != Some(version)
        {
            return Some(format!(
                "live was moved to version {} outside agentdeploy (the last deploy left version {version} live)",
                shown(&self.live_version)
            ));
        }
        if deployed.code_sha256.is_some() && self.code_sha256 != deployed.code_sha256 {
            return Some(format!(
                "the code live serves (CodeSha256 {}) is not what the last deploy published ({})",
                shown(&self.code_sha256),
                shown(&deployed.code_sha256)
            ));
        }
        if deployed.endpoint_auth.is_some() && self.endpoint_auth != deployed.endpoint_auth {
            return Some(format!(
                "the endpoint's auth is {}, not {} as deployed (changed outside agentdeploy)",
                shown(&self.endpoint_auth),
                shown(&deployed.endpoint_auth)
            ));
        }
        None
    }
}

/// What one ship did.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub live: Live,
    /// The pinned dependencies (`name==version`).
    pub pins: Vec<String>,
    pub build: BuildInfo,
    /// The target found nothing to change.
    pub no_changes: bool,
    /// The published version callers now reach, where the target versions its deployments.
    pub live_version: Option<String>,
    /// The newest published version (what this deploy made, or the last one when nothing
    /// changed): what smoke cases call before `live` moves to it.
    pub candidate_version: Option<String>,
    /// What the ship did differently from the plan.
    pub warnings: Vec<String>,
}

/// The deployed function as its platform reports it now, in the platform's own words (what is
/// ready, what failed, is the target's to judge).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FunctionState {
    pub state: String,
    pub last_update_status: String,
    pub runtime: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    /// Why the function is Failed (or its last update failed), as Lambda says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One published version of a deployment (never an unpublished draft).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishedVersion {
    pub version: String,
    pub last_modified: Option<String>,
    pub description: Option<String>,
}

/// A deployment as it runs now, for `status`.
#[derive(Debug, Clone)]
pub struct DeploymentState {
    pub stack_status: String,
    pub stack_status_reason: Option<String>,
    /// What failed, when the deployment is in a failed state.
    pub failed_resources: Vec<String>,
    pub outputs: std::collections::BTreeMap<String, String>,
    pub function: Option<FunctionState>,
    /// The version callers reach, and the published ones, oldest first.
    pub live_version: Option<String>,
    pub versions: Vec<PublishedVersion>,
    /// The deployment's alarms (`--alarm-errors`, `--alarm-p95`).
    pub alarms: Vec<AlarmState>,
}

/// An alarm on a deployment's metrics, as CloudWatch reports it now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AlarmState {
    pub name: String,
    /// OK, ALARM or INSUFFICIENT_DATA.
    pub state: String,
    pub reason: Option<String>,
}

/// What a deployment's requests did over a window, from the per-request metrics its runtime
/// writes (reference §11 "metrics").
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Measured {
    pub requests: u64,
    /// Answered 4xx (a bad request, a refused caller).
    pub client_errors: u64,
    /// Answered 5xx (the agent failed).
    pub server_errors: u64,
    pub cold_starts: u64,
    /// The mean INIT of the cold starts (the agent's import, as the runtime measured it).
    pub init_duration_ms: Option<f64>,
    pub duration_ms: Durations,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub model_calls: u64,
    pub tool_calls: u64,
    /// Tokens and calls per model id.
    pub models: std::collections::BTreeMap<String, ModelUsage>,
    /// Calls per tool name.
    pub tools: std::collections::BTreeMap<String, u64>,
    /// The function's memory and architecture now (what its compute is billed by).
    pub memory_mb: Option<u32>,
    pub architecture: Option<String>,
}

/// Request durations over the window (`None`: no requests).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Durations {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct ModelUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub calls: u64,
}

/// Which deployment a call reaches: the live alias, or one published `version`; as `tenant`,
/// where the function gives each tenant execution environments of its own.
#[derive(Debug, Clone, Copy, Default)]
pub struct Call<'a> {
    pub version: Option<&'a str>,
    pub tenant: Option<&'a str>,
}

/// The function as `dev` runs it on this machine: its code as it ships, its dependencies, the
/// runtime's Python, and the environment it would get.
#[derive(Debug, Clone)]
pub struct LocalFunction {
    /// The function's code as it ships (the handler, the runtime package, local modules).
    pub code_dir: std::path::PathBuf,
    /// Its dependencies, unpacked: on the path after the code, as Lambda's task root has them.
    pub deps_dir: std::path::PathBuf,
    pub python: std::path::PathBuf,
    /// The function's variables and secret values (never printed).
    pub environment: Vec<(String, String)>,
    /// How callers reach it: `api`, `url` or `none` (the request is the direct Invoke's event).
    pub endpoint: &'static str,
    /// Served behind the Web Adapter: the app answers every path itself.
    pub web: bool,
    /// The agent's file as errors name it.
    pub agent_file: String,
    /// What the banner says about how it runs here.
    pub notes: Vec<String>,
    /// What a change to restarts it: the agent's folder, its requirements, `.env`, the config.
    pub watched: Vec<std::path::PathBuf>,
}

/// A version published from code put straight into the function (`sync`).
#[derive(Debug, Clone)]
pub struct PublishedCode {
    pub version: String,
    pub code_sha256: Option<String>,
}

/// What one call of the deployed function answered.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub payload: Vec<u8>,
    /// The function raised: its platform's error type, if it says.
    pub function_error: Option<String>,
}

impl From<Invocation> for crate::smoke::Answer {
    fn from(invocation: Invocation) -> Self {
        crate::smoke::Answer {
            payload: invocation.payload,
            function_error: invocation.function_error,
        }
    }
}

/// A deployment found in the cloud (for `list` where this checkout has no record).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FoundDeployment {
    pub function_name: String,
    pub stack_name: String,
    pub stack_status: String,
    pub endpoint: Option<String>,
    /// A preview's age limit after its last change (`--ttl`, its stack's tag).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// When the deployment last changed, in seconds since the epoch.
    #[serde(skip)]
    pub changed_at: Option<i64>,
    /// A preview's end (`ttl` after its last change), RFC 3339, as `list` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl FoundDeployment {
    /// When a preview ends, in seconds since the epoch (`None`: not a preview).
    pub fn expiry(&self) -> Option<i64> {
        let ttl = crate::age::parse(self.ttl.as_deref()?)?;
        Some(self.changed_at? + i64::try_from(ttl.as_secs()).ok()?)
    }

    /// A preview past its end at `now` (seconds since the epoch).
    pub fn expired(&self, now: i64) -> bool {
        self.expiry().is_some_and(|at| at <= now)
    }
}

/// What a command is about to do to a deployment, for the check that it is this function's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Deploy,
    Rollback,
    Destroy,
}

/// What `destroy` removed.
#[derive(Debug, Clone, Default)]
pub struct Teardown {
    /// The deployment existed (and is now deleted).
    pub existed: bool,
    /// Why it was deleted although it carries no owner mark (the project's record named it).
    pub ownership_note: Option<String>,
    /// Stored conversations removed first.
    pub sessions_removed: usize,
    /// Secrets kept outside the deployment, removed with it.
    pub secrets_removed: usize,
    /// What `sync` kept in the artifact bucket for it, removed with it.
    pub sync_objects_removed: usize,
}

pub trait Target: Send + Sync {
    /// Everything one deployment needs, validated: owned by the target.
    type Settings: DeploymentSettings;
    type Plan: Planned<Settings = Self::Settings>;

    /// One agent's settings from its flags and config, validated before any work starts.
    fn resolve_settings(&self, input: ResolveInput<'_>) -> Result<Self::Settings>;

    /// Refuses (exit 2) a name this target cannot deploy an agent under.
    fn check_name(&self, name: &str) -> Result<()>;

    /// The deployment's name in the cloud when neither the record nor the config names it.
    fn default_stack_name(&self, name: &str, env_name: Option<&str>) -> String;

    /// `doctor`: this target's own checks (its tools), and the runtime, region and profile a
    /// deploy of the agent would use, by the same precedence and checks as a deploy.
    fn doctor(
        &self,
        input: ResolveInput<'_>,
    ) -> impl Future<Output = Result<DoctorFindings>> + Send;

    /// `cost`: this target's monthly estimate (`section`: the agent's config, when named).
    fn estimate_cost(&self, args: &CostArgs, section: &AgentSection) -> Result<CostEstimate>;

    /// Refuses `cost`'s flags this target's model cannot take, before anything remote is read.
    fn check_cost_flags(&self, args: &CostArgs) -> Result<()>;

    /// `cost --from-metrics`: a month at the measured rate (`invocations`: the measured requests
    /// scaled to a month; `has_api`: the deployment has an API its requests pass through).
    fn estimate_measured_cost(
        &self,
        args: &CostArgs,
        measured: &Measured,
        invocations: u64,
        has_api: bool,
        prices: Prices,
    ) -> Result<CostEstimate>;

    /// What the measured requests cost in this target's requests and compute alone.
    fn compute_cost(&self, measured: &Measured, prices: &Prices) -> CostEstimate;

    /// What the region (known only once AWS is reached: a profile's, the environment's) rules
    /// out for these settings, before anything is changed.
    fn check_region(&self, settings: &Self::Settings, region: &str) -> Result<()>;

    /// The settings as this target deploys them (secrets a hosted service needs, added).
    fn complete_settings(&self, settings: &Self::Settings) -> Self::Settings;

    /// The least-privilege IAM policy a deployer needs for these deployments (`policy`).
    fn deployer_policy(&self, settings: &[Self::Settings]) -> serde_json::Value;

    /// Where the deployment's log lines are kept (a CloudWatch Logs group).
    fn log_group(&self, function_name: &str) -> String;

    /// The name of the alias callers reach.
    fn live_alias(&self) -> &'static str;

    /// Analyses the agent and renders the deployment in memory.
    fn plan(&self, settings: &Self::Settings, region: Option<&str>) -> Result<Self::Plan>;

    /// The settings `dev` plans with: rendered into its own folder, for this machine.
    fn local_settings(&self, settings: &Self::Settings) -> Result<Self::Settings>;

    /// `dev`: the dependencies of `plan` (made with `local`, the `local_settings` of `deployed`)
    /// resolved and built as a deploy does, and how the function runs here. `reuse`: the last
    /// one prepared, when the requirement lines are the same (its dependencies are taken as
    /// they are; the rest is made again from these settings).
    fn prepare_local(
        &self,
        deployed: &Self::Settings,
        local: &Self::Settings,
        plan: &Self::Plan,
        secrets: &SecretValues,
        reuse: Option<&LocalFunction>,
        tool: ToolOptions<'_>,
    ) -> impl Future<Output = Result<LocalFunction>> + Send;

    /// `sync`: the plan's code built as a deploy builds it and put straight into the deployed
    /// function (no stack update), published as a new version; `live` is not moved here.
    fn sync_code(
        &self,
        settings: &Self::Settings,
        plan: &Self::Plan,
        aws: &AwsContext,
        secrets: &SecretValues,
        tool: ToolOptions<'_>,
    ) -> impl Future<Output = Result<PublishedCode>> + Send;

    /// Client configuration worth printing with the result (a code interpreter's MCP entry).
    fn client_config(&self, settings: &Self::Settings, region: &str) -> Option<serde_json::Value>;

    /// Builds and deploys the plan; `phase` hears each step as it starts.
    fn ship(
        &self,
        request: ShipRequest<'_, Self::Plan>,
        phase: &(dyn Fn(Phase) + Sync),
    ) -> impl Future<Output = Result<Shipped>> + Send;

    /// The deployment as it runs now, if it is healthy (complete stack, ready function).
    fn live(
        &self,
        settings: &Self::Settings,
        aws: &AwsContext,
    ) -> impl Future<Output = Result<Option<Live>>> + Send;

    /// Where the deployment's cross-machine deploy lock lives (`None`: nowhere yet, e.g. before
    /// the first deploy made the artifact bucket). `bucket`: the artifact bucket, when named.
    fn deploy_lock_location(
        &self,
        aws: &AwsContext,
        stack_name: &str,
        bucket: Option<&str>,
    ) -> impl Future<Output = Result<Option<crate::aws::s3_lock::LockLocation>>> + Send;

    /// What the last deploy recorded in the cloud (`None`: nothing yet).
    fn last_deploy(
        &self,
        aws: &AwsContext,
        settings: &Self::Settings,
    ) -> impl Future<Output = Result<Option<LastDeploy>>> + Send;

    /// Records in the cloud what was just deployed, for the next deploy from any machine.
    fn record_deployed(
        &self,
        aws: &AwsContext,
        settings: &Self::Settings,
        deployed: &LastDeploy,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The key secret values are digested with in the input hash: the same on every machine,
    /// kept where only the deployment's operators can read it.
    fn digest_key(
        &self,
        aws: &AwsContext,
        settings: &Self::Settings,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// The deployment as it runs now; `None` when it does not exist.
    fn state(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
    ) -> impl Future<Output = Result<Option<DeploymentState>>> + Send;

    /// What the deployment's requests did in the last `window` (its per-request metrics).
    fn measured(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        window: std::time::Duration,
    ) -> impl Future<Output = Result<Measured>> + Send;

    /// Every deployment agentdeploy made in the SDK's region (`list` without a record).
    fn deployments(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> impl Future<Output = Result<Vec<FoundDeployment>>> + Send;

    /// The deployment's status word alone (`None`: it does not exist), for `list --refresh`.
    fn deployment_status(
        &self,
        sdk: &aws_config::SdkConfig,
        stack_name: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Calls the deployed function with `payload`: through the live alias, or one published
    /// version, as a tenant where the function isolates them (`call`).
    fn invoke(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        call: Call<'_>,
        payload: Vec<u8>,
    ) -> impl Future<Output = Result<Invocation>> + Send;

    /// Calls the deployed function with `payload` and hears its answer as it is written: `each`
    /// gets every event (a JSON value; text pieces as strings) as it arrives.
    fn invoke_streamed(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        tenant: Option<&str>,
        payload: Vec<u8>,
        each: &mut (dyn FnMut(serde_json::Value) + Send),
    ) -> impl Future<Output = Result<Invocation>> + Send;

    /// The version the live alias points at (`None`: no such function or alias).
    fn live_version(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// The version the live alias points at (`None`: no alias), and the published ones.
    fn versions(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> impl Future<Output = Result<(Option<String>, Vec<PublishedVersion>)>> + Send;

    /// What the deployment is now, for the unchanged check (a few reads, well under a second).
    fn fingerprint(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> impl Future<Output = Result<Fingerprint>> + Send;

    /// Points the live alias at `version`.
    fn point_live(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        version: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Refuses (exit 2, nothing changed) a deployment that exists in the cloud but is not this
    /// function's: made by someone else, or by agentdeploy for another function. `recorded`:
    /// this project's record shows a deploy of the function into it. `Ok(Some(note))`: only
    /// the record vouches for it.
    fn check_owner(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        change: Change,
    ) -> impl Future<Output = Result<Option<String>>> + Send;

    /// Deletes the deployment and what it keeps elsewhere (in `artifact_bucket` too, when it is
    /// known), if it is this function's (`recorded`: the project's record names it); waits
    /// until it is gone.
    fn destroy(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        artifact_bucket: Option<&str>,
    ) -> impl Future<Output = Result<Teardown>> + Send;
}
