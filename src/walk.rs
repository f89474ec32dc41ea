//! The one directory walk, with its two policies, so what is measured is what is shipped:
//! `Links::Follow` for what goes into the function (links followed as sam's and pip's zips do,
//! each directory once so a link loop ends, dangling links skipped), `Links::Skip` for what
//! untrusted code wrote (a link is never followed or listed).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Skip,
}

/// One regular file found.
#[derive(Debug, Clone)]
pub struct Walked {
    /// Relative to the root, `/`-separated.
    pub name: String,
    pub path: PathBuf,
    pub len: u64,
    pub mode: u32,
}

/// Every regular file below `root`, sorted by name. A root that is itself a file is that file.
pub fn walk(root: &Path, links: Links) -> std::io::Result<Vec<Walked>> {
    use std::os::unix::fs::PermissionsExt;
    let meta = |path: &Path| match links {
        Links::Follow => std::fs::metadata(path),
        Links::Skip => std::fs::symlink_metadata(path),
    };
    let root_meta = meta(root)?;
    if root_meta.is_file() {
        return Ok(vec![Walked {
            name: root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: root.to_path_buf(),
            len: root_meta.len(),
            mode: root_meta.permissions().mode(),
        }]);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = stack.pop() {
        if links == Links::Follow && !seen.insert(dir.canonicalize()?) {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            // A dangling link (Follow) or a link (Skip) is not a file of the tree.
            let Ok(found) = meta(&path) else {
                continue;
            };
            if found.is_dir() {
                stack.push((path, format!("{name}/")));
            } else if found.is_file() {
                out.push(Walked {
                    name,
                    path,
                    len: found.len(),
                    mode: found.permissions().mode(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linked_folder_is_walked_when_following_and_never_when_skipping() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("big.bin"), vec![0u8; 3000]).unwrap();
        std::fs::create_dir(root.path().join("pkg")).unwrap();
        std::fs::write(root.path().join("pkg/a.py"), "x = 1\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("linked")).unwrap();
        std::os::unix::fs::symlink(root.path(), root.path().join("pkg/loop")).unwrap();
        std::os::unix::fs::symlink("/nowhere", root.path().join("dangling")).unwrap();
        let names = |links| -> Vec<String> {
            walk(root.path(), links)
                .unwrap()
                .into_iter()
                .map(|w| w.name)
                .collect()
        };
        assert_eq!(names(Links::Follow), ["linked/big.bin", "pkg/a.py"]);
        assert_eq!(names(Links::Skip), ["pkg/a.py"]);
    }
}
