//! The deployment record (`.agentdeploy/state.json`): per function and environment, the stack,
//! region, account, status, timestamps, input hash, outputs and build strategy — never a secret.
//! Writes are atomic (temp file + rename) under a file lock, so concurrent fleet members and
//! interrupted runs never leave a half-written file. A corrupt record, or one written by a newer
//! agentdeploy, is an error and is left untouched.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::write_atomically;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Planned,
    Building,
    Deploying,
    Deployed,
    Unchanged,
    Failed,
    Interrupted,
}

impl RecordStatus {
    /// The name the record and the JSON use.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Planned => "planned",
            RecordStatus::Building => "building",
            RecordStatus::Deploying => "deploying",
            RecordStatus::Deployed => "deployed",
            RecordStatus::Unchanged => "unchanged",
            RecordStatus::Failed => "failed",
            RecordStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordedOutputs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordEntry {
    pub function_name: String,
    pub env: Option<String>,
    pub stack_name: String,
    pub region: Option<String>,
    pub account: Option<String>,
    pub status: RecordStatus,
    pub created_at: String,
    pub updated_at: String,
    /// Hash of everything that decides what gets deployed (reference §7's unchanged check).
    pub input_hash: Option<String>,
    /// Hash of the last successfully deployed input.
    #[serde(default)]
    pub deployed_hash: Option<String>,
    #[serde(default)]
    pub outputs: RecordedOutputs,
    pub build_strategy: Option<String>,
    pub artifact_bytes: Option<u64>,
    pub runtime: String,
    pub endpoint_kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The version the `live` alias points at (reference §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_version: Option<String>,
    /// `rollback` moved `live` away from the stack's own version; the next deploy moves it back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rolled_back: bool,
    /// The cold start expected of what was last deployed (reference §5 "Cold start").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start: Option<crate::build_report::ColdStart>,
    /// The hash of the code `live` served after the last deploy, and the endpoint's auth as
    /// AWS reported it then: the unchanged check compares them with the deployment now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_auth: Option<String>,
    /// Published versions this project deployed, oldest first (the last few).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<RecordedVersion>,
    /// `sync` put code into the function outside CloudFormation (what and when); the next
    /// `lambda` deploy puts CloudFormation back in charge and clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synced: Option<String>,
}

/// One published version: what went into it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedVersion {
    pub version: String,
    pub input_hash: Option<String>,
    pub deployed_at: String,
}

/// How many versions the record keeps (Lambda keeps them all; `status` shows these).
pub const RECORDED_VERSIONS: usize = 10;

impl RecordEntry {
    /// This entry shows agentdeploy deployed the function into its stack (not merely planned
    /// it, or failed before any stack was touched): the record may vouch for an untagged stack.
    pub fn made_stack(&self) -> bool {
        self.deployed_hash.is_some()
            || self.outputs.function_arn.is_some()
            || self.live_version.is_some()
    }

    /// Notes that `live` now serves `version` (built from `input_hash`) after a deploy.
    pub fn note_live_version(&mut self, version: &str, input_hash: &str) {
        self.live_version = Some(version.to_string());
        self.rolled_back = false;
        if !self.versions.iter().any(|v| v.version == version) {
            self.versions.push(RecordedVersion {
                version: version.to_string(),
                input_hash: Some(input_hash.to_string()),
                deployed_at: now_rfc3339(),
            });
            let excess = self.versions.len().saturating_sub(RECORDED_VERSIONS);
            self.versions.drain(..excess);
        }
    }

    /// The input hash a recorded version was built from.
    pub fn hash_of(&self, version: &str) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.version == version)
            .and_then(|v| v.input_hash.as_deref())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    pub schema_version: u32,
    #[serde(default)]
    pub deployments: BTreeMap<String, RecordEntry>,
}

impl Default for StateFile {
    fn default() -> Self {
        StateFile {
            schema_version: SCHEMA_VERSION,
            deployments: BTreeMap::new(),
        }
    }
}

pub fn key(env: Option<&str>, function_name: &str) -> String {
    format!("{}/{function_name}", env.unwrap_or("default"))
}

/// The record of one project (the config's folder, else the cwd).
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(project_dir: &Path) -> Store {
        Store {
            dir: project_dir.join(".agentdeploy"),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    pub fn read(&self) -> Result<StateFile> {
        let path = self.path();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::default()),
            Err(e) => {
                return Err(Error::State {
                    path,
                    message: format!("cannot read: {e}"),
                    hint: "check the file's permissions".into(),
                });
            }
        };
        // The version is checked before the schema so a newer file gets the right message.
        let probe: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| corrupt(&path, &e.to_string()))?;
        let version = probe
            .get("schema_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| corrupt(&path, "no schema_version"))?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(Error::State {
                path,
                message: format!(
                    "written by a newer agentdeploy (schema {version}; this one reads {SCHEMA_VERSION})"
                ),
                hint: "upgrade agentdeploy; the record was left as it is".into(),
            });
        }
        serde_json::from_value(probe).map_err(|e| corrupt(&path, &e.to_string()))
    }

    /// Read-modify-write under the state lock.
    pub fn update<T>(&self, change: impl FnOnce(&mut StateFile) -> T) -> Result<T> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let _lock = FileLock::acquire(
            &self.dir.join("state.lock"),
            Duration::from_secs(30),
            "the deployment record",
        )?;
        let mut state = self.read()?;
        let result = change(&mut state);
        state.schema_version = SCHEMA_VERSION;
        let text = serde_json::to_string_pretty(&state)
            .map_err(|e| Error::internal(format!("serialising the record: {e}")))?;
        write_atomically(&self.path(), format!("{text}\n").as_bytes())?;
        Ok(result)
    }

    pub fn get(&self, key: &str) -> Result<Option<RecordEntry>> {
        Ok(self.read()?.deployments.get(key).cloned())
    }

    /// The lock that makes deploys of one function and environment one at a time.
    pub fn deploy_lock(
        &self,
        env: Option<&str>,
        function_name: &str,
        wait: Duration,
    ) -> Result<FileLock> {
        let dir = self.dir.join("locks");
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(format!(
            "{}__{function_name}.lock",
            env.unwrap_or("default")
        ));
        FileLock::acquire(&path, wait, &format!("deploying {function_name}"))
    }
}

fn corrupt(path: &Path, detail: &str) -> Error {
    Error::State {
        path: path.to_path_buf(),
        message: format!("the deployment record is corrupt ({detail})"),
        hint:
            "move it aside (it only caches what was deployed; stacks are untouched) and run again"
                .into(),
    }
}

/// An exclusive `flock` held until dropped; the holder's pid is written into the file so a
/// waiting run can name it. The kernel releases it if the holder dies.
#[derive(Debug)]
pub struct FileLock {
    file: File,
}

impl FileLock {
    pub fn acquire(path: &Path, wait: Duration, what: &str) -> Result<FileLock> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            if file.try_lock().is_ok() {
                let _ = file.set_len(0);
                let _ = std::io::Write::write_all(
                    &mut &file,
                    format!("{}\n", std::process::id()).as_bytes(),
                );
                return Ok(FileLock { file });
            }
            if started.elapsed() >= wait {
                let holder = std::fs::read_to_string(path)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                return Err(Error::State {
                    path: path.to_path_buf(),
                    message: format!(
                        "another agentdeploy (pid {}) is {what}",
                        if holder.is_empty() {
                            "unknown".to_string()
                        } else {
                            holder
                        }
                    ),
                    hint: "wait for it to finish, or pass a longer --lock-timeout".into(),
                });
            }
            std::thread::sleep(
                delay
                    .min(wait.saturating_sub(started.elapsed()))
                    .max(Duration::from_millis(1)),
            );
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// `2026-11-22T00:24:00Z`.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(i64::try_from(secs).unwrap_or(i64::MAX), None)
}

/// `YYYY-MM-DDTHH:MM:SS[.mmm]Z` for seconds since the Unix epoch (UTC), with milliseconds when
/// given (always three digits, so log lines align).
pub fn rfc3339(unix_seconds: i64, millis: Option<i64>) -> String {
    use aws_smithy_types::date_time::{DateTime, Format};
    let whole = DateTime::from_secs(unix_seconds)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "0000-00-00T00:00:00Z".into());
    match millis {
        Some(m) => format!("{}.{m:03}Z", whole.trim_end_matches('Z')),
        None => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_with_and_without_milliseconds() {
        assert_eq!(rfc3339(365 * 86_400 + 3_723, None), "1971-01-01T01:02:03Z");
        assert_eq!(rfc3339(0, Some(7)), "1970-01-01T00:00:00.007Z");
        assert_eq!(now_rfc3339().len(), "2026-11-22T00:00:00Z".len());
    }

    fn deployment(status: RecordStatus) -> RecordEntry {
        RecordEntry {
            function_name: "f".into(),
            env: None,
            stack_name: "agentdeploy-f".into(),
            region: Some("us-east-1".into()),
            account: None,
            status,
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
            input_hash: Some("abc".into()),
            deployed_hash: None,
            outputs: RecordedOutputs::default(),
            build_strategy: None,
            artifact_bytes: None,
            runtime: "python3.13".into(),
            endpoint_kind: "api".into(),
            error: None,
            live_version: None,
            cold_start: None,
            rolled_back: false,
            code_sha256: None,
            endpoint_auth: None,
            versions: Vec::new(),
            synced: None,
        }
    }

    #[test]
    fn round_trip_and_atomic_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        assert!(store.read().unwrap().deployments.is_empty());
        store
            .update(|s| {
                s.deployments
                    .insert(key(None, "f"), deployment(RecordStatus::Deployed))
            })
            .unwrap();
        let read = store.get("default/f").unwrap().unwrap();
        assert_eq!(read.status, RecordStatus::Deployed);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join(".agentdeploy"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "state.json and state.lock only: {leftovers:?}"
        );
    }

    #[test]
    fn corrupt_and_newer_records_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        std::fs::create_dir_all(dir.path().join(".agentdeploy")).unwrap();
        std::fs::write(store.path(), "{ not json").unwrap();
        let err = store.update(|_| ()).unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), "{ not json");
        std::fs::write(store.path(), r#"{"schema_version": 99, "deployments": {}}"#).unwrap();
        let err = store.update(|_| ()).unwrap_err();
        assert!(err.to_string().contains("newer agentdeploy"), "{err}");
        assert!(
            std::fs::read_to_string(store.path())
                .unwrap()
                .contains("99")
        );
    }

    #[test]
    fn a_held_lock_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let _held = store.deploy_lock(None, "f", Duration::ZERO).unwrap();
        let err = store
            .deploy_lock(None, "f", Duration::from_millis(100))
            .unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(_held);
        store.deploy_lock(None, "f", Duration::ZERO).unwrap();
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let t = now_rfc3339();
        assert_eq!(t.len(), 20);
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
