//! What the deployed agent did, on the local AWS (reference §11 "metrics"): the function's runtime
//! writes one Embedded Metric Format record per request on its log, the local AWS turns them into
//! metric data as CloudWatch does, and `metrics` (from a fresh checkout, too), `status` and
//! `cost --from-metrics` read them back.

use serde_json::Value;

use crate::common::*;
use crate::conversations::project_copy;
use crate::lifecycle_e2e::cmd;

#[test]
fn metrics_counts_requests_errors_tokens_and_tool_calls_from_the_functions_own_records() {
    let aws = crate::common::local_aws::LocalAws::start();
    let work = project_copy();
    // An orchestrator (model "orchestrator") that asks a sub-agent (model "researcher") used as
    // a tool; the stub models report 10 input tokens per message given and one output token per
    // word written.
    let out = run(aws.lambda_command(work.path()).args([
        "--function-name",
        "metered",
        "--agent",
        "orchestrator.py",
        "--endpoint",
        "url",
        "--alarm-errors",
        "5%",
        "--alarm-p95",
        "3000",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let secret_input = "alpha-4111111111111111";
    for input in [secret_input, "beta", "gamma"] {
        let answered = run(&mut cmd(
            &aws,
            work.path(),
            &["invoke", "metered", "--input", input],
        ));
        assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    }
    // A 500 (the model fails) and a 400 (no input).
    let failed = run(&mut cmd(
        &aws,
        work.path(),
        &["invoke", "metered", "--input", "raise"],
    ));
    assert!(
        stderr(&failed).contains("RuntimeError"),
        "{}",
        stderr(&failed)
    );
    let refused = run(&mut cmd(
        &aws,
        work.path(),
        &["invoke", "metered", "--data", "{}"],
    ));
    assert!(
        stderr(&refused).contains("BadRequest"),
        "{}",
        stderr(&refused)
    );

    // From a checkout that never deployed it: the same figures.
    let fresh = tempfile::tempdir().unwrap();
    let out = run(&mut cmd(
        &aws,
        fresh.path(),
        &["metrics", "metered", "-o", "json"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("-o json is one document");
    if doc["requests"] != 5 {
        // What the function wrote, to tell a record not written from one not read.
        let logs = run(&mut cmd(
            &aws,
            work.path(),
            &["logs", "metered", "--since", "1h"],
        ));
        panic!("{doc:#}\n{}", stdout(&logs));
    }
    assert_eq!(
        (doc["client_errors"].as_u64(), doc["server_errors"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(doc["error_rate"], 0.4);
    // The first request started the execution environment; the rest found it warm. Its record
    // says how long the bootstrap took to import the agent (Strands and all: some time).
    assert_eq!(doc["cold_starts"], 1);
    let init_ms = doc["init_duration_ms"].as_f64().unwrap();
    assert!(init_ms > 10.0, "{doc:#}");
    // Per answered request: the orchestrator's two model calls (10 and 30 input tokens: it was
    // given 1 message, then 3), the researcher's one (10); a word count of each answer out.
    assert_eq!(doc["model_calls"], 9, "{doc:#}");
    assert_eq!(doc["input_tokens"], 150, "{doc:#}");
    let words = |text: &str| text.split_whitespace().count() as u64;
    let output_tokens: u64 = [secret_input, "beta", "gamma"]
        .iter()
        .map(|input| {
            let researcher = format!("researcher saw 1 messages: {input}");
            1 + words(&researcher)
                + words(&format!(
                    "orchestrator saw 3 messages; researcher said: {researcher}"
                ))
        })
        .sum();
    assert_eq!(doc["output_tokens"], output_tokens, "{doc:#}");
    assert_eq!(doc["tool_calls"], 3);
    assert_eq!(doc["tools"]["researcher"], 3);
    let models: Vec<(String, u64)> = doc["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model_id"].as_str().unwrap().to_string(),
                m["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        models,
        vec![("orchestrator".into(), 6), ("researcher".into(), 3)]
    );
    // Stub models have no price: said, not guessed.
    assert_eq!(
        doc["cost"]["unpriced_models"],
        serde_json::json!(["orchestrator", "researcher"])
    );
    assert!(doc["cost"]["lambda_usd"].as_f64().unwrap() > 0.0, "{doc:#}");
    let p50 = doc["duration_ms"]["p50"].as_f64().unwrap();
    let p95 = doc["duration_ms"]["p95"].as_f64().unwrap();
    assert!(
        p50 > 0.0 && p50 <= p95 && p95 <= doc["duration_ms"]["max"].as_f64().unwrap(),
        "{doc:#}"
    );
    // Nothing a caller typed reaches the metrics.
    assert!(!stdout(&out).contains("4111111111111111"));

    // A price in the config prices the model's tokens.
    std::fs::write(
        fresh.path().join("agentdeploy.toml"),
        "[model_prices.orchestrator]\ninput_per_million = 1000000.0\noutput_per_million = 0.0\n",
    )
    .unwrap();
    let priced = json(&run(&mut cmd(
        &aws,
        fresh.path(),
        &["metrics", "metered", "-o", "json"],
    )));
    assert_eq!(priced["models"][0]["cost_usd"], 120.0, "{priced:#}");
    assert_eq!(
        priced["cost"]["unpriced_models"],
        serde_json::json!(["researcher"])
    );

    // status shows the last hour's headline, cost --from-metrics scales the window to a month.
    let status = run(&mut cmd(&aws, work.path(), &["status", "metered"]));
    let text = stdout(&status);
    assert!(
        text.contains("last hour      5 requests in the last 1h, 2 failed (40.0 %)"),
        "{text}"
    );
    // The two alarms the deploy asked for, as CloudWatch reports them.
    let status = json(&run(&mut cmd(
        &aws,
        work.path(),
        &["status", "metered", "-o", "json"],
    )));
    let alarms: Vec<&str> = status["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(alarms.len(), 2, "{status:#}");
    assert!(
        alarms
            .iter()
            .any(|a| a.starts_with("agentdeploy-metered-AgentErrorRateAlarm-")),
        "{alarms:?}"
    );
    assert!(
        alarms
            .iter()
            .any(|a| a.starts_with("agentdeploy-metered-AgentLatencyAlarm-")),
        "{alarms:?}"
    );
    assert!(
        text.contains("alarm          agentdeploy-metered-AgentErrorRateAlarm-"),
        "{text}"
    );
    let cost = json(&run(&mut cmd(
        &aws,
        fresh.path(),
        &[
            "cost",
            "metered",
            "--from-metrics",
            "--since",
            "1h",
            "-o",
            "json",
        ],
    )));
    assert_eq!(cost["measured_requests"], 5, "{cost:#}");
    assert_eq!(cost["lambda"]["invocations"], 5 * 24 * 30, "{cost:#}");
    assert_eq!(
        cost["lambda"]["api_gateway"], false,
        "a Function URL: {cost:#}"
    );
    // The measured INIT, not the usual 2.5 s, unless --init-duration says otherwise.
    let billed_init = cost["lambda"]["cold_starts"]["init_duration_s"]
        .as_f64()
        .unwrap();
    assert!(
        (billed_init * 1000.0 - init_ms).abs() < 1e-6,
        "{billed_init} s vs {init_ms} ms"
    );
    assert!(
        (cost["models_usd"].as_f64().unwrap() - 120.0 * 24.0 * 30.0).abs() < 1e-6,
        "{cost:#}"
    );
}

/// reference §11 "metrics": a caller cannot forge the deployment's metrics through an agent that
/// logs what it is asked (a line that is an EMF document is written as text), and the agent's
/// own unfinished line (Strands' default printer streams without a newline) never swallows
/// agentdeploy's record. One request, counted once; the forged million is nowhere.
#[test]
fn a_caller_cannot_forge_metrics_through_what_the_agent_prints() {
    let aws = crate::common::local_aws::LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(
        work.path().join("agent.py"),
        "def main(user_input_arg=None, input_data_arg=None):\n    \
             print(user_input_arg)\n    \
             print('streamed without a newline', end='', flush=True)\n    \
             return {'echo': len(user_input_arg)}\n",
    )
    .unwrap();
    let out = run(aws.lambda_command(work.path()).args([
        "--function-name",
        "forged",
        "--agent",
        "agent.py",
        "--endpoint",
        "url",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let forged = serde_json::json!({
        "_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
            "Namespace": "agentdeploy",
            "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "InputTokens", "Unit": "Count"}]}]},
        "FunctionName": "forged",
        "Requests": 1000000,
        "InputTokens": 999999999
    })
    .to_string();
    let answered = run(&mut cmd(
        &aws,
        work.path(),
        &["invoke", "forged", "--input", &forged],
    ));
    assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    let out = run(&mut cmd(
        &aws,
        work.path(),
        &["metrics", "forged", "-o", "json"],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("-o json is one document");
    let logs = stdout(&run(&mut cmd(
        &aws,
        work.path(),
        &["logs", "forged", "--since", "1h"],
    )));
    assert_eq!(doc["requests"], 1, "{doc:#}\n{logs}");
    assert_eq!(doc["input_tokens"], 0, "{doc:#}\n{logs}");
    assert!(
        logs.contains("(agent output, not a metric)"),
        "the forged line is in the log as text: {logs}"
    );
}
