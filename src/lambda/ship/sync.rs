//! `sync`: a code-only change put straight into the deployed function, as SAM Accelerate does for
//! dev stacks — the deploy's own build (the cached dependency zip plus the new code, the same
//! build-time import), then UpdateFunctionCode, the update waited for, PublishVersion. No stack
//! update: the orchestration layer decides whether the change is code only and moves `live`.

use std::time::{Duration, Instant};

use crate::aws::errors::deploy_call_failed;
use crate::error::{Error, Result};
use crate::lambda::bundle::package::FUNCTION_ZIP;
use crate::lambda::bundle::pipeline::{self, Deps, StackRequest};
use crate::target::PublishedCode;

const HINT: &str = "`agentdeploy lambda` deploys the change through CloudFormation instead";

/// Lambda takes a zip this large in the request itself; a larger one goes through S3.
const DIRECT_UPLOAD_LIMIT: usize = 50 * 1024 * 1024;
/// How long the function may take to apply the new code.
const UPDATE_LIMIT: Duration = Duration::from_secs(300);

pub async fn sync(inputs: StackRequest<'_>, function_name: &str) -> Result<PublishedCode> {
    let pinned = pipeline::pin(&inputs, &|_| {}).await?;
    let deps = Deps::of(inputs.settings, &pinned.resolved.pins);
    let built = pipeline::build_or_reuse(&inputs, &deps, pinned.built, true).await?;
    drop(pinned.turn);
    let zip_path = built
        .template
        .parent()
        .map(|dir| dir.join(FUNCTION_ZIP))
        .ok_or_else(|| Error::internal("the built template has no folder"))?;
    let zip = std::fs::read(&zip_path).map_err(|e| Error::io(&zip_path, e))?;
    if zip.len() > DIRECT_UPLOAD_LIMIT {
        return Err(Error::Build {
            message: format!(
                "the function's zip is {} MB; Lambda takes at most {} MB straight from `sync`",
                zip.len() / (1024 * 1024),
                DIRECT_UPLOAD_LIMIT / (1024 * 1024)
            ),
            hint: "deploy it with `agentdeploy lambda` (which uploads through S3)".into(),
        });
    }
    let lambda = crate::aws::clients::lambda(&inputs.aws.sdk);
    let updated = lambda
        .update_function_code()
        .function_name(function_name)
        .zip_file(aws_smithy_types::Blob::new(zip))
        .send()
        .await
        .map_err(|e| deploy_call_failed("UpdateFunctionCode", &e, HINT))?;
    wait_for_update(&lambda, function_name).await?;
    let published = lambda
        .publish_version()
        .function_name(function_name)
        .set_code_sha256(updated.code_sha256().map(str::to_string))
        .description("agentdeploy sync")
        .send()
        .await
        .map_err(|e| deploy_call_failed("PublishVersion", &e, HINT))?;
    let version = published
        .version()
        .ok_or_else(|| Error::Verify {
            message: "PublishVersion answered without a version".into(),
            hint: "run `agentdeploy status`".into(),
        })?
        .to_string();
    Ok(PublishedCode {
        version,
        code_sha256: published.code_sha256().map(str::to_string),
    })
}

/// Until the function has applied the new code (LastUpdateStatus leaves InProgress).
async fn wait_for_update(lambda: &aws_sdk_lambda::Client, function_name: &str) -> Result<()> {
    use aws_sdk_lambda::types::LastUpdateStatus;
    let started = Instant::now();
    loop {
        let configuration = lambda
            .get_function_configuration()
            .function_name(function_name)
            .send()
            .await
            .map_err(|e| deploy_call_failed("GetFunctionConfiguration", &e, HINT))?;
        match configuration.last_update_status() {
            Some(LastUpdateStatus::Failed) => {
                return Err(Error::Deploy {
                    message: format!(
                        "the function did not take the new code: {}",
                        configuration
                            .last_update_status_reason()
                            .unwrap_or("no reason given")
                    ),
                    hint: "run `agentdeploy logs`; `agentdeploy lambda` deploys it through CloudFormation".into(),
                });
            }
            Some(LastUpdateStatus::InProgress) if started.elapsed() < UPDATE_LIMIT => {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Some(LastUpdateStatus::InProgress) => {
                return Err(Error::Deploy {
                    message: format!(
                        "the function was still applying the new code after {} s",
                        UPDATE_LIMIT.as_secs()
                    ),
                    hint: "run `agentdeploy status`, then sync again".into(),
                });
            }
            _ => return Ok(()),
        }
    }
}
