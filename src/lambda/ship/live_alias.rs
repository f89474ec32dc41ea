//! Where `live` points after a deploy: back at the stack's own version after a rollback.

use crate::error::Result;
use crate::lambda::ship::outputs;

/// After a `rollback`, `live` points at an older version than the stack's own; a deploy that
/// changes nothing about the function leaves CloudFormation's alias untouched, so the alias is
/// moved back to the stack's version here. Returns the version `live` serves afterwards.
pub async fn point_live_at_stack_version(
    cfn: &aws_sdk_cloudformation::Client,
    lambda: &aws_sdk_lambda::Client,
    stack_name: &str,
    function_name: &str,
) -> Result<Option<String>> {
    let resources = cfn
        .describe_stack_resources()
        .stack_name(stack_name)
        .send()
        .await
        .map_err(|e| outputs::sdk_error("DescribeStackResources", &e))?;
    let Some(stack_version) = resources
        .stack_resources()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::Lambda::Version"))
        .filter_map(|r| r.physical_resource_id()?.rsplit(':').next())
        .max_by_key(|v| v.parse::<u64>().unwrap_or(0))
        .map(str::to_string)
    else {
        return outputs::live_version(lambda, function_name).await;
    };
    outputs::point_live(lambda, function_name, &stack_version).await?;
    Ok(Some(stack_version))
}
