//! The agent's own modules beside its entry file, shipped with it in their layout (reference §5
//! "Local modules").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::{AgentAnalysis, LocalModule, display_beside};
use crate::lambda::analyse::facts::collect_facts;
use crate::lambda::analyse::parse::parse_module;
use crate::lambda::runtime::Runtime;

/// The entry file's imports that resolve beside it (`name.py` or a `name/` package), and
/// theirs, transitively: each file is parsed (its syntax errors name it) and its imports, model
/// ids and AWS use join the analysis, as the entry file's do.
pub(crate) fn ship_local_imports(analysis: &mut AgentAnalysis, runtime: Runtime) -> Result<()> {
    let Some(dir) = analysis.path.parent().map(Path::to_path_buf) else {
        return Ok(());
    };
    let entry_stem = analysis
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned());
    let mut pending: Vec<String> = analysis
        .imports
        .iter()
        .map(|i| i.top_level().to_string())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = pending.pop() {
        if !seen.insert(name.clone()) || entry_stem.as_deref() == Some(name.as_str()) {
            continue;
        }
        let files = local_module_files(&dir, &name);
        if files.is_empty() {
            continue;
        }
        for relative in &files {
            let path = dir.join(relative);
            let shown = display_beside(&analysis.display, relative);
            let source = std::fs::read_to_string(&path)
                .map_err(|e| Error::agent(&shown, format!("cannot read: {e}")))?;
            let module = parse_module(&shown, &source, runtime)?;
            let facts = collect_facts(&module, &source, relative, &path);
            pending.extend(facts.imports.iter().map(|i| i.top_level().to_string()));
            analysis.imports.extend(facts.imports);
            analysis.bedrock_models.extend(facts.bedrock_models);
            analysis.agentcore_code_interpreter.extend(facts.agentcore);
            analysis.aws_sdk_use.extend(facts.aws_sdk);
            analysis.interrupts.extend(facts.interrupts);
        }
        analysis.local_modules.push(LocalModule { name, files });
    }
    analysis.local_modules.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(())
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
