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
    let lambda = crate::aws::clients::lambda(&inputs.aws.sdk);
    let update = lambda.update_function_code().function_name(function_name);
    let updated = if zip.len() <= direct_upload_limit() {
        update
            .zip_file(aws_smithy_types::Blob::new(zip))
            .send()
            .await
            .map_err(|e| deploy_call_failed("UpdateFunctionCode", &e, HINT))?
    } else {
        // Larger than Lambda takes with the call: staged in the artifact bucket, as sam does,
        // and removed once Lambda has its copy.
        let staged = Staged::upload(&inputs, zip).await?;
        let updated = update
            .s3_bucket(&staged.bucket)
            .s3_key(&staged.key)
            .send()
            .await
            .map_err(|e| deploy_call_failed("UpdateFunctionCode", &e, HINT));
        staged.remove().await;
        updated?
    };
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

/// Lambda's limit; `AGENTDEPLOY_SYNC_DIRECT_BYTES` lowers it (tests stage a small zip in S3).
fn direct_upload_limit() -> usize {
    std::env::var("AGENTDEPLOY_SYNC_DIRECT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(DIRECT_UPLOAD_LIMIT, |v: usize| v.min(DIRECT_UPLOAD_LIMIT))
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

/// The zip in the artifact bucket (`<stack>/agentdeploy-sync/<sha256>.zip`) for one update.
struct Staged {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl Staged {
    async fn upload(inputs: &StackRequest<'_>, zip: Vec<u8>) -> Result<Staged> {
        let settings = inputs.settings;
        let Some(bucket) =
            crate::lambda::ship::artifact_bucket::find(&inputs.aws.sdk, &settings.artifact_bucket)
                .await?
        else {
            return Err(Error::Build {
                message: format!(
                    "the function's zip is {} MB, more than Lambda takes with the call, and there is no artifact bucket to stage it in",
                    zip.len() / (1024 * 1024)
                ),
                hint: "pass --s3-bucket BUCKET (the one the deploy used), or deploy with `agentdeploy lambda`".into(),
            });
        };
        let digest = {
            use sha2::Digest;
            crate::digest::hex(&sha2::Sha256::digest(&zip))
        };
        let key = format!("{}/agentdeploy-sync/{digest}.zip", settings.stack_name);
        let client = crate::aws::clients::s3(&inputs.aws.sdk);
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(zip))
            .send()
            .await
            .map_err(|e| deploy_call_failed("PutObject", &e, HINT))?;
        Ok(Staged {
            client,
            bucket,
            key,
        })
    }

    /// Lambda copied the code at the update: the staged zip is not needed after it (a failure
    /// to remove it leaves one object agentdeploy made, said in the debug log).
    async fn remove(self) {
        if let Err(err) = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await
        {
            tracing::debug!(
                "the staged zip s3://{}/{} stays: {err}",
                self.bucket,
                self.key
            );
        }
    }
}
