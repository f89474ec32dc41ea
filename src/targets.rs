//! The target registry: the one place targets are named, and where one is chosen for each agent
//! (`--target`, else `AGENTDEPLOY_TARGET`, else `target` in its config; `lambda` by default).
//!
//! `AnyTarget` is an enum of the targets that dispatches through the one `Target` trait: its
//! settings and plans are the chosen target's, wrapped, so a fleet can mix targets while the
//! orchestration layer drives them all alike.

use std::path::PathBuf;

use crate::aws::AwsContext;
use crate::cli::CostArgs;
use crate::error::{Error, Result};
use crate::folder::{FOLDER_VARIABLE, FolderPlan, FolderSettings, FolderTarget};
use crate::lambda::LambdaPlan;
use crate::lambda::settings::LambdaSettings;
use crate::lambda::target::LambdaTarget;
use crate::options::AgentSection;
use crate::output::PlanView;
use crate::prices::Prices;
use crate::target::{
    Call, Change, CostEstimate, DeploymentSettings, DeploymentState, DoctorFindings, Fingerprint,
    FoundDeployment, Invocation, LastDeploy, Live, LocalFunction, Measured, Phase, Planned,
    PublishedVersion, ResolveInput, Shape, ShipRequest, Shipped, Target, Teardown,
};

/// The targets an agent can be deployed by.
#[derive(Clone)]
pub enum AnyTarget {
    Lambda(LambdaTarget),
    /// The test-only stand-in (`crate::folder`).
    Folder(FolderTarget),
}

#[derive(Debug, Clone)]
pub enum AnySettings {
    Lambda(Box<LambdaSettings>),
    Folder(FolderSettings),
}

#[derive(Debug, Clone)]
pub enum AnyPlan {
    Lambda(Box<LambdaPlan>),
    Folder(FolderPlan),
}

/// The default target, for commands that name no agent (`list` of what a region holds).
pub fn default_target() -> AnyTarget {
    AnyTarget::Lambda(lambda())
}

/// The run's one Lambda target: every agent of a fleet shares it, so the machine is asked once
/// which Python runtimes answer (500 agents: one interpreter start, not 500).
fn lambda() -> LambdaTarget {
    static LAMBDA: std::sync::OnceLock<LambdaTarget> = std::sync::OnceLock::new();
    LAMBDA.get_or_init(LambdaTarget::new).clone()
}

/// The target `name` names: `lambda`, or `folder` while `AGENTDEPLOY_FOLDER_TARGET` is set.
/// `origin`: where the name came from, for the error.
pub fn named(name: &str, origin: &str) -> Result<AnyTarget> {
    match name {
        "lambda" => Ok(default_target()),
        "folder" => match std::env::var_os(FOLDER_VARIABLE) {
            Some(root) if !root.is_empty() => Ok(AnyTarget::Folder(FolderTarget {
                root: PathBuf::from(root),
            })),
            _ => Err(Error::usage_hint(
                origin,
                "target `folder` is a stand-in for agentdeploy's own tests".to_string(),
                format!(
                    "deploy with target `lambda`, or set {FOLDER_VARIABLE} to the folder it deploys into"
                ),
            )),
        },
        other => Err(Error::usage_hint(
            origin,
            format!("`{other}` is not a target"),
            "use `lambda` (the only target so far)",
        )),
    }
}

/// The target of one agent: `flag` (`--target`), else `AGENTDEPLOY_TARGET`, else its config
/// section's `target`, else Lambda.
pub fn for_agent(flag: Option<&str>, section: &AgentSection) -> Result<AnyTarget> {
    if let Some(name) = flag {
        return named(name, "--target");
    }
    if let Some(name) = std::env::var("AGENTDEPLOY_TARGET")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return named(&name, "AGENTDEPLOY_TARGET");
    }
    match section.target.as_deref() {
        Some(name) => named(name, "target"),
        None => Ok(default_target()),
    }
}

fn mismatch() -> Error {
    Error::internal("a target was handed another target's settings or plan")
}

/// Runs `$body` with `$t` bound to the chosen target.
macro_rules! each_target {
    ($self:expr, $t:ident => $body:expr) => {
        match $self {
            AnyTarget::Lambda($t) => $body,
            AnyTarget::Folder($t) => $body,
        }
    };
}

/// Runs `$body` with `$t` the target and `$s` its own settings (a mismatch is a bug).
macro_rules! with_settings {
    ($self:expr, $settings:expr, $t:ident, $s:ident => $body:expr) => {
        match ($self, $settings) {
            (AnyTarget::Lambda($t), AnySettings::Lambda($s)) => $body,
            (AnyTarget::Folder($t), AnySettings::Folder($s)) => $body,
            _ => Err(mismatch()),
        }
    };
}

macro_rules! each_settings {
    ($settings:expr, $s:ident => $body:expr) => {
        match $settings {
            AnySettings::Lambda($s) => $body,
            AnySettings::Folder($s) => $body,
        }
    };
}

impl DeploymentSettings for AnySettings {
    fn sources(&self) -> Vec<PathBuf> {
        each_settings!(self, s => s.sources())
    }

    fn function_name(&self) -> &str {
        each_settings!(self, s => s.function_name())
    }
    fn env_name(&self) -> Option<&str> {
        each_settings!(self, s => s.env_name())
    }
    fn stack_name(&self) -> &str {
        each_settings!(self, s => s.stack_name())
    }
    fn region(&self) -> Option<&str> {
        each_settings!(self, s => s.region())
    }
    fn profile(&self) -> Option<&str> {
        each_settings!(self, s => s.profile())
    }
    fn artifact_bucket(&self) -> Option<&str> {
        each_settings!(self, s => s.artifact_bucket())
    }
    fn project_dir(&self) -> &std::path::Path {
        each_settings!(self, s => s.project_dir())
    }
    fn out_dir(&self) -> &std::path::Path {
        each_settings!(self, s => s.out_dir())
    }
    fn secret_names(&self) -> &[String] {
        each_settings!(self, s => s.secret_names())
    }
    fn force(&self) -> bool {
        each_settings!(self, s => s.force())
    }
    fn smoke(&self) -> Option<&crate::smoke::Cases> {
        each_settings!(self, s => s.smoke())
    }
    fn warnings(&self) -> &[String] {
        each_settings!(self, s => s.warnings())
    }
    fn shape(&self) -> Shape {
        each_settings!(self, s => s.shape())
    }
    fn call_tenant(&self) -> Option<&str> {
        each_settings!(self, s => s.call_tenant())
    }
}

impl Planned for AnyPlan {
    type Settings = AnySettings;

    fn warnings(&self) -> &[String] {
        match self {
            AnyPlan::Lambda(p) => p.warnings(),
            AnyPlan::Folder(p) => p.warnings(),
        }
    }

    fn dependency_specifiers(&self) -> Vec<String> {
        match self {
            AnyPlan::Lambda(p) => p.dependency_specifiers(),
            AnyPlan::Folder(p) => p.dependency_specifiers(),
        }
    }

    fn shape(&self, settings: &AnySettings) -> Result<std::collections::BTreeMap<String, String>> {
        match (self, settings) {
            (AnyPlan::Lambda(p), AnySettings::Lambda(s)) => p.shape(s),
            (AnyPlan::Folder(p), AnySettings::Folder(s)) => p.shape(s),
            _ => Err(mismatch()),
        }
    }

    fn unfounded_warnings(&self, settings: &AnySettings, pins: &[String]) -> Vec<String> {
        match (self, settings) {
            (AnyPlan::Lambda(p), AnySettings::Lambda(s)) => p.unfounded_warnings(s, pins),
            (AnyPlan::Folder(p), AnySettings::Folder(s)) => p.unfounded_warnings(s, pins),
            _ => Vec::new(),
        }
    }

    fn write(&self, settings: &AnySettings) -> Result<()> {
        match (self, settings) {
            (AnyPlan::Lambda(p), AnySettings::Lambda(s)) => p.write(s),
            (AnyPlan::Folder(p), AnySettings::Folder(s)) => p.write(s),
            _ => Err(mismatch()),
        }
    }

    fn describe(&self, settings: &AnySettings, pins: Option<&[String]>) -> PlanView {
        match (self, settings) {
            (AnyPlan::Lambda(p), AnySettings::Lambda(s)) => p.describe(s, pins),
            (AnyPlan::Folder(p), AnySettings::Folder(s)) => p.describe(s, pins),
            _ => PlanView {
                document: serde_json::Value::Null,
                lines: Vec::new(),
            },
        }
    }

    fn input_hash(&self, region: &str, secrets: &[(String, String)], digest_key: &[u8]) -> String {
        match self {
            AnyPlan::Lambda(p) => p.input_hash(region, secrets, digest_key),
            AnyPlan::Folder(p) => p.input_hash(region, secrets, digest_key),
        }
    }
}

impl Target for AnyTarget {
    type Settings = AnySettings;
    type Plan = AnyPlan;

    fn resolve_settings(&self, input: ResolveInput<'_>) -> Result<AnySettings> {
        match self {
            AnyTarget::Lambda(t) => Ok(AnySettings::Lambda(Box::new(t.resolve_settings(input)?))),
            AnyTarget::Folder(t) => Ok(AnySettings::Folder(t.resolve_settings(input)?)),
        }
    }

    fn check_name(&self, name: &str) -> Result<()> {
        each_target!(self, t => t.check_name(name))
    }

    fn default_stack_name(&self, name: &str, env_name: Option<&str>) -> String {
        each_target!(self, t => t.default_stack_name(name, env_name))
    }

    async fn doctor(&self, input: ResolveInput<'_>) -> Result<DoctorFindings> {
        each_target!(self, t => t.doctor(input).await)
    }

    fn estimate_cost(&self, args: &CostArgs, section: &AgentSection) -> Result<CostEstimate> {
        each_target!(self, t => t.estimate_cost(args, section))
    }

    fn check_cost_flags(&self, args: &CostArgs) -> Result<()> {
        each_target!(self, t => t.check_cost_flags(args))
    }

    fn estimate_measured_cost(
        &self,
        args: &CostArgs,
        measured: &Measured,
        invocations: u64,
        has_api: bool,
        prices: Prices,
    ) -> Result<CostEstimate> {
        each_target!(self, t => t.estimate_measured_cost(args, measured, invocations, has_api, prices))
    }

    fn compute_cost(&self, measured: &Measured, prices: &Prices) -> CostEstimate {
        each_target!(self, t => t.compute_cost(measured, prices))
    }

    fn check_region(&self, settings: &AnySettings, region: &str) -> Result<()> {
        with_settings!(self, settings, t, s => t.check_region(s, region))
    }

    fn complete_settings(&self, settings: &AnySettings) -> AnySettings {
        match (self, settings) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s)) => {
                AnySettings::Lambda(Box::new(t.complete_settings(s)))
            }
            (AnyTarget::Folder(t), AnySettings::Folder(s)) => {
                AnySettings::Folder(t.complete_settings(s))
            }
            _ => settings.clone(),
        }
    }

    /// Each target's policy for its own agents (`lambda`'s when the selection mixes them: the
    /// folder needs no AWS permissions).
    fn deployer_policy(&self, settings: &[AnySettings]) -> serde_json::Value {
        let lambda_settings: Vec<LambdaSettings> = settings
            .iter()
            .filter_map(|s| match s {
                AnySettings::Lambda(s) => Some(s.as_ref().clone()),
                AnySettings::Folder(_) => None,
            })
            .collect();
        let folder: Vec<FolderSettings> = settings
            .iter()
            .filter_map(|s| match s {
                AnySettings::Folder(s) => Some(s.clone()),
                AnySettings::Lambda(_) => None,
            })
            .collect();
        match self {
            AnyTarget::Folder(t) if lambda_settings.is_empty() => t.deployer_policy(&folder),
            _ => lambda().deployer_policy(&lambda_settings),
        }
    }

    fn log_group(&self, function_name: &str) -> String {
        each_target!(self, t => t.log_group(function_name))
    }

    fn live_alias(&self) -> &'static str {
        each_target!(self, t => t.live_alias())
    }

    fn plan(&self, settings: &AnySettings, region: Option<&str>) -> Result<AnyPlan> {
        match (self, settings) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s)) => {
                Ok(AnyPlan::Lambda(Box::new(t.plan(s, region)?)))
            }
            (AnyTarget::Folder(t), AnySettings::Folder(s)) => {
                Ok(AnyPlan::Folder(t.plan(s, region)?))
            }
            _ => Err(mismatch()),
        }
    }

    async fn sync_code(
        &self,
        settings: &AnySettings,
        plan: &AnyPlan,
        aws: &AwsContext,
        secrets: &crate::secrets::SecretValues,
        tool: crate::process::ToolOptions<'_>,
    ) -> Result<crate::target::PublishedCode> {
        match (self, settings, plan) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s), AnyPlan::Lambda(p)) => {
                t.sync_code(s, p, aws, secrets, tool).await
            }
            (AnyTarget::Folder(t), AnySettings::Folder(s), AnyPlan::Folder(p)) => {
                t.sync_code(s, p, aws, secrets, tool).await
            }
            _ => Err(mismatch()),
        }
    }

    fn local_settings(&self, settings: &AnySettings) -> Result<AnySettings> {
        match (self, settings) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s)) => {
                Ok(AnySettings::Lambda(Box::new(t.local_settings(s)?)))
            }
            (AnyTarget::Folder(t), AnySettings::Folder(s)) => {
                Ok(AnySettings::Folder(t.local_settings(s)?))
            }
            _ => Err(mismatch()),
        }
    }

    async fn prepare_local(
        &self,
        deployed: &AnySettings,
        local: &AnySettings,
        plan: &AnyPlan,
        secrets: &crate::secrets::SecretValues,
        reuse: Option<&LocalFunction>,
        tool: crate::process::ToolOptions<'_>,
    ) -> Result<LocalFunction> {
        match (self, deployed, local, plan) {
            (
                AnyTarget::Lambda(t),
                AnySettings::Lambda(d),
                AnySettings::Lambda(l),
                AnyPlan::Lambda(p),
            ) => t.prepare_local(d, l, p, secrets, reuse, tool).await,
            (
                AnyTarget::Folder(t),
                AnySettings::Folder(d),
                AnySettings::Folder(l),
                AnyPlan::Folder(p),
            ) => t.prepare_local(d, l, p, secrets, reuse, tool).await,
            _ => Err(mismatch()),
        }
    }

    fn client_config(&self, settings: &AnySettings, region: &str) -> Option<serde_json::Value> {
        match (self, settings) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s)) => t.client_config(s, region),
            (AnyTarget::Folder(t), AnySettings::Folder(s)) => t.client_config(s, region),
            _ => None,
        }
    }

    async fn ship(
        &self,
        request: ShipRequest<'_, AnyPlan>,
        phase: &(dyn Fn(Phase) + Sync),
    ) -> Result<Shipped> {
        let ShipRequest {
            settings,
            plan,
            aws,
            secrets,
            tool,
            restore_live,
            secrets_version,
            hold_live,
        } = request;
        macro_rules! ship_with {
            ($t:expr, $s:expr, $p:expr) => {
                $t.ship(
                    ShipRequest {
                        settings: $s,
                        plan: $p,
                        aws,
                        secrets,
                        tool,
                        restore_live,
                        secrets_version,
                        hold_live,
                    },
                    phase,
                )
                .await
            };
        }
        match (self, settings, plan) {
            (AnyTarget::Lambda(t), AnySettings::Lambda(s), AnyPlan::Lambda(p)) => {
                ship_with!(t, s.as_ref(), p.as_ref())
            }
            (AnyTarget::Folder(t), AnySettings::Folder(s), AnyPlan::Folder(p)) => {
                ship_with!(t, s, p)
            }
            _ => Err(mismatch()),
        }
    }

    async fn live(&self, settings: &AnySettings, aws: &AwsContext) -> Result<Option<Live>> {
        with_settings!(self, settings, t, s => t.live(s, aws).await)
    }

    async fn deploy_lock_location(
        &self,
        aws: &AwsContext,
        stack_name: &str,
        bucket: Option<&str>,
    ) -> Result<Option<crate::aws::s3_lock::LockLocation>> {
        each_target!(self, t => t.deploy_lock_location(aws, stack_name, bucket).await)
    }

    async fn last_deploy(
        &self,
        aws: &AwsContext,
        settings: &AnySettings,
    ) -> Result<Option<LastDeploy>> {
        with_settings!(self, settings, t, s => t.last_deploy(aws, s).await)
    }

    async fn record_deployed(
        &self,
        aws: &AwsContext,
        settings: &AnySettings,
        deployed: &LastDeploy,
    ) -> Result<()> {
        with_settings!(self, settings, t, s => t.record_deployed(aws, s, deployed).await)
    }

    async fn digest_key(&self, aws: &AwsContext, settings: &AnySettings) -> Result<Vec<u8>> {
        with_settings!(self, settings, t, s => t.digest_key(aws, s).await)
    }

    async fn state(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
    ) -> Result<Option<DeploymentState>> {
        each_target!(self, t => t.state(sdk, function_name, stack_name).await)
    }

    async fn measured(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        window: std::time::Duration,
    ) -> Result<Measured> {
        each_target!(self, t => t.measured(sdk, function_name, window).await)
    }

    async fn deployments(&self, sdk: &aws_config::SdkConfig) -> Result<Vec<FoundDeployment>> {
        each_target!(self, t => t.deployments(sdk).await)
    }

    async fn deployment_status(
        &self,
        sdk: &aws_config::SdkConfig,
        stack_name: &str,
    ) -> Result<Option<String>> {
        each_target!(self, t => t.deployment_status(sdk, stack_name).await)
    }

    async fn invoke(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        call: Call<'_>,
        payload: Vec<u8>,
    ) -> Result<Invocation> {
        each_target!(self, t => t.invoke(sdk, function_name, call, payload).await)
    }

    async fn invoke_streamed(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        tenant: Option<&str>,
        payload: Vec<u8>,
        each: &mut (dyn FnMut(serde_json::Value) + Send),
    ) -> Result<Invocation> {
        each_target!(self, t => t.invoke_streamed(sdk, function_name, tenant, payload, each).await)
    }

    async fn live_version(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<Option<String>> {
        each_target!(self, t => t.live_version(sdk, function_name).await)
    }

    async fn versions(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<(Option<String>, Vec<PublishedVersion>)> {
        each_target!(self, t => t.versions(sdk, function_name).await)
    }

    async fn fingerprint(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<Fingerprint> {
        each_target!(self, t => t.fingerprint(sdk, function_name).await)
    }

    async fn point_live(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        version: &str,
    ) -> Result<()> {
        each_target!(self, t => t.point_live(sdk, function_name, version).await)
    }

    async fn check_owner(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        change: Change,
    ) -> Result<Option<String>> {
        each_target!(self, t => t.check_owner(sdk, function_name, stack_name, recorded, change).await)
    }

    async fn destroy(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        artifact_bucket: Option<&str>,
    ) -> Result<Teardown> {
        each_target!(self, t => t.destroy(sdk, function_name, stack_name, recorded, artifact_bucket).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_agent_of_a_run_gets_the_one_lambda_target_and_its_one_probe() {
        let section = AgentSection::default();
        let (Ok(AnyTarget::Lambda(a)), Ok(AnyTarget::Lambda(b))) = (
            for_agent(None, &section),
            for_agent(Some("lambda"), &section),
        ) else {
            panic!("lambda is the default target");
        };
        assert!(a.shares_probe_with(&b));
        let AnyTarget::Lambda(c) = default_target() else {
            panic!("lambda is the default target");
        };
        assert!(c.shares_probe_with(&a));
        assert!(!LambdaTarget::new().shares_probe_with(&a));
    }

    #[test]
    fn an_unknown_target_is_refused_naming_where_it_came_from() {
        let err = named("gcp", "target").err().unwrap();
        assert!(err.to_string().starts_with("target: "), "{err}");
        assert!(err.to_string().contains("`gcp` is not a target"), "{err}");
    }
}
