//! What analysis finds in an agent (reference §5): the `AgentAnalysis` the rest of the pipeline reads.

use std::path::{Path, PathBuf};

use crate::lambda::analyse::entry::{Entry, EntryKind, MainSignature};
use crate::lambda::analyse::facts::{BedrockModelUse, Import, Place};

/// The largest agent source we accept; generated agents are a few hundred lines.
pub const MAX_AGENT_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentAnalysis {
    /// The entry file (the file whose code goes into the handler).
    pub path: PathBuf,
    /// The path as shown in messages and template comments (relative to the project).
    pub display: String,
    /// When `--agent` is a directory: that directory (its other files ship beside the handler).
    pub package_dir: Option<PathBuf>,
    #[serde(skip)]
    pub source: String,
    pub entry: Entry,
    /// The entry function's signature (for an `Agent` entry: none, never used).
    pub main: MainSignature,
    /// An `entrypoint` entry: the `BedrockAgentCoreApp` variable whose decorator registered it.
    pub entry_app: Option<String>,
    /// Lines of `app.run()` / `uvicorn.run()` run at import, skipped in Lambda.
    pub serves_at_import: Vec<usize>,
    pub imports: Vec<Import>,
    pub bedrock_models: Vec<BedrockModelUse>,
    /// Lines that use AgentCore's code interpreter client.
    pub agentcore_code_interpreter: Vec<Place>,
    /// Lines that use boto3 / `use_aws`: the role needs a `--policy` we cannot infer.
    pub aws_sdk_use: Vec<Place>,
    /// Lines that raise Strands interrupts (the agent stops to wait for a person).
    #[serde(skip)]
    pub interrupts: Vec<Place>,
    /// A single-file agent's own modules beside it that its imports reach (they ship with it).
    pub local_modules: Vec<LocalModule>,
    /// What the analysis found worth saying that does not stop the deploy.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl AgentAnalysis {
    /// Its answers can only be streamed: a generator `@app.entrypoint`, or a web app (whose
    /// routes may stream), served behind the Web Adapter in response-stream mode.
    pub fn streams_by_itself(&self) -> bool {
        matches!(self.entry.kind, EntryKind::Asgi | EntryKind::A2a)
            || (self.entry.kind == EntryKind::Entrypoint && self.main.is_generator)
    }

    /// Top-level module names of the agent's own code shipped beside the handler (a directory
    /// agent's `.py` files and packages), whose Agents the handler isolates too.
    pub fn local_module_names(&self) -> Vec<String> {
        let Some(dir) = &self.package_dir else {
            return self.local_modules.iter().map(|m| m.name.clone()).collect();
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        let path = entry.path();
                        if path == self.path {
                            return None;
                        }
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if let Some(stem) = name.strip_suffix(".py") {
                            return Some(stem.to_string());
                        }
                        path.join("__init__.py").is_file().then_some(name)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    pub fn display_path(&self) -> String {
        self.display.clone()
    }

    /// `file:line` of a line of the entry file or one of its modules, as the entry file is shown.
    pub fn location(&self, file: &Path, line: usize) -> String {
        format!("{}:{line}", display_beside(&self.display, file))
    }

    /// Shows the path relative to `base` where it lies below it.
    pub fn set_display_base(&mut self, base: &Path) {
        self.display = self
            .path
            .strip_prefix(base)
            .unwrap_or(&self.path)
            .display()
            .to_string();
    }
}

/// A module of the agent's own beside the entry file, shipped with it (reference §5 "Local modules").
#[derive(Debug, Clone, serde::Serialize)]
pub struct LocalModule {
    /// The top-level import name (`utils` for `utils/prompts.py`).
    pub name: String,
    /// Its `.py` files, relative to the entry file's folder, in the layout they ship with.
    pub files: Vec<PathBuf>,
}

/// `agents/bot.py` + `utils/x.py` → `agents/utils/x.py`, for messages.
pub(crate) fn display_beside(entry_display: &str, relative: &Path) -> String {
    Path::new(entry_display)
        .parent()
        .unwrap_or(Path::new(""))
        .join(relative)
        .display()
        .to_string()
}
