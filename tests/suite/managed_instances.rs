//! Many callers at once in one execution environment (`--managed-instances`): the function is
//! rendered with its capacity provider, and on the local AWS — which runs a managed-instances
//! environment as Lambda does, telling the runtime how many requests to take at once
//! (`AWS_LAMBDA_MAX_CONCURRENCY`) — callers in flight together through AWS's `awslambdaric` (its
//! worker processes) and through the real Web Adapter (its concurrent pollers, into
//! agentdeploy's server workers) each get their own conversation, session and temporary folder.

use std::path::Path;

use serde_json::{Value, json};

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::conversations::project_copy;
use crate::dry_run::dry_run;

const PROVIDER: &str = "arn:aws:lambda:us-east-1:123456789012:capacity-provider:agents";

/// A Strands agent on the stub model (it answers with what reached it). `meet` holds each request
/// until that many are inside `main` at once: requests served one after another never meet, so
/// the test fails instead of passing on a runtime that serialises them.
const MANY_AT_ONCE: &str = r#"import os
import tempfile
import time
import uuid

from strands import Agent

from stub_model import ReportingModel

agent = Agent(model=ReportingModel("mi"), callback_handler=None)


def _meet(gate, count):
    with open(os.path.join(gate, uuid.uuid4().hex), "w"):
        pass
    deadline = time.monotonic() + 120
    while len(os.listdir(gate)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(os.listdir(gate))} of {count} requests ran at once")
        time.sleep(0.01)


def main(user_input_arg=None, input_data_arg=None):
    data = input_data_arg or {}
    scratch = tempfile.mkdtemp()
    if data.get("meet"):
        _meet(data["gate"], data["meet"])
    answer = str(agent(user_input_arg)).strip()
    return {"answer": answer, "pid": os.getpid(), "parent": os.getppid(), "scratch": scratch}
"#;

/// `lambda` for `many.py` as function `name` (no endpoint, python3.13), with `extra` flags.
fn deploy_many(aws: &LocalAws, dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--function-name",
        name,
        "--agent",
        "many.py",
        "--endpoint",
        "none",
        "--runtime",
        "python3.13",
    ];
    args.extend(extra);
    run(aws.lambda_command(dir).args(&args))
}

fn deploy(aws: &LocalAws, dir: &Path, name: &str, extra: &[&str]) {
    let mut args = vec![
        "--managed-instances",
        PROVIDER,
        "--instance-concurrency",
        "10",
    ];
    args.extend(extra);
    let out = deploy_many(aws, dir, name, &args);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert!(
        doc["warnings"].as_array().into_iter().flatten().any(|w| w
            .as_str()
            .unwrap_or_default()
            .contains("fixed when the function is created")),
        "a new function is told what it keeps: {doc:#}"
    );
}

/// `callers` requests sent at once (one thread each, the SDK as a caller uses it), each its own
/// input and, when given, session id; every request meets the others before answering. The
/// answers in the callers' order: the function's output (or error document).
fn at_once(
    aws: &LocalAws,
    function: &str,
    streamed: bool,
    inputs: &[(String, Option<String>)],
) -> Vec<Value> {
    let gate = tempfile::tempdir().unwrap();
    let requests: Vec<Value> = inputs
        .iter()
        .map(|(input, session)| {
            let mut request = json!({
                "input": input,
                "data": {"meet": inputs.len(), "gate": gate.path()},
            });
            if let Some(session) = session {
                request["session_id"] = json!(session);
            }
            request
        })
        .collect();
    let script = format!(
        "from concurrent.futures import ThreadPoolExecutor\n\
         requests = json.loads({requests:?})\n\
         lam = client('lambda')\n\
         def call(request):\n\
         \x20   if not {streamed}:\n\
         \x20       answer = lam.invoke(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(request))\n\
         \x20       return json.loads(answer['Payload'].read().decode())\n\
         \x20   answer = lam.invoke_with_response_stream(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(request))\n\
         \x20   events = stream_events(answer)\n\
         \x20   return events[-1] if events else {{'no_events': True}}\n\
         with ThreadPoolExecutor(len(requests)) as pool:\n\
         \x20   print(json.dumps(list(pool.map(call, requests))))\n",
        requests = Value::from(requests).to_string(),
        streamed = if streamed { "True" } else { "False" },
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

/// `count` callers, each its own input; with `session`, each its own session of this round size.
fn callers(count: usize, turn: &str, session: bool) -> Vec<(String, Option<String>)> {
    (0..count)
        .map(|i| {
            (
                format!("caller {i} {turn}"),
                session.then(|| format!("session-{count}-{i}")),
            )
        })
        .collect()
}

/// Every caller got its own answer (the model saw `messages` messages, the latest its own input),
/// in a process of its own, all of one environment, each with a temporary folder of its own that
/// is gone once it answered.
fn assert_served_apart(answers: &[Value], inputs: &[(String, Option<String>)], messages: u32) {
    let mut pids = std::collections::BTreeSet::new();
    let mut parents = std::collections::BTreeSet::new();
    let mut scratches = std::collections::BTreeSet::new();
    for (answer, (input, session)) in answers.iter().zip(inputs) {
        let output = &answer["output"];
        assert_eq!(
            output["answer"],
            format!("mi saw {messages} messages: {input}"),
            "{answers:#?}"
        );
        if let Some(session) = session {
            assert_eq!(answer["session_id"], *session, "{answer}");
        }
        pids.insert(output["pid"].as_u64().unwrap());
        parents.insert(output["parent"].as_u64().unwrap());
        let scratch = output["scratch"].as_str().unwrap().to_string();
        assert!(
            !Path::new(&scratch).exists(),
            "a request's temporary folder outlived it: {scratch}"
        );
        scratches.insert(Path::new(&scratch).parent().unwrap().to_path_buf());
    }
    assert_eq!(
        pids.len(),
        inputs.len(),
        "one process per request in flight: {answers:#?}"
    );
    assert_eq!(parents.len(), 1, "one execution environment: {answers:#?}");
    assert_eq!(
        scratches.len(),
        inputs.len(),
        "a folder per request: {scratches:?}"
    );
}

/// The four rounds every path passes: 2 and 10 callers at once, without and with sessions (their
/// second turns continuing, at once again), then two requests of one session at once: one
/// answer and one conflict, never a lost or mixed turn.
fn rounds(aws: &LocalAws, work: &Path, path: &str, streamed: bool) {
    let stream: &[&str] = if streamed { &["--stream"] } else { &[] };
    let isolated = format!("{path}-isolated");
    deploy(aws, work, &isolated, stream);
    for count in [2, 10] {
        let inputs = callers(count, "alone", false);
        let answers = at_once(aws, &isolated, streamed, &inputs);
        assert_served_apart(&answers, &inputs, 1);
    }

    let sessions = format!("{path}-sessions");
    let mut args = vec!["--conversation", "session"];
    args.extend(stream);
    deploy(aws, work, &sessions, &args);
    for count in [2, 10] {
        let first = callers(count, "first", true);
        let answers = at_once(aws, &sessions, streamed, &first);
        assert_served_apart(&answers, &first, 1);
        let second = callers(count, "second", true);
        let answers = at_once(aws, &sessions, streamed, &second);
        assert_served_apart(&answers, &second, 3);
    }
    let pair = vec![
        ("one".to_string(), Some("session-2-0".to_string())),
        ("two".to_string(), Some("session-2-0".to_string())),
    ];
    let answers = at_once(aws, &sessions, streamed, &pair);
    let conflicts: Vec<&Value> = answers
        .iter()
        .filter(|a| a["error"] == "SessionConflict")
        .collect();
    let answered: Vec<&Value> = answers
        .iter()
        .filter(|a| a["output"]["answer"].is_string())
        .collect();
    assert_eq!(
        (answered.len(), conflicts.len()),
        (1, 1),
        "one answer and one 409: {answers:#?}"
    );
    // The turn that won is the session's next: session-2-0 had 2 turns (4 messages) before it.
    let won = answered[0]["output"]["answer"].as_str().unwrap();
    assert!(won.starts_with("mi saw 5 messages: "), "{won}");
    let next = at_once(
        aws,
        &sessions,
        streamed,
        &[("three".into(), Some("session-2-0".into()))],
    );
    assert_eq!(
        next[0]["output"]["answer"], "mi saw 7 messages: three",
        "the stored session holds the winning turn only: {next:#?}"
    );
}

#[test]
fn callers_at_once_in_one_environment_under_awslambdaric_each_get_their_own_turn() {
    let aws = LocalAws::start();
    let work = project_copy();
    std::fs::write(work.path().join("many.py"), MANY_AT_ONCE).unwrap();
    rounds(&aws, work.path(), "buffered", false);
}

#[test]
fn callers_at_once_in_one_environment_behind_the_web_adapter_each_get_their_own_turn() {
    let aws = LocalAws::start();
    let work = project_copy();
    std::fs::write(work.path().join("many.py"), MANY_AT_ONCE).unwrap();
    rounds(&aws, work.path(), "streamed", true);
}

/// The rendered function, transformed by SAM, and the plan.
fn rendered(extra: &[&str]) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("agent.py");
    std::fs::write(&agent, "def main(user_input_arg=None):\n    return 1\n").unwrap();
    let out = dry_run(&agent, &dir.path().join("out"), extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let template = dir.path().join("out/template.yaml");
    assert_cfn_lint_passes(std::slice::from_ref(&template));
    let transformed = sam_transform(&template);
    (
        resources_of_type(&transformed, "AWS::Lambda::Function")[0].clone(),
        json(&out)["plan"].clone(),
    )
}

#[test]
fn managed_instances_render_the_capacity_provider_and_pass_cfn_lint_and_the_sam_transform() {
    let (function, plan) = rendered(&[
        "--runtime",
        "python3.13",
        "--managed-instances",
        PROVIDER,
        "--instance-concurrency",
        "8",
        "--memory-per-vcpu",
        "4",
    ]);
    assert_eq!(
        function["Properties"]["CapacityProviderConfig"],
        json!({"LambdaManagedInstancesCapacityProviderConfig": {
            "CapacityProviderArn": PROVIDER,
            "PerExecutionEnvironmentMaxConcurrency": 8,
            "ExecutionEnvironmentMemoryGiBPerVCpu": 4,
        }}),
        "{function:#}"
    );
    assert_eq!(
        plan["managed_instances"],
        json!({"capacity_provider": PROVIDER, "concurrency": 8, "memory_per_vcpu": 4})
    );
    let (plain, plan) = rendered(&["--runtime", "python3.13"]);
    assert!(plain["Properties"]["CapacityProviderConfig"].is_null());
    assert!(plan["managed_instances"].is_null());
}

#[test]
fn managed_instances_are_refused_where_lambda_does_not_offer_them() {
    let dir = tempfile::tempdir().unwrap();
    let agent = dir.path().join("agent.py");
    std::fs::write(&agent, "def main(user_input_arg=None):\n    return 1\n").unwrap();
    let managed = ["--managed-instances", PROVIDER];
    for (extra, flag, why) in [
        (
            vec!["--runtime", "python3.12"],
            "--managed-instances",
            "python3.13 and newer, not python3.12",
        ),
        (
            vec!["--isolation", "tenant", "--endpoint", "none"],
            "--managed-instances",
            "tenant isolation is not offered on managed instances",
        ),
        (
            vec!["--snapstart"],
            "--managed-instances",
            "SnapStart is not offered",
        ),
        (
            vec![
                "--subnet-ids",
                "subnet-0123456789abcdef0",
                "--security-group-ids",
                "sg-0123456789abcdef0",
            ],
            "--subnet-ids",
            "capacity provider's VPC",
        ),
        (
            vec!["--instance-concurrency", "0"],
            "--instance-concurrency",
            "allowed: 1-1600",
        ),
        (
            vec!["--memory-per-vcpu", "3"],
            "--memory-per-vcpu",
            "allowed: 2, 4, 8",
        ),
    ] {
        let mut args: Vec<&str> = managed.to_vec();
        if !extra.contains(&"--runtime") {
            args.extend(["--runtime", "python3.13"]);
        }
        args.extend(&extra);
        let out = dry_run(&agent, &dir.path().join("out"), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(flag) && err.contains(why), "{args:?}: {err}");
    }
    for (args, why) in [
        (
            vec![
                "--managed-instances",
                "arn:aws:lambda:us-east-1:123456789012:function:x",
            ],
            "not a capacity provider ARN",
        ),
        (
            vec!["--instance-concurrency", "4"],
            "applies to functions on managed instances only",
        ),
    ] {
        let out = dry_run(&agent, &dir.path().join("out"), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
}

/// Moving a deployed function onto managed instances (or off them) creates it anew: refused with
/// nothing changed unless `--replace` asks for it.
#[test]
fn moving_a_deployed_function_onto_managed_instances_needs_replace() {
    let aws = LocalAws::start();
    let work = project_copy();
    std::fs::write(work.path().join("many.py"), MANY_AT_ONCE).unwrap();
    let deploy = |extra: &[&str]| deploy_many(&aws, work.path(), "moving", extra);
    let first = deploy(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let refused = deploy(&["--managed-instances", PROVIDER]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let doc = json(&refused);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(
                "runs on Lambda's own compute; moving it to managed instances creates it anew"
            ),
        "{doc:#}"
    );
    assert!(
        doc["error"]["hint"].to_string().contains("--replace"),
        "{doc:#}"
    );
    let config = |aws: &LocalAws| -> Value {
        serde_json::from_str(
            aws.boto3(
                "print(json.dumps(client('lambda').get_function_configuration(FunctionName='moving').get('CapacityProviderConfig')))\n",
            )
            .trim(),
        )
        .unwrap()
    };
    assert!(config(&aws).is_null(), "nothing changed");
    let replaced = deploy(&["--managed-instances", PROVIDER, "--replace"]);
    let doc = json(&replaced);
    assert_eq!(replaced.status.code(), Some(0), "{doc:#}");
    assert_eq!(
        config(&aws)["LambdaManagedInstancesCapacityProviderConfig"]["CapacityProviderArn"],
        PROVIDER
    );
}
