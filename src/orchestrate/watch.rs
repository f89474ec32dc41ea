//! What a command that follows the agent's files sees of them (`dev`, `sync --watch`): each
//! source file's size and modification time, compared between looks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Files looked at under one folder at most (a project that holds a dataset is not walked whole).
const MAX_WATCHED_FILES: usize = 20_000;

/// What the watched files were at one moment: each file's size and modification time.
#[derive(PartialEq, Eq)]
pub struct Snapshot(BTreeMap<PathBuf, (u64, Option<SystemTime>)>);

impl Snapshot {
    pub fn of(paths: &[PathBuf]) -> Snapshot {
        let mut files = BTreeMap::new();
        for path in paths {
            look(path, &mut files);
        }
        Snapshot(files)
    }

    /// The first path that differs, for the message.
    pub fn difference(&self, before: &Snapshot) -> String {
        let changed = self
            .0
            .iter()
            .find(|(path, state)| before.0.get(*path) != Some(state))
            .map(|(path, _)| path.display().to_string());
        let removed = before
            .0
            .keys()
            .find(|path| !self.0.contains_key(*path))
            .map(|path| format!("{} (removed)", path.display()));
        changed.or(removed).unwrap_or_else(|| "files".into())
    }
}

fn look(path: &Path, files: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.is_file() {
        files.insert(path.to_path_buf(), (meta.len(), meta.modified().ok()));
        return;
    }
    if !meta.is_dir() || files.len() >= MAX_WATCHED_FILES {
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Not the agent's own: caches, environments, agentdeploy's and git's folders.
        if name.starts_with('.')
            || matches!(
                name.as_ref(),
                "__pycache__" | "node_modules" | "venv" | "env"
            )
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() || is_source(&name) {
            look(&path, files);
        }
    }
}

/// A file in the agent's folder that makes the function: code, requirements, settings and data
/// it reads (a log or an output file written beside it does not restart it).
fn is_source(name: &str) -> bool {
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    matches!(
        extension,
        "py" | "pyi" | "toml" | "cfg" | "json" | "yaml" | "yml" | "md" | "j2" | "jinja"
    ) || (name.starts_with("requirements") && extension == "txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_sees_a_new_a_changed_and_a_removed_file_but_not_caches() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("agent.py"), "a").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        let paths = vec![dir.path().to_path_buf()];
        let first = Snapshot::of(&paths);
        std::fs::write(dir.path().join("__pycache__/agent.pyc"), "x").unwrap();
        assert!(Snapshot::of(&paths) == first, "a cache is not the agent's");
        std::fs::write(dir.path().join("agent.py"), "ab").unwrap();
        let second = Snapshot::of(&paths);
        assert!(second != first);
        assert!(second.difference(&first).ends_with("agent.py"));
        std::fs::remove_file(dir.path().join("agent.py")).unwrap();
        assert!(
            Snapshot::of(&paths)
                .difference(&second)
                .ends_with("(removed)")
        );
    }
}
