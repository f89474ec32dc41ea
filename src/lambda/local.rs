//! What `agentdeploy dev` runs on this machine: the function's code exactly as it would ship
//! (rendered into the dev folder, not the deploy's out-dir), on its dependencies from the same
//! resolution and cache a deploy uses (the zipped set, unzipped once beside it), under the
//! runtime's own Python. Nothing here talks to AWS.

use std::path::PathBuf;

use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::lambda::LambdaPlan;
use crate::lambda::bundle::pipeline::{self, Deps, StackRequest};
use crate::lambda::kinds::{Architecture, EndpointKind};
use crate::lambda::settings::LambdaSettings;
use crate::process::ToolOptions;
use crate::secrets::SecretValues;
use crate::target::{DeploymentSettings, LocalFunction};

/// The dev copy of `settings`: rendered into `<project>/.agentdeploy/dev/<key>/`, and with
/// dependencies for this machine's architecture when Lambda's would not run here.
pub fn dev_settings(settings: &LambdaSettings) -> LambdaSettings {
    let mut local = settings.clone();
    local.out_dir = dev_dir(settings);
    local.architecture = host_architecture();
    local
}

/// `.agentdeploy/dev/<env>-<name>`: the dev server's own folder (its code, lock and sessions).
pub fn dev_dir(settings: &LambdaSettings) -> PathBuf {
    let key = match &settings.env_name {
        Some(env) => format!("{env}-{}", settings.function_name),
        None => settings.function_name.clone(),
    };
    settings
        .project_dir
        .join(".agentdeploy")
        .join("dev")
        .join(key)
}

fn host_architecture() -> Architecture {
    if cfg!(target_arch = "aarch64") {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    }
}

/// Resolves and builds (or reuses) the dependencies of `plan` for `local` (a `dev_settings`),
/// and says how the function will run here. `deployed`: the settings the function deploys with;
/// `reuse`: the last one prepared, whose dependencies are still these.
pub async fn prepare(
    deployed: &LambdaSettings,
    local: &LambdaSettings,
    plan: &LambdaPlan,
    secrets: &SecretValues,
    reuse: Option<&LocalFunction>,
    tool: ToolOptions<'_>,
) -> Result<LocalFunction> {
    let python = crate::lambda::tools::runtime_interpreter(local.runtime).ok_or_else(|| {
        Error::Preflight {
            message: format!(
                "`dev` runs the agent under {}, the function's runtime, and it is not on PATH",
                local.runtime.interpreter()
            ),
            hint: format!(
                "install {} (or pick the runtime you have with --runtime)",
                local.runtime.interpreter()
            ),
        }
    })?;
    let region = crate::aws::local_region(local.region()).unwrap_or_else(|| "us-east-1".into());
    // The banner's notes: the interpreter's, then the dependencies'.
    let (deps_dir, deps_notes) = match reuse {
        Some(previous) => (
            previous.deps_dir.clone(),
            previous.notes.iter().skip(1).cloned().collect(),
        ),
        None => {
            let (deps_dir, note) =
                prepare_dependencies(deployed, local, plan, secrets, &region, tool).await?;
            (deps_dir, vec![note])
        }
    };
    let mut notes = vec![format!(
        "{} at {}",
        local.runtime.interpreter(),
        python.display()
    )];
    notes.extend(deps_notes);
    Ok(LocalFunction {
        code_dir: local.out_dir.join("src"),
        deps_dir,
        python,
        environment: environment(local, &region, secrets),
        endpoint: endpoint(local),
        web: plan.project.web.is_some(),
        agent_file: agent_file(local),
        notes,
        watched: sources(deployed),
    })
}

/// The dependencies built (or reused) as a deploy builds them, unpacked; what the banner says of
/// them.
async fn prepare_dependencies(
    deployed: &LambdaSettings,
    local: &LambdaSettings,
    plan: &LambdaPlan,
    secrets: &SecretValues,
    region: &str,
    tool: ToolOptions<'_>,
) -> Result<(std::path::PathBuf, String)> {
    let sam = crate::lambda::tools::sam_cli().await?;
    let aws = offline_context(region);
    let inputs = StackRequest {
        settings: local,
        plan,
        aws: &aws,
        sam: Some(&sam),
        secrets,
        secrets_version: None,
        hold_live: None,
        tool,
    };
    let pinned = pipeline::pin(&inputs, &|_| {}).await?;
    let deps = Deps::of(local, &pinned.resolved.pins);
    pipeline::build_or_reuse(&inputs, &deps, pinned.built, true).await?;
    drop(pinned.turn);
    let deps_dir = crate::lambda::bundle::task_root::unzipped_once(&deps.shared.zip)?;
    let note = if deployed.architecture == local.architecture {
        format!(
            "dependencies: Lambda's {} set ({} pins), as a deploy ships them",
            local.architecture.as_str(),
            pinned.resolved.pins.len()
        )
    } else {
        format!(
            "dependencies: built for {} here (the function runs on {}, whose wheels do not run on this machine)",
            local.architecture.as_str(),
            deployed.architecture.as_str()
        )
    };
    Ok((deps_dir, note))
}

/// The deploy's context for steps that never call AWS (pinning, building, rendering).
fn offline_context(region: &str) -> AwsContext {
    let sdk = aws_config::SdkConfig::builder()
        .region(aws_config::Region::new(region.to_string()))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    AwsContext {
        sdk,
        region: region.to_string(),
        account: String::new(),
        caller_arn: String::new(),
        endpoint_url: None,
    }
}

/// The function's own variables, its secrets' values (as the deployed function reads them at
/// cold start) and what Lambda sets.
fn environment(
    settings: &LambdaSettings,
    region: &str,
    secrets: &SecretValues,
) -> Vec<(String, String)> {
    let mut environment: Vec<(String, String)> = settings
        .env_vars
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    environment.extend(secrets.values.iter().cloned());
    environment.extend([
        ("AWS_REGION".into(), region.to_string()),
        ("AWS_DEFAULT_REGION".into(), region.to_string()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            settings.function_name.clone(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            settings.memory.to_string(),
        ),
        (
            "AGENTDEPLOY_DEV_TIMEOUT".into(),
            settings.timeout.to_string(),
        ),
        (
            crate::lambda::names::SESSION_DIR_VARIABLE.into(),
            settings
                .out_dir
                .join("sessions")
                .to_string_lossy()
                .into_owned(),
        ),
    ]);
    environment
}

fn endpoint(settings: &LambdaSettings) -> &'static str {
    match settings.endpoint {
        EndpointKind::Api => "api",
        EndpointKind::Url => "url",
        EndpointKind::None => "none",
    }
}

/// The agent's file as errors name it: relative to the project when it is inside it.
fn agent_file(settings: &LambdaSettings) -> String {
    settings
        .agent
        .strip_prefix(&settings.project_dir)
        .unwrap_or(&settings.agent)
        .display()
        .to_string()
}

/// The agent's folder (its local modules live there), its requirements and the project's `.env`
/// (`dev` adds the config file).
pub fn sources(settings: &LambdaSettings) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(folder) = settings.agent.parent() {
        paths.push(folder.to_path_buf());
    }
    paths.extend(settings.requirements.clone());
    paths.push(settings.project_dir.join(".env"));
    paths
}
