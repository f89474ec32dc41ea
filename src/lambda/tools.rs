//! The external tools agentdeploy drives, found and version-checked: `sam`, Docker, and the
//! Python interpreters for the Lambda runtimes. Both layers use them; neither owns them.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// Oldest `sam` that builds python3.13 and knows every flag we pass.
pub const MIN_SAM_VERSION: (u32, u32, u32) = (1, 130, 0);

/// The runtime's own interpreter (`python3.13` for python3.13) when it is on PATH and is that
/// version: what a native `sam build` needs and what compiles the runtime's bytecode.
/// Asked once per runtime and run (it starts the interpreter; PATH does not change meanwhile).
pub fn runtime_interpreter(runtime: crate::lambda::runtime::Runtime) -> Option<PathBuf> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static FOUND: OnceLock<Mutex<HashMap<u8, Option<PathBuf>>>> = OnceLock::new();
    let mut found = FOUND
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    found
        .entry(runtime.minor)
        .or_insert_with(|| {
            let name = runtime.interpreter();
            let path = which::which(&name).ok()?;
            (interpreter_version(&name) == Some((3, u32::from(runtime.minor)))).then_some(path)
        })
        .clone()
}

/// `(major, minor)` of `python` if it is on PATH and starts.
pub fn interpreter_version(python: &str) -> Option<(u32, u32)> {
    VersionProbe::start(python)?.finish()
}

/// A running `python -c 'print(version)'`, so several can run at once.
pub struct VersionProbe {
    child: std::process::Child,
}

impl VersionProbe {
    /// None when `python` is not on PATH or cannot be started.
    pub fn start(python: &str) -> Option<VersionProbe> {
        let path = which::which(python).ok()?;
        let child = Command::new(path)
            // Isolated and without site: nothing from the user's environment, and a faster start.
            .args([
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.version_info[0], sys.version_info[1])",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(VersionProbe { child })
    }

    pub fn finish(self) -> Option<(u32, u32)> {
        let output = self.child.wait_with_output().ok()?;
        if !output.status.success() {
            return None;
        }
        let text = String::from_utf8(output.stdout).ok()?;
        let mut parts = text.split_whitespace();
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// The answer is no longer needed.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sam` executable, its version checked against the minimum.
#[derive(Debug, Clone)]
pub struct SamCli {
    pub path: PathBuf,
    pub version: (u32, u32, u32),
}

/// `find_sam` once per process (a fleet shares one sam), on a blocking thread.
pub async fn sam_cli() -> Result<SamCli> {
    static SAM: tokio::sync::OnceCell<SamCli> = tokio::sync::OnceCell::const_new();
    SAM.get_or_try_init(|| async {
        tokio::task::spawn_blocking(find_sam)
            .await
            .map_err(|e| Error::internal(format!("checking sam stopped: {e}")))?
    })
    .await
    .cloned()
}

pub fn find_sam() -> Result<SamCli> {
    let path = which::which("sam").map_err(|_| Error::Preflight {
        message: "`sam` (AWS SAM CLI) was not found on PATH".into(),
        hint: "install it: `pip install aws-sam-cli` (or see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html), then run `agentdeploy doctor`".into(),
    })?;
    let output = Command::new(&path)
        .arg("--version")
        .env("SAM_CLI_TELEMETRY", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Preflight {
            message: format!("`{}` could not be run: {e}", path.display()),
            hint: "reinstall the AWS SAM CLI".into(),
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let version = parse_sam_version(&text).ok_or_else(|| Error::Preflight {
        message: format!(
            "could not read the version of `{}` (it printed {:?})",
            path.display(),
            text.trim()
        ),
        hint: "reinstall the AWS SAM CLI".into(),
    })?;
    if version < MIN_SAM_VERSION {
        let (a, b, c) = version;
        let (x, y, z) = MIN_SAM_VERSION;
        return Err(Error::Preflight {
            message: format!("`sam` {a}.{b}.{c} is older than the minimum {x}.{y}.{z}"),
            hint: "upgrade it: `pip install --upgrade aws-sam-cli` (or your package manager's upgrade)".into(),
        });
    }
    Ok(SamCli { path, version })
}

/// `SAM CLI, version 1.170.0` → (1, 170, 0).
pub fn parse_sam_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = word
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Is a Docker engine answering? (The client alone is not enough for `--use-container`.) Asked
/// once per run, on a blocking thread: `docker info` can take seconds.
pub async fn docker_answers() -> bool {
    static ANSWER: tokio::sync::OnceCell<bool> = tokio::sync::OnceCell::const_new();
    *ANSWER
        .get_or_init(|| async {
            tokio::task::spawn_blocking(ask_docker)
                .await
                .unwrap_or(false)
        })
        .await
}

fn ask_docker() -> bool {
    let Ok(docker) = which::which("docker") else {
        return false;
    };
    let child = Command::new(docker)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    // `docker info` can hang on a stale socket; give it a few seconds.
    for _ in 0..50 {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return false,
        }
    }
    let _ = child.kill();
    false
}

pub fn docker_error() -> Error {
    Error::Preflight {
        message: "Docker is not running (a container build was requested with --use-container always)".into(),
        hint: "start Docker (`docker info` must answer), or use --use-container never / auto to build without it".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_versions() {
        assert_eq!(
            parse_sam_version("SAM CLI, version 1.170.0\n"),
            Some((1, 170, 0))
        );
        assert_eq!(
            parse_sam_version("SAM CLI, version 1.99.1.dev202401"),
            Some((1, 99, 1))
        );
        assert_eq!(parse_sam_version("nonsense"), None);
        assert!(parse_sam_version("SAM CLI, version 1.50.0").unwrap() < MIN_SAM_VERSION);
    }
}
