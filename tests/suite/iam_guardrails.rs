//! IAM that fits an organisation's guardrails (reference §7 "IAM"): `--permissions-boundary` on
//! every role the stack makes, `--role` for an existing execution role (no role made, its trust
//! checked), and `agentdeploy policy`, the deployer's least-privilege policy, compared with every
//! call a deploy, status, logs, metrics, rollback and destroy make on the local AWS.

use serde_json::{Value, json};

use crate::common::local_aws::{self, LocalAws};
use crate::common::*;
use crate::dry_run::dry_run;
use crate::lifecycle_e2e::{cmd, edit_agent};

const BOUNDARY: &str = "arn:aws:iam::123456789012:policy/DeveloperBoundary";
const ROLE: &str = "arn:aws:iam::123456789012:role/agent-execution";

#[test]
fn a_permissions_boundary_is_on_every_role_the_stack_makes_and_role_makes_none() {
    let bounded = tempfile::tempdir().unwrap();
    let extra = [
        "--permissions-boundary",
        BOUNDARY,
        "--conversation",
        "session",
        "--tracing",
        "--alarm-errors",
        "5%",
    ];
    let out = dry_run(&fixture("seed_agent.py"), bounded.path(), &extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let with_role = tempfile::tempdir().unwrap();
    let out = dry_run(
        &fixture("seed_agent.py"),
        with_role.path(),
        &["--role", ROLE, "--conversation", "session"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let warning = doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .find(|w| w.starts_with(&format!("--role {ROLE}: the stack makes no role")))
        .unwrap_or_else(|| panic!("no --role warning: {doc:#}"));
    assert!(
        warning.contains("lambda.amazonaws.com") && warning.contains("ReadWriteSessions"),
        "{warning}"
    );
    assert_cfn_lint_passes(&[
        bounded.path().join("template.yaml"),
        with_role.path().join("template.yaml"),
    ]);

    let t = sam_transform(&bounded.path().join("template.yaml"));
    let roles = resources_of_type(&t, "AWS::IAM::Role");
    assert!(!roles.is_empty(), "{t:#}");
    for role in roles {
        assert_eq!(
            role["Properties"]["PermissionsBoundary"], BOUNDARY,
            "{role:#}"
        );
    }
    let t = sam_transform(&with_role.path().join("template.yaml"));
    assert!(resources_of_type(&t, "AWS::IAM::Role").is_empty(), "{t:#}");
    let function = &resources_of_type(&t, "AWS::Lambda::Function")[0]["Properties"];
    assert_eq!(function["Role"], ROLE);
}

/// What IAM action authorises a call the local AWS logged (most are the call's own name).
fn iam_action(call: &str) -> Option<String> {
    let (service, action) = call.split_once(':')?;
    let action = match (service, action) {
        ("sts", "GetCallerIdentity") => return None, // needs no permission
        ("s3", "HeadObject") => "GetObject",
        ("s3", "HeadBucket" | "ListObjectsV2" | "ListObjects") => "ListBucket",
        ("s3", "ListObjectVersions") => "ListBucketVersions",
        ("s3", "DeleteObjects") => "DeleteObject",
        (_, action) => action,
    };
    Some(format!("{service}:{action}"))
}

fn allows(policy: &Value, action: &str) -> bool {
    policy["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .any(|statement| {
            statement["Action"]
                .as_array()
                .unwrap()
                .iter()
                .any(|granted| {
                    let granted = granted.as_str().unwrap();
                    granted == action
                        || granted
                            .strip_suffix('*')
                            .is_some_and(|prefix| action.starts_with(prefix))
                })
        })
}

#[test]
fn the_deployer_policy_allows_every_call_agentdeploy_makes_and_scopes_them() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let aws = LocalAws::start_logging_calls(log.path());
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::copy(fixture("probe_agent.py"), dir.join("agent.py")).unwrap();
    let deploy = [
        "--function-name",
        "calls",
        "--agent",
        "agent.py",
        "--s3-bucket",
        local_aws::BUCKET,
        "--endpoint",
        "api",
        "--conversation",
        "session",
        "--alarm-errors",
        "5%",
        "--permissions-boundary",
        BOUNDARY,
    ];
    let as_deployer = |args: &[&str]| {
        let mut command = cmd(&aws, dir, args);
        command.env("AWS_ACCESS_KEY_ID", "AKIADEPLOYERTEST");
        let out = run(&mut command);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        out
    };
    let policy: Value = serde_json::from_str(&stdout(&as_deployer(
        &[&["policy"][..], &deploy[..]].concat(),
    )))
    .expect("the policy is JSON");

    let lambda = [&["lambda", "-o", "json"][..], &deploy[..]].concat();
    as_deployer(&lambda);
    edit_agent(
        dir,
        "\"echo\": user_input_arg",
        "\"echo\": f\"v2:{user_input_arg}\"",
    );
    as_deployer(&lambda);
    as_deployer(&lambda);
    for args in [
        &["status", "calls"][..],
        &["logs", "calls", "--since", "1h"],
        &["metrics", "calls"],
        &["rollback", "calls", "--yes"],
        &["destroy", "calls", "--yes"],
    ] {
        as_deployer(args);
    }

    let text = std::fs::read_to_string(log.path()).unwrap();
    let mut actions: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("AKIADEPLOYERTEST\t"))
        .filter_map(iam_action)
        .collect();
    actions.sort();
    actions.dedup();
    assert!(actions.len() > 20, "the calls were logged: {actions:?}");
    let missing: Vec<&String> = actions.iter().filter(|a| !allows(&policy, a)).collect();
    assert!(
        missing.is_empty(),
        "not in the policy: {missing:?}\n{policy:#}"
    );

    // Scoped: only the reads IAM cannot scope take "*"; roles change only under the boundary.
    for statement in policy["Statement"].as_array().unwrap() {
        if statement["Resource"] == json!(["*"]) {
            assert_eq!(statement["Sid"], "ReadsWithoutResource", "{statement:#}");
        }
        let changes_roles = statement["Action"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "iam:CreateRole" || a == "iam:PutRolePolicy");
        if changes_roles {
            assert_eq!(
                statement["Condition"]["StringEquals"]["iam:PermissionsBoundary"], BOUNDARY,
                "{statement:#}"
            );
        }
    }
    let text = policy.to_string();
    assert!(text.contains("stack/agentdeploy-calls/*"), "{text}");
    assert!(text.contains("function:calls"), "{text}");
}

#[test]
fn role_deploys_under_an_existing_role_and_refuses_one_lambda_cannot_assume() {
    let aws = LocalAws::start();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::copy(fixture("probe_agent.py"), dir.join("agent.py")).unwrap();
    aws.boto3(
        "iam = client('iam')\n\
         trust = lambda service: json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', \
           'Principal': {'Service': service}, 'Action': 'sts:AssumeRole'}]})\n\
         iam.create_role(RoleName='agent-execution', AssumeRolePolicyDocument=trust('lambda.amazonaws.com'))\n\
         iam.create_role(RoleName='ec2-only', AssumeRolePolicyDocument=trust('ec2.amazonaws.com'))\n",
    );
    let deploy = |name: &str, role: &str| {
        let mut args = crate::lifecycle_e2e::deploy_args(name);
        args.extend(["--role".into(), role.into()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&mut cmd(&aws, dir, &args))
    };
    let out = deploy("assumed", ROLE);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let roles = aws.boto3(
        "print(sorted(r['RoleName'] for r in client('iam').list_roles()['Roles']))\n\
         print(client('lambda').get_function_configuration(FunctionName='assumed')['Role'])\n",
    );
    let mut lines = roles.lines();
    assert_eq!(
        lines.next().unwrap(),
        "['agent-execution', 'ec2-only']",
        "no role was made"
    );
    assert_eq!(lines.next().unwrap(), ROLE);
    let answer = run(&mut cmd(
        &aws,
        dir,
        &["invoke", "assumed", "--input", "hi", "-o", "json"],
    ));
    assert_eq!(answer.status.code(), Some(0), "{}", stderr(&answer));

    let out = deploy("refused", "arn:aws:iam::123456789012:role/ec2-only");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("does not trust lambda.amazonaws.com"),
        "{}",
        stderr(&out)
    );
    let out = deploy("missing", "arn:aws:iam::123456789012:role/nobody");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    let stacks = aws.boto3(
        "print(sorted(s['StackName'] for s in client('cloudformation').describe_stacks()['Stacks']))\n",
    );
    assert_eq!(
        stacks.trim(),
        "['agentdeploy-assumed']",
        "nothing made for the refused ones"
    );
}
