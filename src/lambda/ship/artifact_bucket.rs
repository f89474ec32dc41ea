//! The bucket a deployment's artifacts go to, found without uploading anything: the one named
//! with `--s3-bucket`, or the bucket of sam's managed stack (`--resolve-s3`), which exists once
//! any sam deploy in the account and region made it. The deploy lock and the shared dependency
//! cache live there too.

use crate::error::{Error, Result};
use crate::lambda::settings::ArtifactBucket;

/// The stack `sam deploy --resolve-s3` creates once per account and region.
const SAM_MANAGED_STACK: &str = "aws-sam-cli-managed-default";

/// The artifacts bucket; `None` with `--resolve-s3` before sam made its bucket.
pub async fn find(sdk: &aws_config::SdkConfig, bucket: &ArtifactBucket) -> Result<Option<String>> {
    match bucket {
        ArtifactBucket::Named(name) => Ok(Some(name.clone())),
        ArtifactBucket::Resolve => {
            let cfn = crate::aws::clients::cloudformation(sdk);
            let Some(state) =
                crate::lambda::ship::outputs::stack_state(&cfn, SAM_MANAGED_STACK).await?
            else {
                return Ok(None);
            };
            match state.outputs.get("SourceBucket") {
                Some(bucket) => Ok(Some(bucket.clone())),
                None if state.is_complete() => Err(Error::Deploy {
                    message: format!(
                        "sam's managed stack {SAM_MANAGED_STACK} has no SourceBucket output"
                    ),
                    hint: "pass --s3-bucket BUCKET for the artifacts".into(),
                }),
                // Being made by another deploy right now.
                None => Ok(None),
            }
        }
    }
}
