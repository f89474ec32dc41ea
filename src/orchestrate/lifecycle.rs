//! The deployment lifecycle for `agentdeploy lambda`: select the agents, resolve and validate
//! their settings (all before any work), then plan → (dry run | build → deploy → verify) each,
//! concurrently for a fleet, and report.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::cli::{AuthMode, EndpointKind, LambdaArgs};
use crate::error::{Error, Result};
use crate::lambda::LambdaPlan;
use crate::lambda::deploy::{self, DeployInputs};
use crate::lambda::outputs::StackOutputs;
use crate::orchestrate::secrets::{self, SecretValues};
use crate::orchestrate::{Context, exit_codes, preflight};
use crate::output::{self, BuildInfo, DeployReport, EndpointAccess, Status};
use crate::process::ToolOptions;
use crate::progress::{Progress, Task};
use crate::redact::Redactor;
use crate::settings::{self, LambdaSettings, PathProbe};

pub async fn lambda(ctx: &Context, args: &LambdaArgs) -> Result<i32> {
    let (names, fleet) = select_agents(ctx, args)?;
    let mut all_settings = Vec::with_capacity(names.len());
    for name in &names {
        all_settings.push(settings::resolve(
            settings::ResolveInput {
                function_name: name,
                args,
                config: ctx.config.as_ref(),
                env_name: ctx.global.env.as_deref(),
                global_region: ctx.global.region.as_deref(),
                global_profile: ctx.global.profile.as_deref(),
                cwd: &ctx.cwd,
            },
            &PathProbe,
        )?);
    }
    let progress = Progress::new(ctx.global.quiet);
    let jobs = args.jobs.max(1);
    let semaphore = Arc::new(Semaphore::new(jobs));
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for settings in all_settings {
        let semaphore = semaphore.clone();
        let progress = progress.clone();
        let failed = failed.clone();
        let args = args.clone();
        let global = ctx.global.clone();
        handles.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            if args.fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                let mut report = skeleton(&settings);
                report.fail(&Error::internal(
                    "skipped: an earlier agent failed (--fail-fast)",
                ));
                return report;
            }
            let report = deploy_one(&settings, &args, &global, &progress).await;
            if report.status == Status::Failed {
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            report
        }));
    }
    let mut reports = Vec::new();
    for handle in handles {
        reports.push(
            handle
                .await
                .map_err(|e| Error::internal(format!("a deployment task failed: {e}")))?,
        );
    }
    output::print_reports(&reports, ctx.global.output, fleet);
    Ok(exit_codes::worst(reports.iter().map(|r| r.exit_code)))
}

/// Which agents this run deploys: `--function-name`, else `--only`, else every agent of the
/// config file (SPEC §4: several agents and no name → all of them).
fn select_agents(ctx: &Context, args: &LambdaArgs) -> Result<(Vec<String>, bool)> {
    if let Some(name) = &args.function_name {
        if args.all || !args.only.is_empty() {
            return Err(Error::usage(
                "--function-name",
                "--function-name deploys one agent; drop --all / --only",
            ));
        }
        return Ok((vec![name.clone()], false));
    }
    let Some(config) = &ctx.config else {
        return Err(Error::usage_hint(
            "--function-name",
            "no function name and no agentdeploy.toml",
            "pass --function-name NAME --agent FILE, or describe agents in agentdeploy.toml (`agentdeploy init`)",
        ));
    };
    let declared = config.agent_names();
    if declared.is_empty() {
        return Err(Error::Config {
            location: config.path.display().to_string(),
            message: "no [agents.NAME] tables".into(),
            hint: Some("add an [agents.my-agent] table with `agent = \"agent.py\"`, or pass --function-name".into()),
        });
    }
    if !args.only.is_empty() {
        for name in &args.only {
            if !declared.contains(name) {
                return Err(Error::usage_hint(
                    "--only",
                    format!("`{name}` is not an agent of {}", config.path.display()),
                    format!("agents: {}", declared.join(", ")),
                ));
            }
        }
        let fleet = args.only.len() > 1;
        return Ok((args.only.clone(), fleet));
    }
    let fleet = declared.len() > 1 || args.all;
    Ok((declared, fleet))
}

fn skeleton(settings: &LambdaSettings) -> DeployReport {
    DeployReport {
        status: Status::Planned,
        function_name: settings.function_name.clone(),
        function_arn: None,
        endpoint: None,
        endpoint_kind: settings.endpoint.as_str().to_string(),
        stack_name: settings.stack_name.clone(),
        region: settings.region.clone(),
        account: None,
        runtime: settings.runtime.name(),
        architecture: settings.architecture.as_str().to_string(),
        memory: settings.memory,
        timeout: settings.timeout,
        build: BuildInfo {
            strategy: "none".into(),
            artifact_bytes: None,
            cached: false,
        },
        duration_ms: 0,
        warnings: settings.warnings.clone(),
        access: None,
        error: None,
        plan: None,
        exit_code: exit_codes::OK,
    }
}

/// The region known without asking AWS: flag/config, then the standard variables.
pub fn local_region(settings: &LambdaSettings) -> Option<String> {
    settings
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
}

async fn deploy_one(
    settings: &LambdaSettings,
    args: &LambdaArgs,
    global: &crate::cli::GlobalArgs,
    progress: &Progress,
) -> DeployReport {
    let started = Instant::now();
    let mut report = skeleton(settings);
    // Secret values are read first so that everything printed afterwards is redacted.
    let secrets = if args.dry_run {
        Ok(SecretValues::default())
    } else {
        secrets::read(&settings.secrets, &settings.project_dir)
    };
    let redactor = Redactor::new(
        secrets
            .as_ref()
            .map(|s| s.values.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    let task = progress.task(&settings.function_name, redactor.clone());
    let result = match secrets {
        Ok(secrets) => {
            run_phases(
                settings,
                args,
                global,
                &task,
                &redactor,
                &secrets,
                &mut report,
            )
            .await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        report.fail(&err);
        if let Some(error) = &mut report.error {
            error.message = redactor.redact(&error.message);
        }
        task.finish(&format!("failed: {}", redactor.redact(&err.to_string())));
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report
}

async fn run_phases(
    settings: &LambdaSettings,
    args: &LambdaArgs,
    global: &crate::cli::GlobalArgs,
    task: &Task,
    redactor: &Redactor,
    secrets: &SecretValues,
    report: &mut DeployReport,
) -> Result<()> {
    task.phase("analysing the agent");
    let region = local_region(settings);
    report.region = region.clone();
    let plan = LambdaPlan::prepare(settings, region.as_deref())?;
    report.warnings = plan.warnings.clone();
    plan.project.write(&settings.out_dir)?;
    report.plan = Some(plan.describe(settings, None));
    if args.dry_run {
        for secret in &settings.secrets {
            if std::env::var(secret).is_err() && !settings.project_dir.join(".env").is_file() {
                report.warnings.push(format!("secret {secret} has no value in the environment or .env yet; a real deploy will stop here"));
            }
        }
        report.status = Status::Planned;
        task.finish("planned");
        return Ok(());
    }

    task.phase("preflight");
    let sam = preflight::find_sam()?;
    let aws = preflight::aws_context(
        settings.region.as_deref(),
        settings.profile.as_deref(),
        global.endpoint_url.as_deref(),
    )
    .await?;
    report.region = Some(aws.region.clone());
    report.account = Some(aws.account.clone());

    let tool = ToolOptions {
        cwd: &settings.out_dir,
        envs: Vec::new(),
        stream: global.verbose >= 1,
        task,
        redactor,
    };
    let phase = |name: &str| task.phase(name);
    let deployed = deploy::deploy(
        DeployInputs {
            settings,
            plan: &plan,
            aws: &aws,
            sam: &sam,
            secrets,
            tool,
        },
        &phase,
    )
    .await?;

    report.status = if deployed.no_changes {
        Status::Unchanged
    } else {
        Status::Deployed
    };
    report.function_arn = deployed.outputs.function_arn.clone();
    report.endpoint = deployed
        .outputs
        .api_endpoint
        .clone()
        .or(deployed.outputs.function_url.clone());
    report.build = BuildInfo {
        strategy: deployed.build.strategy.as_str().to_string(),
        artifact_bytes: Some(deployed.artifact_bytes),
        cached: deployed.resolve_cached,
    };
    report.access = Some(access(settings, &deployed.outputs, &aws.region));
    report.plan = Some(plan.describe(settings, Some(&deployed.pins)));
    task.finish(match report.status {
        Status::Unchanged => "unchanged",
        _ => "deployed",
    });
    Ok(())
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
        (EndpointKind::Api, AuthMode::Iam, Some(url), _)
        | (EndpointKind::Url, AuthMode::Iam, _, Some(url)) => format!(
            "sign requests with SigV4 (e.g. `awscurl --service {} --region {region} -X POST -d '{{\"input\": \"Hello\"}}' {url}`), or `{invoke}`",
            if settings.endpoint == EndpointKind::Url {
                "lambda"
            } else {
                "execute-api"
            }
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
