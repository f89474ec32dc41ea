//! The Lambda target's remote phases: resolve → build → deploy → verify (SPEC §6, §7).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lambda::outputs::{self, StackOutputs};
use crate::lambda::render::{self, write_atomically};
use crate::lambda::sam::{self, BuildOutcome, BuildRequest, DeployRequest, SecretConfig};
use crate::lambda::{LambdaPlan, artifact, resolve};
use crate::orchestrate::preflight::{AwsContext, SamCli};
use crate::orchestrate::secrets::SecretValues;
use crate::process::ToolOptions;
use crate::settings::LambdaSettings;

pub struct DeployInputs<'a> {
    pub settings: &'a LambdaSettings,
    pub plan: &'a LambdaPlan,
    pub aws: &'a AwsContext,
    pub sam: &'a SamCli,
    pub secrets: &'a SecretValues,
    pub tool: ToolOptions<'a>,
}

#[derive(Debug, Clone)]
pub struct Deployed {
    pub outputs: StackOutputs,
    pub pins: Vec<String>,
    pub resolve_cached: bool,
    pub build: BuildOutcome,
    /// The built dependencies of the previous build were reused (code-only change).
    pub build_cached: bool,
    pub artifact_bytes: u64,
    /// sam found nothing to change.
    pub no_changes: bool,
    pub function: outputs::FunctionState,
}

/// Environment for every sam child: the endpoint override, and no telemetry (a closed network
/// makes sam's telemetry calls hang for tens of seconds), unless the user chose otherwise.
pub fn sam_env(aws: &AwsContext, profile: Option<&str>) -> Vec<(String, String)> {
    let mut envs = vec![("AWS_REGION".to_string(), aws.region.clone())];
    if std::env::var_os("SAM_CLI_TELEMETRY").is_none() {
        envs.push(("SAM_CLI_TELEMETRY".into(), "0".into()));
    }
    if let Some(url) = &aws.endpoint_url {
        envs.push(("AWS_ENDPOINT_URL".into(), url.clone()));
    }
    if let Some(profile) = profile {
        envs.push(("AWS_PROFILE".into(), profile.to_string()));
    }
    envs
}

/// Refuses (or with --force repairs) a stack the deploy cannot proceed from.
pub async fn check_stack_before_deploy(
    cfn: &aws_sdk_cloudformation::Client,
    settings: &LambdaSettings,
) -> Result<()> {
    let Some(state) = outputs::stack_state(cfn, &settings.stack_name).await? else {
        return Ok(());
    };
    if state.is_rollback_complete()
        || (state.is_failed() && state.status != "UPDATE_ROLLBACK_FAILED")
    {
        if settings.force {
            tracing::warn!(
                "stack {} is {}; deleting it (--force) before deploying again",
                settings.stack_name,
                state.status
            );
            return outputs::delete_stack_and_wait(
                cfn,
                &settings.stack_name,
                Duration::from_secs(900),
            )
            .await;
        }
        let reasons = outputs::failed_resources(cfn, &settings.stack_name).await;
        return Err(Error::Deploy {
            message: format!(
                "stack {} is in {} from an earlier failed deploy{}",
                settings.stack_name,
                state.status,
                if reasons.is_empty() { String::new() } else { format!("; it failed because:\n  {}", reasons.join("\n  ")) }
            ),
            hint: "fix the cause above, then rerun with --force to delete the failed stack and create it again".into(),
        });
    }
    if state.status == "UPDATE_ROLLBACK_FAILED" {
        return Err(Error::Deploy {
            message: format!("stack {} is in UPDATE_ROLLBACK_FAILED", settings.stack_name),
            hint: format!(
                "continue the rollback: `aws cloudformation continue-update-rollback --stack-name {}`, then deploy again",
                settings.stack_name
            ),
        });
    }
    // REVIEW_IN_PROGRESS is a change set that was never executed (e.g. an interrupted run):
    // sam deploy creates a new one, so it is not "busy".
    if state.is_in_progress() && state.status != "REVIEW_IN_PROGRESS" {
        return Err(Error::Deploy {
            message: format!("stack {} is busy ({})", settings.stack_name, state.status),
            hint:
                "wait for the running operation to finish (`agentdeploy status`), then deploy again"
                    .into(),
        });
    }
    Ok(())
}

pub async fn deploy(inputs: DeployInputs<'_>, phase: &(dyn Fn(&str) + Sync)) -> Result<Deployed> {
    let DeployInputs {
        settings,
        plan,
        aws,
        sam: sam_cli,
        secrets,
        tool,
    } = inputs;
    let cfn = aws_sdk_cloudformation::Client::new(&aws.sdk);
    let lambda = aws_sdk_lambda::Client::new(&aws.sdk);
    check_stack_before_deploy(&cfn, settings).await?;

    phase("resolving dependencies");
    let cache_dir = settings.project_dir.join(".agentdeploy").join("cache");
    let resolved = resolve::resolve(resolve::ResolveRequest {
        specifiers: &plan.requirements.specifiers,
        runtime: settings.runtime,
        architecture: settings.architecture,
        cache_dir: &cache_dir,
        tool: tool.clone(),
    })
    .await?;
    let mut pinned = format!(
        "# Pinned by agentdeploy for {} {} from: {}\n",
        settings.runtime.name(),
        settings.architecture.as_str(),
        plan.requirements.specifiers.join(", ")
    );
    for pin in &resolved.pins {
        pinned.push_str(pin);
        pinned.push('\n');
    }
    write_atomically(
        &settings.out_dir.join("src/requirements.txt"),
        pinned.as_bytes(),
    )?;
    let samconfig = render::render_samconfig(settings, Some(&aws.region), &[])?;
    write_atomically(
        &settings.out_dir.join("samconfig.toml"),
        samconfig.as_bytes(),
    )?;

    phase("building");
    let envs = sam_env(aws, settings.profile.as_deref());
    let build_request = BuildRequest {
        sam: sam_cli,
        out_dir: &settings.out_dir,
        runtime: settings.runtime,
        architecture: settings.architecture,
        use_container: settings.use_container,
        allow_cross_platform: std::env::var("AGENTDEPLOY_NO_CROSS_PLATFORM")
            .map(|v| v != "1")
            .unwrap_or(true),
        prebuilt_template: render::render_template(settings, &plan.iam, sam::FUNCTION_LOGICAL_ID)?,
        envs: envs.clone(),
    };
    let deps = sam::deps_hash(&resolved.pins, settings.runtime, settings.architecture);
    let incremental = if settings.force {
        None
    } else {
        sam::try_incremental(&settings.out_dir, &deps, &build_request.prebuilt_template)?
    };
    let build_cached = incremental.is_some();
    let build = match incremental {
        Some(build) => build,
        None => {
            let build = sam::build(&build_request, &tool).await?;
            sam::write_marker(&settings.out_dir, &deps, build.strategy)?;
            build
        }
    };
    let artifact_bytes = artifact::check_size(&build.artifact_dir, artifact_limit())?;

    phase("deploying");
    let secret_config = if secrets.values.is_empty() {
        None
    } else {
        let parameters = render::secret_parameters(&settings.secrets);
        let overrides: Vec<(String, String)> = parameters
            .iter()
            .filter_map(|p| {
                secrets
                    .values
                    .iter()
                    .find(|(name, _)| *name == p.name)
                    .map(|(_, v)| (p.parameter.clone(), v.clone()))
            })
            .collect();
        Some(SecretConfig::write(&render::render_samconfig(
            settings,
            Some(&aws.region),
            &overrides,
        )?)?)
    };
    let config_file = secret_config
        .as_ref()
        .map(SecretConfig::path)
        .unwrap_or_else(|| settings.out_dir.join("samconfig.toml"));
    let run = sam::deploy(
        &DeployRequest {
            sam: sam_cli,
            out_dir: &settings.out_dir,
            built_template: &build.built_template,
            region: &aws.region,
            config_file: &config_file,
            envs,
        },
        tool.clone(),
    )
    .await?;
    drop(secret_config);
    if !run.success {
        let reasons = outputs::failed_resources(&cfn, &settings.stack_name).await;
        let detail = if reasons.is_empty() {
            run.tail(12)
        } else {
            reasons.join("\n  ")
        };
        return Err(Error::Deploy {
            message: format!(
                "sam deploy of stack {} failed:\n  {detail}",
                settings.stack_name
            ),
            hint: if run.text().contains("S3 Bucket does not exist")
                || run.text().contains("NoSuchBucket")
            {
                "the artifact bucket does not exist: create it, pass another --s3-bucket, or use --resolve-s3".into()
            } else {
                "fix the failed resources above; if the stack is now ROLLBACK_COMPLETE, rerun with --force".into()
            },
        });
    }
    let no_changes = run.text().contains("No changes to deploy");

    phase("verifying");
    let state = outputs::stack_state(&cfn, &settings.stack_name)
        .await?
        .ok_or_else(|| Error::Verify {
            message: format!(
                "stack {} does not exist after sam deploy reported success",
                settings.stack_name
            ),
            hint: "check the region and --endpoint-url; run `agentdeploy status`".into(),
        })?;
    let stack_outputs = StackOutputs::from_map(&state.outputs);
    let function_name = stack_outputs
        .function_name
        .clone()
        .ok_or_else(|| Error::Verify {
            message: format!(
                "stack {} ({}) has no FunctionName output",
                settings.stack_name, state.status
            ),
            hint: "the stack was not created by this version of agentdeploy; redeploy with --force"
                .into(),
        })?;
    let function =
        outputs::wait_function_ready(&lambda, &function_name, Duration::from_secs(300)).await?;
    Ok(Deployed {
        outputs: stack_outputs,
        pins: resolved.pins,
        resolve_cached: resolved.cached,
        build,
        build_cached,
        artifact_bytes,
        no_changes,
        function,
    })
}

/// Lambda's limit; `AGENTDEPLOY_MAX_ARTIFACT_BYTES` lowers it (for tests and stricter budgets).
fn artifact_limit() -> u64 {
    std::env::var("AGENTDEPLOY_MAX_ARTIFACT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|v: u64| v.min(artifact::MAX_UNZIPPED_BYTES))
        .unwrap_or(artifact::MAX_UNZIPPED_BYTES)
}
