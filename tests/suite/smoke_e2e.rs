//! reference §7 on the local AWS: `--smoke` cases run against each newly published version
//! before `live` moves to it; a failing case leaves `live` where it was (callers get the old
//! answers) and exits 6; `agentdeploy test` runs the same cases against `live`, with JSON and
//! JUnit results.

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use crate::lifecycle_e2e::{cmd, edit_agent};
use serde_json::Value;

const CASES: &str = r#"[
  {"name": "echoes the caller", "input": "hi", "expect": {"status": 200, "matches": "\"echo\": ?\"hi\"", "within_s": 60}},
  {"name": "answers an empty input", "input": "", "data": {"secret_name": "NONE"}, "expect": {"status": 200}}
]"#;

#[test]
fn a_failing_smoke_case_keeps_live_on_the_old_version_and_a_passing_set_moves_it() {
    let aws = LocalAws::start();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::copy(fixture("probe_agent.py"), dir.join("agent.py")).unwrap();
    std::fs::write(dir.join("cases.json"), CASES).unwrap();
    let deploy = [
        "lambda",
        "-o",
        "json",
        "--function-name",
        "gate",
        "--agent",
        "agent.py",
        "--s3-bucket",
        local_aws::BUCKET,
        "--smoke",
        "cases.json",
    ];
    let echo = || -> Value {
        let answer = run(&mut cmd(
            &aws,
            dir,
            &["invoke", "gate", "--input", "hi", "-o", "json"],
        ));
        assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));
        json(&answer)["output"]["echo"].clone()
    };

    // The first version passes its cases and is live.
    let first = run(&mut cmd(&aws, dir, &deploy));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(report["status"], "deployed");
    assert_eq!(report["smoke"]["passed"], true, "{report:#}");
    assert_eq!(report["smoke"]["version"], "1");
    assert_eq!(report["smoke"]["cases"].as_array().unwrap().len(), 2);
    assert_eq!(echo(), "hi");

    // A version that answers wrongly is published but never served.
    edit_agent(
        dir,
        "\"echo\": user_input_arg",
        "\"echo\": f\"broken:{user_input_arg}\"",
    );
    let failed = run(&mut cmd(&aws, dir, &deploy));
    assert_eq!(failed.status.code(), Some(6), "{}", stderr(&failed));
    let report = json(&failed);
    assert_eq!(report["status"], "failed");
    assert_eq!(report["smoke"]["version"], "2");
    assert_eq!(report["smoke"]["passed"], false);
    let cases = report["smoke"]["cases"].as_array().unwrap();
    assert_eq!(cases[0]["passed"], false, "{report:#}");
    assert!(
        cases[0]["failures"][0]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{report:#}"
    );
    assert_eq!(cases[1]["passed"], true, "{report:#}");
    let message = report["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1 of 2 smoke cases failed against version 2")
            && message.contains("`live` still serves version 1"),
        "{message}"
    );
    assert_eq!(echo(), "hi", "live answers like the old version");
    let status = json(&run(&mut cmd(&aws, dir, &["status", "gate", "-o", "json"])));
    let live: Vec<&Value> = status["versions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["live"] == true)
        .collect();
    assert_eq!(live.len(), 1, "{status:#}");
    assert_eq!(live[0]["version"], "1", "{status:#}");

    // Not taken as deployed: the same inputs run their cases again rather than say unchanged.
    let again = run(&mut cmd(&aws, dir, &deploy));
    assert_eq!(again.status.code(), Some(6), "{}", stderr(&again));
    assert_eq!(json(&again)["smoke"]["version"], "2");
    assert_eq!(echo(), "hi");

    // `test` runs the cases against live at any time: they pass, JUnit says so.
    let tested = run(&mut cmd(
        &aws,
        dir,
        &[
            "test",
            "gate",
            "--cases",
            "cases.json",
            "--junit",
            "results.xml",
            "-o",
            "json",
        ],
    ));
    assert_eq!(tested.status.code(), Some(0), "{}", stderr(&tested));
    let tested = json(&tested);
    assert_eq!(tested["smoke"]["passed"], true, "{tested:#}");
    assert_eq!(tested["smoke"]["version"], "1 (live)");
    let junit = std::fs::read_to_string(dir.join("results.xml")).unwrap();
    assert!(junit.contains(r#"tests="2" failures="0""#), "{junit}");

    // A fixed version passes and takes the traffic.
    edit_agent(
        dir,
        "\"echo\": f\"broken:{user_input_arg}\"",
        "\"echo\": user_input_arg, \"fixed\": True",
    );
    let fixed = run(&mut cmd(&aws, dir, &deploy));
    assert_eq!(fixed.status.code(), Some(0), "{}", stderr(&fixed));
    let report = json(&fixed);
    assert_eq!(report["smoke"]["passed"], true, "{report:#}");
    assert_eq!(report["smoke"]["version"], "3");
    let answer = json(&run(&mut cmd(
        &aws,
        dir,
        &["invoke", "gate", "--input", "hi", "-o", "json"],
    )));
    assert_eq!(answer["output"]["fixed"], true, "{answer:#}");

    // Cases that do not hold against live: exit 6, each case in the text report and the JUnit.
    std::fs::write(
        dir.join("strict.yaml"),
        "- name: wants a word the agent never says\n  input: hi\n  expect: {contains: \"never said\"}\n",
    )
    .unwrap();
    let strict = run(&mut cmd(
        &aws,
        dir,
        &[
            "test",
            "gate",
            "--cases",
            "strict.yaml",
            "--junit",
            "results.xml",
        ],
    ));
    assert_eq!(strict.status.code(), Some(6), "{}", stderr(&strict));
    let text = stdout(&strict);
    assert!(
        text.contains("0 of 1 passed against version 3 (live)")
            && text.contains("FAIL wants a word the agent never says")
            && text.contains("does not contain \"never said\""),
        "{text}"
    );
    let junit = std::fs::read_to_string(dir.join("results.xml")).unwrap();
    assert!(
        junit.contains(r#"failures="1""#) && junit.contains("<failure"),
        "{junit}"
    );

    // --junit never overwrites a file agentdeploy did not write.
    let refused = run(&mut cmd(
        &aws,
        dir,
        &[
            "test",
            "gate",
            "--cases",
            "strict.yaml",
            "--junit",
            "agent.py",
        ],
    ));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("--junit"), "{}", stderr(&refused));
    assert!(
        std::fs::read_to_string(dir.join("agent.py"))
            .unwrap()
            .contains("def main"),
        "agent.py is untouched"
    );
    // Nor a file that is not text at all (a PNG once became JUnit XML).
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    std::fs::write(dir.join("logo.png"), png).unwrap();
    let refused = run(&mut cmd(
        &aws,
        dir,
        &[
            "test",
            "gate",
            "--cases",
            "strict.yaml",
            "--junit",
            "logo.png",
        ],
    ));
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(std::fs::read(dir.join("logo.png")).unwrap(), png);
}
