//! The AWS identity a run works as: the SDK configuration (region, profile, endpoint, retries)
//! loaded in one place, credentials checked with STS GetCallerIdentity, and credential failures
//! turned into preflight errors with a fix.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::error::{Error, Result};

/// The AWS identity and where it points.
#[derive(Debug, Clone)]
pub struct AwsContext {
    pub sdk: SdkConfig,
    pub region: String,
    pub account: String,
    pub caller_arn: String,
    pub endpoint_url: Option<String>,
}

/// Adaptive retries: throttled calls back off and the client slows itself down.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive().with_max_attempts(5)
}

pub async fn load_sdk_config(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Credentials through the default chain, checked with STS GetCallerIdentity; the region resolved.
pub async fn aws_context(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<AwsContext> {
    context_for(
        load_sdk_config(region, profile, endpoint_url).await,
        endpoint_url,
    )
    .await
}

/// The context of an already loaded SDK config: its region, then who the credentials are.
pub async fn context_for(sdk: SdkConfig, endpoint_url: Option<&str>) -> Result<AwsContext> {
    let region = region_of(&sdk)?;
    if sdk.credentials_provider().is_none() {
        return Err(
            crate::aws::CredentialsProblem::Unusable.error("no credentials provider is configured")
        );
    }
    let identity = caller_identity(&super::clients::sts(&sdk)).await?;
    Ok(AwsContext {
        region,
        account: identity.0,
        caller_arn: identity.1,
        endpoint_url: endpoint_url
            .map(str::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()),
        sdk,
    })
}

/// The region the SDK settled on, or the preflight error that says how to set one.
pub fn region_of(sdk: &aws_config::SdkConfig) -> Result<String> {
    sdk.region().map(|r| r.to_string()).ok_or_else(|| Error::Preflight {
        message: "no AWS region is set".into(),
        hint: "pass --region, set `region` in agentdeploy.toml, export AWS_REGION, or set one in your AWS profile".into(),
    })
}

/// STS GetCallerIdentity: (account, ARN), or a preflight error that says what is wrong.
pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<(String, String)> {
    let identity = sts.get_caller_identity().send().await.map_err(|err| {
        let (detail, problem) = crate::aws::read_sdk_failure(&err);
        match problem {
            Some(problem) => problem.error(&detail),
            None => Error::Preflight {
                message: format!("could not check the AWS credentials: {detail}"),
                hint: "check the network and --endpoint-url / AWS_ENDPOINT_URL, then run `agentdeploy doctor`".into(),
            },
        }
    })?;
    Ok((
        identity.account().unwrap_or_default().to_string(),
        identity.arn().unwrap_or_default().to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit_codes::Classified;

    fn sts_replying(status: u16, body: &str) -> aws_sdk_sts::Client {
        use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
        use aws_smithy_types::body::SdkBody;
        let request = http::Request::builder()
            .uri("https://sts.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap();
        let response = http::Response::builder()
            .status(status)
            .body(SdkBody::from(body.to_string()))
            .unwrap();
        let replay = StaticReplayClient::new(vec![ReplayEvent::new(request, response)]);
        let config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "AKIDTEST",
                "secret",
                Some("token".into()),
                None,
                "test",
            ))
            .http_client(replay)
            .build();
        aws_sdk_sts::Client::from_conf(config)
    }

    fn sts_error(code: &str, message: &str) -> String {
        format!(
            r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"#
        )
    }

    #[tokio::test]
    async fn expired_credentials_from_sts_exit_3_with_the_refresh_hint() {
        let sts = sts_replying(
            403,
            &sts_error(
                "ExpiredToken",
                "The security token included in the request is expired",
            ),
        );
        let err = caller_identity(&sts).await.unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("have expired"), "{err}");
        assert!(err.hint().unwrap().contains("aws sso login"));
    }

    #[tokio::test]
    async fn access_denied_from_sts_exits_3_naming_the_permissions() {
        let sts = sts_replying(
            403,
            &sts_error(
                "AccessDenied",
                "User: arn:aws:iam::1:user/x is not authorized to perform: sts:GetCallerIdentity",
            ),
        );
        let err = caller_identity(&sts).await.unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("AWS denied access"), "{err}");
        assert!(err.hint().unwrap().contains("sts:GetCallerIdentity"));
    }

    #[tokio::test]
    async fn a_good_identity_gives_account_and_arn() {
        let sts = sts_replying(
            200,
            r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/dev</Arn><UserId>AID</UserId><Account>111122223333</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#,
        );
        assert_eq!(
            caller_identity(&sts).await.unwrap(),
            (
                "111122223333".to_string(),
                "arn:aws:iam::111122223333:user/dev".to_string()
            )
        );
    }

    #[test]
    fn credential_problems_come_from_error_codes() {
        use crate::aws::CredentialsProblem;
        assert_eq!(
            CredentialsProblem::from_code("ExpiredToken"),
            Some(CredentialsProblem::Expired)
        );
        assert_eq!(
            CredentialsProblem::from_code("AccessDenied"),
            Some(CredentialsProblem::Denied)
        );
        assert_eq!(
            CredentialsProblem::from_code("InvalidClientTokenId"),
            Some(CredentialsProblem::Unusable)
        );
        // A message that merely mentions expiry is not an expired credential.
        assert_eq!(CredentialsProblem::from_code("ValidationError"), None);
        let e = CredentialsProblem::Unusable.error("InvalidClientTokenId: invalid");
        assert!(e.hint().unwrap().contains("aws configure"));
    }

    #[tokio::test]
    async fn an_unrelated_error_that_mentions_expiry_is_not_called_expired_credentials() {
        let sts = sts_replying(
            400,
            &sts_error(
                "ValidationError",
                "the token for this request expired in transit",
            ),
        );
        let err = caller_identity(&sts).await.unwrap_err();
        assert!(
            err.to_string()
                .contains("could not check the AWS credentials"),
            "{err}"
        );
    }
}
