//! `agentdeploy lambda` for real against the local AWS: real pip resolution, real `sam build` and
//! `sam deploy`, the real SAM transform, and Lambda Invoke running the uploaded handler.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use serde_json::Value;

fn deploy_cmd(
    aws: &LocalAws,
    cwd: &Path,
    name: &str,
    agent: &Path,
    out: &Path,
    path: &str,
) -> Command {
    let mut cmd = aws.lambda_command(cwd);
    cmd.env("PATH", path)
        .args(["--function-name", name, "--agent"])
        .arg(agent)
        .arg("--out-dir")
        .arg(out);
    cmd
}

fn invoke(aws: &LocalAws, cwd: &Path, name: &str, input: &str, data: &str) -> Output {
    let mut cmd = agentdeploy(cwd);
    aws.configure(&mut cmd);
    cmd.args([
        "invoke", name, "-o", "json", "--input", input, "--data", data,
    ]);
    run(&mut cmd)
}

fn assert_deployed(out: &Output) -> Value {
    let doc = json(out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "deploy failed: {doc:#}\nstderr:\n{}",
        stderr(out)
    );
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    doc
}

fn has_file(files: &[String], needle: &str) -> bool {
    files.iter().any(|f| f.contains(needle))
}

#[test]
fn seed_agent_deploys_natively_on_3_13_answers_and_redeploys_unchanged() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let out = run(&mut deploy_cmd(
        &aws,
        work.path(),
        "seed",
        &fixture("seed_agent.py"),
        &out_dir,
        &local_aws::deploy_path(),
    ));
    let doc = assert_deployed(&out);
    assert_eq!(
        doc["function_arn"],
        format!(
            "arn:aws:lambda:us-east-1:{}:function:seed",
            local_aws::ACCOUNT
        )
    );
    assert_eq!(doc["account"], local_aws::ACCOUNT);
    assert_eq!(doc["region"], "us-east-1");
    assert_eq!(doc["runtime"], "python3.13");
    assert_eq!(doc["build"]["strategy"], "native");
    // A new set with the runtime's interpreter here: the one native `sam build` resolved it (no
    // separate pip resolution), and its pins were kept for the next builds.
    assert_eq!(doc["build"]["resolved_by"], "sam-build", "{doc:#}");
    let cache = std::fs::read_dir(work.path().join(".agentdeploy/cache"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("resolved-"))
        .expect("the resolution is cached");
    let cached = std::fs::read_to_string(cache.path()).unwrap();
    assert!(cached.contains(" by sam build from: "), "{cached}");
    assert!(cached.contains("\nstrands-agents=="), "{cached}");
    let endpoint = doc["endpoint"].as_str().unwrap();
    assert!(
        endpoint.starts_with("https://")
            && endpoint.ends_with(".execute-api.us-east-1.amazonaws.com/prod/invoke"),
        "{endpoint}"
    );
    assert!(
        doc["access"]["api_key_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{doc:#}"
    );
    // The pinned resolution went into the plan and the built project.
    let pins = pinned_requirements(&doc);
    assert!(
        pins.iter().any(|p| p.starts_with("strands-agents==")),
        "{pins:?}"
    );
    assert!(
        pins.iter().any(|p| p.starts_with("pydantic-core==")),
        "{pins:?}"
    );
    let built_requirements =
        std::fs::read_to_string(out_dir.join(".aws-sam/build/AgentFunction/requirements.txt"))
            .unwrap();
    assert!(built_requirements.contains(pins[0]), "{built_requirements}");
    // A native build for 3.13: the compiled wheels are cpython-313 ones.
    let files = local_aws::artifact_files(&out_dir);
    assert!(
        has_file(&files, "cpython-313-x86_64-linux-gnu.so"),
        "no cp313 extension in the artifact"
    );
    let bytes = doc["build"]["artifact_bytes"].as_u64().unwrap();
    assert!(bytes > 50_000_000 && bytes < 250 * 1024 * 1024, "{bytes}");
    // stdout is exactly one JSON document; progress went to stderr.
    assert!(stderr(&out).contains("[seed] deploying"));

    // Invoke runs the real handler with the real vendored strands under Python 3.13.
    let answer = invoke(
        &aws,
        work.path(),
        "seed",
        "What is 6 * 7?",
        r#"{"offline": true}"#,
    );
    assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));
    let answer = json(&answer);
    assert_eq!(answer["output"]["answer"], "You asked: What is 6 * 7?");
    assert_eq!(answer["output"]["words"], 5);

    // A function error exits 1 with its message.
    let failing = invoke(&aws, work.path(), "seed", "x", r#"{"fail": true}"#);
    assert_eq!(failing.status.code(), Some(1));
    assert!(
        stderr(&failing).contains("the agent was asked to fail"),
        "{}",
        stderr(&failing)
    );

    // Deploying the same input again: exit 0, same outputs.
    let again = run(&mut deploy_cmd(
        &aws,
        work.path(),
        "seed",
        &fixture("seed_agent.py"),
        &out_dir,
        &local_aws::deploy_path(),
    ));
    let second = json(&again);
    assert_eq!(again.status.code(), Some(0), "{second:#}");
    assert!(
        matches!(second["status"].as_str(), Some("unchanged" | "deployed")),
        "{second:#}"
    );
    assert_eq!(second["function_arn"], doc["function_arn"]);
    assert_eq!(second["endpoint"], doc["endpoint"]);
    assert_eq!(
        second["build"]["cached"], true,
        "the resolved set is reused"
    );
    assert_cold_start_targets(&out_dir);
}

/// reference §5 "Cold start", measured the way Lambda runs the zip (unpacked read-only, a fresh
/// Python 3.13 per import, no bytecode written), checked by what compiled and by ratio, never by
/// absolute time: as shipped, a cold start compiles none of the dependencies (only the agent's
/// own files, which the dependency zip must not carry: they change without a rebuild), which is
/// what "as shipped ≤ 1.25x fully compiled" needs, without timing noise; against the same zip
/// stripped of bytecode it takes at most half the CPU (measured 0.22–0.26x); unpacked it fits
/// Lambda's 250 MiB.
fn assert_cold_start_targets(out_dir: &Path) {
    let work = tempfile::tempdir().unwrap();
    let measured = Command::new("python3")
        .arg(repo().join("tests/python/import_cost.py"))
        .arg(out_dir.join(".aws-sam/build/AgentFunction.zip"))
        .arg(work.path())
        .arg("--python")
        .arg(python313())
        .args(["--repeats", "3"])
        .output()
        .unwrap();
    assert!(measured.status.success(), "{}", stderr(&measured));
    let cost: Value = serde_json::from_slice(&measured.stdout).unwrap();
    let (shipped, stripped) = (&cost["shipped"], &cost["stripped"]);
    let own_code: Vec<String> = files_below(&out_dir.join("src"))
        .iter()
        .map(|f| {
            f.strip_prefix(out_dir.join("src"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    let from_source: Vec<&str> = shipped["from_source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        from_source.iter().all(|p| own_code.iter().any(|c| c == p)),
        "a cold start compiled dependencies from source: {from_source:?}"
    );
    assert!(from_source.contains(&"handler.py"), "{from_source:?}");
    let loaded = shipped["loaded"].as_u64().unwrap();
    assert!(loaded > 500, "{cost}");
    assert!(
        stripped["from_source"].as_array().unwrap().len() as u64 >= loaded - 5,
        "without bytecode every module compiles: {cost}"
    );
    let ratio = shipped["cpu"].as_f64().unwrap() / stripped["cpu"].as_f64().unwrap();
    assert!(
        ratio <= 0.5,
        "shipped / stripped CPU = {ratio:.2} (target <= 0.5): {cost}"
    );
    let bytes = shipped["bytes"].as_u64().unwrap();
    assert!(bytes <= 250 * 1024 * 1024, "unzipped {bytes} bytes");
}

#[test]
fn without_the_runtime_interpreter_the_cross_platform_path_builds_cp314_wheels() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "seed314",
        &fixture("seed_agent.py"),
        &out_dir,
        &local_aws::path_without_runtime_interpreters(),
    );
    cmd.args(["--runtime", "python3.14", "--endpoint", "url"]);
    let doc = assert_deployed(&run(&mut cmd));
    assert_eq!(doc["build"]["strategy"], "cross-platform-pip");
    assert_eq!(doc["runtime"], "python3.14");
    assert!(
        doc["endpoint"]
            .as_str()
            .unwrap()
            .contains(".lambda-url.us-east-1.on.aws"),
        "{doc:#}"
    );
    let files = local_aws::artifact_files(&out_dir);
    assert!(
        has_file(&files, "cpython-314-x86_64-linux-gnu.so"),
        "no cp314 extension in the artifact"
    );
    assert!(
        !has_file(&files, "cpython-311"),
        "host wheels leaked into the artifact"
    );
    // --no-compile: no byte-code from the build machine; with no python3.14 here to compile
    // it, the deploy goes ahead and says what cold starts will cost.
    assert!(
        !has_file(&files, "__pycache__"),
        "the cross-platform path must not byte-compile"
    );
    assert_eq!(doc["build"]["bytecode"]["method"], "none", "{doc:#}");
    assert!(
        doc["warnings"].as_array().unwrap().iter().any(|w| {
            let w = w.as_str().unwrap();
            w.contains("no python3.14 here to compile") && w.contains("install python3.14")
        }),
        "{doc:#}"
    );
    let bytes = doc["build"]["artifact_bytes"].as_u64().unwrap();
    assert!(bytes < 200_000_000, "{bytes} bytes: byte-compiled?");
}

/// An agent that needs something at import the build does not have (here a variable only the
/// real function would get) still deploys: the packages it imports are compiled instead, and
/// the warning says so.
#[test]
fn an_agent_whose_import_fails_at_build_time_gets_its_packages_compiled() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let agent = work.path().join("agent.py");
    std::fs::write(
        &agent,
        "import os\nimport six\n\nREGION_TABLE = os.environ[\"SET_BY_OPS_LATER\"]\n\n\ndef main(user_input_arg=None, input_data_arg=None):\n    return six.text_type(user_input_arg)\n",
    )
    .unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "importfails",
        &agent,
        &work.path().join("out"),
        &local_aws::deploy_path(),
    );
    cmd.args(["--endpoint", "none"]);
    let doc = assert_deployed(&run(&mut cmd));
    let bytecode = &doc["build"]["bytecode"];
    assert_eq!(bytecode["method"], "reachable", "{doc:#}");
    assert_eq!(bytecode["modules"], 1, "six.py: {doc:#}");
    assert!(
        doc["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("importing the handler at build time failed (KeyError")),
        "{doc:#}"
    );
    let files = local_aws::artifact_files(&work.path().join("out"));
    assert!(
        has_file(&files, "__pycache__/six.cpython-313.pyc"),
        "{files:?}"
    );
}

/// An agent whose import never returns (a server started at import, a sleep) could never finish
/// a cold start's INIT: the build's import runs out of its time limit, the deploy stops naming
/// it, nothing is deployed, and what the import started (a forked daemon) dies with it.
#[test]
fn an_import_that_never_returns_stops_the_deploy_and_leaves_nothing_running() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let marker = format!("agentdeploy-test-hang-daemon-{}", std::process::id());
    let agent = work.path().join("agent.py");
    let source = r#"import os
import sys
import time

with open("/proc/self/cmdline", "rb") as f:
    argv = f.read().decode().split("\0")
python = next(argv[: i + 1] for i, a in enumerate(argv) if os.path.basename(a).startswith("python"))
marker = os.environ["DAEMON_MARKER"]
if os.fork() == 0:
    os.setsid()
    os.execv(python[0], python + ["-c", "import time; time.sleep(600)", marker])


def daemon_running():
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    return True
        except OSError:
            pass
    return False


while not daemon_running():
    time.sleep(0.05)
time.sleep(600)  # as a server started at import would


def main(user_input_arg=None, input_data_arg=None):
    return user_input_arg
"#;
    std::fs::write(&agent, source).unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "hangs",
        &agent,
        &work.path().join("out"),
        &local_aws::deploy_path(),
    );
    cmd.args(["--endpoint", "none", "--env-var"])
        .arg(format!("DAEMON_MARKER={marker}"))
        .env("AGENTDEPLOY_IMPORT_TIME_LIMIT", "3");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let message = json(&out)["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("importing the agent did not return within 3 s"),
        "{message}"
    );
    // The daemon the import started in a session of its own died with the sandbox.
    assert_eq!(
        processes_with(&marker),
        Vec::<String>::new(),
        "the import's daemon outlived the build"
    );
    // Nothing was deployed.
    let mut status = agentdeploy(work.path());
    aws.configure(&mut status);
    let status = run(status.args(["status", "hangs", "-o", "json"]));
    assert_eq!(json(&status)["stack_status"], Value::Null);
}

#[test]
fn cross_platform_path_for_3_13_runs_the_handler_under_3_13() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "probe",
        &fixture("probe_agent.py"),
        &out_dir,
        &local_aws::path_without_runtime_interpreters(),
    );
    cmd.args(["--env-var", "LOG_LEVEL=debug", "--endpoint", "none"]);
    let doc = assert_deployed(&run(&mut cmd));
    assert_eq!(doc["build"]["strategy"], "cross-platform-pip");
    assert_eq!(doc["endpoint"], Value::Null);
    let answer = json(&invoke(&aws, work.path(), "probe", "hi", "{}"));
    assert_eq!(answer["output"]["python"], "3.13");
    assert_eq!(answer["output"]["log_level"], "debug");
}

/// The cross-platform path with uv on PATH: uv resolves and installs the set for the platform in
/// one step (no pip resolution first), the pins come from what it installed, and the function it
/// built answers under 3.13.
#[test]
fn with_uv_on_path_the_cross_platform_path_resolves_and_installs_in_one_step() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let path = format!(
        "{}:{}",
        crate::common::tools_dir().join("uv/bin").display(),
        local_aws::path_without_runtime_interpreters()
    );
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "seeduv",
        &fixture("seed_agent.py"),
        &out_dir,
        &path,
    );
    cmd.args(["--endpoint", "none"]);
    let doc = assert_deployed(&run(&mut cmd));
    assert_eq!(doc["build"]["strategy"], "cross-platform-uv", "{doc:#}");
    assert_eq!(doc["build"]["resolved_by"], "uv", "{doc:#}");
    let pins = pinned_requirements(&doc);
    assert!(
        pins.iter().any(|p| p.starts_with("strands-agents==")),
        "{pins:?}"
    );
    let files = local_aws::artifact_files(&out_dir);
    assert!(has_file(&files, "cpython-313-x86_64-linux-gnu.so"));
    assert!(!has_file(&files, "cpython-311"), "host wheels leaked in");
    let answer = json(&invoke(
        &aws,
        work.path(),
        "seeduv",
        "What is 6 * 7?",
        r#"{"offline": true}"#,
    ));
    assert_eq!(answer["output"]["answer"], "You asked: What is 6 * 7?");
}

#[test]
fn with_no_build_path_left_the_error_names_all_three_ways_out() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "nobuild",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &local_aws::path_without_runtime_interpreters(),
    );
    cmd.env("AGENTDEPLOY_NO_CROSS_PLATFORM", "1");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "build");
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Binary validation failed for python")
    );
    let hint = doc["error"]["hint"].as_str().unwrap();
    for way in ["install python3.13", "start Docker", "cross-platform pip"] {
        assert!(hint.contains(way), "{hint}");
    }
}

#[test]
fn a_secret_reaches_the_function_and_appears_nowhere_else() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    // Backslashes beside spaces and quotes, quotes of both kinds, a trailing backslash: the
    // characters sam's override parsing treats specially must arrive exactly as they are.
    let secret = format!(
        r#"sk-test-{}\ "q" a\b c\\ it's\"#,
        std::process::id() as u64 * 7919 + 104729
    );
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "secretive",
        &fixture("probe_agent.py"),
        &out_dir,
        &local_aws::deploy_path(),
    );
    cmd.env("AGENT_API_TOKEN", &secret)
        .args(["--secret", "AGENT_API_TOKEN", "-v"]);
    let tmp_before: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    let out = run(&mut cmd);
    let doc = assert_deployed(&out);
    let answer = json(&invoke(&aws, work.path(), "secretive", "hi", "{}"));
    let expected = sha256_hex(&secret);
    assert_eq!(
        answer["output"]["secret_sha256"],
        expected.as_str(),
        "the function sees the secret"
    );

    assert!(!stdout(&out).contains(&secret), "secret in stdout");
    assert!(
        !stderr(&out).contains(&secret),
        "secret in stderr (with -v)"
    );
    assert!(!doc.to_string().contains(&secret));
    assert_no_file_contains(work.path(), &secret);
    // The 0600 parameter file is gone and no new temp entry holds the secret.
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        let path = entry.path();
        if tmp_before.contains(&path) {
            continue;
        }
        assert!(
            !path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("agentdeploy-secrets-"),
            "left behind: {}",
            path.display()
        );
        for file in files_below(&path)
            .into_iter()
            .chain(std::iter::once(path.clone()).filter(|p| p.is_file()))
        {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(
                    !String::from_utf8_lossy(&bytes).contains(&secret),
                    "secret in {}",
                    file.display()
                );
            }
        }
    }
    let template = std::fs::read_to_string(out_dir.join("template.yaml")).unwrap();
    assert!(template.contains("NoEcho: true"));
}

#[test]
fn a_missing_secret_value_exits_2_naming_it_before_anything_runs() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "nosecret",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &local_aws::deploy_path(),
    );
    cmd.args(["--secret", "AGENTDEPLOY_TEST_UNSET_SECRET"]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AGENTDEPLOY_TEST_UNSET_SECRET")
    );
    assert!(!work.path().join("out").exists(), "nothing rendered");
}

#[test]
fn sam_missing_from_path_exits_3_with_a_hint() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out = run(&mut deploy_cmd(
        &aws,
        work.path(),
        "nosam",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &base_path(),
    ));
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "preflight");
    assert!(doc["error"]["message"].as_str().unwrap().contains("`sam`"));
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("pip install aws-sam-cli")
    );
}

#[test]
fn an_old_sam_exits_3_naming_the_minimum() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::fs::write(
        bin.join("sam"),
        "#!/bin/sh\necho 'SAM CLI, version 1.50.0'\n",
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("sam"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), base_path());
    let out = run(&mut deploy_cmd(
        &aws,
        work.path(),
        "oldsam",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &path,
    ));
    assert_eq!(out.status.code(), Some(3));
    let doc = json(&out);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1.50.0 is older than the minimum 1.130.0"),
        "{doc:#}"
    );
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--upgrade aws-sam-cli")
    );
}

#[test]
fn no_credentials_exits_3() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "nocreds",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &local_aws::deploy_path(),
    );
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let doc = json(&out);
    assert!(
        doc["error"]["message"]
            .as_str()
            .unwrap()
            .contains("credentials"),
        "{doc:#}"
    );
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("aws configure")
    );
}

#[test]
fn no_region_exits_3() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "noregion",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &local_aws::deploy_path(),
    );
    cmd.env_remove("AWS_REGION");
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        json(&out)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no AWS region")
    );
}

#[test]
fn a_missing_artifact_bucket_exits_5_with_a_hint() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let mut cmd = agentdeploy(work.path());
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path())
        .args([
            "lambda",
            "-o",
            "json",
            "--function-name",
            "nobucket",
            "--s3-bucket",
            "no-such-bucket-here",
            "--agent",
        ])
        .arg(fixture("probe_agent.py"))
        .arg("--out-dir")
        .arg(work.path().join("out"));
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["error"]["kind"], "deploy");
    assert!(
        doc["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("bucket does not exist"),
        "{doc:#}"
    );
}

#[test]
fn strands_tools_for_python_3_11_builds_through_the_pinned_path() {
    // A plain `sam build` fails here on pillow 12.3.0 (no manylinux2014 wheel); the pinned
    // resolution picks a version that has one, and sam builds it natively with python3.11.
    let python311 = Path::new("/usr/bin/python3.11");
    assert!(
        python311.is_file(),
        "this test needs Debian's python3.11 (the machine's)"
    );
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let path = format!(
        "{}:{}",
        crate::common::tools_dir().join("venv/bin").display(),
        base_path()
    );
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "tools311",
        &fixture("seed_agent.py"),
        &out_dir,
        &path,
    );
    cmd.args([
        "--runtime",
        "python3.11",
        "--allow-deprecated-runtime",
        "--endpoint",
        "none",
    ]);
    let doc = assert_deployed(&run(&mut cmd));
    assert_eq!(doc["build"]["strategy"], "native");
    // The native build of the set as given failed on pillow; pip resolved it for the platform.
    assert_eq!(doc["build"]["resolved_by"], "pip", "{doc:#}");
    let pins = pinned_requirements(&doc);
    let pillow = pins
        .iter()
        .find(|p| p.starts_with("pillow=="))
        .expect("pillow is pinned");
    assert_ne!(
        *pillow, "pillow==12.3.0",
        "12.3.0 has no manylinux2014 wheel"
    );
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("deprecated"))
    );
    assert!(has_file(
        &local_aws::artifact_files(&out_dir),
        "cpython-311-x86_64-linux-gnu.so"
    ));
}

/// An API key's usage plan is throttled and capped (defaults suited to a model-calling agent,
/// or the flags), and --reserved-concurrency reaches the function: through the real SAM
/// transform into the local AWS.
#[test]
fn api_key_endpoints_are_throttled_and_capped_and_concurrency_is_reserved() {
    let work = tempfile::tempdir().unwrap();
    let plans = |aws: &LocalAws| -> Value {
        serde_json::from_str(&aws.boto3(
            "plans = client('apigateway').get_usage_plans()['items']\n\
             print(json.dumps([{'throttle': p.get('throttle'), 'quota': p.get('quota')} for p in plans]))\n",
        ))
        .unwrap()
    };
    let aws = LocalAws::start();
    let out = run(&mut deploy_cmd(
        &aws,
        work.path(),
        "capped",
        &fixture("probe_agent.py"),
        &work.path().join("out"),
        &local_aws::deploy_path(),
    ));
    let doc = assert_deployed(&out);
    assert_eq!(
        doc["plan"]["usage_limits"],
        serde_json::json!({"rate_per_second": 2.0, "burst": 5, "quota": "1000/day"})
    );
    let found = plans(&aws);
    assert_eq!(found[0]["throttle"]["rateLimit"], 2.0, "{found:#}");
    assert_eq!(found[0]["throttle"]["burstLimit"], 5, "{found:#}");
    assert_eq!(found[0]["quota"]["limit"], 1000, "{found:#}");
    assert_eq!(found[0]["quota"]["period"], "DAY", "{found:#}");
    let retention = |aws: &LocalAws, name: &str| -> String {
        aws.boto3(&format!(
            "groups = client('logs').describe_log_groups(logGroupNamePrefix='/aws/lambda/{name}')['logGroups']\n\
             print(json.dumps([(g['logGroupName'], g.get('retentionInDays')) for g in groups]))\n"
        ))
        .trim()
        .to_string()
    };
    assert_eq!(retention(&aws, "capped"), r#"[["/aws/lambda/capped", 30]]"#);

    let aws = LocalAws::start();
    // Lambda made this function's log group for a deploy from before the stack owned it: it is
    // kept (CloudFormation could not create it again) and given the retention by API.
    aws.boto3("client('logs').create_log_group(logGroupName='/aws/lambda/capped2')\n");
    let mut cmd = deploy_cmd(
        &aws,
        work.path(),
        "capped2",
        &fixture("probe_agent.py"),
        &work.path().join("out2"),
        &local_aws::deploy_path(),
    );
    cmd.args([
        "--rate-limit",
        "0.5",
        "--burst-limit",
        "2",
        "--quota",
        "50/week",
        "--reserved-concurrency",
        "3",
        "--log-retention-days",
        "7",
        "--snapstart",
    ]);
    let doc = assert_deployed(&run(&mut cmd));
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("SnapStart is billed")),
        "{doc:#}"
    );
    assert_eq!(
        retention(&aws, "capped2"),
        r#"[["/aws/lambda/capped2", 7]]"#
    );
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("existed before this stack")),
        "{doc:#}"
    );
    let template = std::fs::read_to_string(work.path().join("out2/template.yaml")).unwrap();
    assert!(
        template.contains("SnapStart:\n        ApplyOn: PublishedVersions"),
        "{template}"
    );
    let found = plans(&aws);
    assert_eq!(found[0]["throttle"]["rateLimit"], 0.5, "{found:#}");
    assert_eq!(found[0]["quota"]["period"], "WEEK", "{found:#}");
    let reserved = aws.boto3(
        "print(client('lambda').get_function_concurrency(FunctionName='capped2').get('ReservedConcurrentExecutions'))\n",
    );
    assert_eq!(reserved.trim(), "3");
}
