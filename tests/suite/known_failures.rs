//! reference §9's known failures, each made to happen for real on the local AWS, checking the
//! message, the hint and the exit code. (Expired credentials, AccessDenied and ROLLBACK_COMPLETE
//! cannot be produced by the emulator: they are replayed in the unit tests of preflight.rs and
//! lambda/deploy.rs. Binary validation, sam too old, no region, no credentials and a missing
//! bucket are in deploy_e2e.rs.)

use std::path::Path;
use std::process::Command;

use crate::common::local_aws::LocalAws;
use crate::common::*;

fn deploy(aws: &LocalAws, cwd: &Path, name: &str, agent: &Path, extra: &[&str]) -> Command {
    let mut cmd = aws.lambda_command(cwd);
    cmd.args(["--function-name", name, "--endpoint", "none", "--agent"])
        .arg(agent)
        .args(extra);
    cmd
}

#[test]
fn docker_not_running_for_a_container_build_exits_3() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out = run(&mut deploy(
        &aws,
        work.path(),
        "docker",
        &fixture("probe_agent.py"),
        &["--use-container", "always"],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc = json(&out);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Docker is not running"),
        "{doc:#}"
    );
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--use-container never")
    );
}

#[test]
fn a_function_timeout_is_reported_with_the_fix() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out = run(&mut deploy(
        &aws,
        work.path(),
        "slow",
        &fixture("slow_agent.py"),
        &["--timeout", "3"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `invoke slow` with an input that outlasts the timeout, and `extra` flags.
    let invoke_slow = |extra: &[&str]| {
        let mut invoke = agentdeploy(work.path());
        aws.configure(&mut invoke);
        invoke.args([
            "invoke",
            "slow",
            "--input",
            "wait",
            "--data",
            r#"{"seconds": 10}"#,
        ]);
        run(invoke.args(extra))
    };
    let out = invoke_slow(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("Task timed out after 3.00 seconds"), "{err}");
    assert!(err.contains("raise --timeout"), "{err}");

    // With -o json: one document on stdout, the error with the function's answer in it.
    let out = invoke_slow(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    assert_eq!(doc["status"], "failed", "{doc:#}");
    assert_eq!(doc["error"]["kind"], "function", "{doc:#}");
    assert!(
        doc["output"]["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("timed out")),
        "{doc:#}"
    );

    // --raw: the function's own error payload on stdout, the error on stderr, exit 1.
    let out = invoke_slow(&["--raw"]);
    assert_eq!(out.status.code(), Some(1));
    let payload: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(payload["errorType"], "Sandbox.Timedout", "{payload}");
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));

    // --stream -o json: one JSON object per line, the error the last, given once.
    let out = invoke_slow(&["--stream", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["status"], "failed");
    assert_eq!(lines[0]["error"]["kind"], "function");
}

#[test]
fn a_requirement_without_a_wheel_for_the_platform_exits_4_naming_it() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let agent_dir = work.path().join("agent");
    std::fs::create_dir(&agent_dir).unwrap();
    std::fs::copy(fixture("probe_agent.py"), agent_dir.join("agent.py")).unwrap();
    // pycrypto 2.6.1 exists only as an sdist: there is no wheel for any Lambda platform.
    std::fs::write(agent_dir.join("requirements.txt"), "pycrypto==2.6.1\n").unwrap();
    let out = run(&mut deploy(&aws, work.path(), "nowheel", &agent_dir, &[]));
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = json(&out);
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no wheel of pycrypto==2.6.1 for the Lambda platform"),
        "{message}"
    );
    assert!(message.contains("manylinux_2_34_x86_64"), "{message}");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("manylinux wheels")
    );
}

#[test]
fn an_artifact_over_the_size_limit_exits_4_naming_the_largest_parts() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = deploy(&aws, work.path(), "huge", &fixture("probe_agent.py"), &[]);
    // The 250 MB limit, lowered so a small agent exceeds it (the check is the same).
    cmd.env("AGENTDEPLOY_MAX_ARTIFACT_BYTES", "2000");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = json(&out);
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("unzipped (") && message.contains("over Lambda's limit of"),
        "{message}"
    );
    // Largest first: the handler's runtime package, then the handler itself.
    let largest = message.split("largest: ").nth(1).unwrap_or_default();
    assert!(
        largest.starts_with("agentdeploy_runtime 0.") && largest.contains(" MiB, handler.py 0."),
        "{message}"
    );
    // Nothing was uploaded: the stack does not exist.
    let mut status = agentdeploy(work.path());
    aws.configure(&mut status);
    let status = run(status.args(["status", "huge", "-o", "json"]));
    assert_eq!(json(&status)["stack_status"], serde_json::Value::Null);
}
