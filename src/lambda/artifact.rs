//! The built artifact's unzipped size (SPEC §6): Lambda refuses more than 250 MiB, so it is
//! measured before upload and an oversized one names its largest packages.

use std::path::Path;

use crate::error::{Error, Result};

/// Lambda's limit on the unzipped deployment package: 250 MiB (262,144,000 bytes).
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

/// Sizes in the unit Lambda's limit is stated in (MiB, as 250 MiB = 262,144,000 bytes).
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn oversize(size: u64, limit: u64, largest: &str) -> Error {
    Error::Build {
        message: format!(
            "the function is {} unzipped ({size} bytes), over Lambda's limit of {} ({limit} bytes){largest}",
            mib(size),
            mib(limit).replace(".0 MiB", " MiB"),
        ),
        hint: OVERSIZE_HINT.into(),
    }
}

/// A size known without the folder (dependencies reused from the cache, plus the code).
pub fn check_total(size: u64, limit: u64) -> Result<()> {
    if size > limit {
        return Err(oversize(size, limit, ""));
    }
    Ok(())
}

pub fn check_size(artifact: &Path, limit: u64) -> Result<u64> {
    let size = dir_size(artifact);
    if size > limit {
        let largest: Vec<String> = largest_entries(artifact, 5)
            .into_iter()
            .map(|(name, bytes)| format!("{name} {}", mib(bytes)))
            .collect();
        return Err(oversize(
            size,
            limit,
            &format!("; largest: {}", largest.join(", ")),
        ));
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
        assert!(text.contains("bigpkg 0.0 MiB"), "{text}");
        assert!(!text.contains("dist-info"), "{text}");
        assert_eq!(err.exit_code(), 4);
    }

    #[test]
    fn the_limit_is_stated_as_250_mib() {
        let err = check_total(MAX_UNZIPPED_BYTES + 1, MAX_UNZIPPED_BYTES).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("over Lambda's limit of 250 MiB (262144000 bytes)"),
            "{text}"
        );
        assert!(!text.contains("262 MB"), "{text}");
        assert!(check_total(MAX_UNZIPPED_BYTES, MAX_UNZIPPED_BYTES).is_ok());
    }
}
