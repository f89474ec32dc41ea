//! A stack made by an earlier agentdeploy is updated in place by today's, on the local AWS, from
//! every kept template version (fixtures/upgrade/):
//! template v3 (SAM's AutoPublishAlias `live`, the Function URL from FunctionUrlConfig) becomes
//! today's (`live` the stack's own alias, the URL targeting it), keeping the URL callers know.

use crate::common::local_aws::LocalAws;
use crate::common::*;
use crate::lifecycle_e2e::{cmd, deploy_args};

/// Creates the stack of `fixture` (fixtures/upgrade/) for `function`, its code a handler that
/// says `version`; its status, outputs and what `live` said.
fn kept_stack(
    aws: &LocalAws,
    fixture_name: &str,
    version: &str,
    function: &str,
) -> serde_json::Value {
    let template = std::fs::read_to_string(fixture(&format!("upgrade/{fixture_name}"))).unwrap();
    let created = aws.boto3(&format!(
        r#"
import io, zipfile
code = io.BytesIO()
with zipfile.ZipFile(code, "w") as z:
    z.writestr("index.py", "def handler(event, context):\n    return '{version}'\n")
client("s3").put_object(Bucket="agentdeploy-artifacts", Key="upgrade/{version}.zip", Body=code.getvalue())
cf = client("cloudformation")
cf.create_stack(StackName="agentdeploy-{function}", TemplateBody={template:?},
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                Tags=[{{"Key": "agentdeploy:function", "Value": "{function}"}}])
stack = cf.describe_stacks(StackName="agentdeploy-{function}")["Stacks"][0]
outputs = {{o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}}
said = client("lambda").invoke(FunctionName="{function}", Qualifier="live")["Payload"].read().decode()
print(json.dumps({{"status": stack["StackStatus"], "outputs": outputs, "said": said}}))
"#
    ));
    serde_json::from_str(created.trim()).unwrap()
}

#[test]
fn a_stack_made_by_template_v3_is_updated_in_place_and_keeps_its_url() {
    let aws = LocalAws::start();
    // The v3 stack, as agentdeploy 0.1.0 made it (its code: a handler that says "v3").
    let before = kept_stack(&aws, "template-v3-url.yaml", "v3", "upg");
    assert_eq!(before["status"], "CREATE_COMPLETE", "{before}");
    assert_eq!(before["said"], "\"v3\"", "{before}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), dir.path().join("agent.py")).unwrap();
    let args = deploy_args("upg");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&mut cmd(&aws, dir.path(), &args));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    // The same URL, now serving the new code through `live`.
    assert_eq!(doc["endpoint"], before["outputs"]["FunctionUrl"], "{doc:#}");
    let answered = run(&mut cmd(
        &aws,
        dir.path(),
        &["invoke", "upg", "--input", "after"],
    ));
    assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    assert!(
        stdout(&answered).contains("\"echo\": \"after\""),
        "{}",
        stdout(&answered)
    );
    let status = run(&mut cmd(&aws, dir.path(), &["status", "upg", "-o", "json"]));
    let status = json(&status);
    assert_eq!(status["stack_status"], "UPDATE_COMPLETE", "{status:#}");
    assert_eq!(
        status["outputs"]["FunctionUrl"], before["outputs"]["FunctionUrl"],
        "{status:#}"
    );
}

/// Template v4 (`live` the stack's own alias already; `candidate` SAM's) with an API key and
/// sessions: today's deploy updates it in place, keeping the API's URL, its key and the session
/// bucket callers' conversations live in.
#[test]
fn a_stack_made_by_template_v4_keeps_its_api_url_key_and_session_bucket() {
    let aws = LocalAws::start();
    let before = kept_stack(&aws, "template-v4-api-session.yaml", "v4", "upg4");
    assert_eq!(before["status"], "CREATE_COMPLETE", "{before}");
    assert_eq!(before["said"], "\"v4\"", "{before}");
    for output in ["ApiEndpoint", "ApiKeyId", "SessionBucket"] {
        assert!(before["outputs"][output].is_string(), "{output}: {before}");
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), dir.path().join("agent.py")).unwrap();
    let out = run(&mut cmd(
        &aws,
        dir.path(),
        &[
            "lambda",
            "-o",
            "json",
            "--function-name",
            "upg4",
            "--agent",
            "agent.py",
            "--s3-bucket",
            crate::common::local_aws::BUCKET,
            "--endpoint",
            "api",
            "--conversation",
            "session",
        ],
    ));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["status"], "deployed", "{doc:#}");
    assert_eq!(doc["endpoint"], before["outputs"]["ApiEndpoint"], "{doc:#}");
    let status = json(&run(&mut cmd(
        &aws,
        dir.path(),
        &["status", "upg4", "-o", "json"],
    )));
    assert_eq!(status["stack_status"], "UPDATE_COMPLETE", "{status:#}");
    for output in ["ApiEndpoint", "ApiKeyId", "SessionBucket"] {
        assert_eq!(
            status["outputs"][output], before["outputs"][output],
            "{output} changed: {status:#}"
        );
    }
    let answered = run(&mut cmd(
        &aws,
        dir.path(),
        &["invoke", "upg4", "--input", "after"],
    ));
    assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    assert!(
        stdout(&answered).contains("\"echo\": \"after\""),
        "{}",
        stdout(&answered)
    );
}

/// Every template version since v3 has a stack kept to upgrade from: a new version leaves its
/// predecessor's rendered template here, or this fails.
#[test]
fn every_earlier_template_version_is_kept_as_a_fixture() {
    let kept: Vec<String> = std::fs::read_dir(fixture("upgrade"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for version in 3..agentdeploy::lambda::render::TEMPLATE_VERSION {
        assert!(
            kept.iter()
                .any(|name| name.starts_with(&format!("template-v{version}-"))),
            "no fixtures/upgrade/template-v{version}-*.yaml: {kept:?}"
        );
    }
}
