//! The Lambda target's remote phases: resolve → build → deploy → verify (reference §6, §7).

use std::time::Duration;

use crate::error::{Error, Result};
use crate::lambda::bundle::pipeline::StackRequest;
use crate::lambda::bundle::pipeline::{Deps, build_or_reuse, pin, sam_env};
use crate::lambda::bundle::sam::BuildStrategy;
use crate::lambda::render;
use crate::lambda::settings::SecretsStore;
use crate::lambda::ship::log_group::{LogGroup, keep_existing_log_group, log_group_owner};
use crate::lambda::ship::outputs::{self, StackOutputs};
use crate::lambda::ship::remote_cache::CacheUse;
use crate::lambda::ship::sam_deploy::{self, DeployRequest, SecretConfig};
use crate::lambda::ship::shared_cache::SharedCache;
use crate::lambda::ship::ssm_secrets::put_ssm_secrets;
use crate::lambda::ship::stack_checks::check_stack_before_deploy;
use crate::target::Phase;

#[derive(Debug, Clone)]
pub struct StackDeployed {
    pub outputs: StackOutputs,
    pub pins: Vec<String>,
    pub resolved_by: crate::build_report::ResolvedBy,
    pub strategy: BuildStrategy,
    /// Built dependencies were reused: this agent's previous build (a code-only change) or
    /// another agent's with the same set.
    pub build_cached: bool,
    pub artifact_bytes: u64,
    /// sam found nothing to change.
    pub no_changes: bool,
    pub function: crate::target::FunctionState,
    /// The version `live` serves after this deploy.
    pub live_version: Option<String>,
    /// The newest published version (the `candidate` alias).
    pub candidate_version: Option<String>,
    /// What the deploy did differently from the plan, said once.
    pub warnings: Vec<String>,
    /// The bytecode shipped (None: reused from a build whose facts were not kept).
    pub bytecode: Option<crate::build_report::Bytecode>,
    /// What the build cache shared through the artifact bucket did.
    pub remote_cache: CacheUse,
}

/// stack checks → pin → build or reuse → deploy with secrets → verify: one line per step.
pub async fn deploy(
    inputs: StackRequest<'_>,
    phase: &(dyn Fn(Phase) + Sync),
) -> Result<StackDeployed> {
    let cfn = crate::aws::clients::cloudformation(&inputs.aws.sdk);
    let mut warnings = before_anything_changes(&inputs, &cfn).await?;

    phase(Phase::Resolving);
    let mut cache = SharedCache::open(&inputs).await?;
    let pinned = pin(&inputs, phase).await?;
    let deps = Deps::of(inputs.settings, &pinned.resolved.pins);
    cache.after_pin(&inputs, &pinned, &deps).await;

    if pinned.built.is_none() {
        phase(Phase::Building);
    }
    let log_group = log_group_owner(&inputs, &cfn).await?;
    let built = build_or_reuse(&inputs, &deps, pinned.built, log_group == LogGroup::Stack).await?;
    // Fleet members with the same requirements found this set's resolution and build only now.
    drop(pinned.turn);
    warnings.extend(built.warnings.iter().cloned());
    warnings.extend(cache.after_build(&pinned.resolved.pins, &deps).await);

    phase(Phase::Deploying);
    let no_changes = deploy_with_secrets(&inputs, &cfn, &built.template).await?;
    if log_group == LogGroup::Existing {
        warnings.push(keep_existing_log_group(&inputs).await?);
    }

    phase(Phase::Verifying);
    let verified = verify_deployed(&inputs, &cfn, &mut warnings).await?;
    Ok(StackDeployed {
        remote_cache: cache.used,
        candidate_version: verified.candidate_version,
        bytecode: built.bytecode.clone(),
        warnings,
        live_version: verified.live_version,
        outputs: verified.outputs,
        pins: pinned.resolved.pins,
        resolved_by: pinned.resolved.by,
        strategy: built.strategy,
        build_cached: built.cached,
        artifact_bytes: built.artifact_bytes,
        no_changes,
        function: verified.function,
    })
}

/// What is checked before anything changes: the stack can be deployed into, and `--role`'s
/// role exists and trusts Lambda. Returns a warning when the role could not be read.
async fn before_anything_changes(
    inputs: &StackRequest<'_>,
    cfn: &aws_sdk_cloudformation::Client,
) -> Result<Vec<String>> {
    let settings = inputs.settings;
    check_stack_before_deploy(
        cfn,
        &settings.stack_name,
        &settings.function_name,
        settings.force,
    )
    .await?;
    let mut warnings: Vec<String> = crate::lambda::ship::creation_only::check(inputs)
        .await?
        .into_iter()
        .collect();
    if let Some(role) = &settings.role {
        warnings.extend(crate::lambda::ship::execution_role::check(&inputs.aws.sdk, role).await?);
    }
    Ok(warnings)
}

/// What verifying the deployed stack found.
struct Verified {
    outputs: StackOutputs,
    function: crate::target::FunctionState,
    live_version: Option<String>,
    candidate_version: Option<String>,
}

/// The stack's outputs and a ready function, a Function URL's auth as the template says, and
/// the versions `live` and `candidate` name.
async fn verify_deployed(
    inputs: &StackRequest<'_>,
    cfn: &aws_sdk_cloudformation::Client,
    warnings: &mut Vec<String>,
) -> Result<Verified> {
    let settings = inputs.settings;
    let lambda = crate::aws::clients::lambda(&inputs.aws.sdk);
    let (outputs, function, live_version) = verify(cfn, &lambda, &settings.stack_name).await?;
    if settings.endpoint == crate::lambda::kinds::EndpointKind::Url
        && let Some(function_name) = &outputs.function_name
        && let Some(repaired) = restore_url_auth(&lambda, function_name, settings.auth).await?
    {
        warnings.push(repaired);
    }
    let candidate_version = match &outputs.function_name {
        Some(function_name) => {
            outputs::alias_version(
                &lambda,
                function_name,
                crate::lambda::render::CANDIDATE_ALIAS,
            )
            .await?
        }
        None => None,
    };
    Ok(Verified {
        outputs,
        function,
        live_version,
        candidate_version,
    })
}

/// Puts the secrets where the function reads them (SSM, or NoEcho parameter overrides in a
/// private samconfig that lives only for this call) and runs `sam deploy`. True when sam found
/// nothing to change.
async fn deploy_with_secrets(
    inputs: &StackRequest<'_>,
    cfn: &aws_sdk_cloudformation::Client,
    built_template: &std::path::Path,
) -> Result<bool> {
    let StackRequest {
        settings,
        aws,
        secrets,
        ..
    } = inputs;
    if settings.secrets_store == SecretsStore::Ssm {
        put_ssm_secrets(&aws.sdk, &settings.stack_name, secrets).await?;
    }
    let overrides = parameter_overrides(inputs, built_template).await?;
    // Parameter values go into a private samconfig that lives only for this call (secret
    // values never touch the project's files).
    let secret_config = if overrides.is_empty() {
        None
    } else {
        Some(SecretConfig::write(&render::render_samconfig(
            settings,
            Some(&aws.region),
            &overrides,
        )?)?)
    };
    let config_file = secret_config
        .as_ref()
        .map(SecretConfig::path)
        .unwrap_or_else(|| settings.out_dir.join("samconfig.toml"));
    let sam = inputs.sam().await?;
    let run = sam_deploy::deploy(
        &DeployRequest {
            sam: &sam,
            out_dir: &settings.out_dir,
            built_template,
            region: &aws.region,
            config_file: &config_file,
            envs: sam_env(aws, settings.profile.as_deref()),
        },
        inputs.tool.clone(),
    )
    .await?;
    drop(secret_config);
    if run.success {
        return Ok(run.text().contains("No changes to deploy"));
    }
    let reasons = outputs::failed_resources(cfn, &settings.stack_name).await;
    let detail = if reasons.is_empty() {
        run.tail(12)
    } else {
        reasons.join("\n  ")
    };
    Err(Error::Deploy {
        message: format!(
            "sam deploy of stack {} failed:\n  {detail}",
            settings.stack_name
        ),
        hint: deploy_failure_hint(&run.text(), &reasons).into(),
    })
}

/// The template parameters this deploy passes: secret values (with their digest, which names
/// the version), the origin value, and the version `live` stays on while smoke cases run.
async fn parameter_overrides(
    inputs: &StackRequest<'_>,
    built_template: &std::path::Path,
) -> Result<Vec<(String, String)>> {
    let StackRequest {
        settings,
        aws,
        secrets,
        ..
    } = inputs;
    let mut overrides: Vec<(String, String)> = Vec::new();
    if !secrets.values.is_empty() && settings.secrets_store == SecretsStore::Env {
        overrides.extend(
            render::secret_parameters(&settings.secrets)
                .iter()
                .filter_map(|p| {
                    secrets
                        .values
                        .iter()
                        .find(|(name, _)| *name == p.name)
                        .map(|(_, v)| (p.parameter.clone(), v.clone()))
                }),
        );
        if let Some(version) = inputs.secrets_version {
            overrides.push((
                render::SECRETS_VERSION_PARAMETER.to_string(),
                code_and_secrets_version(built_template, version)?,
            ));
        }
    }
    if render::checks_origin(settings) {
        overrides.push((
            render::ORIGIN_PARAMETER.to_string(),
            crate::lambda::ship::remote_record::origin_value(&aws.sdk, &settings.stack_name)
                .await?,
        ));
    }
    if let Some(version) = inputs.hold_live {
        overrides.push((
            render::LIVE_VERSION_PARAMETER.to_string(),
            version.to_string(),
        ));
    }
    Ok(overrides)
}

/// What to do about a failed `sam deploy`. sam's output and CloudFormation's resource reasons
/// are free text (no error codes reach us through sam), so the known causes are recognised by
/// the phrases AWS uses for them.
fn deploy_failure_hint(sam_output: &str, reasons: &[String]) -> &'static str {
    if sam_output.contains("S3 Bucket does not exist") || sam_output.contains("NoSuchBucket") {
        return crate::aws::errors::MISSING_BUCKET_HINT;
    }
    if reasons
        .iter()
        .any(|r| r.contains("UnreservedConcurrentExecution"))
    {
        return "--reserved-concurrency asks for more than the account can set aside (Lambda keeps at least 10 unreserved): lower it, drop it, or raise the account's concurrency quota in Service Quotas";
    }
    "fix the failed resources above; if the stack is now ROLLBACK_COMPLETE, rerun with --force"
}

/// Reads the stack's outputs, waits until the function is Active and its last update done, and
/// reads the version `live` serves.
async fn verify(
    cfn: &aws_sdk_cloudformation::Client,
    lambda: &aws_sdk_lambda::Client,
    stack_name: &str,
) -> Result<(StackOutputs, crate::target::FunctionState, Option<String>)> {
    let state = outputs::stack_state(cfn, stack_name)
        .await?
        .ok_or_else(|| Error::Verify {
            message: format!("stack {stack_name} does not exist after sam deploy reported success"),
            hint: "check the region and --endpoint-url; run `agentdeploy status`".into(),
        })?;
    let stack_outputs = StackOutputs::from_map(&state.outputs);
    let function_name = stack_outputs
        .function_name
        .clone()
        .ok_or_else(|| Error::Verify {
            message: format!(
                "stack {stack_name} ({}) has no FunctionName output",
                state.status
            ),
            hint: "the stack was not created by this version of agentdeploy; redeploy with --force"
                .into(),
        })?;
    let function =
        outputs::wait_function_ready(lambda, &function_name, Duration::from_secs(300)).await?;
    let live_version = match &stack_outputs.live_alias_arn {
        Some(_) => outputs::live_version(lambda, &function_name).await?,
        None => None,
    };
    Ok((stack_outputs, function, live_version))
}

/// SAM names the published version after `AutoPublishCodeSha256` alone when it is given (the
/// code's own hash no longer counts): it must change with the code as well as with the secret
/// values, or a code change would never reach `live`. The digest of both.
fn code_and_secrets_version(
    built_template: &std::path::Path,
    secrets_version: &str,
) -> Result<String> {
    let zip = built_template.with_file_name(crate::lambda::bundle::package::FUNCTION_ZIP);
    let code = crate::digest::file_sha256(&zip).map_err(|e| Error::io(&zip, e))?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(format!("{secrets_version}\0{code}"));
    Ok(crate::digest::hex(&digest))
}

/// A Function URL's auth changed by hand (`AWS_IAM` → `NONE`) is not in the template's diff:
/// CloudFormation leaves it. The deploy sets it back to what the template says, and says so.
async fn restore_url_auth(
    lambda: &aws_sdk_lambda::Client,
    function_name: &str,
    auth: crate::lambda::kinds::AuthMode,
) -> Result<Option<String>> {
    use aws_sdk_lambda::types::FunctionUrlAuthType;
    let wanted = if auth == crate::lambda::kinds::AuthMode::Iam {
        FunctionUrlAuthType::AwsIam
    } else {
        FunctionUrlAuthType::None
    };
    let current = match lambda
        .get_function_url_config()
        .function_name(function_name)
        .qualifier(crate::lambda::render::LIVE_ALIAS)
        .send()
        .await
    {
        Ok(url) => url.auth_type().clone(),
        Err(err) => {
            return Err(outputs::sdk_error(
                &format!(
                    "GetFunctionUrlConfig {function_name}:{}",
                    crate::lambda::render::LIVE_ALIAS
                ),
                &err,
            ));
        }
    };
    if current == wanted {
        return Ok(None);
    }
    lambda
        .update_function_url_config()
        .function_name(function_name)
        .qualifier(crate::lambda::render::LIVE_ALIAS)
        .auth_type(wanted.clone())
        .send()
        .await
        .map_err(|err| {
            outputs::sdk_error(
                &format!(
                    "UpdateFunctionUrlConfig {function_name}:{}",
                    crate::lambda::render::LIVE_ALIAS
                ),
                &err,
            )
        })?;
    Ok(Some(format!(
        "the Function URL's auth was {} (changed outside agentdeploy); set back to {}",
        current.as_str(),
        wanted.as_str()
    )))
}

/// Situations the local AWS cannot produce, replayed from recorded CloudFormation traffic.
#[cfg(test)]
mod replayed {
    use super::*;
    use crate::exit_codes::Classified;
    use crate::secrets::SecretValues;
    use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;

    const NS: &str = "http://cloudformation.amazonaws.com/doc/2010-05-15/";

    fn xml(status: u16, body: String) -> http::Response<SdkBody> {
        http::Response::builder()
            .status(status)
            .header("content-type", "text/xml")
            .body(SdkBody::from(body))
            .unwrap()
    }

    fn request() -> http::Request<SdkBody> {
        http::Request::builder()
            .uri("https://cloudformation.us-east-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap()
    }

    fn describe_stacks(status: &str) -> http::Response<SdkBody> {
        describe_stacks_tagged(status, "x")
    }

    fn describe_stacks_tagged(status: &str, function: &str) -> http::Response<SdkBody> {
        xml(
            200,
            format!(
                r#"<DescribeStacksResponse xmlns="{NS}"><DescribeStacksResult><Stacks><member><StackName>agentdeploy-x</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/agentdeploy-x/1</StackId><Tags><member><Key>agentdeploy:function</Key><Value>{function}</Value></member></Tags><StackStatus>{status}</StackStatus><StackStatusReason>The following resource(s) failed to create: [AgentFunction].</StackStatusReason><CreationTime>2026-11-21T00:00:00Z</CreationTime></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>"#
            ),
        )
    }

    fn does_not_exist() -> http::Response<SdkBody> {
        xml(
            400,
            format!(
                r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Stack with id agentdeploy-x does not exist</Message></Error><RequestId>r2</RequestId></ErrorResponse>"#
            ),
        )
    }

    fn failed_events() -> http::Response<SdkBody> {
        xml(
            200,
            format!(
                r#"<DescribeStackEventsResponse xmlns="{NS}"><DescribeStackEventsResult><StackEvents><member><StackId>s</StackId><EventId>e2</EventId><StackName>agentdeploy-x</StackName><LogicalResourceId>agentdeploy-x</LogicalResourceId><ResourceType>AWS::CloudFormation::Stack</ResourceType><Timestamp>2026-11-21T00:01:00Z</Timestamp><ResourceStatus>ROLLBACK_COMPLETE</ResourceStatus></member><member><StackId>s</StackId><EventId>e1</EventId><StackName>agentdeploy-x</StackName><LogicalResourceId>AgentFunction</LogicalResourceId><ResourceType>AWS::Lambda::Function</ResourceType><Timestamp>2026-11-21T00:00:30Z</Timestamp><ResourceStatus>CREATE_FAILED</ResourceStatus><ResourceStatusReason>Resource handler returned message: "The role defined for the function cannot be assumed by Lambda."</ResourceStatusReason></member></StackEvents></DescribeStackEventsResult></DescribeStackEventsResponse>"#
            ),
        )
    }

    fn empty_ok(operation: &str) -> http::Response<SdkBody> {
        xml(
            200,
            format!(
                r#"<{operation}Response xmlns="{NS}"><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{operation}Response>"#
            ),
        )
    }

    fn client(
        responses: Vec<http::Response<SdkBody>>,
    ) -> (aws_sdk_cloudformation::Client, StaticReplayClient) {
        let (sdk, replay) = replayed_sdk(responses);
        (crate::aws::clients::cloudformation(&sdk), replay)
    }

    #[tokio::test]
    async fn rollback_complete_is_reported_with_the_failed_resource_and_the_fix() {
        let (cfn, replay) = client(vec![describe_stacks("ROLLBACK_COMPLETE"), failed_events()]);
        let err = check_stack_before_deploy(&cfn, "agentdeploy-x", "x", false)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        let text = err.to_string();
        assert!(text.contains("ROLLBACK_COMPLETE"), "{text}");
        assert!(
            text.contains(
                "AgentFunction (AWS::Lambda::Function): Resource handler returned message"
            ),
            "{text}"
        );
        assert!(err.hint().unwrap().contains("--force"));
        assert_eq!(replay.actual_requests().count(), 2);
    }

    #[tokio::test]
    async fn force_deletes_a_rolled_back_stack_and_waits_until_it_is_gone() {
        let (cfn, replay) = client(vec![
            describe_stacks("ROLLBACK_COMPLETE"),
            empty_ok("DeleteStack"),
            describe_stacks("DELETE_IN_PROGRESS"),
            does_not_exist(),
        ]);
        check_stack_before_deploy(&cfn, "agentdeploy-x", "x", true)
            .await
            .unwrap();
        let bodies: Vec<String> = replay
            .actual_requests()
            .map(|r| String::from_utf8_lossy(r.body().bytes().unwrap_or_default()).into_owned())
            .collect();
        assert!(bodies[1].contains("Action=DeleteStack"), "{bodies:?}");
        assert_eq!(bodies.len(), 4);
    }

    #[tokio::test]
    async fn a_stack_made_for_another_function_is_never_taken_over() {
        // `a-b` and `a_b` both default to the stack agentdeploy-a-b.
        for force in [false, true] {
            let (cfn, replay) = client(vec![describe_stacks_tagged("UPDATE_COMPLETE", "a-b")]);
            let err = check_stack_before_deploy(&cfn, "agentdeploy-x", "a_b", force)
                .await
                .unwrap_err();
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(
                text.contains("holds the function `a-b`") && text.contains("would replace"),
                "{text}"
            );
            assert!(err.hint().unwrap().contains("--stack-name"));
            assert_eq!(replay.actual_requests().count(), 1, "nothing deleted");
        }
        let (cfn, _) = client(vec![describe_stacks_tagged("UPDATE_COMPLETE", "a_b")]);
        check_stack_before_deploy(&cfn, "agentdeploy-x", "a_b", false)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_failed_log_group_lookup_is_an_error_never_a_no() {
        let resource = xml(
            200,
            format!(
                r#"<DescribeStackResourceResponse xmlns="{NS}"><DescribeStackResourceResult><StackResourceDetail><StackName>agentdeploy-x</StackName><LogicalResourceId>AgentLogGroup</LogicalResourceId><PhysicalResourceId>/aws/lambda/x</PhysicalResourceId><ResourceType>AWS::Logs::LogGroup</ResourceType><ResourceStatus>CREATE_COMPLETE</ResourceStatus><LastUpdatedTimestamp>2026-11-21T00:00:00Z</LastUpdatedTimestamp></StackResourceDetail></DescribeStackResourceResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></DescribeStackResourceResponse>"#
            ),
        );
        let missing = xml(
            400,
            format!(
                r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Resource AgentLogGroup does not exist for stack agentdeploy-x</Message></Error><RequestId>r4</RequestId></ErrorResponse>"#
            ),
        );
        let denied = || {
            http::Response::builder()
                .status(403)
                .header("content-type", "text/xml")
                .header("x-amzn-requestid", "req-denied-5")
                .body(SdkBody::from(format!(
                    r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: cloudformation:DescribeStackResource</Message></Error><RequestId>req-denied-5</RequestId></ErrorResponse>"#
                )))
                .unwrap()
        };
        let broken = || xml(500, "<html>internal error</html>".to_string());
        let (cfn, _) = client(vec![resource]);
        assert!(
            outputs::stack_owns_log_group(&cfn, "agentdeploy-x")
                .await
                .unwrap()
        );
        let (cfn, _) = client(vec![missing, does_not_exist()]);
        assert!(
            !outputs::stack_owns_log_group(&cfn, "agentdeploy-x")
                .await
                .unwrap()
        );
        assert!(
            !outputs::stack_owns_log_group(&cfn, "agentdeploy-x")
                .await
                .unwrap()
        );
        let failures: [(&dyn Fn() -> http::Response<SdkBody>, &str); 2] = [
            (
                &denied,
                "AccessDenied: User: arn:aws:sts::123456789012:assumed-role/ci/x is not authorized to perform: cloudformation:DescribeStackResource (request id req-denied-5)",
            ),
            (&broken, "HTTP 500: (no message)"),
        ];
        for (failure, detail) in failures {
            // The SDK retries what it may (the 500): every attempt fails here.
            let (cfn, _) = client((0..5).map(|_| failure()).collect());
            let err = outputs::stack_owns_log_group(&cfn, "agentdeploy-x")
                .await
                .unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("DescribeStackResource agentdeploy-x AgentLogGroup failed: {detail}")
            );
            assert!(
                err.hint()
                    .unwrap()
                    .contains("cloudformation:DescribeStackResource")
            );
        }
    }

    #[tokio::test]
    async fn a_stack_mid_update_is_busy() {
        let (cfn, _) = client(vec![describe_stacks("UPDATE_IN_PROGRESS")]);
        let err = check_stack_before_deploy(&cfn, "agentdeploy-x", "x", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("busy"), "{err}");
        let (cfn, _) = client(vec![describe_stacks("REVIEW_IN_PROGRESS")]);
        check_stack_before_deploy(&cfn, "agentdeploy-x", "x", false)
            .await
            .unwrap();
    }

    #[test]
    fn a_reservation_beyond_the_account_gets_its_own_hint() {
        let reasons = ["AgentFunction (AWS::Lambda::Function): Resource handler returned message: \"Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [10].\"".to_string()];
        assert!(deploy_failure_hint("", &reasons).contains("--reserved-concurrency"));
        assert!(
            deploy_failure_hint("Error: S3 Bucket does not exist.", &[]).contains("--s3-bucket")
        );
        assert!(deploy_failure_hint("", &[]).contains("--force"));
    }

    #[tokio::test]
    async fn throttled_calls_are_retried() {
        let throttled = || {
            xml(
                400,
                format!(
                    r#"<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>t</RequestId></ErrorResponse>"#
                ),
            )
        };
        let (cfn, replay) = client(vec![
            throttled(),
            throttled(),
            describe_stacks("CREATE_COMPLETE"),
        ]);
        let state = outputs::stack_state(&cfn, "agentdeploy-x")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(state.status, "CREATE_COMPLETE");
        assert_eq!(
            replay.actual_requests().count(),
            3,
            "two throttled attempts, then success"
        );
    }

    /// One SDK config whose every client answers from `responses`, in order.
    fn replayed_sdk(
        responses: Vec<http::Response<SdkBody>>,
    ) -> (aws_config::SdkConfig, StaticReplayClient) {
        let replay = StaticReplayClient::new(
            responses
                .into_iter()
                .map(|r| ReplayEvent::new(request(), r))
                .collect(),
        );
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .retry_config(crate::aws::retry_config().with_initial_backoff(Duration::from_millis(5)))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    "AKIDTEST", "secret", None, None, "test",
                )),
            )
            .http_client(replay.clone())
            .build();
        (sdk, replay)
    }

    fn json(status: u16, body: &str) -> http::Response<SdkBody> {
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(body.to_string()))
            .unwrap()
    }

    fn stack_with_outputs(outputs: &str) -> http::Response<SdkBody> {
        xml(
            200,
            format!(
                r#"<DescribeStacksResponse xmlns="{NS}"><DescribeStacksResult><Stacks><member><StackName>agentdeploy-x</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/agentdeploy-x/1</StackId><StackStatus>CREATE_COMPLETE</StackStatus><CreationTime>2026-11-21T00:00:00Z</CreationTime><Outputs>{outputs}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>"#
            ),
        )
    }

    fn get_function(state: &str) -> http::Response<SdkBody> {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(SdkBody::from(format!(
                r#"{{"Configuration":{{"FunctionName":"x","Runtime":"python3.13","MemorySize":512,"Timeout":300,"State":"{state}","LastUpdateStatus":"Successful"}}}}"#
            )))
            .unwrap()
    }

    fn bodies(replay: &StaticReplayClient) -> Vec<(String, String)> {
        replay
            .actual_requests()
            .map(|r| {
                (
                    r.uri().to_string(),
                    String::from_utf8_lossy(r.body().bytes().unwrap_or_default()).into_owned(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn verify_reads_the_stack_outputs_then_waits_until_the_function_is_active() {
        let (sdk, replay) = replayed_sdk(vec![
            stack_with_outputs(
                "<member><OutputKey>FunctionName</OutputKey><OutputValue>x</OutputValue></member><member><OutputKey>FunctionArn</OutputKey><OutputValue>arn:aws:lambda:us-east-1:123456789012:function:x</OutputValue></member>",
            ),
            get_function("Pending"),
            get_function("Active"),
        ]);
        let cfn = crate::aws::clients::cloudformation(&sdk);
        let lambda = crate::aws::clients::lambda(&sdk);
        let (outputs, function, live) = verify(&cfn, &lambda, "agentdeploy-x").await.unwrap();
        assert_eq!(live, None, "no LiveAliasArn output: no GetAlias");
        assert_eq!(outputs.function_name.as_deref(), Some("x"));
        assert_eq!(function.state, "Active");
        let sent = bodies(&replay);
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent[0].1.contains("Action=DescribeStacks"), "{sent:?}");
        assert!(sent[0].1.contains("StackName=agentdeploy-x"), "{sent:?}");
        for (uri, _) in &sent[1..] {
            assert!(
                uri.ends_with("/2015-03-31/functions/x"),
                "GetFunction of x: {uri}"
            );
        }
    }

    #[tokio::test]
    async fn one_read_of_the_function_shows_its_state_and_a_failed_read_is_an_error() {
        let denied = http::Response::builder()
            .status(403)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", "AccessDeniedException")
            .header("x-amzn-requestid", "req-get-1")
            .body(SdkBody::from(
                r#"{"Message":"User is not authorized to perform: lambda:GetFunction"}"#,
            ))
            .unwrap();
        let (sdk, replay) = replayed_sdk(vec![get_function("Pending"), denied]);
        let lambda = crate::aws::clients::lambda(&sdk);
        // `status` shows a function that is not Active yet as it is (it showed nothing).
        let pending = outputs::function_state(&lambda, "x").await.unwrap();
        assert_eq!(pending.state, "Pending");
        assert_eq!(pending.reason, None);
        let err = outputs::function_state(&lambda, "x").await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "GetFunction x failed: AccessDeniedException: User is not authorized to perform: lambda:GetFunction (request id req-get-1)"
        );
        assert_eq!(bodies(&replay).len(), 2, "one call each, no waiting");
    }

    #[tokio::test]
    async fn verify_refuses_a_stack_without_the_function_output() {
        let (sdk, replay) = replayed_sdk(vec![stack_with_outputs("")]);
        let cfn = crate::aws::clients::cloudformation(&sdk);
        let lambda = crate::aws::clients::lambda(&sdk);
        let err = verify(&cfn, &lambda, "agentdeploy-x").await.unwrap_err();
        assert_eq!(err.exit_code(), 6);
        assert!(
            err.to_string().contains("has no FunctionName output"),
            "{err}"
        );
        assert_eq!(
            replay.actual_requests().count(),
            1,
            "no GetFunction without a name"
        );
    }

    #[tokio::test]
    async fn ssm_secrets_are_put_as_overwritten_secure_strings_under_the_stack() {
        let (sdk, replay) = replayed_sdk(vec![
            json(200, r#"{"Version":1,"Tier":"Standard"}"#),
            json(200, r#"{"Version":3,"Tier":"Standard"}"#),
        ]);
        let secrets = SecretValues {
            values: vec![
                ("TOKEN".into(), "s3cr3t-value-1".into()),
                ("OTHER".into(), "s3cr3t-value-2".into()),
            ],
        };
        put_ssm_secrets(&sdk, "agentdeploy-x", &secrets)
            .await
            .unwrap();
        let sent: Vec<serde_json::Value> = bodies(&replay)
            .iter()
            .map(|(_, body)| serde_json::from_str(body).unwrap())
            .collect();
        assert_eq!(sent.len(), 2);
        assert_eq!(sent[0]["Name"], "/agentdeploy/agentdeploy-x/TOKEN");
        assert_eq!(sent[0]["Value"], "s3cr3t-value-1");
        assert_eq!(sent[0]["Type"], "SecureString");
        assert_eq!(sent[0]["Overwrite"], true);
        assert_eq!(sent[1]["Name"], "/agentdeploy/agentdeploy-x/OTHER");
    }

    #[tokio::test]
    async fn a_refused_ssm_put_names_the_parameter_and_never_the_value() {
        let (sdk, _) = replayed_sdk(vec![json(
            400,
            r#"{"__type":"AccessDeniedException","message":"not allowed to ssm:PutParameter"}"#,
        )]);
        let secrets = SecretValues {
            values: vec![("TOKEN".into(), "s3cr3t-value-1".into())],
        };
        let err = put_ssm_secrets(&sdk, "agentdeploy-x", &secrets)
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 5);
        let text = format!("{err} {}", err.hint().unwrap_or_default());
        assert!(text.contains("/agentdeploy/agentdeploy-x/TOKEN"), "{text}");
        assert!(!text.contains("s3cr3t-value-1"), "{text}");
    }
}
