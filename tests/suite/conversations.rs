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
    for (caller, input) in [("alice", ALICE), ("bob", BOB)] {
        let mut cmd = agentdeploy(work.path());
        aws.configure(&mut cmd);
        let answer = json(&run(
            cmd.args(["invoke", "recipes", "-o", "json", "--input", input])
        ));
        // The uploaded zip carried the local modules (the model and the prompt live there).
        assert_eq!(
            answer["output"],
            format!("recipe saw 1 messages: {input}"),
            "{caller}: {answer}"
        );
    }
}
