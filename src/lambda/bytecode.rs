//! Bytecode for what a cold start imports (SPEC §5 "Cold start", §6). Lambda's code directory is
//! read-only, so a function shipped without `__pycache__` compiles every module it imports on
//! every cold start (measured for strands-agents + tools: 2.78 s of CPU to import, 0.85 s with
//! bytecode). After the build, the rendered handler is imported once with the runtime's own
//! Python in a child with a cleared environment (no AWS credentials, the function's variables
//! with secrets as placeholders), Python's socket connections refused, in its own process group,
//! with a time limit — not an OS sandbox. The artifact's modules it loaded are compiled as
//! unchecked-hash pycs (`templates/bytecode_probe.py` says why). If the import fails, the
//! packages the agent imports are compiled instead, within the size budget. The one failure that
//! stops the deploy: an import that never returns (Lambda's INIT would never finish either).

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::cli::Architecture;
use crate::error::{Error, Result};
use crate::settings::Runtime;

const PROBE: &str = include_str!("../../templates/bytecode_probe.py");

/// The import may run agent code that waits on something (a cold start has 10 s of INIT);
/// past this it never returns, and the deploy stops.
const IMPORT_TIME_LIMIT: Duration = Duration::from_secs(120);

/// The build-time import's time limit; `AGENTDEPLOY_IMPORT_TIME_LIMIT` (seconds) lowers it, for
/// tests and stricter budgets.
fn import_time_limit() -> Duration {
    std::env::var("AGENTDEPLOY_IMPORT_TIME_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .map_or(IMPORT_TIME_LIMIT, |limit| limit.min(IMPORT_TIME_LIMIT))
}

/// Why the probe gave no bytecode: the import never returned (the deploy stops: Lambda's INIT
/// would never finish either), or anything else (the deploy goes on without bytecode).
enum ProbeFailure {
    NeverReturned(Duration),
    Other(String),
}

/// Secret values never reach the build; code that reads one at import sees this.
const SECRET_PLACEHOLDER: &str = "agentdeploy-build-time-placeholder";

/// What was compiled, for the report (`build.bytecode`) and the dependency cache's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bytecode {
    pub modules: u64,
    pub bytes: u64,
    /// `import` (what the handler's import loaded), `reachable` (the agent's imported packages,
    /// after the import failed) or `none` (no interpreter for the runtime here).
    pub method: String,
}

impl Bytecode {
    fn none() -> Bytecode {
        Bytecode {
            modules: 0,
            bytes: 0,
            method: "none".into(),
        }
    }
}

pub struct BytecodeRequest<'a> {
    pub artifact_dir: &'a Path,
    /// The project's code (`<out-dir>/src`): its modules are left alone, because the dependency
    /// zip is reused across code changes and unchecked pycs of old code would run instead.
    pub code_dir: &'a Path,
    pub runtime: Runtime,
    pub architecture: Architecture,
    /// The function's environment variables, and the secret names (given placeholders).
    pub env_vars: Vec<(String, String)>,
    pub secrets: &'a [String],
    pub region: &'a str,
    /// Top-level packages the agent imports, compiled when the import fails.
    pub packages: Vec<String>,
    /// Bytes the pycs may add before the artifact reaches Lambda's limit.
    pub budget: u64,
}

/// Compiles and reports; the second value is a warning to show when something fell short. The
/// one failure that stops the deploy: an import that does not return within the time limit.
pub async fn compile(request: BytecodeRequest<'_>) -> Result<(Bytecode, Option<String>)> {
    let interpreter = request.runtime.interpreter();
    let python = match crate::tools::runtime_interpreter(request.runtime) {
        Some(python) => Python::Local(python),
        // sam's build image for the runtime has its interpreter (what a container build uses).
        None if crate::tools::docker_answers().await => {
            Python::BuildImage(build_image(request.runtime, request.architecture))
        }
        None => {
            return Ok((
                Bytecode::none(),
                Some(format!(
                    "no {interpreter} here to compile the dependencies' bytecode: each cold start will compile what it imports (for strands-agents about 2.8 s of CPU instead of 0.9 s); install {interpreter} (or start Docker) and deploy again, or use --use-container always"
                )),
            ));
        }
    };
    match run_probe(&python, &request).await {
        Ok((bytecode, None)) => Ok((bytecode, None)),
        Ok((bytecode, Some(error))) => Ok((
            bytecode,
            Some(format!(
                "importing the handler at build time failed ({error}); compiled the packages the agent imports instead"
            )),
        )),
        Err(ProbeFailure::NeverReturned(limit)) => Err(Error::Build {
            message: format!(
                "importing the agent did not return within {} s: module-level code that never ends (a server started at import, `app.run()`, a sleep, `input()`) would keep every cold start from finishing Lambda's INIT",
                limit.as_secs()
            ),
            hint: "move that code under `if __name__ == \"__main__\":` or into the entry function"
                .into(),
        }),
        Err(ProbeFailure::Other(problem)) => Ok((
            Bytecode::none(),
            Some(format!(
                "no bytecode shipped ({problem}); cold starts compile what they import"
            )),
        )),
    }
}

#[derive(Deserialize)]
struct ProbeAnswer {
    method: String,
    modules: u64,
    bytes: u64,
    error: Option<String>,
}

/// Where the runtime's Python comes from.
enum Python {
    /// This machine's interpreter for the runtime.
    Local(std::path::PathBuf),
    /// sam's build image for the runtime, through Docker.
    BuildImage(String),
}

/// The image `sam build --use-container` builds this runtime in.
fn build_image(runtime: Runtime, architecture: Architecture) -> String {
    format!(
        "public.ecr.aws/sam/build-{}:latest-{}",
        runtime.name(),
        architecture.as_str()
    )
}

/// `docker run` of the probe in the build image: the artifact mounted where Lambda has it, no
/// network, files written as the artifact's owner, variables by name only.
fn docker_args(
    image: &str,
    runtime: Runtime,
    artifact_dir: &Path,
    env: &[(String, String)],
    probe_args: &[String],
) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut args: Vec<String> = ["run", "--rm", "--network", "none"]
        .map(String::from)
        .to_vec();
    if let Ok(meta) = std::fs::metadata(artifact_dir) {
        args.extend(["--user".into(), format!("{}:{}", meta.uid(), meta.gid())]);
    }
    args.extend([
        "-v".into(),
        format!("{}:/var/task", artifact_dir.display()),
        "-w".into(),
        "/var/task".into(),
        "-e".into(),
        "LAMBDA_TASK_ROOT=/var/task".into(),
        "-e".into(),
        "HOME=/tmp".into(),
    ]);
    for (name, _) in env {
        args.extend(["-e".into(), name.clone()]);
    }
    args.extend([
        image.to_string(),
        runtime.interpreter(),
        "-I".into(),
        "-B".into(),
        "-c".into(),
        PROBE.into(),
        "/var/task".into(),
        "handler".into(),
    ]);
    args.extend(probe_args.iter().cloned());
    args
}

async fn run_probe(
    python: &Python,
    request: &BytecodeRequest<'_>,
) -> std::result::Result<(Bytecode, Option<String>), ProbeFailure> {
    let other = |e: &dyn std::fmt::Display| ProbeFailure::Other(e.to_string());
    let skip: Vec<String> = crate::lambda::artifact::files_below(request.code_dir)
        .iter()
        .filter_map(|p| p.strip_prefix(request.code_dir).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let home = tempfile::tempdir().map_err(|e| other(&e))?;
    let probe_args = [
        serde_json::to_string(&skip).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(&request.packages).unwrap_or_else(|_| "[]".into()),
        request.budget.to_string(),
    ];
    // The function's environment as Lambda gives it, minus credentials; a proxy that refuses
    // every connection backs up the probe's own network block.
    let mut env: Vec<(String, String)> = request.env_vars.clone();
    env.extend(
        request
            .secrets
            .iter()
            .map(|name| (name.clone(), SECRET_PLACEHOLDER.to_string())),
    );
    env.extend(
        [
            ("AWS_REGION", request.region),
            ("AWS_DEFAULT_REGION", request.region),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("HTTP_PROXY", "http://127.0.0.1:9"),
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("LANG", "C.UTF-8"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut command = match python {
        Python::Local(python) => {
            let mut command = tokio::process::Command::new(python);
            // -I: nothing from the user's site or PYTHON* variables; -B: the import itself
            // writes no timestamp pycs (those the probe writes are the only ones).
            command
                .args(["-I", "-B", "-c", PROBE])
                .arg(request.artifact_dir)
                .arg("handler")
                .args(&probe_args)
                .current_dir(request.artifact_dir)
                .env_clear()
                .envs(env)
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", home.path())
                .env("LAMBDA_TASK_ROOT", request.artifact_dir);
            command
        }
        Python::BuildImage(image) => {
            let mut command = tokio::process::Command::new("docker");
            command.args(docker_args(
                image,
                request.runtime,
                request.artifact_dir,
                &env,
                &probe_args,
            ));
            // `-e NAME` takes the value from docker's own environment: none in argv.
            command
                .env_clear()
                .envs(env)
                .env("PATH", std::env::var_os("PATH").unwrap_or_default());
            if let Some(home) = std::env::var_os("HOME") {
                command.env("HOME", home);
            }
            command
        }
    };
    // Its own process group: whatever the agent's import starts (a forked daemon) is killed
    // with it, whether it answered, failed or ran out of time.
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| other(&e))?;
    let group = child.id().and_then(|pid| i32::try_from(pid).ok());
    let limit = import_time_limit();
    let waited = tokio::time::timeout(limit, child.wait_with_output()).await;
    if let Some(group) = group {
        // SAFETY: killpg only sends a signal; the group is the probe's own (process_group(0)).
        unsafe { libc::killpg(group, libc::SIGKILL) };
    }
    let output = waited
        .map_err(|_| ProbeFailure::NeverReturned(limit))?
        .map_err(|e| other(&e))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let answer: ProbeAnswer = text
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| other(&"the build-time import ended without an answer"))?;
    Ok((
        Bytecode {
            modules: answer.modules,
            bytes: answer.bytes,
            method: answer.method,
        },
        answer.error,
    ))
}

/// The top-level names of what the agent imports, for the fallback.
pub fn top_level_packages(imports: &[crate::lambda::agent::Import]) -> Vec<String> {
    let mut packages: Vec<String> = imports
        .iter()
        .map(|import| import.top_level().to_string())
        .filter(|name| !name.is_empty())
        .collect();
    packages.sort();
    packages.dedup();
    packages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_image_run_has_no_network_and_no_values_in_argv() {
        let dir = tempfile::tempdir().unwrap();
        let image = build_image(Runtime { minor: 13 }, Architecture::Arm64);
        assert_eq!(image, "public.ecr.aws/sam/build-python3.13:latest-arm64");
        let env = vec![
            ("MODEL_ID".to_string(), "a-model-id-value".to_string()),
            ("API_TOKEN".to_string(), SECRET_PLACEHOLDER.to_string()),
        ];
        let args = docker_args(
            &image,
            Runtime { minor: 13 },
            dir.path(),
            &env,
            &["[]".into(), "[]".into(), "100".into()],
        );
        let joined = args.join(" ");
        assert!(
            joined.starts_with("run --rm --network none --user "),
            "{joined}"
        );
        assert!(joined.contains(&format!(
            "-v {}:/var/task -w /var/task",
            dir.path().display()
        )));
        assert!(joined.contains("-e MODEL_ID -e API_TOKEN"), "{joined}");
        assert!(!joined.contains("a-model-id-value") && !joined.contains(SECRET_PLACEHOLDER));
        let image_at = args.iter().position(|a| *a == image).unwrap();
        assert_eq!(args[image_at + 1..image_at + 4], ["python3.13", "-I", "-B"]);
        assert!(joined.ends_with("/var/task handler [] [] 100"), "{joined}");
    }
}
