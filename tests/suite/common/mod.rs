//! Helpers shared by the integration tests: where the real tools live (installed by
//! `.ci/setup`), and running the built binary with a clean environment.

#![allow(dead_code)]

pub mod dev_server;
pub mod local_aws;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Installed by `.ci/setup`: a virtualenv with sam, moto and cfn-lint, a real Python 3.13
/// (`bin/python3.13`) and strands-agents for it (`py313-site`).
///
/// Without them, every test that needs them fails (CI must run them all, so they are never
/// skipped): the instruction is written once per run straight to the terminal, and each such test
/// fails with one line, not a wall of identical panics.
pub fn tools_dir() -> PathBuf {
    static TOOLS: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = TOOLS.get_or_init(|| {
        let dir = std::env::var_os("AGENTDEPLOY_TOOLS_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/agentdeploy-tools")))
            .unwrap_or_else(|| PathBuf::from(".cache/agentdeploy-tools"));
        if dir.join("venv/bin/sam").is_file() && dir.join("bin/python3.13").is_file() {
            return Ok(dir);
        }
        let message = format!(
            "the test tools (sam, moto, Python 3.13) are missing under {}: run `bash .ci/setup` first",
            dir.display()
        );
        // Straight to the terminal, past the harness's output capture: once per run.
        let _ = writeln!(
            std::io::stderr(),
            "\n=== agentdeploy tests: {message} ===\n"
        );
        Err(message)
    });
    match found {
        Ok(dir) => dir.clone(),
        Err(message) => panic!("{message}"),
    }
}

pub fn python313() -> PathBuf {
    tools_dir().join("bin/python3.13")
}

pub fn venv_bin(name: &str) -> PathBuf {
    tools_dir().join("venv/bin").join(name)
}

pub fn strands_site() -> PathBuf {
    tools_dir().join("py313-site")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo().join("fixtures").join(name)
}

/// A new project folder holding these fixture files (`(fixtures' folder, file)`), side by side.
pub fn project_of(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (folder, file) in files {
        std::fs::copy(fixture(folder).join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// PATH with only the system directories: no python3.13 wrapper, no sam.
pub fn base_path() -> String {
    "/usr/local/bin:/usr/bin:/bin".to_string()
}

/// The binary with every AGENTDEPLOY_* / AWS_* variable removed, run in `cwd`.
pub fn agentdeploy(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_agentdeploy"));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("AGENTDEPLOY_") || key.starts_with("AWS_") || key == "NO_COLOR" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.current_dir(cwd)
        .env("PATH", base_path())
        .stdin(Stdio::null());
    cmd
}

pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the binary runs")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The plan's pinned requirements (`name==version`) from a deploy report.
pub fn pinned_requirements(doc: &serde_json::Value) -> Vec<&str> {
    doc["plan"]["pinned_requirements"]
        .as_array()
        .unwrap_or_else(|| panic!("no pinned requirements in {doc:#}"))
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            stdout(out),
            stderr(out)
        )
    })
}

/// Every file below `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let ft = entry.file_type().expect("file type");
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                out.push(path);
            }
        }
    }
    out
}

/// Fails if any file below `dir` contains `secret` (the secrets tests search everything a run wrote).
pub fn assert_no_file_contains(dir: &Path, secret: &str) {
    for file in files_below(dir) {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "the secret was written to {}",
            file.display()
        );
    }
}

/// Lowercase hex SHA-256, as the probe agent reports a secret it can see.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `warnings` of a JSON report.
pub fn warnings(doc: &serde_json::Value) -> Vec<String> {
    doc["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("no warnings array in {doc:#}"))
        .iter()
        .map(|w| w.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Pids of live processes whose command line has `marker` (what a test's daemon names itself).
pub fn processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(marker)
        {
            found.push(pid);
        }
    }
    found
}

/// cfn-lint (the tool venv's) finds nothing wrong in any of `templates`.
pub fn assert_cfn_lint_passes(templates: &[PathBuf]) {
    let lint = Command::new(venv_bin("cfn-lint"))
        .args(templates)
        .output()
        .unwrap();
    assert!(
        lint.status.success(),
        "cfn-lint:\n{}{}",
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
}

/// A SAM template as CloudFormation receives it: the real SAM translator's output (the tool
/// venv's samtranslator, what `sam deploy` submits and CloudFormation expands).
pub fn sam_transform(template: &Path) -> serde_json::Value {
    let out = Command::new(venv_bin("python"))
        .arg(repo().join("tests/python/sam_transform.py"))
        .arg(template)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "SAM transform of {template:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The resources of one CloudFormation type in a transformed template.
pub fn resources_of_type<'a>(
    transformed: &'a serde_json::Value,
    kind: &str,
) -> Vec<&'a serde_json::Value> {
    transformed["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == kind)
        .collect()
}
