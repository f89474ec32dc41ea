//! Which file is the agent's entry, for `--agent` given a file or a folder (reference §5).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Entry files looked for, in order, when `--agent` names a directory.
pub const ENTRY_FILES: [&str; 3] = ["agent.py", "main.py", "app.py"];

/// Finds the entry file for `--agent` (a file, or a directory with an entry file).
pub fn locate(agent: &Path) -> Result<(PathBuf, Option<PathBuf>)> {
    let meta = std::fs::metadata(agent).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
            _ => format!("cannot read: {e}"),
        };
        Error::Agent {
            location: agent.display().to_string(),
            message,
            hint: Some("pass --agent with the path of the agent's .py file".into()),
        }
    })?;
    if meta.is_dir() {
        for name in ENTRY_FILES {
            let candidate = agent.join(name);
            if candidate.is_file() {
                return Ok((candidate, Some(agent.to_path_buf())));
            }
        }
        return entry_file_by_content(agent).map(|file| (file, Some(agent.to_path_buf())));
    }
    if !meta.is_file() {
        return Err(Error::agent(
            agent.display().to_string(),
            "not a regular file",
        ));
    }
    if agent.extension().and_then(|e| e.to_str()) != Some("py") {
        return Err(Error::Agent {
            location: agent.display().to_string(),
            message: "not a .py file".into(),
            hint: Some("pass --agent with the agent's Python file".into()),
        });
    }
    Ok((agent.to_path_buf(), None))
}

/// A directory whose entry file has another name (`recipe_bot.py`, as published samples are
/// laid out): the one top-level `.py` file that defines something to call.
pub(crate) fn entry_file_by_content(dir: &Path) -> Result<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::agent(dir.display().to_string(), format!("cannot read: {e}")))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            path.extension().and_then(|e| e.to_str()) == Some("py")
                && path.is_file()
                && !name.starts_with('_')
                && !name.starts_with("test_")
                && !matches!(name, "setup.py" | "conftest.py")
        })
        .collect();
    files.sort();
    let candidates: Vec<&PathBuf> = files
        .iter()
        .filter(|f| crate::lambda::analyse::entry::offers_an_entry(f))
        .collect();
    match candidates.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::Agent {
            location: dir.display().to_string(),
            message: format!(
                "directory has no entry file ({}, or one file with a top-level `main`, handler or `Agent(...)`)",
                ENTRY_FILES.join(", ")
            ),
            hint: Some(
                "pass --agent with the .py file that defines main() or the Agent, or rename it to agent.py"
                    .into(),
            ),
        }),
        several => Err(Error::Agent {
            location: dir.display().to_string(),
            message: format!(
                "several files could be the entry: {}",
                several
                    .iter()
                    .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(format!(
                "name the entry file: --agent {}",
                several[0].display()
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_offers_the_files_whose_agent_is_built_in_a_try_block_and_not_other_frameworks() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "bot.py",
            "from strands import Agent\ntry:\n    agent = Agent()\nexcept ImportError:\n    raise\n",
        );
        write("helpers.py", "def helper(x):\n    return x\n");
        write(
            "adk.py",
            "from google.adk.agents import Agent\nroot_agent = Agent(name='x')\n",
        );
        assert_eq!(
            entry_file_by_content(dir.path()).unwrap(),
            dir.path().join("bot.py")
        );
        write(
            "other_bot.py",
            "from strands import Agent\nif True:\n    agent = Agent()\n",
        );
        let err = entry_file_by_content(dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .contains("several files could be the entry: bot.py, other_bot.py"),
            "{err}"
        );
    }
}
