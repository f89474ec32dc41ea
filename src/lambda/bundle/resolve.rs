//! Dependencies resolved for the Lambda platform (reference §6), cached by their inputs so unchanged
//! agents and fleets resolve each set once. Where a native `sam build` can run, it resolves
//! (as a plain `sam build` would) and the pins are read from what it installed; elsewhere (the
//! cross-platform path, a native build that failed such as python3.11's pillow, source-only
//! packages) pip's `--dry-run --report` with the runtime's platform tags, Python version and
//! `cp`, wheels only. The pinned list makes later builds reproducible.

use crate::lambda::analyse::requirements::normalize_name;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::lambda::kinds::Architecture;
use crate::lambda::runtime::Runtime;
use crate::process::{ToolOptions, run_tool};
use crate::timings;

/// The wheel platform's machine name for an architecture.
fn machine(architecture: Architecture) -> &'static str {
    match architecture {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "aarch64",
    }
}

/// The glibc levels a runtime's wheels may target, newest first: Amazon Linux 2023 (glibc 2.34)
/// for python3.12+, Amazon Linux 2 (`manylinux2014` only) before that.
fn manylinux_levels(runtime: Runtime) -> &'static [&'static str] {
    if runtime.on_amazon_linux_2023() {
        &["manylinux_2_34", "manylinux_2_28", "manylinux2014"]
    } else {
        &["manylinux2014"]
    }
}

/// pip's platform tags for a runtime (`manylinux_2_34_x86_64`, ...).
pub fn platform_tags(runtime: Runtime, architecture: Architecture) -> Vec<String> {
    let machine = machine(architecture);
    manylinux_levels(runtime)
        .iter()
        .map(|level| format!("{level}_{machine}"))
        .collect()
}

/// uv's name for the same platform (`--python-platform x86_64-manylinux_2_34`): the newest level
/// (uv accepts the older ones with it).
pub fn uv_platform(runtime: Runtime, architecture: Architecture) -> String {
    format!("{}-{}", machine(architecture), manylinux_levels(runtime)[0])
}

/// The flags that make pip pick wheels for the function's platform instead of this machine's.
pub fn platform_flags(runtime: Runtime, architecture: Architecture) -> Vec<String> {
    let mut flags = Vec::new();
    for tag in platform_tags(runtime, architecture) {
        flags.push("--platform".to_string());
        flags.push(tag);
    }
    flags.extend([
        "--python-version".to_string(),
        runtime.version(),
        "--implementation".to_string(),
        "cp".to_string(),
        "--only-binary=:all:".to_string(),
    ]);
    flags
}

/// A Python with pip, to run the resolver (any version: the target is given by flags). Looked
/// for once per run, off the async workers (it starts an interpreter).
pub async fn pip_python() -> Result<PathBuf> {
    static FOUND: tokio::sync::OnceCell<Option<PathBuf>> = tokio::sync::OnceCell::const_new();
    let found = FOUND
        .get_or_init(|| async {
            tokio::task::spawn_blocking(find_pip_python)
                .await
                .ok()
                .flatten()
        })
        .await;
    found.clone().ok_or_else(|| Error::Preflight {
        message:
            "no Python with pip on PATH (needed to resolve dependencies for the Lambda platform)"
                .into(),
        hint: "install python3 and pip (`apt-get install python3-pip`, `brew install python`)"
            .into(),
    })
}

fn find_pip_python() -> Option<PathBuf> {
    for candidate in ["python3", "python"] {
        if let Ok(path) = which::which(candidate) {
            let ok = std::process::Command::new(&path)
                .args(["-m", "pip", "--version"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(path);
            }
        }
    }
    None
}

use crate::build_report::ResolvedBy;

#[derive(Debug, Clone)]
pub struct Resolved {
    /// `name==version`, sorted by name.
    pub pins: Vec<String>,
    pub by: ResolvedBy,
    /// Locally built pure-Python wheels the pins need (`--find-links`), if any.
    pub wheelhouse: Option<PathBuf>,
}

pub fn cache_key(specifiers: &[String], runtime: Runtime, architecture: Architecture) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"resolve-v2\0");
    for spec in specifiers {
        hasher.update(spec.as_bytes());
        hasher.update(b"\0");
    }
    hasher.update(runtime.name().as_bytes());
    hasher.update(architecture.as_str().as_bytes());
    crate::digest::hex_prefix(&hasher.finalize(), 12)
}

/// Where the project cache keeps a set's resolution.
pub fn cache_file(
    cache_dir: &Path,
    specifiers: &[String],
    runtime: Runtime,
    architecture: Architecture,
) -> PathBuf {
    let key = cache_key(specifiers, runtime, architecture);
    cache_dir.join(format!("resolved-{key}.txt"))
}

pub struct ResolveRequest<'a> {
    pub specifiers: &'a [String],
    pub runtime: Runtime,
    pub architecture: Architecture,
    pub cache_dir: &'a Path,
    pub tool: ToolOptions<'a>,
}

/// The cached resolution of a set, or the turn to resolve it.
pub enum Lookup {
    Cached(Resolved),
    /// Nothing cached: whoever holds this resolves the set (pip, or a native build whose
    /// installed tree gives the pins) and stores it; fleet members with the same set wait for
    /// the turn and then find the result.
    Missing(Turn),
}

/// The key lock of one set's cache file, held while it is resolved.
pub struct Turn {
    _guard: tokio::sync::OwnedMutexGuard<()>,
    cache_file: PathBuf,
}

/// The set's cached resolution, after waiting for whoever is resolving it now.
pub async fn lookup(request: &ResolveRequest<'_>) -> Result<Lookup> {
    if request.specifiers.is_empty() {
        return Ok(Lookup::Cached(Resolved {
            pins: Vec::new(),
            by: ResolvedBy::Cache,
            wheelhouse: None,
        }));
    }
    let cache_file = cache_file(
        request.cache_dir,
        request.specifiers,
        request.runtime,
        request.architecture,
    );
    let key_lock = crate::lambda::bundle::key_lock::for_path(&cache_file);
    // Waiting for another member's resolution counts as pip time.
    let guard = timings::timed(timings::Category::Pip, key_lock.lock_owned()).await;
    if let Ok(text) = std::fs::read_to_string(&cache_file) {
        let pins: Vec<String> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        let wheelhouse = text
            .lines()
            .find_map(|l| l.strip_prefix(FIND_LINKS_PREFIX))
            .map(PathBuf::from)
            .filter(|dir| dir.is_dir());
        let needs_wheelhouse = text.contains(FIND_LINKS_PREFIX);
        if !pins.is_empty() && (wheelhouse.is_some() || !needs_wheelhouse) {
            return Ok(Lookup::Cached(Resolved {
                pins,
                by: ResolvedBy::Cache,
                wheelhouse,
            }));
        }
    }
    Ok(Lookup::Missing(Turn {
        _guard: guard,
        cache_file,
    }))
}

/// The pins of what a build installed into `installed` (its `*.dist-info/METADATA`), stored as
/// the set's resolution. The turn is kept by the caller until the build is packaged, so fleet
/// members reuse the build too.
pub fn from_installed(
    request: &ResolveRequest<'_>,
    turn: &Turn,
    by: ResolvedBy,
    installed: &Path,
    code_dir: &Path,
) -> Result<Resolved> {
    // A distribution vendored in the agent's own folder is code, not a requirement.
    let vendored = installed_pins(code_dir).unwrap_or_default();
    let pins: Vec<String> = installed_pins(installed)?
        .into_iter()
        .filter(|pin| !vendored.contains(pin))
        .collect();
    if pins.is_empty() {
        return Err(Error::internal(format!(
            "the build installed no distributions into {}",
            installed.display()
        )));
    }
    store(request, turn, &pins, by, None)?;
    Ok(Resolved {
        pins,
        by,
        wheelhouse: None,
    })
}

/// `name==version` of every distribution installed directly below `dir`, sorted.
pub fn installed_pins(dir: &Path) -> Result<Vec<String>> {
    let mut pins = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
    {
        let folder = entry.file_name().to_string_lossy().into_owned();
        if !folder.ends_with(".dist-info") {
            continue;
        }
        let metadata = entry.path().join("METADATA");
        let text = std::fs::read_to_string(&metadata).map_err(|e| Error::io(&metadata, e))?;
        let header = |key: &str| {
            text.lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.trim().to_string())
        };
        if let (Some(name), Some(version)) = (header("Name:"), header("Version:")) {
            pins.push(format!("{}=={version}", normalize_name(&name)));
        }
    }
    pins.sort();
    pins.dedup();
    Ok(pins)
}

/// The specifiers as `requirements.txt` in a new temporary folder (gone with the folder), for a
/// resolver to read.
pub fn requirements_file(specifiers: &[String]) -> Result<(tempfile::TempDir, PathBuf)> {
    let work =
        tempfile::tempdir().map_err(|e| Error::internal(format!("temporary directory: {e}")))?;
    let requirements = work.path().join("requirements.txt");
    std::fs::write(&requirements, specifiers.join("\n") + "\n")
        .map_err(|e| Error::io(&requirements, e))?;
    Ok((work, requirements))
}

/// pip's dry-run report → source-only fallbacks → cache write, in the turn.
pub async fn with_pip(request: &ResolveRequest<'_>, turn: Turn) -> Result<Resolved> {
    let python = pip_python().await?;
    let (work, requirements) = requirements_file(request.specifiers)?;
    let report = work.path().join("report.json");
    let target = work.path().join("target");
    let first = platform_dry_run(&python, &requirements, &report, &target, None, request).await?;
    let mut wheelhouse = None;
    if !first.success {
        // Some distributions publish only source archives. Pure-Python ones can be built into
        // platform-independent wheels here and then resolved like any other wheel.
        let original = resolution_error(&first.text(), request.runtime, request.architecture);
        let sdists =
            source_only_distributions(&python, &requirements, work.path(), request).await?;
        if sdists.is_empty() {
            return Err(original);
        }
        let house = request.cache_dir.join("wheels");
        build_pure_wheels(&python, &sdists, &house, request).await?;
        let second = platform_dry_run(
            &python,
            &requirements,
            &report,
            &target,
            Some(&house),
            request,
        )
        .await?;
        if !second.success {
            return Err(resolution_error(
                &second.text(),
                request.runtime,
                request.architecture,
            ));
        }
        wheelhouse = Some(house);
    }
    let pins = read_report(&report)?;
    store(
        request,
        &turn,
        &pins,
        ResolvedBy::Pip,
        wheelhouse.as_deref(),
    )?;
    Ok(Resolved {
        pins,
        by: ResolvedBy::Pip,
        wheelhouse,
    })
}

fn store(
    request: &ResolveRequest<'_>,
    turn: &Turn,
    pins: &[String],
    by: ResolvedBy,
    wheelhouse: Option<&Path>,
) -> Result<()> {
    let cache_file = &turn.cache_file;
    if let Some(parent) = cache_file.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let mut text = format!(
        "# resolved for {} {} by {} from: {}\n",
        request.runtime.name(),
        request.architecture.as_str(),
        match by {
            ResolvedBy::SamBuild => "sam build",
            ResolvedBy::Uv => "uv",
            ResolvedBy::Pip | ResolvedBy::Cache => "pip",
        },
        request.specifiers.join(", ")
    );
    if let Some(house) = wheelhouse {
        text.push_str(&format!("{FIND_LINKS_PREFIX}{}\n", house.display()));
    }
    text.push_str(&pins.join("\n"));
    text.push('\n');
    write_atomically(cache_file, text.as_bytes())
}

/// How the cache file records the folder of locally built wheels.
const FIND_LINKS_PREFIX: &str = "# find-links: ";

async fn platform_dry_run(
    python: &Path,
    requirements: &Path,
    report: &Path,
    target: &Path,
    find_links: Option<&Path>,
    request: &ResolveRequest<'_>,
) -> Result<crate::process::ToolRun> {
    let mut args = dry_run_args(report);
    args.push("--target".into());
    args.push(target.display().to_string());
    if let Some(dir) = find_links {
        args.push("--find-links".into());
        args.push(dir.display().to_string());
    }
    args.extend(platform_flags(request.runtime, request.architecture));
    args.push("-r".into());
    args.push(requirements.display().to_string());
    run_tool(python, &args, request.tool.clone()).await
}

/// `pip install --dry-run` that resolves without installing and writes its report to `report`.
fn dry_run_args(report: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--disable-pip-version-check",
        "--quiet",
        "--report",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(report.display().to_string());
    args
}

/// (name, version) of the distributions that only exist as source archives, from a resolution
/// for this machine (which may build from source).
async fn source_only_distributions(
    python: &Path,
    requirements: &Path,
    work: &Path,
    request: &ResolveRequest<'_>,
) -> Result<Vec<(String, String)>> {
    let report = work.join("host-report.json");
    let mut args = dry_run_args(&report);
    args.push("-r".into());
    args.push(requirements.display().to_string());
    let run = run_tool(python, &args, request.tool.clone()).await?;
    if !run.success {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&report).map_err(|e| Error::io(&report, e))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("pip's report is not JSON: {e}")))?;
    Ok(report["install"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|item| {
                    item["download_info"]["url"]
                        .as_str()
                        .is_some_and(|url| !url.ends_with(".whl"))
                })
                .filter_map(|item| {
                    Some((
                        item["metadata"]["name"].as_str()?.to_string(),
                        item["metadata"]["version"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Builds each source distribution with the C compiler disabled (optional speed-ups fall back
/// to pure Python) and accepts only platform-independent `py*-none-any` wheels.
async fn build_pure_wheels(
    python: &Path,
    sdists: &[(String, String)],
    wheelhouse: &Path,
    request: &ResolveRequest<'_>,
) -> Result<()> {
    std::fs::create_dir_all(wheelhouse).map_err(|e| Error::io(wheelhouse, e))?;
    let build_dir =
        tempfile::tempdir().map_err(|e| Error::internal(format!("temporary directory: {e}")))?;
    let mut args: Vec<String> = [
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--disable-pip-version-check",
        "--quiet",
        "-w",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(build_dir.path().display().to_string());
    args.extend(
        sdists
            .iter()
            .map(|(name, version)| format!("{name}=={version}")),
    );
    let mut tool = request.tool.clone();
    tool.envs.extend([
        ("CC".to_string(), "false".to_string()),
        ("CXX".to_string(), "false".to_string()),
    ]);
    let run = run_tool(python, &args, tool).await?;
    let names: Vec<String> = sdists.iter().map(|(n, v)| format!("{n}=={v}")).collect();
    if !run.success {
        return Err(Error::Build {
            message: format!(
                "no wheel of {} for the Lambda platform ({} {}: {}), and building one from source failed:\n{}",
                names.join(", "),
                request.runtime.name(),
                request.architecture.as_str(),
                platform_tags(request.runtime, request.architecture).join(", "),
                run.tail(8)
            ),
            hint: "pin versions that publish manylinux wheels, or vendor a wheel into the agent directory".into(),
        });
    }
    for entry in std::fs::read_dir(build_dir.path())
        .map_err(|e| Error::io(build_dir.path(), e))?
        .flatten()
    {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !(file.ends_with("-none-any.whl")
            && (file.contains("-py3-") || file.contains("-py2.py3-")))
        {
            return Err(Error::Build {
                message: format!("no wheel of {file} for the Lambda platform, and its source builds compiled code"),
                hint: "pin a version that publishes manylinux wheels, or use --use-container to build it on Amazon Linux".into(),
            });
        }
        let target = wheelhouse.join(&file);
        std::fs::copy(entry.path(), &target).map_err(|e| Error::io(&target, e))?;
    }
    Ok(())
}

fn read_report(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let report: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::internal(format!("pip's report is not JSON: {e}")))?;
    let mut pins: Vec<String> = report["install"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let name = item["metadata"]["name"].as_str()?;
                    let version = item["metadata"]["version"].as_str()?;
                    Some(format!("{}=={version}", normalize_name(name)))
                })
                .collect()
        })
        .unwrap_or_default();
    pins.sort();
    Ok(pins)
}

/// pip's failure, with the package that has no wheel for the platform named.
pub fn resolution_error(output: &str, runtime: Runtime, architecture: Architecture) -> Error {
    let platform = platform_tags(runtime, architecture).join(", ");
    let missing = output
        .lines()
        .find_map(|l| l.split("No matching distribution found for ").nth(1))
        .map(|s| s.trim().to_string());
    match missing {
        Some(package) => Error::Build {
            message: format!("no wheel of {package} for the Lambda platform ({} {}: {platform})", runtime.name(), architecture.as_str()),
            hint: format!(
                "pin a version of {package} that ships manylinux wheels for {}, try another --runtime or --architecture, or vendor a wheel into the agent directory",
                runtime.name()
            ),
        },
        None => Error::Build {
            message: format!("resolving dependencies for {} {} failed:\n{}", runtime.name(), architecture.as_str(), last_lines(output, 12)),
            hint: "check the requirements (names, versions, conflicts); rerun with -v to see pip's output".into(),
        },
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;

    #[test]
    fn amazon_linux_2023_and_2_tags() {
        assert_eq!(
            platform_tags(Runtime { minor: 13 }, Architecture::X86_64),
            [
                "manylinux_2_34_x86_64",
                "manylinux_2_28_x86_64",
                "manylinux2014_x86_64"
            ]
        );
        assert_eq!(
            platform_tags(Runtime { minor: 11 }, Architecture::X86_64),
            ["manylinux2014_x86_64"]
        );
        assert_eq!(
            platform_tags(Runtime { minor: 12 }, Architecture::Arm64)[0],
            "manylinux_2_34_aarch64"
        );
        assert_eq!(
            uv_platform(Runtime { minor: 13 }, Architecture::Arm64),
            "aarch64-manylinux_2_34"
        );
        assert_eq!(
            uv_platform(Runtime { minor: 11 }, Architecture::X86_64),
            "x86_64-manylinux2014"
        );
        let flags = platform_flags(Runtime { minor: 14 }, Architecture::X86_64).join(" ");
        assert!(
            flags.ends_with("--python-version 3.14 --implementation cp --only-binary=:all:"),
            "{flags}"
        );
    }

    #[test]
    fn names_are_normalised() {
        assert_eq!(normalize_name("Pydantic_Core"), "pydantic-core");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("a__-b"), "a-b");
    }

    #[test]
    fn cache_key_depends_on_every_input() {
        let a = cache_key(&["x".into()], Runtime { minor: 13 }, Architecture::X86_64);
        assert_ne!(
            a,
            cache_key(&["y".into()], Runtime { minor: 13 }, Architecture::X86_64)
        );
        assert_ne!(
            a,
            cache_key(&["x".into()], Runtime { minor: 12 }, Architecture::X86_64)
        );
        assert_ne!(
            a,
            cache_key(&["x".into()], Runtime { minor: 13 }, Architecture::Arm64)
        );
    }

    #[test]
    fn missing_wheel_is_named() {
        let e = resolution_error(
            "ERROR: Could not find a version that satisfies the requirement nowheel-pkg (from versions: none)\nERROR: No matching distribution found for nowheel-pkg\n",
            Runtime { minor: 13 },
            Architecture::X86_64,
        );
        assert!(
            e.to_string()
                .contains("no wheel of nowheel-pkg for the Lambda platform"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 4);
    }
}
