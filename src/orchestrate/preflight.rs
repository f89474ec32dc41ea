//! Preflight checks (reference §2): `sam` and `aws` on PATH and their versions, the runtime's
//! interpreter, Docker when a container build is needed, credentials (aws-config's default
//! chain + STS GetCallerIdentity) and the region. `doctor` runs them all and reports each.

use std::process::{Command, Stdio};

use serde::Serialize;

use crate::aws::context_for;
use crate::error::Error;
use crate::settings::Runtime;
use crate::tools::{docker_answers, find_sam, interpreter_version};

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

/// Every check, for `agentdeploy doctor`, in the order the report lists them.
pub async fn doctor(
    runtime: Runtime,
    region: Option<&str>,
    profile: Option<&str>,
    endpoint_url: Option<&str>,
) -> Vec<Check> {
    let mut checks = vec![sam_check(), aws_cli_check(), python_check(runtime)];
    checks.push(docker_check().await);
    checks.extend(aws_checks(region, profile, endpoint_url).await);
    checks
}

fn check(name: &str, status: CheckStatus, detail: String, hint: Option<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail,
        hint,
    }
}

fn failed(name: &str, err: &Error) -> Check {
    check(
        name,
        CheckStatus::Fail,
        err.to_string(),
        err.hint().map(str::to_string),
    )
}

fn sam_check() -> Check {
    match find_sam() {
        Ok(sam) => {
            let (a, b, c) = sam.version;
            check(
                "sam",
                CheckStatus::Pass,
                format!("{} {a}.{b}.{c}", sam.path.display()),
                None,
            )
        }
        Err(err) => failed("sam", &err),
    }
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
            check(
                "aws",
                CheckStatus::Pass,
                format!("{} {version}", path.display()),
                None,
            )
        }
        Err(_) => check(
            "aws",
            CheckStatus::Warn,
            "`aws` CLI not found on PATH (agentdeploy does not need it; the hints that print aws commands do)".into(),
            Some("install it with `pip install awscli` or the AWS CLI v2 installer".into()),
        ),
    }
}

fn python_check(runtime: Runtime) -> Check {
    match interpreter_version(&runtime.interpreter()) {
        Some(_) => check(
            "python",
            CheckStatus::Pass,
            format!("{} answers: native `sam build`", runtime.interpreter()),
            None,
        ),
        None => check(
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
        ),
    }
}

async fn docker_check() -> Check {
    if docker_answers().await {
        check("docker", CheckStatus::Pass, "Docker answers".into(), None)
    } else {
        check(
            "docker",
            CheckStatus::Warn,
            "Docker is not running (needed only for --use-container)".into(),
            Some("start Docker, or rely on native / cross-platform builds".into()),
        )
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
            check("region", CheckStatus::Pass, region.clone(), None),
            match context_for(sdk, endpoint_url).await {
                Ok(ctx) => check(
                    "credentials",
                    CheckStatus::Pass,
                    format!("account {} as {}", ctx.account, ctx.caller_arn),
                    None,
                ),
                Err(err) => failed("credentials", &err),
            },
        ],
        Err(err) => vec![failed("region", &err)],
    }
}
