//! The deployment lifecycle for `agentdeploy lambda`: select the agents, resolve and validate
//! their settings (all before any work), then plan → (dry run | build → deploy → verify) each,
//! concurrently for a fleet, and report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::cli::{AuthMode, EndpointKind, LambdaArgs};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::lambda::deploy::{self, DeployInputs};
use crate::lambda::outputs::{self, StackOutputs};
use crate::lambda::{LambdaPlan, code_interpreter, hosted_interpreters};
use crate::orchestrate::Context;
use crate::orchestrate::record::{self, Deployment, RecordStatus, RecordedOutputs, Store};
use crate::output::{self, BuildInfo, DeployReport, EndpointAccess, Status};
use crate::process::ToolOptions;
use crate::progress::{Progress, Task};
use crate::redact::Redactor;
use crate::secrets::{self, SecretValues};
use crate::settings::{self, DeploymentKind, LambdaSettings, PathProbe};
use crate::timings::{self, Timings};

pub async fn lambda(ctx: &Context, args: &LambdaArgs) -> Result<i32> {
    let (names, fleet) = select_agents(ctx, args)?;
    let mut all_settings = Vec::with_capacity(names.len());
    let probe = settings::CachedProbe::new(PathProbe);
    for name in &names {
        all_settings.push(settings::resolve(
            settings::ResolveInput {
                function_name: name,
                args,
                config: ctx.config.as_ref(),
                env_name: ctx.global.env.as_deref(),
                global_region: &ctx.global.region,
                global_profile: &ctx.global.profile,
                cwd: &ctx.cwd,
            },
            &probe,
        )?);
    }
    let progress = Progress::new(ctx.global.quiet);
    let jobs = args.jobs.max(1);
    let semaphore = Arc::new(Semaphore::new(jobs));
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    let count = all_settings.len();
    for (index, settings) in all_settings.iter().cloned().enumerate() {
        let semaphore = semaphore.clone();
        let progress = progress.clone();
        let failed = failed.clone();
        let args = args.clone();
        let global = ctx.global.clone();
        set.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            if args.fail_fast && failed.load(std::sync::atomic::Ordering::SeqCst) {
                let mut report = skeleton(&settings);
                report.fail(&Error::internal(
                    "skipped: an earlier agent failed (--fail-fast)",
                ));
                return (index, report);
            }
            let report = deploy_one(&settings, &args, &global, &progress).await;
            if report.status == Status::Failed {
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            (index, report)
        });
    }
    let mut reports: Vec<Option<DeployReport>> = vec![None; count];
    let interrupted = shutdown_signal();
    tokio::pin!(interrupted);
    loop {
        tokio::select! {
            next = set.join_next() => match next {
                None => break,
                Some(Ok((index, report))) => reports[index] = Some(report),
                Some(Err(e)) => return Err(Error::internal(format!("a deployment task failed: {e}"))),
            },
            () = &mut interrupted => {
                // Dropping each deploy kills its sam/pip process group and removes its
                // temporary files (the secret parameter file included); wait until all are gone.
                set.abort_all();
                while set.join_next().await.is_some() {}
                for settings in &all_settings {
                    mark_interrupted(settings);
                }
                return Err(Error::Interrupted);
            }
        }
    }
    let reports: Vec<DeployReport> = reports.into_iter().flatten().collect();
    output::print_reports(&reports, ctx.global.output, fleet);
    Ok(exit_codes::worst(reports.iter().map(|r| r.exit_code)))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// A deploy stopped mid-way leaves `interrupted` in the record; the next run proceeds normally.
fn mark_interrupted(settings: &LambdaSettings) {
    let store = Store::new(&settings.project_dir);
    let key = record::key(settings.env_name.as_deref(), &settings.function_name);
    let in_flight = matches!(store.get(&key), Ok(Some(d)) if matches!(d.status, RecordStatus::Building | RecordStatus::Deploying));
    if in_flight {
        let _ = upsert(&store, settings, |d| {
            d.status = RecordStatus::Interrupted;
            d.error = Some("interrupted by a signal".into());
        });
    }
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
            dependencies_cached: None,
        },
        duration_ms: 0,
        time_ms: None,
        warnings: settings.warnings.clone(),
        access: None,
        error: None,
        mcp_client_config: None,
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
    let settings = &hosted_interpreters::with_required_secrets(settings);
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
    let store = Store::new(&settings.project_dir);
    let timings = Arc::new(Timings::default());
    let result = match secrets {
        Ok(secrets) => {
            let run = Run {
                settings,
                args,
                global,
                task: &task,
                redactor: &redactor,
                secrets: &secrets,
                store: &store,
            };
            timings::scope(timings.clone(), run.phases(&mut report)).await
        }
        Err(err) => Err(err),
    };
    if let Err(err) = result {
        report.fail(&err);
        if let Some(error) = &mut report.error {
            error.message = redactor.redact(&error.message);
        }
        task.finish(&format!("failed: {}", redactor.redact(&err.to_string())));
        // Failures of the deployment itself are recorded; bad input never touches the record.
        if !args.dry_run && (3..=6).contains(&report.exit_code) {
            let message = report.error.as_ref().map(|e| e.message.clone());
            let _ = upsert(&store, settings, |d| {
                d.status = RecordStatus::Failed;
                d.error = message;
            });
        }
    }
    let elapsed = started.elapsed();
    report.duration_ms = elapsed.as_millis() as u64;
    if !args.dry_run {
        report.time_ms = Some(timings.breakdown(elapsed));
    }
    report
}

/// Creates or updates this function's entry in the record.
pub fn upsert(
    store: &Store,
    settings: &LambdaSettings,
    change: impl FnOnce(&mut Deployment),
) -> Result<()> {
    let key = record::key(settings.env_name.as_deref(), &settings.function_name);
    // The record's lock may wait (up to 30 s) behind another fleet member: off the async workers.
    let update = || {
        store.update(|state| {
            let now = record::now_rfc3339();
            let entry = state.deployments.entry(key).or_insert_with(|| Deployment {
                function_name: settings.function_name.clone(),
                env: settings.env_name.clone(),
                stack_name: settings.stack_name.clone(),
                region: None,
                account: None,
                status: RecordStatus::Planned,
                created_at: now.clone(),
                updated_at: now.clone(),
                input_hash: None,
                deployed_hash: None,
                outputs: RecordedOutputs::default(),
                build_strategy: None,
                artifact_bytes: None,
                runtime: settings.runtime.name(),
                endpoint_kind: settings.endpoint.as_str().to_string(),
                error: None,
            });
            entry.stack_name = settings.stack_name.clone();
            entry.runtime = settings.runtime.name();
            entry.endpoint_kind = settings.endpoint.as_str().to_string();
            entry.updated_at = now;
            change(entry);
        })
    };
    // block_in_place needs the multi-thread runtime; elsewhere (tests, a plain thread) just wait.
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(update)
        }
        _ => update(),
    }
}

struct Run<'a> {
    settings: &'a LambdaSettings,
    args: &'a LambdaArgs,
    global: &'a crate::cli::GlobalArgs,
    task: &'a Task,
    redactor: &'a Redactor,
    secrets: &'a SecretValues,
    store: &'a Store,
}

impl Run<'_> {
    async fn phases(&self, report: &mut DeployReport) -> Result<()> {
        let Run {
            settings,
            args,
            global,
            task,
            redactor,
            secrets,
            store,
        } = *self;
        task.phase("analysing the agent");
        let region = local_region(settings);
        report.region = region.clone();
        let plan = LambdaPlan::prepare(settings, region.as_deref())?;
        report.warnings = plan.warnings.clone();
        if settings.kind == DeploymentKind::CodeInterpreter {
            report.mcp_client_config = Some(code_interpreter::mcp_client_config(
                region.as_deref().unwrap_or("us-east-1"),
            ));
        }
        // One run per function and environment at a time, dry-runs included: they rewrite the
        // out-dir a deploy is building from (the lock waits on this thread).
        let wait = Duration::from_secs(args.lock_timeout);
        let _lock = tokio::task::block_in_place(|| {
            store.deploy_lock(settings.env_name.as_deref(), &settings.function_name, wait)
        })?;
        if args.dry_run {
            // What can still fail is checked before anything is written: a failing dry-run
            // leaves no rendered project behind.
            let key = record::key(settings.env_name.as_deref(), &settings.function_name);
            let recorded = store.get(&key)?;
            plan.project
                .write(&settings.out_dir, &settings.project_dir)?;
            report.plan = Some(plan.describe(settings, None));
            match secrets::without_value(&settings.secrets, &settings.project_dir) {
                Ok(missing) => {
                    for secret in missing {
                        report.warnings.push(format!("secret {secret} has no value in the environment or .env yet; a real deploy will stop here"));
                    }
                }
                Err(err) => report
                    .warnings
                    .push(format!("{err}; a real deploy will stop here")),
            }
            if recorded.is_none() {
                upsert(store, settings, |d| d.status = RecordStatus::Planned)?;
            }
            report.status = Status::Planned;
            task.finish("planned");
            return Ok(());
        }

        plan.project
            .write(&settings.out_dir, &settings.project_dir)?;
        report.plan = Some(plan.describe(settings, None));

        task.phase("preflight");
        let aws = crate::aws::aws_context(
            settings.region.as_deref(),
            settings.profile.as_deref(),
            global.endpoint_url.as_deref(),
        )
        .await?;
        report.region = Some(aws.region.clone());
        report.account = Some(aws.account.clone());
        if settings.kind == DeploymentKind::CodeInterpreter {
            report.mcp_client_config = Some(code_interpreter::mcp_client_config(&aws.region));
        }
        let digest_key = if secrets.values.is_empty() {
            Vec::new()
        } else {
            store.digest_key()?
        };
        let input_hash = plan.input_hash(&aws.region, &secrets.values, &digest_key);

        if !settings.force && self.unchanged(&aws, &input_hash, report).await? {
            task.finish("unchanged");
            return Ok(());
        }

        let sam = timings::timed(timings::Category::Sam, crate::tools::sam_cli()).await?;
        upsert(store, settings, |d| {
            d.status = RecordStatus::Building;
            d.input_hash = Some(input_hash.clone());
            d.region = Some(aws.region.clone());
            d.account = Some(aws.account.clone());
            d.error = None;
        })?;
        let tool = ToolOptions {
            cwd: &settings.out_dir,
            envs: Vec::new(),
            stream: global.verbose >= 1,
            task,
            redactor,
        };
        let phase = |phase: deploy::Phase| {
            task.phase(phase.describe());
            if phase == deploy::Phase::Deploying
                && let Err(err) = upsert(store, settings, |d| d.status = RecordStatus::Deploying)
            {
                tracing::warn!("could not update the deployment record: {err}");
            }
        };
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
            strategy: deployed.strategy.as_str().to_string(),
            artifact_bytes: Some(deployed.artifact_bytes),
            cached: deployed.build_cached || (deployed.resolve_cached && !deployed.pins.is_empty()),
            dependencies_cached: Some(deployed.resolve_cached),
        };
        report.access = Some(access(settings, &deployed.outputs, &aws.region));
        report.plan = Some(plan.describe(settings, Some(&deployed.pins)));
        let status = if deployed.no_changes {
            RecordStatus::Unchanged
        } else {
            RecordStatus::Deployed
        };
        upsert(store, settings, |d| {
            d.status = status;
            d.deployed_hash = Some(input_hash.clone());
            d.outputs = RecordedOutputs {
                function_arn: deployed.outputs.function_arn.clone(),
                endpoint: report.endpoint.clone(),
                api_key_id: deployed.outputs.api_key_id.clone(),
            };
            d.build_strategy = Some(deployed.strategy.as_str().to_string());
            d.artifact_bytes = Some(deployed.artifact_bytes);
        })?;
        task.finish(if deployed.no_changes {
            "unchanged"
        } else {
            "deployed"
        });
        Ok(())
    }

    /// Same input as the last successful deploy and a healthy stack: report `unchanged` with
    /// fresh outputs, without running pip or sam.
    async fn unchanged(
        &self,
        aws: &crate::aws::AwsContext,
        input_hash: &str,
        report: &mut DeployReport,
    ) -> Result<bool> {
        let settings = self.settings;
        let key = record::key(settings.env_name.as_deref(), &settings.function_name);
        let Some(previous) = self.store.get(&key)? else {
            return Ok(false);
        };
        if previous.deployed_hash.as_deref() != Some(input_hash)
            || previous.region.as_deref() != Some(aws.region.as_str())
        {
            return Ok(false);
        }
        let cfn = crate::aws::clients::cloudformation(&aws.sdk);
        let Some(state) = outputs::stack_state(&cfn, &settings.stack_name).await? else {
            return Ok(false);
        };
        if !state.is_complete() {
            return Ok(false);
        }
        let stack_outputs = StackOutputs::from_map(&state.outputs);
        let Some(function_name) = stack_outputs.function_name.clone() else {
            return Ok(false);
        };
        let lambda = crate::aws::clients::lambda(&aws.sdk);
        outputs::wait_function_ready(&lambda, &function_name, Duration::from_secs(60)).await?;
        report.status = Status::Unchanged;
        report.function_arn = stack_outputs.function_arn.clone();
        report.endpoint = stack_outputs
            .api_endpoint
            .clone()
            .or(stack_outputs.function_url.clone());
        report.build = BuildInfo {
            strategy: previous
                .build_strategy
                .clone()
                .unwrap_or_else(|| "none".into()),
            artifact_bytes: previous.artifact_bytes,
            cached: true,
            dependencies_cached: Some(true),
        };
        report.access = Some(access(settings, &stack_outputs, &aws.region));
        let endpoint = report.endpoint.clone();
        upsert(self.store, settings, |d| {
            d.status = RecordStatus::Unchanged;
            d.outputs.function_arn = stack_outputs.function_arn.clone();
            d.outputs.endpoint = endpoint;
            d.error = None;
        })?;
        Ok(true)
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
