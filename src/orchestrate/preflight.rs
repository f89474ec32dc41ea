//! `doctor`'s shared checks (the `aws` CLI, the region, the credentials) around the target's
//! own.

use std::process::{Command, Stdio};

use crate::aws::context_for;
use crate::target::{Check, CheckStatus};

/// The checks every target shares, after its own: `aws`, region, credentials.
pub async fn shared_checks(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Vec<Check> {
    let mut checks = vec![aws_cli_check()];
    checks.extend(aws_checks(region, profile, endpoint_url).await);
    checks
}

fn aws_cli_check() -> Check {
    match which::which("aws") {
        Ok(path) => {
            let version = Command::new(&path)
                .arg("--version")
                .stdin(Stdio::null())
                .output()
                .ok()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout).to_string()
                        + &String::from_utf8_lossy(&o.stderr)
                })
                .and_then(|t| t.split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            Check::new(
                "aws",
                CheckStatus::Pass,
                format!("{} {version}", path.display()),
                None,
            )
        }
        Err(_) => Check::new(
            "aws",
            CheckStatus::Warn,
            "`aws` CLI not found on PATH (agentdeploy does not need it; the hints that print aws commands do)".into(),
            Some("install it with `pip install awscli` or the AWS CLI v2 installer".into()),
        ),
    }
}

/// Region and credentials: separate checks, each failing with its own error.
async fn aws_checks(
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Vec<Check> {
    let sdk = crate::aws::load_sdk_config(region, profile, endpoint_url).await;
    match crate::aws::region_of(&sdk) {
        Ok(region) => vec![
            Check::new("region", CheckStatus::Pass, region.clone(), None),
            match context_for(sdk, endpoint_url).await {
                Ok(ctx) => Check::new(
                    "credentials",
                    CheckStatus::Pass,
                    format!("account {} as {}", ctx.account, ctx.caller_arn),
                    None,
                ),
                Err(err) => Check::failed("credentials", &err),
            },
        ],
        Err(err) => vec![Check::failed("region", &err)],
    }
}
