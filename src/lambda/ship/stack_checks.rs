//! Before a deploy changes anything: is the stack one it can deploy into?

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lambda::ship::outputs;

/// Refuses (or with --force repairs) a stack the deploy cannot proceed from. A stack that
/// agentdeploy made for another function is never taken over: `a-b` and `a_b` share a default
/// stack name, and deploying one must not replace the other (not even with --force).
pub async fn check_stack_before_deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
    function_name: &str,
    force: bool,
) -> Result<()> {
    let Some(state) = outputs::stack_state(cfn, stack_name).await? else {
        return Ok(());
    };
    if let Some(owner) = state.tags.get(crate::lambda::render::STACK_TAG)
        && owner != function_name
    {
        return Err(Error::Usage {
            flag: "--function-name".into(),
            message: format!(
                "stack {stack_name} holds the function `{owner}`, deployed by agentdeploy; deploying `{function_name}` into it would replace `{owner}`"
            ),
            hint: Some(format!(
                "give `{function_name}` a stack of its own with --stack-name, or deploy `{owner}` under its own name"
            )),
        });
    }
    if state.is_rollback_complete()
        || (state.is_failed() && state.status != "UPDATE_ROLLBACK_FAILED")
    {
        if force {
            tracing::warn!(
                "stack {} is {}; deleting it (--force) before deploying again",
                stack_name,
                state.status
            );
            return outputs::delete_stack_and_wait(cfn, stack_name, Duration::from_secs(900)).await;
        }
        let reasons = outputs::failed_resources(cfn, stack_name).await;
        return Err(Error::Deploy {
            message: format!(
                "stack {} is in {} from an earlier failed deploy{}",
                stack_name,
                state.status,
                if reasons.is_empty() { String::new() } else { format!("; it failed because:\n  {}", reasons.join("\n  ")) }
            ),
            hint: "fix the cause above, then rerun with --force to delete the failed stack and create it again".into(),
        });
    }
    if state.status == "UPDATE_ROLLBACK_FAILED" {
        return Err(Error::Deploy {
            message: format!("stack {} is in UPDATE_ROLLBACK_FAILED", stack_name),
            hint: format!(
                "continue the rollback: `aws cloudformation continue-update-rollback --stack-name {}`, then deploy again",
                stack_name
            ),
        });
    }
    // REVIEW_IN_PROGRESS is a change set that was never executed (e.g. an interrupted run):
    // sam deploy creates a new one, so it is not "busy".
    if state.is_in_progress() && state.status != "REVIEW_IN_PROGRESS" {
        return Err(Error::Deploy {
            message: format!("stack {} is busy ({})", stack_name, state.status),
            hint:
                "wait for the running operation to finish (`agentdeploy status`), then deploy again"
                    .into(),
        });
    }
    Ok(())
}
