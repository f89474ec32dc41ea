//! Preflight checks (SPEC §2): `sam` and `aws` on PATH and their versions, the runtime's
//! interpreter, Docker when a container build is needed, credentials (aws-config's default
//! chain + STS GetCallerIdentity) and the region. `doctor` runs them all and reports each.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::settings::Runtime;

/// Oldest `sam` that builds python3.13 and knows every flag we pass.
pub const MIN_SAM_VERSION: (u32, u32, u32) = (1, 130, 0);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// `(major, minor)` of `python` if it is on PATH and starts.
pub fn interpreter_version(python: &str) -> Option<(u32, u32)> {
    VersionProbe::start(python)?.finish()
}

/// A running `python -c 'print(version)'`, so several can run at once.
pub struct VersionProbe {
    child: std::process::Child,
}

impl VersionProbe {
    /// None when `python` is not on PATH or cannot be started.
    pub fn start(python: &str) -> Option<VersionProbe> {
        let path = which::which(python).ok()?;
        let child = Command::new(path)
            // Isolated and without site: nothing from the user's environment, and a faster start.
            .args([
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.version_info[0], sys.version_info[1])",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(VersionProbe { child })
    }

    pub fn finish(self) -> Option<(u32, u32)> {
        let output = self.child.wait_with_output().ok()?;
        if !output.status.success() {
            return None;
        }
        let text = String::from_utf8(output.stdout).ok()?;
        let mut parts = text.split_whitespace();
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// The answer is no longer needed.
    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sam` executable, its version checked against the minimum.
#[derive(Debug, Clone)]
pub struct SamCli {
    pub path: PathBuf,
    pub version: (u32, u32, u32),
}

/// `find_sam` once per process (a fleet shares one sam), on a blocking thread.
pub async fn sam_cli() -> Result<SamCli> {
    static SAM: tokio::sync::OnceCell<SamCli> = tokio::sync::OnceCell::const_new();
    SAM.get_or_try_init(|| async {
        tokio::task::spawn_blocking(find_sam)
            .await
            .map_err(|e| Error::internal(format!("checking sam stopped: {e}")))?
    })
    .await
    .cloned()
}

pub fn find_sam() -> Result<SamCli> {
    let path = which::which("sam").map_err(|_| Error::Preflight {
        message: "`sam` (AWS SAM CLI) was not found on PATH".into(),
        hint: "install it: `pip install aws-sam-cli` (or see https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/install-sam-cli.html), then run `agentdeploy doctor`".into(),
    })?;
    let output = Command::new(&path)
        .arg("--version")
        .env("SAM_CLI_TELEMETRY", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Preflight {
            message: format!("`{}` could not be run: {e}", path.display()),
            hint: "reinstall the AWS SAM CLI".into(),
        })?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let version = parse_sam_version(&text).ok_or_else(|| Error::Preflight {
        message: format!(
            "could not read the version of `{}` (it printed {:?})",
            path.display(),
            text.trim()
        ),
        hint: "reinstall the AWS SAM CLI".into(),
    })?;
    if version < MIN_SAM_VERSION {
        let (a, b, c) = version;
        let (x, y, z) = MIN_SAM_VERSION;
        return Err(Error::Preflight {
            message: format!("`sam` {a}.{b}.{c} is older than the minimum {x}.{y}.{z}"),
            hint: "upgrade it: `pip install --upgrade aws-sam-cli` (or your package manager's upgrade)".into(),
        });
    }
    Ok(SamCli { path, version })
}

/// `SAM CLI, version 1.170.0` → (1, 170, 0).
pub fn parse_sam_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let mut parts = word
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Some((major, minor, patch))
}

/// Is a Docker engine answering? (The client alone is not enough for `--use-container`.)
pub fn docker_answers() -> bool {
    let Ok(docker) = which::which("docker") else {
        return false;
    };
    let child = Command::new(docker)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    // `docker info` can hang on a stale socket; give it a few seconds.
    for _ in 0..50 {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            Err(_) => return false,
        }
    }
    let _ = child.kill();
    false
}

pub fn docker_error() -> Error {
    Error::Preflight {
        message: "Docker is not running (a container build was requested with --use-container always)".into(),
        hint: "start Docker (`docker info` must answer), or use --use-container never / auto to build without it".into(),
    }
}

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
    let sdk = load_sdk_config(region, profile, endpoint_url).await;
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| Error::Preflight {
        message: "no AWS region is set".into(),
        hint: "pass --region, set `region` in agentdeploy.toml, export AWS_REGION, or set one in your AWS profile".into(),
    })?;
    if sdk.credentials_provider().is_none() {
        return Err(no_credentials("no credentials provider is configured"));
    }
    let identity = caller_identity(&crate::orchestrate::aws_clients::sts(&sdk)).await?;
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

/// STS GetCallerIdentity: (account, ARN), or a preflight error that says what is wrong.
pub async fn caller_identity(sts: &aws_sdk_sts::Client) -> Result<(String, String)> {
    let identity = sts.get_caller_identity().send().await.map_err(|err| {
        use aws_sdk_sts::error::SdkError;
        let detail = match &err {
            SdkError::ServiceError(service) => {
                let meta =
                    aws_smithy_types::error::metadata::ProvideErrorMetadata::meta(service.err());
                format!(
                    "{}: {}",
                    meta.code().unwrap_or("error"),
                    meta.message().unwrap_or("")
                )
            }
            SdkError::DispatchFailure(dispatch) => format!("could not reach STS ({dispatch:?})"),
            other => format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(other)
            ),
        };
        classify_credentials_error(&detail)
    })?;
    Ok((
        identity.account().unwrap_or_default().to_string(),
        identity.arn().unwrap_or_default().to_string(),
    ))
}

fn no_credentials(detail: &str) -> Error {
    Error::Preflight {
        message: format!("no usable AWS credentials: {detail}"),
        hint: "configure credentials: `aws configure`, `aws sso login --profile NAME` with --profile NAME, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (in CI: an OIDC role)".into(),
    }
}

pub fn classify_credentials_error(detail: &str) -> Error {
    let lower = detail.to_lowercase();
    if lower.contains("expired") {
        Error::Preflight {
            message: format!("the AWS credentials have expired ({detail})"),
            hint:
                "refresh them: `aws sso login` for SSO profiles, or new keys / a new session token"
                    .into(),
        }
    } else if lower.contains("accessdenied")
        || lower.contains("access denied")
        || lower.contains("not authorized")
    {
        Error::Preflight {
            message: format!("AWS denied access ({detail})"),
            hint: "the identity needs sts:GetCallerIdentity plus CloudFormation, Lambda, IAM, S3 and API Gateway permissions to deploy; check the profile or role".into(),
        }
    } else if lower.contains("credential")
        || lower.contains("invalidclienttokenid")
        || lower.contains("signature")
    {
        no_credentials(detail)
    } else {
        Error::Preflight {
            message: format!("could not check the AWS credentials: {detail}"),
            hint: "check the network and --endpoint-url / AWS_ENDPOINT_URL, then run `agentdeploy doctor`".into(),
        }
    }
}

/// Every check, for `agentdeploy doctor`.
pub async fn doctor(
    runtime: Runtime,
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let check = |name: &str, status: CheckStatus, detail: String, hint: Option<String>| Check {
        name: name.into(),
        status,
        detail,
        hint,
    };
    match find_sam() {
        Ok(sam) => {
            let (a, b, c) = sam.version;
            checks.push(check(
                "sam",
                CheckStatus::Pass,
                format!("{} {a}.{b}.{c}", sam.path.display()),
                None,
            ));
        }
        Err(err) => checks.push(check(
            "sam",
            CheckStatus::Fail,
            err.to_string(),
            err.hint().map(str::to_string),
        )),
    }
    match which::which("aws") {
        Ok(path) => {
            let version = Command::new(&path).arg("--version").stdin(Stdio::null()).output().ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr))
                .and_then(|t| t.split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            checks.push(check("aws", CheckStatus::Pass, format!("{} {version}", path.display()), None));
        }
        Err(_) => checks.push(check("aws", CheckStatus::Warn, "`aws` CLI not found on PATH (agentdeploy does not need it; the hints that print aws commands do)".into(), Some("install it with `pip install awscli` or the AWS CLI v2 installer".into()))),
    }
    match interpreter_version(&runtime.interpreter()) {
        Some(_) => checks.push(check(
            "python",
            CheckStatus::Pass,
            format!("{} answers: native `sam build`", runtime.interpreter()),
            None,
        )),
        None => checks.push(check(
            "python",
            CheckStatus::Warn,
            format!(
                "no {} on PATH: builds use a container or the cross-platform pip path",
                runtime.interpreter()
            ),
            Some(format!(
                "install {} for native builds",
                runtime.interpreter()
            )),
        )),
    }
    if docker_answers() {
        checks.push(check(
            "docker",
            CheckStatus::Pass,
            "Docker answers".into(),
            None,
        ));
    } else {
        checks.push(check(
            "docker",
            CheckStatus::Warn,
            "Docker is not running (needed only for --use-container)".into(),
            Some("start Docker, or rely on native / cross-platform builds".into()),
        ));
    }
    match aws_context(region, profile, endpoint_url).await {
        Ok(ctx) => {
            checks.push(check("region", CheckStatus::Pass, ctx.region.clone(), None));
            checks.push(check(
                "credentials",
                CheckStatus::Pass,
                format!("account {} as {}", ctx.account, ctx.caller_arn),
                None,
            ));
        }
        Err(err) => {
            let name = if err.to_string().contains("region") {
                "region"
            } else {
                "credentials"
            };
            checks.push(check(
                name,
                CheckStatus::Fail,
                err.to_string(),
                err.hint().map(str::to_string),
            ));
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sam_versions() {
        assert_eq!(
            parse_sam_version("SAM CLI, version 1.170.0\n"),
            Some((1, 170, 0))
        );
        assert_eq!(
            parse_sam_version("SAM CLI, version 1.99.1.dev202401"),
            Some((1, 99, 1))
        );
        assert_eq!(parse_sam_version("nonsense"), None);
        assert!(parse_sam_version("SAM CLI, version 1.50.0").unwrap() < MIN_SAM_VERSION);
    }

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
        assert_eq!(crate::orchestrate::exit_codes::exit_code(&err), 3);
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
        assert_eq!(crate::orchestrate::exit_codes::exit_code(&err), 3);
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
    fn credential_errors_are_classified_with_hints() {
        let e = classify_credentials_error(
            "ExpiredToken: The security token included in the request is expired",
        );
        assert!(e.to_string().contains("expired"));
        let e = classify_credentials_error("AccessDenied: User is not authorized");
        assert!(e.hint().unwrap().contains("permissions"));
        let e = classify_credentials_error(
            "InvalidClientTokenId: The security token included in the request is invalid",
        );
        assert!(e.hint().unwrap().contains("aws configure"));
    }
}
