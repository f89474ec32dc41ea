//! The seam between the commands and a target, proven with a second one: the test-only folder
//! target (`src/folder/`, a stand-in we wrote, named as such) deploys, versions, shows status,
//! rolls back and destroys through the very commands that drive Lambda, chosen per agent in the
//! config file. The local AWS answers the lifecycle's account check.

use std::path::Path;

use crate::common::local_aws::LocalAws;
use crate::common::*;

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agent.py"), "ANSWER = 'first'\n").unwrap();
    std::fs::write(
        dir.path().join("agentdeploy.toml"),
        "[agents.alpha]\ntarget = \"folder\"\nagent = \"agent.py\"\n",
    )
    .unwrap();
    dir
}

fn cmd(aws: &LocalAws, cwd: &Path, root: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = agentdeploy(cwd);
    aws.configure(&mut cmd);
    cmd.env("AGENTDEPLOY_FOLDER_TARGET", root).args(args);
    cmd
}

fn deployed(root: &Path, version: &str) -> String {
    std::fs::read_to_string(root.join(format!("folder-alpha/v{version}/agent.py"))).unwrap()
}

#[test]
fn a_second_target_deploys_shows_status_rolls_back_and_destroys_through_the_same_commands() {
    let aws = LocalAws::start();
    let dir = project();
    let root = tempfile::tempdir().unwrap();
    let run_ok = |args: &[&str]| {
        let out = run(&mut cmd(&aws, dir.path(), root.path(), args));
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        json(&out)
    };

    let first = run_ok(&["lambda", "-o", "json"]);
    assert_eq!(first["status"], "deployed", "{first}");
    assert_eq!(first["endpoint_kind"], "none");
    assert_eq!(deployed(root.path(), "1"), "ANSWER = 'first'\n");

    std::fs::write(dir.path().join("agent.py"), "ANSWER = 'second'\n").unwrap();
    let second = run_ok(&["lambda", "-o", "json"]);
    assert_eq!(second["status"], "deployed", "{second}");
    assert_eq!(deployed(root.path(), "2"), "ANSWER = 'second'\n");
    // Nothing changed: the lifecycle's unchanged check, fed by the folder's own record.
    let third = run_ok(&["lambda", "-o", "json"]);
    assert_eq!(third["status"], "unchanged", "{third}");
    assert!(!root.path().join("folder-alpha/v3").exists());

    let status = run_ok(&["status", "alpha", "-o", "json"]);
    assert_eq!(status["stack_status"], "IN_FOLDER", "{status}");
    assert_eq!(status["function"]["state"], "Copied", "{status}");
    let versions: Vec<&str> = status["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["2", "1"], "newest first: {status}");
    assert_eq!(status["versions"][0]["live"], true, "{status}");

    run_ok(&["rollback", "alpha", "--to", "1", "--yes", "-o", "json"]);
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.path().join("folder-alpha/deployment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["live"], "1", "{manifest}");
    let answer = run_ok(&["invoke", "alpha", "--input", "hi", "-o", "json"]);
    assert!(answer.to_string().contains("\"version\":\"1\""), "{answer}");

    run_ok(&["destroy", "alpha", "--yes", "-o", "json"]);
    assert!(!root.path().join("folder-alpha").exists());
    let gone = run(&mut cmd(
        &aws,
        dir.path(),
        root.path(),
        &["status", "alpha"],
    ));
    assert_eq!(gone.status.code(), Some(2), "{}", stderr(&gone));
}

#[test]
fn the_test_target_is_refused_unless_its_folder_is_named_and_an_unknown_target_always() {
    let dir = project();
    // No folder named: the config's `target` is refused before anything is read or written.
    let out = run(agentdeploy(dir.path()).args(["lambda", "--dry-run"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("target"), "{err}");
    assert!(err.contains("AGENTDEPLOY_FOLDER_TARGET"), "{err}");
    assert!(!dir.path().join(".agentdeploy").exists());

    let out = run(agentdeploy(dir.path()).args(["lambda", "--dry-run", "--target", "gcp"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("--target") && err.contains("`gcp` is not a target"),
        "{err}"
    );
}

#[test]
fn doctor_and_cost_ask_the_agents_own_target() {
    let dir = project();
    let root = tempfile::tempdir().unwrap();
    let out = run(agentdeploy(dir.path())
        .env("AGENTDEPLOY_FOLDER_TARGET", root.path())
        .args(["cost", "alpha", "-o", "json"]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&out)["total_usd"], 0.0);

    let out = run(agentdeploy(dir.path())
        .env("AGENTDEPLOY_FOLDER_TARGET", root.path())
        .args(["doctor", "--function-name", "alpha", "-o", "json"]));
    let doc = json(&out);
    assert_eq!(doc["runtime"], "folder", "{doc}");
    assert_eq!(doc["checks"][0]["name"], "folder", "{doc}");
    assert_eq!(doc["checks"][0]["status"], "pass", "{doc}");
    // Lambda's tools are not the folder's business.
    assert!(!doc.to_string().contains("\"sam\""), "{doc}");
}
