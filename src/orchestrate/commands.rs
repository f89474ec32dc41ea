//! The commands around a deployment: `invoke` (and, with the deployment record, status /
//! destroy / list).

use serde::Serialize;
use serde_json::Value;

use std::io::IsTerminal;
use std::time::Duration;

use crate::cli::{DeployArgs, DestroyArgs, InvokeArgs, ListArgs, NameArgs, RollbackArgs, TestArgs};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::lookup::{agent_section, recorded, sdk_for};
use crate::orchestrate::record::{self, RecordEntry, Store};
use crate::orchestrate::{Context, preflight};
use crate::output::{self, CommandResult};
use crate::target::CheckStatus;
use crate::target::{Call, Change, FunctionState, PublishedVersion, Target};

pub async fn invoke<T: Target>(ctx: &Context, args: &InvokeArgs, target: &T) -> Result<i32> {
    target.check_name(&args.name)?;
    let payload = invoke_payload(args)?;
    let sdk = sdk_for(ctx, &args.name, None).await?;
    if args.stream {
        return invoke_streamed(ctx, args, target, &sdk, payload).await;
    }
    let call = Call {
        version: None,
        tenant: args.tenant.as_deref(),
    };
    let out = target.invoke(&sdk, &args.name, call, payload).await?;
    let raw = out.payload;
    let response: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    let error = answered_error(out.function_error.as_deref(), &response);
    let shown = if args.raw {
        response.clone()
    } else {
        response.get("output").cloned().unwrap_or(response.clone())
    };
    if args.raw
        && let Some(message) = error
    {
        // --raw: the function's own answer on stdout, whatever it is; the error on stderr.
        crate::outln!("{response}");
        return Ok(stderr_only(&function_error(message, response)));
    }
    // On an error the one JSON document is the error's, carrying the output (reference §8).
    if error.is_none() {
        let result = Invoked {
            function_name: args.name.clone(),
            output: shown.clone(),
            error: None,
        };
        output::emit(&result, ctx.global.output);
    }
    match error {
        Some(message) => Err(function_error(message, shown)),
        None => Ok(exit_codes::OK),
    }
}

/// `invoke --stream`: each event printed as it arrives (text: an Agent's words as they are
/// written, other events one JSON line each; JSON: one event per line), then the answer's error,
/// if any, as for a buffered call.
async fn invoke_streamed<T: Target>(
    ctx: &Context,
    args: &InvokeArgs,
    target: &T,
    sdk: &aws_config::SdkConfig,
    payload: Vec<u8>,
) -> Result<i32> {
    let format = ctx.global.output;
    let json_lines = format == crate::cli::OutputFormat::Json;
    let mut wrote_text = false;
    let mut print = |event: Value| {
        if json_lines {
            crate::outln!("{}", as_event_object(event));
            return;
        }
        match &event {
            Value::String(piece) => {
                output::write_stdout_part(piece);
                wrote_text = true;
            }
            Value::Object(map) if map.get("data").is_some_and(Value::is_string) => {
                output::write_stdout_part(map["data"].as_str().unwrap_or_default());
                wrote_text = true;
            }
            Value::Object(map) if map.contains_key("output") || map.contains_key("error") => {
                // The whole answer, after its words: already shown when they were.
                if wrote_text {
                    output::write_stdout_part("\n");
                    wrote_text = false;
                } else if let Some(answer) = map.get("output") {
                    match answer {
                        Value::String(text) => crate::outln!("{text}"),
                        other => crate::outln!("{other}"),
                    }
                }
            }
            Value::Object(map) if map.contains_key("current_tool_use") => {}
            other => crate::outln!("{other}"),
        }
    };
    let out = target
        .invoke_streamed(sdk, &args.name, args.tenant.as_deref(), payload, &mut print)
        .await?;
    if wrote_text {
        output::write_stdout_part("\n");
    }
    let response: Value = serde_json::from_slice(&out.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&out.payload).into_owned()));
    match answered_error(out.function_error.as_deref(), &response) {
        // One JSON document per line: the error is the last, on one line too.
        Some(message) if json_lines => {
            let err = function_error(message, response.clone());
            let info =
                serde_json::to_value(output::ErrorInfo::from_error(&err)).unwrap_or(Value::Null);
            crate::outln!(
                "{}",
                serde_json::json!({"status": "failed", "error": info, "output": response})
            );
            Ok(stderr_only(&err))
        }
        Some(message) => Err(function_error(message, response)),
        None => Ok(exit_codes::OK),
    }
}

/// An event as one JSON object: a text piece or a body that is not JSON becomes `{"data": …}`,
/// a JSON body its object.
fn as_event_object(event: Value) -> Value {
    match event {
        Value::String(text) => match serde_json::from_str::<Value>(&text) {
            Ok(parsed @ Value::Object(_)) => parsed,
            _ => serde_json::json!({ "data": text }),
        },
        Value::Object(_) => event,
        other => serde_json::json!({ "data": other }),
    }
}

/// The error said on stderr only (stdout already holds what the command printed); its exit code.
fn stderr_only(err: &Error) -> i32 {
    output::print_error(err, crate::cli::OutputFormat::Text);
    crate::exit_codes::exit_code(err)
}

/// `{"input": TEXT, "data": JSON}` from the flags; at least one is needed.
fn invoke_payload(args: &InvokeArgs) -> Result<Vec<u8>> {
    let mut payload = serde_json::Map::new();
    if let Some(input) = &args.input {
        payload.insert("input".into(), Value::String(input.clone()));
    }
    if let Some(data) = &args.data {
        let value: Value = serde_json::from_str(data)
            .map_err(|e| Error::usage("--data", format!("not valid JSON: {e}")))?;
        payload.insert("data".into(), value);
    }
    if payload.is_empty() {
        return Err(Error::usage(
            "--input",
            "give --input TEXT and/or --data JSON",
        ));
    }
    serde_json::to_vec(&Value::Object(payload))
        .map_err(|e| Error::internal(format!("encoding the payload: {e}")))
}

/// A function error (unhandled exception, timeout: Lambda's `FunctionError` header) or the
/// handler's own error answer (`{"error": ..., "message": ...}` without an output).
fn answered_error(function_error: Option<&str>, response: &Value) -> Option<String> {
    match (function_error, response) {
        (Some(kind), body) => Some(format!(
            "{kind}: {}",
            body.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string())
        )),
        (None, Value::Object(map)) if map.contains_key("error") && !map.contains_key("output") => {
            let kind = map["error"].as_str().unwrap_or("error");
            let message = map.get("message").and_then(Value::as_str).unwrap_or("");
            let request = map
                .get("request_id")
                .and_then(Value::as_str)
                .map(|id| format!(" (request id {id}: its log has the details)"))
                .unwrap_or_default();
            Some(if message.is_empty() {
                format!("{kind}{request}")
            } else {
                format!("{kind}: {message}{request}")
            })
        }
        _ => None,
    }
}

fn function_error(message: String, output: Value) -> Error {
    // Lambda reports a timeout only in the error message it writes ("Task timed out after
    // 3.00 seconds"); there is no error type to match.
    if message.contains("timed out") {
        Error::FunctionError {
            message: format!(
                "the function timed out: {message} (raise --timeout, up to 900 s; behind --endpoint api requests are cut at 29 s)"
            ),
            output: Some(output),
        }
    } else {
        Error::FunctionError {
            message: format!("the function answered with an error: {message}"),
            output: Some(output),
        }
    }
}

/// Every preflight check, each reported pass / warn / fail with a hint, all in one run.
/// Exit 3 when any check fails.
pub async fn doctor<T: Target>(ctx: &Context, args: &DeployArgs, target: &T) -> Result<i32> {
    let found = target
        .doctor(ctx.resolve_input(args.function_name.as_deref().unwrap_or_default(), args))
        .await?;
    let mut checks = found.checks;
    checks.extend(
        preflight::shared_checks(
            found.region.as_deref(),
            found.profile.as_deref(),
            ctx.global.endpoint_url.as_deref(),
        )
        .await,
    );
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    output::emit(
        &DoctorResult {
            ok: !failed,
            runtime: found.runtime,
            checks,
        },
        ctx.global.output,
    );
    Ok(if failed {
        exit_codes::PREFLIGHT
    } else {
        exit_codes::OK
    })
}

/// `policy`: the deployer's IAM policy for the selected agents, as JSON IAM takes (whatever -o).
pub fn policy<T: Target>(
    ctx: &Context,
    args: &DeployArgs,
    choose: &dyn Fn(&str) -> Result<T>,
) -> Result<i32> {
    let (chosen, _) = crate::orchestrate::lifecycle::resolve_all(ctx, args, choose)?;
    let Some((target, _)) = chosen.first() else {
        return Ok(exit_codes::OK);
    };
    let all_settings: Vec<T::Settings> = chosen.iter().map(|(_, s)| s.clone()).collect();
    let document = target.deployer_policy(&all_settings);
    crate::outln!(
        "{}",
        serde_json::to_string_pretty(&document).unwrap_or_default()
    );
    Ok(exit_codes::OK)
}

pub async fn status<T: Target>(ctx: &Context, args: &NameArgs, target: &T) -> Result<i32> {
    let (_, entry, stack_name) = recorded(ctx, &args.name, target)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let state = target.state(&sdk, &args.name, &stack_name).await?;
    if state.is_none() && entry.is_none() {
        return Err(Error::usage_hint(
            "NAME",
            format!(
                "no deployment of {} is recorded here and stack {stack_name} does not exist",
                args.name
            ),
            "deploy it with `agentdeploy lambda`, or pass -e / --region for the right environment",
        ));
    }
    let mut result = StatusResult {
        function_name: args.name.clone(),
        stack_name,
        stack_status: None,
        stack_status_reason: None,
        failed_resources: Vec::new(),
        outputs: None,
        function: None,
        versions: Vec::new(),
        cold_start: entry.as_ref().and_then(|e| e.cold_start.clone()),
        alarms: Vec::new(),
        last_hour: None,
        last_hour_error: None,
        record: None,
    };
    if state.is_some() {
        match crate::orchestrate::metrics::last_hour(ctx, &sdk, &args.name, target).await {
            Ok(report) => result.last_hour = Some(report),
            Err(why) => result.last_hour_error = Some(why),
        }
    }
    if let Some(state) = state {
        result.alarms = state.alarms;
        result.versions = recent_versions(
            state.live_version.as_deref(),
            &state.versions,
            entry.as_ref(),
        );
        result.stack_status = Some(state.stack_status);
        result.stack_status_reason = state.stack_status_reason;
        result.failed_resources = state.failed_resources;
        result.outputs = Some(state.outputs);
        result.function = state.function;
    }
    result.record = entry;
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

pub async fn destroy<T: Target>(
    ctx: &Context,
    args: &DestroyArgs,
    name: &str,
    target: &T,
) -> Result<i32> {
    let (store, entry, stack_name) = recorded(ctx, name, target)?;
    if !args.yes && !confirm_destroy(&stack_name, name)? {
        eprintln!("Nothing deleted.");
        return Ok(exit_codes::OK);
    }
    // Not while a deploy of it runs, here or on another machine.
    let _lock = store.deploy_lock(ctx.global.env.as_deref(), name, Duration::ZERO)?;
    let sdk = sdk_for(ctx, name, entry.as_ref()).await?;
    let made_by_us = entry.as_ref().is_some_and(RecordEntry::made_stack);
    target
        .check_owner(&sdk, name, &stack_name, made_by_us, Change::Destroy)
        .await?;
    let locked = lock_across_machines(ctx, target, &sdk, name, &stack_name).await?;
    let teardown = target
        .destroy(&sdk, name, &stack_name, made_by_us, locked.bucket())
        .await;
    locked.release().await;
    let teardown = teardown?;
    let existed = teardown.existed;
    let untagged_note = teardown.ownership_note;
    let emptied = teardown.sessions_removed;
    let removed_secrets = teardown.secrets_removed;
    let removed_synced = teardown.sync_objects_removed;
    let key = record::key(ctx.global.env.as_deref(), name);
    if entry.is_some() {
        store.update(|state| state.deployments.remove(&key))?;
    }
    let mut note = if existed {
        format!(
            "deleted stack {stack_name}{}",
            untagged_note.unwrap_or_default()
        )
    } else {
        format!("stack {stack_name} was already gone")
    };
    if emptied > 0 {
        note.push_str(&format!(", after removing {emptied} stored session(s)"));
    }
    if removed_secrets > 0 {
        note.push_str(&format!(
            " and {removed_secrets} secret parameter(s) in SSM"
        ));
    }
    if removed_synced > 0 {
        note.push_str(&format!(
            " and {removed_synced} object(s) `sync` kept in the artifact bucket"
        ));
    }
    let result = Destroyed {
        function_name: name.to_string(),
        stack_name,
        deleted: existed,
        note,
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

fn confirm_destroy(stack_name: &str, function_name: &str) -> Result<bool> {
    confirm(&format!(
        "Delete stack {stack_name} (function {function_name}) and everything in it?"
    ))
}

/// Asks on the terminal; refuses (never assumes yes) when there is none to ask.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage_hint(
            "--yes",
            format!("refusing without confirmation: there is no terminal to ask \"{question}\""),
            "pass --yes to go ahead without asking",
        ));
    }
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::internal(format!("reading the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// `agentdeploy test NAME`: the smoke cases against `live`, as a deploy runs them against a new
/// version (reference §7). Every case is reported; exit 6 when one fails.
pub async fn test<T: Target>(ctx: &Context, args: &TestArgs, target: &T) -> Result<i32> {
    target.check_name(&args.name)?;
    let path = match &args.cases {
        Some(path) => path.clone(),
        None => agent_section(ctx, &args.name)?.smoke.ok_or_else(|| {
                Error::usage_hint(
                    "--cases",
                    format!("no smoke cases for {}", args.name),
                    "pass --cases FILE, or set `smoke = \"cases.json\"` for the agent in agentdeploy.toml",
                )
            })?,
    };
    let cases = crate::smoke::load(&path)?;
    if let Some(junit) = &args.junit {
        refuse_foreign_file(junit)?;
    }
    let sdk = sdk_for(ctx, &args.name, None).await?;
    let live = target.live_alias();
    let version = target
        .live_version(&sdk, &args.name)
        .await?
        .map(|v| format!("{v} ({live})"))
        .unwrap_or_else(|| live.to_string());
    let report = crate::smoke::run(&cases, &version, |payload| {
        let to = Call {
            version: None,
            tenant: args.tenant.as_deref(),
        };
        let call = target.invoke(&sdk, &args.name, to, payload);
        async { call.await.map(Into::into) }
    })
    .await?;
    if let Some(junit) = &args.junit {
        crate::files::write_results_file(junit, report.junit(&args.name).as_bytes())?;
    }
    match ctx.global.output {
        crate::cli::OutputFormat::Json => {
            let doc = serde_json::json!({ "function_name": args.name, "smoke": report });
            crate::outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        crate::cli::OutputFormat::Text => {
            crate::outln!("Smoke cases against {}", args.name);
            output::print_smoke(&report);
        }
    }
    Ok(if report.passed {
        exit_codes::OK
    } else {
        exit_codes::VERIFY
    })
}

/// `--junit FILE` writes only a new file or over an earlier run's results: never another file.
fn refuse_foreign_file(path: &std::path::Path) -> Result<()> {
    match crate::files::results_file_problem(path) {
        Some(problem) => Err(Error::usage_hint(
            "--junit",
            format!("{} {problem}; nothing written", path.display()),
            "name a new file (or an earlier run's results) for --junit",
        )),
        None => Ok(()),
    }
}

/// Moves `live` to the previous (or the given) published version. Nothing is built; the
/// record notes it, and the next deploy moves `live` back to the stack's own version.
pub async fn rollback<T: Target>(ctx: &Context, args: &RollbackArgs, target: &T) -> Result<i32> {
    let (store, entry, stack_name) = recorded(ctx, &args.name, target)?;
    // The deploy lock, not waited for: a deploy under way is about to move `live` itself, and a
    // rollback that waited would undo the deploy it waited for.
    let _lock = store.deploy_lock(ctx.global.env.as_deref(), &args.name, Duration::ZERO)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let made_by_us = entry.as_ref().is_some_and(RecordEntry::made_stack);
    if target.deployment_status(&sdk, &stack_name).await?.is_none() {
        return Err(Error::usage_hint(
            "NAME",
            format!(
                "stack {stack_name} does not exist: {} has nothing to roll back",
                args.name
            ),
            "check the name, -e/--env and --region",
        ));
    }
    target
        .check_owner(&sdk, &args.name, &stack_name, made_by_us, Change::Rollback)
        .await?;
    let locked = lock_across_machines(ctx, target, &sdk, &args.name, &stack_name).await?;
    let result = rollback_locked(ctx, args, target, &sdk, &store, entry, stack_name).await;
    locked.release().await;
    result
}

async fn rollback_locked<T: Target>(
    ctx: &Context,
    args: &RollbackArgs,
    target: &T,
    sdk: &aws_config::SdkConfig,
    store: &Store,
    entry: Option<RecordEntry>,
    stack_name: String,
) -> Result<i32> {
    let live = target.live_alias();
    let (current, versions) = target.versions(sdk, &args.name).await?;
    let Some(current) = current else {
        return Err(Error::usage_hint(
            "NAME",
            format!("{} has no `{live}` alias: nothing to roll back", args.name),
            "deploy it with this version of agentdeploy first (every deploy then publishes a version)",
        ));
    };
    let version = rollback_target(&args.name, &current, &versions, args.to.as_deref())?;
    if !args.yes
        && !confirm(&format!(
            "Point {}:{live} from version {current} to version {version}?",
            args.name
        ))?
    {
        eprintln!("Nothing changed.");
        return Ok(exit_codes::OK);
    }
    target.point_live(sdk, &args.name, &version).await?;
    let target = version;
    if entry.is_some() {
        let key = record::key(ctx.global.env.as_deref(), &args.name);
        store.update(|state| {
            if let Some(d) = state.deployments.get_mut(&key) {
                // The next deploy must not take the rolled-back code for "unchanged".
                d.deployed_hash = d.hash_of(&target).map(str::to_string);
                d.live_version = Some(target.clone());
                // That version's code is not what the last deploy recorded.
                d.code_sha256 = None;
                d.rolled_back = true;
                d.updated_at = record::now_rfc3339();
            }
        })?;
    }
    output::emit(
        &RolledBack {
            function_name: args.name.clone(),
            alias: live,
            stack_name,
            from_version: current,
            to_version: target,
        },
        ctx.global.output,
    );
    Ok(exit_codes::OK)
}

/// The deployment's cross-machine lock for `rollback` and `destroy`, not waited for: a deploy
/// under way is about to move `live` itself, and one that waited would undo it.
pub(crate) async fn lock_across_machines<T: Target>(
    ctx: &Context,
    target: &T,
    sdk: &aws_config::SdkConfig,
    name: &str,
    stack_name: &str,
) -> Result<crate::orchestrate::remote_lock::Locked> {
    let aws =
        crate::aws::context::context_for(sdk.clone(), ctx.global.endpoint_url.as_deref()).await?;
    let bucket = agent_section(ctx, name)?
        .s3_bucket
        .or_else(|| std::env::var("AGENTDEPLOY_S3_BUCKET").ok());
    let locked = crate::orchestrate::remote_lock::acquire(
        target,
        &aws,
        name,
        stack_name,
        bucket.as_deref(),
        Duration::ZERO,
        &|_| {},
    )
    .await?;
    if let Some(warning) = &locked.warning {
        tracing::warn!("{warning}");
    }
    Ok(locked)
}

/// The version `rollback` moves `live` to: `--to`, else the newest one older than the live one.
fn rollback_target(
    function_name: &str,
    current: &str,
    versions: &[PublishedVersion],
    to: Option<&str>,
) -> Result<String> {
    Ok(match to {
        Some(version) if !versions.iter().any(|v| v.version == version) => {
            return Err(Error::usage_hint(
                "--to",
                format!("{} has no published version {version}", function_name),
                format!(
                    "published versions: {}",
                    versions
                        .iter()
                        .map(|v| v.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Some(version) if version == current => {
            return Err(Error::usage(
                "--to",
                format!("{} already serves version {current}", function_name),
            ));
        }
        Some(version) => version.to_string(),
        None => {
            let current_number = current.parse::<u64>().unwrap_or(0);
            match versions
                .iter()
                .filter_map(|v| v.version.parse::<u64>().ok())
                .filter(|v| *v < current_number)
                .max()
            {
                Some(previous) => previous.to_string(),
                None => {
                    return Err(Error::usage_hint(
                        "NAME",
                        format!(
                            "nothing to roll back to: {} serves version {current}, the oldest it has",
                            function_name
                        ),
                        "`agentdeploy status` lists the versions; `--to VERSION` picks a newer one",
                    ));
                }
            }
        }
    })
}

pub async fn list<T: Target>(ctx: &Context, args: &ListArgs, target: &T) -> Result<i32> {
    let project_dir = ctx.project_dir();
    let state = Store::new(&project_dir).read()?;
    let mut rows = Vec::new();
    for (key, deployment) in &state.deployments {
        let live = if args.refresh {
            let sdk = crate::aws::load_sdk_config(
                ctx.global
                    .region
                    .as_deref()
                    .or(deployment.region.as_deref()),
                ctx.global.profile.as_deref(),
                ctx.global.endpoint_url.as_deref(),
            )
            .await;
            Some(
                match target.deployment_status(&sdk, &deployment.stack_name).await {
                    Ok(Some(status)) => status,
                    Ok(None) => "DOES_NOT_EXIST".to_string(),
                    Err(err) => format!("unknown ({err})"),
                },
            )
        } else {
            None
        };
        rows.push(ListRow {
            key: key.clone(),
            deployment: deployment.clone(),
            stack_status: live,
        });
    }
    // A fresh checkout (a CI runner) has no record: the stacks themselves say what is deployed.
    let in_aws = if args.remote || rows.is_empty() {
        let sdk = crate::orchestrate::lookup::region_sdk(ctx).await?;
        let agents = ctx.config.as_ref().map(|c| c.agent_names());
        let found = target.deployments(&sdk).await?;
        let found: Vec<_> = found
            .into_iter()
            // A config names this project's agents: the region's other deployments are not its.
            .filter(|d| {
                agents
                    .as_ref()
                    .is_none_or(|names| names.contains(&d.function_name))
            })
            .collect();
        Some(FoundIn {
            region: sdk.region().map(|r| r.to_string()),
            deployments: found,
        })
    } else {
        None
    };
    let result = Listed {
        deployments: rows,
        in_aws,
        records_dir: project_dir.join(".agentdeploy"),
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

/// `invoke`'s answer.
#[derive(Debug, Serialize)]
pub struct Invoked {
    pub function_name: String,
    pub output: Value,
    /// Always null here: a function error is the error document instead (reference §8).
    pub error: Option<String>,
}

impl CommandResult for Invoked {
    fn text_lines(&self) -> Vec<String> {
        vec![match &self.output {
            Value::String(text) => text.clone(),
            other => serde_json::to_string_pretty(other).unwrap_or_default(),
        }]
    }
}

/// `doctor`'s report.
#[derive(Debug, Serialize)]
pub struct DoctorResult {
    pub ok: bool,
    pub runtime: String,
    pub checks: Vec<crate::target::Check>,
}

impl CommandResult for DoctorResult {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for check in &self.checks {
            let mark = match check.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Warn => "warn",
                CheckStatus::Fail => "FAIL",
            };
            lines.push(format!("{mark}  {:<12} {}", check.name, check.detail));
            if let Some(hint) = &check.hint
                && check.status != CheckStatus::Pass
            {
                lines.push(format!("      {:<12} hint: {hint}", ""));
            }
        }
        lines
    }
}

/// `status`: the stack, the function and the record.
#[derive(Debug, Serialize)]
pub struct StatusResult {
    pub function_name: String,
    pub stack_name: String,
    pub stack_status: Option<String>,
    pub stack_status_reason: Option<String>,
    pub failed_resources: Vec<String>,
    pub outputs: Option<std::collections::BTreeMap<String, String>>,
    pub function: Option<FunctionState>,
    /// The last few published versions, newest first, the live one marked.
    pub versions: Vec<VersionRow>,
    /// The cold start expected of what was last deployed from here.
    pub cold_start: Option<crate::build_report::ColdStart>,
    /// `--alarm-errors` / `--alarm-p95`, as CloudWatch reports them now.
    pub alarms: Vec<crate::target::AlarmState>,
    /// The last hour's requests, errors, latency, tokens and cost.
    pub last_hour: Option<crate::orchestrate::metrics::MetricsReport>,
    /// Why the last hour's figures could not be read (status shows the rest).
    pub last_hour_error: Option<String>,
    pub record: Option<RecordEntry>,
}

/// One published version as `status` shows it.
#[derive(Debug, Serialize)]
pub struct VersionRow {
    pub version: String,
    pub published_at: Option<String>,
    /// What went into it, when this project deployed it.
    pub input_hash: Option<String>,
    pub live: bool,
}

/// How many versions `status` lists.
const STATUS_VERSIONS: usize = 5;

fn recent_versions(
    live: Option<&str>,
    published: &[PublishedVersion],
    entry: Option<&RecordEntry>,
) -> Vec<VersionRow> {
    published
        .iter()
        .rev()
        .take(STATUS_VERSIONS)
        .map(|v| VersionRow {
            live: live == Some(v.version.as_str()),
            input_hash: entry
                .and_then(|d| d.hash_of(&v.version))
                .map(str::to_string),
            published_at: v.last_modified.clone(),
            version: v.version.clone(),
        })
        .collect()
}

impl CommandResult for StatusResult {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{} ({})", self.function_name, self.stack_name)];
        let mut line = |label: &str, value: String| lines.push(format!("  {label:<15}{value}"));
        line(
            "stack",
            match &self.stack_status {
                Some(status) => format!(
                    "{status}{}",
                    self.stack_status_reason
                        .as_ref()
                        .map(|r| format!(" - {r}"))
                        .unwrap_or_default()
                ),
                None => "does not exist".into(),
            },
        );
        for reason in &self.failed_resources {
            line("failed", reason.clone());
        }
        if let Some(f) = &self.function {
            line(
                "function",
                format!(
                    "{}/{} {} {} MB {} s",
                    f.state,
                    f.last_update_status,
                    f.runtime.as_deref().unwrap_or("?"),
                    f.memory.unwrap_or(0),
                    f.timeout.unwrap_or(0)
                ),
            );
        }
        if let Some(cold) = &self.cold_start {
            line("cold start", cold.describe());
        }
        for (key, value) in self.outputs.iter().flatten() {
            line(key, value.clone());
        }
        for v in &self.versions {
            line(
                "version",
                format!(
                    "{:<4} {}  input {}{}",
                    v.version,
                    v.published_at.as_deref().unwrap_or("-"),
                    v.input_hash.as_deref().unwrap_or("-"),
                    if v.live { "  <- live" } else { "" }
                ),
            );
        }
        for alarm in &self.alarms {
            line(
                "alarm",
                format!(
                    "{} {}{}",
                    alarm.name,
                    alarm.state,
                    alarm
                        .reason
                        .as_ref()
                        .filter(|_| alarm.state == "ALARM")
                        .map(|r| format!(" - {r}"))
                        .unwrap_or_default()
                ),
            );
        }
        if let Some(report) = &self.last_hour {
            for headline in report.headline() {
                line("last hour", headline);
            }
        }
        if let Some(why) = &self.last_hour_error {
            line("last hour", format!("metrics not read: {why}"));
        }
        if let Some(d) = &self.record {
            line(
                "last deploy",
                format!("{:?} at {}", d.status, d.updated_at).to_lowercase(),
            );
        }
        lines
    }
}

/// `destroy`'s result.
#[derive(Debug, Serialize)]
pub struct Destroyed {
    pub function_name: String,
    pub stack_name: String,
    pub deleted: bool,
    pub note: String,
}

impl CommandResult for Destroyed {
    fn text_lines(&self) -> Vec<String> {
        vec![self.note.clone()]
    }
}

/// One deployment of `list`.
#[derive(Debug, Serialize)]
pub struct ListRow {
    pub key: String,
    pub deployment: RecordEntry,
    /// With `--refresh`: the stack's status now.
    pub stack_status: Option<String>,
}

/// `list`'s result.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub deployments: Vec<ListRow>,
    /// Read from AWS: without a record here, or with `--remote`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_aws: Option<FoundIn>,
    #[serde(skip)]
    pub records_dir: std::path::PathBuf,
}

/// agentdeploy's deployments as the region's stacks show them.
#[derive(Debug, Serialize)]
pub struct FoundIn {
    pub region: Option<String>,
    pub deployments: Vec<crate::target::FoundDeployment>,
}

impl CommandResult for Listed {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(found) = &self.in_aws {
            let region = found.region.as_deref().unwrap_or("the default region");
            if found.deployments.is_empty() {
                lines.push(format!("no agentdeploy stacks in {region}"));
            } else {
                lines.push(format!("in AWS ({region}):"));
            }
            for d in &found.deployments {
                lines.push(format!(
                    "{:<30} {:<20} {}",
                    d.function_name,
                    d.stack_status,
                    d.endpoint.as_deref().unwrap_or("-")
                ));
            }
            if self.deployments.is_empty() {
                lines.push(format!(
                    "(no deployments recorded in {})",
                    self.records_dir.display()
                ));
                return lines;
            }
            lines.push("recorded here:".into());
        }
        if self.deployments.is_empty() {
            return vec![format!(
                "no deployments recorded in {}",
                self.records_dir.display()
            )];
        }
        lines.extend(self.deployments.iter().map(|row| {
            let d = &row.deployment;
            let live = row
                .stack_status
                .as_ref()
                .map(|s| format!(" [{s}]"))
                .unwrap_or_default();
            format!(
                "{:<30} {:<12} {:<12} {}{live}",
                row.key,
                d.status.as_str(),
                d.region.as_deref().unwrap_or("-"),
                d.outputs.endpoint.as_deref().unwrap_or("-")
            )
        }));
        lines
    }
}

/// `rollback`'s result.
#[derive(Debug, Serialize)]
pub struct RolledBack {
    pub function_name: String,
    /// The alias moved (the target's name for what callers reach).
    #[serde(skip)]
    pub alias: &'static str,
    pub stack_name: String,
    pub from_version: String,
    pub to_version: String,
}

impl CommandResult for RolledBack {
    fn text_lines(&self) -> Vec<String> {
        vec![format!(
            "{}:{} now serves version {} (was {}); deploy again to move it forward",
            self.function_name, self.alias, self.to_version, self.from_version
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(versions: &[&str]) -> Vec<PublishedVersion> {
        versions
            .iter()
            .map(|v| PublishedVersion {
                version: v.to_string(),
                last_modified: None,
                description: None,
            })
            .collect()
    }

    #[test]
    fn rollback_goes_to_the_newest_older_version_or_the_one_asked_for() {
        let versions = published(&["1", "2", "3", "10"]);
        assert_eq!(rollback_target("f", "10", &versions, None).unwrap(), "3");
        assert_eq!(rollback_target("f", "3", &versions, None).unwrap(), "2");
        assert_eq!(
            rollback_target("f", "3", &versions, Some("10")).unwrap(),
            "10"
        );
        let err = rollback_target("f", "1", &versions, None).unwrap_err();
        assert!(err.to_string().contains("nothing to roll back to"), "{err}");
        let err = rollback_target("f", "3", &versions, Some("9")).unwrap_err();
        assert_eq!(err.hint(), Some("published versions: 1, 2, 3, 10"));
        let err = rollback_target("f", "3", &versions, Some("3")).unwrap_err();
        assert!(
            err.to_string().contains("already serves version 3"),
            "{err}"
        );
    }
    #[test]
    fn an_error_answer_reads_whole_without_a_dangling_colon() {
        let said = |body: Value| answered_error(None, &body).unwrap();
        assert_eq!(
            said(serde_json::json!({"error": "SessionConflict"})),
            "SessionConflict"
        );
        assert_eq!(
            said(serde_json::json!({"error": "ValueError", "request_id": "r-1"})),
            "ValueError (request id r-1: its log has the details)"
        );
        assert_eq!(
            said(serde_json::json!({"error": "BadRequest", "message": "missing input"})),
            "BadRequest: missing input"
        );
        assert_eq!(
            answered_error(None, &serde_json::json!({"output": 1})),
            None
        );
    }

    #[test]
    fn every_streamed_event_is_one_json_object() {
        assert_eq!(
            as_event_object(Value::String("{\"error\": \"BadRequest\"}".into())),
            serde_json::json!({"error": "BadRequest"})
        );
        assert_eq!(
            as_event_object(Value::String("Hello".into())),
            serde_json::json!({"data": "Hello"})
        );
        assert_eq!(
            as_event_object(serde_json::json!({"data": "x"})),
            serde_json::json!({"data": "x"})
        );
        assert_eq!(
            as_event_object(serde_json::json!(3)),
            serde_json::json!({"data": 3})
        );
    }
}
