//! The shared build cache's part in one deploy: the resolution brought before pinning, the
//! dependencies brought or shared around the build, and what it did (`used`), so `deploy` keeps
//! none of its bookkeeping.

use crate::build_report::ResolvedBy;
use crate::error::Result;
use crate::lambda::bundle::pipeline::{Deps, StackRequest};
use crate::lambda::ship::remote_cache::{CacheUse, RemoteCache};
use crate::timings;

/// The shared build cache's part in one deploy, and what it did (`used`).
pub(crate) struct SharedCache {
    remote: Option<RemoteCache>,
    resolution: std::path::PathBuf,
    pub(crate) used: CacheUse,
}

impl SharedCache {
    /// Opens the cache (unless off) and brings the set's resolution from it before pinning.
    pub(crate) async fn open(inputs: &StackRequest<'_>) -> Result<SharedCache> {
        let settings = inputs.settings;
        let resolution = crate::lambda::bundle::resolve::cache_file(
            &crate::lambda::bundle::pipeline::cache_dir(settings),
            &inputs.plan.requirements.specifiers,
            settings.runtime,
            settings.architecture,
        );
        let mut remote = remote_cache(inputs).await?;
        if let Some(remote) = &mut remote {
            timings::timed(timings::Category::Aws, remote.fetch_resolution(&resolution)).await;
        }
        Ok(SharedCache {
            remote,
            resolution,
            used: CacheUse::Off,
        })
    }

    /// Shares a resolution made here, and brings the set's dependencies when none were built.
    pub(crate) async fn after_pin(
        &mut self,
        inputs: &StackRequest<'_>,
        pinned: &crate::lambda::bundle::pipeline::Pinned,
        deps: &Deps,
    ) {
        let Some(remote) = &mut self.remote else {
            return;
        };
        if pinned.resolved.by != ResolvedBy::Cache || !remote.has_resolution(&self.resolution).await
        {
            timings::timed(
                timings::Category::Aws,
                remote.store_resolution(&self.resolution),
            )
            .await;
        }
        self.used = CacheUse::Local;
        let code_dir = inputs.settings.out_dir.join("src");
        if pinned.built.is_none()
            && !pinned.resolved.pins.is_empty()
            && !inputs.settings.force
            && timings::timed(
                timings::Category::Aws,
                remote.fetch_deps(&deps.shared, &deps.hash, &code_dir),
            )
            .await
        {
            self.used = CacheUse::Hit;
        }
    }

    /// Shares the dependencies built here; returns what went wrong on the way, as warnings.
    pub(crate) async fn after_build(&mut self, pins: &[String], deps: &Deps) -> Vec<String> {
        let Some(mut remote) = self.remote.take() else {
            return Vec::new();
        };
        if self.used != CacheUse::Hit
            && !pins.is_empty()
            && timings::timed(
                timings::Category::Aws,
                remote.store_deps(&deps.shared, &deps.hash),
            )
            .await
        {
            self.used = CacheUse::Stored;
        }
        remote.warnings
    }
}

/// The build cache in the artifact bucket, unless turned off or there is no bucket yet.
async fn remote_cache(inputs: &StackRequest<'_>) -> Result<Option<RemoteCache>> {
    if !inputs.settings.remote_cache {
        return Ok(None);
    }
    let bucket = crate::lambda::ship::artifact_bucket::find(
        &inputs.aws.sdk,
        &inputs.settings.artifact_bucket,
    )
    .await?;
    let Some(bucket) = bucket else {
        return Ok(None);
    };
    // Without its key nothing in the cache can be proven agentdeploy's: build here.
    match crate::lambda::ship::remote_record::cache_key(&inputs.aws.sdk).await {
        Ok(key) => Ok(Some(RemoteCache::new(&inputs.aws.sdk, bucket, key))),
        Err(err) => {
            tracing::warn!(
                "the shared build cache is off for this deploy: its key could not be read ({err})"
            );
            Ok(None)
        }
    }
}
