//! The build-time import runs the agent's own code (often generated, so treated as hostile) on
//! the deployer's machine or CI runner: these deploys prove, on this machine, what the sandbox
//! withholds (`src/sandbox.rs`), what happens where a machine cannot isolate, and which failed
//! imports stop the deploy.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Command;

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use serde_json::Value;

fn deploy(aws: &LocalAws, work: &Path, name: &str, extra: &[&str]) -> Command {
    let mut cmd = aws.lambda_command(work);
    cmd.args([
        "--function-name",
        name,
        "--agent",
        "agent.py",
        "--endpoint",
        "none",
    ])
    .arg("--out-dir")
    .arg(work.join("out"))
    .args(extra);
    cmd
}

fn warnings(doc: &Value) -> Vec<String> {
    doc["warnings"]
        .as_array()
        .map(|w| {
            w.iter()
                .filter_map(|w| w.as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The agent in `fixtures/hostile/escapes_at_import.py` tries everything at import; its report
/// (raised, so the deploy goes on) and this machine afterwards show it reached nothing.
#[test]
fn the_agents_code_at_build_time_reaches_no_secret_no_network_no_file_and_leaves_nothing_running() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let nonce = format!(
        "{}-{}",
        std::process::id(),
        work.path().display().to_string().len()
    );
    std::fs::copy(
        fixture("hostile/escapes_at_import.py"),
        work.path().join("agent.py"),
    )
    .unwrap();
    let project_file = work.path().join("keep.txt");
    std::fs::write(&project_file, "the deployer's notes").unwrap();
    let victim = outside.path().join("victim.txt");
    std::fs::write(&victim, "a file of the deployer's").unwrap();
    let outside_new = outside.path().join("planted/new.txt");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let canary = format!("canary-{nonce}-in-the-deployers-environment");
    let secret = format!("tok-{nonce}-secret-value");
    let marker = format!("agentdeploy-test-daemon-{nonce}");

    let mut cmd = deploy(
        &aws,
        work.path(),
        "sandboxed",
        &["--secret", "SANDBOX_TOKEN"],
    );
    for (name, value) in [
        ("PROBE_PORT", port.to_string()),
        ("VICTIM", victim.display().to_string()),
        ("PROJECT_FILE", project_file.display().to_string()),
        ("OUTSIDE_NEW", outside_new.display().to_string()),
        ("DAEMON_MARKER", marker.clone()),
    ] {
        cmd.arg("--env-var").arg(format!("{name}={value}"));
    }
    cmd.env("AGENTDEPLOY_TEST_CANARY", &canary)
        .env("SANDBOX_TOKEN", &secret);
    let out = run(&mut cmd);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["build"]["bytecode"]["isolation"], "sandbox", "{doc:#}");

    // The agent's report.
    let warning = warnings(&doc)
        .into_iter()
        .find(|w| w.contains("probe-findings:"))
        .unwrap_or_else(|| panic!("the import's report: {doc:#}"));
    let hex = warning
        .split("probe-findings:")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_hexdigit())
        .next()
        .unwrap();
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let findings: Value = serde_json::from_slice(&bytes).unwrap();
    if std::env::var_os("SHOW_FINDINGS").is_some() {
        eprintln!("{findings:#}");
    }
    let report = findings.to_string();
    // Nothing of the deployer's environment: not its variables, the secret's value or the keys.
    for leaked in [canary.as_str(), secret.as_str(), "testing-secret-key"] {
        assert!(
            !report.contains(leaked),
            "the import read {leaked}: {findings:#}"
        );
    }
    assert_eq!(
        findings["own_environ"]["SANDBOX_TOKEN"], "agentdeploy-build-time-placeholder",
        "{findings:#}"
    );
    assert!(
        findings["own_environ"].get("AWS_ACCESS_KEY_ID").is_none(),
        "{findings:#}"
    );
    // No process of the deployer's is visible: only the sandbox's own (PID 1 is the import).
    let processes = findings["processes"].as_object().unwrap();
    assert!(processes.contains_key("1"), "{findings:#}");
    for (pid, cmdline) in processes {
        let cmdline = cmdline.as_str().unwrap();
        assert!(
            !cmdline.contains("agentdeploy lambda")
                && !cmdline.contains(" sam ")
                && !cmdline.contains("local_aws"),
            "pid {pid} of the deployer's is visible: {cmdline}"
        );
    }
    assert_eq!(
        findings["ppid"], 0,
        "the parent is outside the sandbox: {findings:#}"
    );
    // No network: directly, past the probe's socket block, and from a subprocess.
    assert!(
        findings["socket"]
            .as_str()
            .unwrap()
            .contains("Network is unreachable"),
        "{findings:#}"
    );
    assert!(
        findings["subprocess_socket"]
            .as_str()
            .unwrap()
            .contains("Network is unreachable"),
        "{findings:#}"
    );
    if let Some(curl) = findings["curl"].as_str() {
        assert!(curl.starts_with("exit 7"), "{curl}");
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == ErrorKind::WouldBlock),
        "the import reached the test's listener"
    );
    // The deployer's files: not there to read, delete or write; the artifact read-only.
    let files = &findings["files"];
    for name in [
        "/etc/shadow",
        &victim.display().to_string(),
        &project_file.display().to_string(),
    ] {
        let said = files[name].as_str().unwrap();
        assert!(said.starts_with("error"), "{name}: {said}");
    }
    assert!(
        files["rm /var/task/handler.py"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );
    assert!(
        files["write /var/task/planted.py"]
            .as_str()
            .unwrap()
            .starts_with("error")
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "a file of the deployer's"
    );
    assert_eq!(
        std::fs::read_to_string(&project_file).unwrap(),
        "the deployer's notes"
    );
    assert!(
        !outside_new.exists(),
        "the import wrote outside the sandbox"
    );
    // What it planted among the pycs did not reach the artifact.
    let shipped = local_aws::artifact_files(&work.path().join("out"));
    assert!(
        !shipped.iter().any(|f| f.contains("planted")),
        "{shipped:?}"
    );
    // No capabilities, not the deployer's user id.
    assert_eq!(findings["capabilities"], "0000000000000000", "{findings:#}");
    assert_eq!(findings["uid"], 1000, "{findings:#}");
    // The daemons (one in a new session, one double-forked) ran, and died with the sandbox.
    assert_eq!(findings["daemons_running"], 2, "{findings:#}");
    assert_eq!(
        processes_with(&marker),
        Vec::<String>::new(),
        "daemons outlived the build"
    );
}

/// Where the kernel will not give a user namespace (as on distributions that turn them off),
/// nothing of the agent's runs: the plan says so and why, and the deploy compiles the agent's
/// packages without running it. `--no-import-probe` asks for the same.
#[test]
fn without_isolation_the_agents_code_never_runs_and_the_plan_and_report_say_so() {
    let work = tempfile::tempdir().unwrap();
    let ran = work.path().join("ran.txt");
    std::fs::write(
        work.path().join("agent.py"),
        format!(
            "import json\nopen({:?}, 'w').write('the import ran')\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return json.dumps(user_input_arg)\n",
            ran.display().to_string()
        ),
    )
    .unwrap();
    // A user namespace whose own limit allows no further one: unshare(CLONE_NEWUSER) fails.
    let restricted = |args: &[&str]| {
        let mut cmd = Command::new("unshare");
        cmd.args(["--user", "--map-root-user", "--", "sh", "-c"])
            .arg("echo 0 > /proc/sys/user/max_user_namespaces && exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_agentdeploy"))
            .args(args)
            .current_dir(work.path());
        cmd
    };
    let plan_args = [
        "lambda",
        "--function-name",
        "unisolated",
        "--agent",
        "agent.py",
        "--dry-run",
        "-o",
        "json",
    ];
    let out = run(restricted(&plan_args).env("PATH", local_aws::deploy_path()));
    let plan = json(&out);
    assert_eq!(out.status.code(), Some(0), "{plan:#}\n{}", stderr(&out));
    let build_import = &plan["plan"]["build_import"];
    assert_eq!(build_import["runs"], false, "{plan:#}");
    assert!(
        build_import["why"]
            .as_str()
            .unwrap()
            .contains("this machine cannot isolate it"),
        "{build_import}"
    );
    // And unrestricted, the plan says the import is sandboxed and what that withholds.
    let mut cmd = agentdeploy(work.path());
    cmd.env("PATH", local_aws::deploy_path()).args(plan_args);
    let plan = json(&run(&mut cmd));
    assert_eq!(plan["plan"]["build_import"]["runs"], true, "{plan:#}");
    assert!(
        plan["plan"]["build_import"]["isolation"]
            .as_str()
            .unwrap()
            .contains("no network")
    );

    // The deploy, restricted: compiled without running the agent's code, and said.
    let aws = LocalAws::start();
    let mut cmd = restricted(&[
        "lambda",
        "-o",
        "json",
        "--s3-bucket",
        local_aws::BUCKET,
        "--function-name",
        "unisolated",
        "--agent",
        "agent.py",
        "--endpoint",
        "none",
    ]);
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path());
    let out = run(&mut cmd);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    let bytecode = &doc["build"]["bytecode"];
    assert_eq!(bytecode["method"], "reachable", "{doc:#}");
    assert!(
        bytecode["isolation"]
            .as_str()
            .unwrap()
            .starts_with("not run: this machine cannot isolate it"),
        "{bytecode}"
    );
    assert!(
        warnings(&doc)
            .iter()
            .any(|w| w.contains("the agent's import was not run at build time")),
        "{doc:#}"
    );
    assert!(!ran.exists(), "the agent's code ran without a sandbox");

    // --no-import-probe: the same, asked for, without a warning (a project of its own: the first
    // deploy's dependency build, with its bytecode, would be reused).
    let again = tempfile::tempdir().unwrap();
    std::fs::copy(work.path().join("agent.py"), again.path().join("agent.py")).unwrap();
    let out = run(&mut deploy(
        &aws,
        again.path(),
        "unprobed",
        &["--no-import-probe"],
    ));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(
        doc["build"]["bytecode"]["isolation"], "not run: --no-import-probe",
        "{doc:#}"
    );
    assert!(
        !warnings(&doc).iter().any(|w| w.contains("import")),
        "{doc:#}"
    );
    assert!(!ran.exists(), "the agent's code ran with --no-import-probe");
}

/// A failure that depends only on the files Lambda gets fails every cold start too: the deploy
/// stops (exit 4) naming the file and line, and nothing is deployed.
#[test]
fn an_import_that_fails_as_every_cold_start_would_stops_the_deploy_with_its_line() {
    let aws = LocalAws::start();
    for (name, source, place, error) in [
        (
            "nameerror",
            "import os\n\nLIMIT = int(os.environ.get('LIMIT', '3'))\nTIMEOUT = LIMT * 10\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n",
            "agent.py:4",
            "NameError: name 'LIMT' is not defined",
        ),
        (
            "missingmodule",
            "import importlib\n\nplugin = importlib.import_module('agent_plugins_not_shipped')\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return user_input_arg\n",
            "agent.py:3",
            "ModuleNotFoundError: No module named 'agent_plugins_not_shipped'",
        ),
        (
            "asksforinput",
            "name = input('Your name: ')\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return f'{name}: {user_input_arg}'\n",
            "agent.py:1",
            "EOFError: EOF when reading a line",
        ),
        (
            "missingname",
            "from helpers import make_tools\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return make_tools()\n",
            "agent.py:1",
            "ImportError: cannot import name 'make_tools' from 'helpers'",
        ),
    ] {
        let work = tempfile::tempdir().unwrap();
        std::fs::write(work.path().join("agent.py"), source).unwrap();
        std::fs::write(
            work.path().join("helpers.py"),
            "def make_tool():\n    return []\n",
        )
        .unwrap();
        let out = run(&mut deploy(&aws, work.path(), name, &[]));
        let doc = json(&out);
        assert_eq!(out.status.code(), Some(4), "{name}: {doc:#}");
        let message = doc["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("importing the agent fails at {place}: {error}")),
            "{name}: {message}"
        );
        let mut status = agentdeploy(work.path());
        aws.configure(&mut status);
        let status = run(status.args(["status", name, "-o", "json"]));
        assert_eq!(
            json(&status)["stack_status"],
            Value::Null,
            "{name} was deployed"
        );
    }
}

/// A code-only change deploys on the dependencies already built (no pip, no `sam build`), and
/// its code is still imported at build time as a cold start would: a name left undefined at
/// module level stops the deploy naming its line, as on a first deploy; a good change reports
/// the import it really ran.
#[test]
fn a_code_only_change_on_cached_dependencies_is_imported_before_it_ships() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let good = "import six\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return six.text_type(user_input_arg)\n";
    std::fs::write(work.path().join("agent.py"), good).unwrap();
    let out = run(&mut deploy(&aws, work.path(), "codeonly", &[]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    std::fs::write(
        work.path().join("agent.py"),
        format!("{good}\nRETRIES = RETRY_LIMIT * 2\n"),
    )
    .unwrap();
    let out = run(&mut deploy(&aws, work.path(), "codeonly", &[]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(4), "{doc:#}");
    let message = doc["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("importing the agent fails at agent.py:7: NameError"),
        "{message}"
    );

    std::fs::write(
        work.path().join("agent.py"),
        format!("{good}\nRELEASE = 2\n"),
    )
    .unwrap();
    let out = run(&mut deploy(&aws, work.path(), "codeonly", &[]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["build"]["cached"], true, "{doc:#}");
    assert_eq!(
        doc["time_ms"]["pip"].as_u64().map(|_| ()),
        Some(()),
        "{doc:#}"
    );
    assert_eq!(doc["build"]["bytecode"]["isolation"], "sandbox", "{doc:#}");
    // The reused dependencies' bytecode is theirs, shipped once: the import found it already
    // compiled (unchecked-hash, of the same source) and copied it rather than compiling again.
    let zip_path = work.path().join("out/.aws-sam/build/AgentFunction.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("an entry name").to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = names.iter().collect();
    assert_eq!(unique.len(), names.len(), "an entry twice: {names:?}");
    let mut pyc = archive.by_name("__pycache__/six.cpython-313.pyc").unwrap();
    let mut header = [0u8; 8];
    std::io::Read::read_exact(&mut pyc, &mut header).unwrap();
    assert_eq!(header[4], 0b01, "unchecked-hash, as built");
}
