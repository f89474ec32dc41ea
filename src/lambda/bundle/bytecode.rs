//! Bytecode for what a cold start imports (reference §5 "Cold start", §6). Lambda's code
//! directory is read-only, so a function shipped without `__pycache__` compiles every module it
//! imports on every cold start (for strands-agents most of its INIT; bench/RESULTS.md). After
//! the build, the function's entry module is imported once with the runtime's own Python, as a
//! cold start would; the dependency modules it loaded are compiled as unchecked-hash pycs, and
//! agentdeploy's runtime beside the agent as checked-hash ones that ship with the code
//! (`templates/bytecode_probe.py` says why).
//!
//! That import runs the agent's own code, so it runs in `crate::sandbox` (no network, no view
//! of the deployer's processes or files, an empty environment but the function's variables with
//! secrets as placeholders, the artifact read-only at /var/task as on Lambda, a time limit that
//! kills all it started). The probe writes its pycs to a folder of their own, and only pycs of
//! modules the artifact or the code folder has are copied in. Where this machine cannot isolate the import, or
//! with `--no-import-probe`, no agent code runs: the packages the agent imports are compiled.
//!
//! What stops the deploy: an import that never returns, and one that fails the way Lambda's
//! INIT would fail too (the probe's `judge` says which: a SyntaxError, a NameError, a module
//! in neither the artifact nor the runtime, a name a pure-Python module lacks, `input()`).
//! Other failures
//! come from what the sandbox withholds (network, credentials, secret values) and only cost
//! bytecode: the agent's packages are compiled instead, with a warning.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::lambda::kinds::Architecture;
use crate::lambda::runtime::Runtime;

const PROBE: &str = include_str!("../../../templates/bytecode_probe.py");

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

/// Why the probe gave no bytecode: the import never returned or failed as Lambda's INIT would
/// (the deploy stops), or anything else (the deploy goes on without bytecode).
enum ProbeFailure {
    NeverReturned(Duration),
    Fatal(FatalImport),
    Other(String),
}

/// An import failure every cold start would have too (see the probe's `judge`).
#[derive(Debug, Deserialize)]
struct FatalImport {
    error: String,
    /// The artifact's file and line it was raised in, when the traceback shows one.
    file: Option<String>,
    line: Option<u64>,
}

/// How long the sandbox's launcher may take to stop its namespace once asked.
const LAUNCHER_STOP_LIMIT: Duration = Duration::from_secs(30);

/// Secret values never reach the build; code that reads one at import sees this.
const SECRET_PLACEHOLDER: &str = "agentdeploy-build-time-placeholder";

/// Where the function's code is on Lambda, and so in the sandbox.
const TASK_ROOT: &str = "/var/task";
/// Where the sandbox writes its pycs.
const BYTECODE_OUT: &str = "/var/agentdeploy-bytecode";

use crate::build_report::Bytecode;

pub struct BytecodeRequest<'a> {
    pub artifact_dir: &'a Path,
    /// The artifact folder ships (a built folder) and takes the dependencies' pycs; else it is
    /// only where the import runs (reused dependencies, whose zip has its pycs), and only the
    /// code's pycs are kept.
    pub artifact_ships: bool,
    /// The project's code (`<out-dir>/src`: the handler, the runtime package, local modules). The
    /// dependency zip is reused across code changes, so their pycs go here, checked-hash, and
    /// ship with the code.
    pub code_dir: &'a Path,
    /// The agent's file, for naming it where the import failed (the artifact has it as
    /// `handler.py`, line for line).
    pub agent_file: &'a str,
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
    /// `false` with `--no-import-probe`: no agent code runs; its packages are compiled.
    pub import_probe: bool,
    /// The module Lambda imports first, imported as a cold start would.
    pub entry_module: &'a str,
}

/// How the build-time import will run on this machine, for the plan: `Ok` isolated (and how),
/// `Err` why it will not run.
pub fn import_isolation(
    runtime: Runtime,
    import_probe: bool,
) -> std::result::Result<String, String> {
    if !import_probe {
        return Err("--no-import-probe: the agent's code is not run at build time".into());
    }
    let Some(python) = crate::lambda::tools::runtime_interpreter(runtime) else {
        return Ok(format!(
            "in sam's build image when Docker answers ({})",
            CONTAINER_ISOLATION
        ));
    };
    let binds = interpreter_binds(&python).map_err(cannot_isolate)?;
    crate::sandbox::available(&binds)
        .map(|()| format!("in a sandbox: {}", crate::sandbox::ISOLATION))
        .map_err(cannot_isolate)
}

/// Why the agent's import is not run here, as the plan, the report and the warning say it.
fn cannot_isolate(why: String) -> String {
    format!("this machine cannot isolate it ({why})")
}

const CONTAINER_ISOLATION: &str =
    "no network, the artifact read-only, Docker's own process and filesystem namespaces";

/// Compiles and reports; the second value is a warning to show when something fell short. What
/// stops the deploy: an import that does not return within the time limit, or that fails as
/// every cold start would.
pub async fn compile(request: BytecodeRequest<'_>) -> Result<(Bytecode, Option<String>)> {
    let interpreter = request.runtime.interpreter();
    let python = match crate::lambda::tools::runtime_interpreter(request.runtime) {
        Some(python) => Python::Local(python),
        // sam's build image for the runtime has its interpreter (what a container build uses).
        None if crate::lambda::tools::docker_answers().await => {
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
        Ok((bytecode, warning)) => Ok((bytecode, warning)),
        Err(ProbeFailure::NeverReturned(limit)) => Err(Error::Build {
            message: format!(
                "importing the agent did not return within {} s: module-level code that never ends (a server started at import, `app.run()`, a sleep, `input()`) would keep every cold start from finishing Lambda's INIT",
                limit.as_secs()
            ),
            hint: "move that code under `if __name__ == \"__main__\":` or into the entry function"
                .into(),
        }),
        Err(ProbeFailure::Fatal(fatal)) => {
            let file = match fatal.file.as_deref() {
                Some(crate::lambda::render::HANDLER_FILE) | None => request.agent_file,
                Some(file) => file,
            };
            let place = match fatal.line {
                Some(line) => format!("{file}:{line}"),
                None => file.to_string(),
            };
            Err(Error::Build {
                message: format!(
                    "importing the agent fails at {place}: {}; Lambda's INIT would fail the same way on every cold start",
                    fatal.error
                ),
                hint: "fix the code there (or add the missing package to the requirements) and deploy again".into(),
            })
        }
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
    /// Modules whose pyc the artifact already ships, as the probe would write it (the reused
    /// dependencies of a code-only change): left in place, counted with the rest.
    #[serde(default)]
    shipped_modules: u64,
    #[serde(default)]
    shipped_bytes: u64,
    error: Option<String>,
    fatal: Option<FatalImport>,
}

/// Where the runtime's Python comes from.
enum Python {
    /// This machine's interpreter for the runtime.
    Local(PathBuf),
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

/// `docker run` of the probe in the build image: the artifact mounted read-only where Lambda
/// has it, the pycs written to their own folder, no network, files written as the artifact's
/// owner, variables by name only.
fn docker_args(
    image: &str,
    runtime: Runtime,
    artifact_dir: &Path,
    out_dir: &Path,
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
        format!("{}:{TASK_ROOT}:ro", artifact_dir.display()),
        "-v".into(),
        format!("{}:{BYTECODE_OUT}", out_dir.display()),
        "-w".into(),
        TASK_ROOT.into(),
        "-e".into(),
        format!("LAMBDA_TASK_ROOT={TASK_ROOT}"),
        "-e".into(),
        "HOME=/tmp".into(),
    ]);
    for (name, _) in env {
        args.extend(["-e".into(), name.clone()]);
    }
    args.extend([image.to_string(), runtime.interpreter()]);
    args.extend(probe_command(probe_args));
    args
}

/// The interpreter's arguments for the probe.
fn probe_command(probe_args: &[String]) -> Vec<String> {
    // -I: nothing from the user's site or PYTHON* variables; -B: the import itself writes no
    // timestamp pycs (those the probe writes are the only ones).
    let mut args: Vec<String> = ["-I", "-B", "-c", PROBE].map(String::from).to_vec();
    args.extend(probe_args.iter().cloned());
    args
}

/// The folders the sandbox needs for `python`: its installation, when it is not the system's.
/// `Err` when that folder would show the deployer's files (a home or a project).
fn interpreter_binds(python: &Path) -> std::result::Result<Vec<crate::sandbox::Bind>, String> {
    let real = std::fs::canonicalize(python).map_err(|e| format!("{}: {e}", python.display()))?;
    let Some(prefix) = real.parent().and_then(Path::parent) else {
        return Ok(Vec::new());
    };
    if ["/usr", "/usr/local", "/"]
        .iter()
        .any(|system| prefix == Path::new(system))
        && real.starts_with("/usr")
    {
        return Ok(Vec::new());
    }
    let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
    let cwd = std::env::current_dir().ok();
    if prefix == Path::new("/")
        || [home, cwd]
            .iter()
            .flatten()
            .any(|private| private.starts_with(prefix))
    {
        return Err(format!(
            "{} is installed in {}, which holds the deployer's own files",
            python.display(),
            prefix.display()
        ));
    }
    Ok(vec![crate::sandbox::Bind {
        host: prefix.to_path_buf(),
        inside: prefix.to_path_buf(),
    }])
}

/// The environment the import sees: the function's as Lambda gives it, minus credentials, with
/// secrets as placeholders.
fn import_env(request: &BytecodeRequest<'_>) -> Vec<(String, String)> {
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
            ("LANG", "C.UTF-8"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env
}

/// The probe's arguments, for an artifact and output folder where the interpreter sees them.
struct ProbeArgs {
    entry_module: String,
    /// The agent's own files (relative): never compiled (a code-only change reuses the
    /// dependency zip, and the code's pycs would have to follow every change).
    skip: String,
    /// agentdeploy's runtime files beside them: compiled checked-hash, shipped with the code.
    runtime: String,
    packages: String,
    budget: String,
    /// `all`, or `code` when the artifact does not ship (see the probe).
    scope: &'static str,
}

impl ProbeArgs {
    fn new(request: &BytecodeRequest<'_>) -> ProbeArgs {
        let (runtime, skip): (Vec<String>, Vec<String>) =
            crate::lambda::bundle::artifact::files_below(request.code_dir)
                .iter()
                .filter_map(|p| p.strip_prefix(request.code_dir).ok())
                .map(|p| p.to_string_lossy().into_owned())
                .partition(|relative| crate::lambda::render::is_runtime_file(relative));
        let json = |list: &Vec<String>| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
        ProbeArgs {
            entry_module: request.entry_module.to_string(),
            skip: json(&skip),
            runtime: json(&runtime),
            packages: serde_json::to_string(&request.packages).unwrap_or_else(|_| "[]".into()),
            budget: request.budget.to_string(),
            scope: if request.artifact_ships {
                "all"
            } else {
                "code"
            },
        }
    }

    fn for_run(&self, artifact: &str, out: &str, mode: &str) -> Vec<String> {
        [
            artifact,
            &self.entry_module,
            &self.skip,
            &self.runtime,
            &self.packages,
            &self.budget,
            out,
            mode,
            self.scope,
        ]
        .map(String::from)
        .to_vec()
    }
}

fn other_failure(e: &dyn std::fmt::Display) -> ProbeFailure {
    ProbeFailure::Other(e.to_string())
}

async fn run_probe(
    python: &Python,
    request: &BytecodeRequest<'_>,
) -> std::result::Result<(Bytecode, Option<String>), ProbeFailure> {
    let out = tempfile::tempdir().map_err(|e| other_failure(&e))?;
    let args = ProbeArgs::new(request);
    let (answer, isolation, warning) = match python {
        Python::Local(python) => {
            match import_sandboxed(python, request, &args, out.path()).await? {
                Ok(answer) => (answer, "sandbox".to_string(), None),
                Err(why) => {
                    let answer = compile_unsandboxed(python, request, &args, out.path()).await?;
                    let warning = (why != "--no-import-probe").then(|| {
                    format!(
                        "the agent's import was not run at build time: {why}; compiled the packages it imports instead (--no-import-probe skips the import without this warning)"
                    )
                });
                    (answer, format!("not run: {why}"), warning)
                }
            }
        }
        Python::BuildImage(image) => {
            let answer = run_in_build_image(image, request, &args, out.path()).await?;
            let isolation = if request.import_probe {
                "container"
            } else {
                "not run: --no-import-probe"
            };
            (answer, isolation.to_string(), None)
        }
    };
    if let Some(fatal) = answer.fatal {
        return Err(ProbeFailure::Fatal(fatal));
    }
    let (modules, bytes) = copy_bytecode(
        out.path(),
        request.artifact_dir,
        request.code_dir,
        request.budget,
        request.artifact_ships,
    )
    .map_err(|e| other_failure(&e))?;
    let warning = warning.or_else(|| {
        answer.error.map(|error| {
            format!(
                "importing the handler at build time failed ({error}): the sandbox has no network, credentials or secret values, so this may work on Lambda; compiled the packages the agent imports instead"
            )
        })
    });
    Ok((
        Bytecode {
            modules: modules + answer.shipped_modules,
            bytes: bytes + answer.shipped_bytes,
            method: answer.method,
            isolation,
        },
        warning,
    ))
}

/// The import in `crate::sandbox`: `Ok(Err(why))` when it could not run there (the machine
/// cannot isolate, or `--no-import-probe`), and then nothing of the agent's ran.
async fn import_sandboxed(
    python: &Path,
    request: &BytecodeRequest<'_>,
    args: &ProbeArgs,
    out: &Path,
) -> std::result::Result<std::result::Result<ProbeAnswer, String>, ProbeFailure> {
    if !request.import_probe {
        return Ok(Err("--no-import-probe".to_string()));
    }
    let binds = match interpreter_binds(python) {
        Ok(binds) => binds,
        Err(why) => return Ok(Err(cannot_isolate(why))),
    };
    let spec = crate::sandbox::Spec {
        read_only: [crate::sandbox::Bind {
            host: request.artifact_dir.to_path_buf(),
            inside: TASK_ROOT.into(),
        }]
        .into_iter()
        .chain(binds)
        .collect(),
        writable: vec![crate::sandbox::Bind {
            host: out.to_path_buf(),
            inside: BYTECODE_OUT.into(),
        }],
        cwd: TASK_ROOT.into(),
        program: python.to_path_buf(),
        args: probe_command(&args.for_run(TASK_ROOT, BYTECODE_OUT, "import")),
        check_only: false,
    };
    let mut env = import_env(request);
    env.extend(
        [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/tmp"),
            ("LAMBDA_TASK_ROOT", TASK_ROOT),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let command = crate::sandbox::command(&spec, &env).map_err(|e| other_failure(&e))?;
    Ok(match run_limited(command).await? {
        Launched::Ran(answer) => Ok(answer),
        Launched::Unavailable(why) => Err(cannot_isolate(why)),
    })
}

/// The packages the agent imports compiled without running any of its code (the probe's
/// `compile` mode imports nothing), so it needs no sandbox.
async fn compile_unsandboxed(
    python: &Path,
    request: &BytecodeRequest<'_>,
    args: &ProbeArgs,
    out: &Path,
) -> std::result::Result<ProbeAnswer, ProbeFailure> {
    let artifact = request.artifact_dir.to_string_lossy();
    let mut command = tokio::process::Command::new(python);
    command
        .args(probe_command(&args.for_run(
            &artifact,
            &out.to_string_lossy(),
            "compile",
        )))
        .current_dir(request.artifact_dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LANG", "C.UTF-8");
    match run_limited(command).await? {
        Launched::Ran(answer) => Ok(answer),
        Launched::Unavailable(_) => Err(other_failure(&"the compile step ended without an answer")),
    }
}

/// The probe in sam's build image for the runtime (no interpreter for it here).
async fn run_in_build_image(
    image: &str,
    request: &BytecodeRequest<'_>,
    args: &ProbeArgs,
    out: &Path,
) -> std::result::Result<ProbeAnswer, ProbeFailure> {
    let mode = if request.import_probe {
        "import"
    } else {
        "compile"
    };
    let env = import_env(request);
    let mut command = tokio::process::Command::new("docker");
    command.args(docker_args(
        image,
        request.runtime,
        request.artifact_dir,
        out,
        &env,
        &args.for_run(TASK_ROOT, BYTECODE_OUT, mode),
    ));
    // `-e NAME` takes the value from docker's own environment: none in argv.
    command
        .env_clear()
        .envs(env)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    if let Some(home) = std::env::var_os("HOME") {
        command.env("HOME", home);
    }
    match run_limited(command).await? {
        Launched::Ran(answer) => Ok(answer),
        Launched::Unavailable(_) => Err(other_failure(&"docker ended without an answer")),
    }
}

/// What a probe run came to.
enum Launched {
    Ran(ProbeAnswer),
    /// The sandbox's launcher could not isolate (`crate::sandbox::UNAVAILABLE_EXIT`).
    Unavailable(String),
}

/// Runs the probe in its own process group with the time limit, and kills the group whatever
/// the outcome (a daemon the import forked outside the sandbox's PID namespace dies with it).
async fn run_limited(
    mut command: tokio::process::Command,
) -> std::result::Result<Launched, ProbeFailure> {
    let other = other_failure;
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(|e| other(&e))?;
    let pid = child.id().and_then(|pid| i32::try_from(pid).ok());
    let mut stdout = child.stdout.take();
    let limit = import_time_limit();
    let waited = tokio::time::timeout(limit, async {
        let mut text = Vec::new();
        if let Some(stdout) = stdout.as_mut() {
            use tokio::io::AsyncReadExt;
            let _ = stdout.read_to_end(&mut text).await;
        }
        child.wait().await.map(|status| (status, text))
    })
    .await;
    if waited.is_err()
        && let Some(pid) = pid
    {
        // Out of time: the sandbox's launcher, asked to stop, kills the import (its PID 1) and
        // returns once the kernel has killed everything in the namespace; wait for that, so
        // nothing the import started outlives the deploy.
        // SAFETY: kill only sends a signal, to our own child.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = tokio::time::timeout(LAUNCHER_STOP_LIMIT, child.wait()).await;
    }
    if let Some(group) = pid {
        // Whatever the outcome, the group goes: what ran outside a sandbox (the compile step,
        // docker's client) and the launcher itself, if it did not stop.
        // SAFETY: killpg only sends a signal; the group is the probe's own (process_group(0)).
        unsafe { libc::killpg(group, libc::SIGKILL) };
    }
    let (status, stdout) = waited
        .map_err(|_| ProbeFailure::NeverReturned(limit))?
        .map_err(|e| other(&e))?;
    let output = std::process::Output {
        status,
        stdout,
        stderr: Vec::new(),
    };
    let text = String::from_utf8_lossy(&output.stdout);
    if output.status.code() == Some(crate::sandbox::UNAVAILABLE_EXIT)
        && let Some(why) = crate::sandbox::unavailable_reason(&text)
    {
        return Ok(Launched::Unavailable(why));
    }
    text.lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .map(Launched::Ran)
        .ok_or_else(|| other(&"the build-time import ended without an answer"))
}

/// Copies the pycs the probe wrote: only regular files at `<dir>/__pycache__/<module>.<tag>.pyc`
/// whose `<dir>/<module>.py` is a regular file, within the size budget; those of the project's
/// own code into `code_dir` (they ship with the code, rebuilt every deploy), the rest into the
/// artifact (the dependencies, reused). The probe ran the agent's code, so nothing else it
/// wrote is trusted: no link is followed, no other name is taken. Returns (modules, bytes).
fn copy_bytecode(
    out: &Path,
    artifact: &Path,
    code_dir: &Path,
    budget: u64,
    artifact_ships: bool,
) -> std::io::Result<(u64, u64)> {
    let (mut modules, mut bytes) = (0, 0);
    for pyc in crate::lambda::bundle::artifact::files_below(out) {
        let Ok(relative) = pyc.strip_prefix(out) else {
            continue;
        };
        let Some(source) = source_of_pyc(relative) else {
            continue;
        };
        let is_regular =
            |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file());
        let root = if is_regular(&code_dir.join(&source)) {
            code_dir
        } else if artifact_ships {
            artifact
        } else {
            continue;
        };
        let source = root.join(source);
        let cache_dir = root.join(relative.parent().unwrap_or(Path::new("")));
        if !is_regular(&source) || !is_regular(&pyc) {
            continue;
        }
        // The folder the pyc goes in is the source's own, not reached through a link.
        let Some(source_dir) = source.parent() else {
            continue;
        };
        if std::fs::symlink_metadata(source_dir).is_ok_and(|m| m.file_type().is_symlink())
            || std::fs::symlink_metadata(&cache_dir).is_ok_and(|m| !m.is_dir())
        {
            continue;
        }
        let size = std::fs::symlink_metadata(&pyc)?.len();
        if bytes + size > budget {
            continue;
        }
        std::fs::create_dir_all(&cache_dir)?;
        // Replaced, never written through: the file there may be a link into a cached set.
        let target = root.join(relative);
        if std::fs::symlink_metadata(&target).is_ok() {
            std::fs::remove_file(&target)?;
        }
        std::fs::copy(&pyc, target)?;
        modules += 1;
        bytes += size;
    }
    Ok((modules, bytes))
}

/// `a/b/__pycache__/m.cpython-313.pyc` → `a/b/m.py`; `None` for any other shape.
fn source_of_pyc(relative: &Path) -> Option<PathBuf> {
    use std::path::Component;
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let name = relative.file_name()?.to_str()?;
    let cache = relative.parent()?;
    if cache.file_name()? != "__pycache__" {
        return None;
    }
    let stem = name.strip_suffix(".pyc")?;
    let (module, tag) = stem.rsplit_once('.')?;
    if module.is_empty() || !tag.starts_with("cpython-") || module.contains('.') {
        return None;
    }
    Some(cache.parent()?.join(format!("{module}.py")))
}

/// The top-level names of what the agent imports, for the fallback.
pub fn top_level_packages(imports: &[crate::lambda::analyse::facts::Import]) -> Vec<String> {
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
        let out = tempfile::tempdir().unwrap();
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
            out.path(),
            &env,
            &["/var/task".into(), "handler".into(), "[]".into()],
        );
        let joined = args.join(" ");
        assert!(
            joined.starts_with("run --rm --network none --user "),
            "{joined}"
        );
        // The artifact read-only where Lambda has it; only the pycs' folder writable.
        assert!(joined.contains(&format!(
            "-v {}:/var/task:ro -v {}:/var/agentdeploy-bytecode -w /var/task",
            dir.path().display(),
            out.path().display()
        )));
        assert!(joined.contains("-e MODEL_ID -e API_TOKEN"), "{joined}");
        assert!(!joined.contains("a-model-id-value") && !joined.contains(SECRET_PLACEHOLDER));
        let image_at = args.iter().position(|a| *a == image).unwrap();
        assert_eq!(args[image_at + 1..image_at + 4], ["python3.13", "-I", "-B"]);
        assert!(joined.ends_with("/var/task handler []"), "{joined}");
    }

    #[test]
    fn only_pycs_of_the_artifacts_own_modules_are_copied_in() {
        let artifact = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let a = artifact.path();
        std::fs::create_dir_all(a.join("pkg")).unwrap();
        std::fs::write(a.join("pkg/mod.py"), "x = 1\n").unwrap();
        std::fs::write(a.join("top.py"), "y = 2\n").unwrap();
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "a deployer's file").unwrap();
        let o = out.path();
        for dir in [
            "pkg/__pycache__",
            "__pycache__",
            "nowhere/__pycache__",
            "elsewhere",
        ] {
            std::fs::create_dir_all(o.join(dir)).unwrap();
        }
        std::fs::write(o.join("pkg/__pycache__/mod.cpython-313.pyc"), b"pyc1").unwrap();
        std::fs::write(o.join("__pycache__/top.cpython-313.pyc"), b"pyc22").unwrap();
        // No source for it, not a pyc name, not a cache folder, and a link out of the sandbox.
        std::fs::write(o.join("nowhere/__pycache__/gone.cpython-313.pyc"), b"x").unwrap();
        std::fs::write(o.join("__pycache__/sitecustomize.py"), b"import os").unwrap();
        std::fs::write(o.join("elsewhere/top.cpython-313.pyc"), b"x").unwrap();
        std::os::unix::fs::symlink(secret.path(), o.join("__pycache__/evil.cpython-313.pyc"))
            .unwrap();
        std::fs::write(a.join("evil.py"), "").unwrap();

        let (modules, bytes) =
            copy_bytecode(o, a, Path::new("/nonexistent-code-dir"), 1_000, true).unwrap();
        assert_eq!((modules, bytes), (2, 9));
        assert_eq!(
            std::fs::read(a.join("pkg/__pycache__/mod.cpython-313.pyc")).unwrap(),
            b"pyc1"
        );
        assert_eq!(
            std::fs::read(a.join("__pycache__/top.cpython-313.pyc")).unwrap(),
            b"pyc22"
        );
        let copied: Vec<_> = crate::lambda::bundle::artifact::files_below(a)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pyc"))
            .collect();
        assert_eq!(copied.len(), 2, "{copied:?}");
        assert!(!a.join("__pycache__/sitecustomize.py").exists());
        // The budget is kept.
        let again = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(again.path().join("pkg")).unwrap();
        std::fs::write(again.path().join("pkg/mod.py"), "").unwrap();
        std::fs::write(again.path().join("top.py"), "").unwrap();
        assert_eq!(
            copy_bytecode(o, again.path(), Path::new("/nonexistent-code-dir"), 4, true).unwrap(),
            (1, 4)
        );
    }

    #[test]
    fn pycs_of_the_projects_own_code_ship_with_the_code_not_the_reused_dependencies() {
        let artifact = tempfile::tempdir().unwrap();
        let code = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        for root in [artifact.path(), code.path()] {
            std::fs::create_dir_all(root.join("agentdeploy_runtime")).unwrap();
            std::fs::write(root.join("agentdeploy_runtime/sessions.py"), "x = 1\n").unwrap();
        }
        std::fs::write(artifact.path().join("six.py"), "y = 2\n").unwrap();
        for pyc in [
            "agentdeploy_runtime/__pycache__/sessions.cpython-313.pyc",
            "__pycache__/six.cpython-313.pyc",
        ] {
            std::fs::create_dir_all(out.path().join(pyc).parent().unwrap()).unwrap();
            std::fs::write(out.path().join(pyc), b"pyc").unwrap();
        }
        let counted = copy_bytecode(out.path(), artifact.path(), code.path(), 1_000, true).unwrap();
        assert_eq!(counted, (2, 6));
        let runtime_pyc = "agentdeploy_runtime/__pycache__/sessions.cpython-313.pyc";
        assert!(code.path().join(runtime_pyc).is_file());
        assert!(!artifact.path().join(runtime_pyc).exists());
        assert!(
            artifact
                .path()
                .join("__pycache__/six.cpython-313.pyc")
                .is_file()
        );
    }

    #[test]
    fn a_pyc_names_its_source_or_nothing() {
        let source = |p: &str| source_of_pyc(Path::new(p));
        assert_eq!(
            source("a/b/__pycache__/m.cpython-313.pyc"),
            Some(PathBuf::from("a/b/m.py"))
        );
        assert_eq!(
            source("__pycache__/m.cpython-313.pyc"),
            Some(PathBuf::from("m.py"))
        );
        assert_eq!(source("../__pycache__/m.cpython-313.pyc"), None);
        assert_eq!(source("a/m.cpython-313.pyc"), None);
        assert_eq!(source("__pycache__/m.pyc"), None);
        assert_eq!(source("__pycache__/m.cpython-313.opt-1.pyc"), None);
    }

    #[test]
    fn an_interpreter_installed_over_the_deployers_files_is_not_shown_to_the_sandbox() {
        let home = std::fs::canonicalize(std::env::var("HOME").unwrap()).unwrap();
        let python = tempfile::Builder::new().tempdir_in(&home).unwrap();
        // `$HOME/<tmp>/python3.13`: its prefix would be the home folder itself.
        let loose = python.path().join("python3.13");
        std::fs::write(&loose, "").unwrap();
        let refused = interpreter_binds(&loose).unwrap_err();
        assert!(
            refused.contains("holds the deployer's own files"),
            "{refused}"
        );
        // An installation of its own is shown, read-only, where it is.
        std::fs::create_dir_all(python.path().join("cpython/bin")).unwrap();
        let installed = python.path().join("cpython/bin/python3.13");
        std::fs::write(&installed, "").unwrap();
        let binds = interpreter_binds(&installed).unwrap();
        assert_eq!(binds.len(), 1);
        assert_eq!(binds[0].host, python.path().join("cpython"));
        assert_eq!(binds[0].inside, binds[0].host);
        // The system's needs nothing more than the system folders.
        if Path::new("/usr/bin/python3").exists() {
            assert_eq!(
                interpreter_binds(Path::new("/usr/bin/python3")).unwrap(),
                vec![]
            );
        }
    }
}
