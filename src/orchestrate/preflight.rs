//! Preflight checks (SPEC §2): tools on PATH and their versions, the runtime's interpreter,
//! Docker when a container build is needed, credentials and region.

use std::process::Command;

/// `(major, minor)` of `python` if it is on PATH and starts.
pub fn interpreter_version(python: &str) -> Option<(u32, u32)> {
    let path = which::which(python).ok()?;
    let output = Command::new(path)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let mut parts = text.split_whitespace();
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
