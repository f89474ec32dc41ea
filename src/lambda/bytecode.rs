//! Bytecode for what a cold start imports (SPEC §5 "Cold start", §6). Lambda's code directory is
//! read-only, so a function shipped without `__pycache__` compiles every module it imports on
//! every cold start (measured for strands-agents + tools: 2.78 s of CPU to import, 0.85 s with
//! bytecode). After the build, the rendered handler is imported once with the runtime's own
//! Python in a sandboxed child (no AWS credentials, no network, the function's environment with
//! secrets as placeholders, a time limit), and the artifact's modules it loaded are compiled as
//! unchecked-hash pycs (`templates/bytecode_probe.py` says why). If the import fails, the
//! packages the agent imports are compiled instead, within the size budget. Never fails a deploy.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::Runtime;

const PROBE: &str = include_str!("../../templates/bytecode_probe.py");

/// The import may run agent code that waits on something; a cold start has 10 s of INIT.
const IMPORT_TIME_LIMIT: Duration = Duration::from_secs(120);

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
    /// The function's environment variables, and the secret names (given placeholders).
    pub env_vars: Vec<(String, String)>,
    pub secrets: &'a [String],
    pub region: &'a str,
    /// Top-level packages the agent imports, compiled when the import fails.
    pub packages: Vec<String>,
    /// Bytes the pycs may add before the artifact reaches Lambda's limit.
    pub budget: u64,
}

/// Compiles and reports; the second value is a warning to show when something fell short.
pub async fn compile(request: BytecodeRequest<'_>) -> (Bytecode, Option<String>) {
    let interpreter = request.runtime.interpreter();
    let python = match which::which(&interpreter) {
        Ok(path)
            if crate::tools::interpreter_version(&interpreter)
                == Some((3, u32::from(request.runtime.minor))) =>
        {
            path
        }
        _ => {
            return (
                Bytecode::none(),
                Some(format!(
                    "no {interpreter} here to compile the dependencies' bytecode: each cold start will compile what it imports (for strands-agents about 2.8 s of CPU instead of 0.9 s); install {interpreter} and deploy again"
                )),
            );
        }
    };
    match run_probe(&python, &request).await {
        Ok((bytecode, None)) => (bytecode, None),
        Ok((bytecode, Some(error))) => (
            bytecode,
            Some(format!(
                "importing the handler at build time failed ({error}); compiled the packages the agent imports instead"
            )),
        ),
        Err(problem) => (
            Bytecode::none(),
            Some(format!(
                "no bytecode shipped ({problem}); cold starts compile what they import"
            )),
        ),
    }
}

#[derive(Deserialize)]
struct ProbeAnswer {
    method: String,
    modules: u64,
    bytes: u64,
    error: Option<String>,
}

async fn run_probe(
    python: &Path,
    request: &BytecodeRequest<'_>,
) -> std::result::Result<(Bytecode, Option<String>), String> {
    let skip: Vec<String> = crate::lambda::artifact::files_below(request.code_dir)
        .iter()
        .filter_map(|p| p.strip_prefix(request.code_dir).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut command = tokio::process::Command::new(python);
    command
        // -I: nothing from the user's site or PYTHON* variables; -B: the import itself writes no
        // timestamp pycs (those the probe compiles are the only ones).
        .args(["-I", "-B", "-c", PROBE])
        .arg(request.artifact_dir)
        .arg("handler")
        .arg(serde_json::to_string(&skip).unwrap_or_else(|_| "[]".into()))
        .arg(serde_json::to_string(&request.packages).unwrap_or_else(|_| "[]".into()))
        .arg(request.budget.to_string())
        .current_dir(request.artifact_dir)
        // The function's environment as Lambda gives it, minus credentials; a proxy that
        // refuses every connection backs up the probe's own network block.
        .env_clear()
        .envs(request.env_vars.iter().cloned())
        .envs(
            request
                .secrets
                .iter()
                .map(|name| (name.clone(), SECRET_PLACEHOLDER.to_string())),
        )
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home.path())
        .env("LANG", "C.UTF-8")
        .env("AWS_REGION", request.region)
        .env("AWS_DEFAULT_REGION", request.region)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("LAMBDA_TASK_ROOT", request.artifact_dir)
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| e.to_string())?;
    let output = tokio::time::timeout(IMPORT_TIME_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "the build-time import took over {} s",
                IMPORT_TIME_LIMIT.as_secs()
            )
        })?
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let answer: ProbeAnswer = text
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| "the build-time import ended without an answer".to_string())?;
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
