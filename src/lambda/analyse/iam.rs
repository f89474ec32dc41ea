//! Least-privilege IAM inferred from the agent code (reference §5). Every statement carries the
//! reason and the file:line that caused it, for the template comments and the plan.

use serde::Serialize;
use serde_json::{Value, json};

use crate::lambda::analyse::agent::AgentAnalysis;

/// Strands' default model when an `Agent()` or `BedrockModel()` names none
/// (strands-agents 1.62, `strands.models.bedrock.DEFAULT_BEDROCK_MODEL_ID`: a global inference profile).
pub const STRANDS_DEFAULT_MODEL_ID: &str = "global.anthropic.claude-sonnet-4-6";

/// Prefixes of cross-region inference profile ids (`us.anthropic...`).
const INFERENCE_PROFILE_PREFIXES: &[&str] =
    &["us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"];

pub const BEDROCK_ACTIONS: &[&str] = &[
    "bedrock:InvokeModel",
    "bedrock:InvokeModelWithResponseStream",
];

/// What code that uses the default AWS-managed interpreter (`aws.codeinterpreter.v1`) needs:
/// the session actions only, never create/delete.
pub const AGENTCORE_CODE_INTERPRETER_ACTIONS: &[&str] = &[
    "bedrock-agentcore:StartCodeInterpreterSession",
    "bedrock-agentcore:InvokeCodeInterpreter",
    "bedrock-agentcore:StopCodeInterpreterSession",
    "bedrock-agentcore:GetCodeInterpreterSession",
    "bedrock-agentcore:ListCodeInterpreterSessions",
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PolicyStatement {
    pub sid: String,
    pub actions: Vec<String>,
    /// CloudFormation values: plain strings or `{"Fn::Sub": ...}`.
    pub resources: Vec<Value>,
    pub reason: String,
    /// `file:line` locations that caused the statement.
    pub sources: Vec<String>,
}

impl PolicyStatement {
    /// The statement as it goes into the SAM template's `Policies` (a JSON value; JSON is YAML).
    pub fn to_cloudformation(&self) -> Value {
        json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": self.actions,
            "Resource": self.resources,
        })
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct IamPlan {
    pub statements: Vec<PolicyStatement>,
    pub managed_policies: Vec<String>,
    pub warnings: Vec<String>,
}

/// One block per kind of permission the code can need (models, code interpreter, AWS SDK use,
/// managed policies), each with the `file:line` that caused it.
pub fn infer(analysis: &AgentAnalysis, extra_policies: &[String]) -> IamPlan {
    let mut plan = IamPlan {
        managed_policies: extra_policies.to_vec(),
        ..Default::default()
    };

    let mut literal_ids: Vec<(String, Vec<String>)> = Vec::new();
    let mut dynamic_sources = Vec::new();
    for model in &analysis.bedrock_models {
        let source = analysis.location(&model.file, model.line);
        let id = match (&model.model_id, model.is_default) {
            (Some(id), _) => id.clone(),
            (None, true) => STRANDS_DEFAULT_MODEL_ID.to_string(),
            (None, false) => {
                dynamic_sources.push(source);
                continue;
            }
        };
        match literal_ids.iter_mut().find(|(known, _)| *known == id) {
            Some((_, sources)) => sources.push(source),
            None => literal_ids.push((id, vec![source])),
        }
    }

    for (model_id, sources) in &literal_ids {
        if model_id.contains('*') || model_id.contains('?') {
            plan.warnings.push(format!(
                "the Bedrock model id `{model_id}` at {} holds a wildcard: the role may invoke every model it matches; name one model",
                sources.join(", ")
            ));
        }
    }
    for (index, (model_id, sources)) in literal_ids.into_iter().enumerate() {
        let resources = model_resources(&model_id);
        let is_default = model_id == STRANDS_DEFAULT_MODEL_ID;
        plan.statements.push(PolicyStatement {
            sid: format!("InvokeBedrockModel{}", index + 1),
            actions: BEDROCK_ACTIONS.iter().map(|a| a.to_string()).collect(),
            resources,
            reason: if is_default {
                format!("the agent calls Bedrock model {model_id} (Strands' default model)")
            } else {
                format!("the agent calls Bedrock model {model_id}")
            },
            sources,
        });
    }
    if !dynamic_sources.is_empty() {
        plan.warnings.push(format!(
            "the Bedrock model id at {} is not a literal: the role may invoke any Bedrock model and inference profile in the account; write the id as a string literal to narrow it",
            dynamic_sources.join(", ")
        ));
        plan.statements.push(PolicyStatement {
            sid: "InvokeAnyBedrockModel".into(),
            actions: BEDROCK_ACTIONS.iter().map(|a| a.to_string()).collect(),
            resources: vec![
                sub("arn:${AWS::Partition}:bedrock:*::foundation-model/*"),
                sub("arn:${AWS::Partition}:bedrock:*:${AWS::AccountId}:inference-profile/*"),
            ],
            reason: "the model id is computed at run time, so it cannot be scoped".into(),
            sources: dynamic_sources,
        });
    }

    if !analysis.agentcore_code_interpreter.is_empty() {
        plan.statements.push(PolicyStatement {
            sid: "AgentCoreCodeInterpreterSessions".into(),
            actions: AGENTCORE_CODE_INTERPRETER_ACTIONS.iter().map(|a| a.to_string()).collect(),
            resources: vec![
                sub("arn:${AWS::Partition}:bedrock-agentcore:${AWS::Region}:aws:code-interpreter/*"),
                sub("arn:${AWS::Partition}:bedrock-agentcore:${AWS::Region}:${AWS::AccountId}:code-interpreter/*"),
            ],
            reason: "the agent runs code in AgentCore Code Interpreter sessions".into(),
            sources: analysis.agentcore_code_interpreter.iter().map(|p| analysis.location(&p.file, p.line)).collect(),
        });
    }

    if !analysis.aws_sdk_use.is_empty() && extra_policies.is_empty() {
        let lines: Vec<String> = analysis
            .aws_sdk_use
            .iter()
            .map(|p| analysis.location(&p.file, p.line))
            .collect();
        plan.warnings.push(format!(
            "the agent calls AWS APIs (boto3 / use_aws at {}): the role gets no permissions for them unless you add --policy ARN",
            lines.join(", ")
        ));
    }
    for statement in &mut plan.statements {
        in_file_order(&mut statement.sources);
    }
    plan
}

/// `file:line` sources once each, by file and then line (line 9 before line 10).
fn in_file_order(sources: &mut Vec<String>) {
    let key = |source: &String| match source.rsplit_once(':') {
        Some((file, line)) => (file.to_string(), line.parse::<usize>().unwrap_or(0)),
        None => (source.clone(), 0),
    };
    sources.sort_by_key(key);
    sources.dedup();
}

/// `--role ARN`: the stack makes no role, so what it would have granted is the role owner's to
/// grant; said once, statement by statement (the plan's `iam` has them in full).
pub fn role_needs(
    role: &str,
    plan: &IamPlan,
    settings: &crate::lambda::settings::LambdaSettings,
) -> String {
    let mut needs = vec![
        "logs:CreateLogStream and logs:PutLogEvents on the function's log group (AWSLambdaBasicExecutionRole)".to_string(),
    ];
    needs.extend(
        plan.statements
            .iter()
            .map(|s| format!("{} ({}: {})", s.actions.join(", "), s.sid, s.reason)),
    );
    needs.extend(
        plan.managed_policies
            .iter()
            .map(|arn| format!("the managed policy {arn}")),
    );
    if settings.tracing.is_some() {
        needs.push("xray:PutTraceSegments and xray:PutTelemetryRecords (--tracing)".into());
    }
    if !settings.subnet_ids.is_empty() {
        needs.push("AWSLambdaVPCAccessExecutionRole (--subnet-ids)".into());
    }
    format!(
        "--role {role}: the stack makes no role; that role must trust lambda.amazonaws.com and allow: {}",
        needs.join("; ")
    )
}

/// `--secrets-store ssm`: read exactly this stack's secret parameters, nothing else.
pub fn ssm_secrets_statement(stack_name: &str, secrets: &[String]) -> PolicyStatement {
    PolicyStatement {
        sid: "ReadSecretsFromSsm".into(),
        actions: vec!["ssm:GetParameter".into()],
        resources: secrets
            .iter()
            .map(|name| {
                let parameter = crate::lambda::settings::SecretsStore::parameter_name(stack_name, name);
                sub(&format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"))
            })
            .collect(),
        reason: "the function reads its secrets from SSM Parameter Store at cold start".into(),
        sources: secrets.iter().map(|name| format!("--secret {name}")).collect(),
    }
}

/// Sessions behind API Gateway: the function reads the stack's origin value (a SecureString)
/// once per cold start, and no other parameter.
pub fn origin_statement(stack_name: &str) -> PolicyStatement {
    let parameter = crate::lambda::settings::origin_parameter_name(stack_name);
    PolicyStatement {
        sid: "ReadOriginFromSsm".into(),
        actions: vec!["ssm:GetParameter".into()],
        resources: vec![sub(&format!(
            "arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{parameter}"
        ))],
        reason: "sessions trust API Gateway's caller identity only in events that carry the stack's secret origin value".into(),
        sources: vec!["--conversation session".into()],
    }
}

/// `--conversation session`: the function reads and writes its sessions in the stack's own
/// bucket, and nothing else in S3. It may also list that bucket: without `s3:ListBucket`, S3
/// answers a GetObject of a missing key with 403 AccessDenied instead of 404 NoSuchKey, and every
/// new session's first turn would fail.
pub fn session_bucket_statements() -> [PolicyStatement; 2] {
    let reason = "conversations are kept per caller and session_id in the stack's session bucket";
    [
        PolicyStatement {
            sid: "ReadWriteSessions".into(),
            actions: vec!["s3:GetObject".into(), "s3:PutObject".into()],
            resources: vec![sub("${SessionBucket.Arn}/sessions/*")],
            reason: reason.into(),
            sources: vec!["--conversation session".into()],
        },
        PolicyStatement {
            sid: "FindSessions".into(),
            actions: vec!["s3:ListBucket".into()],
            resources: vec![sub("${SessionBucket.Arn}")],
            reason: format!("{reason} (a missing session is then 404, not 403)"),
            sources: vec!["--conversation session".into()],
        },
    ]
}

fn sub(text: &str) -> Value {
    json!({ "Fn::Sub": text })
}

/// Resources for one model id: a foundation model in this region, or an inference profile in
/// this account plus the foundation models it routes to (in any region it may route to).
pub fn model_resources(model_id: &str) -> Vec<Value> {
    if model_id.starts_with("arn:") {
        return vec![Value::String(model_id.to_string())];
    }
    // The id is spliced into Fn::Sub text: `${` in it must stay literal (`${!` in Fn::Sub).
    let escaped = model_id.replace("${", "${!");
    let model_id = escaped.as_str();
    match model_id.split_once('.') {
        Some((prefix, base)) if INFERENCE_PROFILE_PREFIXES.contains(&prefix) => vec![
            sub(&format!(
                "arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}:${{AWS::AccountId}}:inference-profile/{model_id}"
            )),
            sub(&format!(
                "arn:${{AWS::Partition}}:bedrock:*::foundation-model/{base}"
            )),
        ],
        _ => vec![sub(&format!(
            "arn:${{AWS::Partition}}:bedrock:${{AWS::Region}}::foundation-model/{model_id}"
        ))],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::analyse::analyse_source;
    use crate::lambda::runtime::Runtime;
    use std::path::Path;

    fn plan(src: &str) -> IamPlan {
        let a = analyse_source(
            Path::new("a.py"),
            None,
            format!("{src}\ndef main(user_input_arg=None):\n    pass\n"),
            Runtime { minor: 13 },
            None,
        )
        .unwrap();
        infer(&a, &[])
    }

    #[test]
    fn a_model_id_from_the_environment_gets_a_grant_and_a_warning() {
        for src in [
            "import os\nfrom strands import Agent\nagent = Agent(model=os.environ[\"MODEL_ID\"])",
            "import os\nfrom strands import Agent\nMODEL = os.getenv(\"MODEL_ID\", \"x\")\nagent = Agent(model=MODEL)",
            "import os\nfrom strands import Agent\nagent = Agent(os.environ.get(\"M\") or \"amazon.nova-lite-v1:0\")",
        ] {
            let p = plan(src);
            assert!(
                p.statements
                    .iter()
                    .any(|s| s.sid == "InvokeAnyBedrockModel"),
                "{src}: {:?}",
                p.statements
            );
            assert!(
                p.warnings.iter().any(|w| w.contains("is not a literal")),
                "{src}: {:?}",
                p.warnings
            );
        }
        // A model object built elsewhere is not a model id.
        let p = plan(
            "from strands import Agent\nfrom strands.models import BedrockModel\nm = BedrockModel(model_id=\"amazon.nova-lite-v1:0\")\nagent = Agent(model=m)",
        );
        assert!(
            !p.statements
                .iter()
                .any(|s| s.sid == "InvokeAnyBedrockModel")
        );
    }

    #[test]
    fn wildcards_are_named_and_substitutions_stay_literal() {
        let p = plan("from strands import Agent\nagent = Agent(model=\"anthropic.*\")");
        assert!(
            p.warnings.iter().any(|w| w.contains("holds a wildcard")),
            "{:?}",
            p.warnings
        );
        let resources = model_resources("x.${AWS::AccountId}");
        let text = serde_json::to_string(&resources).unwrap();
        assert!(
            text.contains("foundation-model/x.${!AWS::AccountId}"),
            "{text}"
        );
    }

    #[test]
    fn bare_agent_gets_the_default_model_only() {
        let p = plan("from strands import Agent\nagent = Agent()");
        assert_eq!(p.statements.len(), 1);
        let s = &p.statements[0];
        assert_eq!(s.actions, BEDROCK_ACTIONS);
        assert_eq!(s.sources, ["a.py:2"]);
        assert_eq!(
            s.resources,
            vec![
                sub(
                    "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/global.anthropic.claude-sonnet-4-6"
                ),
                sub(
                    "arn:${AWS::Partition}:bedrock:*::foundation-model/anthropic.claude-sonnet-4-6"
                ),
            ]
        );
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn foundation_model_literal_is_scoped_to_the_region() {
        let p = plan(
            "m = BedrockModel(model_id='amazon.nova-pro-v1:0')\nm2 = BedrockModel(model_id='amazon.nova-pro-v1:0')",
        );
        assert_eq!(p.statements.len(), 1);
        assert_eq!(
            p.statements[0].resources,
            vec![sub(
                "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/amazon.nova-pro-v1:0"
            )]
        );
        assert_eq!(p.statements[0].sources, ["a.py:1", "a.py:2"]);
    }

    #[test]
    fn dynamic_model_id_warns_and_widens() {
        let p = plan("import os\nm = BedrockModel(model_id=os.environ['MODEL'])");
        assert_eq!(p.statements[0].sid, "InvokeAnyBedrockModel");
        assert!(p.warnings[0].contains("a.py:2"), "{:?}", p.warnings);
    }

    #[test]
    fn a_line_of_a_helper_module_is_named_by_the_helpers_file_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("strands_agent.py"),
            "import boto3\nfrom strands import Agent\n\nhelper = Agent(model=\"amazon.nova-lite-v1:0\")\n",
        )
        .unwrap();
        let entry = dir.path().join("lambda_function.py");
        let source = "from strands_agent import helper\nfrom strands import Agent\nfirst = Agent(model=\"amazon.nova-lite-v1:0\")\nsecond = Agent(model=\"amazon.nova-lite-v1:0\")\nthird = Agent(model=\"amazon.nova-lite-v1:0\")\nfourth = Agent(model=\"amazon.nova-lite-v1:0\")\nfifth = Agent(model=\"amazon.nova-lite-v1:0\")\nsixth = Agent(model=\"amazon.nova-lite-v1:0\")\nseventh = Agent(model=\"amazon.nova-lite-v1:0\")\ntenth = Agent(model=\"amazon.nova-lite-v1:0\")\ndef main(user_input_arg=None):\n    return helper(user_input_arg)\n";
        std::fs::write(&entry, source).unwrap();
        let a = crate::lambda::analyse::analyse_file(&entry);
        let mut a = a;
        a.set_display_base(dir.path());
        let p = infer(&a, &[]);
        let sources = &p.statements[0].sources;
        assert_eq!(
            sources.first().map(String::as_str),
            Some("lambda_function.py:3")
        );
        assert_eq!(
            sources[7], "lambda_function.py:10",
            "line 10 after line 9: {sources:?}"
        );
        assert_eq!(
            sources.last().map(String::as_str),
            Some("strands_agent.py:4"),
            "{sources:?}"
        );
        let mut deduped = sources.clone();
        deduped.dedup();
        assert_eq!(&deduped, sources);
        assert!(
            p.warnings.iter().any(|w| w.contains("strands_agent.py:1")),
            "boto3 named in its own file: {:?}",
            p.warnings
        );
    }

    #[test]
    fn non_bedrock_model_objects_get_nothing() {
        let p = plan(
            "from strands.models.openai import OpenAIModel\nagent = Agent(model=OpenAIModel(model_id='gpt-4o'))",
        );
        assert!(p.statements.is_empty(), "{:?}", p.statements);
    }

    #[test]
    fn agentcore_code_interpreter_gets_exactly_the_session_actions() {
        let p = plan("from bedrock_agentcore.tools.code_interpreter_client import code_session");
        assert_eq!(p.statements.len(), 1);
        assert_eq!(p.statements[0].actions, AGENTCORE_CODE_INTERPRETER_ACTIONS);
        assert_eq!(p.statements[0].sources, ["a.py:1"]);
    }

    #[test]
    fn boto3_warns_unless_a_policy_is_given() {
        let p = plan("import boto3");
        assert!(p.warnings[0].contains("--policy"));
        let a = analyse_source(
            Path::new("a.py"),
            None,
            "import boto3\ndef main(user_input_arg=None):\n    pass\n".into(),
            Runtime { minor: 13 },
            None,
        )
        .unwrap();
        let p = infer(&a, &["arn:aws:iam::aws:policy/ReadOnlyAccess".into()]);
        assert!(p.warnings.is_empty());
        assert_eq!(p.managed_policies.len(), 1);
    }
}
