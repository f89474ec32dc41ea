//! The built artifact's unzipped size (SPEC §6): Lambda refuses more than 250 MB, so it is
//! measured before upload and an oversized one names its largest packages.

use std::path::Path;

use crate::error::{Error, Result};

/// Lambda's limit on the unzipped deployment package (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

pub fn dir_size(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    if !meta.is_dir() {
        return 0;
    }
    std::fs::read_dir(path)
        .map(|entries| entries.flatten().map(|e| dir_size(&e.path())).sum())
        .unwrap_or(0)
}

/// Every regular file below `dir`.
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(t) if t.is_file() => out.push(entry.path()),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Top-level entries of the artifact by size, largest first.
pub fn largest_entries(artifact: &Path, n: usize) -> Vec<(String, u64)> {
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(artifact)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| !e.file_name().to_string_lossy().ends_with(".dist-info"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        dir_size(&e.path()),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    sizes.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    sizes.truncate(n);
    sizes
}

/// Measures the artifact; over the limit is a build error naming the largest packages.
const OVERSIZE_HINT: &str = "drop unused dependencies (check the plan's requirements), move large ones to a Lambda layer, or package the agent as a container image";

/// A size known without the folder (dependencies reused from the cache, plus the code).
pub fn check_total(size: u64, limit: u64) -> Result<()> {
    if size > limit {
        return Err(Error::Build {
            message: format!(
                "the function is {:.1} MB unzipped, over Lambda's {:.0} MB limit",
                size as f64 / 1e6,
                limit as f64 / 1e6
            ),
            hint: OVERSIZE_HINT.into(),
        });
    }
    Ok(())
}

pub fn check_size(artifact: &Path, limit: u64) -> Result<u64> {
    let size = dir_size(artifact);
    if size > limit {
        let largest: Vec<String> = largest_entries(artifact, 5)
            .into_iter()
            .map(|(name, bytes)| format!("{name} {:.1} MB", bytes as f64 / 1e6))
            .collect();
        return Err(Error::Build {
            message: format!(
                "the function is {:.1} MB unzipped, over Lambda's {:.0} MB limit; largest: {}",
                size as f64 / 1e6,
                limit as f64 / 1e6,
                largest.join(", ")
            ),
            hint: OVERSIZE_HINT.into(),
        });
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_artifact_names_the_largest_packages() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bigpkg")).unwrap();
        std::fs::write(dir.path().join("bigpkg/blob.bin"), vec![0u8; 3000]).unwrap();
        std::fs::create_dir(dir.path().join("bigpkg-1.0.dist-info")).unwrap();
        std::fs::write(dir.path().join("handler.py"), b"x = 1\n").unwrap();
        assert_eq!(check_size(dir.path(), 10_000).unwrap(), 3006);
        let err = check_size(dir.path(), 1000).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("bigpkg 0.0 MB"), "{text}");
        assert!(!text.contains("dist-info"), "{text}");
        assert_eq!(crate::orchestrate::exit_codes::exit_code(&err), 4);
    }
}
