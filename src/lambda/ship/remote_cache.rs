//! The build cache shared through the artifact bucket (reference §7), so a fresh checkout (a CI
//! runner) whose dependency set another machine already built deploys its code alone: no pip,
//! no `sam build`.
//!
//! - `agentdeploy/cache/v1/resolved/<file>`: a set's resolution (the project cache's
//!   `resolved-<key>.txt`, keyed by the requirements, runtime and architecture).
//! - `agentdeploy/cache/v1/deps/<sha256>.zip`: zipped dependencies, content-addressed.
//! - `agentdeploy/cache/v1/deps/<deps-hash>-<agentdeploy version>.json`: which zip holds a set
//!   (keyed by the pins, runtime, architecture and the builder's version) and its facts.
//!
//! A downloaded zip is used only when its SHA-256 is the one its name and index give; anything
//! else is refused with a warning and the set is built here. A failed cache call is a warning,
//! never a reason to fail the deploy: the build does not need the cache. `--no-remote-cache`
//! turns it off.

use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lambda::build::package::{DepsFacts, SharedDeps};

fn hex(digest: &[u8]) -> String {
    crate::lambda::build::hex_prefix(digest, digest.len())
}

const PREFIX: &str = "agentdeploy/cache/v1";

/// What the cache did for this deploy, as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    /// The dependencies came from the bucket.
    Hit,
    /// Built here and stored for the next machine.
    Stored,
    /// Built here from the local cache, or the bucket had nothing and storing failed.
    Local,
    /// `--no-remote-cache`, or no artifact bucket yet.
    Off,
}

impl CacheUse {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheUse::Hit => "hit",
            CacheUse::Stored => "stored",
            CacheUse::Local => "local",
            CacheUse::Off => "off",
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct DepsIndex {
    sha256: String,
    facts: DepsFacts,
}

pub struct RemoteCache {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// What went wrong on the way, said once in the report.
    pub warnings: Vec<String>,
    /// The shared zip did not match its hash: the build made here replaces it.
    repair: bool,
}

impl RemoteCache {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: String) -> RemoteCache {
        RemoteCache {
            client: crate::aws::clients::s3(sdk),
            bucket,
            warnings: Vec::new(),
            repair: false,
        }
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    fn warn(&mut self, message: String) {
        tracing::warn!("{message}");
        self.warnings.push(message);
    }

    /// Gets an object's bytes; `None` when absent (or unreadable: warned).
    async fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => match out.body.collect().await {
                Ok(bytes) => Some(bytes.into_bytes().to_vec()),
                Err(e) => {
                    self.warn(format!(
                        "the shared build cache {} could not be read ({e}); building here",
                        self.uri(key)
                    ));
                    None
                }
            },
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(err) => {
                let message = format!(
                    "the shared build cache {} could not be read ({}); building here",
                    self.uri(key),
                    crate::aws::errors::describe(&err)
                );
                self.warn(message);
                None
            }
        }
    }

    /// Whether the bucket holds `key` (a failed check counts as no: storing again is harmless).
    async fn exists(&self, key: &str) -> bool {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    /// Whether the bucket holds this resolution already.
    pub async fn has_resolution(&self, local: &Path) -> bool {
        match Self::resolution_key(local) {
            Some(key) => self.exists(&key).await,
            None => true,
        }
    }

    /// Puts an object unless one is there already (another machine stored the same thing); when
    /// repairing, replaces it.
    async fn put_new(&mut self, key: &str, body: ByteStream) -> bool {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body);
        let request = if self.repair {
            request
        } else {
            request.if_none_match("*")
        };
        match request.send().await {
            Ok(_) => true,
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    matches!(
                        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(e),
                        Some("PreconditionFailed" | "ConditionalRequestConflict")
                    )
                }) =>
            {
                true
            }
            Err(err) => {
                let message = format!(
                    "the build could not be stored in the shared cache {} ({}); other machines will build it again",
                    self.uri(key),
                    crate::aws::errors::describe(&err)
                );
                self.warn(message);
                false
            }
        }
    }

    fn resolution_key(local: &Path) -> Option<String> {
        let name = local.file_name()?.to_str()?;
        Some(format!("{PREFIX}/resolved/{name}"))
    }

    /// Brings a set's resolution from the bucket into the project cache, when the project cache
    /// has none.
    pub async fn fetch_resolution(&mut self, local: &Path) {
        if local.is_file() {
            return;
        }
        let Some(key) = Self::resolution_key(local) else {
            return;
        };
        if let Some(bytes) = self.get(&key).await
            && let Err(e) = write_new(local, &bytes)
        {
            self.warn(format!(
                "the shared resolution could not be kept in {}: {e}",
                local.display()
            ));
        }
    }

    /// Shares the project cache's resolution of a set. One that needs wheels built on this
    /// machine (`--find-links`) stays here: another machine has not got them.
    pub async fn store_resolution(&mut self, local: &Path) {
        let Ok(text) = std::fs::read_to_string(local) else {
            return;
        };
        if text.contains("--find-links") {
            return;
        }
        if let Some(key) = Self::resolution_key(local) {
            self.put_new(&key, ByteStream::from(text.into_bytes()))
                .await;
        }
    }

    fn index_key(deps_hash: &str) -> String {
        format!(
            "{PREFIX}/deps/{deps_hash}-{}.json",
            crate::lambda::render::TOOL_VERSION
        )
    }

    fn zip_key(sha256: &str) -> String {
        format!("{PREFIX}/deps/{sha256}.zip")
    }

    /// Brings a set's zipped dependencies from the bucket into the project cache, verified by
    /// their hash. True when they are now there.
    pub async fn fetch_deps(&mut self, shared: &SharedDeps, deps_hash: &str) -> bool {
        if shared.facts().is_some() {
            return false;
        }
        let Some(index) = self.get(&Self::index_key(deps_hash)).await else {
            return false;
        };
        let Ok(index) = serde_json::from_slice::<DepsIndex>(&index) else {
            self.warn(format!(
                "the shared build cache's index {} is not one agentdeploy wrote; building here",
                self.uri(&Self::index_key(deps_hash))
            ));
            return false;
        };
        let key = Self::zip_key(&index.sha256);
        let Some(zip) = self.get(&key).await else {
            return false;
        };
        let actual = hex(&Sha256::digest(&zip));
        if actual != index.sha256 {
            self.warn(format!(
                "the shared dependency zip {} does not match its hash (sha256 {actual}, expected {}); not used, building here (and sharing that build instead)",
                self.uri(&key),
                index.sha256
            ));
            self.repair = true;
            return false;
        }
        let facts = match serde_json::to_vec_pretty(&index.facts) {
            Ok(facts) => facts,
            Err(_) => return false,
        };
        // The zip first, then its facts: facts beside a zip mark it complete.
        match write_new(&shared.zip, &zip).and_then(|()| write_new(shared.facts_path(), &facts)) {
            Ok(()) => true,
            Err(e) => {
                self.warn(format!(
                    "the shared dependency zip could not be kept in {}: {e}",
                    shared.zip.display()
                ));
                false
            }
        }
    }

    /// Shares a set's zipped dependencies built here (content-addressed, then its index),
    /// unless the bucket has them. True when they were stored now.
    pub async fn store_deps(&mut self, shared: &SharedDeps, deps_hash: &str) -> bool {
        let Some(facts) = shared.facts() else {
            return false;
        };
        if !self.repair && self.exists(&Self::index_key(deps_hash)).await {
            return false;
        }
        let sha256 = match file_sha256(&shared.zip) {
            Ok(sha) => sha,
            Err(e) => {
                self.warn(format!("{}: {e}", shared.zip.display()));
                return false;
            }
        };
        let zip = match ByteStream::from_path(&shared.zip).await {
            Ok(body) => body,
            Err(e) => {
                self.warn(format!("{}: {e}", shared.zip.display()));
                return false;
            }
        };
        if !self.put_new(&Self::zip_key(&sha256), zip).await {
            return false;
        }
        let index = DepsIndex { sha256, facts };
        let Ok(body) = serde_json::to_vec_pretty(&index) else {
            return false;
        };
        self.put_new(&Self::index_key(deps_hash), ByteStream::from(body))
            .await
    }
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Writes `bytes` to `path` through a temporary file beside it (no half-written cache entry).
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir: PathBuf = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(&dir)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
