//! The session bucket of `--conversation session`: emptied before its stack is deleted.

use crate::error::{Error, Result};

/// Deletes every object in `bucket` (the bucket is not versioned); returns how many. A bucket
/// that is already gone counts as empty.
pub async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize> {
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let failed = |operation: &str, detail: String| {
        Error::Deploy {
        message: format!("{operation} on the session bucket {bucket} failed: {detail}"),
        hint: "the identity needs s3:ListBucket and s3:DeleteObject on it; nothing was deleted from the stack".into(),
    }
    };
    let mut removed = 0;
    let mut token = None;
    loop {
        let listed = match s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(listed) => listed,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_no_such_bucket()) =>
            {
                return Ok(removed);
            }
            Err(err) => {
                return Err(failed(
                    "ListObjectsV2",
                    crate::aws::read_sdk_failure(&err).0,
                ));
            }
        };
        let keys: Vec<ObjectIdentifier> = listed
            .contents()
            .iter()
            .filter_map(|object| object.key())
            .filter_map(|key| ObjectIdentifier::builder().key(key).build().ok())
            .collect();
        if !keys.is_empty() {
            let count = keys.len();
            let delete = Delete::builder()
                .set_objects(Some(keys))
                .quiet(true)
                .build()
                .map_err(|e| Error::internal(format!("building the delete request: {e}")))?;
            s3.delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|err| failed("DeleteObjects", crate::aws::read_sdk_failure(&err).0))?;
            removed += count;
        }
        match listed.next_continuation_token() {
            Some(next) if listed.is_truncated() == Some(true) => token = Some(next.to_string()),
            _ => return Ok(removed),
        }
    }
}
