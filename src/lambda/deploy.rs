//! The Lambda target's remote phases: resolve → build → deploy → verify (SPEC §6, §7).

use std::time::Duration;

use crate::aws::AwsContext;
use crate::error::{Error, Result};
use crate::files::write_atomically;
use crate::lambda::outputs::{self, StackOutputs};
use crate::lambda::render;
use crate::lambda::sam::{self, BuildRequest, BuildStrategy, DeployRequest, SecretConfig};
use crate::lambda::{LambdaPlan, artifact, key_lock, package, resolve};
use crate::process::ToolOptions;
use crate::secrets::SecretValues;
use crate::settings::{LambdaSettings, SecretsStore};
use crate::timings;
use crate::tools::SamCli;

pub struct DeployInputs<'a> {
    pub settings: &'a LambdaSettings,
    pub plan: &'a LambdaPlan,
    pub aws: &'a AwsContext,
    pub sam: &'a SamCli,
    pub secrets: &'a SecretValues,
    pub tool: ToolOptions<'a>,
}

#[derive(Debug, Clone)]
pub struct Deployed {
    pub outputs: StackOutputs,
    pub pins: Vec<String>,
    pub resolve_cached: bool,
    pub strategy: BuildStrategy,
    /// Built dependencies were reused: this agent's previous build (a code-only change) or
    /// another agent's with the same set.
    pub build_cached: bool,
    pub artifact_bytes: u64,
    /// sam found nothing to change.
    pub no_changes: bool,
    pub function: outputs::FunctionState,
}

/// Environment for every sam child: the endpoint override, and no telemetry (a closed network
/// makes sam's telemetry calls hang for tens of seconds), unless the user chose otherwise.
pub fn sam_env(aws: &AwsContext, profile: Option<&str>) -> Vec<(String, String)> {
    let mut envs = vec![("AWS_REGION".to_string(), aws.region.clone())];
    if std::env::var_os("SAM_CLI_TELEMETRY").is_none() {
        envs.push(("SAM_CLI_TELEMETRY".into(), "0".into()));
    }
    if let Some(url) = &aws.endpoint_url {
        envs.push(("AWS_ENDPOINT_URL".into(), url.clone()));
    }
    if let Some(profile) = profile {
        envs.push(("AWS_PROFILE".into(), profile.to_string()));
    }
    envs
}

/// Refuses (or with --force repairs) a stack the deploy cannot proceed from.
pub async fn check_stack_before_deploy(
    cfn: &aws_sdk_cloudformation::Client,
    stack_name: &str,
    force: bool,
) -> Result<()> {
    let Some(state) = outputs::stack_state(cfn, stack_name).await? else {
        return Ok(());
    };
    if state.is_rollback_complete()
        || (state.is_failed() && state.status != "UPDATE_ROLLBACK_FAILED")
    {
        if force {
            tracing::warn!(
                "stack {} is {}; deleting it (--force) before deploying again",
                stack_name,
                state.status
            );
            return outputs::delete_stack_and_wait(cfn, stack_name, Duration::from_secs(900)).await;
        }
        let reasons = outputs::failed_resources(cfn, stack_name).await;
        return Err(Error::Deploy {
            message: format!(
                "stack {} is in {} from an earlier failed deploy{}",
                stack_name,
                state.status,
                if reasons.is_empty() { String::new() } else { format!("; it failed because:\n  {}", reasons.join("\n  ")) }
            ),
            hint: "fix the cause above, then rerun with --force to delete the failed stack and create it again".into(),
        });
    }
    if state.status == "UPDATE_ROLLBACK_FAILED" {
        return Err(Error::Deploy {
            message: format!("stack {} is in UPDATE_ROLLBACK_FAILED", stack_name),
            hint: format!(
                "continue the rollback: `aws cloudformation continue-update-rollback --stack-name {}`, then deploy again",
                stack_name
            ),
        });
    }
    // REVIEW_IN_PROGRESS is a change set that was never executed (e.g. an interrupted run):
    // sam deploy creates a new one, so it is not "busy".
    if state.is_in_progress() && state.status != "REVIEW_IN_PROGRESS" {
        return Err(Error::Deploy {
            message: format!("stack {} is busy ({})", stack_name, state.status),
            hint:
                "wait for the running operation to finish (`agentdeploy status`), then deploy again"
                    .into(),
        });
    }
    Ok(())
}

/// The steps of a deploy, in order, as the progress line and the record report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Resolving,
    Building,
    Deploying,
    Verifying,
}

impl Phase {
    pub fn describe(self) -> &'static str {
        match self {
            Phase::Resolving => "resolving dependencies",
            Phase::Building => "building",
            Phase::Deploying => "deploying",
            Phase::Verifying => "verifying",
        }
    }
}

pub async fn deploy(inputs: DeployInputs<'_>, phase: &(dyn Fn(Phase) + Sync)) -> Result<Deployed> {
    let DeployInputs {
        settings,
        plan,
        aws,
        sam: sam_cli,
        secrets,
        tool,
    } = inputs;
    let cfn = crate::aws::clients::cloudformation(&aws.sdk);
    let lambda = crate::aws::clients::lambda(&aws.sdk);
    check_stack_before_deploy(&cfn, &settings.stack_name, settings.force).await?;

    phase(Phase::Resolving);
    let cache_dir = settings.project_dir.join(".agentdeploy").join("cache");
    let resolved = resolve::resolve(resolve::ResolveRequest {
        specifiers: &plan.requirements.specifiers,
        runtime: settings.runtime,
        architecture: settings.architecture,
        cache_dir: &cache_dir,
        tool: tool.clone(),
    })
    .await?;
    let mut pinned = format!(
        "# Pinned by agentdeploy for {} {} from: {}\n",
        settings.runtime.name(),
        settings.architecture.as_str(),
        plan.requirements.specifiers.join(", ")
    );
    if let Some(house) = &resolved.wheelhouse {
        // Pure-Python wheels built here for distributions that publish only sources.
        pinned.push_str(&format!("--find-links {}\n", house.display()));
    }
    for pin in &resolved.pins {
        pinned.push_str(pin);
        pinned.push('\n');
    }
    write_atomically(
        &settings.out_dir.join("src/requirements.txt"),
        pinned.as_bytes(),
    )?;
    let samconfig = render::render_samconfig(settings, Some(&aws.region), &[])?;
    write_atomically(
        &settings.out_dir.join("samconfig.toml"),
        samconfig.as_bytes(),
    )?;

    phase(Phase::Building);
    let envs = sam_env(aws, settings.profile.as_deref());
    let build_request = BuildRequest {
        sam: sam_cli,
        out_dir: &settings.out_dir,
        runtime: settings.runtime,
        architecture: settings.architecture,
        use_container: settings.use_container,
        allow_cross_platform: std::env::var("AGENTDEPLOY_NO_CROSS_PLATFORM")
            .map(|v| v != "1")
            .unwrap_or(true),
        envs: envs.clone(),
    };
    let deps = sam::deps_hash(&resolved.pins, settings.runtime, settings.architecture);
    let shared = package::SharedDeps::new(&cache_dir, &deps);
    let code_dir = settings.out_dir.join("src");
    // Fleet members with the same dependency set wait for the first one's build and then zip
    // their code onto its dependencies: each set goes through `sam build` once.
    let build_turn = key_lock::for_path(&shared.zip);
    let build_turn = timings::timed(timings::Category::Sam, build_turn.lock()).await;
    // Reuse, cheapest first: the zipped dependencies (no build folder needed), then this
    // agent's own built folder (the zip was deleted), else `sam build`. `--force` rebuilds.
    let facts = shared.facts().filter(|_| !settings.force);
    let incremental = if settings.force || facts.is_some() {
        None
    } else {
        sam::try_incremental(&settings.out_dir, &deps)?
    };
    let (strategy, artifact_dir, build_cached, artifact_bytes) = match (facts, incremental) {
        (Some(facts), _) => {
            let bytes = facts.unzipped_bytes + artifact::dir_size(&code_dir);
            artifact::check_total(bytes, artifact_limit())?;
            (facts.strategy, None, true, bytes)
        }
        (None, Some(build)) => {
            let bytes = artifact::check_size(&build.artifact_dir, artifact_limit())?;
            (build.strategy, Some(build.artifact_dir), true, bytes)
        }
        (None, None) => {
            let build = sam::build(&build_request, &tool).await?;
            sam::write_marker(&settings.out_dir, &deps, build.strategy)?;
            let bytes = artifact::check_size(&build.artifact_dir, artifact_limit())?;
            (build.strategy, Some(build.artifact_dir), false, bytes)
        }
    };
    let build_dir = sam::build_dir(&settings.out_dir);
    timings::timed(
        timings::Category::Zip,
        package::package_off_runtime(package::PackageRequest {
            build_dir: build_dir.clone(),
            artifact_dir,
            code_dir,
            shared,
            strategy,
            fresh_build: !build_cached,
        }),
    )
    .await?;
    drop(build_turn);
    let built_template = build_dir.join("template.yaml");
    write_atomically(
        &built_template,
        render::render_template(settings, &plan.iam, package::FUNCTION_ZIP)?.as_bytes(),
    )?;

    phase(Phase::Deploying);
    if settings.secrets_store == SecretsStore::Ssm {
        put_ssm_secrets(&aws.sdk, &settings.stack_name, secrets).await?;
    }
    let secret_config = if secrets.values.is_empty() || settings.secrets_store == SecretsStore::Ssm
    {
        None
    } else {
        let parameters = render::secret_parameters(&settings.secrets);
        let overrides: Vec<(String, String)> = parameters
            .iter()
            .filter_map(|p| {
                secrets
                    .values
                    .iter()
                    .find(|(name, _)| *name == p.name)
                    .map(|(_, v)| (p.parameter.clone(), v.clone()))
            })
            .collect();
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
    let run = sam::deploy(
        &DeployRequest {
            sam: sam_cli,
            out_dir: &settings.out_dir,
            built_template: &built_template,
            region: &aws.region,
            config_file: &config_file,
            envs,
        },
        tool.clone(),
    )
    .await?;
    drop(secret_config);
    if !run.success {
        let reasons = outputs::failed_resources(&cfn, &settings.stack_name).await;
        let detail = if reasons.is_empty() {
            run.tail(12)
        } else {
            reasons.join("\n  ")
        };
        return Err(Error::Deploy {
            message: format!(
                "sam deploy of stack {} failed:\n  {detail}",
                settings.stack_name
            ),
            hint: if run.text().contains("S3 Bucket does not exist")
                || run.text().contains("NoSuchBucket")
            {
                "the artifact bucket does not exist: create it, pass another --s3-bucket, or use --resolve-s3".into()
            } else {
                "fix the failed resources above; if the stack is now ROLLBACK_COMPLETE, rerun with --force".into()
            },
        });
    }
    let no_changes = run.text().contains("No changes to deploy");

    phase(Phase::Verifying);
    let state = outputs::stack_state(&cfn, &settings.stack_name)
        .await?
        .ok_or_else(|| Error::Verify {
            message: format!(
                "stack {} does not exist after sam deploy reported success",
                settings.stack_name
            ),
            hint: "check the region and --endpoint-url; run `agentdeploy status`".into(),
        })?;
    let stack_outputs = StackOutputs::from_map(&state.outputs);
    let function_name = stack_outputs
        .function_name
        .clone()
        .ok_or_else(|| Error::Verify {
            message: format!(
                "stack {} ({}) has no FunctionName output",
                settings.stack_name, state.status
            ),
            hint: "the stack was not created by this version of agentdeploy; redeploy with --force"
                .into(),
        })?;
    let function =
        outputs::wait_function_ready(&lambda, &function_name, Duration::from_secs(300)).await?;
    Ok(Deployed {
        outputs: stack_outputs,
        pins: resolved.pins,
        resolve_cached: resolved.cached,
        strategy,
        build_cached,
        artifact_bytes,
        no_changes,
        function,
    })
}

/// `--secrets-store ssm`: each value as a SecureString under `/agentdeploy/<stack>/<NAME>`.
pub async fn put_ssm_secrets(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    secrets: &SecretValues,
) -> Result<()> {
    let ssm = crate::aws::clients::ssm(sdk);
    for (name, value) in &secrets.values {
        let parameter = SecretsStore::parameter_name(stack_name, name);
        ssm.put_parameter()
            .name(&parameter)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .description(format!("agentdeploy secret {name} for stack {stack_name}"))
            .send()
            .await
            .map_err(|e| Error::Deploy {
                // The SDK's error never echoes the value; only the parameter name is shown.
                message: format!(
                    "storing secret {name} in SSM ({parameter}) failed: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ),
                hint: "the deploying identity needs ssm:PutParameter on /agentdeploy/*".into(),
            })?;
    }
    Ok(())
}

/// Removes every secret parameter of a stack (`destroy`); returns how many were deleted.
pub async fn delete_ssm_secrets(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<usize> {
    let ssm = crate::aws::clients::ssm(sdk);
    let path = format!("/agentdeploy/{stack_name}/");
    let mut names = Vec::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(&path)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Error::internal(format!(
                "listing {path} in SSM: {}",
                aws_smithy_types::error::display::DisplayErrorContext(&e)
            ))
        })?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
    }
    for name in &names {
        ssm.delete_parameter()
            .name(name)
            .send()
            .await
            .map_err(|e| {
                Error::internal(format!(
                    "deleting {name} from SSM: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                ))
            })?;
    }
    Ok(names.len())
}

/// Lambda's limit; `AGENTDEPLOY_MAX_ARTIFACT_BYTES` lowers it (for tests and stricter budgets).
fn artifact_limit() -> u64 {
    std::env::var("AGENTDEPLOY_MAX_ARTIFACT_BYTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|v: u64| v.min(artifact::MAX_UNZIPPED_BYTES))
        .unwrap_or(artifact::MAX_UNZIPPED_BYTES)
}

/// Situations the local AWS cannot produce, replayed from recorded CloudFormation traffic.
#[cfg(test)]
mod replayed {
    use super::*;
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
        xml(
            200,
            format!(
                r#"<DescribeStacksResponse xmlns="{NS}"><DescribeStacksResult><Stacks><member><StackName>agentdeploy-x</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/agentdeploy-x/1</StackId><StackStatus>{status}</StackStatus><StackStatusReason>The following resource(s) failed to create: [AgentFunction].</StackStatusReason><CreationTime>2026-11-21T00:00:00Z</CreationTime></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></DescribeStacksResponse>"#
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
        let replay = StaticReplayClient::new(
            responses
                .into_iter()
                .map(|r| ReplayEvent::new(request(), r))
                .collect(),
        );
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .retry_config(crate::aws::retry_config().with_initial_backoff(Duration::from_millis(5)))
            .http_client(replay.clone())
            .build();
        (aws_sdk_cloudformation::Client::from_conf(config), replay)
    }

    #[tokio::test]
    async fn rollback_complete_is_reported_with_the_failed_resource_and_the_fix() {
        let (cfn, replay) = client(vec![describe_stacks("ROLLBACK_COMPLETE"), failed_events()]);
        let err = check_stack_before_deploy(&cfn, "agentdeploy-x", false)
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
        check_stack_before_deploy(&cfn, "agentdeploy-x", true)
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
    async fn a_stack_mid_update_is_busy() {
        let (cfn, _) = client(vec![describe_stacks("UPDATE_IN_PROGRESS")]);
        let err = check_stack_before_deploy(&cfn, "agentdeploy-x", false)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("busy"), "{err}");
        let (cfn, _) = client(vec![describe_stacks("REVIEW_IN_PROGRESS")]);
        check_stack_before_deploy(&cfn, "agentdeploy-x", false)
            .await
            .unwrap();
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
}
