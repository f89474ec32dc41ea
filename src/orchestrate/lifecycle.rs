//! The deployment lifecycle for `agentdeploy lambda`: select the agents, resolve and validate
//! their settings (all before any work), then plan → (dry run | build → deploy → verify) each,
//! concurrently for a fleet, and report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::cli::DeployArgs;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::record::{self, RecordEntry, RecordStatus, RecordedOutputs, Store};
use crate::orchestrate::remote_lock;
use crate::output::{self, BuildInfo, DeployReport, Status};
use crate::process::ToolOptions;
use crate::progress::{Progress, Task};
use crate::redact::Redactor;
use crate::secrets::{self, SecretValues};
use crate::target::{
    Call, Change, DeploymentSettings, LastDeploy, Phase, Planned, ShipRequest, Shipped, Target,
};
use crate::timings::{self, Timings};

/// Two agents of one run whose stacks would be one (`a-b` and `a_b` in a region): the second
/// would replace the first, so neither is planned.
fn refuse_shared_stacks<S: DeploymentSettings>(all_settings: &[&S]) -> Result<()> {
    let mut seen: std::collections::BTreeMap<(Option<&str>, &str), &str> = Default::default();
    for settings in all_settings {
        let key = (settings.region(), settings.stack_name());
        match seen.insert(key, settings.function_name()) {
            Some(first) if first != settings.function_name() => {
                return Err(Error::Usage {
                    flag: "--function-name".into(),
                    message: format!(
                        "`{first}` and `{}` would both deploy to the stack {}: the second would replace the first",
                        settings.function_name(),
                        settings.stack_name()
                    ),
                    hint: Some("rename one of them, or give one a stack_name of its own".into()),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// `lambda`: deploys every selected agent, each by the target chosen for it (`choose`).
pub async fn deploy_all<T: Target + Clone + 'static>(
    ctx: &Context,
    args: &DeployArgs,
    choose: &dyn Fn(&str) -> Result<T>,
) -> Result<i32> {
    let (chosen, fleet) = resolve_all(ctx, args, choose)?;
    let all_settings: Vec<T::Settings> = chosen.iter().map(|(_, s)| s.clone()).collect();
    let progress = Progress::new(ctx.global.quiet);
    let jobs = args.jobs.max(1);
    let semaphore = Arc::new(Semaphore::new(jobs));
    let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    let count = all_settings.len();
    for (index, (target, settings)) in chosen.into_iter().enumerate() {
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
            let report = deploy_one(&target, &settings, &args, &global, &progress).await;
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
                crate::aws::s3_lock::release_abandoned().await;
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
pub(crate) async fn shutdown_signal() {
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
fn mark_interrupted(settings: &impl DeploymentSettings) {
    let store = Store::new(settings.project_dir());
    let key = record::key(settings.env_name(), settings.function_name());
    let in_flight = matches!(store.get(&key), Ok(Some(d)) if matches!(d.status, RecordStatus::Building | RecordStatus::Deploying));
    if in_flight {
        let _ = upsert(&store, settings, |d| {
            d.status = RecordStatus::Interrupted;
            d.error = Some("interrupted by a signal".into());
        });
    }
}

/// One agent's target and its settings.
pub type Chosen<T> = (T, <T as Target>::Settings);

/// Which agents this run deploys: `--function-name`, else `--only`, else every agent of the
/// config file (reference §4: several agents and no name → all of them).
/// Every selected agent's settings, validated before any work; `true`: a fleet.
/// Each with the target `choose` picks for it.
pub fn resolve_all<T: Target>(
    ctx: &Context,
    args: &DeployArgs,
    choose: &dyn Fn(&str) -> Result<T>,
) -> Result<(Vec<Chosen<T>>, bool)> {
    let (names, fleet) = select_agents(ctx, args)?;
    let mut chosen = Vec::with_capacity(names.len());
    for name in &names {
        let target = choose(name)?;
        let settings = target.resolve_settings(ctx.resolve_input(name, args))?;
        chosen.push((target, settings));
    }
    let all_settings: Vec<&T::Settings> = chosen.iter().map(|(_, s)| s).collect();
    refuse_shared_stacks(&all_settings)?;
    Ok((chosen, fleet))
}

fn select_agents(ctx: &Context, args: &DeployArgs) -> Result<(Vec<String>, bool)> {
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

fn skeleton(settings: &impl DeploymentSettings) -> DeployReport {
    let shape = settings.shape();
    DeployReport {
        status: Status::Planned,
        function_name: settings.function_name().to_string(),
        function_arn: None,
        endpoint: None,
        endpoint_kind: shape.endpoint_kind,
        stack_name: settings.stack_name().to_string(),
        region: settings.region().map(str::to_string),
        account: None,
        runtime: shape.runtime,
        architecture: shape.architecture,
        memory: shape.memory,
        timeout: shape.timeout,
        build: BuildInfo {
            strategy: "none".into(),
            artifact_bytes: None,
            cached: false,
            dependencies_cached: None,
            resolved_by: None,
            bytecode: None,
            cold_start: None,
            remote_cache: None,
        },
        duration_ms: 0,
        time_ms: None,
        warnings: settings.warnings().to_vec(),
        access: None,
        error: None,
        mcp_client_config: None,
        plan: None,
        smoke: None,
        exit_code: exit_codes::OK,
    }
}

/// The region known without asking AWS: flag/config, then the standard variables.
pub fn local_region(settings: &impl DeploymentSettings) -> Option<String> {
    crate::aws::local_region(settings.region())
}

async fn deploy_one<T: Target>(
    target: &T,
    settings: &T::Settings,
    args: &DeployArgs,
    global: &crate::cli::GlobalArgs,
    progress: &Progress,
) -> DeployReport {
    let started = Instant::now();
    let mut report = skeleton(settings);
    let settings = &target.complete_settings(settings);
    // Secret values are read first so that everything printed afterwards is redacted.
    let secrets = if args.dry_run {
        Ok(SecretValues::default())
    } else {
        secrets::read(settings.secret_names(), settings.project_dir())
    };
    let redactor = secrets
        .as_ref()
        .map_or_else(|_| Redactor::new(Vec::new()), SecretValues::redactor);
    let task = progress.task(settings.function_name(), redactor.clone());
    let store = Store::new(settings.project_dir());
    let timings = Arc::new(Timings::default());
    let result = match secrets {
        Ok(secrets) => {
            let run = Run {
                target,
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
    settings: &impl DeploymentSettings,
    change: impl FnOnce(&mut RecordEntry),
) -> Result<()> {
    let key = record::key(settings.env_name(), settings.function_name());
    let shape = settings.shape();
    // The record's lock may wait (up to 30 s) behind another fleet member: off the async workers.
    let update = || {
        store.update(|state| {
            let now = record::now_rfc3339();
            let entry = state.deployments.entry(key).or_insert_with(|| RecordEntry {
                function_name: settings.function_name().to_string(),
                env: settings.env_name().map(str::to_string),
                stack_name: settings.stack_name().to_string(),
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
                runtime: shape.runtime.clone(),
                endpoint_kind: shape.endpoint_kind.clone(),
                error: None,
                live_version: None,
                cold_start: None,
                rolled_back: false,
                code_sha256: None,
                endpoint_auth: None,
                versions: Vec::new(),
                synced: None,
            });
            entry.stack_name = settings.stack_name().to_string();
            entry.runtime = shape.runtime;
            entry.endpoint_kind = shape.endpoint_kind;
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

/// What the unchanged check decided.
enum Decision {
    Unchanged,
    Deploy { restore_live: bool },
}

/// What the last deploy of this function was, against this run's inputs.
enum LastDeployed {
    /// These very inputs, still live.
    Same(Box<LastDeploy>),
    /// A rollback (from any checkout) moved `live` off the last deploy's version.
    LiveMovedAway,
    /// Other inputs, or none recorded.
    Other,
}

struct Run<'a, T: Target> {
    target: &'a T,
    settings: &'a T::Settings,
    args: &'a DeployArgs,
    global: &'a crate::cli::GlobalArgs,
    task: &'a Task,
    redactor: &'a Redactor,
    secrets: &'a SecretValues,
    store: &'a Store,
}

impl<T: Target> Run<'_, T> {
    /// plan → lock → (dry run | preflight → unchanged? → ship → record).
    async fn phases(&self, report: &mut DeployReport) -> Result<()> {
        let settings = self.settings;
        self.task.phase("analysing the agent");
        let region = local_region(settings);
        report.region = region.clone();
        let plan = self.target.plan(settings, region.as_deref())?;
        report.warnings = plan.warnings().to_vec();
        report.mcp_client_config = self
            .target
            .client_config(settings, region.as_deref().unwrap_or("us-east-1"));
        // One run per function and environment at a time, dry-runs included: they rewrite the
        // out-dir a deploy is building from (the lock waits on this thread).
        let wait = Duration::from_secs(self.args.lock_timeout);
        let _lock = tokio::task::block_in_place(|| {
            self.store
                .deploy_lock(settings.env_name(), settings.function_name(), wait)
        })?;
        // Read once under the lock: nothing else changes this entry until the run ends.
        let key = record::key(settings.env_name(), settings.function_name());
        let previous = self.store.get(&key)?;
        if let Some(synced) = previous.as_ref().and_then(|d| d.synced.as_ref()) {
            report.warnings.push(format!(
                "`sync` changed the function outside CloudFormation ({synced}): this deploy puts CloudFormation back in charge"
            ));
        }
        if self.args.dry_run {
            return self.dry_run(&plan, previous.is_some(), report);
        }
        plan.write(settings)?;
        report.plan = Some(plan.describe(settings, None));

        self.task.phase("preflight");
        let aws = crate::aws::aws_context(
            settings.region(),
            settings.profile(),
            self.global.endpoint_url.as_deref(),
        )
        .await?;
        report.region = Some(aws.region.clone());
        report.account = Some(aws.account.clone());
        report.mcp_client_config = self.target.client_config(settings, &aws.region);
        self.target.check_region(settings, &aws.region)?;
        // Nothing is changed in a stack agentdeploy did not make for this function.
        let made_by_us = previous.as_ref().is_some_and(RecordEntry::made_stack);
        self.target
            .check_owner(
                &aws.sdk,
                settings.function_name(),
                settings.stack_name(),
                made_by_us,
                Change::Deploy,
            )
            .await?;
        // One deploy of this deployment at a time across machines too; the unchanged check comes
        // after the wait, since the deploy waited for may have shipped these very inputs.
        let locked = remote_lock::acquire(
            self.target,
            &aws,
            settings.function_name(),
            settings.stack_name(),
            settings.artifact_bucket(),
            Duration::from_secs(self.args.lock_timeout),
            &|waiting| self.task.phase(waiting),
        )
        .await?;
        report.warnings.extend(locked.warning.clone());
        let result = self.deploy_locked(&plan, &aws, previous, report).await;
        locked.release().await;
        result
    }

    /// Everything of a deploy that must not interleave with another machine's deploy of the
    /// same deployment: the unchanged check, ship, smoke cases, the records.
    async fn deploy_locked(
        &self,
        plan: &T::Plan,
        aws: &crate::aws::AwsContext,
        previous: Option<RecordEntry>,
        report: &mut DeployReport,
    ) -> Result<()> {
        let settings = self.settings;
        // The key lives with the deployment, not on this machine: every checkout digests the
        // secrets alike, and a changed value still changes the hash.
        let digest_key = if self.secrets.values.is_empty() {
            Vec::new()
        } else {
            self.target.digest_key(aws, settings).await?
        };
        let input_hash = plan.input_hash(&aws.region, &self.secrets.values, &digest_key);
        let restore_live = match self
            .unchanged_or_why(previous.as_ref(), aws, &input_hash, report)
            .await?
        {
            Decision::Unchanged => return Ok(()),
            Decision::Deploy { restore_live } => restore_live,
        };
        let secrets_version = (!self.secrets.values.is_empty())
            .then(|| crate::secrets::values_digest(&digest_key, &self.secrets.values));
        // With smoke cases `live` stays on the version it serves until the new one passes them.
        let hold_live = match settings.smoke() {
            Some(_) => {
                self.target
                    .live_version(&aws.sdk, settings.function_name())
                    .await?
            }
            None => None,
        };
        let mut shipped = self
            .ship(
                plan,
                aws,
                &input_hash,
                restore_live,
                secrets_version.clone(),
                hold_live.clone(),
            )
            .await?;
        if let Some(cases) = settings.smoke() {
            self.smoke(cases, aws, hold_live.as_deref(), &mut shipped, report)
                .await?;
        }
        let mut shape = plan.shape(settings)?;
        if let Some(digest) = &secrets_version {
            shape.insert("secrets".into(), digest.clone());
        }
        let deployed = self
            .record_in_the_cloud(aws, &input_hash, &shipped, shape, report)
            .await;
        self.record_shipped(plan, shipped, &deployed, report)
    }

    /// Whether these inputs are deployed already, as they were (then the report says
    /// `unchanged`), or what the deploy must do: move `live` back after a rollback or a hand
    /// that moved it.
    async fn unchanged_or_why(
        &self,
        previous: Option<&RecordEntry>,
        aws: &crate::aws::AwsContext,
        input_hash: &str,
        report: &mut DeployReport,
    ) -> Result<Decision> {
        let settings = self.settings;
        let mut restore_live = previous.is_some_and(|d| d.rolled_back);
        if settings.force() {
            return Ok(Decision::Deploy { restore_live });
        }
        match self.last_deployed(previous, aws, input_hash).await? {
            LastDeployed::Same(deployed) => {
                // The same inputs are "unchanged" only while the deployment is still what that
                // deploy left: not moved, re-coded or opened up by hand since.
                let now = self
                    .target
                    .fingerprint(&aws.sdk, settings.function_name())
                    .await?;
                match now.drift_from(&deployed) {
                    None => {
                        if self.unchanged(&deployed, aws, report).await? {
                            self.task.finish("unchanged");
                            return Ok(Decision::Unchanged);
                        }
                    }
                    Some(reason) => {
                        report.warnings.push(format!(
                            "deploying again although nothing changed here: {reason}"
                        ));
                        restore_live |= now.live_version != deployed.live_version;
                    }
                }
            }
            // Rolled back from another checkout: this deploy serves its version again.
            LastDeployed::LiveMovedAway => restore_live = true,
            LastDeployed::Other => {}
        }
        Ok(Decision::Deploy { restore_live })
    }

    /// Keeps in the cloud what was just deployed, as the next unchanged check (from any
    /// machine) compares it; a failure is a warning: the deploy itself succeeded.
    async fn record_in_the_cloud(
        &self,
        aws: &crate::aws::AwsContext,
        input_hash: &str,
        shipped: &Shipped,
        shape: std::collections::BTreeMap<String, String>,
        report: &mut DeployReport,
    ) -> LastDeploy {
        let settings = self.settings;
        let now = match self
            .target
            .fingerprint(&aws.sdk, settings.function_name())
            .await
        {
            Ok(now) => now,
            Err(err) => {
                report.warnings.push(format!(
                    "the deployed function could not be read back ({err}); the next deploy will not find it unchanged"
                ));
                Default::default()
            }
        };
        let deployed = LastDeploy {
            input_hash: input_hash.to_string(),
            region: aws.region.clone(),
            build_strategy: Some(shipped.build.strategy.clone()),
            artifact_bytes: shipped.build.artifact_bytes,
            cold_start: shipped.build.cold_start.clone(),
            live_version: shipped.live_version.clone(),
            code_sha256: now.code_sha256,
            endpoint_auth: now.endpoint_auth,
            shape,
        };
        if let Err(err) = self.target.record_deployed(aws, settings, &deployed).await {
            // Another machine will deploy again instead of finding it unchanged.
            report.warnings.push(format!(
                "the deployment's record could not be kept in AWS ({err}); a deploy from another checkout will not find it unchanged"
            ));
        }
        deployed
    }

    /// What was last deployed with these very inputs, if anything: this checkout's record, else
    /// the one the deployment keeps in the cloud (a fresh checkout, another machine), whose
    /// version must still be the one `live` serves.
    async fn last_deployed(
        &self,
        previous: Option<&RecordEntry>,
        aws: &crate::aws::AwsContext,
        input_hash: &str,
    ) -> Result<LastDeployed> {
        if let Some(previous) = previous
            && previous.deployed_hash.as_deref() == Some(input_hash)
            && previous.region.as_deref() == Some(aws.region.as_str())
        {
            return Ok(LastDeployed::Same(Box::new(LastDeploy {
                input_hash: input_hash.to_string(),
                region: aws.region.clone(),
                build_strategy: previous.build_strategy.clone(),
                artifact_bytes: previous.artifact_bytes,
                cold_start: previous.cold_start.clone(),
                live_version: previous.live_version.clone(),
                code_sha256: previous.code_sha256.clone(),
                endpoint_auth: previous.endpoint_auth.clone(),
                shape: Default::default(),
            })));
        }
        let Some(remote) = self.target.last_deploy(aws, self.settings).await? else {
            return Ok(LastDeployed::Other);
        };
        if let Some(version) = &remote.live_version {
            let live = self
                .target
                .live_version(&aws.sdk, self.settings.function_name())
                .await?;
            if live.as_ref() != Some(version) {
                return Ok(LastDeployed::LiveMovedAway);
            }
        }
        Ok(
            if remote.input_hash == input_hash && remote.region == aws.region {
                LastDeployed::Same(Box::new(remote))
            } else {
                LastDeployed::Other
            },
        )
    }

    /// Writes the project and the plan; what can still fail is checked first, so a failing
    /// dry-run leaves no rendered project behind.
    fn dry_run(&self, plan: &T::Plan, recorded: bool, report: &mut DeployReport) -> Result<()> {
        let settings = self.settings;
        plan.write(settings)?;
        report.plan = Some(plan.describe(settings, None));
        match secrets::without_value(settings.secret_names(), settings.project_dir()) {
            Ok(missing) => {
                for secret in missing {
                    report.warnings.push(format!("secret {secret} has no value in the environment or .env yet; a real deploy will stop here"));
                }
            }
            Err(err) => report
                .warnings
                .push(format!("{err}; a real deploy will stop here")),
        }
        if !recorded {
            upsert(self.store, settings, |d| d.status = RecordStatus::Planned)?;
        }
        report.status = Status::Planned;
        self.task.finish("planned");
        Ok(())
    }

    /// Records the start, then builds and deploys through the target, the record following
    /// each phase. `restore_live`: a rollback moved `live` away from the stack's version.
    async fn ship(
        &self,
        plan: &T::Plan,
        aws: &crate::aws::AwsContext,
        input_hash: &str,
        restore_live: bool,
        secrets_version: Option<String>,
        hold_live: Option<String>,
    ) -> Result<Shipped> {
        let (settings, store, task) = (self.settings, self.store, self.task);
        upsert(store, settings, |d| {
            d.status = RecordStatus::Building;
            d.input_hash = Some(input_hash.to_string());
            d.region = Some(aws.region.clone());
            d.account = Some(aws.account.clone());
            d.error = None;
        })?;
        let phase = |phase: Phase| {
            task.phase(phase.describe());
            if phase == Phase::Deploying
                && let Err(err) = upsert(store, settings, |d| d.status = RecordStatus::Deploying)
            {
                tracing::warn!("could not update the deployment record: {err}");
            }
        };
        let request = ShipRequest {
            restore_live,
            secrets_version,
            hold_live,
            settings,
            plan,
            aws,
            secrets: self.secrets,
            tool: ToolOptions {
                cwd: settings.out_dir(),
                envs: Vec::new(),
                stream: self.global.verbose >= 1,
                task,
                redactor: self.redactor,
            },
        };
        self.target.ship(request, &phase).await
    }

    /// Runs the smoke cases against the version the deploy published; `live` moves to it only
    /// when every case passes (reference §7). `held`: the version `live` stayed on meanwhile.
    async fn smoke(
        &self,
        cases: &crate::smoke::Cases,
        aws: &crate::aws::AwsContext,
        held: Option<&str>,
        shipped: &mut Shipped,
        report: &mut DeployReport,
    ) -> Result<()> {
        let function_name = self.settings.function_name();
        let Some(version) = shipped.candidate_version.clone() else {
            return Err(Error::Verify {
                message: "the deploy published no version to run the smoke cases against".into(),
                hint: "run `agentdeploy status`; redeploy with --force".into(),
            });
        };
        self.task
            .phase(&format!("smoke cases against version {version}"));
        let mut result = crate::smoke::run(cases, &version, |payload| {
            let to = Call {
                version: Some(&version),
                tenant: self.settings.call_tenant(),
            };
            let call = self.target.invoke(&aws.sdk, function_name, to, payload);
            async { call.await.map(Into::into) }
        })
        .await?;
        // An answer may repeat what the agent was given, secrets included.
        for case in &mut result.cases {
            for failure in &mut case.failures {
                *failure = self.redactor.redact(failure);
            }
        }
        let failed = result.failed_count();
        let total = result.cases.len();
        report.smoke = Some(result);
        if failed > 0 {
            let where_live = match held {
                Some(old) => format!("`live` still serves version {old}"),
                None => format!(
                    "this is the first deploy, so `live` has no earlier version to stay on and serves version {version}"
                ),
            };
            return Err(Error::Verify {
                message: format!(
                    "{failed} of {total} smoke cases failed against version {version} ({}); {where_live}",
                    cases.path.display()
                ),
                hint: "each case's failures are listed with the report; fix the agent (or the cases) and deploy again".into(),
            });
        }
        if held != Some(version.as_str()) {
            self.target
                .point_live(&aws.sdk, function_name, &version)
                .await?;
        }
        shipped.live_version = Some(version);
        Ok(())
    }

    fn record_shipped(
        &self,
        plan: &T::Plan,
        shipped: Shipped,
        deployed: &LastDeploy,
        report: &mut DeployReport,
    ) -> Result<()> {
        let input_hash = deployed.input_hash.as_str();
        let settings = self.settings;
        let (report_status, record_status, word) = if shipped.no_changes {
            (Status::Unchanged, RecordStatus::Unchanged, "unchanged")
        } else {
            (Status::Deployed, RecordStatus::Deployed, "deployed")
        };
        report.status = report_status;
        report.function_arn = shipped.live.function_arn.clone();
        report.endpoint = shipped.live.endpoint.clone();
        report.build = shipped.build.clone();
        report.access = Some(shipped.live.access.clone());
        report.warnings.extend(shipped.warnings.iter().cloned());
        let unfounded = plan.unfounded_warnings(settings, &shipped.pins);
        report.warnings.retain(|w| !unfounded.contains(w));
        report.plan = Some(plan.describe(settings, Some(&shipped.pins)));
        upsert(self.store, settings, |d| {
            d.status = record_status;
            d.deployed_hash = Some(input_hash.to_string());
            d.outputs = RecordedOutputs {
                function_arn: shipped.live.function_arn.clone(),
                endpoint: shipped.live.endpoint.clone(),
                api_key_id: shipped.live.api_key_id.clone(),
            };
            d.build_strategy = Some(shipped.build.strategy.clone());
            d.artifact_bytes = shipped.build.artifact_bytes;
            d.cold_start = shipped.build.cold_start.clone();
            d.code_sha256.clone_from(&deployed.code_sha256);
            d.endpoint_auth.clone_from(&deployed.endpoint_auth);
            d.synced = None;
            if let Some(version) = &shipped.live_version {
                d.note_live_version(version, input_hash);
            }
        })?;
        self.task.finish(word);
        Ok(())
    }

    /// Same input as the last successful deploy and a healthy deployment: report `unchanged`
    /// with fresh outputs, without running pip or sam.
    async fn unchanged(
        &self,
        deployed: &LastDeploy,
        aws: &crate::aws::AwsContext,
        report: &mut DeployReport,
    ) -> Result<bool> {
        let settings = self.settings;
        let Some(live) = self.target.live(settings, aws).await? else {
            return Ok(false);
        };
        report.status = Status::Unchanged;
        report.function_arn = live.function_arn.clone();
        report.endpoint = live.endpoint.clone();
        report.build = BuildInfo {
            strategy: deployed
                .build_strategy
                .clone()
                .unwrap_or_else(|| "none".into()),
            artifact_bytes: deployed.artifact_bytes,
            cached: true,
            dependencies_cached: Some(true),
            resolved_by: Some(crate::build_report::ResolvedBy::Cache),
            bytecode: None,
            cold_start: deployed.cold_start.clone(),
            remote_cache: None,
        };
        report.access = Some(live.access);
        upsert(self.store, settings, |d| {
            d.status = RecordStatus::Unchanged;
            d.deployed_hash = Some(deployed.input_hash.clone());
            d.region = Some(deployed.region.clone());
            d.account = Some(aws.account.clone());
            d.build_strategy.clone_from(&deployed.build_strategy);
            d.artifact_bytes = deployed.artifact_bytes;
            d.cold_start.clone_from(&deployed.cold_start);
            d.outputs.function_arn = live.function_arn;
            d.outputs.endpoint = live.endpoint;
            d.error = None;
        })?;
        Ok(true)
    }
}
