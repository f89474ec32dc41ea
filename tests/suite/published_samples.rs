//! The shapes of the public Strands and AgentCore samples (reduced copies in fixtures/samples/),
//! each planned as a new user would: it gets the entry its author meant, or is refused with a
//! hint that names what to deploy instead. docs/samples.md is this table, kept true here.

use serde_json::Value;

use crate::common::*;
use crate::dry_run::dry_run;

enum Expected {
    /// Deployed with this entry (kind, name).
    Entry(&'static str, &'static str),
    /// Refused (exit 2): the message and the hint contain these.
    Refused(&'static str, &'static str),
}

/// (fixture, the shape the samples use, what agentdeploy must make of it).
const SAMPLES: &[(&str, &str, Expected)] = &[
    (
        "main_style.py",
        "a builder-style `main(user_input_arg, input_data_arg)` around a module-level Agent",
        Expected::Entry("main", "main"),
    ),
    (
        "agent_in_try.py",
        "the Agent built inside `try:` / `except ImportError:`",
        Expected::Entry("agent", "agent"),
    ),
    (
        "argparse_cli.py",
        "a command-line `main()` that reads its question with argparse",
        Expected::Refused("command-line program (argparse)", "--entry agent"),
    ),
    (
        "click_cli.py",
        "a `@click.command` main",
        Expected::Refused(
            "command-line program (a click command)",
            "--entry assistant",
        ),
    ),
    (
        "demo_main.py",
        "a demo `main()` that asks its own questions",
        Expected::Refused("takes no parameters", "--entry agent"),
    ),
    (
        "orchestrator.py",
        "several Agents and the function that calls them",
        Expected::Refused("several module-level Agents", "--entry run_team"),
    ),
    (
        "tool_module.py",
        "a tool module (`@tool` functions only)",
        Expected::Refused("nothing to call", "--entry weather"),
    ),
    (
        "adk_agent.py",
        "Google ADK's `Agent` (not Strands')",
        Expected::Refused(
            "nothing to call",
            "is an `Agent` of `google.adk.agents`, not Strands'",
        ),
    ),
    (
        "agentcore_entrypoint.py",
        "a `BedrockAgentCoreApp` with `@app.entrypoint` and `app.run()`",
        Expected::Entry("entrypoint", "invoke"),
    ),
    (
        "a2a_server.py",
        "an `A2AServer(agent)` with `serve()` at import",
        Expected::Entry("a2a", "server"),
    ),
    (
        "whatsapp",
        "a folder whose `tools/` has no `__init__.py`",
        Expected::Entry("agent", "agent"),
    ),
];

/// What planning one sample gave: (exit code, the plan document or the error).
fn planned(sample: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture(&format!("samples/{sample}")), dir.path(), &[]);
    (out.status.code().unwrap_or(-1), json(&out))
}

fn outcome(code: i32, doc: &Value) -> String {
    if code == 0 {
        let entry = &doc["plan"]["entry"];
        let requirements: Vec<&str> = doc["plan"]["requirements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        format!(
            "`{}` entry `{}`; requirements `{}`",
            entry["kind"].as_str().unwrap_or_default(),
            entry["name"].as_str().unwrap_or_default(),
            requirements.join(" ")
        )
    } else {
        let hint = doc["error"]["hint"].as_str().unwrap_or_default();
        format!("refused (exit {code}); hint: {hint}")
    }
}

fn page(rows: &[(String, String, String)]) -> String {
    let cell = |text: &str| text.replace('|', "\\|");
    let mut page = String::from(
        "# The published samples' shapes\n\n\
Each row is a reduced copy (in `fixtures/samples/`) of a shape found in the public Strands and\n\
AgentCore samples, planned as a new user would plan it (`agentdeploy lambda --dry-run`): it gets\n\
the entry its author meant, or is refused with a hint that names what to deploy instead.\n\
`tests/suite/published_samples.rs` makes this page from what planning gives and fails when the\n\
two differ; `AGENTDEPLOY_BLESS=1 cargo test the_samples_page` rewrites it.\n\n\
| sample | shape | what agentdeploy makes of it |\n|---|---|---|\n",
    );
    for (sample, shape, outcome) in rows {
        page.push_str(&format!(
            "| `{}` | {} | {} |\n",
            cell(sample),
            cell(shape),
            cell(outcome)
        ));
    }
    page
}

#[test]
fn the_samples_page_is_what_planning_each_sample_gives() {
    let mut rows = Vec::new();
    for (sample, shape, expected) in SAMPLES {
        let (code, doc) = planned(sample);
        match expected {
            Expected::Entry(kind, name) => {
                assert_eq!(code, 0, "{sample}: {doc:#}");
                assert_eq!(doc["plan"]["entry"]["kind"], *kind, "{sample}: {doc:#}");
                assert_eq!(doc["plan"]["entry"]["name"], *name, "{sample}: {doc:#}");
            }
            Expected::Refused(message, hint) => {
                assert_eq!(code, 2, "{sample}: {doc:#}");
                let said = doc["error"]["message"].as_str().unwrap_or_default();
                let hinted = doc["error"]["hint"].as_str().unwrap_or_default();
                assert!(said.contains(message), "{sample}: {said}");
                assert!(hinted.contains(hint), "{sample}: {hinted}");
            }
        }
        rows.push((sample.to_string(), shape.to_string(), outcome(code, &doc)));
    }
    // The namespace package ships and is never a requirement.
    let (_, whatsapp) = planned("whatsapp");
    assert!(
        !whatsapp["plan"]["requirements"]
            .to_string()
            .contains("\"tools"),
        "{whatsapp:#}"
    );

    let path = repo().join("docs/samples.md");
    let expected = page(&rows);
    if std::env::var_os("AGENTDEPLOY_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "docs/samples.md differs from what planning the samples gives: rewrite it with \
         `AGENTDEPLOY_BLESS=1 cargo test the_samples_page`\n{expected}"
    );
}
