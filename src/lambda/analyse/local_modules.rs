//! The agent's own modules beside its entry file, shipped with it in their layout (reference §5
//! "Local modules").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::{AgentAnalysis, LocalModule, display_beside};
use crate::lambda::analyse::facts::collect_facts;
use crate::lambda::analyse::parse::parse_module;
use crate::lambda::runtime::Runtime;

/// The entry file's imports that resolve beside it (`name.py` or a `name/` package) ship with it,
/// whole. The files those imports (`module_paths`, from the entry's facts) can load, and theirs,
/// transitively, are read: each is parsed (its syntax errors name it) and its imports, model ids
/// and AWS use join the analysis, as the entry file's do. A package's other files ship unread:
/// `import scripts.utils` says nothing of what `scripts/cli.py` imports.
pub(crate) fn ship_local_imports(
    analysis: &mut AgentAnalysis,
    runtime: Runtime,
    module_paths: Vec<String>,
) -> Result<()> {
    use std::collections::BTreeSet;
    let Some(dir) = analysis.path.parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    let entry_stem = analysis
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let mut pending = module_paths;
    let (mut local, mut elsewhere, mut read) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    while let Some(dotted) = pending.pop() {
        let parts: Vec<&str> = dotted.split('.').collect();
        let top = parts[0].to_string();
        if entry_stem.as_deref() == Some(top.as_str()) || elsewhere.contains(&top) {
            continue;
        }
        if !local.contains(&top) {
            let files = local_module_files(&dir, &top);
            if files.is_empty() {
                elsewhere.insert(top);
                continue;
            }
            local.insert(top.clone());
            analysis
                .local_modules
                .push(LocalModule { name: top, files });
        }
        for relative in loaded_files(&dir, &parts) {
            if !read.insert(relative.clone()) {
                continue;
            }
            let path = dir.join(&relative);
            let shown = display_beside(&analysis.display, &relative);
            let source = std::fs::read_to_string(&path)
                .map_err(|e| Error::agent(&shown, format!("cannot read: {e}")))?;
            let module = parse_module(&shown, &source, runtime)?;
            let facts = collect_facts(&module, &source, &relative, &path);
            analysis
                .warnings
                .extend(crate::lambda::analyse::shared_state::mcp_clients(
                    &module, &source, &shown,
                ));
            pending.extend(facts.module_paths);
            analysis.imports.extend(facts.imports);
            analysis.bedrock_models.extend(facts.bedrock_models);
            analysis.agentcore_code_interpreter.extend(facts.agentcore);
            analysis.aws_sdk_use.extend(facts.aws_sdk);
            analysis.interrupts.extend(facts.interrupts);
        }
    }
    analysis.local_modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
}

/// The files importing `a.b.c` runs, relative to `dir`: `a/__init__.py`, `a/b/__init__.py`, and
/// `a/b/c.py` or `a/b/c/__init__.py` (whichever exist; a namespace package has no `__init__`).
fn loaded_files(dir: &Path, parts: &[&str]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for depth in 1..=parts.len() {
        let base: PathBuf = parts[..depth].iter().collect();
        for candidate in [base.join("__init__.py"), base.with_extension("py")] {
            if std::fs::symlink_metadata(dir.join(&candidate)).is_ok_and(|m| m.is_file()) {
                files.push(candidate);
            }
        }
    }
    files
}

/// `name.py`, or every `.py` file of the `name/` package (no links, no caches), relative to `dir`.
pub(crate) fn local_module_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let file = dir.join(format!("{name}.py"));
    if std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
        return vec![PathBuf::from(format!("{name}.py"))];
    }
    let package = dir.join(name);
    if !std::fs::symlink_metadata(&package).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let mut files = Vec::new();
    let mut stack = vec![package];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let file_name = entry.file_name().to_string_lossy().into_owned();
            if kind.is_dir() && file_name != "__pycache__" && !file_name.starts_with('.') {
                stack.push(path);
            } else if kind.is_file()
                && file_name.ends_with(".py")
                && let Ok(relative) = path.strip_prefix(dir)
            {
                files.push(relative.to_path_buf());
            }
        }
    }
    files.sort();
    files
}
