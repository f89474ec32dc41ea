//! A microVM per caller on request (`--isolation tenant`): the function is created with Lambda's
//! tenant isolation, the API passes the caller it vouches for as the tenant, and on the local
//! AWS (which routes each tenant id to environments of its own, as Lambda does) two API keys
//! never share an execution environment.

use std::path::Path;

use serde_json::Value;

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::dry_run::dry_run;
use crate::lifecycle_e2e::cmd;

/// Reports the process (the execution environment) that answered.
const WHO_ANSWERS: &str = r#"import os


def main(user_input_arg=None, input_data_arg=None):
    return {"pid": os.getpid(), "echo": user_input_arg}
"#;

fn agent(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("agent.py");
    std::fs::write(&path, WHO_ANSWERS).unwrap();
    path
}

/// The rendered template, transformed by SAM: (the function, the API's invoke integration).
fn rendered(extra: &[&str]) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&agent(dir.path()), &dir.path().join("out"), extra);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let template = dir.path().join("out/template.yaml");
    assert_cfn_lint_passes(std::slice::from_ref(&template));
    let transformed = sam_transform(&template);
    let function = resources_of_type(&transformed, "AWS::Lambda::Function")[0].clone();
    let api = resources_of_type(&transformed, "AWS::ApiGateway::RestApi")[0].clone();
    let integration =
        api["Properties"]["Body"]["paths"]["/invoke"]["post"]["x-amazon-apigateway-integration"]
            .clone();
    (function, integration)
}

#[test]
fn tenant_isolation_renders_per_tenant_functions_keyed_by_the_caller_the_api_vouches_for() {
    for (auth, identity) in [
        ("api-key", "context.identity.apiKeyId"),
        ("iam", "context.identity.userArn"),
    ] {
        let (function, integration) =
            rendered(&["--isolation", "tenant", "--endpoint", "api", "--auth", auth]);
        assert_eq!(
            function["Properties"]["TenancyConfig"]["TenantIsolationMode"], "PER_TENANT",
            "{function:#}"
        );
        assert_eq!(
            integration["requestParameters"]["integration.request.header.X-Amz-Tenant-Id"],
            identity,
            "{integration:#}"
        );
    }
    // Without it, nothing of it.
    let (function, integration) = rendered(&["--endpoint", "api"]);
    assert!(function["Properties"]["TenancyConfig"].is_null());
    assert!(integration["requestParameters"].is_null());
}

#[test]
fn tenant_isolation_is_refused_where_lambda_does_not_offer_it_or_no_caller_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let agent = agent(dir.path());
    for (extra, why) in [
        (
            &["--isolation", "tenant", "--endpoint", "url"][..],
            "not offered with Function URLs",
        ),
        (
            &[
                "--isolation",
                "tenant",
                "--endpoint",
                "api",
                "--auth",
                "none",
            ][..],
            "no caller",
        ),
        (
            &["--isolation", "tenant", "--endpoint", "none", "--snapstart"][..],
            "not offered with SnapStart",
        ),
        (&["--isolation", "vm"][..], "`vm`"),
    ] {
        let out = dry_run(&agent, &dir.path().join("out"), extra);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--isolation") && err.contains(why),
            "{extra:?}: {err}"
        );
    }
}

/// An Invoke as API Gateway makes it for `key` under the rendered integration: the REST event,
/// and the key id as the tenant. `None`: the answering process id, or the error.
fn through_key(aws: &LocalAws, function: &str, key: Option<&str>) -> Result<u64, String> {
    let tenant = key.map(|k| format!(", TenantId={k:?}")).unwrap_or_default();
    let event = serde_json::json!({
        "httpMethod": "POST",
        "path": "/invoke",
        "requestContext": {"identity": {"apiKeyId": key.unwrap_or("none")}},
        "body": "{\"input\": \"hi\"}",
        "isBase64Encoded": false,
    });
    let script = format!(
        "try:\n\
         \x20   answer = client('lambda').invoke(FunctionName={function:?}, Qualifier='live', Payload=json.dumps(json.loads({event:?})){tenant})\n\
         \x20   print(json.dumps({{'ok': json.loads(json.loads(answer['Payload'].read().decode())['body'])}}))\n\
         except Exception as err:\n\
         \x20   print(json.dumps({{'error': str(err)}}))\n",
        event = event.to_string()
    );
    let answer: Value = serde_json::from_str(aws.boto3(&script).trim()).unwrap();
    match answer["ok"]["output"]["pid"].as_u64() {
        Some(pid) => Ok(pid),
        None => Err(answer.to_string()),
    }
}

/// `agentdeploy lambda -o json` of the project's agent as `name` behind an API, plus `extra`.
fn deploy_api(aws: &LocalAws, dir: &Path, name: &str, extra: &[&str]) -> std::process::Output {
    let mut args = crate::lifecycle_e2e::deploy_args(name);
    // deploy_args ends with `--endpoint url`.
    if let Some(endpoint) = args.last_mut() {
        *endpoint = "api".into();
    }
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend(extra);
    run(&mut cmd(aws, dir, &args))
}

#[test]
fn two_api_keys_never_share_an_execution_environment() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    agent(dir.path());
    let deployed = deploy_api(&aws, dir.path(), "tenants", &["--isolation", "tenant"]);
    let doc = json(&deployed);
    assert_eq!(deployed.status.code(), Some(0), "{doc:#}");
    assert_eq!(doc["plan"]["isolation"], "tenant", "{doc:#}");

    let alice = through_key(&aws, "tenants", Some("key-alice")).unwrap();
    let bob = through_key(&aws, "tenants", Some("key-bob")).unwrap();
    assert_ne!(
        alice, bob,
        "two API keys were served by one execution environment"
    );
    // Each key's own environment stays warm for it.
    assert_eq!(
        through_key(&aws, "tenants", Some("key-alice")).unwrap(),
        alice
    );
    assert_eq!(through_key(&aws, "tenants", Some("key-bob")).unwrap(), bob);
    // A call that names no tenant is refused, as Lambda refuses it.
    let refused = through_key(&aws, "tenants", None).unwrap_err();
    assert!(refused.contains("tenant"), "{refused}");

    // agentdeploy's own invoke names the tenant with --tenant, and needs one.
    let answered = run(&mut cmd(
        &aws,
        dir.path(),
        &[
            "invoke",
            "tenants",
            "--tenant",
            "key-alice",
            "--input",
            "hi",
            "-o",
            "json",
        ],
    ));
    assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    assert_eq!(json(&answered)["output"]["pid"], alice);
    let without = run(&mut cmd(
        &aws,
        dir.path(),
        &["invoke", "tenants", "--input", "hi"],
    ));
    assert_ne!(without.status.code(), Some(0));
    assert!(stderr(&without).contains("tenant"), "{}", stderr(&without));
}

/// Lambda sets tenant isolation only when it creates a function: switching it is a replacement,
/// refused with nothing changed unless `--replace` asks for it.
#[test]
fn switching_isolation_on_a_deployed_function_needs_replace() {
    let aws = LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    agent(dir.path());
    let deploy = |extra: &[&str]| deploy_api(&aws, dir.path(), "switch", extra);
    let first = deploy(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let before = through_key(&aws, "switch", None).unwrap();

    let refused = deploy(&["--isolation", "tenant"]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let doc = json(&refused);
    let message = doc["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("--isolation") && message.contains("only when it creates"),
        "{doc:#}"
    );
    assert!(
        doc["error"]["hint"].to_string().contains("--replace"),
        "{doc:#}"
    );
    // Nothing changed: the same function answers as before, without a tenant.
    assert_eq!(through_key(&aws, "switch", None).unwrap(), before);

    let replaced = deploy(&["--isolation", "tenant", "--replace"]);
    let doc = json(&replaced);
    assert_eq!(replaced.status.code(), Some(0), "{doc:#}");
    assert!(
        warnings(&doc).iter().any(|w| w.contains("created anew")),
        "{doc:#}"
    );
    assert!(through_key(&aws, "switch", None).is_err());
    through_key(&aws, "switch", Some("key-carol")).unwrap();
}
