//! Preview environments (reference §13) on the local AWS: `--ttl` tags the stack, `list
//! --expired` shows the previews past it, `destroy --expired` deletes those and nothing else.

use serde_json::Value;

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;

fn command(aws: &LocalAws, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut cmd = agentdeploy(dir);
    aws.configure(&mut cmd);
    run(cmd.env("PATH", local_aws::deploy_path()).args(args))
}

fn stacks(found: &Value, key: &str) -> Vec<String> {
    found[key]
        .as_array()
        .unwrap_or_else(|| panic!("{found:#}"))
        .iter()
        .map(|d| d["stack_name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn previews_past_their_ttl_are_listed_and_destroyed_and_the_others_kept() {
    let aws = LocalAws::start();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::copy(fixture("seed_agent.py"), dir.join("agent.py")).unwrap();
    // Each preview its own function (a name per pull request); the second through an
    // environment no config declares, as a workflow may pass it.
    for (name, ttl, env) in [
        ("agent-pr-1", "1s", None),
        ("agent-pr-2", "365d", Some("pr-2")),
    ] {
        let mut deploy = aws.lambda_command(dir);
        deploy.args(["--function-name", name, "--agent", "agent.py", "--ttl", ttl]);
        if let Some(env) = env {
            deploy.args(["--env", env]);
        }
        let out = run(&mut deploy);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
    }
    // agent-pr-1 last changed before agent-pr-2's whole deploy ran: its second is long over.
    let listed = command(&aws, dir, &["list", "--expired", "-o", "json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let doc = json(&listed);
    assert_eq!(
        stacks(&doc, "expired"),
        ["agentdeploy-agent-pr-1"],
        "{doc:#}"
    );
    assert_eq!(doc["expired"][0]["ttl"], "1s", "{doc:#}");
    assert!(doc["expired"][0]["expires_at"].is_string(), "{doc:#}");

    // Without a terminal to ask, nothing is deleted without --yes.
    let refused = command(&aws, dir, &["destroy", "--expired"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));

    let destroyed = command(&aws, dir, &["destroy", "--expired", "--yes", "-o", "json"]);
    assert_eq!(destroyed.status.code(), Some(0), "{}", stderr(&destroyed));
    let doc = json(&destroyed);
    assert_eq!(
        doc["deleted"],
        serde_json::json!(["agentdeploy-agent-pr-1"]),
        "{doc:#}"
    );
    let remaining = command(&aws, dir, &["list", "--remote", "-o", "json"]);
    let doc = json(&remaining);
    assert_eq!(
        stacks(&doc["in_aws"], "deployments"),
        ["agentdeploy-agent-pr-2-pr-2"],
        "{doc:#}"
    );
    let record = std::fs::read_to_string(dir.join(".agentdeploy/state.json")).unwrap();
    assert!(!record.contains("agentdeploy-agent-pr-1"), "{record}");
    assert!(record.contains("agentdeploy-agent-pr-2-pr-2"), "{record}");
}
