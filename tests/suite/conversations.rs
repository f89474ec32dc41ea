//! Each caller's conversation is theirs alone (reference §5): the rendered handler, under the
//! runtime's Python 3.13 with real strands-agents, called by several callers one after another
//! on one warm process, with a model that reports what reached it (no network). And agents as
//! the Strands samples write them (a module-level Agent, local modules, no `main`) deploy.

use serde_json::{Value, json};

use crate::common::*;
use crate::dry_run::{body, drive, drive_with, dry_run};

fn conversations(name: &str) -> std::path::PathBuf {
    fixture("conversations").join(name)
}

fn plan(agent: &str, extra: &[&str]) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&conversations(agent), dir.path(), extra);
    assert_eq!(out.status.code(), Some(0), "{agent}: {}", stderr(&out));
    (dir, json(&out))
}

const ALICE: &str = "alice: my password is hunter2";
const BOB: &str = "bob: what did the last user say?";

#[test]
fn a_module_level_agent_gives_the_second_caller_a_fresh_conversation() {
    let (dir, doc) = plan("main_style.py", &[]);
    assert_eq!(
        doc["plan"]["entry"],
        json!({"kind": "main", "name": "main", "line": 12})
    );
    assert_eq!(doc["plan"]["conversation"], "isolated");
    let (results, _) = drive(
        &dir.path().join("src"),
        json!([{"input": ALICE}, {"input": BOB}, {"input": BOB}]),
    );
    assert_eq!(
        results[0]["output"]["main"],
        format!("main saw 1 messages: {ALICE}")
    );
    for later in &results[1..] {
        // The model was given only this caller's message: alice's turn is gone, for the
        // main agent and for the sub-agent held one level down in a dict.
        assert_eq!(
            later["output"]["main"],
            format!("main saw 1 messages: {BOB}")
        );
        assert_eq!(
            later["output"]["researcher"],
            format!("researcher saw 1 messages: {BOB}")
        );
        assert!(!later.to_string().contains("hunter2"), "{later}");
    }
}

#[test]
fn a_sub_agent_used_as_a_tool_is_isolated_too() {
    let (dir, doc) = plan("orchestrator.py", &[]);
    assert_eq!(doc["plan"]["entry"]["name"], "orchestrator");
    let (results, _) = drive(
        &dir.path().join("src"),
        json!([{"input": ALICE}, {"input": BOB}]),
    );
    // The orchestrator's model saw: the input, its tool call, the tool's result (3 messages); the
    // researcher (reachable only through the orchestrator's tools) saw this caller's text alone.
    assert_eq!(
        results[1]["output"],
        format!("orchestrator saw 3 messages; researcher said: researcher saw 1 messages: {BOB}")
    );
    assert!(
        !results[1].to_string().contains("hunter2"),
        "{}",
        results[1]
    );
}

/// Agents held every way the published samples hold them (fixtures/conversations/held_*.py), and
/// the name each one's stub model answers with.
const HELD: [(&str, &str); 13] = [
    ("held_lazy_global.py", "lazy"),
    ("held_lru_cache.py", "cached"),
    ("held_class_attribute.py", "class"),
    ("held_default_argument.py", "default-arg"),
    ("held_nested_dicts.py", "nested"),
    ("held_closure.py", "closure"),
    ("held_partial.py", "partial"),
    ("held_object_attribute.py", "object"),
    ("held_filled_on_first_call.py", "filled"),
    ("held_submodule.py", "submodule"),
    ("held_graph.py", "graph"),
    ("held_swarm.py", "swarm"),
    ("held_per_request.py", "fresh"),
];

#[test]
fn every_agent_the_process_builds_is_isolated_wherever_it_is_held() {
    for (agent, model) in HELD {
        let (dir, _) = plan(agent, &[]);
        let (results, log) = drive(
            &dir.path().join("src"),
            json!([{"input": ALICE}, {"input": BOB}, {"input": BOB}]),
        );
        let first = results[0]["output"].as_str().unwrap();
        assert!(
            first.starts_with(&format!("{model} saw 1 messages: ")),
            "{agent}: {first}"
        );
        for later in &results[1..] {
            let answer = later["output"].as_str().unwrap();
            // The model was given this caller's message only (a Swarm wraps it in its context).
            assert!(
                answer.starts_with(&format!("{model} saw 1 messages: ")),
                "{agent}: {answer}\n{log}"
            );
            assert!(answer.contains("bob"), "{agent}: {answer}");
            assert!(!answer.contains("hunter2"), "{agent}: {answer}");
        }
    }
}

#[test]
fn shared_conversation_keeps_one_memory_and_says_so() {
    let (dir, doc) = plan("main_style.py", &["--conversation", "shared"]);
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains("see each other's conversations"),
        "{warnings}"
    );
    let (results, _) = drive(
        &dir.path().join("src"),
        json!([{"input": ALICE}, {"input": BOB}]),
    );
    // What the default prevents, visible: the second caller's model call carried alice's turn.
    assert_eq!(
        results[1]["output"]["main"],
        format!("main saw 3 messages: {BOB}")
    );
}

#[test]
fn a_published_style_agent_deploys_unchanged_with_its_local_modules() {
    let (dir, doc) = plan("recipe_bot.py", &[]);
    assert_eq!(
        doc["plan"]["entry"],
        json!({"kind": "agent", "name": "agent", "line": 9})
    );
    let files = doc["plan"]["files"].to_string();
    for shipped in [
        "src/stub_model.py",
        "src/utils/prompts.py",
        "src/utils/__init__.py",
    ] {
        assert!(files.contains(shipped), "{shipped} not in {files}");
        assert!(
            dir.path().join(shipped).is_file(),
            "{shipped} was not written"
        );
    }
    // Local modules are the agent's own code, never PyPI requirements; pyproject.toml is read.
    assert_eq!(doc["plan"]["requirements"], json!(["strands-agents>=1.0"]));
    let http = json!({
        "httpMethod": "POST",
        "requestContext": {"identity": {"apiKeyId": "k1"}},
        "body": json!({"input": BOB}).to_string(),
    });
    let (results, _) = drive(
        &dir.path().join("src"),
        json!([{"input": ALICE}, http, {"prompt": BOB}]),
    );
    assert_eq!(
        results[0]["output"],
        format!("recipe saw 1 messages: {ALICE}")
    );
    assert_eq!(
        body(&results[1])["output"],
        format!("recipe saw 1 messages: {BOB}")
    );
    assert_eq!(
        results[2]["output"],
        format!("recipe saw 1 messages: {BOB}")
    );
}

#[test]
fn a_cold_start_answers_from_the_initial_state() {
    let (dir, _) = plan("recipe_bot.py", &[]);
    for _ in 0..2 {
        // A fresh process each time, as a cold start is.
        let (results, _) = drive(&dir.path().join("src"), json!([{"input": BOB}]));
        assert_eq!(
            results[0]["output"],
            format!("recipe saw 1 messages: {BOB}")
        );
    }
}

#[test]
fn the_text_plan_names_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(agentdeploy(&repo())
        .args([
            "lambda",
            "--function-name",
            "recipes",
            "--dry-run",
            "--agent",
        ])
        .arg(conversations("recipe_bot.py"))
        .arg("--out-dir")
        .arg(dir.path()));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("entry        Agent `agent` (recipe_bot.py:9)"),
        "{text}"
    );
}

/// Copies the fixture folder, so the deploy's record and out-dir land in a temporary project.
pub(crate) fn project_copy() -> tempfile::TempDir {
    let work = tempfile::tempdir().unwrap();
    let source = fixture("conversations");
    for file in files_below(&source) {
        let relative = file.strip_prefix(&source).unwrap();
        let target = work.path().join(relative);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&file, target).unwrap();
    }
    work
}

#[test]
fn a_published_style_agent_deploys_on_the_local_aws_and_answers_through_invoke() {
    let aws = crate::common::local_aws::LocalAws::start();
    let work = project_copy();
    let out = run(aws.lambda_command(work.path()).args([
        "--function-name",
        "recipes",
        "--agent",
        "recipe_bot.py",
    ]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["status"], "deployed");
    assert_eq!(doc["plan"]["entry"]["kind"], "agent");
    // Cold starts import bytecode (reference §5): the modules the handler's build-time import loaded
    // ship compiled, as unchecked-hash pycs for the runtime's Python; the agent's own code does
    // not (a code-only change reuses the dependency zip, and its pycs would be stale).
    let bytecode = &doc["build"]["bytecode"];
    assert_eq!(bytecode["method"], "import", "{doc:#}");
    assert!(bytecode["modules"].as_u64().unwrap() > 100, "{bytecode}");
    let zip_path = work
        .path()
        .join(".agentdeploy/default/recipes/.aws-sam/build/AgentFunction.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("an entry name").to_string())
        .collect();
    let pycs: Vec<&String> = names.iter().filter(|n| n.ends_with(".pyc")).collect();
    assert_eq!(pycs.len() as u64, bytecode["modules"].as_u64().unwrap());
    assert!(
        names.contains(&"strands/__pycache__/__init__.cpython-313.pyc".to_string()),
        "{pycs:?}"
    );
    // agentdeploy's runtime beside the handler ships compiled too (checked-hash: it travels with
    // the code, never stale).
    for runtime in [
        "agentdeploy_bootstrap.cpython-313.pyc",
        "agentdeploy_runtime/__pycache__/handler.cpython-313.pyc",
    ] {
        let expected = if runtime.contains('/') {
            runtime.to_string()
        } else {
            format!("__pycache__/{runtime}")
        };
        assert!(names.contains(&expected), "{expected} missing: {pycs:?}");
    }
    let own: Vec<&&String> = pycs
        .iter()
        .filter(|n| {
            n.starts_with("utils/")
                || ["handler", "recipe_bot", "stub_model"]
                    .iter()
                    .any(|m| n.starts_with(&format!("__pycache__/{m}.")))
        })
        .collect();
    assert!(own.is_empty(), "no pyc of the agent's own code: {own:?}");
    let mut pyc = archive
        .by_name("strands/__pycache__/__init__.cpython-313.pyc")
        .unwrap();
    let mut header = [0u8; 8];
    std::io::Read::read_exact(&mut pyc, &mut header).unwrap();
    assert_eq!(header[4], 0b01, "hash-based, source not checked (PEP 552)");
    drop(pyc);
    // The local AWS keeps the execution environment warm, as Lambda does: bob's request runs in
    // the very process that served alice's, and still reaches the model with his message only.
    for (caller, input, cold_start) in [("alice", ALICE, true), ("bob", BOB, false)] {
        let (answer, cold) = invoke_logged(&aws, "recipes", json!({"input": input}));
        assert_eq!(cold, cold_start, "{caller}");
        // The uploaded zip carried the local modules (the model and the prompt live there).
        assert_eq!(
            answer["output"],
            format!("recipe saw 1 messages: {input}"),
            "{caller}: {answer}"
        );
        assert!(caller == "alice" || !answer.to_string().contains("hunter2"));
    }
    // And through agentdeploy's own invoke command.
    let mut cmd = agentdeploy(work.path());
    aws.configure(&mut cmd);
    let answer = json(&run(
        cmd.args(["invoke", "recipes", "-o", "json", "--input", BOB])
    ));
    assert_eq!(answer["output"], format!("recipe saw 1 messages: {BOB}"));
}

/// Lambda Invoke with a raw event, as a caller's SDK would send it: the decoded answer, and
/// whether it was a cold start (the REPORT line of the log tail has an Init Duration).
fn invoke_logged(
    aws: &crate::common::local_aws::LocalAws,
    function: &str,
    event: Value,
) -> (Value, bool) {
    let script = format!(
        "import base64\n\
         answer = client('lambda').invoke(FunctionName={function:?}, LogType='Tail', Payload=json.dumps(json.loads({event:?})))\n\
         log = base64.b64decode(answer['LogResult']).decode()\n\
         print(json.dumps([json.loads(answer['Payload'].read().decode()), 'Init Duration' in log]))\n",
        event = event.to_string()
    );
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

fn invoke_event(aws: &crate::common::local_aws::LocalAws, function: &str, event: Value) -> Value {
    invoke_logged(aws, function, event).0
}

/// An API Gateway (REST, API key) event carrying `body` for the key `key_id`.
fn through_api_key(key_id: &str, body: Value) -> Value {
    json!({
        "httpMethod": "POST",
        "path": "/invoke",
        "requestContext": {"identity": {"apiKeyId": key_id}},
        "body": body.to_string(),
        "isBase64Encoded": false,
    })
}

const SESSION_BOT: &str = r#"import os

import boto3
from strands import Agent

from stub_model import ReportingModel

agent = Agent(model=ReportingModel("session"), callback_handler=None)


def main(user_input_arg=None, input_data_arg=None):
    answer = str(agent(user_input_arg)).rstrip()
    if user_input_arg == "race":
        # Another request finishing first: the stored session changes under this one.
        s3 = boto3.client("s3")
        bucket = os.environ["AGENTDEPLOY_SESSION_BUCKET"]
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.put_object(Bucket=bucket, Key=item["Key"], Body=b'{"version": 2, "agents": {}}')
    return answer
"#;

#[test]
fn sessions_continue_across_cold_starts_for_their_caller_only_and_conflicts_are_reported() {
    let aws = crate::common::local_aws::LocalAws::start_cold();
    let work = project_copy();
    std::fs::write(work.path().join("session_bot.py"), SESSION_BOT).unwrap();
    let out = run(aws.lambda_command(work.path()).args([
        "--function-name",
        "sessions",
        "--agent",
        "session_bot.py",
        "--conversation",
        "session",
        "--session-ttl-days",
        "3",
    ]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["plan"]["conversation"], "session");
    assert_eq!(doc["plan"]["session_ttl_days"], 3);

    // This local AWS starts every Invoke cold: the session continues in a fresh process.
    let (first, cold) = invoke_logged(
        &aws,
        "sessions",
        json!({"input": ALICE, "session_id": "alice-1"}),
    );
    assert!(cold);
    assert_eq!(
        first["output"],
        format!("session saw 1 messages: {ALICE}"),
        "{first}"
    );
    assert_eq!(first["session_id"], "alice-1");
    let (second, cold) = invoke_logged(
        &aws,
        "sessions",
        json!({"input": "and then?", "session_id": "alice-1"}),
    );
    assert!(cold, "the second turn must come from a fresh process");
    assert_eq!(
        second["output"], "session saw 3 messages: and then?",
        "{second}"
    );

    // Without a session_id a new one is made and returned; it starts fresh.
    let fresh = invoke_event(&aws, "sessions", json!({"input": BOB}));
    assert_eq!(
        fresh["output"],
        format!("session saw 1 messages: {BOB}"),
        "{fresh}"
    );
    let generated = fresh["session_id"].as_str().unwrap();
    assert_eq!(generated.len(), 32, "{fresh}");
    assert_ne!(generated, "alice-1");

    // Another caller (another API key) naming alice's session gets a session of its own. The
    // events are API Gateway's, stage variables included: the deployed stack's API adds its
    // origin value, a secret in SSM (read here as only the deployer could). Neither the
    // function's configuration nor the stack shows it.
    let seen = aws.boto3(
        "config = client('lambda').get_function_configuration(FunctionName='sessions')\n\
         stack = client('cloudformation').describe_stacks(StackName='agentdeploy-sessions')['Stacks'][0]\n\
         secret = client('ssm').get_parameter(Name='/agentdeploy/agentdeploy-sessions/record/origin', WithDecryption=True)\n\
         print(secret['Parameter']['Value'])\n\
         print(config['Environment']['Variables']['AGENTDEPLOY_ORIGIN'])\n\
         print(stack['StackId'].split('/')[2])\n\
         print(json.dumps(config, default=str) + json.dumps(stack, default=str))\n",
    );
    let mut lines = seen.lines();
    let origin = lines.next().unwrap().to_string();
    let (variable, stack_uuid, readable) = (
        lines.next().unwrap(),
        lines.next().unwrap().to_string(),
        lines.next().unwrap(),
    );
    assert_eq!(origin.len(), 64, "{origin}");
    assert_eq!(variable, "/agentdeploy/agentdeploy-sessions/record/origin");
    assert!(
        !readable.contains(&origin),
        "the origin value is readable: {readable}"
    );
    // The stack id's UUID (the origin value of earlier releases) makes an event no API event.
    let mut forged = through_api_key(
        "key-a",
        json!({"input": "who am I?", "session_id": "alice-1"}),
    );
    forged["stageVariables"] = json!({"agentdeployOrigin": stack_uuid});
    let answer = invoke_event(&aws, "sessions", forged);
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["output"], "session saw 5 messages: who am I?",
        "a direct caller continues the direct caller's session, not an API key's: {body}"
    );
    let through_api_key = |key: &str, body: Value| {
        let mut event = through_api_key(key, body);
        event["stageVariables"] = json!({"agentdeployOrigin": origin});
        event
    };
    let other = invoke_event(
        &aws,
        "sessions",
        through_api_key("key-b", json!({"input": BOB, "session_id": "alice-1"})),
    );
    assert_eq!(other["statusCode"], 200, "{other}");
    let body: Value = serde_json::from_str(other["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["output"],
        format!("session saw 1 messages: {BOB}"),
        "{body}"
    );
    assert!(!other.to_string().contains("hunter2"), "{other}");
    let own = invoke_event(
        &aws,
        "sessions",
        through_api_key("key-b", json!({"input": "more", "session_id": "alice-1"})),
    );
    let body: Value = serde_json::from_str(own["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["output"], "session saw 3 messages: more", "{body}");

    // A session_id that is not one is a 400; a session changed mid-request is a 409.
    let bad = invoke_event(
        &aws,
        "sessions",
        through_api_key("key-b", json!({"input": "x", "session_id": "../alice-1"})),
    );
    assert_eq!(bad["statusCode"], 400, "{bad}");
    let race = invoke_event(
        &aws,
        "sessions",
        json!({"input": "race", "session_id": "alice-1"}),
    );
    assert_eq!(race["error"], "SessionConflict", "{race}");
    assert_eq!(race["session_id"], "alice-1");

    // destroy empties the bucket (CloudFormation cannot delete one with objects), then the stack.
    let bucket = aws
        .boto3(
            "outputs = client('cloudformation').describe_stacks(StackName='agentdeploy-sessions')['Stacks'][0]['Outputs']\n\
             print([o['OutputValue'] for o in outputs if o['OutputKey'] == 'SessionBucket'][0])\n",
        )
        .trim()
        .to_string();
    let stored: usize = aws
        .boto3(&format!(
            "print(client('s3').list_objects_v2(Bucket={bucket:?}).get('KeyCount', 0))\n"
        ))
        .trim()
        .parse()
        .unwrap();
    assert!(stored >= 3, "{stored} sessions stored");
    // Someone turned versioning on: an overwritten session leaves its old version, a deleted
    // object a delete marker. destroy removes those too (CloudFormation would refuse the bucket).
    let versions = aws.boto3(&format!(
        "s3 = client('s3')\n\
         s3.put_bucket_versioning(Bucket={bucket:?}, VersioningConfiguration={{'Status': 'Enabled'}})\n\
         key = s3.list_objects_v2(Bucket={bucket:?})['Contents'][0]['Key']\n\
         s3.put_object(Bucket={bucket:?}, Key=key, Body=s3.get_object(Bucket={bucket:?}, Key=key)['Body'].read())\n\
         s3.put_object(Bucket={bucket:?}, Key='sessions/dropped', Body=b'x')\n\
         s3.delete_object(Bucket={bucket:?}, Key='sessions/dropped')\n\
         listed = s3.list_object_versions(Bucket={bucket:?})\n\
         print(len(listed.get('Versions', [])), len(listed.get('DeleteMarkers', [])))\n"
    ));
    assert_eq!(versions.trim(), format!("{} 1", stored + 2), "{versions}");
    let mut destroy = agentdeploy(work.path());
    aws.configure(&mut destroy);
    let destroyed = run(destroy.args(["destroy", "sessions", "--yes"]));
    assert_eq!(destroyed.status.code(), Some(0), "{}", stderr(&destroyed));
    assert!(
        stdout(&destroyed).contains(&format!("after removing {stored} stored session(s)")),
        "{}",
        stdout(&destroyed)
    );
    let gone = aws.boto3(&format!(
        "names = [b['Name'] for b in client('s3').list_buckets()['Buckets']]\nprint({bucket:?} in names)\n"
    ));
    assert_eq!(gone.trim(), "False");
}

/// A local S3 with an empty bucket, and the variables a deployed function would have for it.
struct LocalSessions {
    aws: crate::common::local_aws::LocalAws,
    bucket: String,
}

const ORIGIN: &str = "0b3c5a6e-origin-of-this-stack";
const ORIGIN_PARAMETER: &str = "/agentdeploy/agentdeploy-test/record/origin";

impl LocalSessions {
    fn start() -> LocalSessions {
        let aws = crate::common::local_aws::LocalAws::start();
        let bucket = "agentdeploy-sessions-test".to_string();
        aws.boto3(&format!(
            "client('s3').create_bucket(Bucket={bucket:?})\n\
             client('ssm').put_parameter(Name={ORIGIN_PARAMETER:?}, Value={ORIGIN:?}, Type='SecureString')\n"
        ));
        LocalSessions { aws, bucket }
    }

    fn variables(&self) -> Vec<(&str, &str)> {
        vec![
            ("AWS_ENDPOINT_URL", self.aws.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret-key"),
            ("AGENTDEPLOY_SESSION_BUCKET", self.bucket.as_str()),
            ("AGENTDEPLOY_ORIGIN", ORIGIN_PARAMETER),
            // As Lambda sets it (boto3 reads this one).
            ("AWS_DEFAULT_REGION", "us-east-1"),
        ]
    }

    /// One execution environment (one process) serving `events` in order.
    fn serve(&self, handler_dir: &std::path::Path, events: Value) -> Vec<Value> {
        drive_with(handler_dir, events, &self.variables()).0
    }
}

/// What API Gateway sends for a request with API key `key_id`: the stack's origin value in its
/// stage variables, which a caller cannot set.
fn from_api(key_id: &str, body: Value) -> Value {
    let mut event = through_api_key(key_id, body);
    event["stageVariables"] = json!({"agentdeployOrigin": ORIGIN});
    event
}

fn output_of(result: &Value) -> String {
    let answer = if result.get("statusCode").is_some() {
        body(result)
    } else {
        result.clone()
    };
    answer["output"].as_str().unwrap_or_default().to_string()
}

#[test]
fn sessions_restore_every_held_agent_after_a_cold_start_for_their_caller_only() {
    let local = LocalSessions::start();
    for (agent, model) in HELD {
        if agent == "held_swarm.py" {
            continue; // a Swarm starts each run from its nodes' initial state by design
        }
        let (dir, _) = plan(agent, &["--conversation", "session"]);
        let src = dir.path().join("src");
        let session = format!("s-{}", agent.trim_end_matches(".py").replace('_', "-"));
        let turn =
            |key: &str, input: &str| from_api(key, json!({"input": input, "session_id": session}));
        // A warm process: alice's first turn, then another key naming alice's session id.
        let warm = local.serve(&src, json!([turn("key-a", ALICE), turn("key-b", BOB)]));
        assert_eq!(
            output_of(&warm[0]),
            format!("{model} saw 1 messages: {ALICE}"),
            "{agent}"
        );
        assert_eq!(
            output_of(&warm[1]),
            format!("{model} saw 1 messages: {BOB}"),
            "{agent}: {}",
            warm[1]
        );
        // A cold start: alice's second turn continues her conversation; bob's is his own.
        let cold = local.serve(
            &src,
            json!([turn("key-a", "and then?"), turn("key-b", "more")]),
        );
        assert_eq!(
            output_of(&cold[0]),
            format!("{model} saw 3 messages: and then?"),
            "{agent}: {}",
            cold[0]
        );
        assert_eq!(
            output_of(&cold[1]),
            format!("{model} saw 3 messages: more"),
            "{agent}: {}",
            cold[1]
        );
        assert!(!cold[1].to_string().contains("hunter2"), "{agent}");
    }
}

#[test]
fn sessions_restore_an_agent_used_as_a_tool_with_its_orchestrator() {
    let local = LocalSessions::start();
    let (dir, _) = plan("orchestrator.py", &["--conversation", "session"]);
    let src = dir.path().join("src");
    let turn =
        |key: &str, input: &str| from_api(key, json!({"input": input, "session_id": "team-1"}));
    let warm = local.serve(&src, json!([turn("key-a", ALICE), turn("key-b", BOB)]));
    assert_eq!(
        output_of(&warm[1]),
        format!("orchestrator saw 3 messages; researcher said: researcher saw 1 messages: {BOB}")
    );
    // After a cold start alice's orchestrator has its 4 messages back, and the researcher (kept
    // with `preserve_context=True`) its 2: both continue.
    let cold = local.serve(&src, json!([turn("key-a", "and then?")]));
    assert_eq!(
        output_of(&cold[0]),
        "orchestrator saw 7 messages; researcher said: researcher saw 3 messages: and then?",
        "{}",
        cold[0]
    );
}

#[test]
fn a_direct_invoke_imitating_an_api_event_cannot_reach_that_callers_session() {
    let local = LocalSessions::start();
    let (dir, _) = plan("held_lazy_global.py", &["--conversation", "session"]);
    let src = dir.path().join("src");
    let alice = |input: &str| from_api("key-a", json!({"input": input, "session_id": "alice-1"}));
    // The forged event names alice's key and session, but lacks what API Gateway adds.
    let forged = through_api_key("key-a", json!({"input": BOB, "session_id": "alice-1"}));
    let mut wrong_origin = forged.clone();
    wrong_origin["stageVariables"] = json!({"agentdeployOrigin": "guessed"});
    let results = local.serve(
        &src,
        json!([alice(ALICE), forged, wrong_origin, alice("still me?")]),
    );
    assert_eq!(
        output_of(&results[0]),
        format!("lazy saw 1 messages: {ALICE}")
    );
    // Answered as the direct caller's session "alice-1": alice's turn never reached the model;
    // the second imitation continues the first one's (bob's) turn, not hers.
    assert_eq!(
        output_of(&results[1]),
        format!("lazy saw 1 messages: {BOB}"),
        "{}",
        results[1]
    );
    assert_eq!(
        output_of(&results[2]),
        format!("lazy saw 3 messages: {BOB}"),
        "{}",
        results[2]
    );
    for imitation in &results[1..3] {
        assert!(!imitation.to_string().contains("hunter2"), "{imitation}");
    }
    // Alice's session is untouched by the imitations (the second forged turn continued the
    // first one's direct session, not hers).
    assert_eq!(
        output_of(&results[3]),
        "lazy saw 3 messages: still me?",
        "{}",
        results[3]
    );
}

#[test]
fn a_stored_session_naming_agents_the_code_no_longer_builds_is_used_for_the_rest() {
    let local = LocalSessions::start();
    let (dir, _) = plan("main_style.py", &["--conversation", "session"]);
    let src = dir.path().join("src");
    let turn = |input: &str| from_api("key-a", json!({"input": input, "session_id": "renamed"}));
    local.serve(&src, json!([turn(ALICE)]));
    let key = format!(
        "sessions/{}/renamed.json",
        &crate::common::sha256_hex("api-key:key-a")[..32]
    );
    // The stored document keys each agent; rename one as if the code had changed since.
    let stored = local.aws.boto3(&format!(
        "s3 = client('s3')\n\
         doc = json.loads(s3.get_object(Bucket={bucket:?}, Key={key:?})['Body'].read())\n\
         print(json.dumps(sorted(doc['agents'])))\n\
         doc['agents']['gone'] = doc['agents'].pop('Strands Agents#2')\n\
         s3.put_object(Bucket={bucket:?}, Key={key:?}, Body=json.dumps(doc).encode())\n",
        bucket = local.bucket
    ));
    assert_eq!(stored.trim(), r#"["Strands Agents", "Strands Agents#2"]"#);
    let (results, log) = drive_with(&src, json!([turn("again")]), &local.variables());
    let answer = body(&results[0])["output"].clone();
    assert_eq!(answer["main"], "main saw 3 messages: again", "{answer}");
    assert_eq!(
        answer["researcher"], "researcher saw 1 messages: again",
        "{answer}"
    );
    assert!(log.contains("did not build, kept unchanged: gone"), "{log}");
}

#[test]
fn the_session_role_may_list_its_bucket_so_a_missing_session_is_404_not_403() {
    let (dir, doc) = plan("main_style.py", &["--conversation", "session"]);
    let statements = doc["plan"]["iam"]["statements"].as_array().unwrap();
    let list = statements
        .iter()
        .find(|s| s["actions"] == json!(["s3:ListBucket"]))
        .unwrap_or_else(|| panic!("no s3:ListBucket in {statements:#?}"));
    assert_eq!(
        list["resources"],
        json!([{"Fn::Sub": "${SessionBucket.Arn}"}])
    );
    let template = std::fs::read_to_string(dir.path().join("template.yaml")).unwrap();
    assert!(
        template.contains(
            r#"{"Action":["s3:ListBucket"],"Effect":"Allow","Resource":[{"Fn::Sub":"${SessionBucket.Arn}"}]"#
        ),
        "{template}"
    );
    // The API marks its events with a secret value passed as a NoEcho parameter; the function
    // is told only where that value is kept, and may read that one parameter.
    assert!(
        template.contains("agentdeployOrigin: {\"Ref\":\"AgentdeployOrigin\"}")
            && template.contains("AgentdeployOrigin:\n    Type: String\n    NoEcho: true"),
        "{template}"
    );
    assert!(
        template.contains("\"AGENTDEPLOY_ORIGIN\":\"/agentdeploy/agentdeploy-"),
        "{template}"
    );
    assert!(template.contains("record/origin"), "{template}");
}

#[test]
fn sessions_without_a_caller_or_with_a_raw_handler_are_refused_and_url_sessions_warned() {
    for (extra, needle) in [
        (&["--auth", "none"][..], "--auth none"),
        (&["--entry", "lambda_handler"][..], "Lambda-style handler"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let agent = conversations(if extra[0] == "--entry" {
            "raw_handler.py"
        } else {
            "main_style.py"
        });
        let mut args = vec!["--conversation", "session"];
        args.extend_from_slice(extra);
        let out = dry_run(&agent, dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stdout(&out));
        let doc = json(&out);
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert!(
            !dir.path().join("template.yaml").exists(),
            "nothing is written"
        );
    }
    let (_, doc) = plan(
        "main_style.py",
        &["--conversation", "session", "--endpoint", "url"],
    );
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("--endpoint url") && w.contains("imitate")),
        "{:?}",
        warnings(&doc)
    );
}

#[test]
fn an_http_caller_is_told_the_error_type_and_request_id_never_the_message() {
    let (dir, _) = plan("failing_agent.py", &[]);
    let (results, log) = drive(
        &dir.path().join("src"),
        json!([
            {"httpMethod": "POST", "requestContext": {}, "body": json!({"input": "hi"}).to_string()},
            {"input": "hi"}
        ]),
    );
    let secret_text = "arn:aws:iam::123456789012:role/agent-role";
    assert_eq!(results[0]["statusCode"], 500);
    assert_eq!(
        body(&results[0]),
        json!({"error": "AccessDeniedException", "request_id": "request-0"})
    );
    assert!(
        !results[0].to_string().contains(secret_text),
        "{}",
        results[0]
    );
    assert!(
        !results[0].to_string().contains("123456789012"),
        "{}",
        results[0]
    );
    // The operator's log keeps the whole story; a direct Invoke (from the account) gets the message.
    assert!(
        log.contains(secret_text) && log.contains("Traceback"),
        "{log}"
    );
    assert!(
        results[1]["message"]
            .as_str()
            .unwrap()
            .contains(secret_text),
        "{}",
        results[1]
    );
}

#[test]
fn the_plan_names_module_level_state_that_isolation_does_not_cover() {
    let (_, doc) = plan("shared_list.py", &[]);
    let found = warnings(&doc);
    assert!(
        found
            .iter()
            .any(|w| w.contains("shared_list.py:8: `NOTES`") && w.contains("`main`")),
        "{found:?}"
    );
}
