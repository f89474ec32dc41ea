//! `agentdeploy sync NAME [--watch]` (reference §13): a code-only change reaches `live` in
//! seconds, without CloudFormation — for dev stacks, as SAM Accelerate does. What decides that
//! the change is code only is the last deploy's shape, kept in the cloud with its record: the
//! dependency set, the rendered template (settings, permissions, endpoint) and the secrets'
//! digest must all be as that deploy left them; anything else is refused with what changed and
//! the `lambda` command to run. The local record marks the function synced; the next `lambda`
//! deploy puts CloudFormation back in charge.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::{DeployArgs, SyncArgs};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::lifecycle::upsert;
use crate::orchestrate::record::{self, Store};
use crate::orchestrate::remote_lock;
use crate::orchestrate::watch::Snapshot;
use crate::output::{self, CommandResult};
use crate::process::ToolOptions;
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::target::{Call, DeploymentSettings, Planned, Target};

/// How often `--watch` looks at the agent's files.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Serialize)]
pub struct Synced {
    pub status: &'static str,
    pub function_name: String,
    /// The version `live` now serves.
    pub version: String,
    pub duration_ms: u64,
}

impl CommandResult for Synced {
    fn text_lines(&self) -> Vec<String> {
        vec![format!(
            "{}: synced; live serves version {} ({} ms)",
            self.function_name, self.version, self.duration_ms
        )]
    }
}

pub async fn sync<T: Target>(
    ctx: &Context,
    args: &SyncArgs,
    choose: &dyn Fn(&str) -> Result<T>,
) -> Result<i32> {
    let target = choose(&args.name)?;
    refuse_protected(ctx, args)?;
    if !args.watch {
        let synced = sync_once(ctx, args, &target).await?;
        output::emit(&synced, ctx.global.output);
        return Ok(exit_codes::OK);
    }
    let settings = settings_of(ctx, args, &target)?;
    let mut seen = Snapshot::of(&watched(ctx, &settings));
    let interrupted = crate::orchestrate::lifecycle::shutdown_signal();
    tokio::pin!(interrupted);
    eprintln!("watching {}'s files; Ctrl-C stops", args.name);
    loop {
        tokio::select! {
            () = &mut interrupted => return Ok(exit_codes::OK),
            () = tokio::time::sleep(POLL) => {
                let now = Snapshot::of(&watched(ctx, &settings));
                if now == seen {
                    continue;
                }
                eprintln!("changed: {}", now.difference(&seen));
                seen = now;
                // A change that cannot be synced is said, and the watch goes on.
                match sync_once(ctx, args, &target).await {
                    Ok(synced) => output::emit(&synced, ctx.global.output),
                    Err(err) => output::print_error(&err, ctx.global.output),
                }
            }
        }
    }
}

fn watched(ctx: &Context, settings: &impl DeploymentSettings) -> Vec<std::path::PathBuf> {
    let mut paths = settings.sources();
    paths.extend(ctx.config.as_ref().map(|c| c.path.clone()));
    paths
}

/// `protected = true` on the environment (e.g. prod): changed only through CloudFormation,
/// unless `--yes`.
fn refuse_protected(ctx: &Context, args: &SyncArgs) -> Result<()> {
    let (Some(config), Some(env)) = (&ctx.config, ctx.global.env.as_deref()) else {
        return Ok(());
    };
    if config.environment(env)?.protected && !args.yes {
        return Err(Error::usage_hint(
            "--env",
            format!(
                "the environment `{env}` is protected in {}: `sync` would change it outside CloudFormation",
                config.path.display()
            ),
            format!(
                "deploy it with `agentdeploy lambda --env {env}`, or pass --yes to sync it anyway"
            ),
        ));
    }
    Ok(())
}

fn settings_of<T: Target>(ctx: &Context, args: &SyncArgs, target: &T) -> Result<T::Settings> {
    let deploy_args = DeployArgs {
        function_name: Some(args.name.clone()),
        options: args.options.clone(),
        ..DeployArgs::default()
    };
    Ok(target
        .complete_settings(&target.resolve_settings(ctx.resolve_input(&args.name, &deploy_args))?))
}

async fn sync_once<T: Target>(ctx: &Context, args: &SyncArgs, target: &T) -> Result<Synced> {
    let started = Instant::now();
    let settings = settings_of(ctx, args, target)?;
    let secrets = crate::secrets::read(settings.secret_names(), settings.project_dir())?;
    let redactor = secrets.redactor();
    let progress = Progress::new(ctx.global.quiet);
    let task = progress.task(settings.function_name(), redactor.clone());
    task.phase("analysing the agent");
    let plan = target.plan(
        &settings,
        crate::aws::local_region(settings.region()).as_deref(),
    )?;
    let store = Store::new(settings.project_dir());
    let _lock = tokio::task::block_in_place(|| {
        store.deploy_lock(
            settings.env_name(),
            settings.function_name(),
            Duration::from_secs(30),
        )
    })?;
    let aws = crate::aws::aws_context(
        settings.region(),
        settings.profile(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await?;
    target.check_region(&settings, &aws.region)?;
    // Whose function it is comes from the signed record of the last deploy (no stack is read:
    // sync makes no CloudFormation call), which `refuse_other_changes` requires, and whose shape
    // (the rendered template, the function's name in it) must be this plan's.
    // Never while another machine deploys it: that deploy is about to move `live` itself.
    let locked = remote_lock::acquire(
        target,
        &aws,
        settings.function_name(),
        settings.stack_name(),
        settings.artifact_bucket(),
        Duration::ZERO,
        &|_| {},
    )
    .await?;
    let run = Sync {
        ctx,
        target,
        settings: &settings,
        plan: &plan,
        aws: &aws,
        secrets: &secrets,
        task: &task,
        redactor: &redactor,
    };
    let result = run.locked(&store).await;
    locked.release().await;
    let version = result.inspect_err(|err| task.finish(&format!("failed: {err}")))?;
    task.finish("synced");
    Ok(Synced {
        status: "synced",
        function_name: settings.function_name().to_string(),
        version,
        duration_ms: started.elapsed().as_millis() as u64,
    })
}

struct Sync<'a, T: Target> {
    ctx: &'a Context,
    target: &'a T,
    settings: &'a T::Settings,
    plan: &'a T::Plan,
    aws: &'a crate::aws::AwsContext,
    secrets: &'a crate::secrets::SecretValues,
    task: &'a crate::progress::Task,
    redactor: &'a Redactor,
}

impl<T: Target> Sync<'_, T> {
    /// code only? → build → UpdateFunctionCode → publish → smoke cases → `live` → record.
    async fn locked(&self, store: &Store) -> Result<String> {
        let settings = self.settings;
        self.refuse_other_changes().await?;
        self.plan.write(settings)?;
        self.task.phase("building the code");
        let published = self
            .target
            .sync_code(
                settings,
                self.plan,
                self.aws,
                self.secrets,
                ToolOptions {
                    cwd: settings.out_dir(),
                    envs: Vec::new(),
                    stream: self.ctx.global.verbose >= 1,
                    task: self.task,
                    redactor: self.redactor,
                },
            )
            .await?;
        let version = published.version;
        if let Some(cases) = settings.smoke() {
            self.smoke(cases, &version).await?;
        }
        self.target
            .point_live(&self.aws.sdk, settings.function_name(), &version)
            .await?;
        let note = format!(
            "version {version} synced at {} (code {}); CloudFormation has the code of the last `lambda` deploy",
            record::now_rfc3339(),
            published.code_sha256.as_deref().unwrap_or("?")
        );
        // The rest of the entry stays the last deploy's: the next deploy sees `live` moved off
        // it and deploys, even when its inputs are that deploy's again.
        upsert(store, settings, |d| d.synced = Some(note))?;
        Ok(version)
    }

    /// Exit 2 naming what is not code (the deploy's recorded shape against this plan's).
    async fn refuse_other_changes(&self) -> Result<()> {
        let settings = self.settings;
        let deploy_command = match settings.env_name() {
            Some(env) => format!(
                "agentdeploy lambda --env {env} --function-name {}",
                settings.function_name()
            ),
            None => format!(
                "agentdeploy lambda --function-name {}",
                settings.function_name()
            ),
        };
        let last = self.target.last_deploy(self.aws, settings).await?;
        let Some(last) = last.filter(|l| !l.shape.is_empty()) else {
            return Err(Error::usage_hint(
                "NAME",
                format!(
                    "no deploy of {} records what `sync` compares with (never deployed, or by an older agentdeploy)",
                    settings.function_name()
                ),
                format!("deploy it once: {deploy_command}"),
            ));
        };
        let mut now = self.plan.shape(settings)?;
        if !self.secrets.values.is_empty() {
            let key = self.target.digest_key(self.aws, settings).await?;
            now.insert(
                "secrets".into(),
                crate::secrets::values_digest(&key, &self.secrets.values),
            );
        }
        let changed: Vec<&str> = now
            .keys()
            .chain(last.shape.keys())
            .filter(|part| now.get(*part) != last.shape.get(*part))
            .map(|part| match part.as_str() {
                "dependencies" => "the dependencies (requirements)",
                "settings" => "the function's settings, permissions or endpoint",
                "secrets" => "a secret's value",
                other => other,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        Err(Error::usage_hint(
            "NAME",
            format!(
                "not a code-only change: {} changed since the last deploy",
                changed.join(" and ")
            ),
            format!("deploy it through CloudFormation: {deploy_command}"),
        ))
    }

    async fn smoke(&self, cases: &crate::smoke::Cases, version: &str) -> Result<()> {
        self.task
            .phase(&format!("smoke cases against version {version}"));
        let function_name = self.settings.function_name();
        let result = crate::smoke::run(cases, version, |payload| {
            let to = Call {
                version: Some(version),
                tenant: self.settings.call_tenant(),
            };
            let call = self
                .target
                .invoke(&self.aws.sdk, function_name, to, payload);
            async { call.await.map(Into::into) }
        })
        .await?;
        let failed = result.failed_count();
        if failed == 0 {
            return Ok(());
        }
        Err(Error::Verify {
            message: format!(
                "{failed} of {} smoke cases failed against version {version}; `live` still serves the version it did",
                result.cases.len()
            ),
            hint: "fix the agent (or the cases) and sync again; `agentdeploy test` shows each case"
                .into(),
        })
    }
}
