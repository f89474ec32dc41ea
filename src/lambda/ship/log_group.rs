//! The function's log group: made and kept by the stack, or (made by Lambda for an earlier deploy)
//! kept as it is with the retention set by API.

use crate::error::{Error, Result};
use crate::lambda::bundle::pipeline::StackRequest;
use crate::lambda::ship::outputs;

/// Who holds the function's log group `/aws/lambda/<function>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogGroup {
    /// None exists yet, or this stack owns it: the stack creates and keeps it.
    Stack,
    /// Lambda made it for an earlier deploy (before the stack owned it): CloudFormation could not
    /// create it again, so it is kept as it is and given the retention by API.
    Existing,
}

pub(crate) async fn log_group_owner(
    inputs: &StackRequest<'_>,
    cfn: &aws_sdk_cloudformation::Client,
) -> Result<LogGroup> {
    let settings = inputs.settings;
    let group = crate::lambda::render::log_group_name(&settings.function_name);
    let logs = crate::aws::clients::logs(&inputs.aws.sdk);
    let found = logs
        .describe_log_groups()
        .log_group_name_prefix(&group)
        .send()
        .await
        .map_err(|e| Error::Deploy {
            message: crate::aws::errors::call_failed(format_args!("DescribeLogGroups {group}"), &e),
            hint: crate::hints::needs("logs:DescribeLogGroups", None),
        })?;
    let exists = found
        .log_groups()
        .iter()
        .any(|g| g.log_group_name() == Some(group.as_str()));
    if !exists {
        return Ok(LogGroup::Stack);
    }
    let owned = outputs::stack_owns_log_group(cfn, &settings.stack_name).await?;
    Ok(if owned {
        LogGroup::Stack
    } else {
        LogGroup::Existing
    })
}

pub(crate) async fn keep_existing_log_group(inputs: &StackRequest<'_>) -> Result<String> {
    let settings = inputs.settings;
    let group = crate::lambda::render::log_group_name(&settings.function_name);
    let days = i32::try_from(settings.log_retention_days).unwrap_or(i32::MAX);
    crate::aws::clients::logs(&inputs.aws.sdk)
        .put_retention_policy()
        .log_group_name(&group)
        .retention_in_days(days)
        .send()
        .await
        .map_err(|e| Error::Deploy {
            message: crate::aws::errors::call_failed(
                format_args!("PutRetentionPolicy {group}"),
                &e,
            ),
            hint: crate::hints::needs("logs:PutRetentionPolicy", None),
        })?;
    Ok(format!(
        "log group {group} existed before this stack (an earlier deploy's): kept as it is, with its retention set to {} days; `agentdeploy destroy` leaves it",
        settings.log_retention_days
    ))
}
