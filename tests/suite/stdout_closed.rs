//! A stdout closed early (`agentdeploy list -o json | head -0`) ends the program quietly, as Unix
//! tools do: no panic, no "Broken pipe" message, the command's own exit code.

use std::process::Stdio;

use crate::common::*;

fn run_with_closed_stdout(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    // A project with a record (a dry-run's): `list` prints it without asking AWS, which it does
    // only where there is no record.
    let planned = agentdeploy(dir.path())
        .args([
            "lambda",
            "--dry-run",
            "-q",
            "--function-name",
            "x",
            "--agent",
        ])
        .arg(fixture("seed_agent.py"))
        .output()
        .unwrap();
    assert!(planned.status.success(), "{}", stderr(&planned));
    // The read end is closed before the program starts, so its first write fails (EPIPE)
    // every time, not only when a reader happens to exit first.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut cmd = agentdeploy(dir.path());
    cmd.args(args).stdout(writer).stderr(Stdio::piped());
    let out = cmd.output().unwrap();
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(
        !err.to_lowercase().contains("broken pipe"),
        "{args:?}: {err}"
    );
    out
}

#[test]
fn a_closed_stdout_is_a_quiet_end() {
    for args in [
        &["list", "-o", "json"][..],
        &["list"],
        &["cost", "-o", "json"],
        &["completions", "bash"],
    ] {
        let out = run_with_closed_stdout(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_closed_stdout_keeps_a_failures_exit_code() {
    let out =
        run_with_closed_stdout(&["lambda", "--dry-run", "-o", "json", "--function-name", "x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
