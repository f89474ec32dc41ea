//! A config file with several agents: each deploys as its own stack, concurrently, sharing one
//! dependency resolution; one failing agent does not stop the others; the exit code is the worst.

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use serde_json::Value;

const SIX_AGENT: &str = "import six\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return {\"name\": NAME, \"six\": six.__version__, \"echo\": user_input_arg}\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    for name in ["alpha", "beta"] {
        std::fs::write(
            p.join(format!("{name}.py")),
            format!("NAME = {name:?}\n{SIX_AGENT}"),
        )
        .unwrap();
    }
    std::fs::write(p.join("broken.py"), "def main(:\n    pass\n").unwrap();
    std::fs::write(
        p.join("agentdeploy.toml"),
        format!(
            r#"[defaults]
s3_bucket = "{}"
endpoint = "none"
timeout = 30

[agents.alpha]
agent = "alpha.py"

[agents.beta]
agent = "beta.py"
memory = 256

[agents.a-broken]
agent = "broken.py"
"#,
            local_aws::BUCKET
        ),
    )
    .unwrap();
    dir
}

fn by_name<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["function_name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {doc:#}"))
}

#[test]
fn a_fleet_deploys_concurrently_shares_resolution_and_reports_the_worst_exit_code() {
    let aws = LocalAws::start();
    let project = project();
    let mut cmd = agentdeploy(project.path());
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path())
        .args(["lambda", "-o", "json", "--jobs", "3"]);
    let out = run(&mut cmd);
    let doc = json(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the worst member (a syntax error) decides: {doc:#}"
    );
    assert_eq!(doc["deployments"].as_array().unwrap().len(), 3);
    let broken = by_name(&doc, "a-broken");
    assert_eq!(broken["status"], "failed");
    assert_eq!(broken["error"]["kind"], "agent");
    for name in ["alpha", "beta"] {
        let d = by_name(&doc, name);
        assert_eq!(d["status"], "deployed", "{d:#}");
        assert_eq!(d["stack_name"], format!("agentdeploy-{name}"));
    }
    assert_eq!(by_name(&doc, "beta")["memory"], 256);
    // The same dependency set ([six]) was resolved once for both agents.
    let cached: Vec<bool> = ["alpha", "beta"]
        .iter()
        .map(|n| {
            by_name(&doc, n)["build"]["dependencies_cached"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(
        cached.iter().filter(|c| !**c).count(),
        1,
        "exactly one resolution ran: {cached:?}"
    );
    // ...and built once: the other agent zipped its code onto the same built dependencies.
    let built: Vec<bool> = ["alpha", "beta"]
        .iter()
        .map(|n| by_name(&doc, n)["build"]["cached"].as_bool().unwrap())
        .collect();
    assert_eq!(
        built.iter().filter(|c| !**c).count(),
        1,
        "exactly one sam build ran: {built:?}"
    );
    // Progress: plain lines prefixed by agent.
    let err = stderr(&out);
    assert!(
        err.contains("[alpha] deploying") && err.contains("[beta] deploying"),
        "{err}"
    );

    let mut invoke = agentdeploy(project.path());
    aws.configure(&mut invoke);
    let answer = json(&run(
        invoke.args(["invoke", "beta", "--input", "hi", "-o", "json"])
    ));
    assert_eq!(answer["output"]["name"], "beta");

    // --only deploys a subset; --fail-fast with one job skips the rest after a failure.
    let mut only = agentdeploy(project.path());
    aws.configure(&mut only);
    only.env("PATH", local_aws::deploy_path())
        .args(["lambda", "-o", "json", "--only", "alpha"]);
    let only = json(&run(&mut only));
    assert_eq!(only["status"], "unchanged", "{only:#}");
    let mut fail_fast = agentdeploy(project.path());
    aws.configure(&mut fail_fast);
    fail_fast.env("PATH", local_aws::deploy_path()).args([
        "lambda",
        "-o",
        "json",
        "--jobs",
        "1",
        "--fail-fast",
    ]);
    let out = run(&mut fail_fast);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        by_name(&doc, "alpha")["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--fail-fast"),
        "{doc:#}"
    );
}
