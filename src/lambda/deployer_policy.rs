//! `agentdeploy policy` (reference §3, §7 "IAM"): the least-privilege IAM policy a deployer (a CI
//! role) needs to deploy, inspect, roll back and destroy these deployments, scoped to their
//! stacks, functions, roles, parameters and bucket prefixes. Two kinds of statements: the calls
//! agentdeploy and sam make themselves (a test compares these with every call a deploy, status,
//! rollback and destroy make on the local AWS), and what CloudFormation does on the deployer's
//! behalf while it creates the stack's resources (the function, its role, the API, the session
//! bucket, the log group, alarms).
//!
//! The account and region are wildcards unless the settings name a region: the names scope it.

use serde_json::{Value, json};

use crate::lambda::kinds::EndpointKind;
use crate::lambda::settings::{ArtifactBucket, LambdaSettings};

/// The policy document for `settings` (one or more agents), as IAM takes it.
pub fn document(all: &[LambdaSettings]) -> Value {
    let mut statements = Vec::new();
    for settings in all {
        statements.extend(for_one(settings));
    }
    statements.extend(shared(all));
    json!({ "Version": "2012-10-17", "Statement": statements })
}

fn region(settings: &LambdaSettings) -> &str {
    settings.region.as_deref().unwrap_or("*")
}

fn statement(sid: String, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// A statement id from a function name (IAM allows only letters and digits).
fn sid(prefix: &str, settings: &LambdaSettings) -> String {
    let name: String = settings
        .function_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{prefix}{name}")
}

fn for_one(settings: &LambdaSettings) -> Vec<Value> {
    let region = region(settings);
    let stack = &settings.stack_name;
    let function = &settings.function_name;
    let function_arn = format!("arn:aws:lambda:{region}:*:function:{function}");
    let mut statements = vec![
        statement(
            sid("Stack", settings),
            &[
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DescribeStackResource",
                "cloudformation:DescribeStackResources",
                "cloudformation:GetTemplate",
                "cloudformation:GetTemplateSummary",
                "cloudformation:DeleteStack",
            ],
            vec![format!("arn:aws:cloudformation:{region}:*:stack/{stack}/*")],
        ),
        statement(
            sid("Function", settings),
            &[
                "lambda:CreateFunction",
                "lambda:UpdateFunctionCode",
                "lambda:UpdateFunctionConfiguration",
                "lambda:DeleteFunction",
                "lambda:GetFunction",
                "lambda:GetFunctionConfiguration",
                "lambda:PublishVersion",
                "lambda:ListVersionsByFunction",
                "lambda:CreateAlias",
                "lambda:UpdateAlias",
                "lambda:DeleteAlias",
                "lambda:GetAlias",
                "lambda:AddPermission",
                "lambda:RemovePermission",
                "lambda:GetPolicy",
                "lambda:CreateFunctionUrlConfig",
                "lambda:UpdateFunctionUrlConfig",
                "lambda:DeleteFunctionUrlConfig",
                "lambda:GetFunctionUrlConfig",
                "lambda:PutFunctionConcurrency",
                "lambda:DeleteFunctionConcurrency",
                "lambda:TagResource",
                "lambda:UntagResource",
                "lambda:ListTags",
                "lambda:InvokeFunction",
            ],
            vec![function_arn.clone(), format!("{function_arn}:*")],
        ),
        statement(
            sid("Parameters", settings),
            &[
                "ssm:GetParameter",
                "ssm:PutParameter",
                "ssm:DeleteParameter",
                "ssm:GetParametersByPath",
            ],
            vec![
                format!("arn:aws:ssm:{region}:*:parameter/agentdeploy/{stack}"),
                format!("arn:aws:ssm:{region}:*:parameter/agentdeploy/{stack}/*"),
            ],
        ),
        statement(
            sid("Logs", settings),
            &[
                "logs:CreateLogGroup",
                "logs:DeleteLogGroup",
                "logs:PutRetentionPolicy",
                "logs:TagResource",
                "logs:TagLogGroup",
                "logs:FilterLogEvents",
            ],
            vec![format!(
                "arn:aws:logs:{region}:*:log-group:/aws/lambda/{function}:*"
            )],
        ),
    ];
    statements.extend(role_statements(settings));
    if settings.conversation.session_ttl_days().is_some() {
        // The stack's session bucket: made by CloudFormation, emptied by `destroy`.
        let bucket = format!(
            "arn:aws:s3:::{}-sessionbucket-*",
            stack.to_ascii_lowercase()
        );
        statements.push(statement(
            sid("Sessions", settings),
            &[
                "s3:CreateBucket",
                "s3:DeleteBucket",
                "s3:PutBucketPolicy",
                "s3:GetBucketPolicy",
                "s3:DeleteBucketPolicy",
                "s3:PutEncryptionConfiguration",
                "s3:PutLifecycleConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:PutBucketOwnershipControls",
                "s3:PutBucketTagging",
                "s3:PutBucketVersioning",
                "s3:ListBucket",
                "s3:ListBucketVersions",
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
            ],
            vec![bucket.clone(), format!("{bucket}/*")],
        ));
    }
    if settings.endpoint == EndpointKind::Api {
        statements.push(statement(
            sid("Api", settings),
            &[
                "apigateway:GET",
                "apigateway:POST",
                "apigateway:PUT",
                "apigateway:PATCH",
                "apigateway:DELETE",
            ],
            [
                "/restapis",
                "/restapis/*",
                "/apikeys",
                "/apikeys/*",
                "/usageplans",
                "/usageplans/*",
                "/tags/*",
            ]
            .iter()
            .map(|path| format!("arn:aws:apigateway:{region}::{path}"))
            .collect(),
        ));
    }
    if settings.alarms.any() {
        statements.push(statement(
            sid("Alarms", settings),
            &[
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
            ],
            vec![format!("arn:aws:cloudwatch:{region}:*:alarm:{stack}-*")],
        ));
        if settings.alarms.topic.is_none() {
            statements.push(statement(
                sid("AlarmTopic", settings),
                &[
                    "sns:CreateTopic",
                    "sns:DeleteTopic",
                    "sns:GetTopicAttributes",
                    "sns:TagResource",
                ],
                vec![format!("arn:aws:sns:{region}:*:{stack}-*")],
            ));
        }
    }
    let layers: Vec<String> = [
        settings.web_adapter_layer.clone(),
        settings.tracing.as_ref().and_then(|t| t.layer.clone()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if settings.stream || settings.tracing.is_some() {
        statements.push(statement(
            sid("Layers", settings),
            &["lambda:GetLayerVersion"],
            if layers.is_empty() {
                // The Web Adapter's and the ADOT layers, as AWS publishes them.
                ["753240598075", "901920570463", "615299751070"]
                    .iter()
                    .map(|account| format!("arn:aws:lambda:{region}:{account}:layer:*:*"))
                    .collect()
            } else {
                layers
            },
        ));
    }
    statements
}

/// The function's role: made by the stack (under the boundary, when one is set), or `--role`'s.
fn role_statements(settings: &LambdaSettings) -> Vec<Value> {
    let pass = |resource: String| {
        json!({
            "Sid": sid("PassRole", settings),
            "Effect": "Allow",
            "Action": ["iam:PassRole", "iam:GetRole"],
            "Resource": [resource],
            "Condition": { "StringEqualsIfExists": { "iam:PassedToService": "lambda.amazonaws.com" } },
        })
    };
    if let Some(role) = &settings.role {
        return vec![pass(role.clone())];
    }
    let role = format!(
        "arn:aws:iam::*:role/{}-AgentFunctionRole-*",
        settings.stack_name
    );
    let changes = [
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ];
    let mut statements = vec![json!({
        "Sid": sid("Role", settings),
        "Effect": "Allow",
        "Action": ["iam:DeleteRole", "iam:GetRole", "iam:GetRolePolicy", "iam:TagRole", "iam:UntagRole", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies"],
        "Resource": [role.clone()],
    })];
    statements.push(match &settings.permissions_boundary {
        // The deployer may change the role only while the boundary stays on it.
        Some(boundary) => json!({
            "Sid": sid("RoleUnderBoundary", settings),
            "Effect": "Allow",
            "Action": changes,
            "Resource": [role.clone()],
            "Condition": { "StringEquals": { "iam:PermissionsBoundary": boundary } },
        }),
        None => json!({
            "Sid": sid("RoleChanges", settings),
            "Effect": "Allow",
            "Action": changes,
            "Resource": [role.clone()],
        }),
    });
    statements.push(pass(role));
    statements
}

/// What every deployment in the account and region shares: the artifact bucket (sam's uploads,
/// the locks, the build cache), the cache's key, the SAM transform, the reads that take no
/// resource.
fn shared(all: &[LambdaSettings]) -> Vec<Value> {
    let region = all.first().map(region).unwrap_or("*");
    let mut buckets: Vec<String> = all
        .iter()
        .map(|s| match &s.artifact_bucket {
            ArtifactBucket::Named(name) => name.clone(),
            ArtifactBucket::Resolve => "aws-sam-cli-managed-default-samclisourcebucket-*".into(),
        })
        .collect();
    buckets.sort();
    buckets.dedup();
    let mut objects = Vec::new();
    for settings in all {
        let bucket = match &settings.artifact_bucket {
            ArtifactBucket::Named(name) => name.clone(),
            ArtifactBucket::Resolve => "aws-sam-cli-managed-default-samclisourcebucket-*".into(),
        };
        objects.push(format!("arn:aws:s3:::{bucket}/{}/*", settings.stack_name));
        objects.push(format!(
            "arn:aws:s3:::{bucket}/agentdeploy/locks/{}.json",
            settings.stack_name
        ));
        objects.push(format!("arn:aws:s3:::{bucket}/agentdeploy/cache/*"));
    }
    objects.sort();
    objects.dedup();
    let mut statements = vec![
        statement(
            "ArtifactObjects".into(),
            // Abort: `sync`'s multipart upload of a large zip, when it fails halfway.
            &[
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
            ],
            objects,
        ),
        statement(
            "ArtifactBucket".into(),
            &["s3:ListBucket", "s3:GetBucketLocation"],
            buckets
                .iter()
                .map(|b| format!("arn:aws:s3:::{b}"))
                .collect(),
        ),
        statement(
            "CacheKey".into(),
            &["ssm:GetParameter", "ssm:PutParameter"],
            vec![format!(
                "arn:aws:ssm:{region}:*:parameter/agentdeploy/cache/key"
            )],
        ),
        statement(
            "SamTransform".into(),
            &["cloudformation:CreateChangeSet"],
            vec![format!(
                "arn:aws:cloudformation:{region}:aws:transform/Serverless-2016-10-31"
            )],
        ),
        // These take no resource: IAM allows them only on "*".
        statement(
            "ReadsWithoutResource".into(),
            &[
                "logs:DescribeLogGroups",
                "cloudwatch:GetMetricData",
                "cloudwatch:ListMetrics",
                "cloudwatch:DescribeAlarms",
            ],
            vec!["*".into()],
        ),
    ];
    if all
        .iter()
        .any(|s| s.artifact_bucket == ArtifactBucket::Resolve)
    {
        statements.push(statement(
            "SamManagedStack".into(),
            &[
                "cloudformation:DescribeStacks",
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:GetTemplateSummary",
            ],
            vec![format!(
                "arn:aws:cloudformation:{region}:*:stack/aws-sam-cli-managed-default/*"
            )],
        ));
    }
    statements
}
