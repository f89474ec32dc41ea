//! The Lambda target: what the orchestration layer calls (`crate::target::Target`) mapped onto
//! this module's analysis, rendering, sam runner and stack outputs.

use crate::aws::AwsContext;
use crate::build_report::ResolvedBy;
use crate::cli::CostArgs;
use crate::error::Result;
use crate::lambda::LambdaPlan;
use crate::lambda::bundle::cold_start;
use crate::lambda::bundle::pipeline::StackRequest;
use crate::lambda::kinds::{AuthMode, EndpointKind};
use crate::lambda::pricing;
use crate::lambda::render::code_interpreter;
use crate::lambda::settings::{
    ArtifactBucket, CachedProbe, DeploymentKind, LambdaSettings, PathProbe,
};
use crate::lambda::ship::artifact_bucket;
use crate::lambda::ship::deploy::{self};
use crate::lambda::ship::operate;
use crate::lambda::ship::outputs::StackOutputs;
use crate::lambda::ship::remote_record;
use crate::options::AgentSection;
use crate::output::{BuildInfo, EndpointAccess, PlanView};
use crate::prices::Prices;
use crate::target::{
    Call, CostEstimate, DeploymentSettings, DeploymentState, DoctorFindings, Invocation,
    LastDeploy, Live, Measured, Phase, Planned, PublishedVersion, ResolveInput, Shape, ShipRequest,
    Shipped, Target, Teardown,
};
use crate::timings;

/// AWS Lambda behind API Gateway or a Function URL, deployed with SAM.
#[derive(Clone)]
pub struct LambdaTarget {
    /// Which Python runtimes answer on this machine, asked once per run for a whole fleet.
    probe: std::sync::Arc<CachedProbe<PathProbe>>,
}

impl LambdaTarget {
    pub fn new() -> LambdaTarget {
        LambdaTarget {
            probe: std::sync::Arc::new(CachedProbe::new(PathProbe)),
        }
    }
}

impl LambdaTarget {
    /// Whether `other` asks the machine through this target's probe (one cache for a run).
    pub fn shares_probe_with(&self, other: &LambdaTarget) -> bool {
        std::sync::Arc::ptr_eq(&self.probe, &other.probe)
    }
}

impl Default for LambdaTarget {
    fn default() -> Self {
        LambdaTarget::new()
    }
}

impl DeploymentSettings for LambdaSettings {
    fn function_name(&self) -> &str {
        &self.function_name
    }

    fn sources(&self) -> Vec<std::path::PathBuf> {
        crate::lambda::local::sources(self)
    }

    fn env_name(&self) -> Option<&str> {
        self.env_name.as_deref()
    }

    fn stack_name(&self) -> &str {
        &self.stack_name
    }

    fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    fn artifact_bucket(&self) -> Option<&str> {
        match &self.artifact_bucket {
            ArtifactBucket::Named(bucket) => Some(bucket),
            ArtifactBucket::Resolve => None,
        }
    }

    fn project_dir(&self) -> &std::path::Path {
        &self.project_dir
    }

    fn out_dir(&self) -> &std::path::Path {
        &self.out_dir
    }

    fn secret_names(&self) -> &[String] {
        &self.secrets
    }

    fn smoke(&self) -> Option<&crate::smoke::Cases> {
        self.smoke.as_ref()
    }

    fn force(&self) -> bool {
        self.force
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn shape(&self) -> Shape {
        Shape {
            endpoint_kind: self.endpoint.as_str().to_string(),
            runtime: self.runtime.name(),
            architecture: self.architecture.as_str().to_string(),
            memory: self.memory,
            timeout: self.timeout,
        }
    }

    fn call_tenant(&self) -> Option<&str> {
        (self.isolation == crate::lambda::kinds::Isolation::Tenant).then_some(SMOKE_TENANT)
    }
}

/// The tenant agentdeploy's smoke cases call a tenant-isolated function as: environments of
/// their own, never a caller's.
const SMOKE_TENANT: &str = "agentdeploy-smoke";

impl Planned for LambdaPlan {
    type Settings = LambdaSettings;

    fn warnings(&self) -> &[String] {
        &self.warnings
    }

    fn dependency_specifiers(&self) -> Vec<String> {
        self.requirements.specifiers.clone()
    }

    fn shape(
        &self,
        settings: &LambdaSettings,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let digest = |text: &str| {
            use sha2::Digest;
            crate::digest::hex(&sha2::Sha256::digest(text.as_bytes()))
        };
        // The template as the deploy renders it (its own log group; the code's location aside):
        // settings, permissions, endpoint and what the analysis of the code put there.
        let template = crate::lambda::render::render_template(
            settings,
            &self.iam,
            crate::lambda::bundle::package::FUNCTION_ZIP,
            true,
            self.project.web.as_ref(),
        )?;
        Ok([
            (
                "dependencies".to_string(),
                digest(&self.requirements.specifiers.join("\n")),
            ),
            ("settings".to_string(), digest(&template)),
        ]
        .into_iter()
        .collect())
    }

    fn unfounded_warnings(&self, settings: &LambdaSettings, pins: &[String]) -> Vec<String> {
        // What the resolved set holds: the top-level modules of its built dependency zip.
        let zip = crate::lambda::bundle::pipeline::Deps::of(settings, pins)
            .shared
            .zip;
        let modules = crate::lambda::bundle::package::top_level_modules(&zip);
        self.requirements.provided_by(pins, &modules)
    }

    fn write(&self, settings: &LambdaSettings) -> Result<()> {
        self.project.write(&settings.out_dir, &settings.project_dir)
    }

    fn describe(&self, settings: &LambdaSettings, pins: Option<&[String]>) -> PlanView {
        LambdaPlan::describe(self, settings, pins)
    }

    fn input_hash(&self, region: &str, secrets: &[(String, String)], digest_key: &[u8]) -> String {
        LambdaPlan::input_hash(self, region, secrets, digest_key)
    }
}

impl Target for LambdaTarget {
    type Settings = LambdaSettings;
    type Plan = LambdaPlan;

    fn resolve_settings(&self, input: ResolveInput<'_>) -> Result<LambdaSettings> {
        crate::lambda::settings::resolve(input, self.probe.as_ref())
    }

    fn check_name(&self, name: &str) -> Result<()> {
        crate::lambda::settings::validate_function_name(name)
    }

    fn default_stack_name(&self, name: &str, env_name: Option<&str>) -> String {
        crate::lambda::settings::default_stack_name(name, env_name)
    }

    async fn doctor(&self, input: ResolveInput<'_>) -> Result<DoctorFindings> {
        let resolved = crate::lambda::settings::resolve_for_doctor(input, self.probe.as_ref())?;
        Ok(DoctorFindings {
            runtime: resolved.runtime.name(),
            checks: crate::lambda::preflight::checks(resolved.runtime).await,
            region: resolved.region,
            profile: resolved.profile,
        })
    }

    fn estimate_cost(&self, args: &CostArgs, section: &AgentSection) -> Result<CostEstimate> {
        pricing::estimate_cost(args, section)
    }

    fn check_cost_flags(&self, args: &CostArgs) -> Result<()> {
        pricing::init_duration(args)?;
        pricing::api_gateway_counted(args).map(|_| ())
    }

    fn estimate_measured_cost(
        &self,
        args: &CostArgs,
        measured: &Measured,
        invocations: u64,
        has_api: bool,
        prices: Prices,
    ) -> Result<CostEstimate> {
        pricing::estimate_measured_cost(args, measured, invocations, has_api, prices)
    }

    fn compute_cost(&self, measured: &Measured, prices: &Prices) -> CostEstimate {
        pricing::measured_compute_cost(measured, prices)
    }

    fn plan(&self, settings: &LambdaSettings, region: Option<&str>) -> Result<LambdaPlan> {
        LambdaPlan::prepare(settings, region)
    }

    async fn sync_code(
        &self,
        settings: &LambdaSettings,
        plan: &LambdaPlan,
        aws: &AwsContext,
        secrets: &crate::secrets::SecretValues,
        tool: crate::process::ToolOptions<'_>,
    ) -> Result<crate::target::PublishedCode> {
        crate::lambda::ship::sync::sync(
            StackRequest {
                settings,
                plan,
                aws,
                sam: None,
                secrets,
                secrets_version: None,
                hold_live: None,
                tool,
            },
            &settings.function_name,
        )
        .await
    }

    fn local_settings(&self, settings: &LambdaSettings) -> Result<LambdaSettings> {
        Ok(crate::lambda::local::dev_settings(settings))
    }

    async fn prepare_local(
        &self,
        deployed: &LambdaSettings,
        local: &LambdaSettings,
        plan: &LambdaPlan,
        secrets: &crate::secrets::SecretValues,
        reuse: Option<&crate::target::LocalFunction>,
        tool: crate::process::ToolOptions<'_>,
    ) -> Result<crate::target::LocalFunction> {
        crate::lambda::local::prepare(deployed, local, plan, secrets, reuse, tool).await
    }

    fn client_config(&self, settings: &LambdaSettings, region: &str) -> Option<serde_json::Value> {
        (settings.kind == DeploymentKind::CodeInterpreter)
            .then(|| code_interpreter::mcp_client_config(region))
    }

    async fn ship(
        &self,
        request: ShipRequest<'_, LambdaPlan>,
        phase: &(dyn Fn(Phase) + Sync),
    ) -> Result<Shipped> {
        let sam = timings::timed(timings::Category::Sam, crate::lambda::tools::sam_cli()).await?;
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
        let deployed = deploy::deploy(
            StackRequest {
                settings,
                plan,
                aws,
                sam: Some(&sam),
                secrets,
                secrets_version: secrets_version.as_deref(),
                hold_live: hold_live.as_deref(),
                tool,
            },
            phase,
        )
        .await?;
        // A stack update that did not replace the version left `live` wherever it was (a
        // rollback, a hand that moved it, a record that could not be believed): after every
        // deploy it serves the stack's own version again.
        let restore_live = restore_live || deployed.live_version.is_some();
        let live_version = match (&deployed.outputs.function_name, restore_live) {
            // Held: the smoke cases decide where `live` goes.
            (Some(function_name), true) if hold_live.is_none() => {
                operate::restore_live(&aws.sdk, &settings.stack_name, function_name).await?
            }
            _ => deployed.live_version.clone(),
        };
        Ok(Shipped {
            warnings: deployed.warnings.clone(),
            live_version,
            candidate_version: deployed.candidate_version.clone(),
            live: live(settings, &deployed.outputs, &aws.region),
            build: BuildInfo {
                strategy: deployed.strategy.as_str().to_string(),
                artifact_bytes: Some(deployed.artifact_bytes),
                cached: deployed.build_cached
                    || (deployed.resolved_by == ResolvedBy::Cache && !deployed.pins.is_empty()),
                dependencies_cached: Some(deployed.resolved_by == ResolvedBy::Cache),
                resolved_by: Some(deployed.resolved_by),
                bytecode: deployed.bytecode.clone(),
                remote_cache: Some(deployed.remote_cache.as_str().to_string()),
                cold_start: Some(match &deployed.bytecode {
                    Some(bytecode) => cold_start::estimate(
                        &cold_start::Imports::built(bytecode),
                        settings.memory,
                        settings.snapstart,
                    ),
                    // Reused from a build whose facts were not kept: the plan's expectation.
                    None => plan.expected_cold_start(settings),
                }),
            },
            pins: deployed.pins,
            no_changes: deployed.no_changes,
        })
    }

    async fn live(&self, settings: &LambdaSettings, aws: &AwsContext) -> Result<Option<Live>> {
        Ok(operate::ready_outputs(&aws.sdk, &settings.stack_name)
            .await?
            .map(|stack_outputs| live(settings, &stack_outputs, &aws.region)))
    }

    async fn deploy_lock_location(
        &self,
        aws: &AwsContext,
        stack_name: &str,
        bucket: Option<&str>,
    ) -> Result<Option<crate::aws::s3_lock::LockLocation>> {
        let bucket = match bucket {
            Some(bucket) => ArtifactBucket::Named(bucket.to_string()),
            None => ArtifactBucket::Resolve,
        };
        let Some(bucket) = artifact_bucket::find(&aws.sdk, &bucket).await? else {
            return Ok(None);
        };
        // Locks are signed with the cache's key: a lock written without it is no lock.
        let key = remote_record::cache_key(&aws.sdk).await?;
        Ok(Some(crate::aws::s3_lock::LockLocation::for_stack(
            &bucket, stack_name, key,
        )))
    }

    async fn last_deploy(
        &self,
        aws: &AwsContext,
        settings: &LambdaSettings,
    ) -> Result<Option<LastDeploy>> {
        remote_record::read(&aws.sdk, &settings.stack_name).await
    }

    async fn record_deployed(
        &self,
        aws: &AwsContext,
        settings: &LambdaSettings,
        deployed: &LastDeploy,
    ) -> Result<()> {
        remote_record::write(&aws.sdk, &settings.stack_name, deployed).await
    }

    async fn digest_key(&self, aws: &AwsContext, settings: &LambdaSettings) -> Result<Vec<u8>> {
        remote_record::digest_key(&aws.sdk, &settings.stack_name).await
    }

    fn deployer_policy(&self, settings: &[LambdaSettings]) -> serde_json::Value {
        crate::lambda::deployer_policy::document(settings)
    }

    fn check_region(&self, settings: &LambdaSettings, region: &str) -> Result<()> {
        match crate::lambda::settings::region_problem(settings, region) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn complete_settings(&self, settings: &LambdaSettings) -> LambdaSettings {
        crate::lambda::analyse::hosted_interpreters::with_required_secrets(settings)
    }

    fn log_group(&self, function_name: &str) -> String {
        crate::lambda::render::log_group_name(function_name)
    }

    fn live_alias(&self) -> &'static str {
        crate::lambda::render::LIVE_ALIAS
    }

    async fn state(
        &self,
        sdk: &aws_config::SdkConfig,
        _function_name: &str,
        stack_name: &str,
    ) -> Result<Option<DeploymentState>> {
        operate::state(sdk, stack_name).await
    }

    async fn measured(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        window: std::time::Duration,
    ) -> Result<crate::target::Measured> {
        crate::lambda::ship::measured::measured(sdk, function_name, window).await
    }

    async fn deployments(
        &self,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Vec<crate::target::FoundDeployment>> {
        operate::deployments(sdk).await
    }

    async fn deployment_status(
        &self,
        sdk: &aws_config::SdkConfig,
        stack_name: &str,
    ) -> Result<Option<String>> {
        operate::stack_status(sdk, stack_name).await
    }

    async fn invoke(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        call: Call<'_>,
        payload: Vec<u8>,
    ) -> Result<Invocation> {
        operate::invoke(sdk, function_name, call, payload).await
    }

    async fn invoke_streamed(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        tenant: Option<&str>,
        payload: Vec<u8>,
        each: &mut (dyn FnMut(serde_json::Value) + Send),
    ) -> Result<Invocation> {
        operate::invoke_streamed(sdk, function_name, tenant, payload, each).await
    }

    async fn live_version(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<Option<String>> {
        operate::live_version(sdk, function_name).await
    }

    async fn versions(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<(Option<String>, Vec<PublishedVersion>)> {
        operate::versions(sdk, function_name).await
    }

    async fn point_live(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        version: &str,
    ) -> Result<()> {
        operate::point_live(sdk, function_name, version).await
    }

    async fn fingerprint(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<crate::target::Fingerprint> {
        operate::fingerprint(sdk, function_name).await
    }

    async fn check_owner(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        change: crate::target::Change,
    ) -> Result<Option<String>> {
        operate::check_owner(sdk, function_name, stack_name, recorded, change).await
    }

    async fn destroy(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        artifact_bucket: Option<&str>,
    ) -> Result<Teardown> {
        operate::destroy(sdk, function_name, stack_name, recorded, artifact_bucket).await
    }
}

fn live(settings: &LambdaSettings, outputs: &StackOutputs, region: &str) -> Live {
    Live {
        function_arn: outputs.function_arn.clone(),
        endpoint: outputs
            .api_endpoint
            .clone()
            .or(outputs.function_url.clone()),
        api_key_id: outputs.api_key_id.clone(),
        access: access(settings, outputs, region),
    }
}

/// How to call the endpoint, by auth mode.
fn access(settings: &LambdaSettings, outputs: &StackOutputs, region: &str) -> EndpointAccess {
    let name = &settings.function_name;
    let invoke = format!("agentdeploy invoke {name} --input 'Hello'");
    let how_to_call = match (
        settings.endpoint,
        settings.auth,
        &outputs.api_endpoint,
        &outputs.function_url,
    ) {
        (EndpointKind::Api, AuthMode::ApiKey, Some(url), _) => format!(
            "KEY=$(aws apigateway get-api-key --api-key {} --include-value --query value --output text --region {region}); curl -X POST -H \"x-api-key: $KEY\" -H 'Content-Type: application/json' -d '{{\"input\": \"Hello\"}}' {url}",
            outputs.api_key_id.as_deref().unwrap_or("<ApiKeyId>")
        ),
        (EndpointKind::Api, AuthMode::Iam, Some(url), _) => format!(
            "sign requests with SigV4 (e.g. `awscurl --service execute-api --region {region} -X POST -d '{{\"input\": \"Hello\"}}' {url}`), or `{invoke}`"
        ),
        // AWS requires both actions for Function URLs created since October 2025.
        (EndpointKind::Url, AuthMode::Iam, _, Some(url)) => format!(
            "callers need lambda:InvokeFunctionUrl and lambda:InvokeFunction on the function; sign requests with SigV4 (e.g. `awscurl --service lambda --region {region} -X POST -d '{{\"input\": \"Hello\"}}' {url}`), or `{invoke}`"
        ),
        (_, AuthMode::None, Some(url), _) | (_, AuthMode::None, _, Some(url)) => {
            format!(
                "curl -X POST -H 'Content-Type: application/json' -d '{{\"input\": \"Hello\"}}' {url}"
            )
        }
        _ => invoke,
    };
    EndpointAccess {
        auth: settings.auth.as_str().to_string(),
        api_key_id: outputs.api_key_id.clone(),
        how_to_call,
    }
}
