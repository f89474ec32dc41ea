//! What a Strands Agent answers besides text, deployed on the local AWS with the stub model: an
//! answer that stops on interrupts returns them and, in session mode, the next request carrying
//! the person's `interrupt_responses` resumes that agent where it stopped (buffered and streamed);
//! a `structured_output_model` answer is its JSON.

use serde_json::{Value, json};

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::conversations::project_copy;
use crate::dry_run::dry_run;

fn deploy(aws: &LocalAws, dir: &std::path::Path, name: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "--function-name",
        name,
        "--agent",
        "approvals.py",
        "--endpoint",
        "none",
    ];
    args.extend(extra);
    let out = run(aws.lambda_command(dir).args(&args));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    doc
}

/// One request as a caller's SDK sends it: the whole answer (buffered), or the stream's last event.
fn ask(aws: &LocalAws, function: &str, streamed: bool, request: Value) -> Value {
    let script = if streamed {
        format!(
            "answer = client('lambda').invoke_with_response_stream(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(json.loads({request:?})))\n\
             print(json.dumps(stream_events(answer)[-1]))\n",
            request = request.to_string()
        )
    } else {
        format!(
            "answer = client('lambda').invoke(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(json.loads({request:?})))\n\
             print(answer['Payload'].read().decode())\n",
            request = request.to_string()
        )
    };
    serde_json::from_str(aws.boto3(&script).trim()).unwrap()
}

fn stops_and_resumes(aws: &LocalAws, function: &str, streamed: bool) {
    let stopped = ask(
        aws,
        function,
        streamed,
        json!({"input": "deploy to prod", "session_id": "ops-1"}),
    );
    assert_eq!(stopped["session_id"], "ops-1", "{stopped}");
    assert!(stopped.get("output").is_none(), "{stopped}");
    let interrupts = stopped["interrupts"].as_array().expect("interrupts");
    assert_eq!(interrupts.len(), 1, "{stopped}");
    assert_eq!(interrupts[0]["name"], "approval");
    assert_eq!(interrupts[0]["reason"], json!({"asks": "deploy to prod"}));
    let id = interrupts[0]["id"].as_str().unwrap();

    let resumed = ask(
        aws,
        function,
        streamed,
        json!({"session_id": "ops-1", "interrupt_responses": [{"interrupt_id": id, "response": "yes"}]}),
    );
    assert_eq!(
        resumed["output"], "approver saw 3 messages; approval said: person said yes",
        "the agent resumed where it stopped: {resumed}"
    );
    // Another caller's session knows nothing of it.
    let other = ask(
        aws,
        function,
        streamed,
        json!({"session_id": "ops-2", "interrupt_responses": [{"interrupt_id": id, "response": "yes"}]}),
    );
    assert!(
        other.get("output").is_none() || other["output"] != resumed["output"],
        "{other}"
    );
}

#[test]
fn an_interrupted_agent_waits_for_a_person_and_resumes_from_the_session_buffered_and_streamed() {
    let aws = LocalAws::start_cold();
    let work = project_copy();
    deploy(
        &aws,
        work.path(),
        "approvals",
        &["--entry", "approver", "--conversation", "session"],
    );
    // Each request a cold start: the interrupt's state travelled through the session store.
    stops_and_resumes(&aws, "approvals", false);
    deploy(
        &aws,
        work.path(),
        "approvals-streamed",
        &[
            "--entry",
            "approver",
            "--conversation",
            "session",
            "--stream",
        ],
    );
    stops_and_resumes(&aws, "approvals-streamed", true);
}

#[test]
fn a_structured_output_answer_is_its_json() {
    let aws = LocalAws::start();
    let work = project_copy();
    // The project's pyproject lists strands-agents, not pydantic, which the agent imports: the
    // plan cannot know yet that strands-agents brings it along; the deploy, having resolved the
    // set, withdraws the warning.
    let unlisted = |doc: &Value| {
        doc["warnings"]
            .to_string()
            .contains("does not list `pydantic`")
    };
    let planned = dry_run(
        &work.path().join("approvals.py"),
        &work.path().join("out"),
        &[],
    );
    assert!(unlisted(&json(&planned)), "{:#}", json(&planned));
    let deployed = deploy(&aws, work.path(), "forms", &[]);
    assert!(!unlisted(&deployed), "{deployed:#}");
    let answer = ask(&aws, "forms", false, json!({"input": "summarise this"}));
    assert_eq!(
        answer["output"],
        json!({"text": "summarise this", "messages": 1}),
        "{answer}"
    );
}

#[test]
fn interrupts_without_sessions_are_warned_at_plan_time_with_their_line() {
    let work = project_copy();
    let out = dry_run(
        &work.path().join("approvals.py"),
        &work.path().join("out"),
        &["--entry", "approver"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    let warned = doc["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|w| w.contains("cannot resume"))
        .map(str::to_string);
    let warned = warned.unwrap_or_else(|| panic!("{doc:#}"));
    assert!(warned.contains("approvals.py:14"), "{warned}");
    let out = dry_run(
        &work.path().join("approvals.py"),
        &work.path().join("out2"),
        &[
            "--entry",
            "approver",
            "--conversation",
            "session",
            "--auth",
            "iam",
            "--endpoint",
            "url",
        ],
    );
    let doc = json(&out);
    assert!(!doc.to_string().contains("cannot resume"), "{doc:#}");
}
