//! File writes that never leave a half-written file: the record, caches and rendered projects all
//! go through here. And the one way to read a small text file the user names (config, `.env`,
//! requirements, prices): never more than it could sensibly be, so `/dev/zero` is an error, not
//! a process that grows until the machine runs out of memory.

use std::path::Path;

use crate::error::{Error, Result};

/// The most any small text file the user names may hold.
pub const MAX_TEXT_FILE_BYTES: u64 = 1024 * 1024;

/// Reads a user's text file of at most [`MAX_TEXT_FILE_BYTES`], as UTF-8, without a leading
/// byte-order mark (editors on Windows write one; it is no part of the first line). The error
/// is the reason, for the caller to put its file and flag to.
pub fn read_user_text(path: &Path) -> std::result::Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_TEXT_FILE_BYTES {
        return Err(format!(
            "larger than {} MiB: not a file agentdeploy reads",
            MAX_TEXT_FILE_BYTES / (1024 * 1024)
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// temp file + rename, so an interrupted run never leaves a half-written file behind.
pub fn write_atomically(target: &Path, contents: &[u8]) -> Result<()> {
    write_atomically_as(target, contents, None)
}

/// `write_atomically` with the file's permissions set (`None`: the temporary file's, 0600).
fn write_atomically_as(target: &Path, contents: &[u8], mode: Option<u32>) -> Result<()> {
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temp = tempfile::NamedTempFile::new_in(parent).map_err(|e| Error::io(parent, e))?;
    std::io::Write::write_all(&mut temp, contents).map_err(|e| Error::io(target, e))?;
    if let Some(mode) = mode {
        temp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(|e| Error::io(target, e))?;
    }
    temp.persist(target)
        .map_err(|e| Error::io(target, e.error))?;
    Ok(())
}

/// How every results file agentdeploy writes begins (`test --junit`).
pub const RESULTS_FILE_START: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";

/// Why a results file may not be written at `path` (`None`: it may): only a new path, or a
/// regular file (not a link, a device, a FIFO, a folder) holding results agentdeploy wrote.
pub fn results_file_problem(path: &Path) -> Option<String> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(format!("cannot be checked ({e})")),
        Ok(meta) => meta,
    };
    if meta.file_type().is_symlink() {
        return Some("is a symbolic link".into());
    }
    if !meta.is_file() {
        return Some("exists and is not a regular file (a folder, a device or a FIFO)".into());
    }
    // Results of a few thousand cases stay far below this; a bigger file is something else.
    if meta.len() > 16 << 20 {
        return Some("exists and is not a JUnit results file agentdeploy wrote".into());
    }
    match std::fs::read(path) {
        Ok(bytes) if bytes.starts_with(RESULTS_FILE_START.as_bytes()) => None,
        Ok(_) => Some("exists and is not a JUnit results file agentdeploy wrote".into()),
        Err(e) => Some(format!("cannot be read ({e})")),
    }
}

/// Writes a results file (checked with `results_file_problem`) readable by all, as CI systems
/// that collect it from another user expect.
pub fn write_results_file(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(problem) = results_file_problem(path) {
        return Err(Error::Usage {
            flag: "--junit".into(),
            message: format!("{} {problem}; nothing written", path.display()),
            hint: None,
        });
    }
    write_atomically_as(path, contents, Some(0o644))
}

/// The file that marks an out-dir as agentdeploy's: only a folder holding it (or an empty one, or
/// one under the project's `.agentdeploy/`) is ever cleaned.
pub const OUT_DIR_MARKER: &str = ".agentdeploy-out-dir";

const OUT_DIR_MARKER_TEXT: &str = "This folder is written by agentdeploy; its src/ is rebuilt on every run.\n\
Delete this file and agentdeploy will refuse to write here again.\n";

/// Why `out_dir` may not be written (None: it may): a file, a folder of the user's, or a folder
/// inside the agent directory (it would ship itself, growing on every run).
pub fn out_dir_problem(
    out_dir: &Path,
    project_dir: &Path,
    agent_dir: Option<&Path>,
) -> Option<String> {
    let out_dir = normalize(out_dir);
    if let Some(agent_dir) = agent_dir {
        let agent_dir = normalize(agent_dir);
        if let Ok(inside) = out_dir.strip_prefix(&agent_dir) {
            let skipped = inside
                .components()
                .next()
                .is_some_and(|c| c.as_os_str() == ".agentdeploy");
            if !skipped {
                return Some(format!(
                    "{} is inside the agent directory {}, so it would be shipped with the agent",
                    out_dir.display(),
                    agent_dir.display()
                ));
            }
        }
    }
    let metadata = match std::fs::symlink_metadata(&out_dir) {
        Ok(metadata) => metadata,
        Err(_) => return None,
    };
    if !metadata.is_dir() {
        return Some(format!("{} exists and is not a folder", out_dir.display()));
    }
    let ours = out_dir.join(OUT_DIR_MARKER).is_file()
        || out_dir.starts_with(normalize(&project_dir.join(".agentdeploy")));
    let empty = std::fs::read_dir(&out_dir).is_ok_and(|mut entries| entries.next().is_none());
    if ours || empty {
        None
    } else {
        Some(format!(
            "{} is a folder agentdeploy did not create (it has no {OUT_DIR_MARKER}) and is not empty",
            out_dir.display()
        ))
    }
}

/// Claims an out-dir checked by [`out_dir_problem`]: creates it and writes the marker.
pub fn claim_out_dir(out_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let marker = out_dir.join(OUT_DIR_MARKER);
    if !marker.is_file() {
        write_atomically(&marker, OUT_DIR_MARKER_TEXT.as_bytes())?;
    }
    Ok(())
}

/// `a/b/../c` → `a/c` without touching the disk (the folder may not exist yet).
pub fn normalize(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `len` bytes from the operating system's random source.
pub fn random_bytes(len: usize) -> Result<Vec<u8>> {
    let urandom = Path::new("/dev/urandom");
    let mut bytes = vec![0u8; len];
    std::io::Read::read_exact(
        &mut std::fs::File::open(urandom).map_err(|e| Error::io(urandom, e))?,
        &mut bytes,
    )
    .map_err(|e| Error::io(urandom, e))?;
    Ok(bytes)
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn a_user_file_is_read_capped_and_without_its_byte_order_mark() {
        let dir = tempfile::tempdir().unwrap();
        let bom = dir.path().join("requirements.txt");
        std::fs::write(&bom, "\u{feff}strands-agents\n").unwrap();
        assert_eq!(read_user_text(&bom).unwrap(), "strands-agents\n");
        let reason = read_user_text(Path::new("/dev/zero")).unwrap_err();
        assert!(reason.contains("larger than 1 MiB"), "{reason}");
        let latin = dir.path().join("prices.toml");
        std::fs::write(&latin, b"a = \"\xe9\"\n").unwrap();
        assert!(read_user_text(&latin).unwrap_err().contains("not UTF-8"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_go_only_to_a_new_path_or_over_earlier_results() {
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.xml");
        assert_eq!(results_file_problem(&results), None);
        write_results_file(
            &results,
            format!("{RESULTS_FILE_START}</testsuites>\n").as_bytes(),
        )
        .unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&results).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(
            results_file_problem(&results),
            None,
            "an earlier run's results"
        );

        // A PNG (not UTF-8), a text file, a link to results, a FIFO, a device, a folder.
        let png = dir.path().join("logo.png");
        std::fs::write(&png, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "<?xml version=\"1.0\"?><testsuites/>").unwrap();
        let link = dir.path().join("link.xml");
        std::os::unix::fs::symlink(&results, &link).unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        for (path, why) in [
            (png.as_path(), "not a JUnit results file"),
            (text.as_path(), "not a JUnit results file"),
            (link.as_path(), "symbolic link"),
            (fifo.as_path(), "not a regular file"),
            (Path::new("/dev/null"), "not a regular file"),
            (dir.path(), "not a regular file"),
        ] {
            let problem = results_file_problem(path).unwrap_or_default();
            assert!(problem.contains(why), "{}: {problem:?}", path.display());
            assert!(write_results_file(path, b"x").is_err());
        }
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
