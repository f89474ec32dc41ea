//! `agentdeploy sync` (reference §13) on the local AWS: a code-only change reaches `live` with
//! no CloudFormation call (the emulator's call log shows every call), a change that is not code
//! only is refused naming what changed, and the next `lambda` deploy puts CloudFormation back in
//! charge.

use serde_json::Value;

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;

fn checkout() -> tempfile::TempDir {
    project_of(&[
        ("conversations", "main_style.py"),
        ("conversations", "stub_model.py"),
    ])
}

fn sync(aws: &LocalAws, dir: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    run(cmd
        .env("PATH", local_aws::deploy_path())
        .args(["sync", "synced", "--agent", "main_style.py", "-o", "json"])
        .args(extra))
}

fn answer(aws: &LocalAws, dir: &std::path::Path) -> String {
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    let out = run(cmd
        .env("PATH", local_aws::deploy_path())
        .args(["invoke", "synced", "--input", "hi", "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)["output"]["main"].as_str().unwrap().to_string()
}

/// `lambda` of the agent as the tests deploy it; the report.
fn deploy(aws: &LocalAws, dir: &std::path::Path) -> Value {
    let deployed = run(aws.lambda_command(dir).args([
        "--function-name",
        "synced",
        "--agent",
        "main_style.py",
    ]));
    assert_eq!(deployed.status.code(), Some(0), "{}", stderr(&deployed));
    json(&deployed)
}

/// Asserts `out` exited with `code` and its stderr says each of `said`.
fn refused(out: &std::process::Output, code: i32, said: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    for text in said {
        assert!(stderr(out).contains(text), "{text:?} in:\n{}", stderr(out));
    }
}

fn calls(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_code_change_reaches_live_without_cloudformation_and_the_next_deploy_takes_over() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("calls.txt");
    let aws = LocalAws::start_logging_calls(&log);
    let project = checkout();
    let dir = project.path();
    deploy(&aws, dir);
    assert_eq!(answer(&aws, dir), "main saw 1 messages: hi");

    let agent = dir.join("main_style.py");
    let original = std::fs::read_to_string(&agent).unwrap();
    std::fs::write(
        &agent,
        original.replace("\"main\": str(answer)", "\"main\": \"v2 \" + str(answer)"),
    )
    .unwrap();
    let before = calls(&log).len();
    let synced = sync(&aws, dir, &[]);
    assert_eq!(synced.status.code(), Some(0), "{}", stderr(&synced));
    let doc = json(&synced);
    assert_eq!(doc["status"], "synced", "{doc}");
    assert!(doc["duration_ms"].as_u64().is_some(), "{doc}");
    let during = calls(&log)[before..].to_vec();
    // The stack is read (whose it is, the function's name), never changed: no change set, no
    // update, nothing CloudFormation runs.
    let stack_changes: Vec<&String> = during
        .iter()
        .filter(|c| {
            c.starts_with("cloudformation:") && c.as_str() != "cloudformation:DescribeStacks"
        })
        .collect();
    assert!(
        stack_changes.is_empty(),
        "sync went through CloudFormation: {during:?}"
    );
    for call in [
        "lambda:UpdateFunctionCode",
        "lambda:PublishVersion",
        "lambda:UpdateAlias",
    ] {
        assert!(during.iter().any(|c| c == call), "{call}: {during:?}");
    }
    assert_eq!(
        answer(&aws, dir),
        "v2 main saw 1 messages: hi",
        "live serves the synced code"
    );
    let version = doc["version"].as_str().unwrap().to_string();
    let record = std::fs::read_to_string(dir.join(".agentdeploy/state.json")).unwrap_or_default();
    assert!(
        record.contains(&format!("version {version} synced at")),
        "{record}"
    );

    // Not code only: refused, naming what changed and the command to run; nothing moved.
    refused(
        &sync(&aws, dir, &["--memory", "2048"]),
        2,
        &[
            "the function's settings, permissions or endpoint changed",
            "agentdeploy lambda --function-name synced",
        ],
    );
    std::fs::write(dir.join("requirements.txt"), "strands-agents\nsix\n").unwrap();
    refused(
        &sync(&aws, dir, &["--requirements", "requirements.txt"]),
        2,
        &["the dependencies (requirements)"],
    );
    std::fs::remove_file(dir.join("requirements.txt")).unwrap();
    assert_eq!(answer(&aws, dir), "v2 main saw 1 messages: hi");

    // The next deploy, of the code as the last deploy had it: not "unchanged" (live serves the
    // synced code), CloudFormation in charge again, said; the record no longer says synced.
    std::fs::write(&agent, &original).unwrap();
    let doc = deploy(&aws, dir);
    let warnings: Vec<&str> = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("puts CloudFormation back in charge")),
        "{warnings:?}"
    );
    assert_eq!(
        answer(&aws, dir),
        "main saw 1 messages: hi",
        "live serves the stack's code again"
    );
    let record = std::fs::read_to_string(dir.join(".agentdeploy/state.json")).unwrap_or_default();
    assert!(!record.contains("synced at"), "{record}");

    // Another checkout deploying it (frozen while it holds the deploy lock in the artifact
    // bucket): `sync` is refused at once, naming it, and changes nothing.
    let other = checkout();
    let mut deploy = aws.lambda_command(other.path());
    deploy.args([
        "--function-name",
        "synced",
        "--agent",
        "main_style.py",
        "--force",
    ]);
    let frozen =
        crate::lifecycle_e2e::spawn_until_phase(deploy, "synced", "resolving dependencies");
    let pid = frozen.id() as i32;
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    std::fs::write(
        &agent,
        original.replace("\"main\": str(answer)", "\"main\": \"v4 \" + str(answer)"),
    )
    .unwrap();
    let locked = sync(&aws, dir, &["--s3-bucket", local_aws::BUCKET]);
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    refused(&locked, 1, &[&format!("pid {pid}) is deploying synced")]);
    let frozen = frozen.wait_with_output().unwrap();
    assert_eq!(frozen.status.code(), Some(0), "{}", stdout(&frozen));
    assert_eq!(
        answer(&aws, dir),
        "main saw 1 messages: hi",
        "the refused sync changed nothing"
    );
}

#[test]
fn a_protected_environment_is_not_synced_without_yes() {
    let project = checkout();
    let dir = project.path();
    std::fs::write(
        dir.join("agentdeploy.toml"),
        "[agents.synced]\nagent = \"main_style.py\"\n\n[environments.prod]\nprotected = true\n",
    )
    .unwrap();
    refused(
        &run(agentdeploy(dir).args(["sync", "synced", "--env", "prod"])),
        2,
        &[
            "the environment `prod` is protected",
            "agentdeploy lambda --env prod",
        ],
    );
}

#[test]
fn dev_remote_syncs_each_change_until_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let aws = LocalAws::start();
    let project = checkout();
    let dir = project.path();
    deploy(&aws, dir);
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    // Every zip staged in the artifact bucket, as one over Lambda's 50 MB is.
    let mut watcher = cmd
        .env("PATH", local_aws::deploy_path())
        .env("AGENTDEPLOY_SYNC_DIRECT_BYTES", "1")
        .args(["dev", "synced", "--remote", "--agent", "main_style.py"])
        .args(["--s3-bucket", local_aws::BUCKET])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut errors = BufReader::new(watcher.stderr.take().unwrap()).lines();
    let said = errors
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("watching synced's files"));
    assert!(said.is_some(), "the watch started");
    let agent = dir.join("main_style.py");
    let original = std::fs::read_to_string(&agent).unwrap();
    std::fs::write(
        &agent,
        original.replace("\"main\": str(answer)", "\"main\": \"v3 \" + str(answer)"),
    )
    .unwrap();
    let mut results = BufReader::new(watcher.stdout.take().unwrap()).lines();
    let synced = results.next().unwrap().unwrap();
    assert!(
        synced.starts_with("synced: synced; live serves version "),
        "{synced}"
    );
    assert_eq!(answer(&aws, dir), "v3 main saw 1 messages: hi");
    unsafe { libc::kill(watcher.id() as i32, libc::SIGINT) };
    assert_eq!(watcher.wait().unwrap().code(), Some(0));
    let staged = aws.boto3(&format!(
        "print(client('s3').list_objects_v2(Bucket='{}', Prefix='agentdeploy-synced/agentdeploy-sync/').get('KeyCount', 0))",
        local_aws::BUCKET
    ));
    assert_eq!(
        staged.trim(),
        "0",
        "the staged zip is removed once Lambda has the code"
    );
}
