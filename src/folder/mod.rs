//! A stand-in target for tests: it "deploys" an agent by copying its file into a folder, one
//! subfolder per deployment, each deploy a new version. It proves the seam: the same commands
//! (`lambda`, `status`, `rollback`, `destroy`, ...) drive it through `crate::target::Target`
//! with settings, a plan and a state vocabulary of its own, and nothing of Lambda's.
//!
//! Chosen with `target = "folder"` only while `AGENTDEPLOY_FOLDER_TARGET` names the folder it
//! deploys into (the registry refuses it otherwise): no user deploys here by accident.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::aws::AwsContext;
use crate::cli::CostArgs;
use crate::error::{Error, Result};
use crate::options::{AgentSection, Layers};
use crate::output::{BuildInfo, EndpointAccess, PlanView};
use crate::prices::Prices;
use crate::target::{
    Call, Change, Check, CheckStatus, CostEstimate, DeploymentSettings, DeploymentState,
    DoctorFindings, Fingerprint, FoundDeployment, FunctionState, Invocation, LastDeploy, Live,
    Measured, Phase, Planned, PublishedVersion, ResolveInput, Shape, ShipRequest, Shipped, Target,
    Teardown,
};

/// The variable naming the folder deployments go to.
pub const FOLDER_VARIABLE: &str = "AGENTDEPLOY_FOLDER_TARGET";

/// What a deployment's subfolder holds about it: whose it is, and its versions.
const MANIFEST: &str = "deployment.json";
const DEPLOYED_INPUT: &str = "deployed-input.json";

#[derive(Debug, Clone)]
pub struct FolderTarget {
    /// Where deployments go: one subfolder each, named by the deployment.
    pub root: PathBuf,
}

#[derive(Debug, Clone)]
pub struct FolderSettings {
    function_name: String,
    env_name: Option<String>,
    stack_name: String,
    region: Option<String>,
    profile: Option<String>,
    agent: PathBuf,
    project_dir: PathBuf,
    out_dir: PathBuf,
    force: bool,
}

#[derive(Debug, Clone)]
pub struct FolderPlan {
    code: Vec<u8>,
}

/// A deployment's subfolder, as the target wrote it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Manifest {
    function_name: String,
    live: Option<String>,
    versions: Vec<String>,
}

impl DeploymentSettings for FolderSettings {
    fn function_name(&self) -> &str {
        &self.function_name
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
        None
    }
    fn project_dir(&self) -> &Path {
        &self.project_dir
    }
    fn out_dir(&self) -> &Path {
        &self.out_dir
    }
    fn secret_names(&self) -> &[String] {
        &[]
    }
    fn force(&self) -> bool {
        self.force
    }
    fn smoke(&self) -> Option<&crate::smoke::Cases> {
        None
    }
    fn warnings(&self) -> &[String] {
        &[]
    }
    fn shape(&self) -> Shape {
        Shape {
            endpoint_kind: "none".into(),
            runtime: "folder".into(),
            architecture: "any".into(),
            memory: 0,
            timeout: 0,
        }
    }
}

impl Planned for FolderPlan {
    type Settings = FolderSettings;

    fn warnings(&self) -> &[String] {
        &[]
    }

    fn write(&self, settings: &FolderSettings) -> Result<()> {
        std::fs::create_dir_all(&settings.out_dir).map_err(|e| io_error(&settings.out_dir, e))?;
        crate::files::write_atomically(&settings.out_dir.join("agent.py"), &self.code)
    }

    fn describe(&self, settings: &FolderSettings, _pins: Option<&[String]>) -> PlanView {
        PlanView {
            document: json!({ "agent": settings.agent, "bytes": self.code.len() }),
            lines: vec![("agent", settings.agent.display().to_string())],
        }
    }

    fn input_hash(&self, region: &str, _secrets: &[(String, String)], _key: &[u8]) -> String {
        let mut hashed = region.as_bytes().to_vec();
        hashed.push(0);
        hashed.extend_from_slice(&self.code);
        crate::digest::hex(&crate::digest::keyed(b"folder", &hashed))
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::internal(format!("{}: {e}", path.display()))
}

impl FolderTarget {
    fn place(&self, stack_name: &str) -> PathBuf {
        self.root.join(stack_name)
    }

    fn manifest(&self, stack_name: &str) -> Result<Option<Manifest>> {
        let path = self.place(stack_name).join(MANIFEST);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::internal(format!(
                    "{} is not a deployment manifest: {e}",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn write_manifest(&self, stack_name: &str, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
        crate::files::write_atomically(&self.place(stack_name).join(MANIFEST), &bytes)
    }

    /// The manifest of the deployment a function name reaches (its default stack name).
    fn manifest_of(&self, function_name: &str) -> Result<Option<(String, Manifest)>> {
        for entry in std::fs::read_dir(&self.root).map_err(|e| io_error(&self.root, e))? {
            let Ok(entry) = entry else { continue };
            let stack = entry.file_name().to_string_lossy().into_owned();
            if let Some(manifest) = self.manifest(&stack)?
                && manifest.function_name == function_name
            {
                return Ok(Some((stack, manifest)));
            }
        }
        Ok(None)
    }
}

fn live_of(settings: &FolderSettings, place: &Path) -> Live {
    Live {
        function_arn: None,
        endpoint: Some(format!("file://{}", place.display())),
        api_key_id: None,
        access: EndpointAccess {
            auth: "none".into(),
            api_key_id: None,
            how_to_call: format!(
                "agentdeploy invoke {} --input 'Hello'",
                settings.function_name
            ),
        },
    }
}

fn zero_cost() -> CostEstimate {
    CostEstimate {
        document: json!({ "total_usd": 0.0 }),
        lines: vec!["  total        $0.00 per month (a folder costs nothing)".into()],
        requests_usd: 0.0,
        compute_usd: 0.0,
        total_usd: 0.0,
    }
}

impl Target for FolderTarget {
    type Settings = FolderSettings;
    type Plan = FolderPlan;

    fn resolve_settings(&self, input: ResolveInput<'_>) -> Result<FolderSettings> {
        self.check_name(input.function_name)?;
        let section = match input.config {
            Some(config) => config.section_for(input.function_name, input.env_name)?,
            None => AgentSection::default(),
        };
        let layers = Layers {
            flags: &input.args.options,
            section: &section,
            config_path: input.config.map(|c| c.path.as_path()),
        };
        let project_dir = input
            .config
            .map(|c| c.dir().to_path_buf())
            .unwrap_or_else(|| input.cwd.to_path_buf());
        let agent = layers
            .agent()
            .path(input.cwd)
            .map(|p| {
                if p.is_absolute() {
                    p
                } else {
                    project_dir.join(p)
                }
            })
            .unwrap_or_else(|| project_dir.join("agent.py"));
        let stack_name = layers
            .stack_name()
            .text()
            .map(|given| given.value.to_string())
            .unwrap_or_else(|| self.default_stack_name(input.function_name, input.env_name));
        Ok(FolderSettings {
            function_name: input.function_name.to_string(),
            env_name: input.env_name.map(str::to_string),
            out_dir: project_dir
                .join(".agentdeploy")
                .join("folder")
                .join(&stack_name),
            stack_name,
            region: input.global_region.clone().or(section.region.clone()),
            profile: input.global_profile.clone().or(section.profile.clone()),
            agent,
            project_dir,
            force: input.args.force,
        })
    }

    fn check_name(&self, name: &str) -> Result<()> {
        let fits = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if fits {
            Ok(())
        } else {
            Err(Error::usage(
                "NAME",
                format!("`{name}` is not a name: 1-64 of A-Za-z0-9-_"),
            ))
        }
    }

    fn default_stack_name(&self, name: &str, env_name: Option<&str>) -> String {
        match env_name {
            Some(env) => format!("folder-{name}-{env}"),
            None => format!("folder-{name}"),
        }
    }

    async fn doctor(&self, input: ResolveInput<'_>) -> Result<DoctorFindings> {
        let writable = std::fs::metadata(&self.root).is_ok_and(|m| m.is_dir());
        Ok(DoctorFindings {
            runtime: "folder".into(),
            region: input.global_region.clone(),
            profile: input.global_profile.clone(),
            checks: vec![Check::new(
                "folder",
                if writable {
                    CheckStatus::Pass
                } else {
                    CheckStatus::Fail
                },
                self.root.display().to_string(),
                (!writable).then(|| format!("create the folder {FOLDER_VARIABLE} names")),
            )],
        })
    }

    fn estimate_cost(&self, _args: &CostArgs, _section: &AgentSection) -> Result<CostEstimate> {
        Ok(zero_cost())
    }

    fn check_cost_flags(&self, _args: &CostArgs) -> Result<()> {
        Ok(())
    }

    fn estimate_measured_cost(
        &self,
        _args: &CostArgs,
        _measured: &Measured,
        _invocations: u64,
        _has_api: bool,
        _prices: Prices,
    ) -> Result<CostEstimate> {
        Ok(zero_cost())
    }

    fn compute_cost(&self, _measured: &Measured, _prices: &Prices) -> CostEstimate {
        zero_cost()
    }

    fn check_region(&self, _settings: &FolderSettings, _region: &str) -> Result<()> {
        Ok(())
    }

    fn complete_settings(&self, settings: &FolderSettings) -> FolderSettings {
        settings.clone()
    }

    fn deployer_policy(&self, _settings: &[FolderSettings]) -> serde_json::Value {
        json!({ "Version": "2012-10-17", "Statement": [] })
    }

    fn log_group(&self, function_name: &str) -> String {
        format!("folder/{function_name}")
    }

    fn live_alias(&self) -> &'static str {
        "live"
    }

    fn plan(&self, settings: &FolderSettings, _region: Option<&str>) -> Result<FolderPlan> {
        let code = std::fs::read(&settings.agent).map_err(|e| {
            Error::usage_hint(
                "agent",
                format!("cannot read {}: {e}", settings.agent.display()),
                "point `agent` at the agent's .py file",
            )
        })?;
        Ok(FolderPlan { code })
    }

    fn client_config(
        &self,
        _settings: &FolderSettings,
        _region: &str,
    ) -> Option<serde_json::Value> {
        None
    }

    async fn sync_code(
        &self,
        _settings: &FolderSettings,
        _plan: &FolderPlan,
        _aws: &AwsContext,
        _secrets: &crate::secrets::SecretValues,
        _tool: crate::process::ToolOptions<'_>,
    ) -> Result<crate::target::PublishedCode> {
        Err(Error::usage_hint(
            "--target",
            "`sync` puts code into a Lambda function; the folder target has none",
            "deploy it with `agentdeploy lambda`",
        ))
    }

    fn local_settings(&self, settings: &FolderSettings) -> Result<FolderSettings> {
        Ok(settings.clone())
    }

    async fn prepare_local(
        &self,
        _deployed: &FolderSettings,
        _local: &FolderSettings,
        _plan: &FolderPlan,
        _secrets: &crate::secrets::SecretValues,
        _reuse: Option<&crate::target::LocalFunction>,
        _tool: crate::process::ToolOptions<'_>,
    ) -> Result<crate::target::LocalFunction> {
        Err(Error::usage_hint(
            "--target",
            "`dev` serves agents deployed to Lambda; the folder target has no function to run",
            "run `dev` on an agent whose target is `lambda`",
        ))
    }

    async fn ship(
        &self,
        request: ShipRequest<'_, FolderPlan>,
        phase: &(dyn Fn(Phase) + Sync),
    ) -> Result<Shipped> {
        let settings = request.settings;
        phase(Phase::Deploying);
        let place = self.place(&settings.stack_name);
        let mut manifest = self.manifest(&settings.stack_name)?.unwrap_or(Manifest {
            function_name: settings.function_name.clone(),
            ..Manifest::default()
        });
        let version = (manifest.versions.len() + 1).to_string();
        let folder = place.join(format!("v{version}"));
        std::fs::create_dir_all(&folder).map_err(|e| io_error(&folder, e))?;
        crate::files::write_atomically(&folder.join("agent.py"), &request.plan.code)?;
        manifest.versions.push(version.clone());
        if request.hold_live.is_none() {
            manifest.live = Some(version.clone());
        }
        self.write_manifest(&settings.stack_name, &manifest)?;
        Ok(Shipped {
            live: live_of(settings, &place),
            pins: Vec::new(),
            build: BuildInfo {
                strategy: "none".into(),
                artifact_bytes: Some(request.plan.code.len() as u64),
                cached: false,
                dependencies_cached: None,
                resolved_by: None,
                bytecode: None,
                cold_start: None,
                remote_cache: None,
            },
            no_changes: false,
            live_version: manifest.live.clone(),
            candidate_version: Some(version),
            warnings: Vec::new(),
        })
    }

    async fn live(&self, settings: &FolderSettings, _aws: &AwsContext) -> Result<Option<Live>> {
        Ok(self
            .manifest(&settings.stack_name)?
            .map(|_| live_of(settings, &self.place(&settings.stack_name))))
    }

    async fn deploy_lock_location(
        &self,
        _aws: &AwsContext,
        _stack_name: &str,
        _bucket: Option<&str>,
    ) -> Result<Option<crate::aws::s3_lock::LockLocation>> {
        Ok(None)
    }

    async fn last_deploy(
        &self,
        _aws: &AwsContext,
        settings: &FolderSettings,
    ) -> Result<Option<LastDeploy>> {
        let path = self.place(&settings.stack_name).join(DEPLOYED_INPUT);
        match std::fs::read(&path) {
            // Read back from a shared place: a file that is not a record is no record.
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn record_deployed(
        &self,
        _aws: &AwsContext,
        settings: &FolderSettings,
        deployed: &LastDeploy,
    ) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(deployed).unwrap_or_default();
        let path = self.place(&settings.stack_name).join(DEPLOYED_INPUT);
        crate::files::write_atomically(&path, &bytes)
    }

    async fn digest_key(&self, _aws: &AwsContext, _settings: &FolderSettings) -> Result<Vec<u8>> {
        // No secrets reach a folder deployment: nothing is digested with this key.
        Ok(b"folder".to_vec())
    }

    async fn state(
        &self,
        _sdk: &aws_config::SdkConfig,
        _function_name: &str,
        stack_name: &str,
    ) -> Result<Option<DeploymentState>> {
        Ok(self.manifest(stack_name)?.map(|manifest| DeploymentState {
            stack_status: "IN_FOLDER".into(),
            stack_status_reason: None,
            failed_resources: Vec::new(),
            outputs: [(
                "Folder".to_string(),
                self.place(stack_name).display().to_string(),
            )]
            .into_iter()
            .collect(),
            function: Some(FunctionState {
                state: "Copied".into(),
                last_update_status: "Copied".into(),
                runtime: None,
                memory: None,
                timeout: None,
                reason: None,
            }),
            live_version: manifest.live.clone(),
            versions: published(&manifest),
            alarms: Vec::new(),
        }))
    }

    async fn measured(
        &self,
        _sdk: &aws_config::SdkConfig,
        _function_name: &str,
        _window: std::time::Duration,
    ) -> Result<Measured> {
        Ok(Measured::default())
    }

    async fn deployments(&self, _sdk: &aws_config::SdkConfig) -> Result<Vec<FoundDeployment>> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(|e| io_error(&self.root, e))? {
            let Ok(entry) = entry else { continue };
            let stack_name = entry.file_name().to_string_lossy().into_owned();
            if let Some(manifest) = self.manifest(&stack_name)? {
                found.push(FoundDeployment {
                    function_name: manifest.function_name,
                    endpoint: Some(format!("file://{}", entry.path().display())),
                    stack_name,
                    stack_status: "IN_FOLDER".into(),
                    ttl: None,
                    changed_at: None,
                    expires_at: None,
                });
            }
        }
        Ok(found)
    }

    async fn deployment_status(
        &self,
        _sdk: &aws_config::SdkConfig,
        stack_name: &str,
    ) -> Result<Option<String>> {
        Ok(self.manifest(stack_name)?.map(|_| "IN_FOLDER".to_string()))
    }

    async fn invoke(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
        call: Call<'_>,
        payload: Vec<u8>,
    ) -> Result<Invocation> {
        let version = call.version;
        let (_, manifest) = self
            .manifest_of(function_name)?
            .ok_or_else(|| Error::usage("NAME", format!("{function_name} is not deployed")))?;
        // A folder runs nothing: it answers with what it was given and the version reached.
        let version = version.map(str::to_string).or(manifest.live);
        let request: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
        Ok(Invocation {
            payload: serde_json::to_vec(&json!({ "version": version, "request": request }))
                .unwrap_or_default(),
            function_error: None,
        })
    }

    async fn invoke_streamed(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        tenant: Option<&str>,
        payload: Vec<u8>,
        each: &mut (dyn FnMut(serde_json::Value) + Send),
    ) -> Result<Invocation> {
        let call = Call {
            version: None,
            tenant,
        };
        let answer = self.invoke(sdk, function_name, call, payload).await?;
        each(serde_json::from_slice(&answer.payload).unwrap_or_default());
        Ok(answer)
    }

    async fn live_version(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<Option<String>> {
        Ok(self.manifest_of(function_name)?.and_then(|(_, m)| m.live))
    }

    async fn versions(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<(Option<String>, Vec<PublishedVersion>)> {
        Ok(match self.manifest_of(function_name)? {
            Some((_, manifest)) => (manifest.live.clone(), published(&manifest)),
            None => (None, Vec::new()),
        })
    }

    async fn fingerprint(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
    ) -> Result<Fingerprint> {
        Ok(Fingerprint {
            live_version: self.manifest_of(function_name)?.and_then(|(_, m)| m.live),
            code_sha256: None,
            endpoint_auth: None,
        })
    }

    async fn point_live(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
        version: &str,
    ) -> Result<()> {
        let (stack, mut manifest) = self
            .manifest_of(function_name)?
            .ok_or_else(|| Error::usage("NAME", format!("{function_name} is not deployed")))?;
        manifest.live = Some(version.to_string());
        self.write_manifest(&stack, &manifest)
    }

    async fn check_owner(
        &self,
        _sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        _recorded: bool,
        _change: Change,
    ) -> Result<Option<String>> {
        match self.manifest(stack_name)? {
            Some(manifest) if manifest.function_name != function_name => Err(Error::usage_hint(
                "stack_name",
                format!(
                    "{} holds {}, not {function_name}",
                    self.place(stack_name).display(),
                    manifest.function_name
                ),
                "give this agent a stack_name of its own",
            )),
            _ => Ok(None),
        }
    }

    async fn destroy(
        &self,
        sdk: &aws_config::SdkConfig,
        function_name: &str,
        stack_name: &str,
        recorded: bool,
        _artifact_bucket: Option<&str>,
    ) -> Result<Teardown> {
        self.check_owner(sdk, function_name, stack_name, recorded, Change::Destroy)
            .await?;
        let place = self.place(stack_name);
        if self.manifest(stack_name)?.is_none() {
            return Ok(Teardown::default());
        }
        std::fs::remove_dir_all(&place).map_err(|e| io_error(&place, e))?;
        Ok(Teardown {
            existed: true,
            ..Teardown::default()
        })
    }
}

fn published(manifest: &Manifest) -> Vec<PublishedVersion> {
    manifest
        .versions
        .iter()
        .map(|version| PublishedVersion {
            version: version.clone(),
            last_modified: None,
            description: None,
        })
        .collect()
}
