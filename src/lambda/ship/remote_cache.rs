//! The build cache shared through the artifact bucket (reference §7), so a fresh checkout (a CI
//! runner) whose dependency set another machine already built deploys its code alone: no pip,
//! no `sam build`.
//!
//! - `agentdeploy/cache/v2/resolved/<file>`: a set's resolution (the project cache's
//!   `resolved-<key>.txt`, keyed by the requirements, runtime and architecture).
//! - `agentdeploy/cache/v2/deps/<sha256>.zip`: zipped dependencies, content-addressed.
//! - `agentdeploy/cache/v2/deps/<deps-hash>-<agentdeploy version>.json`: which zip holds a set
//!   (keyed by the pins, runtime, architecture and the builder's version) and its facts.
//!
//! Whoever can write the bucket is not trusted: each resolution and index carries an HMAC
//! (metadata `agentdeploy-mac`) over its key and body under the cache key, a SecureString in SSM
//! the bucket's writers cannot read; the zip is named by its index's SHA-256. A resolution holds
//! only `name==version` pins (no URL, path, option or editable line: nothing it names is built
//! from a place the bucket chose), and a zip is opened and checked (its own sizes, no name of the
//! runtime's or the agent's files) before use. Anything that fails a check is a warning, never
//! used, and the local build replaces it. A failed cache call is a warning, never a reason to
//! fail the deploy: the build does not need the cache. `--no-remote-cache` turns it off.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::lambda::bundle::package::{DepsFacts, SharedDeps};

use crate::digest::hex;

const PREFIX: &str = "agentdeploy/cache/v2";
/// The metadata key of an object's HMAC.
const MAC: &str = "agentdeploy-mac";
/// No resolution or index agentdeploy writes comes near these; a bigger object is not read.
const MAX_RESOLUTION_BYTES: i64 = 1 << 20;
const MAX_INDEX_BYTES: i64 = 64 << 10;
/// Lambda's limit on a function's unzipped size: a bigger zip could never deploy.
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;
const MAX_ZIP_ENTRIES: usize = 200_000;

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
    /// The cache key (reference §7): what proves an object was written by agentdeploy.
    key: Vec<u8>,
    /// What went wrong on the way, said once in the report.
    pub warnings: Vec<String>,
    /// The shared zip did not match its hash: the build made here replaces it.
    repair: bool,
}

impl RemoteCache {
    pub fn new(sdk: &aws_config::SdkConfig, bucket: String, key: Vec<u8>) -> RemoteCache {
        RemoteCache {
            client: crate::aws::clients::s3(sdk),
            bucket,
            key,
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

    /// The HMAC that proves `body` was stored under `key` by agentdeploy.
    fn mac(&self, key: &str, body: &[u8]) -> String {
        let mut signed = key.as_bytes().to_vec();
        signed.push(0);
        signed.extend_from_slice(body);
        hex(&crate::digest::keyed(&self.key, &signed))
    }

    /// Gets an authenticated object's bytes (at most `max_bytes`); `None` when absent, or when
    /// it is too big, unreadable or not proven agentdeploy's (warned: not used).
    async fn get_authenticated(&mut self, key: &str, max_bytes: i64) -> Option<Vec<u8>> {
        let out = self.get_object(key).await?;
        if out.content_length().unwrap_or(0) > max_bytes {
            self.warn(format!(
                "the shared build cache's {} is {} bytes, more than agentdeploy ever writes there; not used, building here",
                self.uri(key),
                out.content_length().unwrap_or(0)
            ));
            return None;
        }
        let mac = out
            .metadata()
            .and_then(|m| m.get(MAC))
            .cloned()
            .unwrap_or_default();
        let bytes = self.collect(key, out).await?;
        if !crate::digest::same(mac.as_bytes(), self.mac(key, &bytes).as_bytes()) {
            self.warn(format!(
                "the shared build cache's {} is not one agentdeploy wrote (its signature does not match the cache key); not used, building here",
                self.uri(key)
            ));
            self.repair = true;
            return None;
        }
        Some(bytes)
    }

    async fn get_object(
        &mut self,
        key: &str,
    ) -> Option<aws_sdk_s3::operation::get_object::GetObjectOutput> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Some(out),
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

    async fn collect(
        &mut self,
        key: &str,
        out: aws_sdk_s3::operation::get_object::GetObjectOutput,
    ) -> Option<Vec<u8>> {
        match out.body.collect().await {
            Ok(bytes) => Some(bytes.into_bytes().to_vec()),
            Err(e) => {
                self.warn(format!(
                    "the shared build cache {} could not be read ({e}); building here",
                    self.uri(key)
                ));
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
    async fn put_new(&mut self, key: &str, body: ByteStream, mac: Option<String>) -> bool {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .set_metadata(mac.map(|mac| [(MAC.to_string(), mac)].into()))
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
    /// has none and the bucket's is proven agentdeploy's and holds only pins.
    pub async fn fetch_resolution(&mut self, local: &Path) {
        if local.is_file() {
            return;
        }
        let Some(key) = Self::resolution_key(local) else {
            return;
        };
        let Some(bytes) = self.get_authenticated(&key, MAX_RESOLUTION_BYTES).await else {
            return;
        };
        if let Err(problem) = std::str::from_utf8(&bytes)
            .map_err(|_| "it is not UTF-8 text".to_string())
            .and_then(check_resolution)
        {
            self.warn(format!(
                "the shared resolution {} is not a list of pinned versions ({problem}); not used, resolving here",
                self.uri(&key)
            ));
            self.repair = true;
            return;
        }
        if let Err(e) = write_new(local, &bytes) {
            self.warn(format!(
                "the shared resolution could not be kept in {}: {e}",
                local.display()
            ));
        }
    }

    /// Shares the project cache's resolution of a set. One that needs wheels built on this
    /// machine (`--find-links`), or names anything but pinned versions (a URL, a path: the
    /// project's own requirements may), stays here.
    pub async fn store_resolution(&mut self, local: &Path) {
        let Ok(text) = std::fs::read_to_string(local) else {
            return;
        };
        if check_resolution(&text).is_err() {
            return;
        }
        if let Some(key) = Self::resolution_key(local) {
            let mac = self.mac(&key, text.as_bytes());
            self.put_new(&key, ByteStream::from(text.into_bytes()), Some(mac))
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

    /// Brings a set's zipped dependencies from the bucket into the project cache: its index
    /// proven agentdeploy's, the zip matching the index's hash and passing `check_zip` against
    /// the agent's own files (`code_dir`). True when they are now there.
    pub async fn fetch_deps(
        &mut self,
        shared: &SharedDeps,
        deps_hash: &str,
        code_dir: &Path,
    ) -> bool {
        if shared.facts().is_some() {
            return false;
        }
        let index_key = Self::index_key(deps_hash);
        let Some(index) = self.get_authenticated(&index_key, MAX_INDEX_BYTES).await else {
            return false;
        };
        let Ok(mut index) = serde_json::from_slice::<DepsIndex>(&index) else {
            self.warn(format!(
                "the shared build cache's index {} is not one agentdeploy wrote; building here",
                self.uri(&index_key)
            ));
            return false;
        };
        let key = Self::zip_key(&index.sha256);
        let Some(out) = self.get_object(&key).await else {
            return false;
        };
        // A zip bigger than what it may unzip to is not one agentdeploy stored.
        if out.content_length().unwrap_or(0) as u64 > MAX_UNZIPPED_BYTES {
            self.warn(format!(
                "the shared dependency zip {} is larger than Lambda's 250 MiB; not used, building here",
                self.uri(&key)
            ));
            self.repair = true;
            return false;
        }
        let Some(zip) = self.collect(&key, out).await else {
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
        let code = code_names(code_dir);
        match check_zip(&zip, &code) {
            Ok(unzipped_bytes) => index.facts.unzipped_bytes = unzipped_bytes,
            Err(problem) => {
                self.warn(format!(
                    "the shared dependency zip {} cannot be used ({problem}); building here",
                    self.uri(&key)
                ));
                self.repair = true;
                return false;
            }
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
        let sha256 = match crate::digest::file_sha256(&shared.zip) {
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
        if !self.put_new(&Self::zip_key(&sha256), zip, None).await {
            return false;
        }
        let index = DepsIndex { sha256, facts };
        let Ok(body) = serde_json::to_vec_pretty(&index) else {
            return false;
        };
        let key = Self::index_key(deps_hash);
        let mac = self.mac(&key, &body);
        self.put_new(&key, ByteStream::from(body), Some(mac)).await
    }
}

/// A resolution is comments and `name==version` pins (extras allowed), nothing else: a URL, a
/// path, an option (`--index-url`, `-e`, `--find-links`) or an editable line would have pip
/// fetch or build what whoever wrote the line chose.
fn check_resolution(text: &str) -> std::result::Result<(), String> {
    let pin = regex_lite::Regex::new(
        r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?:\[[A-Za-z0-9._,-]+\])?==[A-Za-z0-9.+!_-]+$",
    )
    .map_err(|e| e.to_string())?;
    let mut pins = 0;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if comment.trim_start().starts_with("find-links") {
                return Err(format!("line {} names a wheel folder", number + 1));
            }
            continue;
        }
        if !pin.is_match(line) {
            return Err(format!(
                "line {} is not `name==version`: {}",
                number + 1,
                crate::untrusted::one_line(line, 80)
            ));
        }
        pins += 1;
    }
    if pins == 0 {
        return Err("it pins nothing".into());
    }
    Ok(())
}

/// The top-level names the agent's own files take (`handler.py`, `agentdeploy_runtime`, the
/// agent's modules and packages, without `.py`): a dependency may not bring any of them.
fn code_names(code_dir: &Path) -> HashSet<String> {
    crate::walk::walk(code_dir, crate::walk::Links::Follow)
        .unwrap_or_default()
        .iter()
        .map(|entry| top_level(&entry.name))
        .collect()
}

fn top_level(name: &str) -> String {
    let first = name.split('/').next().unwrap_or(name);
    first.strip_suffix(".py").unwrap_or(first).to_string()
}

/// Opens a dependency zip and checks it as Lambda and the runtime would meet it: a readable
/// zip, at most 250 MiB unzipped (the sizes its own entries give), names that stay inside the
/// function's folder and appear once, and none that is (or shadows) one of the agent's own
/// files. Returns its unzipped size.
fn check_zip(bytes: &[u8], code: &HashSet<String>) -> std::result::Result<u64, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("it is not a zip: {e}"))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(format!("it holds {} entries", archive.len()));
    }
    let mut seen = HashSet::new();
    let mut unzipped: u64 = 0;
    for index in 0..archive.len() {
        let name = archive
            .name_for_index(index)
            .ok_or_else(|| format!("entry {index} has no name"))?
            .map_err(|e| format!("entry {index}: {e}"))?
            .to_string();
        let shown = crate::untrusted::one_line(&name, 120);
        if name.starts_with('/')
            || name.contains('\\')
            || name.chars().any(char::is_control)
            || name.split('/').any(|part| part == "..")
        {
            return Err(format!("entry `{shown}` leaves the function's folder"));
        }
        if code.contains(&top_level(&name)) {
            return Err(format!(
                "entry `{shown}` would replace or shadow the agent's own `{}`",
                top_level(&name)
            ));
        }
        if !seen.insert(name) {
            return Err(format!("entry `{shown}` appears twice"));
        }
        let size = archive
            .by_index_raw(index)
            .map(|entry| entry.size())
            .map_err(|e| format!("entry `{shown}`: {e}"))?;
        unzipped = unzipped.saturating_add(size);
    }
    if unzipped > MAX_UNZIPPED_BYTES {
        return Err(format!(
            "it unzips to {unzipped} bytes, more than Lambda's 250 MiB"
        ));
    }
    Ok(unzipped)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolution_is_pins_and_comments_only() {
        assert!(
            check_resolution("# resolved for python3.13\nsix==1.17.0\nboto3[crt]==1.35.0\n")
                .is_ok()
        );
        for bad in [
            "six @ file:///tmp/evil\n",
            "six @ https://evil.example/six.whl\n",
            "-e /tmp/src\n",
            "--index-url https://evil.example/simple\nsix==1.0\n",
            "six>=1.0\n",
            "/tmp/evil-src\n",
            "# find-links: /tmp/wheels\nsix==1.0\n",
            "# only a comment\n",
        ] {
            assert!(check_resolution(bad).is_err(), "{bad:?} was accepted");
        }
    }

    fn zip_of(names: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut writer = zip::ZipWriter::new(&mut out);
        for (name, body) in names {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            std::io::Write::write_all(&mut writer, body).unwrap();
        }
        writer.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_zip_may_not_bring_the_agents_own_names_or_leave_its_folder() {
        let code: HashSet<String> = ["handler", "agentdeploy_runtime", "agent"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fine = zip_of(&[
            ("six.py", b"PY3 = True"),
            ("six-1.17.dist-info/METADATA", b"x"),
        ]);
        assert_eq!(check_zip(&fine, &code).unwrap(), 11);
        for (name, problem) in [
            ("handler.py", "shadow the agent's own `handler`"),
            ("agentdeploy_runtime/evil.py", "agentdeploy_runtime"),
            ("agent/__init__.py", "`agent`"),
            ("../outside.py", "leaves the function's folder"),
            ("/etc/x.py", "leaves the function's folder"),
        ] {
            let err = check_zip(&zip_of(&[(name, b"x")]), &code).unwrap_err();
            assert!(err.contains(problem), "{name}: {err}");
        }
        assert!(
            check_zip(b"not a zip", &code)
                .unwrap_err()
                .contains("not a zip")
        );
    }
}
