//! What `--tracing` and the alarms add to the template (reference §11 "Observability"): cfn-lint
//! and the real SAM transform pass, the function traces through X-Ray with exactly the X-Ray
//! permissions added, and the alarms watch the metrics the runtime writes.

use serde_json::{Value, json};

use crate::common::*;
use crate::dry_run::dry_run;

fn transformed(extra: &[&str]) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dry_run(&fixture("seed_agent.py"), dir.path(), extra);
    assert_eq!(out.status.code(), Some(0), "{extra:?}: {}", stderr(&out));
    let t = sam_transform(&dir.path().join("template.yaml"));
    (dir, t)
}

fn function(t: &Value) -> &Value {
    &resources_of_type(t, "AWS::Lambda::Function")[0]["Properties"]
}

fn role_policies(t: &Value) -> Value {
    let role = &resources_of_type(t, "AWS::IAM::Role")[0]["Properties"];
    json!({"managed": role["ManagedPolicyArns"], "inline": role["Policies"]})
}

#[test]
fn tracing_and_alarm_templates_pass_cfn_lint_and_the_sam_transform() {
    let (plain_dir, plain) = transformed(&[]);
    let (traced_dir, traced) =
        transformed(&["--tracing", "--alarm-errors", "5%", "--alarm-p95", "3000"]);
    let (arm_dir, arm) = transformed(&[
        "--tracing",
        "--architecture",
        "arm64",
        "--tracing-layer",
        "arn:aws:lambda:${AWS::Region}:615299751070:layer:AWSOpenTelemetryDistroPython:16",
        "--alarm-errors",
        "0.1",
        "--alarm-topic",
        "arn:aws:sns:us-east-1:123456789012:pager",
    ]);
    assert_cfn_lint_passes(&[
        plain_dir.path().join("template.yaml"),
        traced_dir.path().join("template.yaml"),
        arm_dir.path().join("template.yaml"),
    ]);

    // Tracing: X-Ray active, the ADOT layer for the architecture, its wrapper.
    assert_eq!(function(&plain).get("TracingConfig"), None);
    for (t, layer) in [
        (
            &traced,
            json!({"Fn::Sub": "arn:aws:lambda:${AWS::Region}:901920570463:layer:aws-otel-python-amd64-ver-1-29-0:1"}),
        ),
        (
            &arm,
            json!({"Fn::Sub": "arn:aws:lambda:${AWS::Region}:615299751070:layer:AWSOpenTelemetryDistroPython:16"}),
        ),
    ] {
        let f = function(t);
        assert_eq!(f["TracingConfig"], json!({"Mode": "Active"}));
        assert_eq!(f["Layers"], json!([layer]));
        let env = &f["Environment"]["Variables"];
        assert_eq!(env["AWS_LAMBDA_EXEC_WRAPPER"], "/opt/otel-instrument");
        assert_eq!(env["OTEL_SERVICE_NAME"], "fixture");
    }
    // IAM gains exactly the X-Ray write permissions: the traced role is the plain one plus
    // AWSXrayWriteOnlyAccess (PutTraceSegments, PutTelemetryRecords, the sampling reads).
    let (before, after) = (role_policies(&plain), role_policies(&traced));
    assert_eq!(before["inline"], after["inline"]);
    let mut expected = before["managed"].as_array().unwrap().clone();
    expected.push(json!("arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess"));
    assert_eq!(after["managed"], Value::Array(expected), "{after:#}");

    // Alarms, on the very namespace and metric names the runtime writes.
    let runtime =
        std::fs::read_to_string(repo().join("templates/runtime/agentdeploy_runtime/metrics.py"))
            .unwrap();
    for name in [
        "\"Requests\"",
        "\"ServerErrors\"",
        "\"Duration\"",
        "NAMESPACE = \"agentdeploy\"",
    ] {
        assert!(runtime.contains(name), "the runtime writes {name}");
    }
    assert!(resources_of_type(&plain, "AWS::CloudWatch::Alarm").is_empty());
    let resources = &traced["Resources"];
    let errors = &resources["AgentErrorRateAlarm"]["Properties"];
    assert_eq!(errors["Threshold"], 0.05);
    assert_eq!(errors["ComparisonOperator"], "GreaterThanThreshold");
    assert_eq!(errors["TreatMissingData"], "notBreaching");
    assert_eq!(errors["AlarmActions"], json!([{"Ref": "AgentAlarmTopic"}]));
    let metrics = errors["Metrics"].as_array().unwrap();
    let stat = |id: &str| {
        let q = metrics.iter().find(|m| m["Id"] == id).unwrap();
        let metric = &q["MetricStat"]["Metric"];
        assert_eq!(metric["Namespace"], "agentdeploy");
        assert_eq!(
            metric["Dimensions"],
            json!([{"Name": "FunctionName", "Value": "fixture"}])
        );
        assert_eq!(q["MetricStat"]["Period"], 300);
        (
            metric["MetricName"].clone(),
            q["MetricStat"]["Stat"].clone(),
        )
    };
    assert_eq!(stat("requests"), (json!("Requests"), json!("Sum")));
    assert_eq!(stat("errors"), (json!("ServerErrors"), json!("Sum")));
    let rate = metrics.iter().find(|m| m["Id"] == "rate").unwrap();
    assert_eq!(
        (rate["Expression"].clone(), rate["ReturnData"].clone()),
        (json!("errors / requests"), json!(true))
    );
    let latency = &resources["AgentLatencyAlarm"]["Properties"];
    assert_eq!(
        (
            latency["MetricName"].clone(),
            latency["ExtendedStatistic"].clone(),
            latency["Threshold"].clone()
        ),
        (json!("Duration"), json!("p95"), json!(3000))
    );
    assert_eq!(resources["AgentAlarmTopic"]["Type"], "AWS::SNS::Topic");
    assert_eq!(
        traced["Outputs"]["ErrorRateAlarm"]["Value"],
        json!({"Ref": "AgentErrorRateAlarm"})
    );
    assert_eq!(
        traced["Outputs"]["LatencyAlarm"]["Value"],
        json!({"Ref": "AgentLatencyAlarm"})
    );
    // An existing topic: used as given, none made.
    assert!(resources_of_type(&arm, "AWS::SNS::Topic").is_empty());
    assert_eq!(
        arm["Resources"]["AgentErrorRateAlarm"]["Properties"]["OKActions"],
        json!(["arn:aws:sns:us-east-1:123456789012:pager"])
    );
    assert_eq!(arm["Resources"].get("AgentLatencyAlarm"), None);
}

#[test]
fn a_traced_agent_deploys_with_the_adot_layer_and_answers() {
    let aws = crate::common::local_aws::LocalAws::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("probe_agent.py"), dir.path().join("agent.py")).unwrap();
    let out = run(aws.lambda_command(dir.path()).args([
        "--function-name",
        "traced",
        "--agent",
        "agent.py",
        "--endpoint",
        "url",
        "--tracing",
    ]));
    let doc = json(&out);
    assert_eq!(out.status.code(), Some(0), "{doc:#}\n{}", stderr(&out));
    assert_eq!(doc["plan"]["tracing"]["xray"], "Active", "{doc:#}");
    let config = aws.boto3(
        "c = client('lambda').get_function_configuration(FunctionName='traced')\n\
         print(json.dumps({'tracing': c.get('TracingConfig'), 'layers': [l['Arn'] for l in c.get('Layers', [])],\n\
                           'wrapper': c['Environment']['Variables'].get('AWS_LAMBDA_EXEC_WRAPPER')}))\n",
    );
    let config: Value = serde_json::from_str(config.trim()).unwrap();
    assert_eq!(config["tracing"]["Mode"], "Active", "{config}");
    assert_eq!(
        config["layers"],
        json!(["arn:aws:lambda:us-east-1:901920570463:layer:aws-otel-python-amd64-ver-1-29-0:1"])
    );
    assert_eq!(config["wrapper"], "/opt/otel-instrument");
    let mut invoke = agentdeploy(dir.path());
    aws.configure(&mut invoke);
    let answered = run(invoke.args(["invoke", "traced", "--input", "hi"]));
    assert_eq!(answered.status.code(), Some(0), "{}", stderr(&answered));
    assert!(
        stdout(&answered).contains("\"echo\": \"hi\""),
        "{}",
        stdout(&answered)
    );
}
