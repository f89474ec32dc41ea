//! The commands around a deployed function, as AWS calls (reference §3, §11): its state for
//! `status`, `invoke` through the live alias, the published versions and the alias move of
//! `rollback`, and `destroy` (sessions, stack, SSM secrets). What to do with the answers (the
//! record, prompts, reports) is the orchestration layer's.

use std::time::Duration;

use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_smithy_types::Blob;

use crate::error::{Error, Result};
use crate::lambda::render::LIVE_ALIAS;
use crate::lambda::render::{STACK_TAG, TTL_TAG};
use crate::lambda::ship::outputs::{self};
use crate::lambda::ship::ownership;
use crate::target::{Call, DeploymentState, Invocation, PublishedVersion, Teardown};

/// agentdeploy's deployments in the region, from their stacks (tag, status, outputs).
pub async fn deployments(
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<crate::target::FoundDeployment>> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    Ok(outputs::tagged_stacks(&cfn)
        .await?
        .into_iter()
        .map(|(stack_name, state)| crate::target::FoundDeployment {
            ttl: state.tags.get(TTL_TAG).cloned(),
            changed_at: state.changed_at,
            expires_at: None,
            function_name: state.tags.get(STACK_TAG).cloned().unwrap_or_default(),
            endpoint: state
                .outputs
                .get("ApiEndpoint")
                .or_else(|| state.outputs.get("FunctionUrl"))
                .cloned(),
            stack_status: state.status,
            stack_name,
        })
        .collect())
}

/// The stack's status word (`None`: no such stack).
pub async fn stack_status(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<Option<String>> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    Ok(outputs::stack_state(&cfn, stack_name)
        .await?
        .map(|s| s.status))
}

/// The outputs of a complete stack whose function is ready (`None`: not deployed, or not
/// healthy), after waiting up to a minute for a function still updating.
pub async fn ready_outputs(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
) -> Result<Option<outputs::StackOutputs>> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    let Some(state) = outputs::stack_state(&cfn, stack_name).await? else {
        return Ok(None);
    };
    if !state.is_complete() {
        return Ok(None);
    }
    let stack_outputs = outputs::StackOutputs::from_map(&state.outputs);
    let Some(function_name) = stack_outputs.function_name.clone() else {
        return Ok(None);
    };
    let lambda = crate::aws::clients::lambda(sdk);
    outputs::wait_function_ready(&lambda, &function_name, Duration::from_secs(60)).await?;
    Ok(Some(stack_outputs))
}

/// After a rollback, the next deploy moves `live` back to the stack's own version.
pub async fn restore_live(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    function_name: &str,
) -> Result<Option<String>> {
    crate::lambda::ship::live_alias::point_live_at_stack_version(
        &crate::aws::clients::cloudformation(sdk),
        &crate::aws::clients::lambda(sdk),
        stack_name,
        function_name,
    )
    .await
}

/// The live alias's version (`None`: no such function or alias).
pub async fn live_version(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
) -> Result<Option<String>> {
    outputs::live_version(&crate::aws::clients::lambda(sdk), function_name).await
}

/// Points the live alias at `version`.
pub async fn point_live(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
    version: &str,
) -> Result<()> {
    outputs::point_live(&crate::aws::clients::lambda(sdk), function_name, version).await
}

/// What AWS says now: a state that is not Active is shown as it is; a call that fails is an
/// error (never "no function", "no versions").
pub async fn state(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
) -> Result<Option<DeploymentState>> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    let Some(stack) = outputs::stack_state(&cfn, stack_name).await? else {
        return Ok(None);
    };
    let (function, live_version, versions) = match stack.outputs.get("FunctionName") {
        Some(function_name) => {
            let lambda = crate::aws::clients::lambda(sdk);
            (
                Some(outputs::function_state(&lambda, function_name).await?),
                outputs::live_version(&lambda, function_name).await?,
                outputs::published_versions(&lambda, function_name).await?,
            )
        }
        None => (None, None, Vec::new()),
    };
    let alarm_names: Vec<String> = ["ErrorRateAlarm", "LatencyAlarm"]
        .iter()
        .filter_map(|output| stack.outputs.get(*output).cloned())
        .collect();
    let alarms = crate::lambda::ship::measured::alarm_states(sdk, &alarm_names).await?;
    let failed_resources = if stack.is_failed() || stack.is_rollback_complete() {
        outputs::failed_resources(&cfn, stack_name).await
    } else {
        Vec::new()
    };
    Ok(Some(DeploymentState {
        stack_status: stack.status,
        stack_status_reason: stack.reason,
        failed_resources,
        outputs: stack.outputs,
        function,
        live_version,
        versions,
        alarms,
    }))
}

/// One call through `live` (or of one published `version`); a stack from before versions has
/// no alias and is called as it is (one call in the usual case, a second only when the alias is
/// missing).
pub async fn invoke(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
    call: Call<'_>,
    payload: Vec<u8>,
) -> Result<Invocation> {
    let lambda = crate::aws::clients::lambda(sdk);
    let send = |qualifier: Option<&str>| {
        lambda
            .invoke()
            .function_name(function_name)
            .set_qualifier(qualifier.map(str::to_string))
            .set_tenant_id(call.tenant.map(str::to_string))
            .payload(Blob::new(payload.clone()))
            .send()
    };
    let not_found = |err: &aws_sdk_lambda::error::SdkError<_, _>| {
        err.as_service_error()
            .is_some_and(|e: &InvokeError| e.is_resource_not_found_exception())
    };
    let out = match call.version {
        Some(version) => send(Some(version)).await,
        None => match send(Some(LIVE_ALIAS)).await {
            Err(err) if not_found(&err) => send(None).await,
            answer => answer,
        },
    }
    .map_err(|err| invoke_failed("Invoke", function_name, not_found(&err), &err))?;
    let payload = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    // Behind the Web Adapter the answer comes as a stream: read as the buffered one would be.
    let payload = crate::lambda::ship::streamed_answer::unwrap(&payload).unwrap_or(payload);
    Ok(Invocation {
        payload,
        function_error: out.function_error().map(str::to_string),
    })
}

/// An Invoke that failed: a function that does not exist is the caller's mistake (exit 2), any
/// other failure AWS's answer, shown as such.
fn invoke_failed<E, R>(
    operation: &str,
    function_name: &str,
    not_found: bool,
    err: &aws_sdk_lambda::error::SdkError<E, R>,
) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if not_found {
        Error::usage_hint(
            "NAME",
            format!("function {function_name} does not exist in this account and region"),
            "deploy it first with `agentdeploy lambda`, or check --region / --profile",
        )
    } else {
        Error::internal(crate::aws::errors::call_failed(
            format_args!("{operation} {function_name}"),
            err,
        ))
    }
}

/// Calls the function through the live alias with InvokeWithResponseStream: `each` hears every
/// event (or text piece) of the answer as it arrives; the whole answer is returned at the end.
pub async fn invoke_streamed(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
    tenant: Option<&str>,
    payload: Vec<u8>,
    each: &mut (dyn FnMut(serde_json::Value) + Send),
) -> Result<Invocation> {
    use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as Event;
    let lambda = crate::aws::clients::lambda(sdk);
    let send = |qualifier: Option<&str>| {
        lambda
            .invoke_with_response_stream()
            .function_name(function_name)
            .set_qualifier(qualifier.map(str::to_string))
            .set_tenant_id(tenant.map(str::to_string))
            .payload(Blob::new(payload.clone()))
            .send()
    };
    let not_found = |err: &aws_sdk_lambda::error::SdkError<_, _>| {
        err.as_service_error().is_some_and(
            |e: &aws_sdk_lambda::operation::invoke_with_response_stream::InvokeWithResponseStreamError| {
                e.is_resource_not_found_exception()
            },
        )
    };
    let mut out = match send(Some(LIVE_ALIAS)).await {
        Err(err) if not_found(&err) => send(None).await,
        answer => answer,
    }
    .map_err(|err| {
        invoke_failed(
            "InvokeWithResponseStream",
            function_name,
            not_found(&err),
            &err,
        )
    })?;
    let mut decoder = crate::lambda::ship::streamed_answer::Decoder::default();
    let mut function_error = None;
    loop {
        let event = out.event_stream.recv().await.map_err(|err| {
            Error::internal(format!(
                "the answer of {function_name} broke off: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            ))
        })?;
        match event {
            None => break,
            Some(Event::PayloadChunk(chunk)) => {
                if let Some(bytes) = chunk.payload() {
                    for part in decoder.feed(bytes.as_ref()) {
                        each(part);
                    }
                }
            }
            Some(Event::InvokeComplete(done)) => {
                function_error = done.error_code().map(str::to_string);
            }
            Some(_) => {}
        }
    }
    let streamed = decoder.streamed();
    let payload = decoder.finish();
    if !streamed
        && function_error.is_none()
        && let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&payload)
    {
        // A buffered function's answer: one event, so the caller sees it too (an error is the
        // caller's to report, once).
        each(answer);
    }
    Ok(Invocation {
        payload,
        function_error,
    })
}

/// The live alias's version (`None`: no alias) and every published version, oldest first.
pub async fn versions(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
) -> Result<(Option<String>, Vec<PublishedVersion>)> {
    let lambda = crate::aws::clients::lambda(sdk);
    let live = outputs::live_version(&lambda, function_name).await?;
    let published = outputs::published_versions(&lambda, function_name).await?;
    Ok((live, published))
}

/// Deletes the stack (after its sessions: CloudFormation cannot delete a bucket that holds
/// objects), the secrets `--secrets-store ssm` kept for it and what `sync` kept in the artifact
/// bucket; only a stack made for this function (see `ownership`).
pub async fn destroy(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
    stack_name: &str,
    recorded: bool,
    artifact_bucket: Option<&str>,
) -> Result<Teardown> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    let stack = outputs::stack_state(&cfn, stack_name).await?;
    let ownership_note = match &stack {
        Some(stack) => ownership::check(
            stack,
            stack_name,
            function_name,
            recorded,
            crate::target::Change::Destroy,
        )?,
        None => None,
    };
    let sync_objects_removed = match artifact_bucket {
        Some(bucket) => crate::lambda::ship::sync::remove_kept(sdk, bucket, stack_name).await?,
        None => 0,
    };
    let mut sessions_removed = 0;
    if let Some(bucket) = stack.as_ref().and_then(|s| s.outputs.get("SessionBucket")) {
        sessions_removed = crate::aws::empty_bucket(&crate::aws::clients::s3(sdk), bucket).await?;
    }
    if stack.is_some() {
        outputs::delete_stack_and_wait(&cfn, stack_name, Duration::from_secs(1800)).await?;
    }
    let secrets_removed =
        crate::lambda::ship::ssm_secrets::delete_ssm_secrets(sdk, stack_name).await?;
    Ok(Teardown {
        existed: stack.is_some(),
        ownership_note,
        sessions_removed,
        secrets_removed,
        sync_objects_removed,
    })
}

/// Refuses (exit 2) a stack that exists and is not this function's (see `ownership`); `Ok`
/// with the note when only the record vouches for it.
pub async fn check_owner(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
    stack_name: &str,
    recorded: bool,
    action: crate::target::Change,
) -> Result<Option<String>> {
    let cfn = crate::aws::clients::cloudformation(sdk);
    match outputs::stack_state(&cfn, stack_name).await? {
        Some(stack) => ownership::check(&stack, stack_name, function_name, recorded, action),
        None => Ok(None),
    }
}

/// The version `live` serves, its code's hash and its Function URL's auth type (GetFunction-
/// Configuration and GetFunctionUrlConfig on `live`); what does not exist is `None`.
pub async fn fingerprint(
    sdk: &aws_config::SdkConfig,
    function_name: &str,
) -> Result<crate::target::Fingerprint> {
    let lambda = crate::aws::clients::lambda(sdk);
    let (live_version, code_sha256) = match lambda
        .get_function_configuration()
        .function_name(function_name)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(config) => (
            config.version().map(str::to_string),
            config.code_sha256().map(str::to_string),
        ),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            (None, None)
        }
        Err(err) => {
            return Err(outputs::sdk_error(
                &format!("GetFunctionConfiguration {function_name}:{LIVE_ALIAS}"),
                &err,
            ));
        }
    };
    let endpoint_auth = match lambda
        .get_function_url_config()
        .function_name(function_name)
        .qualifier(LIVE_ALIAS)
        .send()
        .await
    {
        Ok(url) => Some(url.auth_type().as_str().to_string()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(err) => {
            return Err(outputs::sdk_error(
                &format!("GetFunctionUrlConfig {function_name}:{LIVE_ALIAS}"),
                &err,
            ));
        }
    };
    Ok(crate::target::Fingerprint {
        live_version,
        code_sha256,
        endpoint_auth,
    })
}
