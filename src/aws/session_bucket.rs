//! The session bucket of `--conversation session`: emptied before its stack is deleted.

use crate::error::{Error, Result};

/// Deletes everything in `bucket`: every version of every object and every delete marker, so a
/// bucket someone turned versioning on for still empties (CloudFormation deletes only an empty
/// bucket). Returns how many sessions were stored (objects whose latest version is not a delete
/// marker). A bucket that is already gone counts as empty.
pub async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize> {
    use aws_sdk_s3::types::ObjectIdentifier;
    let failed = |operation: &str, detail: String| Error::Deploy {
        message: format!("{operation} on the session bucket {bucket} failed: {detail}"),
        hint: crate::hints::needs(
            "s3:ListBucketVersions, s3:DeleteObject and s3:DeleteObjectVersion on it",
            Some("the stack was left as it was"),
        ),
    };
    let mut sessions = 0;
    let (mut key_marker, mut version_marker) = (None, None);
    loop {
        let listed = match s3
            .list_object_versions()
            .bucket(bucket)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
        {
            Ok(listed) => listed,
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.meta().code() == Some("NoSuchBucket")) =>
            {
                return Ok(sessions);
            }
            Err(err) => {
                return Err(failed(
                    "ListObjectVersions",
                    crate::aws::read_sdk_failure(&err).0,
                ));
            }
        };
        sessions += listed
            .versions()
            .iter()
            .filter(|v| v.is_latest() == Some(true))
            .count();
        let versions = listed
            .versions()
            .iter()
            .map(|v| (v.key(), v.version_id()))
            .chain(
                listed
                    .delete_markers()
                    .iter()
                    .map(|m| (m.key(), m.version_id())),
            );
        let identifiers: Vec<ObjectIdentifier> = versions
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(key?)
                    .set_version_id(version.map(String::from))
                    .build()
                    .ok()
            })
            .collect();
        // DeleteObjects takes at most 1,000 keys; a listing page holds at most 1,000 versions
        // and 1,000 markers.
        for chunk in identifiers.chunks(1000) {
            delete_all(s3, bucket, chunk)
                .await
                .map_err(|e| failed("DeleteObjects", e))?;
        }
        if listed.is_truncated() != Some(true) {
            return Ok(sessions);
        }
        key_marker = listed.next_key_marker().map(String::from);
        version_marker = listed.next_version_id_marker().map(String::from);
        if key_marker.is_none() && version_marker.is_none() {
            return Ok(sessions);
        }
    }
}

/// One DeleteObjects call; a 200 can still refuse some keys: the first is named with its code.
async fn delete_all(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    objects: &[aws_sdk_s3::types::ObjectIdentifier],
) -> std::result::Result<(), String> {
    let delete = aws_sdk_s3::types::Delete::builder()
        .set_objects(Some(objects.to_vec()))
        .quiet(true)
        .build()
        .map_err(|e| format!("building the request: {e}"))?;
    let deleted = s3
        .delete_objects()
        .bucket(bucket)
        .delete(delete)
        .send()
        .await
        .map_err(|err| crate::aws::read_sdk_failure(&err).0)?;
    match deleted.errors().first() {
        None => Ok(()),
        Some(refused) => Err(format!(
            "{} of {} objects were refused, e.g. {}: {} ({})",
            deleted.errors().len(),
            objects.len(),
            refused.key().unwrap_or("?"),
            refused.code().unwrap_or("?"),
            refused.message().unwrap_or("")
        )),
    }
}
