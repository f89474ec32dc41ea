//! `sync`: a code-only change put straight into the deployed function, as SAM Accelerate does for
//! dev stacks — the deploy's own build (the cached dependency zip plus the new code, the same
//! build-time import), then UpdateFunctionCode, the update waited for, PublishVersion. No stack
//! update: the orchestration layer decides whether the change is code only and moves `live`.
//!
//! A zip over Lambda's 50 MB goes through the artifact bucket. Its dependencies' part is the same
//! sync after sync, so it is sent once and kept there (`<stack>/agentdeploy-sync/deps-<md5>.part`);
//! each sync copies it inside S3 as part 1 of a multipart upload and sends only the code's part,
//! meanwhile the new code's import runs (UpdateFunctionCode waits for it to pass). What comes
//! back from the bucket is checked: the copied part's MD5, and the SHA-256 Lambda says it took
//! against the zip built here.

use std::time::{Duration, Instant};

use crate::aws::errors::deploy_call_failed;
use crate::error::{Error, Result};
use crate::lambda::bundle::package::{self, DepsPart, FUNCTION_ZIP};
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
    let reused = deps
        .shared
        .facts()
        .filter(|_| pinned.built.is_none() && !inputs.settings.force)
        .map(|_| deps.shared.zip.clone())
        .filter(|zip| assembled_in_the_bucket(zip));
    let code = match reused {
        Some(deps_zip) => staged_during_the_check(&inputs, &deps, pinned, &deps_zip).await?,
        None => {
            let built = pipeline::build_or_reuse(&inputs, &deps, pinned.built, true).await?;
            drop(pinned.turn);
            NewCode::of(&inputs, &function_zip_of(&built)?).await?
        }
    };
    let lambda = crate::aws::clients::lambda(&inputs.aws.sdk);
    let built_sha256 = update_code(&lambda, function_name, code).await?;
    wait_for_update(&lambda, function_name).await?;
    let published = lambda
        .publish_version()
        .function_name(function_name)
        .code_sha256(built_sha256)
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

/// Whether a zip on these dependencies is put together in the bucket (see `Assembly`): larger
/// than Lambda takes with the call, with a dependencies' part S3 takes as a part.
fn assembled_in_the_bucket(deps_zip: &std::path::Path) -> bool {
    std::fs::metadata(deps_zip).is_ok_and(|m| m.len() > direct_upload_limit() as u64)
        && package::deps_part_len(deps_zip).is_ok_and(|len| len >= MIN_PART_BYTES)
}

/// The code's part of the zip (see `package::code_part`), off the runtime.
async fn code_part(deps_zip: &std::path::Path, code_dir: &std::path::Path) -> Result<Vec<u8>> {
    let (deps_zip, code_dir) = (deps_zip.to_path_buf(), code_dir.to_path_buf());
    tokio::task::spawn_blocking(move || package::code_part(&deps_zip, &code_dir))
        .await
        .map_err(|e| Error::internal(format!("zipping the code stopped: {e}")))?
}

/// UpdateFunctionCode with the new code; its SHA-256 (base64, as Lambda gives it), checked
/// against what Lambda says it took.
async fn update_code(
    lambda: &aws_sdk_lambda::Client,
    function_name: &str,
    code: NewCode,
) -> Result<String> {
    let update = lambda.update_function_code().function_name(function_name);
    let updated = match code.zip {
        Zip::Inline(zip) => update
            .zip_file(aws_smithy_types::Blob::new(zip))
            .send()
            .await
            .map_err(|e| deploy_call_failed("UpdateFunctionCode", &e, HINT))?,
        Zip::Staged(staged) => {
            let updated = update
                .s3_bucket(&staged.bucket)
                .s3_key(&staged.key)
                .send()
                .await
                .map_err(|e| deploy_call_failed("UpdateFunctionCode", &e, HINT));
            // Lambda copied the code at the update: the staged zip is not needed after it.
            staged.remove().await;
            updated?
        }
    };
    // What Lambda took is what was built and checked here, byte for byte (a staged zip passed
    // through a shared bucket).
    let built_sha256 = aws_smithy_types::base64::encode(code.sha256);
    if updated.code_sha256() != Some(built_sha256.as_str()) {
        return Err(Error::Deploy {
            message: format!(
                "the function took code with sha256 {} but the zip built here has {built_sha256}: the staged zip changed in the artifact bucket; `live` still serves the version it did",
                updated.code_sha256().unwrap_or("(none given)")
            ),
            hint: "check who else writes to the artifact bucket, then sync again (or deploy with `agentdeploy lambda`)".into(),
        });
    }
    Ok(built_sha256)
}

/// The built and checked zip, ready for UpdateFunctionCode.
struct NewCode {
    zip: Zip,
    sha256: [u8; 32],
}

enum Zip {
    /// Small enough to go with the call.
    Inline(Vec<u8>),
    Staged(Staged),
}

impl NewCode {
    async fn of(inputs: &StackRequest<'_>, zip_path: &std::path::Path) -> Result<NewCode> {
        use sha2::Digest;
        let zip = std::fs::read(zip_path).map_err(|e| Error::io(zip_path, e))?;
        let sha256: [u8; 32] = sha2::Sha256::digest(&zip).into();
        let zip = if zip.len() <= direct_upload_limit() {
            Zip::Inline(zip)
        } else {
            // Larger than Lambda takes with the call: staged in the artifact bucket, as sam does.
            Zip::Staged(Staged::put(inputs, &zip, &sha256).await?)
        };
        Ok(NewCode { zip, sha256 })
    }
}

fn function_zip_of(built: &pipeline::Built) -> Result<std::path::PathBuf> {
    built
        .template
        .parent()
        .map(|dir| dir.join(FUNCTION_ZIP))
        .ok_or_else(|| Error::internal("the built template has no folder"))
}

/// A zip too large for the call, from reused dependencies: put together in the bucket while
/// the new code is imported (the build-time check), from the code as it was before the check;
/// the check only compiles agentdeploy's runtime files beside it, which are almost always what
/// they were. Whether they were is seen after the check: if not, the zip is put together again
/// with what the check left. UpdateFunctionCode only ever follows a passed check.
async fn staged_during_the_check(
    inputs: &StackRequest<'_>,
    deps: &Deps,
    pinned: pipeline::Pinned,
    deps_zip: &std::path::Path,
) -> Result<NewCode> {
    let code_dir = inputs.settings.out_dir.join("src");
    let early = code_part(deps_zip, &code_dir).await?;
    let before = package::code_digest(&code_dir)?;
    let assembling = async {
        let assembly = Assembly::start(inputs, deps_zip).await?;
        let deps_part = assembly.deps.clone();
        Ok::<_, Error>((assembly.finish(&early).await?, deps_part))
    };
    let (checked, assembled) =
        tokio::join!(pipeline::check_on_shared_deps(inputs, deps), assembling);
    drop(pinned.turn);
    let (staged, deps_part) = match (checked, assembled) {
        (Ok(()), Ok(assembled)) => assembled,
        (Err(err), Ok((staged, _))) => {
            staged.remove().await;
            return Err(err);
        }
        (Err(err), Err(_)) | (Ok(()), Err(err)) => return Err(err),
    };
    if package::code_digest(&code_dir)? == before {
        return Ok(NewCode {
            sha256: deps_part.zip_sha256(&early),
            zip: Zip::Staged(staged),
        });
    }
    let checked = code_part(deps_zip, &code_dir).await?;
    staged.remove().await;
    let again = Assembly::start(inputs, deps_zip).await?;
    let deps_part = again.deps.clone();
    Ok(NewCode {
        sha256: deps_part.zip_sha256(&checked),
        zip: Zip::Staged(again.finish(&checked).await?),
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

/// The zip in the artifact bucket for one update (below `<stack>/agentdeploy-sync/`), removed
/// once Lambda has its copy.
struct Staged {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
}

impl Staged {
    /// The whole zip in one PutObject (`<sha256>.zip`).
    async fn put(inputs: &StackRequest<'_>, zip: &[u8], sha256: &[u8; 32]) -> Result<Staged> {
        let (client, bucket) = bucket(inputs, zip.len() as u64).await?;
        let key = format!(
            "{}{}.zip",
            sync_folder(&inputs.settings.stack_name),
            crate::digest::hex(sha256)
        );
        client
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(zip.to_vec()))
            .send()
            .await
            .map_err(|e| deploy_call_failed("PutObject", &e, HINT))?;
        Ok(Staged {
            client,
            bucket,
            key,
        })
    }

    /// A failure to remove it leaves one object agentdeploy made, said in the debug log.
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

/// Where sync keeps what it puts in the artifact bucket: beside sam's uploads for the stack.
fn sync_folder(stack_name: &str) -> String {
    format!("{stack_name}/agentdeploy-sync/")
}

/// The keys in the stack's sync folder with a name sync gives (see `is_synced_name`), every
/// page of the listing.
async fn synced_keys(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    stack_name: &str,
    hint: &str,
) -> Result<Vec<String>> {
    let folder = sync_folder(stack_name);
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(&folder)
        .into_paginator()
        .send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| deploy_call_failed("ListObjectsV2", &e, hint))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter(|key| key.strip_prefix(&folder).is_some_and(is_synced_name))
                .map(str::to_string),
        );
    }
    Ok(keys)
}

async fn bucket(inputs: &StackRequest<'_>, zip_bytes: u64) -> Result<(aws_sdk_s3::Client, String)> {
    let settings = inputs.settings;
    let Some(bucket) =
        crate::lambda::ship::artifact_bucket::find(&inputs.aws.sdk, &settings.artifact_bucket)
            .await?
    else {
        return Err(Error::Build {
            message: format!(
                "the function's zip is {} MB, more than Lambda takes with the call, and there is no artifact bucket to stage it in",
                zip_bytes / (1024 * 1024)
            ),
            hint: "pass --s3-bucket BUCKET (the one the deploy used), or deploy with `agentdeploy lambda`".into(),
        });
    };
    Ok((crate::aws::clients::s3(&inputs.aws.sdk), bucket))
}

/// The smallest part S3 takes in a multipart upload, but the last.
const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;

/// A staged zip put together in the bucket as a multipart upload of two parts: the dependencies'
/// part (see `DepsPart`), kept in the bucket as `deps-<md5>.part` and copied inside S3 (checked by
/// its MD5), then the code's part, sent once the build-time import has passed.
struct Assembly {
    staged: Staged,
    upload_id: String,
    deps: DepsPart,
    /// The dependencies' part as uploaded: part 1's ETag.
    first: String,
}

impl Assembly {
    async fn start(inputs: &StackRequest<'_>, deps_zip: &std::path::Path) -> Result<Assembly> {
        let owned = deps_zip.to_path_buf();
        let deps = tokio::task::spawn_blocking(move || DepsPart::of(&owned))
            .await
            .map_err(|e| Error::internal(format!("reading the dependency zip stopped: {e}")))??;
        if deps.len < MIN_PART_BYTES {
            return Err(Error::internal(
                "the dependencies' part is smaller than S3's smallest part",
            ));
        }
        let (client, bucket) = bucket(inputs, deps.len).await?;
        let key = format!(
            "{}{}-{}.zip",
            sync_folder(&inputs.settings.stack_name),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let created = client
            .create_multipart_upload()
            .bucket(&bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| deploy_call_failed("CreateMultipartUpload", &e, HINT))?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| Error::internal("CreateMultipartUpload answered without an upload id"))?
            .to_string();
        let mut assembly = Assembly {
            staged: Staged {
                client,
                bucket,
                key,
            },
            upload_id,
            deps,
            first: String::new(),
        };
        match assembly.first_part(inputs, deps_zip).await {
            Ok(etag) => {
                assembly.first = etag;
                Ok(assembly)
            }
            Err(err) => {
                assembly.abort().await;
                Err(err)
            }
        }
    }

    /// Part 1 copied from the kept dependencies' part; put there first when it is missing or
    /// is not these bytes. Its ETag.
    async fn first_part(
        &self,
        inputs: &StackRequest<'_>,
        deps_zip: &std::path::Path,
    ) -> Result<String> {
        let md5 = crate::digest::hex(&self.deps.md5);
        let kept = format!(
            "{}deps-{md5}.part",
            sync_folder(&inputs.settings.stack_name)
        );
        if let Some(etag) = self.copy_kept(&kept, &md5).await? {
            return Ok(etag);
        }
        self.keep(inputs, deps_zip, &kept).await?;
        self.copy_kept(&kept, &md5)
            .await?
            .ok_or_else(|| Error::Deploy {
                message: format!(
                    "s3://{}/{kept} does not hold the dependencies just put there",
                    self.staged.bucket
                ),
                hint: "check who else writes to the artifact bucket, then sync again".into(),
            })
    }

    /// UploadPartCopy of the kept part, only while it is these bytes (S3 checks the ETag, an
    /// MD5, before copying; the ETag it answers with is checked again here). `None` when it is
    /// missing or other bytes.
    async fn copy_kept(&self, kept: &str, md5: &str) -> Result<Option<String>> {
        let staged = &self.staged;
        let expected = format!("\"{md5}\"");
        let copied = staged
            .client
            .upload_part_copy()
            .bucket(&staged.bucket)
            .key(&staged.key)
            .upload_id(&self.upload_id)
            .part_number(1)
            .copy_source(format!("{}/{kept}", staged.bucket))
            .copy_source_if_match(&expected)
            .send()
            .await;
        match copied {
            Ok(copied) => Ok(copied
                .copy_part_result()
                .and_then(|r| r.e_tag())
                .filter(|etag| *etag == expected)
                .map(str::to_string)),
            Err(err)
                if err
                    .raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 404 | 412)) =>
            {
                Ok(None)
            }
            Err(err) => Err(deploy_call_failed("UploadPartCopy", &err, HINT)),
        }
    }

    /// Puts the dependencies' part where later syncs copy it from (S3 checks it against its MD5),
    /// and removes the parts of earlier dependency sets.
    async fn keep(
        &self,
        inputs: &StackRequest<'_>,
        deps_zip: &std::path::Path,
        kept: &str,
    ) -> Result<()> {
        let staged = &self.staged;
        let bytes = {
            use std::io::Read;
            let mut bytes = Vec::with_capacity(self.deps.len as usize);
            std::fs::File::open(deps_zip)
                .and_then(|f| f.take(self.deps.len).read_to_end(&mut bytes))
                .map_err(|e| Error::io(deps_zip, e))?;
            bytes
        };
        staged
            .client
            .put_object()
            .bucket(&staged.bucket)
            .key(kept)
            .content_md5(aws_smithy_types::base64::encode(self.deps.md5))
            .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| deploy_call_failed("PutObject", &e, HINT))?;
        self.remove_other_parts(inputs, kept).await;
        Ok(())
    }

    /// Earlier dependency sets' parts (`deps-<md5>.part`, only those): a failure leaves them,
    /// said in the debug log.
    async fn remove_other_parts(&self, inputs: &StackRequest<'_>, kept: &str) {
        let staged = &self.staged;
        let stack_name = &inputs.settings.stack_name;
        let keys = match synced_keys(&staged.client, &staged.bucket, stack_name, HINT).await {
            Ok(keys) => keys,
            Err(err) => {
                tracing::debug!("earlier dependency parts stay: {err}");
                return;
            }
        };
        let folder = sync_folder(stack_name);
        let parts = keys.iter().filter(|key| {
            *key != kept
                && key
                    .strip_prefix(&folder)
                    .and_then(|name| name.strip_prefix("deps-"))
                    .is_some_and(is_deps_part)
        });
        for key in parts {
            let removed = staged
                .client
                .delete_object()
                .bucket(&staged.bucket)
                .key(key)
                .send();
            if let Err(err) = removed.await {
                tracing::debug!("s3://{}/{key} stays: {err}", staged.bucket);
            }
        }
    }

    /// Sends the code's part (the zip past the dependencies' part) and completes the upload.
    async fn finish(self, code: &[u8]) -> Result<Staged> {
        match self.complete(code).await {
            Ok(()) => Ok(self.staged),
            Err(err) => {
                self.abort().await;
                Err(err)
            }
        }
    }

    async fn complete(&self, code: &[u8]) -> Result<()> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let staged = &self.staged;
        let uploaded = staged
            .client
            .upload_part()
            .bucket(&staged.bucket)
            .key(&staged.key)
            .upload_id(&self.upload_id)
            .part_number(2)
            .body(aws_sdk_s3::primitives::ByteStream::from(code.to_vec()))
            .send()
            .await
            .map_err(|e| deploy_call_failed("UploadPart", &e, HINT))?;
        let parts = [
            (1, Some(self.first.clone())),
            (2, uploaded.e_tag().map(str::to_string)),
        ]
        .into_iter()
        .map(|(number, etag)| {
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(etag)
                .build()
        })
        .collect();
        staged
            .client
            .complete_multipart_upload()
            .bucket(&staged.bucket)
            .key(&staged.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| deploy_call_failed("CompleteMultipartUpload", &e, HINT))?;
        Ok(())
    }

    /// Nothing of a failed assembly stays in the bucket (a failure to abort is in the debug log).
    async fn abort(&self) {
        let staged = &self.staged;
        if let Err(err) = staged
            .client
            .abort_multipart_upload()
            .bucket(&staged.bucket)
            .key(&staged.key)
            .upload_id(&self.upload_id)
            .send()
            .await
        {
            tracing::debug!(
                "the upload to s3://{}/{} stays unfinished: {err}",
                staged.bucket,
                staged.key
            );
        }
    }
}

/// What `sync` left below `<stack>/agentdeploy-sync/` in the artifact bucket (kept dependencies'
/// parts, a staged zip an interrupted sync did not remove), removed; only names sync gives, the
/// rest of the folder is not touched. How many.
pub async fn remove_kept(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    stack_name: &str,
) -> Result<usize> {
    let client = crate::aws::clients::s3(sdk);
    let ours = synced_keys(&client, bucket, stack_name, DESTROY_HINT).await?;
    for key in &ours {
        client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| deploy_call_failed("DeleteObject", &e, DESTROY_HINT))?;
    }
    Ok(ours.len())
}

const DESTROY_HINT: &str = "it needs s3:ListBucket and s3:DeleteObject on the artifact bucket; nothing of the stack was deleted yet";

/// A name `sync` gives below its folder: `deps-<md5>.part`, `<sha256>.zip`, `<pid>-<millis>.zip`.
fn is_synced_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix("deps-").is_some_and(is_deps_part)
        || name.strip_suffix(".zip").is_some_and(|stem| {
            (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
                || stem
                    .split_once('-')
                    .is_some_and(|(a, b)| digits(a) && digits(b))
        })
}

/// `<32 hex digits>.part`: a dependencies' part sync keeps (the rest of the folder is not looked at).
fn is_deps_part(name: &str) -> bool {
    name.strip_suffix(".part")
        .is_some_and(|md5| md5.len() == 32 && md5.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_names_sync_gives_are_removed() {
        for ours in [
            "deps-0123456789abcdef0123456789abcdef.part",
            "4f2a0c1b9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a.zip",
            "4242-1796684704585.zip",
        ] {
            assert!(is_synced_name(ours), "{ours}");
        }
        for theirs in [
            "deps-xyz.part",
            "notes.txt",
            "release.zip",
            "a-b.zip",
            "deps-0123456789abcdef0123456789abcdef.part.bak",
            "sub/deps-0123456789abcdef0123456789abcdef.part",
        ] {
            assert!(!is_synced_name(theirs), "{theirs}");
        }
    }
}
