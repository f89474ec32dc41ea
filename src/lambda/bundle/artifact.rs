//! The built artifact's unzipped size (reference §6): Lambda refuses more than 250 MiB, so it is
//! measured before upload and an oversized one names its largest packages.

use std::path::Path;

use crate::error::{Error, Result};
use crate::walk::{Links, walk};

/// Lambda's limit on the unzipped deployment package: 250 MiB (262,144,000 bytes).
pub const MAX_UNZIPPED_BYTES: u64 = 250 * 1024 * 1024;

/// What `path` adds to the function: its files as the zip will hold them (`walk::Links::Follow`:
/// a linked folder counts, as it ships).
pub fn dir_size(path: &Path) -> u64 {
    walk(path, Links::Follow)
        .map(|files| files.iter().map(|f| f.len).sum())
        .unwrap_or(0)
}

/// Every regular file below `dir`, links never followed (also for what untrusted code wrote).
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    walk(dir, Links::Skip)
        .map(|files| files.into_iter().map(|f| f.path).collect())
        .unwrap_or_default()
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

use crate::build_report::mib;

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
    use crate::exit_codes::Classified;

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
    fn a_linked_folder_counts_toward_the_limit_as_it_ships() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("weights.bin"), vec![0u8; 3000]).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("models")).unwrap();
        std::fs::write(dir.path().join("handler.py"), b"x = 1\n").unwrap();
        let err = check_size(dir.path(), 1000).unwrap_err().to_string();
        assert!(
            err.contains("(3006 bytes)") && err.contains("models 0.0 MiB"),
            "{err}"
        );
        // And the zip holds it: one walk, one policy.
        let names: Vec<String> = walk(dir.path(), Links::Follow)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["handler.py", "models/weights.bin"]);
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
