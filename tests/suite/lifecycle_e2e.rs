//! The deployment lifecycle on the local AWS: the record, unchanged redeploys without sam,
//! code-only changes, status / invoke / list / destroy, interruption and the per-function lock.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use serde_json::Value;

fn project_with_probe() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), dir.path().join("agent.py")).unwrap();
    dir
}

pub(crate) fn cmd(aws: &LocalAws, cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = agentdeploy(cwd);
    aws.configure(&mut cmd);
    cmd.env("PATH", local_aws::deploy_path()).args(args);
    cmd
}

pub(crate) fn deploy_args(name: &str) -> Vec<String> {
    [
        "lambda",
        "-o",
        "json",
        "--function-name",
        name,
        "--agent",
        "agent.py",
        "--s3-bucket",
        local_aws::BUCKET,
        "--endpoint",
        "url",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Rewrites the project's agent.py with `from` replaced by `to` (which must be there).
pub(crate) fn edit_agent(dir: &Path, from: &str, to: &str) {
    let code = std::fs::read_to_string(dir.join("agent.py")).unwrap();
    assert!(code.contains(from), "agent.py has no `{from}`");
    std::fs::write(dir.join("agent.py"), code.replace(from, to)).unwrap();
}

fn record(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(".agentdeploy/state.json")).unwrap())
        .unwrap()
}

/// Spawns a deploy and returns once its stderr shows `[name] <phase>`; the rest of stderr is
/// drained in the background so the child never blocks on a full pipe.
pub(crate) fn spawn_until_phase(mut command: Command, name: &str, phase: &str) -> Child {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let needle = format!("[{name}] {phase}");
    let mut seen = Vec::new();
    loop {
        match lines.next() {
            Some(Ok(line)) => {
                let found = line.contains(&needle);
                seen.push(line);
                if found {
                    break;
                }
            }
            _ => panic!("the deploy ended before `{needle}`:\n{}", seen.join("\n")),
        }
    }
    std::thread::spawn(move || for _ in lines {});
    child
}

#[test]
fn record_unchanged_code_change_status_list_invoke_destroy() {
    let aws = LocalAws::start();
    let project = project_with_probe();
    let dir = project.path();
    let args = deploy_args("life");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = run(&mut cmd(&aws, dir, &args));
    let first_doc = json(&first);
    assert_eq!(first.status.code(), Some(0), "{first_doc:#}");
    assert_eq!(first_doc["status"], "deployed");
    assert!(
        first_doc["access"]["how_to_call"]
            .as_str()
            .unwrap()
            .contains("callers need lambda:InvokeFunctionUrl and lambda:InvokeFunction"),
        "{first_doc:#}"
    );
    let rec = record(dir);
    assert_eq!(rec["schema_version"], 1);
    let entry = &rec["deployments"]["default/life"];
    assert_eq!(entry["status"], "deployed");
    assert_eq!(entry["stack_name"], "agentdeploy-life");
    assert_eq!(entry["region"], "us-east-1");
    assert_eq!(entry["account"], local_aws::ACCOUNT);
    assert_eq!(entry["outputs"]["function_arn"], first_doc["function_arn"]);
    assert!(entry["input_hash"].as_str().is_some_and(|h| h.len() == 32));
    // The report says where the time went; the parts add up to the whole.
    let time = &first_doc["time_ms"];
    assert!(time["sam"].as_u64().unwrap() > 0, "{time}");
    assert!(time["aws"].as_u64().unwrap() > 0, "{time}");
    let parts: u64 = ["sam", "pip", "aws", "zip", "agentdeploy"]
        .iter()
        .map(|k| time[k].as_u64().unwrap())
        .sum();
    let total = first_doc["duration_ms"].as_u64().unwrap();
    assert!(parts.abs_diff(total) <= 5, "{parts} vs {total}: {time}");
    // sam deploys a ready zip: the dependencies zipped once, the code appended.
    let build = dir.join(".agentdeploy/default/life/.aws-sam/build");
    let template = std::fs::read_to_string(build.join("template.yaml")).unwrap();
    assert!(
        template.contains("CodeUri: \"AgentFunction.zip\""),
        "{template}"
    );
    let deps_zip = std::fs::read_dir(dir.join(".agentdeploy/cache/deps"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("a dependency zip in the project's cache");

    // Unchanged: exit 0 with fresh outputs, and neither pip nor sam runs (sam is not even on PATH).
    let mut unchanged = cmd(&aws, dir, &args);
    unchanged.env("PATH", base_path());
    let out = run(&mut unchanged);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["status"], "unchanged");
    assert_eq!(doc["function_arn"], first_doc["function_arn"]);
    assert_eq!(doc["endpoint"], first_doc["endpoint"]);
    assert_eq!(
        record(dir)["deployments"]["default/life"]["status"],
        "unchanged"
    );

    // --force redeploys even so.
    let mut forced = cmd(&aws, dir, &args);
    forced.arg("--force");
    let forced = run(&mut forced);
    assert_eq!(forced.status.code(), Some(0), "{}", stderr(&forced));
    assert!(
        stderr(&forced).contains("[life] building"),
        "--force must build and deploy: {}",
        stderr(&forced)
    );

    // A code-only change reuses the built dependencies and ships the new code.
    // (A rewrite goes through a temporary file and a rename: a new inode.)
    let deps_zip_written =
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&deps_zip).unwrap());
    let first_zip = std::fs::read(build.join("AgentFunction.zip")).unwrap();
    edit_agent(
        dir,
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    let changed = run(&mut cmd(&aws, dir, &args));
    let changed_doc = json(&changed);
    assert_eq!(changed_doc["status"], "deployed", "{changed_doc:#}");
    assert_eq!(changed_doc["build"]["cached"], true);
    assert_eq!(
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&deps_zip).unwrap()),
        deps_zip_written,
        "a code-only change reuses the dependency zip"
    );
    assert_ne!(
        std::fs::read(build.join("AgentFunction.zip")).unwrap(),
        first_zip
    );
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "life", "--input", "hi", "-o", "json"],
    ));
    assert_eq!(json(&answer)["output"]["echo"], "v2:hi");
    // --raw shows the whole payload.
    let raw = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "life", "--input", "hi", "--raw", "-o", "json"],
    ));
    assert_eq!(json(&raw)["output"]["output"]["echo"], "v2:hi");

    // With the zipped dependencies gone, the agent's own built folder still spares a sam build,
    // and the zip is made again from it.
    std::fs::remove_dir_all(dir.join(".agentdeploy/cache/deps")).unwrap();
    edit_agent(dir, "f\"v2:{user_input_arg}\"", "f\"v3:{user_input_arg}\"");
    let rebuilt = json(&run(&mut cmd(&aws, dir, &args)));
    assert_eq!(rebuilt["status"], "deployed", "{rebuilt:#}");
    assert_eq!(rebuilt["build"]["cached"], true, "{rebuilt:#}");
    assert!(deps_zip.is_file());
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "life", "--input", "hi", "-o", "json"],
    ));
    assert_eq!(json(&answer)["output"]["echo"], "v3:hi");

    let status = run(&mut cmd(&aws, dir, &["status", "life", "-o", "json"]));
    let status = json(&status);
    assert!(
        status["stack_status"]
            .as_str()
            .unwrap()
            .ends_with("_COMPLETE"),
        "{status:#}"
    );
    assert_eq!(status["function"]["state"], "Active");
    assert_eq!(status["function"]["runtime"], "python3.13");
    assert_eq!(status["function"]["memory"], 512);
    assert_eq!(status["outputs"]["FunctionArn"], first_doc["function_arn"]);
    assert_eq!(status["record"]["status"], "deployed");
    // The cold start expected of what was deployed (probe_agent: no dependencies; the code-only
    // redeploy's build-time import measured agentdeploy's runtime modules).
    assert_eq!(status["cold_start"]["class"], "fast", "{status:#}");
    assert!(
        status["cold_start"]["basis"]
            .as_str()
            .unwrap()
            .contains("bytecode shipped, 512 MB"),
        "{status:#}"
    );

    let list = json(&run(&mut cmd(
        &aws,
        dir,
        &["list", "-o", "json", "--refresh"],
    )));
    assert_eq!(list["deployments"][0]["key"], "default/life");
    assert!(
        list["deployments"][0]["stack_status"]
            .as_str()
            .unwrap()
            .ends_with("_COMPLETE")
    );

    // No terminal to ask: destroy refuses without --yes, and deletes nothing.
    let refused = run(&mut cmd(&aws, dir, &["destroy", "life"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--yes"));
    let destroyed = run(&mut cmd(&aws, dir, &["destroy", "life", "--yes"]));
    assert_eq!(destroyed.status.code(), Some(0), "{}", stderr(&destroyed));
    assert!(stdout(&destroyed).contains("deleted stack agentdeploy-life"));
    assert!(
        !stdout(&destroyed).contains("no agentdeploy:function tag"),
        "the stack carries agentdeploy's tag: {}",
        stdout(&destroyed)
    );
    assert!(
        record(dir)["deployments"].get("default/life").is_none(),
        "the record entry is removed"
    );
    let again = run(&mut cmd(&aws, dir, &["destroy", "life", "--yes"]));
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("already gone"));
    let gone = run(&mut cmd(&aws, dir, &["status", "life"]));
    assert_eq!(gone.status.code(), Some(2));
}

#[test]
fn a_signal_mid_deploy_cleans_up_exits_130_and_the_next_run_proceeds() {
    let aws = LocalAws::start();
    let project = project_with_probe();
    let dir = project.path();
    let secret = format!("interrupt-secret-{}", std::process::id());
    let mut args = deploy_args("sig");
    args.extend(["--secret".into(), "AGENT_API_TOKEN".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // A temporary folder of its own: other tests' deploys make secret files at the same time.
    let temp = tempfile::tempdir().unwrap();
    let mut command = cmd(&aws, dir, &args);
    command
        .env("AGENT_API_TOKEN", &secret)
        .env("TMPDIR", temp.path());
    let mut child = spawn_until_phase(command, "sig", "deploying");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        record(dir)["deployments"]["default/sig"]["status"],
        "interrupted"
    );
    assert_eq!(
        secret_dirs(temp.path()),
        Vec::<String>::new(),
        "the 0600 secret file must be removed"
    );
    let out_dir = dir.join(".agentdeploy/default/sig");
    let leftover = Command::new("pgrep")
        .arg("-f")
        .arg(out_dir.to_str().unwrap())
        .output()
        .unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "sam is still running: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );
    assert_no_file_contains(dir, &secret);

    let mut rerun = cmd(&aws, dir, &args);
    rerun.env("AGENT_API_TOKEN", &secret);
    let out = run(&mut rerun);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        record(dir)["deployments"]["default/sig"]["status"],
        "deployed"
    );
}

fn secret_dirs(temp: &Path) -> Vec<String> {
    let mut dirs: Vec<String> = std::fs::read_dir(temp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("agentdeploy-secrets-"))
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn a_second_deploy_of_the_same_function_waits_or_names_the_holder() {
    let aws = LocalAws::start();
    let project = project_with_probe();
    let dir = project.path();
    let args = deploy_args("locked");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut first = spawn_until_phase(cmd(&aws, dir, &args), "locked", "preflight");
    let mut second = cmd(&aws, dir, &args);
    second.args(["--lock-timeout", "0"]);
    let held_by_first = |out: &std::process::Output| {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        assert!(
            stderr(out).contains(&format!(
                "another agentdeploy (pid {}) is deploying locked",
                first.id()
            )),
            "{}",
            stderr(out)
        );
    };
    held_by_first(&run(&mut second));
    // A dry-run of the same function, with other code, would rewrite the out-dir the deploy is
    // building from: it waits for the lock too, and here gives up without touching anything.
    let source = dir.join("agent.py");
    let original = std::fs::read_to_string(&source).unwrap();
    std::fs::write(
        &source,
        "def main(user_input_arg=None):\n    return 'dry-run code'\n",
    )
    .unwrap();
    let mut dry = cmd(&aws, dir, &args);
    dry.args(["--dry-run", "--lock-timeout", "0"]);
    let out = run(&mut dry);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another agentdeploy"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&source, &original).unwrap();
    // A rollback would move `live` under the deploy: it is refused at once, naming the deploy.
    held_by_first(&run(&mut cmd(&aws, dir, &["rollback", "locked", "--yes"])));
    assert_eq!(first.wait().unwrap().code(), Some(0));
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "locked", "--input", "hi", "-o", "json"],
    ));
    assert!(
        !stdout(&answer).contains("dry-run code"),
        "the dry-run's code was deployed: {}",
        stdout(&answer)
    );
    // With a long enough wait the second deploy simply runs after the first.
    let mut third = spawn_until_phase(cmd(&aws, dir, &args), "locked", "preflight");
    let mut waiting = cmd(&aws, dir, &args);
    waiting.args(["--lock-timeout", "600"]);
    let out = run(&mut waiting);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(third.wait().unwrap().code(), Some(0));
}

/// reference §7 "Ownership": a stack agentdeploy did not make for this function (another team's,
/// with a table holding data and a parameter) is never taken over by a deploy named into it, nor
/// rolled back or deleted; nor is the stack of another agentdeploy function. Exit 2, each naming
/// the stack and its tags, and everything in them is still there.
#[test]
fn a_stack_agentdeploy_did_not_make_is_never_deployed_into_rolled_back_or_deleted() {
    let aws = LocalAws::start();
    let project = project_with_probe();
    let dir = project.path();
    aws.boto3(
        "client('cloudformation').create_stack(StackName='other-team-stack', \
         Tags=[{'Key': 'team', 'Value': 'payments'}], \
         TemplateBody=json.dumps({'Resources': {\
           'Table': {'Type': 'AWS::DynamoDB::Table', 'Properties': {'TableName': 'ledger', \
             'BillingMode': 'PAY_PER_REQUEST', \
             'AttributeDefinitions': [{'AttributeName': 'id', 'AttributeType': 'S'}], \
             'KeySchema': [{'AttributeName': 'id', 'KeyType': 'HASH'}]}}, \
           'Param': {'Type': 'AWS::SSM::Parameter', 'Properties': {'Name': '/payments/rate', \
             'Type': 'String', 'Value': '0.25'}}}}))\n\
         client('dynamodb').put_item(TableName='ledger', Item={'id': {'S': 'row-1'}})\n",
    );
    let intact = || {
        let state = aws.boto3(
            "stack = client('cloudformation').describe_stacks(StackName='other-team-stack')['Stacks'][0]\n\
             rows = client('dynamodb').scan(TableName='ledger')['Count']\n\
             value = client('ssm').get_parameter(Name='/payments/rate')['Parameter']['Value']\n\
             print(stack['StackStatus'], rows, value, len(stack.get('Outputs', [])))\n",
        );
        assert_eq!(
            state.trim(),
            "CREATE_COMPLETE 1 0.25 0",
            "the foreign stack was changed"
        );
    };
    let refused = |out: &std::process::Output| {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("stack other-team-stack exists but agentdeploy did not make it")
                && err.contains("team=payments")
                && err.contains("nothing changed"),
            "{err}"
        );
    };
    let mut args = deploy_args("x");
    args.extend(["--stack-name".into(), "other-team-stack".into()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&run(&mut cmd(&aws, dir, &args)));
    intact();
    // --force (which replaces a failed stack of our own) changes nothing either.
    let mut forced = args.clone();
    forced.push("--force");
    refused(&run(&mut cmd(&aws, dir, &forced)));
    intact();
    // A dry-run's "planned" entry does not make the stack this project's.
    let mut dry = args.clone();
    dry.push("--dry-run");
    assert_eq!(run(&mut cmd(&aws, dir, &dry)).status.code(), Some(0));
    refused(&run(&mut cmd(&aws, dir, &["destroy", "x", "--yes"])));
    refused(&run(&mut cmd(&aws, dir, &["rollback", "x", "--yes"])));
    intact();

    // Under agentdeploy's own naming, untagged and unrecorded: still not ours.
    aws.boto3(
        "client('cloudformation').create_stack(StackName='agentdeploy-foreign', \
         TemplateBody=json.dumps({'Resources': {'Topic': {'Type': 'AWS::SNS::Topic'}}}))\n",
    );
    let out = run(&mut cmd(&aws, dir, &["destroy", "foreign", "--yes"]));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("stack agentdeploy-foreign exists but agentdeploy did not make it"),
        "{}",
        stderr(&out)
    );

    // Another agentdeploy function's stack: refused by name, that function left serving.
    let first = run(&mut cmd(
        &aws,
        dir,
        &deploy_args("billing")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    ));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let mut into_billing = deploy_args("y");
    into_billing.extend(["--stack-name".into(), "agentdeploy-billing".into()]);
    let into_billing: Vec<&str> = into_billing.iter().map(String::as_str).collect();
    let out = run(&mut cmd(&aws, dir, &into_billing));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds agentdeploy's function `billing`, not `y`"),
        "{}",
        stderr(&out)
    );
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "billing", "--input", "hi", "-o", "json"],
    ));
    assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));
    let statuses = aws.boto3(
        "print(client('cloudformation').describe_stacks(StackName='agentdeploy-foreign')['Stacks'][0]['StackStatus'])\n",
    );
    assert_eq!(statuses.trim(), "CREATE_COMPLETE");
}

/// reference §11 on the local AWS: each deploy publishes a version behind `live`; `rollback` makes
/// Invoke answer like the earlier version without building; the next deploy moves `live` back.
#[test]
fn two_deploys_two_versions_rollback_and_forward_again() {
    let aws = LocalAws::start();
    let project = project_with_probe();
    let dir = project.path();
    // The agent prints a line per request, as agents do; `logs` must show it.
    edit_agent(
        dir,
        "    secret_name = ",
        "    print(f\"agent saw {user_input_arg}\")\n    secret_name = ",
    );
    let args = deploy_args("verse");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let echo = |dir: &Path| -> Value {
        let answer = run(&mut cmd(
            &aws,
            dir,
            &["invoke", "verse", "--input", "hi", "-o", "json"],
        ));
        assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));
        json(&answer)["output"]["echo"].clone()
    };

    // Nothing to roll back to after one deploy.
    let first = run(&mut cmd(&aws, dir, &args));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(
        record(dir)["deployments"]["default/verse"]["live_version"],
        "1"
    );
    let refused = run(&mut cmd(&aws, dir, &["rollback", "verse", "--yes"]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("nothing to roll back to"),
        "{}",
        stderr(&refused)
    );

    edit_agent(
        dir,
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    let second = run(&mut cmd(&aws, dir, &args));
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert!(
        !stdout(&second).contains("existed before this stack"),
        "the stack's own log group is its own: {}",
        stdout(&second)
    );
    assert_eq!(echo(dir), "v2:hi");
    let entry = &record(dir)["deployments"]["default/verse"];
    assert_eq!(entry["live_version"], "2");
    assert_eq!(entry["versions"].as_array().unwrap().len(), 2);

    // An unchanged redeploy publishes nothing.
    let unchanged = json(&run(&mut cmd(&aws, dir, &args)));
    assert_eq!(unchanged["status"], "unchanged");

    let status = json(&run(&mut cmd(
        &aws,
        dir,
        &["status", "verse", "-o", "json"],
    )));
    let versions = status["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{status:#}");
    assert_eq!(versions[0]["version"], "2");
    assert_eq!(versions[0]["live"], true);
    assert_eq!(versions[1]["live"], false);
    assert!(versions[1]["input_hash"].as_str().is_some(), "{status:#}");

    // No terminal and no --yes: refused, nothing moved.
    let asked = run(&mut cmd(&aws, dir, &["rollback", "verse"]));
    assert_eq!(asked.status.code(), Some(2), "{}", stderr(&asked));
    assert_eq!(echo(dir), "v2:hi");

    let back = run(&mut cmd(
        &aws,
        dir,
        &["rollback", "verse", "--yes", "-o", "json"],
    ));
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    let back = json(&back);
    assert_eq!(back["from_version"], "2");
    assert_eq!(back["to_version"], "1");
    assert_eq!(echo(dir), "hi", "live answers like the first deploy");
    let entry = &record(dir)["deployments"]["default/verse"];
    assert_eq!(entry["live_version"], "1");
    assert_eq!(entry["rolled_back"], true);

    let bad = run(&mut cmd(
        &aws,
        dir,
        &["rollback", "verse", "--to", "9", "--yes"],
    ));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--to"), "{}", stderr(&bad));

    // Deploying the current code again serves it again (nothing to build: same template).
    let forward = run(&mut cmd(&aws, dir, &args));
    assert_eq!(forward.status.code(), Some(0), "{}", stderr(&forward));
    assert_eq!(echo(dir), "v2:hi");
    let entry = &record(dir)["deployments"]["default/verse"];
    assert_eq!(entry["live_version"], "2");
    assert_eq!(entry["rolled_back"], Value::Null);

    // Both versions' requests are in the function's log group, each line with its request.
    let text = run(&mut cmd(&aws, dir, &["logs", "verse", "--since", "1h"]));
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let printed = stdout(&text);
    let said: Vec<&str> = printed
        .lines()
        .filter(|l| l.contains("agent saw hi"))
        .collect::<Vec<_>>();
    assert!(said.len() >= 3, "{printed}");
    let lines: Vec<Value> = stdout(&run(&mut cmd(
        &aws,
        dir,
        &["logs", "verse", "--since", "1h", "-o", "json"],
    )))
    .lines()
    .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
    .collect();
    let agent_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"].as_str().unwrap().contains("agent saw hi"))
        .collect();
    assert_eq!(agent_lines.len(), said.len());
    let mut requests: Vec<&str> = agent_lines
        .iter()
        .map(|l| {
            l["request_id"]
                .as_str()
                .expect("each line names its request")
        })
        .collect();
    requests.dedup();
    assert_eq!(requests.len(), agent_lines.len(), "one request per line");
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["timestamp"].as_i64() <= w[1]["timestamp"].as_i64())
    );
    let filtered = stdout(&run(&mut cmd(
        &aws,
        dir,
        &["logs", "verse", "--since", "1h", "--filter", "agent saw"],
    )));
    assert!(
        !filtered.is_empty() && filtered.lines().all(|l| l.contains("agent saw")),
        "{filtered}"
    );
    let bad = run(&mut cmd(
        &aws,
        dir,
        &["logs", "verse", "--since", "yesterday"],
    ));
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--since"), "{}", stderr(&bad));

    // --follow prints a request made after it started, then stops on a signal.
    let mut follow = cmd(&aws, dir, &["logs", "verse", "--since", "1m", "--follow"]);
    follow.stdout(std::process::Stdio::piped());
    let mut child = follow.spawn().unwrap();
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "verse", "--input", "followed", "-o", "json"],
    ));
    assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let seen = out.find(|l| l.as_ref().is_ok_and(|l| l.contains("agent saw followed")));
    assert!(seen.is_some(), "--follow never printed the new request");
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C ends --follow cleanly");

    // `logs --follow | head -2`: once nobody reads, --follow ends by itself. The reader is gone
    // before it starts, so its first line already finds the pipe closed.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut follow = cmd(&aws, dir, &["logs", "verse", "--since", "1h", "--follow"]);
    let mut child = follow.stdout(writer).spawn().unwrap();
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait());
    });
    let status = ended
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("--follow kept running with nobody reading")
        .unwrap();
    assert_eq!(status.code(), Some(0));

    // With nothing to print (a filter no line matches), it still ends once nobody reads: a pipe
    // whose reader left, and a stdout that is not open at all (`>&-`).
    for closed in [false, true] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut follow = cmd(
            &aws,
            dir,
            &[
                "logs",
                "verse",
                "--since",
                "1h",
                "--follow",
                "--filter",
                "no-line-says-this",
            ],
        );
        follow.stdout(writer);
        if closed {
            // SAFETY: only close(2) runs between fork and exec.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut follow, || {
                    libc::close(1);
                    Ok(())
                });
            }
        }
        let mut child = follow.spawn().unwrap();
        let (done, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = done.send(child.wait());
        });
        let status = ended
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("--follow kept running (stdout closed: {closed})"))
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
}
