//! The commands around a deployment: `invoke` (and, with the deployment record, status /
//! destroy / list).

use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_smithy_types::Blob;
use serde::Serialize;
use serde_json::Value;

use std::io::IsTerminal;
use std::time::Duration;

use crate::cli::{DestroyArgs, InvokeArgs, LambdaArgs, ListArgs, NameArgs, RollbackArgs};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::lambda::ship::outputs;
use crate::orchestrate::preflight::CheckStatus;
use crate::orchestrate::record::{self, Deployment, Store};
use crate::orchestrate::{Context, preflight};
use crate::output::{self, CommandResult};
use crate::settings::PathProbe;

/// Region and profile for a named function: flags, else its config section.
fn region_profile(ctx: &Context, name: &str) -> Result<(Option<String>, Option<String>)> {
    let section = match &ctx.config {
        Some(config) => config.section_for(name, ctx.global.env.as_deref())?,
        None => Default::default(),
    };
    Ok((
        ctx.global.region.clone().or(section.region),
        ctx.global.profile.clone().or(section.profile),
    ))
}

pub async fn invoke(ctx: &Context, args: &InvokeArgs) -> Result<i32> {
    crate::settings::validate_function_name(&args.name)?;
    let payload = invoke_payload(args)?;
    let sdk = sdk_for(ctx, &args.name, None).await?;
    let lambda = crate::aws::clients::lambda(&sdk);
    let send = |qualifier: Option<&str>| {
        lambda
            .invoke()
            .function_name(&args.name)
            .set_qualifier(qualifier.map(str::to_string))
            .payload(Blob::new(payload.clone()))
            .send()
    };
    let not_found = |err: &aws_sdk_lambda::error::SdkError<_, _>| {
        err.as_service_error()
            .is_some_and(|e: &InvokeError| e.is_resource_not_found_exception())
    };
    // Callers reach `live`; a stack from before versions has no alias and is called as it is
    // (one call in the usual case, a second only when the alias is missing).
    let out = match send(Some(outputs::LIVE_ALIAS)).await {
        Err(err) if not_found(&err) => send(None).await,
        answer => answer,
    }
    .map_err(|err| {
        if not_found(&err) {
            Error::usage_hint(
                "NAME",
                format!(
                    "function {} does not exist in this account and region",
                    args.name
                ),
                "deploy it first with `agentdeploy lambda`, or check --region / --profile",
            )
        } else {
            Error::internal(crate::aws::errors::call_failed(
                format_args!("Invoke {}", args.name),
                &err,
            ))
        }
    })?;
    let raw = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let response: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    let error = answered_error(out.function_error(), &response);
    let shown = if args.raw {
        response.clone()
    } else {
        response.get("output").cloned().unwrap_or(response.clone())
    };
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
            Some(format!(
                "{}: {}",
                map["error"].as_str().unwrap_or("error"),
                map.get("message").and_then(Value::as_str).unwrap_or("")
            ))
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
pub async fn doctor(ctx: &Context, args: &LambdaArgs) -> Result<i32> {
    let resolved = crate::settings::resolve_for_doctor(
        ctx.resolve_input(args.function_name.as_deref().unwrap_or_default(), args),
        &PathProbe,
    )?;
    let runtime = resolved.runtime;
    let checks = preflight::doctor(
        runtime,
        resolved.region.as_deref(),
        resolved.profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await;
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    output::emit(
        &DoctorResult {
            ok: !failed,
            runtime: runtime.name(),
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

/// The record entry and the stack name for NAME in the selected environment.
pub fn recorded(ctx: &Context, name: &str) -> Result<(Store, Option<Deployment>, String)> {
    crate::settings::validate_function_name(name)?;
    let project_dir = ctx.project_dir();
    let store = Store::new(&project_dir);
    let env = ctx.global.env.as_deref();
    let entry = store.get(&record::key(env, name))?;
    let stack = entry
        .as_ref()
        .map(|d| d.stack_name.clone())
        .unwrap_or_else(|| crate::settings::default_stack_name(name, env));
    Ok((store, entry, stack))
}

pub async fn sdk_for(
    ctx: &Context,
    name: &str,
    entry: Option<&Deployment>,
) -> Result<aws_config::SdkConfig> {
    let (region, profile) = region_profile(ctx, name)?;
    let region = ctx
        .global
        .region
        .clone()
        .or(entry.and_then(|d| d.region.clone()))
        .or(region);
    Ok(crate::aws::load_sdk_config(
        region.as_deref(),
        profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await)
}

pub async fn status(ctx: &Context, args: &NameArgs) -> Result<i32> {
    let (_, entry, stack_name) = recorded(ctx, &args.name)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let cfn = crate::aws::clients::cloudformation(&sdk);
    let stack = outputs::stack_state(&cfn, &stack_name).await?;
    if stack.is_none() && entry.is_none() {
        return Err(Error::usage_hint(
            "NAME",
            format!(
                "no deployment of {} is recorded here and stack {stack_name} does not exist",
                args.name
            ),
            "deploy it with `agentdeploy lambda`, or pass -e / --region for the right environment",
        ));
    }
    // What AWS says now: a state that is not Active is shown as it is; a call that fails is
    // an error (never "no function", "no versions").
    let (function, versions) = match stack.as_ref().and_then(|s| s.outputs.get("FunctionName")) {
        Some(function_name) => {
            let lambda = crate::aws::clients::lambda(&sdk);
            (
                Some(outputs::function_state(&lambda, function_name).await?),
                recent_versions(&lambda, function_name, entry.as_ref()).await?,
            )
        }
        None => (None, Vec::new()),
    };
    let failed = match &stack {
        Some(state) if state.is_failed() || state.is_rollback_complete() => {
            outputs::failed_resources(&cfn, &stack_name).await
        }
        _ => Vec::new(),
    };
    let result = StatusResult {
        function_name: args.name.clone(),
        stack_name,
        stack_status: stack.as_ref().map(|s| s.status.clone()),
        stack_status_reason: stack.as_ref().and_then(|s| s.reason.clone()),
        failed_resources: failed,
        outputs: stack.map(|s| s.outputs),
        function,
        versions,
        cold_start: entry.as_ref().and_then(|e| e.cold_start.clone()),
        record: entry,
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

pub async fn destroy(ctx: &Context, args: &DestroyArgs) -> Result<i32> {
    let (store, entry, stack_name) = recorded(ctx, &args.name)?;
    if !args.yes && !confirm_destroy(&stack_name, &args.name)? {
        eprintln!("Nothing deleted.");
        return Ok(exit_codes::OK);
    }
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let cfn = crate::aws::clients::cloudformation(&sdk);
    let stack = outputs::stack_state(&cfn, &stack_name).await?;
    let existed = stack.is_some();
    let untagged_note = match &stack {
        Some(stack) => made_for(stack, &stack_name, &args.name, entry.is_some())?,
        None => None,
    };
    // CloudFormation cannot delete a bucket that holds objects: the sessions go first.
    let mut emptied = 0;
    if let Some(bucket) = stack.as_ref().and_then(|s| s.outputs.get("SessionBucket")) {
        emptied = crate::aws::empty_bucket(&crate::aws::clients::s3(&sdk), bucket).await?;
    }
    if existed {
        outputs::delete_stack_and_wait(&cfn, &stack_name, Duration::from_secs(1800)).await?;
    }
    // Secrets kept in SSM by `--secrets-store ssm` go with the stack.
    let removed_secrets =
        crate::lambda::ship::deploy::delete_ssm_secrets(&sdk, &stack_name).await?;
    let key = record::key(ctx.global.env.as_deref(), &args.name);
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
    let result = Destroyed {
        function_name: args.name.clone(),
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
fn confirm(question: &str) -> Result<bool> {
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

/// Deletes only what agentdeploy made for this function: the stack's tag names it, or (for
/// stacks from before the tag) this project's record does. The note says which.
fn made_for(
    stack: &outputs::StackState,
    stack_name: &str,
    function_name: &str,
    recorded: bool,
) -> Result<Option<String>> {
    match stack.tags.get(outputs::STACK_TAG) {
        Some(function) if function == function_name => Ok(None),
        Some(function) => Err(Error::usage_hint(
            "NAME",
            format!(
                "stack {stack_name} was made by agentdeploy for function `{function}`, not `{function_name}`; nothing deleted"
            ),
            format!("run `agentdeploy destroy {function}` if that is the one you mean"),
        )),
        None if recorded => Ok(Some(format!(
            " (it has no {} tag; deleted because this project's record names it)",
            outputs::STACK_TAG
        ))),
        None => Err(Error::usage_hint(
            "NAME",
            format!(
                "stack {stack_name} exists but agentdeploy did not make it: it has no {}={function_name} tag and this project's record has no entry for `{function_name}`; nothing deleted",
                outputs::STACK_TAG,
            ),
            "if you mean to delete it, use `aws cloudformation delete-stack`; check -e/--env and the folder you run in",
        )),
    }
}

/// Moves `live` to the previous (or the given) published version. Nothing is built; the
/// record notes it, and the next deploy moves `live` back to the stack's own version.
pub async fn rollback(ctx: &Context, args: &RollbackArgs) -> Result<i32> {
    let (store, entry, stack_name) = recorded(ctx, &args.name)?;
    // The deploy lock, not waited for: a deploy under way is about to move `live` itself, and a
    // rollback that waited would undo the deploy it waited for.
    let _lock = store.deploy_lock(ctx.global.env.as_deref(), &args.name, Duration::ZERO)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let lambda = crate::aws::clients::lambda(&sdk);
    let Some(current) = outputs::live_version(&lambda, &args.name).await? else {
        return Err(Error::usage_hint(
            "NAME",
            format!(
                "{} has no `{}` alias: nothing to roll back",
                args.name,
                outputs::LIVE_ALIAS
            ),
            "deploy it with this version of agentdeploy first (every deploy then publishes a version)",
        ));
    };
    let versions = outputs::published_versions(&lambda, &args.name).await?;
    let target = rollback_target(&args.name, &current, &versions, args.to.as_deref())?;
    if !args.yes
        && !confirm(&format!(
            "Point {}:{} from version {current} to version {target}?",
            args.name,
            outputs::LIVE_ALIAS
        ))?
    {
        eprintln!("Nothing changed.");
        return Ok(exit_codes::OK);
    }
    outputs::point_live(&lambda, &args.name, &target).await?;
    if entry.is_some() {
        let key = record::key(ctx.global.env.as_deref(), &args.name);
        store.update(|state| {
            if let Some(d) = state.deployments.get_mut(&key) {
                // The next deploy must not take the rolled-back code for "unchanged".
                d.deployed_hash = d.hash_of(&target).map(str::to_string);
                d.live_version = Some(target.clone());
                d.rolled_back = true;
                d.updated_at = record::now_rfc3339();
            }
        })?;
    }
    output::emit(
        &RolledBack {
            function_name: args.name.clone(),
            stack_name,
            from_version: current,
            to_version: target,
        },
        ctx.global.output,
    );
    Ok(exit_codes::OK)
}

/// The version `rollback` moves `live` to: `--to`, else the newest one older than the live one.
fn rollback_target(
    function_name: &str,
    current: &str,
    versions: &[outputs::PublishedVersion],
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

pub async fn list(ctx: &Context, args: &ListArgs) -> Result<i32> {
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
            let cfn = crate::aws::clients::cloudformation(&sdk);
            Some(
                match outputs::stack_state(&cfn, &deployment.stack_name).await {
                    Ok(Some(state)) => state.status,
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
    let result = Listed {
        deployments: rows,
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
    pub checks: Vec<preflight::Check>,
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
    pub function: Option<outputs::FunctionState>,
    /// The last few published versions, newest first, the live one marked.
    pub versions: Vec<VersionRow>,
    /// The cold start expected of what was last deployed from here.
    pub cold_start: Option<crate::lambda::build::cold_start::ColdStart>,
    pub record: Option<Deployment>,
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

async fn recent_versions(
    lambda: &aws_sdk_lambda::Client,
    function_name: &str,
    entry: Option<&Deployment>,
) -> Result<Vec<VersionRow>> {
    let live = outputs::live_version(lambda, function_name).await?;
    let published = outputs::published_versions(lambda, function_name).await?;
    Ok(published
        .iter()
        .rev()
        .take(STATUS_VERSIONS)
        .map(|v| VersionRow {
            live: live.as_deref() == Some(v.version.as_str()),
            input_hash: entry
                .and_then(|d| d.hash_of(&v.version))
                .map(str::to_string),
            published_at: v.last_modified.clone(),
            version: v.version.clone(),
        })
        .collect())
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
    pub deployment: Deployment,
    /// With `--refresh`: the stack's status now.
    pub stack_status: Option<String>,
}

/// `list`'s result.
#[derive(Debug, Serialize)]
pub struct Listed {
    pub deployments: Vec<ListRow>,
    #[serde(skip)]
    pub records_dir: std::path::PathBuf,
}

impl CommandResult for Listed {
    fn text_lines(&self) -> Vec<String> {
        if self.deployments.is_empty() {
            return vec![format!(
                "no deployments recorded in {}",
                self.records_dir.display()
            )];
        }
        self.deployments
            .iter()
            .map(|row| {
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
            })
            .collect()
    }
}

/// `rollback`'s result.
#[derive(Debug, Serialize)]
pub struct RolledBack {
    pub function_name: String,
    pub stack_name: String,
    pub from_version: String,
    pub to_version: String,
}

impl CommandResult for RolledBack {
    fn text_lines(&self) -> Vec<String> {
        vec![format!(
            "{}:{} now serves version {} (was {}); deploy again to move it forward",
            self.function_name,
            outputs::LIVE_ALIAS,
            self.to_version,
            self.from_version
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(versions: &[&str]) -> Vec<outputs::PublishedVersion> {
        versions
            .iter()
            .map(|v| outputs::PublishedVersion {
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
}
