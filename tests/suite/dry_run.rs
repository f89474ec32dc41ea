//! `agentdeploy lambda --dry-run` end to end: the real binary renders the project, cfn-lint
//! checks every template, and the handler runs under a real Python 3.13 with strands-agents.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;
use serde_json::{Value, json};

const GOOD_FIXTURES: &[&str] = &[
    "seed_agent.py",
    "template_syntax_agent.py",
    "sync_agent.py",
    "fstring_agent.py",
];

pub(crate) fn dry_run(agent: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    run(&mut dry_run_command(agent, out, extra))
}

/// `agentdeploy lambda --dry-run -o json` of `agent` as function `fixture`, not yet run.
fn dry_run_command(agent: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = agentdeploy(&repo());
    cmd.args([
        "lambda",
        "--function-name",
        "fixture",
        "--dry-run",
        "-o",
        "json",
        "--agent",
    ])
    .arg(agent)
    .arg("--out-dir")
    .arg(out)
    .args(extra);
    cmd
}

fn planned(agent: &str) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture(agent), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{agent}: {}", stderr(&out));
    let doc = json(&out);
    (dir, doc)
}

/// Runs the rendered handler in `handler_dir` on `events` under Python 3.13 with strands.
pub(crate) fn drive(handler_dir: &Path, events: Value) -> (Vec<Value>, String) {
    drive_with(handler_dir, events, &[])
}

/// `drive` in a process with these variables too (boto3, as Lambda's runtime has it, is on the
/// path): one process is one execution environment, warm from its second event on.
pub(crate) fn drive_with(
    handler_dir: &Path,
    events: Value,
    variables: &[(&str, &str)],
) -> (Vec<Value>, String) {
    let path = std::env::join_paths([strands_site(), tools_dir().join("py313-runtime")]).unwrap();
    let mut child = Command::new(python313())
        .arg(repo().join("tests/python/drive_handler.py"))
        .arg(handler_dir)
        .env("PYTHONPATH", path)
        .env("AWS_REGION", "us-east-1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(variables.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3.13 starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(events.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the handler run failed:\n{err}");
    (
        serde_json::from_slice(&out.stdout).expect("handler results are JSON"),
        err,
    )
}

pub(crate) fn body(result: &Value) -> Value {
    assert_eq!(
        result["headers"]["Content-Type"], "application/json",
        "{result}"
    );
    serde_json::from_str(result["body"].as_str().expect("body is a string")).expect("body is JSON")
}

#[test]
fn every_fixture_plans_and_its_template_passes_cfn_lint() {
    let mut dirs = Vec::new();
    let mut templates: Vec<PathBuf> = Vec::new();
    for agent in GOOD_FIXTURES {
        let (dir, doc) = planned(agent);
        assert_eq!(doc["status"], "planned");
        assert_eq!(doc["function_name"], "fixture");
        assert_eq!(doc["runtime"], "python3.13");
        assert_eq!(doc["memory"], 512);
        assert_eq!(doc["timeout"], 300);
        assert_eq!(doc["endpoint_kind"], "api");
        assert_eq!(doc["stack_name"], "agentdeploy-fixture");
        for file in [
            "template.yaml",
            "samconfig.toml",
            "src/handler.py",
            "src/requirements.txt",
        ] {
            assert!(dir.path().join(file).is_file(), "{agent}: {file} missing");
        }
        templates.push(dir.path().join("template.yaml"));
        dirs.push(dir);
    }
    // Other endpoint and auth shapes, VPC, env vars, secrets, tags, policies, arm64.
    for extra in [
        &["--endpoint", "url"][..],
        &["--endpoint", "url", "--auth", "none"],
        &["--endpoint", "api", "--auth", "iam", "--timeout", "29"],
        &[
            "--snapstart",
            "--log-retention-days",
            "7",
            "--reserved-concurrency",
            "2",
        ],
        &[
            "--endpoint",
            "none",
            "--architecture",
            "arm64",
            "--runtime",
            "python3.12",
        ],
        &[
            "--env-var",
            "LOG_LEVEL=info",
            "--secret",
            "OPENAI_API_KEY",
            "--tag",
            "team=ml",
            "--policy",
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "--subnet-ids",
            "subnet-0abc1234,subnet-0123456789abcdef0",
            "--security-group-ids",
            "sg-0123abcd",
            "--memory",
            "2048",
            "--runtime",
            "python3.14",
        ],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dry_run(&fixture("seed_agent.py"), dir.path(), extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        templates.push(dir.path().join("template.yaml"));
        dirs.push(dir);
    }
    assert_cfn_lint_passes(&templates);
}

#[test]
fn agent_text_is_in_the_handler_byte_for_byte_and_compiles_under_3_13() {
    for agent in GOOD_FIXTURES {
        let (dir, _) = planned(agent);
        let handler = std::fs::read(dir.path().join("src/handler.py")).unwrap();
        let source = std::fs::read(fixture(agent)).unwrap();
        assert!(
            handler.starts_with(&source),
            "{agent}: the agent code is not verbatim at the top of handler.py"
        );
        let compile = Command::new(python313())
            .args(["-c", "import sys; compile(open(sys.argv[1], encoding='utf-8').read(), sys.argv[1], 'exec')"])
            .arg(dir.path().join("src/handler.py"))
            .output()
            .unwrap();
        assert!(
            compile.status.success(),
            "{agent}: {}",
            String::from_utf8_lossy(&compile.stderr)
        );
    }
}

#[test]
fn template_syntax_in_the_agent_survives_rendering() {
    let (dir, _) = planned("template_syntax_agent.py");
    let (results, _) = drive(&dir.path().join("src"), json!([{ "input": "hi" }]));
    let output = &results[0]["output"];
    // The same strings, evaluated by Python from the original file.
    let expected = Command::new(python313())
        .args(["-c", "import json, runpy, sys; m = runpy.run_path(sys.argv[1]); print(json.dumps(m['main']('hi')))"])
        .arg(fixture("template_syntax_agent.py"))
        .output()
        .unwrap();
    let expected: Value = serde_json::from_slice(&expected.stdout).unwrap();
    assert_eq!(output, &expected);
    assert!(
        output["prompt"]
            .as_str()
            .unwrap()
            .contains("{% for item in items %}\n{# this is not")
    );
}

#[test]
fn seed_agent_handler_answers_direct_api_gateway_and_function_url_events() {
    let (dir, _) = planned("seed_agent.py");
    let offline = json!({ "offline": true });
    let url_body =
        base64_encode(&json!({ "user_input": "from a url", "input_data": offline }).to_string());
    let events = json!([
        { "input": "hello world", "data": offline },
        // A second, warm call: the async main must run on the same kept event loop.
        { "prompt": "again", "data": offline },
        {
            "resource": "/invoke", "path": "/invoke", "httpMethod": "POST",
            "headers": { "Content-Type": "application/json" },
            "requestContext": { "stage": "prod", "httpMethod": "POST" },
            "body": json!({ "input": "via api gateway", "data": offline }).to_string(),
            "isBase64Encoded": false
        },
        {
            "version": "2.0", "routeKey": "$default", "rawPath": "/",
            "requestContext": { "http": { "method": "POST", "path": "/" } },
            "body": url_body, "isBase64Encoded": true
        },
        { "httpMethod": "POST", "requestContext": {}, "body": "this is not json" },
        { "httpMethod": "POST", "requestContext": {}, "body": "{\"data\": {}}" },
        { "httpMethod": "POST", "requestContext": {}, "body": "[1, 2]" },
        { "httpMethod": "POST", "requestContext": {}, "body": "{\"input\": 42}" },
        { "httpMethod": "POST", "requestContext": {}, "body": json!({ "input": "x", "data": { "fail": true } }).to_string() },
        { "input": "x", "data": { "fail": true } }
    ]);
    let (r, log) = drive(&dir.path().join("src"), events);

    assert_eq!(
        r[0],
        json!({ "output": { "answer": "You asked: hello world", "words": 2, "calls": 1, "data": offline } })
    );
    assert_eq!(r[1]["output"]["calls"], 2, "warm call: {}", r[1]);
    assert_eq!(r[2]["statusCode"], 200);
    assert_eq!(
        body(&r[2])["output"]["answer"],
        "You asked: via api gateway"
    );
    assert_eq!(r[3]["statusCode"], 200);
    assert_eq!(body(&r[3])["output"]["answer"], "You asked: from a url");
    assert_eq!(body(&r[3])["output"]["calls"], 4);
    for (i, needle) in [
        (4, "not valid JSON"),
        (5, "missing \"input\""),
        (6, "JSON object"),
        (7, "must be a string"),
    ] {
        assert_eq!(r[i]["statusCode"], 400, "{}", r[i]);
        let b = body(&r[i]);
        assert_eq!(b["error"], "BadRequest");
        assert!(b["message"].as_str().unwrap().contains(needle), "{b}");
    }
    assert_eq!(r[8]["statusCode"], 500);
    // An HTTP caller is told the type and the request id; the message stays in the log.
    assert_eq!(
        body(&r[8]),
        json!({ "error": "ValueError", "request_id": "request-8" })
    );
    assert!(!r[8]["body"].as_str().unwrap().contains("Traceback"));
    assert_eq!(
        r[9],
        json!({ "error": "ValueError", "message": "the agent was asked to fail" })
    );
    // The traceback is logged for the operator, and no event content is.
    assert!(log.contains("Traceback"), "{log}");
    assert!(
        !log.contains("via api gateway") && !log.contains("hello world"),
        "{log}"
    );
}

#[test]
fn sync_main_results_that_are_not_json_become_text() {
    let (dir, doc) = planned("sync_agent.py");
    let (r, _) = drive(
        &dir.path().join("src"),
        json!([
            { "input": "hi", "data": { "k": [1, 2] } },
            { "input": "object" },
            { "httpMethod": "POST", "requestContext": {}, "body": "{\"input\": \"boom\"}" },
            { "httpMethod": "POST", "requestContext": {}, "body": format!("{{\"input\": \"{}\"}}", "x".repeat(1_100_000)) },
            { "httpMethod": "POST", "requestContext": {}, "isBase64Encoded": true, "body": "!!not base64!!" }
        ]),
    );
    assert_eq!(r[3]["statusCode"], 400);
    assert!(
        body(&r[3])["message"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    assert_eq!(r[4]["statusCode"], 400);
    assert!(
        body(&r[4])["message"]
            .as_str()
            .unwrap()
            .contains("not valid base64")
    );
    assert_eq!(
        r[0],
        json!({ "output": { "echo": "hi", "data": { "k": [1, 2] }, "when": "2026-01-02 03:04:05" } })
    );
    assert_eq!(
        r[1],
        json!({ "output": "an object the handler turns into text" })
    );
    assert_eq!(r[2]["statusCode"], 500);
    assert_eq!(body(&r[2])["error"], "RuntimeError");
    // A bare Agent() uses Strands' default Bedrock model: the plan grants exactly that.
    let statements = doc["plan"]["iam"]["statements"].as_array().unwrap();
    assert_eq!(statements.len(), 1);
    assert!(
        statements[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Strands' default model")
    );
    assert_eq!(
        statements[0]["sources"],
        json!(["fixtures/sync_agent.py:7"])
    );
}

#[test]
fn pep_701_agent_runs_under_3_13() {
    let (dir, _) = planned("fstring_agent.py");
    let (r, _) = drive(
        &dir.path().join("src"),
        json!([{ "input": "q", "data": { "shout": true } }]),
    );
    assert_eq!(
        r[0]["output"]["listing"],
        "Take me back to Eden\nAlkaline\nAscensionism"
    );
    assert_eq!(r[0]["output"]["nested"], "Q");
}

#[test]
fn the_plan_lists_requirements_iam_and_files() {
    let (dir, doc) = planned("seed_agent.py");
    let plan = &doc["plan"];
    assert_eq!(
        plan["requirements"],
        json!(["strands-agents-tools", "strands-agents>=1.0"])
    );
    assert_eq!(plan["requirements_source"]["source"], "inferred");
    let statement = &plan["iam"]["statements"][0];
    assert_eq!(
        statement["actions"],
        json!([
            "bedrock:InvokeModel",
            "bedrock:InvokeModelWithResponseStream"
        ])
    );
    assert!(
        statement["sources"][0]
            .as_str()
            .unwrap()
            .ends_with("seed_agent.py:11"),
        "{statement}"
    );
    let files: Vec<String> = plan["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    assert!(files.iter().any(|f| f.ends_with("src/handler.py")));
    assert_eq!(doc["build"]["strategy"], "none");
    assert!(doc["warnings"][0].as_str().unwrap().contains("29 s"));
    let requirements = std::fs::read_to_string(dir.path().join("src/requirements.txt")).unwrap();
    assert!(requirements.contains("strands-agents>=1.0\n"));
}

#[test]
fn agent_code_errors_exit_2_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture("syntax_error_agent.py"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let doc = json(&out);
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["error"]["kind"], "agent");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("syntax_error_agent.py:7:51: syntax error"),
        "{message}"
    );
    assert!(
        !dir.path().join("template.yaml").exists(),
        "nothing is written for a broken agent"
    );

    // No `main`, one module-level Agent: that Agent is the entry (reference §5).
    let out = dry_run(&fixture("no_main_agent.py"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        json(&out)["plan"]["entry"],
        json!({"kind": "agent", "name": "agent", "line": 5})
    );

    let out = dry_run(&fixture("does_not_exist.py"), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such file")
    );
}

#[test]
fn bad_flags_exit_2_naming_the_flag_and_range() {
    let dir = tempfile::tempdir().unwrap();
    for (flags, needle) in [
        (
            &["--memory", "64"][..],
            "--memory: 64 MB is out of range; allowed: 128-10240 MB",
        ),
        (
            &["--timeout", "0"],
            "--timeout: 0 s is out of range; allowed: 3-900 seconds",
        ),
        (
            &["--runtime", "python3.11"],
            "--runtime: python3.11 is deprecated",
        ),
        (&["--architecture", "ppc"], "--architecture"),
        (&["--stack-name", "9lives"], "--stack-name"),
        (&["--s3-bucket", "b", "--resolve-s3"], "exclude each other"),
        (
            &["--subnet-ids", "subnet-0123abcd"],
            "need --security-group-ids",
        ),
        (&["--endpoint", "url", "--auth", "api-key"], "--auth"),
    ] {
        let out = dry_run(&fixture("seed_agent.py"), dir.path(), flags);
        assert_eq!(out.status.code(), Some(2), "{flags:?}");
        let err = stderr(&out);
        assert!(err.contains(needle), "{flags:?}: {err}");
        assert_eq!(json(&out)["status"], "failed");
    }
    let out = run(agentdeploy(&repo()).args([
        "lambda",
        "--function-name",
        "bad name",
        "--agent",
        "x.py",
        "--dry-run",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--function-name"));
    assert!(!dir.path().join("template.yaml").exists());
}

#[test]
fn deprecated_runtime_is_allowed_with_a_warning_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(
        &fixture("sync_agent.py"),
        dir.path(),
        &["--runtime", "python3.11", "--allow-deprecated-runtime"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["runtime"], "python3.11");
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("deprecated"))
    );
}

#[test]
fn default_runtime_follows_the_interpreters_on_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    // Only a python3.12 answers on PATH: it becomes the default.
    let fake = bin.path().join("python3.12");
    std::fs::write(&fake, "#!/bin/sh\necho 3 12\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(
        &mut std::fs::metadata(&fake).unwrap().permissions(),
        0o755,
    );
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut cmd = agentdeploy(&repo());
    cmd.env("PATH", format!("{}:{}", bin.path().display(), base_path()))
        .args([
            "lambda",
            "--function-name",
            "f",
            "--dry-run",
            "-o",
            "json",
            "--agent",
        ])
        .arg(fixture("sync_agent.py"))
        .arg("--out-dir")
        .arg(dir.path());
    let out = run(&mut cmd);
    assert_eq!(json(&out)["runtime"], "python3.12", "{}", stderr(&out));
    // With the real 3.13 on PATH, 3.13 wins over 3.12.
    let mut cmd = agentdeploy(&repo());
    cmd.env(
        "PATH",
        format!(
            "{}:{}:{}",
            bin.path().display(),
            python313().parent().unwrap().display(),
            base_path()
        ),
    )
    .args([
        "lambda",
        "--function-name",
        "f",
        "--dry-run",
        "-o",
        "json",
        "--agent",
    ])
    .arg(fixture("sync_agent.py"))
    .arg("--out-dir")
    .arg(dir.path());
    assert_eq!(json(&run(&mut cmd))["runtime"], "python3.13");
}

#[test]
fn stdout_holds_only_the_result_and_quiet_silences_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture("sync_agent.py"), dir.path(), &["-q"]);
    assert_eq!(out.status.code(), Some(0));
    json(&out);
    assert_eq!(stderr(&out), "");
    let mut cmd = agentdeploy(&repo());
    cmd.args(["lambda", "--function-name", "f", "--dry-run", "--agent"])
        .arg(fixture("sync_agent.py"))
        .arg("--out-dir")
        .arg(dir.path());
    let out = run(&mut cmd);
    assert!(
        stdout(&out).starts_with("Planned f (dry run; nothing was deployed)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("[f] planned"),
        "plain progress lines without a TTY: {}",
        stderr(&out)
    );
}

#[test]
fn cost_reproduces_the_worked_example() {
    let out = run(agentdeploy(&repo()).args([
        "cost",
        "--memory",
        "512",
        "--duration",
        "2",
        "--invocations",
        "10000",
        "--cold-start-share",
        "0",
        "-o",
        "json",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(
        format!("{:.2}", doc["lambda_usd"].as_f64().unwrap()),
        "0.17"
    );
    // By default a tenth of the calls are cold starts whose 2.5 s INIT is billed (since
    // August 2025): 1,000 x 2.5 s x 0.5 GB = 1,250 GB-s more.
    let with_init = json(&run(agentdeploy(&repo()).args([
        "cost",
        "--memory",
        "512",
        "--duration",
        "2",
        "--invocations",
        "10000",
        "-o",
        "json",
    ])));
    assert_eq!(with_init["init_gb_seconds"], 1250.0);
    assert_eq!(
        format!("{:.2}", with_init["lambda_usd"].as_f64().unwrap()),
        "0.19"
    );
    assert_eq!(
        format!("{:.3}", doc["api_gateway_usd"].as_f64().unwrap()),
        "0.035"
    );
    let text = run(agentdeploy(&repo()).args([
        "cost",
        "--memory",
        "512",
        "--duration",
        "2",
        "--invocations",
        "10000",
        "--api-gateway",
        "off",
        "--cold-start-share",
        "0",
    ]));
    assert!(
        stdout(&text).contains("total        $0.17 per month"),
        "{}",
        stdout(&text)
    );
    let bad = run(agentdeploy(&repo()).args(["cost", "--memory", "64"]));
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn init_writes_a_config_that_plans_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(agentdeploy(dir.path()).arg("init"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(dir.path().join("agentdeploy.toml").is_file() && dir.path().join("agent.py").is_file());
    // The written config is valid and its sample agent plans.
    let plan = run(agentdeploy(dir.path()).args(["lambda", "--dry-run", "-o", "json"]));
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    assert_eq!(json(&plan)["function_name"], "my-agent");
    let prod =
        run(agentdeploy(dir.path()).args(["lambda", "--dry-run", "-o", "json", "--env", "prod"]));
    assert_eq!(json(&prod)["memory"], 1024);
    assert_eq!(json(&prod)["stack_name"], "agentdeploy-my-agent-prod");
    std::fs::write(dir.path().join("agentdeploy.toml"), "# mine\n").unwrap();
    let again = run(agentdeploy(dir.path()).arg("init"));
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("already exists"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("agentdeploy.toml")).unwrap(),
        "# mine\n"
    );
    let forced = run(agentdeploy(dir.path()).args(["init", "--force"]));
    assert_eq!(forced.status.code(), Some(0));
}

#[test]
fn completions_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(agentdeploy(&repo()).args(["completions", shell]));
        assert_eq!(out.status.code(), Some(0));
        assert!(stdout(&out).contains("agentdeploy"), "{shell}");
    }
    let version = run(agentdeploy(&repo()).arg("--version"));
    let text = stdout(&version);
    assert!(text.starts_with("agentdeploy 0.1.0"), "{text}");
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[test]
fn a_dry_run_warns_about_secrets_that_would_have_no_value() {
    let project = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), project.path().join("agent.py")).unwrap();
    let plan = |dotenv: &str| {
        std::fs::write(project.path().join(".env"), dotenv).unwrap();
        let mut cmd = agentdeploy(project.path());
        cmd.args([
            "lambda",
            "--dry-run",
            "-o",
            "json",
            "--function-name",
            "s",
            "--agent",
            "agent.py",
            "--secret",
            "PROBE_TOKEN",
        ])
        .env_remove("PROBE_TOKEN");
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        (json(&out), stdout(&out) + &stderr(&out))
    };
    let warned = |doc: &Value| {
        doc["warnings"].as_array().unwrap().iter().any(|w| {
            w.as_str()
                .unwrap()
                .contains("secret PROBE_TOKEN has no value")
        })
    };
    // A .env that exists but does not hold the name still leaves it without a value.
    let (doc, _) = plan("OTHER=1\n");
    assert!(warned(&doc), "{doc:#}");
    let (doc, output) = plan("PROBE_TOKEN=dry-run-secret-value-31\n");
    assert!(!warned(&doc), "{doc:#}");
    assert!(!output.contains("dry-run-secret-value-31"));
    // A .env a real deploy could not read is reported too.
    let (doc, output) = plan("PROBE_TOKEN dry-run-secret-value-31\n");
    assert!(!output.contains("dry-run-secret-value-31"), "{output}");
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains(".env")),
        "{doc:#}"
    );
}

/// A directory laid out as published samples are (entry file with its own name, a `utils/`
/// package, a requirements.txt): the entry file is found by what it defines, and an import the
/// requirements file does not list is named before it fails at import on Lambda.
#[test]
fn a_sample_style_directory_plans_with_its_entry_and_a_missing_requirement_is_named() {
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().join("recipes");
    std::fs::create_dir_all(dir.join("utils")).unwrap();
    std::fs::write(
        dir.join("recipe_bot.py"),
        "from dotenv import load_dotenv\nfrom strands import Agent\n\nfrom utils.prompts import SYSTEM\n\n\
         load_dotenv()\nagent = Agent(system_prompt=SYSTEM)\n\n\
         if __name__ == \"__main__\":\n    while True:\n        print(agent(input(\"> \")))\n",
    )
    .unwrap();
    std::fs::write(dir.join("utils/__init__.py"), "").unwrap();
    std::fs::write(
        dir.join("utils/prompts.py"),
        "SYSTEM = 'You suggest recipes.'\n",
    )
    .unwrap();
    std::fs::write(dir.join("requirements.txt"), "strands-agents\n").unwrap();
    let plan = || {
        run(agentdeploy(project.path()).args([
            "lambda",
            "--dry-run",
            "-o",
            "json",
            "--function-name",
            "recipes",
            "--agent",
            "recipes",
        ]))
    };
    let out = plan();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert!(
        doc["plan"]["agent"]
            .as_str()
            .unwrap()
            .ends_with("recipes/recipe_bot.py"),
        "{doc:#}"
    );
    assert_eq!(doc["plan"]["entry"]["kind"], "agent");
    assert_eq!(doc["plan"]["entry"]["name"], "agent");
    let found = warnings(&doc);
    assert!(
        found.iter().any(|w| w.contains(
            "requirements.txt does not list `python-dotenv`, which the agent imports as `dotenv` (recipes/recipe_bot.py:1)"
        )),
        "{found:#?}"
    );
    // Listed, it is no longer warned about; the local `utils` package never is.
    std::fs::write(
        dir.join("requirements.txt"),
        "strands-agents\npython-dotenv\n",
    )
    .unwrap();
    let out = plan();
    let doc = json(&out);
    assert!(
        !warnings(&doc).iter().any(|w| w.contains("does not list")),
        "{doc:#}"
    );
    let shipped = project.path().join(".agentdeploy/default/recipes/src");
    assert!(shipped.join("utils/prompts.py").is_file());
}

/// reference §11 in the plan and the template: the `live` alias, the stack's log group with its
/// retention, SnapStart when asked (cfn-lint runs over the same shape in the fixture test).
#[test]
fn the_plan_shows_the_alias_the_log_group_and_snapstart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(
        &fixture("seed_agent.py"),
        dir.path(),
        &["--snapstart", "--log-retention-days", "7"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["plan"]["alias"], "live");
    assert_eq!(doc["plan"]["log_group"]["name"], "/aws/lambda/fixture");
    assert_eq!(doc["plan"]["log_group"]["retention_days"], 7);
    assert_eq!(doc["plan"]["snapstart"], true);
    let template = std::fs::read_to_string(dir.path().join("template.yaml")).unwrap();
    for expected in [
        // Each deploy publishes a version (`candidate`); `live`, which callers reach, is the
        // stack's own alias, held on its version while a new one's smoke cases run.
        "AutoPublishAlias: candidate",
        "Name: live",
        "- LiveIsPinned",
        "functions/${AgentFunctionAliaslive}/invocations",
        "AgentLogGroup:",
        "LogGroupName: \"/aws/lambda/fixture\"",
        "RetentionInDays: 7",
        "ApplyOn: PublishedVersions",
    ] {
        assert!(template.contains(expected), "{expected}:\n{template}");
    }
    let plain = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture("seed_agent.py"), plain.path(), &[]);
    let template = std::fs::read_to_string(plain.path().join("template.yaml")).unwrap();
    assert_eq!(json(&out)["plan"]["log_group"]["retention_days"], 30);
    assert!(template.contains("RetentionInDays: 30"));
    assert!(!template.contains("SnapStart"), "SnapStart only when asked");
}

/// reference §5 "Cold start": the plan says what INIT to expect and why, from the requirements, the
/// memory and whether this machine can ship the bytecode (the runtime's interpreter on PATH).
#[test]
fn the_plan_shows_the_expected_cold_start_class() {
    let plan = |path: String, extra: &[&str]| {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["--runtime", "python3.13"];
        args.extend_from_slice(extra);
        let mut cmd = dry_run_command(&fixture("seed_agent.py"), dir.path(), &args);
        cmd.env("PATH", path);
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        json(&out)["plan"]["cold_start"].clone()
    };
    let with_bytecode = plan(crate::common::local_aws::deploy_path(), &[]);
    assert_eq!(with_bytecode["class"], "moderate", "{with_bytecode}");
    assert!(
        with_bytecode["basis"]
            .as_str()
            .unwrap()
            .contains("bytecode shipped")
    );
    let without = plan(
        crate::common::local_aws::path_without_runtime_interpreters(),
        &[],
    );
    assert_eq!(without["class"], "slow", "{without}");
    assert!(
        without["init_seconds"].as_f64().unwrap()
            > with_bytecode["init_seconds"].as_f64().unwrap() + 5.0
    );
    // A container build compiles in the runtime's image: bytecode without a local interpreter.
    let in_image = plan(
        crate::common::local_aws::path_without_runtime_interpreters(),
        &["--use-container", "always"],
    );
    assert_eq!(in_image["class"], "moderate", "{in_image}");
    let big = plan(
        crate::common::local_aws::deploy_path(),
        &["--memory", "3008"],
    );
    assert_eq!(big["class"], "fast", "{big}");
}

#[test]
fn a_requirements_file_saved_with_a_byte_order_mark_renders_lines_pip_reads() {
    let dir = tempfile::tempdir().unwrap();
    let requirements = dir.path().join("requirements.txt");
    std::fs::write(&requirements, "\u{feff}strands-agents>=1.0\nrequests\n").unwrap();
    let out = dry_run(
        &fixture("seed_agent.py"),
        &dir.path().join("out"),
        &["--requirements", requirements.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rendered = std::fs::read_to_string(dir.path().join("out/src/requirements.txt")).unwrap();
    assert!(
        rendered.lines().any(|line| line == "strands-agents>=1.0"),
        "{rendered:?}"
    );
    assert!(!rendered.contains('\u{feff}'), "{rendered:?}");
}

#[test]
fn a_fleets_text_report_keeps_each_agents_warnings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("sync_agent.py"), dir.path().join("agent.py")).unwrap();
    std::fs::write(
        dir.path().join("agentdeploy.toml"),
        "[agents.alpha]\nagent = \"agent.py\"\n[agents.beta]\nagent = \"agent.py\"\ntimeout = 20\n",
    )
    .unwrap();
    let out = run(agentdeploy(dir.path()).args(["lambda", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    // alpha's 300 s timeout behind API Gateway's 29 s is warned about; beta's 20 s is not.
    assert!(
        text.lines()
            .any(|l| l.starts_with("warning (alpha): API Gateway cuts requests at 29 s")),
        "{text}"
    );
    assert!(!text.contains("warning (beta): API Gateway"), "{text}");
}

/// Entries Python accepts are accepted and called with the input: a non-ASCII name (PEP 3131),
/// `main` imported from the agent's own module, `main = real`, and `main` imported from an
/// installed module (its parameters read at cold start).
#[test]
fn entries_python_accepts_are_called_with_the_input() {
    /// (case, files, flags, the answer to "hi").
    type EntryCase<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [EntryCase; 4] = [
        (
            "a non-ASCII --entry",
            &[(
                "agent.py",
                "def función(user_input_arg=None, input_data_arg=None):\n    return f\"es:{user_input_arg}\"\n",
            )],
            &["--entry", "función"],
            "es:hi",
        ),
        (
            "main imported from a module beside it",
            &[
                ("agent.py", "from helpers import main\n"),
                (
                    "helpers.py",
                    "def main(user_input_arg=None, input_data_arg=None):\n    return f\"helper:{user_input_arg}:{input_data_arg}\"\n",
                ),
            ],
            &[],
            "helper:hi:{'k': 1}",
        ),
        (
            "main bound to another function",
            &[(
                "agent.py",
                "def real(user_input_arg=None, input_data_arg=None):\n    return f\"real:{user_input_arg}\"\n\n\nmain = real\n",
            )],
            &[],
            "real:hi",
        ),
        (
            "main imported from an installed module",
            &[("agent.py", "from textwrap import dedent as main\n")],
            &[],
            "hi",
        ),
    ];
    for (name, files, flags, answer) in cases {
        let work = tempfile::tempdir().unwrap();
        for (file, text) in files {
            std::fs::write(work.path().join(file), text).unwrap();
        }
        let out_dir = work.path().join("out");
        let out = dry_run(&work.path().join("agent.py"), &out_dir, flags);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        let (r, err) = drive(
            &out_dir.join("src"),
            json!([{ "input": if answer == "hi" { "  hi" } else { "hi" }, "data": { "k": 1 } }]),
        );
        assert_eq!(r[0], json!({ "output": answer }), "{name}: {err}");
    }
}

/// reference §7: callers reach `live`, the stack's own alias, by every path (API integration,
/// Function URL, their permissions); SAM publishes each version under `candidate`; a deploy can
/// hold `live` on a version through the `AgentdeployLiveVersion` parameter. Checked on the real
/// SAM transform's output for every endpoint and auth shape.
#[test]
fn every_endpoint_reaches_callers_through_live_which_a_deploy_can_hold() {
    let live_ref = serde_json::json!({ "Ref": "AgentFunctionAliaslive" });
    let shapes: [(&str, &[&str]); 7] = [
        ("seed_agent.py", &[]),
        ("seed_agent.py", &["--auth", "iam"]),
        ("seed_agent.py", &["--auth", "none"]),
        ("seed_agent.py", &["--endpoint", "url"]),
        (
            "seed_agent.py",
            &["--endpoint", "url", "--auth", "none", "--stream"],
        ),
        ("seed_agent.py", &["--endpoint", "none"]),
        ("streaming/fastapi_agent.py", &[]),
    ];
    for (agent, extra) in shapes {
        let dir = tempfile::tempdir().unwrap();
        let out = dry_run(&fixture(agent), dir.path(), extra);
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
        let t = sam_transform(&dir.path().join("template.yaml"));
        let shape = format!("{agent} {extra:?}");
        assert_eq!(
            t["Parameters"]["AgentdeployLiveVersion"]["Default"], "",
            "{shape}"
        );

        let aliases = resources_of_type(&t, "AWS::Lambda::Alias");
        let alias = |name: &str| {
            aliases
                .iter()
                .find(|a| a["Properties"]["Name"] == name)
                .unwrap_or_else(|| panic!("{shape}: no alias {name}"))
        };
        let version_id = t["Resources"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, r)| r["Type"] == "AWS::Lambda::Version")
            .map(|(id, _)| id.clone())
            .unwrap();
        assert_eq!(
            alias("candidate")["Properties"]["FunctionVersion"],
            serde_json::json!({ "Fn::GetAtt": [version_id, "Version"] }),
            "{shape}"
        );
        let held = &alias("live")["Properties"]["FunctionVersion"]["Fn::If"];
        assert_eq!(held[0], "LiveIsPinned", "{shape}");
        assert_eq!(
            held[1],
            serde_json::json!({ "Ref": "AgentdeployLiveVersion" })
        );
        assert_eq!(
            held[2],
            serde_json::json!({ "Fn::Select": [7, { "Fn::Split": [":", { "Ref": version_id }] }] }),
            "{shape}: otherwise live follows the version this deploy publishes"
        );
        assert_eq!(t["Outputs"]["LiveAliasArn"]["Value"], live_ref, "{shape}");

        // Every way in is through live, never through candidate or the bare function.
        for url in resources_of_type(&t, "AWS::Lambda::Url") {
            assert_eq!(url["Properties"]["TargetFunctionArn"], live_ref, "{shape}");
        }
        for permission in resources_of_type(&t, "AWS::Lambda::Permission") {
            assert_eq!(
                permission["Properties"]["FunctionName"], live_ref,
                "{shape}"
            );
        }
        let public = resources_of_type(&t, "AWS::Lambda::Permission")
            .iter()
            .filter(|p| p["Properties"]["Principal"] == "*")
            .count();
        let wants_public = extra.contains(&"none") && extra.contains(&"url");
        assert_eq!(public, if wants_public { 2 } else { 0 }, "{shape}");
        let apis = resources_of_type(&t, "AWS::ApiGateway::RestApi");
        let urls = resources_of_type(&t, "AWS::Lambda::Url");
        match extra
            .iter()
            .position(|a| *a == "--endpoint")
            .map(|i| extra[i + 1])
        {
            Some("url") => assert_eq!((apis.len(), urls.len()), (0, 1), "{shape}"),
            Some("none") => assert_eq!((apis.len(), urls.len()), (0, 0), "{shape}"),
            _ => {
                assert_eq!((apis.len(), urls.len()), (1, 0), "{shape}");
                let body = &apis[0]["Properties"]["Body"];
                let paths = body["paths"].as_object().unwrap();
                assert_eq!(paths.len(), 1, "{shape}");
                let (_, methods) = paths.iter().next().unwrap();
                let (_, method) = methods.as_object().unwrap().iter().next().unwrap();
                let uri = method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
                    .as_str()
                    .unwrap();
                assert!(
                    uri.contains("/functions/${AgentFunctionAliaslive}/"),
                    "{shape}: {uri}"
                );
                let security = method["security"].to_string();
                if extra.contains(&"iam") {
                    assert!(security.contains("AWS_IAM"), "{shape}: {security}");
                } else if extra.contains(&"none") {
                    assert_eq!(method["security"], Value::Null, "{shape}");
                } else {
                    assert!(security.contains("api_key"), "{shape}: {security}");
                    assert_eq!(
                        resources_of_type(&t, "AWS::ApiGateway::UsagePlan").len(),
                        1,
                        "{shape}: an API key is throttled and capped"
                    );
                }
            }
        }
    }
}
