//! After (and before) `sam deploy`: the stack's state, outputs and failure reasons through
//! aws-sdk-cloudformation, and the function's readiness through aws-sdk-lambda (reference §7).

use crate::lambda::render::{LIVE_ALIAS, STACK_TAG};
use crate::target::{FunctionState, PublishedVersion};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::StackStatus;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct StackState {
    pub status: String,
    pub reason: Option<String>,
    pub outputs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// When the stack last changed (created or updated), in seconds since the epoch.
    pub changed_at: Option<i64>,
}

impl StackState {
    pub fn is_complete(&self) -> bool {
        self.status.ends_with("_COMPLETE")
            && self.status != "ROLLBACK_COMPLETE"
            && !self.status.starts_with("DELETE")
    }

    pub fn is_rollback_complete(&self) -> bool {
        self.status == StackStatus::RollbackComplete.as_str()
    }

    pub fn is_failed(&self) -> bool {
        self.status.ends_with("_FAILED")
    }

    pub fn is_in_progress(&self) -> bool {
        self.status.ends_with("_IN_PROGRESS")
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StackOutputs {
    pub function_arn: Option<String>,
    pub function_name: Option<String>,
    pub api_endpoint: Option<String>,
    pub function_url: Option<String>,
    pub api_key_id: Option<String>,
    /// The `live` alias callers reach (stacks from before versions have none).
    pub live_alias_arn: Option<String>,
}

impl StackOutputs {
    pub fn from_map(outputs: &BTreeMap<String, String>) -> Self {
        StackOutputs {
            function_arn: outputs.get("FunctionArn").cloned(),
            function_name: outputs.get("FunctionName").cloned(),
            api_endpoint: outputs.get("ApiEndpoint").cloned(),
            function_url: outputs.get("FunctionUrl").cloned(),
            api_key_id: outputs.get("ApiKeyId").cloned(),
            live_alias_arn: outputs.get("LiveAliasArn").cloned(),
        }
    }
}

/// `None` when the stack does not exist.
pub async fn stack_state(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<Option<StackState>> {
    match cfn.describe_stacks().stack_name(stack_name).send().await {
        Ok(out) => Ok(out.stacks().first().map(state_of)),
        Err(err) if names_something_missing(&err) => Ok(None),
        Err(err) => Err(sdk_error("DescribeStacks", &err)),
    }
}

fn state_of(stack: &aws_sdk_cloudformation::types::Stack) -> StackState {
    StackState {
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        reason: stack.stack_status_reason().map(str::to_string),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect(),
        tags: stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
        changed_at: stack
            .last_updated_time()
            .or(stack.creation_time())
            .map(|t| t.secs()),
    }
}

/// Every stack in the region that agentdeploy made (it carries the function tag), by name.
pub async fn tagged_stacks(
    cfn: &aws_sdk_cloudformation::Client,
) -> Result<Vec<(String, StackState)>> {
    let mut found = Vec::new();
    let mut pages = cfn.describe_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk_error("DescribeStacks", &e))?;
        for stack in page.stacks() {
            let state = state_of(stack);
            if state.tags.contains_key(STACK_TAG)
                && let Some(name) = stack.stack_name()
            {
                found.push((name.to_string(), state));
            }
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

/// CloudFormation has no error code of its own for a missing stack or stack resource: it is a
/// ValidationError whose message says so (the SDK offers no `is_*` for it). Any other failure is
/// a failure, never an answer.
pub fn names_something_missing<E, R>(err: &aws_sdk_cloudformation::error::SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().is_some_and(|service| {
        service.code() == Some("ValidationError")
            && service
                .message()
                .is_some_and(|m| m.contains("does not exist"))
    })
}

/// Whether the stack holds the function's log group (`AgentLogGroup`). A stack or resource that
/// does not exist says no; a lookup that fails (throttling, a role without
/// cloudformation:DescribeStackResource, a 500) is an error: taken as "no", the group would be
/// dropped from the template and CloudFormation would delete it with its logs.
pub async fn stack_owns_log_group(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Result<bool> {
    match cfn
        .describe_stack_resource()
        .stack_name(stack_name)
        .logical_resource_id("AgentLogGroup")
        .send()
        .await
    {
        Ok(found) => Ok(found.stack_resource_detail().is_some()),
        Err(err) if names_something_missing(&err) => Ok(false),
        Err(err) => Err(Error::Deploy {
            message: crate::aws::errors::call_failed(
                format_args!("DescribeStackResource {stack_name} AgentLogGroup"),
                &err,
            ),
            hint: crate::hints::needs(
                "cloudformation:DescribeStackResource",
                Some("nothing was changed, deploy again"),
            ),
        }),
    }
}

/// Resources whose last event failed, with their reasons, most recent first.
pub async fn failed_resources(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
) -> Vec<String> {
    let Ok(out) = cfn
        .describe_stack_events()
        .stack_name(stack_name)
        .send()
        .await
    else {
        return Vec::new();
    };
    let mut seen = std::collections::BTreeSet::new();
    out.stack_events()
        .iter()
        .filter(|e| {
            e.resource_status()
                .is_some_and(|s| s.as_str().ends_with("_FAILED"))
        })
        .filter(|e| seen.insert(e.logical_resource_id().unwrap_or_default().to_string()))
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .take(10)
        .collect()
}

pub async fn delete_stack_and_wait(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
    limit: Duration,
) -> Result<()> {
    cfn.delete_stack()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| sdk_error("DeleteStack", &e))?;
    let started = Instant::now();
    let mut delay = Duration::from_millis(250);
    loop {
        match stack_state(cfn, stack_name).await? {
            None => return Ok(()),
            Some(state) if state.status == "DELETE_COMPLETE" => return Ok(()),
            Some(state) if state.status == "DELETE_FAILED" => {
                return Err(Error::Deploy {
                    message: format!("deleting stack {stack_name} failed: {}", state.reason.unwrap_or_default()),
                    hint: "remove the resources that block deletion (e.g. a non-empty bucket) in the console, then retry".into(),
                });
            }
            Some(_) if started.elapsed() > limit => {
                return Err(Error::Deploy {
                    message: format!(
                        "stack {stack_name} was still being deleted after {} s",
                        limit.as_secs()
                    ),
                    hint: "check the stack in the CloudFormation console and retry".into(),
                });
            }
            Some(_) => {
                // Waiting for AWS to finish, not agentdeploy's own time.
                crate::timings::timed(crate::timings::Category::Aws, tokio::time::sleep(delay))
                    .await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// The function's state as one GetFunction answers it. A failed call is an error, never a state.
pub async fn function_state(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Result<FunctionState> {
    let out = lambda.get_function().function_name(function).send().await.map_err(|e| Error::Verify {
        message: crate::aws::errors::call_failed(format_args!("GetFunction {function}"), &e),
        hint: "the stack deployed but the function cannot be read; check the role's permissions and the stack's resources".into(),
    })?;
    let Some(config) = out.configuration() else {
        return Err(Error::Verify {
            message: format!("GetFunction {function} returned no configuration"),
            hint: "retry `agentdeploy status`".into(),
        });
    };
    let state = config
        .state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "Active".into());
    let last_update_status = config
        .last_update_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|| "Successful".into());
    let failed = state == "Failed" || last_update_status == "Failed";
    Ok(FunctionState {
        reason: failed
            .then(|| config.state_reason().or(config.last_update_status_reason()))
            .flatten()
            .map(str::to_string),
        state,
        last_update_status,
        runtime: config.runtime().map(|r| r.as_str().to_string()),
        memory: config.memory_size(),
        timeout: config.timeout(),
    })
}

/// Lambda's words for a function that takes requests.
fn is_ready(function: &FunctionState) -> bool {
    function.state == "Active" && function.last_update_status == "Successful"
}

fn has_failed(function: &FunctionState) -> bool {
    function.state == "Failed" || function.last_update_status == "Failed"
}

/// GetFunction until `State` is Active and `LastUpdateStatus` Successful, with backoff.
pub async fn wait_function_ready(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    limit: Duration,
) -> Result<FunctionState> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(200);
    loop {
        let snapshot = function_state(lambda, function).await?;
        if is_ready(&snapshot) {
            return Ok(snapshot);
        }
        let (state, update) = (&snapshot.state, &snapshot.last_update_status);
        if has_failed(&snapshot) {
            return Err(Error::Verify {
                message: format!(
                    "function {function} is {state}/{update}: {}",
                    snapshot.reason.as_deref().unwrap_or("no reason given")
                ),
                hint: "check the function's configuration (VPC subnets, role, layers) and redeploy with --force".into(),
            });
        }
        if started.elapsed() > limit {
            return Err(Error::Verify {
                message: format!("function {function} was still {state}/{update} after {} s", limit.as_secs()),
                hint: "run `agentdeploy status` in a minute; VPC functions can take several minutes to become Active".into(),
            });
        }
        // Waiting for AWS to finish, not agentdeploy's own time.
        crate::timings::timed(crate::timings::Category::Aws, tokio::time::sleep(delay)).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

pub fn sdk_error<E, R>(
    operation: &str,
    err: &aws_sdk_cloudformation::error::SdkError<E, R>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    crate::aws::errors::deploy_call_failed(
        operation,
        err,
        "check the region, the endpoint and your permissions; rerun with -v",
    )
}

/// The version `live` points at; `None` when the function has no such alias (an older stack).
pub async fn live_version(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Result<Option<String>> {
    alias_version(lambda, function, LIVE_ALIAS).await
}

/// The version `alias` points at; `None` when the function has no such alias.
pub async fn alias_version(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
) -> Result<Option<String>> {
    match lambda
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
    {
        Ok(alias) => Ok(alias.function_version().map(str::to_string)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(Error::Verify {
            message: crate::aws::errors::call_failed(
                format_args!("GetAlias {function}:{alias}"),
                &err,
            ),
            hint: "the function deployed but its alias cannot be read; run `agentdeploy status`"
                .into(),
        }),
    }
}

/// Every published version, oldest first.
pub async fn published_versions(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
) -> Result<Vec<PublishedVersion>> {
    let mut versions = Vec::new();
    let mut pages = lambda
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::Verify {
            message: crate::aws::errors::call_failed(
                format_args!("ListVersionsByFunction {function}"),
                &e,
            ),
            hint: "check the region and the function name".into(),
        })?;
        for config in page.versions() {
            match config.version() {
                Some("$LATEST") | None => {}
                Some(version) => versions.push(PublishedVersion {
                    version: version.to_string(),
                    last_modified: config.last_modified().map(str::to_string),
                    description: config.description().map(str::to_string),
                }),
            }
        }
    }
    versions.sort_by_key(|v| v.version.parse::<u64>().unwrap_or(0));
    Ok(versions)
}

/// Moves `live` to `version`.
pub async fn point_live(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    version: &str,
) -> Result<()> {
    lambda
        .update_alias()
        .function_name(function)
        .name(LIVE_ALIAS)
        .function_version(version)
        .send()
        .await
        .map_err(|e| Error::Deploy {
            message: crate::aws::errors::call_failed(
                format_args!("pointing {function}:{LIVE_ALIAS} at version {version}"),
                &e,
            ),
            hint: "check that the role you deploy with may call lambda:UpdateAlias".into(),
        })?;
    Ok(())
}
