//! The build pipeline of one deploy (reference §6): pin the requirements for Lambda's platform,
//! build the dependencies or reuse them, compile their bytecode, check the size, package the
//! zip and write the template `sam deploy` uploads. Local work: `ship::deploy` runs it and then
//! talks to AWS.

use crate::aws::AwsContext;
use crate::error::Result;
use crate::files::write_atomically;
use crate::lambda::LambdaPlan;
use crate::lambda::bundle::sam::{self, BuildRequest, BuildStrategy};
use crate::lambda::bundle::task_root::TaskRoot;
use crate::lambda::bundle::{artifact, bytecode, key_lock, package, resolve};
use crate::lambda::kinds::UseContainer;
use crate::lambda::render;
use crate::lambda::settings::LambdaSettings;
use crate::lambda::tools::SamCli;
use crate::process::ToolOptions;
use crate::secrets::SecretValues;
use crate::target::Phase;
use crate::timings;

pub struct StackRequest<'a> {
    pub settings: &'a LambdaSettings,
    pub plan: &'a LambdaPlan,
    pub aws: &'a AwsContext,
    /// The sam CLI when the caller has looked for it; else looked for when first needed (a
    /// sync on cached dependencies never needs it).
    pub sam: Option<&'a SamCli>,
    pub secrets: &'a SecretValues,
    /// The secret values' keyed digest: passed as the version's code hash, so a new value
    /// publishes a new version.
    pub secrets_version: Option<&'a str>,
    /// Keep `live` on this version (the template's live-version parameter).
    pub hold_live: Option<&'a str>,
    pub tool: ToolOptions<'a>,
}

impl StackRequest<'_> {
    pub(crate) async fn sam(&self) -> Result<SamCli> {
        match self.sam {
            Some(sam) => Ok(sam.clone()),
            None => crate::lambda::tools::sam_cli().await,
        }
    }
}

/// Environment for every sam child: the endpoint override, no telemetry (a closed network
/// makes sam's telemetry calls hang for tens of seconds) and a 1 s stack-event poll instead of
/// `sam deploy`'s 5 s (a deploy waits up to one whole poll after the stack is done), unless the
/// user chose otherwise.
pub fn sam_env(aws: &AwsContext, profile: Option<&str>) -> Vec<(String, String)> {
    let mut envs = vec![("AWS_REGION".to_string(), aws.region.clone())];
    if std::env::var_os("SAM_CLI_TELEMETRY").is_none() {
        envs.push(("SAM_CLI_TELEMETRY".into(), "0".into()));
    }
    if std::env::var_os("SAM_CLI_POLL_DELAY").is_none() {
        envs.push(("SAM_CLI_POLL_DELAY".into(), SAM_POLL_DELAY_SECONDS.into()));
    }
    if let Some(url) = &aws.endpoint_url {
        envs.push(("AWS_ENDPOINT_URL".into(), url.clone()));
    }
    if let Some(profile) = profile {
        envs.push(("AWS_PROFILE".into(), profile.to_string()));
    }
    envs
}

/// How often `sam deploy` reads the stack's events while it waits.
pub(crate) const SAM_POLL_DELAY_SECONDS: &str = "1";

pub(crate) fn cache_dir(settings: &LambdaSettings) -> std::path::PathBuf {
    settings.project_dir.join(".agentdeploy").join("cache")
}

/// The pins, and the build that produced them when the set was resolved by building it.
pub(crate) struct Pinned {
    pub(crate) resolved: resolve::Resolved,
    pub(crate) built: Option<sam::BuildOutcome>,
    /// Held until the build is packaged, so fleet members reuse the build along with the pins.
    pub(crate) turn: Option<resolve::Turn>,
}

/// Pins the requirements for Lambda's platform and writes them, with the samconfig, into the
/// project `sam build` reads. A cached resolution is used as it is; a new set is resolved by the
/// build that installs it where one can run (the native `sam build`, or uv on the cross-platform
/// path: see `build_unpinned`), else by pip.
pub(crate) async fn pin(
    inputs: &StackRequest<'_>,
    phase: &(dyn Fn(Phase) + Sync),
) -> Result<Pinned> {
    let settings = inputs.settings;
    let samconfig = render::render_samconfig(settings, Some(&inputs.aws.region), &[])?;
    write_atomically(
        &settings.out_dir.join("samconfig.toml"),
        samconfig.as_bytes(),
    )?;
    let request = resolve::ResolveRequest {
        specifiers: &inputs.plan.requirements.specifiers,
        runtime: settings.runtime,
        architecture: settings.architecture,
        cache_dir: &cache_dir(settings),
        tool: inputs.tool.clone(),
    };
    let pinned = match resolve::lookup(&request).await? {
        resolve::Lookup::Cached(resolved) => Pinned {
            resolved,
            built: None,
            turn: None,
        },
        resolve::Lookup::Missing(turn) => {
            match build_unpinned(inputs, &request, &turn, phase).await? {
                Some((resolved, built)) => Pinned {
                    resolved,
                    built: Some(built),
                    turn: Some(turn),
                },
                None => Pinned {
                    resolved: resolve::with_pip(&request, turn).await?,
                    built: None,
                    turn: None,
                },
            }
        }
    };
    let text = write_requirements(
        settings,
        request.specifiers,
        &pinned.resolved.pins,
        pinned.resolved.wheelhouse.as_deref(),
        "Pinned by agentdeploy",
    )?;
    if let Some(built) = &pinned.built {
        // The built folder got the unpinned list; it carries the pins like any other build.
        write_atomically(
            &built.artifact_dir.join("requirements.txt"),
            text.as_bytes(),
        )?;
    }
    Ok(pinned)
}

/// `<out-dir>/src/requirements.txt`: the requirement lines (pins, or the specifiers as given
/// for a build that resolves them) with where they came from. The text is returned.
pub(crate) fn write_requirements(
    settings: &LambdaSettings,
    specifiers: &[String],
    lines: &[String],
    wheelhouse: Option<&std::path::Path>,
    heading: &str,
) -> Result<String> {
    let mut text = format!(
        "# {heading} for {} {} from: {}\n",
        settings.runtime.name(),
        settings.architecture.as_str(),
        specifiers.join(", ")
    );
    if let Some(house) = wheelhouse {
        // Pure-Python wheels built here for distributions that publish only sources.
        text.push_str(&format!("--find-links {}\n", house.display()));
    }
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    write_atomically(
        &settings.out_dir.join("src/requirements.txt"),
        text.as_bytes(),
    )?;
    Ok(text)
}

/// A set's first deploy, resolved by the build that installs it: with the runtime's interpreter
/// here, a plain `sam build` of the requirements as given (resolving with pip first would make
/// sam resolve and install the same set a second time); on the cross-platform path, uv when it
/// is on PATH (resolution and install in one step). The pins are read from what was installed. None when neither can run or it failed
/// (python3.11's pillow, a source-only package): pip resolves for the platform and names what
/// has no wheel, then the pinned set is built.
pub(crate) async fn build_unpinned(
    inputs: &StackRequest<'_>,
    request: &resolve::ResolveRequest<'_>,
    turn: &resolve::Turn,
    phase: &(dyn Fn(Phase) + Sync),
) -> Result<Option<(resolve::Resolved, sam::BuildOutcome)>> {
    let settings = inputs.settings;
    let sam = inputs.sam().await?;
    let build = build_request(inputs, &sam);
    if settings.use_container == UseContainer::Always {
        return Ok(None);
    }
    let (by, uv) = if crate::lambda::tools::runtime_interpreter(settings.runtime).is_some() {
        (crate::build_report::ResolvedBy::SamBuild, None)
    } else if sam::without_interpreter(&build).await == Some(BuildStrategy::CrossPlatformPip)
        && let Ok(uv) = which::which("uv")
    {
        (crate::build_report::ResolvedBy::Uv, Some(uv))
    } else {
        return Ok(None);
    };
    let heading = match by {
        crate::build_report::ResolvedBy::Uv => "Resolved by uv",
        _ => "Resolved by sam build",
    };
    write_requirements(
        settings,
        request.specifiers,
        request.specifiers,
        None,
        heading,
    )?;
    phase(Phase::Building);
    let built = match &uv {
        Some(uv) => sam::cross_platform_uv(&build, uv, request.specifiers, &inputs.tool).await?,
        None => sam::build_native(&build, &inputs.tool).await?,
    };
    let Some(built) = built else {
        tracing::info!("building the requirements as given failed; resolving with pip");
        return Ok(None);
    };
    let code_dir = settings.out_dir.join("src");
    match resolve::from_installed(request, turn, by, &built.artifact_dir, &code_dir) {
        Ok(resolved) => Ok(Some((resolved, built))),
        Err(e) => {
            tracing::info!("no pins from the build ({e}); resolving with pip");
            Ok(None)
        }
    }
}

/// A resolved dependency set: its hash and where its zip is kept.
pub(crate) struct Deps {
    pub(crate) hash: String,
    pub(crate) shared: package::SharedDeps,
}

impl Deps {
    pub(crate) fn of(settings: &LambdaSettings, pins: &[String]) -> Deps {
        let hash = sam::deps_hash(pins, settings.runtime, settings.architecture);
        Deps {
            shared: package::SharedDeps::new(&cache_dir(settings), &hash),
            hash,
        }
    }
}

/// What the build step leaves: the template `sam deploy` uploads from, and how it was made.
pub(crate) struct Built {
    pub(crate) template: std::path::PathBuf,
    pub(crate) strategy: BuildStrategy,
    /// The dependencies were reused rather than built.
    pub(crate) cached: bool,
    pub(crate) artifact_bytes: u64,
    pub(crate) bytecode: Option<crate::build_report::Bytecode>,
    pub(crate) warnings: Vec<String>,
}

/// The build-time import of the code in the out-dir on the set's zipped dependencies, with the
/// code's bytecode compiled, and nothing packaged (`sync` sends the code's part itself): under
/// the set's build lock, as `build_or_reuse`.
pub(crate) async fn check_on_shared_deps(inputs: &StackRequest<'_>, set: &Deps) -> Result<()> {
    let shared = &set.shared;
    let build_turn = key_lock::for_path(&shared.zip);
    let build_turn = timings::timed(timings::Category::Sam, build_turn.lock()).await;
    let facts = shared.facts().ok_or_else(|| crate::error::Error::Build {
        message: format!(
            "the dependency zip {} went away during the sync",
            shared.zip.display()
        ),
        hint: "sync again".into(),
    })?;
    let code_dir = inputs.settings.out_dir.join("src");
    on_shared_deps(inputs, facts, &shared.zip, &code_dir).await?;
    drop(build_turn);
    Ok(())
}

/// Builds the dependencies (or reuses them), compiles their bytecode, checks the artifact's
/// size, packages the function's zip and writes the built template pointing at it: one sequence
/// under the dependency set's build lock, so one function.
pub(crate) async fn build_or_reuse(
    inputs: &StackRequest<'_>,
    set: &Deps,
    built: Option<sam::BuildOutcome>,
    own_log_group: bool,
) -> Result<Built> {
    let settings = inputs.settings;
    let deps = &set.hash;
    let shared = set.shared.clone();
    let code_dir = settings.out_dir.join("src");
    // Fleet members with the same dependency set wait for the first one's build and then zip
    // their code onto its dependencies: each set goes through `sam build` once.
    let build_turn = key_lock::for_path(&shared.zip);
    let build_turn = timings::timed(timings::Category::Sam, build_turn.lock()).await;
    // Reuse, cheapest first: the zipped dependencies (no build folder needed), then this
    // agent's own built folder (the zip was deleted), else `sam build`. `--force` rebuilds; a
    // build that resolved the set is used as it is.
    let fresh = settings.force || built.is_some();
    let facts = shared.facts().filter(|_| !fresh);
    let incremental = if fresh || facts.is_some() {
        None
    } else {
        sam::try_incremental(&settings.out_dir, deps)?
    };
    let ready = match (facts, incremental) {
        (Some(facts), _) => on_shared_deps(inputs, facts, &shared.zip, &code_dir).await?,
        (None, Some(build)) => on_own_build(inputs, build, &code_dir, true).await?,
        (None, None) => {
            let build = match built {
                Some(build) => build,
                None => {
                    let sam = inputs.sam().await?;
                    sam::build(&build_request(inputs, &sam), &inputs.tool).await?
                }
            };
            sam::write_marker(&settings.out_dir, deps, build.strategy)?;
            on_own_build(inputs, build, &code_dir, false).await?
        }
    };
    let Ready {
        strategy,
        artifact_dir,
        cached,
        artifact_bytes,
        bytecode,
        warnings,
    } = ready;
    let build_dir = sam::build_dir(&settings.out_dir);
    timings::timed(
        timings::Category::Zip,
        package::package_off_runtime(package::PackageRequest {
            build_dir: build_dir.clone(),
            artifact_dir,
            code_dir,
            shared,
            strategy,
            fresh_build: !cached,
            bytecode: bytecode.clone(),
        }),
    )
    .await?;
    drop(build_turn);
    let template = build_dir.join("template.yaml");
    write_atomically(
        &template,
        render::render_template(
            settings,
            &inputs.plan.iam,
            package::FUNCTION_ZIP,
            own_log_group,
            inputs.plan.project.web.as_ref(),
        )?
        .as_bytes(),
    )?;
    Ok(Built {
        template,
        strategy,
        cached,
        artifact_bytes,
        bytecode,
        warnings,
    })
}

/// The dependencies ready to package with the code, and how they came to be.
struct Ready {
    strategy: BuildStrategy,
    /// The built folder (dependencies and code), when this run has one.
    artifact_dir: Option<std::path::PathBuf>,
    /// Reused rather than built now.
    cached: bool,
    artifact_bytes: u64,
    bytecode: Option<crate::build_report::Bytecode>,
    warnings: Vec<String>,
}

/// The zipped dependencies reused, the code new: it is imported as a cold start would, on the
/// reused dependencies, before it ships.
async fn on_shared_deps(
    inputs: &StackRequest<'_>,
    facts: package::DepsFacts,
    deps_zip: &std::path::Path,
    code_dir: &std::path::Path,
) -> Result<Ready> {
    let bytes = facts.unzipped_bytes + artifact::dir_size(code_dir);
    artifact::check_total(bytes, artifact_limit())?;
    let task_root = TaskRoot::prepare(deps_zip, code_dir, &inputs.settings.out_dir)?;
    let compiled = compile_bytecode(inputs, task_root.path(), false, code_dir).await;
    task_root.done();
    let (mut bytecode, warning) = compiled?;
    if bytecode.method != "none" {
        // The dependencies' pycs ship in their zip, as it was made.
        let (modules, bytes) = package::bytecode_in(deps_zip)?;
        bytecode.modules += modules;
        bytecode.bytes += bytes;
    }
    Ok(Ready {
        strategy: facts.strategy,
        artifact_dir: None,
        cached: true,
        artifact_bytes: bytes,
        bytecode: Some(bytecode),
        warnings: warning.into_iter().collect(),
    })
}

/// A built folder (this agent's earlier one with the code replaced, or one built now): its
/// import run and bytecode compiled, its size checked.
async fn on_own_build(
    inputs: &StackRequest<'_>,
    build: sam::BuildOutcome,
    code_dir: &std::path::Path,
    cached: bool,
) -> Result<Ready> {
    let (bytecode, warning) = compile_bytecode(inputs, &build.artifact_dir, true, code_dir).await?;
    let bytes = artifact::check_size(&build.artifact_dir, artifact_limit())?;
    Ok(Ready {
        strategy: build.strategy,
        artifact_dir: Some(build.artifact_dir),
        cached,
        artifact_bytes: bytes,
        bytecode: Some(bytecode),
        warnings: warning.into_iter().collect(),
    })
}

/// Bytecode for the freshly built artifact (see `bytecode`); fails the deploy when the agent's
/// import never returns or fails as every cold start would.
pub(crate) async fn compile_bytecode(
    inputs: &StackRequest<'_>,
    artifact_dir: &std::path::Path,
    artifact_ships: bool,
    code_dir: &std::path::Path,
) -> Result<(crate::build_report::Bytecode, Option<String>)> {
    let settings = inputs.settings;
    let agent_file = inputs
        .plan
        .analysis
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| render::HANDLER_FILE.to_string());
    let request = bytecode::BytecodeRequest {
        artifact_dir,
        artifact_ships,
        code_dir,
        runtime: settings.runtime,
        architecture: settings.architecture,
        env_vars: settings
            .env_vars
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        secrets: &settings.secrets,
        region: &inputs.aws.region,
        packages: bytecode::top_level_packages(&inputs.plan.analysis.imports),
        budget: artifact_limit().saturating_sub(artifact::dir_size(artifact_dir)),
        agent_file: &agent_file,
        import_probe: settings.import_probe,
        entry_module: crate::lambda::render::entry_module(settings),
    };
    // Compiling is what pip's install would do without --no-compile: counted as pip's time.
    timings::timed(timings::Category::Pip, bytecode::compile(request)).await
}

pub(crate) fn build_request<'a>(inputs: &StackRequest<'a>, sam: &'a SamCli) -> BuildRequest<'a> {
    let settings = inputs.settings;
    BuildRequest {
        sam,
        out_dir: &settings.out_dir,
        runtime: settings.runtime,
        architecture: settings.architecture,
        use_container: settings.use_container,
        allow_cross_platform: std::env::var("AGENTDEPLOY_NO_CROSS_PLATFORM")
            .map(|v| v != "1")
            .unwrap_or(true),
        envs: sam_env(inputs.aws, settings.profile.as_deref()),
    }
}

/// Lambda's limit; `AGENTDEPLOY_MAX_ARTIFACT_BYTES` lowers it (for tests and stricter budgets).
pub(crate) fn artifact_limit() -> u64 {
    std::env::var("AGENTDEPLOY_MAX_ARTIFACT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|v: u64| v.min(artifact::MAX_UNZIPPED_BYTES))
        .unwrap_or(artifact::MAX_UNZIPPED_BYTES)
}
