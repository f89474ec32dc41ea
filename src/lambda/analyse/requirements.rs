//! Which distributions the agent needs (reference §5): an explicit `--requirements` file, else a
//! `requirements.txt` / `pyproject.toml` beside the agent, else inferred from its imports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::AgentAnalysis;

const STDLIB_MODULES: &str = include_str!("stdlib_modules.txt");

/// Import name → distribution name, where they differ (or where the obvious guess is wrong:
/// PyPI's `agentrun` is an unrelated project; Aliyun's SDK is `agentrun-sdk`).
const IMPORT_TO_DISTRIBUTION: &[(&str, &str)] = &[
    ("strands", "strands-agents>=1.0"),
    ("strands_tools", "strands-agents-tools"),
    ("bedrock_agentcore", "bedrock-agentcore"),
    ("agentrun", "agentrun-sdk"),
    ("yaml", "pyyaml"),
    ("PIL", "pillow"),
    ("sklearn", "scikit-learn"),
    ("cv2", "opencv-python-headless"),
    ("bs4", "beautifulsoup4"),
    ("dotenv", "python-dotenv"),
    ("dateutil", "python-dateutil"),
    ("jwt", "pyjwt"),
    ("docx", "python-docx"),
    ("pptx", "python-pptx"),
    ("fitz", "pymupdf"),
    ("Crypto", "pycryptodome"),
    ("OpenSSL", "pyopenssl"),
    ("attr", "attrs"),
    ("magic", "python-magic"),
    ("serial", "pyserial"),
    ("psycopg2", "psycopg2-binary"),
    ("MySQLdb", "mysqlclient"),
    ("git", "gitpython"),
    ("zmq", "pyzmq"),
    ("google.genai", "google-genai"),
    ("googleapiclient", "google-api-python-client"),
    ("jose", "python-jose"),
    ("multipart", "python-multipart"),
    ("slugify", "python-slugify"),
    ("Levenshtein", "levenshtein"),
    ("skimage", "scikit-image"),
    ("mcp", "mcp"),
    // What published Strands samples import.
    ("duckduckgo_search", "duckduckgo-search"),
    ("ddgs", "ddgs"),
    ("atlassian", "atlassian-python-api"),
    ("tavily", "tavily-python"),
    ("firecrawl", "firecrawl-py"),
    ("exa_py", "exa-py"),
    ("serpapi", "google-search-results"),
    ("googlesearch", "googlesearch-python"),
    ("github", "pygithub"),
    ("telegram", "python-telegram-bot"),
    ("discord", "discord-py"),
    ("newspaper", "newspaper3k"),
    ("PyPDF2", "pypdf2"),
    ("pdfminer", "pdfminer-six"),
    ("markdownify", "markdownify"),
    ("opensearchpy", "opensearch-py"),
    ("faiss", "faiss-cpu"),
    ("sentence_transformers", "sentence-transformers"),
    ("mem0", "mem0ai"),
    // Namespaces several distributions share: the module path names the distribution.
    ("google.adk", "google-adk"),
    ("google.generativeai", "google-generativeai"),
    ("google.auth", "google-auth"),
    ("google.oauth2", "google-auth"),
    ("google.protobuf", "protobuf"),
    ("google.cloud.storage", "google-cloud-storage"),
    ("google.cloud.bigquery", "google-cloud-bigquery"),
    ("google.cloud.firestore", "google-cloud-firestore"),
    ("opentelemetry", "opentelemetry-api"),
    ("opentelemetry.sdk", "opentelemetry-sdk"),
    ("opentelemetry.exporter.otlp", "opentelemetry-exporter-otlp"),
    // Agent frameworks and SDKs whose import names differ from their distributions.
    ("a2a", "a2a-sdk"),
    // Strands' A2A server needs its `a2a` extra (a2a-sdk, FastAPI, uvicorn).
    ("strands.multiagent.a2a", "strands-agents[a2a]>=1.0"),
    ("langchain_aws", "langchain-aws"),
    ("langchain_core", "langchain-core"),
    ("langchain_community", "langchain-community"),
    ("langchain_openai", "langchain-openai"),
    ("nova_act", "nova-act"),
    ("aws_lambda_powertools", "aws-lambda-powertools"),
    ("pydantic_settings", "pydantic-settings"),
];

/// Namespaces no single distribution provides (`import google` alone names none): inferred
/// from nothing, and the plan says to list the distribution.
const SHARED_NAMESPACES: &[&str] = &["google", "azure"];

/// Modules the Lambda Python runtime already provides.
const RUNTIME_PROVIDED: &[&str] = &["awslambdaric", "bootstrap"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "path")]
pub enum RequirementsSource {
    Explicit(PathBuf),
    BesideAgent(PathBuf),
    Pyproject(PathBuf),
    Inferred,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requirements {
    pub source: RequirementsSource,
    /// Requirement specifiers, one per line of the rendered requirements.txt.
    pub specifiers: Vec<String>,
    /// For inferred requirements: which import led to which distribution.
    pub inferred_from: Vec<(String, String)>,
    /// For a requirements file: third-party imports of the code it does not list.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Of those, the ones about a missing distribution. A distribution the file's own list
    /// brings along (`mcp` with strands-agents) shows in the resolved set.
    #[serde(skip)]
    pub unlisted: Vec<Unlisted>,
}

/// A distribution the code imports that the requirements file does not list.
#[derive(Debug, Clone)]
pub struct Unlisted {
    /// Its name, as the table infers it from the import.
    pub distribution: String,
    /// The top-level module the code imports.
    pub module: String,
    pub warning: String,
}

impl Requirements {
    /// The missing-distribution warnings that the resolved set answers: its pins
    /// (`name==version`) name the distribution, or its files (`modules`: the top-level modules
    /// the built dependencies hold) provide the module, brought along by a listed one.
    pub fn provided_by(&self, pins: &[String], modules: &BTreeSet<String>) -> Vec<String> {
        let resolved: BTreeSet<String> = pins.iter().map(|pin| distribution_name(pin)).collect();
        self.unlisted
            .iter()
            .filter(|u| resolved.contains(&u.distribution) || modules.contains(&u.module))
            .map(|u| u.warning.clone())
            .collect()
    }
}

pub fn determine(analysis: &AgentAnalysis, explicit: Option<&Path>) -> Result<Requirements> {
    let mut requirements = from_file_or_imports(analysis, explicit)?;
    if requirements.source != RequirementsSource::Inferred {
        let (unlisted, other) = unlisted_imports(analysis, &requirements);
        requirements.warnings = unlisted
            .iter()
            .map(|u| u.warning.clone())
            .chain(other)
            .collect();
        requirements.unlisted = unlisted;
    }
    Ok(requirements)
}

/// A requirements file that misses a distribution the code imports: the function would fail
/// with ModuleNotFoundError at import. One warning per missing distribution, with where:
/// (missing distributions with their warnings, missing extras' warnings).
fn unlisted_imports(
    analysis: &AgentAnalysis,
    requirements: &Requirements,
) -> (Vec<Unlisted>, Vec<String>) {
    let file = match &requirements.source {
        RequirementsSource::Explicit(path)
        | RequirementsSource::BesideAgent(path)
        | RequirementsSource::Pyproject(path) => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        RequirementsSource::Inferred => return (Vec::new(), Vec::new()),
    };
    // Each listed distribution with the extras the file asks for.
    let mut listed: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for specifier in &requirements.specifiers {
        listed
            .entry(distribution_name(specifier))
            .or_default()
            .extend(extras(specifier));
    }
    let mut local = local_modules(&agent_dir(analysis));
    local.extend(analysis.local_module_names());
    let (mut missing, mut short) = (Vec::new(), Vec::new());
    // The runtime provides the AWS SDK.
    for (import, dist) in infer(analysis, &local)
        .into_iter()
        .filter(|(import, _)| !matches!(import.as_str(), "boto3" | "botocore"))
    {
        let name = distribution_name(&dist);
        let import_line = analysis
            .imports
            .iter()
            .find(|i| distribution_for(&i.module).as_deref() == Some(dist.as_str()));
        let (module, place) = match import_line {
            Some(i) => (i.module.clone(), analysis.location(&i.file, i.line)),
            None => (import, analysis.display_path()),
        };
        match listed.get(&name) {
            None => missing.push(Unlisted {
                distribution: name.clone(),
                module: module.split('.').next().unwrap_or_default().to_string(),
                warning: format!(
                    "{file} does not list `{name}`, which the agent imports as `{module}` ({place}): the function would fail with ModuleNotFoundError; add it"
                ),
            }),
            Some(given) => {
                let absent: Vec<String> = extras(&dist).difference(given).cloned().collect();
                if !absent.is_empty() {
                    short.push(format!(
                        "{file} lists `{name}` without its `{}` extra, which `{module}` ({place}) needs: the function would fail with ModuleNotFoundError; list `{name}[{}]`",
                        absent.join(","),
                        absent.join(",")
                    ));
                }
            }
        }
    }
    (missing, short)
}

/// The extras a specifier asks for: `strands-agents[a2a, otel]>=1.0` → {a2a, otel}.
fn extras(specifier: &str) -> BTreeSet<String> {
    let Some((_, after)) = specifier.split_once('[') else {
        return BTreeSet::new();
    };
    let inside = after.split(']').next().unwrap_or_default();
    inside
        .split(',')
        .map(|e| normalize_name(e.trim()))
        .filter(|e| !e.is_empty())
        .collect()
}

/// `Strands_Agents[otel]>=1.0 ; python_version>"3"` → `strands-agents` (PEP 503 normalised).
pub fn distribution_name(specifier: &str) -> String {
    let end = specifier
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(specifier.len());
    normalize_name(&specifier[..end])
}

/// Where the agent's requirements file and local modules are looked for: its directory, or the
/// folder of a single-file agent.
fn agent_dir(analysis: &AgentAnalysis) -> PathBuf {
    analysis
        .package_dir
        .clone()
        .or_else(|| analysis.path.parent().map(Path::to_path_buf))
        .unwrap_or_default()
}

fn from_file_or_imports(analysis: &AgentAnalysis, explicit: Option<&Path>) -> Result<Requirements> {
    if let Some(path) = explicit {
        let specifiers = read_requirements_txt(path, "--requirements")?;
        return Ok(Requirements {
            source: RequirementsSource::Explicit(path.to_path_buf()),
            specifiers,
            inferred_from: vec![],
            warnings: Vec::new(),
            unlisted: Vec::new(),
        });
    }
    let dir = agent_dir(analysis);
    let beside = dir.join("requirements.txt");
    if beside.is_file() {
        let specifiers = read_requirements_txt(&beside, "requirements.txt")?;
        return Ok(Requirements {
            source: RequirementsSource::BesideAgent(beside),
            specifiers,
            inferred_from: vec![],
            warnings: Vec::new(),
            unlisted: Vec::new(),
        });
    }
    let pyproject = dir.join("pyproject.toml");
    if pyproject.is_file() {
        let specifiers = read_pyproject(&pyproject)?;
        return Ok(Requirements {
            source: RequirementsSource::Pyproject(pyproject),
            specifiers,
            inferred_from: vec![],
            warnings: Vec::new(),
            unlisted: Vec::new(),
        });
    }
    let local = local_modules(&dir);
    let inferred_from = infer(analysis, &local);
    let mut specifiers: Vec<String> = inferred_from.iter().map(|(_, dist)| dist.clone()).collect();
    specifiers.dedup();
    Ok(Requirements {
        source: RequirementsSource::Inferred,
        specifiers,
        inferred_from,
        warnings: unnamed_distributions(analysis),
        unlisted: Vec::new(),
    })
}

/// Imports of a shared namespace (`google`, `azure`) that no distribution is inferred for: one
/// warning each, with its place.
fn unnamed_distributions(analysis: &AgentAnalysis) -> Vec<String> {
    analysis
        .imports
        .iter()
        .filter(|import| distribution_for(&import.module).is_none())
        .map(|import| {
            format!(
                "{}: `{}` is a namespace many distributions share, so none is inferred for it; list the one you use in requirements.txt",
                analysis.location(&import.file, import.line),
                import.module
            )
        })
        .collect()
}

/// (import, distribution) pairs, sorted by distribution, one per distribution.
pub fn infer(analysis: &AgentAnalysis, local: &BTreeSet<String>) -> Vec<(String, String)> {
    let stdlib: BTreeSet<&str> = STDLIB_MODULES.lines().collect();
    let mut seen = BTreeSet::new();
    let mut pairs = Vec::new();
    for import in &analysis.imports {
        let top = import.top_level();
        if stdlib.contains(top)
            || local.contains(top)
            || RUNTIME_PROVIDED.contains(&top)
            || top == "__future__"
        {
            continue;
        }
        let Some(dist) = distribution_for(&import.module) else {
            continue;
        };
        if seen.insert(dist.clone()) {
            pairs.push((top.to_string(), dist));
        }
    }
    pairs.sort_by(|a, b| a.1.cmp(&b.1));
    pairs
}

/// The distribution that provides `module`: the table's longest entry that the module path
/// starts with (`opentelemetry.sdk.trace` → `opentelemetry-sdk`, not `opentelemetry-api`), else
/// its top-level name, normalised. `None`: a shared namespace this path does not narrow down.
fn distribution_for(module: &str) -> Option<String> {
    let known = IMPORT_TO_DISTRIBUTION
        .iter()
        .filter(|(import, _)| module == *import || module.starts_with(&format!("{import}.")))
        .max_by_key(|(import, _)| import.len());
    if let Some((_, dist)) = known {
        return Some(dist.to_string());
    }
    let top = module.split('.').next().unwrap_or(module);
    if SHARED_NAMESPACES.contains(&top) {
        return None;
    }
    Some(top.to_lowercase().replace('_', "-"))
}

/// Top-level module names that files beside the agent provide: `name.py`, and a `name/` folder
/// with Python files in it, with or without `__init__.py` (Python imports a folder without one
/// as a namespace package). They ship with the agent; none is ever a requirement.
fn local_modules(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(stem) = name.strip_suffix(".py") {
                names.insert(stem.to_string());
            } else if path.is_dir()
                && !name.starts_with('.')
                && name != "__pycache__"
                && !crate::lambda::analyse::local_modules::local_module_files(dir, name).is_empty()
            {
                names.insert(name.to_string());
            }
        }
    }
    names
}

fn read_requirements_txt(path: &Path, flag: &str) -> Result<Vec<String>> {
    let text = crate::files::read_user_text(path).map_err(|reason| Error::Usage {
        flag: flag.to_string(),
        message: format!("{}: {reason}", path.display()),
        hint: Some("pass a readable requirements.txt".into()),
    })?;
    let mut specifiers = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // Options such as `-r other.txt` or `--index-url` change where pip looks; the pinned
        // resolution for the Lambda platform needs a plain list.
        if line.starts_with('-') {
            return Err(Error::Usage {
                flag: flag.to_string(),
                message: format!(
                    "{}:{}: pip options (`{line}`) are not supported",
                    path.display(),
                    number + 1
                ),
                hint: Some("list the requirements themselves, one per line".into()),
            });
        }
        specifiers.push(line.to_string());
    }
    Ok(specifiers)
}

fn read_pyproject(path: &Path) -> Result<Vec<String>> {
    #[derive(serde::Deserialize)]
    struct Pyproject {
        project: Option<Project>,
    }
    #[derive(serde::Deserialize)]
    struct Project {
        #[serde(default)]
        dependencies: Vec<String>,
    }
    let text = crate::files::read_user_text(path).map_err(|reason| {
        Error::agent(path.display().to_string(), format!("cannot read: {reason}"))
    })?;
    let parsed: Pyproject = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| crate::config::line_of_offset(&text, s.start))
            .unwrap_or(1);
        Error::agent(
            format!("{}:{line}", path.display()),
            e.message().to_string(),
        )
    })?;
    Ok(parsed.project.map(|p| p.dependencies).unwrap_or_default())
}

/// PEP 503: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('-') {
                out.push('-');
            }
        } else {
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::analyse::analyse_source;
    use crate::lambda::runtime::Runtime;

    fn inferred(src: &str, local: &[&str]) -> Vec<String> {
        let a = analyse_source(
            Path::new("agent.py"),
            None,
            format!("{src}\ndef main(user_input_arg=None):\n    pass\n"),
            Runtime { minor: 13 },
            None,
        )
        .unwrap();
        let local = local.iter().map(|s| s.to_string()).collect();
        infer(&a, &local).into_iter().map(|(_, d)| d).collect()
    }

    #[test]
    fn spec_table() {
        assert_eq!(
            inferred(
                "import strands\nfrom strands_tools import x\nimport bedrock_agentcore.tools\nimport agentrun\nimport yaml\nfrom PIL import Image\nimport sklearn.linear_model",
                &[]
            ),
            [
                "agentrun-sdk",
                "bedrock-agentcore",
                "pillow",
                "pyyaml",
                "scikit-learn",
                "strands-agents-tools",
                "strands-agents>=1.0"
            ]
        );
    }

    #[test]
    fn distribution_names_are_normalised() {
        assert_eq!(
            distribution_name("Strands_Agents[otel]>=1.0"),
            "strands-agents"
        );
        assert_eq!(
            distribution_name("python.dotenv ; python_version>'3'"),
            "python-dotenv"
        );
        assert_eq!(distribution_name("requests"), "requests");
    }

    #[test]
    fn stdlib_local_and_relative_imports_are_skipped() {
        assert_eq!(
            inferred(
                "from __future__ import annotations\nimport os, json, asyncio, tomllib\nfrom concurrent.futures import ThreadPoolExecutor\nimport helpers\nfrom . import x\nimport requests",
                &["helpers"]
            ),
            ["requests"]
        );
    }

    #[test]
    fn folders_beside_the_agent_are_local_with_or_without_init_and_never_requirements() {
        let dir = tempfile::tempdir().unwrap();
        // The whatsapp sample's layout: `tools/` and `utils/` are namespace packages.
        std::fs::create_dir_all(dir.path().join("tools")).unwrap();
        std::fs::write(dir.path().join("tools/cards.py"), "CARD = 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("utils/deep")).unwrap();
        std::fs::write(dir.path().join("utils/deep/x.py"), "X = 1\n").unwrap();
        std::fs::create_dir_all(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("static/logo.png"), "png").unwrap();
        let local = local_modules(dir.path());
        assert!(
            local.contains("tools") && local.contains("utils"),
            "{local:?}"
        );
        assert!(
            !local.contains("static"),
            "a folder without Python files is not a module"
        );
        let agent = dir.path().join("agent.py");
        std::fs::write(
            &agent,
            "from tools.cards import CARD\nimport utils.deep.x\nimport requests\ndef main(user_input_arg=None):\n    return CARD\n",
        )
        .unwrap();
        let a = crate::lambda::analyse::analyse_file(&agent);
        let shipped: Vec<&str> = a.local_modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(shipped, ["tools", "utils"]);
        let requirements: Vec<String> = infer(&a, &local).into_iter().map(|(_, d)| d).collect();
        assert_eq!(requirements, ["requests"]);
    }

    #[test]
    fn a_module_path_names_its_distribution_by_the_longest_known_prefix() {
        for (module, dist) in [
            ("opentelemetry.trace", Some("opentelemetry-api")),
            ("opentelemetry.sdk.trace", Some("opentelemetry-sdk")),
            ("google.adk.agents", Some("google-adk")),
            ("google.genai.types", Some("google-genai")),
            ("google", None),
            ("google.something_new", None),
            ("azure.identity", None),
            ("a2a.types", Some("a2a-sdk")),
            ("langchain_aws", Some("langchain-aws")),
            ("my_lib.x", Some("my-lib")),
        ] {
            assert_eq!(distribution_for(module).as_deref(), dist, "{module}");
        }
        // The table names distributions as PyPI spells them (normalised, one pin at most).
        for (import, dist) in IMPORT_TO_DISTRIBUTION {
            let name = distribution_name(dist);
            assert_eq!(name, normalize_name(&name), "{import} → {dist}");
        }
        let warned = crate::lambda::analyse::analyse_source(
            Path::new("agent.py"),
            None,
            "import google\ndef main(user_input_arg=None):\n    pass\n".into(),
            Runtime { minor: 13 },
            None,
        )
        .unwrap();
        assert_eq!(
            unnamed_distributions(&warned),
            [
                "agent.py:1: `google` is a namespace many distributions share, so none is inferred for it; list the one you use in requirements.txt"
            ]
        );
    }

    #[test]
    fn only_the_files_an_import_loads_are_read_though_the_whole_package_ships() {
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("scripts/__init__.py", "");
        write(
            "scripts/utils.py",
            "import requests\nfrom .helpers import h\n",
        );
        write("scripts/helpers.py", "import yaml\nh = 1\n");
        write("scripts/cli.py", "import click\n");
        let agent = dir.path().join("agent.py");
        let source = "from scripts.utils import h\ndef main(user_input_arg=None):\n    return h\n";
        std::fs::write(&agent, source).unwrap();
        let a = crate::lambda::analyse::analyse_file(&agent);
        let requirements: Vec<String> = infer(&a, &local_modules(dir.path()))
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        assert_eq!(
            requirements,
            ["pyyaml", "requests"],
            "not click: cli.py is not loaded"
        );
        assert_eq!(a.local_modules.len(), 1);
        assert_eq!(a.local_modules[0].files.len(), 4, "the package ships whole");
    }

    #[test]
    fn a_missing_distribution_the_resolved_set_holds_is_withdrawn() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("requirements.txt"), "strands-agents\n").unwrap();
        let agent = dir.path().join("agent.py");
        let source = "import mcp\nimport httpx_sse\ndef main(user_input_arg=None):\n    pass\n";
        std::fs::write(&agent, source).unwrap();
        let a = crate::lambda::analyse::analyse_file(&agent);
        let requirements = determine(&a, None).unwrap();
        assert_eq!(
            requirements.warnings.len(),
            2,
            "{:?}",
            requirements.warnings
        );
        let pins = [
            "strands-agents==1.62.0".to_string(),
            "mcp==1.20.0".to_string(),
        ];
        let withdrawn = requirements.provided_by(&pins, &BTreeSet::new());
        assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
        assert!(withdrawn[0].contains("`mcp`"), "{withdrawn:?}");
        // A module the built set holds, whatever distribution brought it.
        let files: BTreeSet<String> = ["httpx_sse".to_string()].into();
        assert_eq!(requirements.provided_by(&[], &files).len(), 1);
    }

    #[test]
    fn unknown_imports_map_to_their_normalised_name() {
        assert_eq!(
            inferred("import my_lib\nimport httpx", &[]),
            ["httpx", "my-lib"]
        );
    }

    #[test]
    fn requirements_txt_rejects_pip_options() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("requirements.txt");
        std::fs::write(&path, "requests==2.0 # pinned\n\n# comment\n-r other.txt\n").unwrap();
        let err = read_requirements_txt(&path, "--requirements").unwrap_err();
        assert!(err.to_string().contains("requirements.txt:4"), "{err}");
        std::fs::write(&path, "requests==2.0 # pinned\n\n# comment\nhttpx\n").unwrap();
        assert_eq!(
            read_requirements_txt(&path, "--requirements").unwrap(),
            ["requests==2.0", "httpx"]
        );
    }
}
