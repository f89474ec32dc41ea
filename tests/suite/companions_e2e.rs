//! Companion deployments on the local AWS (reference §10): the code-interpreter function answering
//! through Lambda Invoke, and agents that call AgentCore, AgentRun or a self-hosted interpreter.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use serde_json::{Value, json};

fn deploy(aws: &LocalAws, cwd: &Path, args: &[&str]) -> Output {
    run(aws.lambda_command(cwd).args(args))
}

fn invoke_raw(aws: &LocalAws, cwd: &Path, name: &str, input: &str, data: Value) -> Value {
    let mut cmd = agentdeploy(cwd);
    aws.configure(&mut cmd);
    cmd.args([
        "invoke",
        name,
        "--raw",
        "-o",
        "json",
        "--input",
        input,
        "--data",
        &data.to_string(),
    ]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    json(&out)["output"].clone()
}

const ONE_PIXEL_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

#[test]
fn the_code_interpreter_function_answers_the_five_cases_through_lambda_invoke() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out = deploy(
        &aws,
        work.path(),
        &["--kind", "code-interpreter", "--function-name", "python"],
    );
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["function_name"], "mcp-tool-python");
    assert_eq!(doc["architecture"], "arm64");
    assert_eq!(doc["memory"], 1024);
    assert_eq!(doc["timeout"], 600);
    assert_eq!(doc["runtime"], "python3.13");
    let server = &doc["mcp_client_config"]["mcpServers"]["awslabs.lambda-tool-mcp-server"];
    assert_eq!(server["command"], "uvx");
    assert_eq!(
        server["args"],
        json!(["awslabs.lambda-tool-mcp-server@latest"])
    );
    assert_eq!(
        server["env"],
        json!({ "AWS_REGION": "us-east-1", "FUNCTION_PREFIX": "mcp-tool-" })
    );

    let name = "mcp-tool-python";
    let printed = invoke_raw(&aws, work.path(), name, "print(6 * 7)", json!({}));
    assert_eq!(printed["stdout"], "42\n");
    assert_eq!(printed["exit_code"], 0);

    let png = format!(
        "import base64\nopen('dot.png', 'wb').write(base64.b64decode('{ONE_PIXEL_PNG}'))\nprint('saved')"
    );
    let image = invoke_raw(&aws, work.path(), name, &png, json!({}));
    assert_eq!(image["images"][0]["name"], "dot.png");
    assert_eq!(image["images"][0]["mime_type"], "image/png");
    assert_eq!(image["images"][0]["base64"], ONE_PIXEL_PNG);

    let raised = invoke_raw(
        &aws,
        work.path(),
        name,
        "raise ValueError('bad input')",
        json!({}),
    );
    assert_eq!(raised["exit_code"], 1);
    assert!(
        raised["stderr"]
            .as_str()
            .unwrap()
            .contains("ValueError: bad input"),
        "{raised:#}"
    );

    let slow = invoke_raw(
        &aws,
        work.path(),
        name,
        "import time\ntime.sleep(60)",
        json!({ "timeout": 2 }),
    );
    assert_eq!(slow["timed_out"], true);
    assert_eq!(slow["exit_code"], Value::Null);

    let install = invoke_raw(
        &aws,
        work.path(),
        name,
        "print('ran anyway')",
        json!({ "modules": ["agentdeploy-no-such-module-xyz"] }),
    );
    assert_eq!(install["stdout"], "ran anyway\n");
    assert_eq!(
        install["install_errors"][0]["module"],
        "agentdeploy-no-such-module-xyz"
    );
    assert_eq!(install["installed"], json!([]));
}

#[test]
fn an_agentcore_agent_gets_its_dependency_and_exactly_the_session_actions() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let agent = fixture("agentcore_agent.py");
    let out = deploy(
        &aws,
        work.path(),
        &[
            "--function-name",
            "checked",
            "--endpoint",
            "none",
            "--agent",
            agent.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
        ],
    );
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    let requirements = doc["plan"]["requirements"].as_array().unwrap();
    assert!(
        requirements.contains(&json!("bedrock-agentcore")),
        "{requirements:?}"
    );
    let pins = doc["plan"]["pinned_requirements"].as_array().unwrap();
    assert!(
        pins.iter()
            .any(|p| p.as_str().unwrap().starts_with("bedrock-agentcore=="))
    );
    let statements = doc["plan"]["iam"]["statements"].as_array().unwrap();
    let session = statements
        .iter()
        .find(|s| s["sid"] == "AgentCoreCodeInterpreterSessions")
        .expect("a code-interpreter statement");
    assert_eq!(
        session["actions"],
        json!([
            "bedrock-agentcore:StartCodeInterpreterSession",
            "bedrock-agentcore:InvokeCodeInterpreter",
            "bedrock-agentcore:StopCodeInterpreterSession",
            "bedrock-agentcore:GetCodeInterpreterSession",
            "bedrock-agentcore:ListCodeInterpreterSessions"
        ])
    );
    assert!(
        session["sources"][0]
            .as_str()
            .unwrap()
            .ends_with("agentcore_agent.py:5"),
        "{session}"
    );
    let template = std::fs::read_to_string(out_dir.join("template.yaml")).unwrap();
    assert!(template.contains("bedrock-agentcore:StartCodeInterpreterSession"));
    assert!(
        !template.contains("CreateCodeInterpreter") && !template.contains("DeleteCodeInterpreter")
    );
    // The deployed function imports bedrock_agentcore under Python 3.13.
    let answer = invoke_raw(
        &aws,
        work.path(),
        "checked",
        "hi",
        json!({ "offline": true }),
    );
    assert_eq!(
        answer["output"]["client"],
        "bedrock_agentcore.tools.code_interpreter_client"
    );
}

#[test]
fn a_self_hosted_http_interpreter_is_reached_through_its_url_variable() {
    let mut interpreter = Command::new("python3")
        .arg(repo().join("tests/python/fake_interpreter.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(interpreter.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("READY ")
        .expect("the interpreter is ready")
        .to_string();

    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let agent = fixture("http_interpreter_agent.py");
    let url = format!("CODE_INTERPRETER_URL=http://127.0.0.1:{port}/execute");
    let out = deploy(
        &aws,
        work.path(),
        &[
            "--function-name",
            "selfhosted",
            "--endpoint",
            "none",
            "--agent",
            agent.to_str().unwrap(),
            "--env-var",
            &url,
            "--subnet-ids",
            "subnet-0123abcd",
            "--security-group-ids",
            "sg-0123abcd",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer = invoke_raw(&aws, work.path(), "selfhosted", "print(6 * 7)", json!({}));
    assert_eq!(answer["output"]["interpreter"]["stdout"], "42\n");

    // A private interpreter address without VPC settings is flagged in the plan.
    let mut plan = agentdeploy(work.path());
    plan.args([
        "lambda",
        "--dry-run",
        "-o",
        "json",
        "--function-name",
        "private",
        "--endpoint",
        "none",
        "--agent",
    ])
    .arg(&agent)
    .args([
        "--env-var",
        "CODE_INTERPRETER_URL=http://10.0.4.20:8080/execute",
    ]);
    let doc = json(&run(&mut plan));
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("10.0.4.20, a private address")),
        "{doc:#}"
    );
    drop(interpreter.stdin.take());
    let _ = interpreter.wait();
}

#[test]
fn importing_agentrun_infers_agentrun_sdk_and_its_three_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("agentrun_agent/agent.py"),
        dir.path().join("agent.py"),
    )
    .unwrap();
    let out = run(agentdeploy(dir.path()).args([
        "lambda",
        "--dry-run",
        "-o",
        "json",
        "--function-name",
        "ar",
        "--agent",
        "agent.py",
        "--timeout",
        "40",
        "--endpoint",
        "url",
    ]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(
        doc["plan"]["requirements"],
        json!(["agentrun-sdk"]),
        "the SDK, never PyPI's unrelated `agentrun`"
    );
    assert_eq!(
        doc["plan"]["secrets"],
        json!([
            "ALIYUN_ACCESS_KEY_ID",
            "ALIYUN_ACCESS_KEY_SECRET",
            "ALIYUN_ACCOUNT_ID"
        ])
    );
    assert!(
        doc["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("AgentRun caps each code execution at 30 s")),
        "{doc:#}"
    );
}

#[test]
fn an_agentrun_agent_needs_its_three_credentials_and_gets_agentrun_sdk() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let agent = fixture("agentrun_agent");
    let out_dir = work.path().join("out");
    let values = [
        (
            "ALIYUN_ACCESS_KEY_ID",
            format!("LTAI-test-{}", std::process::id()),
        ),
        (
            "ALIYUN_ACCESS_KEY_SECRET",
            format!("aliyun-secret-{}", std::process::id() * 31),
        ),
        ("ALIYUN_ACCOUNT_ID", "1234567890123456".to_string()),
    ];
    let args = [
        "--function-name",
        "sandboxed",
        "--endpoint",
        "none",
        "--timeout",
        "180",
        "--agent",
        agent.to_str().unwrap(),
        "--out-dir",
        out_dir.to_str().unwrap(),
    ];

    // One credential missing: exit 2 naming it, before anything is built.
    let mut missing = agentdeploy(work.path());
    aws.configure(&mut missing);
    missing
        .env("PATH", local_aws::deploy_path())
        .args(["lambda", "-o", "json", "--s3-bucket", local_aws::BUCKET])
        .args(args);
    for (name, value) in &values[..2] {
        missing.env(name, value);
    }
    let out = run(&mut missing);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("ALIYUN_ACCOUNT_ID") && !message.contains("ALIYUN_ACCESS_KEY_ID"),
        "{message}"
    );

    let mut cmd = agentdeploy(work.path());
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path())
        .args(["lambda", "-o", "json", "--s3-bucket", local_aws::BUCKET])
        .args(args);
    for (name, value) in &values {
        cmd.env(name, value);
    }
    let out = run(&mut cmd);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(
        doc["plan"]["requirements"],
        json!(["agentrun-sdk==0.0.10", "alibabacloud_bailian20231229"])
    );
    assert_eq!(
        doc["plan"]["secrets"],
        json!([
            "ALIYUN_ACCESS_KEY_ID",
            "ALIYUN_ACCESS_KEY_SECRET",
            "ALIYUN_ACCOUNT_ID"
        ])
    );
    let pins = pinned_requirements(&doc);
    assert!(
        pins.iter().any(|p| p.starts_with("agentrun-sdk==")),
        "{pins:?}"
    );
    // crcmod and friends publish only sources: built here as pure-Python wheels.
    assert!(pins.iter().any(|p| p.starts_with("crcmod==")), "{pins:?}");
    let template = std::fs::read_to_string(out_dir.join("template.yaml")).unwrap();
    assert_eq!(template.matches("NoEcho: true").count(), 3);

    let answer = invoke_raw(&aws, work.path(), "sandboxed", "hi", json!({}));
    assert_eq!(answer["output"]["sdk"], "agentrun");
    assert_eq!(answer["output"]["configured"], true);
    for (_, value) in &values[..2] {
        assert!(!stdout(&out).contains(value.as_str()) && !stderr(&out).contains(value.as_str()));
        assert_no_file_contains(work.path(), value);
    }
}
