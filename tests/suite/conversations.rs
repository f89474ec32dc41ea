//! Each caller's conversation is theirs alone (SPEC §5): the rendered handler, under the
//! runtime's Python 3.13 with real strands-agents, called by several callers one after another
//! on one warm process, with a model that reports what reached it (no network). And agents as
//! the Strands samples write them (a module-level Agent, local modules, no `main`) deploy.

use serde_json::{Value, json};

use crate::common::*;
use crate::dry_run::{body, drive, dry_run};

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
fn project_copy() -> tempfile::TempDir {
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
    // Cold starts import bytecode (SPEC §5): the modules the handler's build-time import loaded
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
            s3.put_object(Bucket=bucket, Key=item["Key"], Body=b'{"version": 1, "agents": []}')
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

    // Another caller (another API key) naming alice's session gets a session of its own.
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
