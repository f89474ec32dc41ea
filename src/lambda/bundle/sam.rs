//! `sam build` (reference §6) with an explicit template in the out-dir, and its fallbacks: the
//! container build, the cross-platform pip and uv installs. (`sam deploy` is `ship::sam_deploy`.)

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::lambda::bundle::resolve::{pip_python, platform_flags};
use crate::lambda::kinds::{Architecture, UseContainer};
use crate::lambda::runtime::Runtime;
use crate::lambda::tools::{SamCli, docker_answers, docker_error};
use crate::process::{ToolOptions, ToolRun, run_tool};

/// The logical id of the function in the rendered template (and its build folder).
pub const FUNCTION_LOGICAL_ID: &str = "AgentFunction";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildStrategy {
    /// `sam build` with the runtime's interpreter on PATH.
    Native,
    /// `sam build --use-container`.
    Container,
    /// `pip install --target --no-compile` with the platform flags, no interpreter needed.
    CrossPlatformPip,
    /// The same with uv (on PATH), which resolves and installs for the platform in one step.
    CrossPlatformUv,
}

impl BuildStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStrategy::Native => "native",
            BuildStrategy::Container => "container",
            BuildStrategy::CrossPlatformPip => "cross-platform-pip",
            BuildStrategy::CrossPlatformUv => "cross-platform-uv",
        }
    }
}

pub struct BuildRequest<'a> {
    pub sam: &'a SamCli,
    pub out_dir: &'a Path,
    pub runtime: Runtime,
    pub architecture: Architecture,
    pub use_container: UseContainer,
    /// Whether the cross-platform pip path may be used (AGENTDEPLOY_NO_CROSS_PLATFORM=1 turns it off).
    pub allow_cross_platform: bool,
    pub envs: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct BuildOutcome {
    pub strategy: BuildStrategy,
    pub artifact_dir: PathBuf,
}

pub fn build_dir(out_dir: &Path) -> PathBuf {
    out_dir.join(".aws-sam").join("build")
}

pub async fn build(request: &BuildRequest<'_>, tool: &ToolOptions<'_>) -> Result<BuildOutcome> {
    let build_dir = build_dir(request.out_dir);
    let outcome = |strategy| BuildOutcome {
        strategy,
        artifact_dir: build_dir.join(FUNCTION_LOGICAL_ID),
    };
    if request.use_container == UseContainer::Always {
        if !docker_answers().await {
            return Err(docker_error());
        }
        let run = sam_build(request, true, tool).await?;
        return if run.success {
            Ok(outcome(BuildStrategy::Container))
        } else {
            Err(build_failure(&run, request.runtime))
        };
    }
    let run = sam_build(request, false, tool).await?;
    if run.success {
        return Ok(outcome(BuildStrategy::Native));
    }
    if !run.text().contains("Binary validation failed for python") {
        return Err(build_failure(&run, request.runtime));
    }
    tracing::info!(
        "no {} on PATH for a native build; trying the fallbacks",
        request.runtime.interpreter()
    );
    match without_interpreter(request).await {
        Some(BuildStrategy::Container) => {
            let run = sam_build(request, true, tool).await?;
            if run.success {
                Ok(outcome(BuildStrategy::Container))
            } else {
                Err(build_failure(&run, request.runtime))
            }
        }
        Some(_) => {
            cross_platform_build(request, tool).await?;
            Ok(outcome(BuildStrategy::CrossPlatformPip))
        }
        None => Err(no_build_path(request.runtime)),
    }
}

/// Where a build goes when this machine has no interpreter for the runtime: the container when
/// `--use-container auto` and Docker answers, else the cross-platform path when it is allowed.
pub async fn without_interpreter(request: &BuildRequest<'_>) -> Option<BuildStrategy> {
    if request.use_container == UseContainer::Auto && docker_answers().await {
        Some(BuildStrategy::Container)
    } else if request.allow_cross_platform {
        Some(BuildStrategy::CrossPlatformPip)
    } else {
        None
    }
}

/// The function's build folder, emptied, for a build that fills it itself (not `sam build`).
fn fresh_artifact_dir(request: &BuildRequest<'_>) -> Result<PathBuf> {
    let artifact = build_dir(request.out_dir).join(FUNCTION_LOGICAL_ID);
    if artifact.exists() {
        std::fs::remove_dir_all(&artifact).map_err(|e| Error::io(&artifact, e))?;
    }
    std::fs::create_dir_all(&artifact).map_err(|e| Error::io(&artifact, e))?;
    Ok(artifact)
}

/// `sam build` with this machine's interpreter, no fallbacks: None when it failed (the caller
/// has another way).
pub async fn build_native(
    request: &BuildRequest<'_>,
    tool: &ToolOptions<'_>,
) -> Result<Option<BuildOutcome>> {
    let run = sam_build(request, false, tool).await?;
    Ok(run.success.then(|| BuildOutcome {
        strategy: BuildStrategy::Native,
        artifact_dir: build_dir(request.out_dir).join(FUNCTION_LOGICAL_ID),
    }))
}

/// What the last build put in the artifact: its dependency set and which files are our code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildMarker {
    pub deps_hash: String,
    pub strategy: BuildStrategy,
    pub code_files: Vec<String>,
}

const MARKER_FILE: &str = ".agentdeploy-build.json";

/// The dependency set's key for the shared zip and the incremental build. The prefix names how
/// the zip is made: a change there (v3: the bytecode of imports that failed and were caught)
/// must not reuse zips made the old way.
pub fn deps_hash(pins: &[String], runtime: Runtime, architecture: Architecture) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "deps-v3-bytecode\0{}\0{}\0",
        runtime.name(),
        architecture.as_str()
    ));
    for pin in pins {
        hasher.update(pin.as_bytes());
        hasher.update(b"\0");
    }
    crate::digest::hex_prefix(&hasher.finalize(), 16)
}

fn code_files(code_dir: &Path) -> Vec<String> {
    crate::lambda::bundle::artifact::files_below(code_dir)
        .into_iter()
        .filter_map(|p| {
            p.strip_prefix(code_dir)
                .ok()
                .map(|r| r.display().to_string())
        })
        .collect()
}

/// Records what the build produced, for the next run's incremental path.
pub fn write_marker(out_dir: &Path, deps_hash: &str, strategy: BuildStrategy) -> Result<()> {
    let marker = BuildMarker {
        deps_hash: deps_hash.to_string(),
        strategy,
        code_files: code_files(&out_dir.join("src")),
    };
    let text = serde_json::to_string_pretty(&marker).map_err(|e| Error::internal(e.to_string()))?;
    write_atomically(&build_dir(out_dir).join(MARKER_FILE), text.as_bytes())
}

/// When only the code changed since the last build (same resolved dependencies), the built
/// dependencies are kept and only the code files are replaced: no pip, no `sam build`.
pub fn try_incremental(out_dir: &Path, deps_hash: &str) -> Result<Option<BuildOutcome>> {
    let build_dir = build_dir(out_dir);
    let artifact = build_dir.join(FUNCTION_LOGICAL_ID);
    let Ok(text) = std::fs::read_to_string(build_dir.join(MARKER_FILE)) else {
        return Ok(None);
    };
    let Ok(marker) = serde_json::from_str::<BuildMarker>(&text) else {
        return Ok(None);
    };
    if marker.deps_hash != deps_hash || !artifact.is_dir() {
        return Ok(None);
    }
    for file in &marker.code_files {
        let path = artifact.join(file);
        if path.starts_with(&artifact) && path.is_file() {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    copy_tree(&out_dir.join("src"), &artifact)?;
    write_marker(out_dir, deps_hash, marker.strategy)?;
    Ok(Some(BuildOutcome {
        strategy: marker.strategy,
        artifact_dir: artifact,
    }))
}

pub fn no_build_path(runtime: Runtime) -> Error {
    Error::Build {
        message: format!(
            "Binary validation failed for python: no {} on PATH, Docker is not running, and the cross-platform pip build is turned off",
            runtime.interpreter()
        ),
        hint: format!(
            "three ways out: install {} and put it on PATH (native build); start Docker (container build, --use-container auto|always); or allow the cross-platform pip build (unset AGENTDEPLOY_NO_CROSS_PLATFORM)",
            runtime.interpreter()
        ),
    }
}

async fn sam_build(
    request: &BuildRequest<'_>,
    container: bool,
    tool: &ToolOptions<'_>,
) -> Result<ToolRun> {
    let mut args: Vec<String> = vec![
        "build".into(),
        "--template-file".into(),
        request.out_dir.join("template.yaml").display().to_string(),
        "--build-dir".into(),
        build_dir(request.out_dir).display().to_string(),
        "--config-file".into(),
        request.out_dir.join("samconfig.toml").display().to_string(),
    ];
    if container {
        args.push("--use-container".into());
    }
    let mut options = tool.clone();
    options.envs.extend(request.envs.iter().cloned());
    run_tool(&request.sam.path, &args, options).await
}

/// Dependencies installed for the target platform with pip, then the code copied beside them:
/// the same layout `sam build` produces, without needing the runtime's interpreter.
async fn cross_platform_build(request: &BuildRequest<'_>, tool: &ToolOptions<'_>) -> Result<()> {
    let artifact = fresh_artifact_dir(request)?;
    let code_dir = request.out_dir.join("src");
    let requirements = code_dir.join("requirements.txt");
    let has_requirements = std::fs::read_to_string(&requirements)
        .map(|t| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .unwrap_or(false);
    if has_requirements {
        let python = pip_python().await?;
        let mut args: Vec<String> = [
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--target",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(artifact.display().to_string());
        args.extend(platform_flags(request.runtime, request.architecture));
        args.push("-r".into());
        args.push(requirements.display().to_string());
        let run = run_tool(&python, &args, tool.clone()).await?;
        if !run.success {
            return Err(crate::lambda::bundle::resolve::resolution_error(
                &run.text(),
                request.runtime,
                request.architecture,
            ));
        }
    }
    copy_tree(&code_dir, &artifact)
}

/// The cross-platform path in one step, for a set not resolved yet: uv resolves the requirements
/// as given for the platform and installs them into the artifact (for the seed agent's 159 MB,
/// seconds, where pip's resolution and then its install take ~20 s), then the code goes beside
/// them. None when it fails: pip's path resolves again and names what has no wheel.
pub async fn cross_platform_uv(
    request: &BuildRequest<'_>,
    uv: &Path,
    specifiers: &[String],
    tool: &ToolOptions<'_>,
) -> Result<Option<BuildOutcome>> {
    let artifact = fresh_artifact_dir(request)?;
    let (_work, requirements) = crate::lambda::bundle::resolve::requirements_file(specifiers)?;
    let mut args: Vec<String> = ["pip", "install", "--quiet", "--target"]
        .map(String::from)
        .to_vec();
    args.push(artifact.display().to_string());
    args.extend([
        "--python-platform".into(),
        crate::lambda::bundle::resolve::uv_platform(request.runtime, request.architecture),
        "--python-version".into(),
        request.runtime.version(),
        "--only-binary".into(),
        ":all:".into(),
        "-r".into(),
        requirements.display().to_string(),
    ]);
    // Any Python serves (the target is given above); never a download of one.
    if let Ok(python) = pip_python().await {
        args.extend(["--python".into(), python.display().to_string()]);
    }
    let mut options = tool.clone();
    options
        .envs
        .push(("UV_PYTHON_DOWNLOADS".into(), "never".into()));
    // The index pip is configured with by environment, for uv too.
    for (pip, uv) in [
        ("PIP_INDEX_URL", "UV_DEFAULT_INDEX"),
        ("PIP_EXTRA_INDEX_URL", "UV_INDEX"),
    ] {
        if let (Ok(value), None) = (std::env::var(pip), std::env::var_os(uv)) {
            options.envs.push((uv.into(), value));
        }
    }
    let run = run_tool(uv, &args, options).await?;
    if !run.success {
        tracing::info!(
            "uv could not install the requirements ({}); resolving with pip",
            run.tail(4)
        );
        return Ok(None);
    }
    copy_tree(&request.out_dir.join("src"), &artifact)?;
    Ok(Some(BuildOutcome {
        strategy: BuildStrategy::CrossPlatformUv,
        artifact_dir: artifact,
    }))
}

/// Copies the rendered code into the artifact as it will ship (`walk::Links::Follow`).
pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for file in
        crate::walk::walk(from, crate::walk::Links::Follow).map_err(|e| Error::io(from, e))?
    {
        let target = to.join(&file.name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::copy(&file.path, &target).map_err(|e| Error::io(&file.path, e))?;
    }
    Ok(())
}

/// Turns sam's build output into an error with a hint.
pub fn build_failure(run: &ToolRun, runtime: Runtime) -> Error {
    let text = run.text();
    if let Some(rest) = text.split("PythonPipBuilder:ResolveDependencies - ").nth(1) {
        let packages = rest.lines().next().unwrap_or("").trim();
        return Error::Build {
            message: format!("sam build found no wheel for the Lambda platform: {packages}"),
            hint: format!(
                "the pinned resolution for {} should avoid this; pin a version that ships manylinux wheels, or use --use-container",
                runtime.name()
            ),
        };
    }
    Error::Build {
        message: format!("sam build failed:\n{}", run.tail(15)),
        hint: "rerun with -v to see all of sam's output; `agentdeploy doctor` checks the tools"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pillow_style_failures_name_the_package() {
        let run = ToolRun {
            success: false,
            code: Some(1),
            lines: vec![
                "Build Failed".into(),
                "Error: PythonPipBuilder:ResolveDependencies - {pillow==12.3.0(wheel)}".into(),
            ],
        };
        let err = build_failure(&run, Runtime { minor: 11 });
        assert!(err.to_string().contains("pillow==12.3.0"), "{err}");
    }
}
