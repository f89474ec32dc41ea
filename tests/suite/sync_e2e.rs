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
        .args(["--s3-bucket", local_aws::BUCKET])
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
    // No CloudFormation call at all: whose function it is comes from the last deploy's signed
    // record, not from reading the stack.
    let stack_calls: Vec<&String> = during
        .iter()
        .filter(|c| c.starts_with("cloudformation:"))
        .collect();
    assert!(
        stack_calls.is_empty(),
        "sync called CloudFormation: {during:?}"
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
    // A function never deployed; another function pointed at this one's stack (its signed
    // record is found, but the template it would need is another one's): refused, nothing
    // written.
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    let base = |cmd: &mut std::process::Command| {
        cmd.env("PATH", local_aws::deploy_path()).args([
            "--agent",
            "main_style.py",
            "--s3-bucket",
            local_aws::BUCKET,
        ]);
    };
    base(cmd.args(["sync", "nothere"]));
    refused(
        &run(&mut cmd),
        2,
        &[
            "no deploy of nothere records what `sync` compares with",
            "agentdeploy lambda --function-name nothere",
        ],
    );
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    base(cmd.args(["sync", "intruder", "--stack-name", "agentdeploy-synced"]));
    refused(
        &run(&mut cmd),
        2,
        &["the function's settings, permissions or endpoint changed"],
    );
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
    let locked = sync(&aws, dir, &[]);
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
        "print(' '.join(o['Key'] for o in client('s3').list_objects_v2(Bucket='{}', Prefix='agentdeploy-synced/agentdeploy-sync/').get('Contents', [])))",
        local_aws::BUCKET
    ));
    // Only a kept dependencies' part may stay (see the next test).
    assert!(
        staged.split_whitespace().all(|key| key.ends_with(".part")),
        "the staged zip is removed once Lambda has the code: {staged}"
    );
}

/// The seed agent's zip (strands-agents: over Lambda's 50 MB) goes through the artifact bucket
/// put together from two parts: the dependencies' part sent once and kept there, copied inside
/// S3 by the next syncs, and the code's part. The kept part is never trusted: bytes that are
/// not these dependencies' are put again, and what Lambda took is the zip built here.
#[test]
fn a_large_zip_sends_its_dependencies_once_and_never_trusts_the_kept_copy() {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("calls.txt");
    let aws = LocalAws::start_logging_calls(&log);
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    let agent = dir.join("agent.py");
    std::fs::copy(fixture("seed_agent.py"), &agent).unwrap();
    let deployed =
        run(aws
            .lambda_command(dir)
            .args(["--function-name", "big", "--agent", "agent.py"]));
    assert_eq!(deployed.status.code(), Some(0), "{}", stderr(&deployed));
    let original = std::fs::read_to_string(&agent).unwrap();
    let sync_marked = |mark: &str| {
        std::fs::write(
            &agent,
            original.replace("You asked:", &format!("You asked ({mark}):")),
        )
        .unwrap();
        let before = calls(&log).len();
        let command = |args: &[&str]| {
            let mut cmd = agentdeploy(dir);
            aws.configure(&mut cmd);
            run(cmd.env("PATH", local_aws::deploy_path()).args(args))
        };
        let out = command(&[
            "sync",
            "big",
            "--agent",
            "agent.py",
            "--s3-bucket",
            local_aws::BUCKET,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let answer = command(&[
            "invoke",
            "big",
            "--input",
            "hi",
            "--data",
            r#"{"offline": true}"#,
            "-o",
            "json",
        ]);
        assert!(
            stdout(&answer).contains(&format!("You asked ({mark}): hi")),
            "live serves the synced code: {}",
            stdout(&answer)
        );
        calls(&log)[before..].to_vec()
    };
    let objects = || {
        aws.boto3(&format!(
            "print('\\n'.join(o['Key'] for o in client('s3').list_objects_v2(Bucket='{}', Prefix='agentdeploy-big/agentdeploy-sync/').get('Contents', [])))",
            local_aws::BUCKET
        ))
    };

    let first = sync_marked("s1");
    for call in [
        "s3:PutObject",
        "s3:CreateMultipartUpload",
        "s3:UploadPartCopy",
        "s3:UploadPart",
        "s3:CompleteMultipartUpload",
        "lambda:UpdateFunctionCode",
    ] {
        assert!(first.iter().any(|c| c == call), "{call}: {first:?}");
    }
    let kept = objects();
    let kept: Vec<&str> = kept.lines().collect();
    assert!(
        kept.len() == 1 && kept[0].ends_with(".part"),
        "only the dependencies' part stays, the staged zip is removed: {kept:?}"
    );
    let kept = kept[0].to_string();

    // Every sync also puts its deploy lock (an S3 object): the dependencies' part is the one
    // PutObject more.
    let puts = |calls: &[String]| calls.iter().filter(|c| *c == "s3:PutObject").count();
    let second = sync_marked("s2");
    assert_eq!(
        puts(&second) + 1,
        puts(&first),
        "the dependencies are not sent again: {first:?}\n{second:?}"
    );
    assert!(
        second.iter().any(|c| c == "s3:UploadPartCopy"),
        "{second:?}"
    );

    // Someone else's bytes under the kept name: put again, never shipped.
    aws.boto3(&format!(
        "client('s3').put_object(Bucket='{}', Key='{kept}', Body=b'not the dependencies' * 400000)",
        local_aws::BUCKET
    ));
    let third = sync_marked("s3");
    assert_eq!(
        puts(&third),
        puts(&second) + 1,
        "the kept part was not these dependencies: put again: {third:?}"
    );
    assert_eq!(objects().trim(), kept);

    // `destroy` takes what sync kept with the stack (the artifact bucket as the lock finds it).
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    let destroyed = run(cmd
        .env("PATH", local_aws::deploy_path())
        .env("AGENTDEPLOY_S3_BUCKET", local_aws::BUCKET)
        .args(["destroy", "big", "--yes", "-o", "json"]));
    assert_eq!(destroyed.status.code(), Some(0), "{}", stderr(&destroyed));
    assert!(
        json(&destroyed)["note"]
            .as_str()
            .is_some_and(|n| n.contains("1 object(s) `sync` kept in the artifact bucket")),
        "{}",
        stdout(&destroyed)
    );
    assert_eq!(objects().trim(), "", "nothing of sync's stays");
}
