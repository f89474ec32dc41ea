//! `--secrets-store ssm`: values go to SSM Parameter Store as SecureStrings, the role may read
//! exactly those parameters, the function loads them once per cold start, and nothing else
//! holds the value; `destroy` removes them.

use crate::common::local_aws::LocalAws;
use crate::common::*;

fn sdk(aws: &LocalAws) -> aws_config::SdkConfig {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = aws.url.clone();
    rt.block_on(async move {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(aws_sdk_ssm::config::Credentials::new(
                "testing",
                "testing-secret-key",
                None,
                None,
                "test",
            ))
            .load()
            .await
    })
}

#[test]
fn ssm_secrets_reach_the_function_through_parameter_store_only() {
    let aws = LocalAws::start();
    let work = tempfile::tempdir().unwrap();
    let out_dir = work.path().join("out");
    let secret = format!("ssm-secret-{}-value", std::process::id());
    let mut cmd = aws.lambda_command(work.path());
    cmd.env("AGENT_API_TOKEN", &secret)
        .args(["-v", "--function-name", "ssm", "--endpoint", "none"])
        .args([
            "--secrets-store",
            "ssm",
            "--secret",
            "AGENT_API_TOKEN",
            "--agent",
        ])
        .arg(fixture("probe_agent.py"))
        .arg("--out-dir")
        .arg(&out_dir);
    let out = run(&mut cmd);
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));

    let template = std::fs::read_to_string(out_dir.join("template.yaml")).unwrap();
    assert!(
        !template.contains("NoEcho"),
        "no CloudFormation parameter carries the secret"
    );
    assert!(template.contains("Handler: agentdeploy_bootstrap.lambda_handler"));
    assert!(
        template.contains(":parameter/agentdeploy/agentdeploy-ssm/AGENT_API_TOKEN"),
        "{template}"
    );
    let statement = doc["plan"]["iam"]["statements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sid"] == "ReadSecretsFromSsm")
        .cloned()
        .unwrap();
    assert_eq!(
        statement["actions"],
        serde_json::json!(["ssm:GetParameter"])
    );
    assert_eq!(statement["resources"].as_array().unwrap().len(), 1);

    // The function loads the value at cold start.
    let mut invoke = agentdeploy(work.path());
    aws.configure(&mut invoke);
    let answer = json(&run(
        invoke.args(["invoke", "ssm", "--input", "hi", "-o", "json"])
    ));
    let expected = sha256_hex(&secret);
    assert_eq!(answer["output"]["secret_sha256"], expected.as_str());

    let config = sdk(&aws);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (env, parameter) = rt.block_on(async {
        let lambda = aws_sdk_lambda::Client::new(&config);
        let function = lambda
            .get_function_configuration()
            .function_name("ssm")
            .send()
            .await
            .unwrap();
        let env = function
            .environment()
            .and_then(|e| e.variables())
            .cloned()
            .unwrap_or_default();
        let ssm = aws_sdk_ssm::Client::new(&config);
        let parameter = ssm
            .get_parameter()
            .name("/agentdeploy/agentdeploy-ssm/AGENT_API_TOKEN")
            .with_decryption(true)
            .send()
            .await
            .unwrap();
        (env, parameter.parameter().cloned().unwrap())
    });
    assert!(
        !env.contains_key("AGENT_API_TOKEN"),
        "the value is not in the function's configuration: {env:?}"
    );
    assert!(env.values().all(|v| !v.contains(&secret)));
    assert!(
        env["AGENTDEPLOY_SSM_SECRETS"].contains("/agentdeploy/agentdeploy-ssm/AGENT_API_TOKEN")
    );
    assert_eq!(parameter.value(), Some(secret.as_str()));
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );

    assert!(!stdout(&out).contains(&secret) && !stderr(&out).contains(&secret));
    assert_no_file_contains(work.path(), &secret);

    let mut destroy = agentdeploy(work.path());
    aws.configure(&mut destroy);
    let destroyed = run(destroy.args(["destroy", "ssm", "--yes"]));
    assert_eq!(destroyed.status.code(), Some(0), "{}", stderr(&destroyed));
    assert!(
        stdout(&destroyed).contains("1 secret parameter(s) in SSM"),
        "{}",
        stdout(&destroyed)
    );
    let gone = rt.block_on(async {
        aws_sdk_ssm::Client::new(&config)
            .get_parameter()
            .name("/agentdeploy/agentdeploy-ssm/AGENT_API_TOKEN")
            .send()
            .await
    });
    assert!(gone.is_err(), "the parameter is deleted with the stack");
}
