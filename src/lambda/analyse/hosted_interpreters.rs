//! Agents that call hosted code interpreters (reference §10). AgentCore's needs (dependency and
//! session actions) come from requirements.rs and iam.rs; this file holds the rest:
//! Aliyun AgentRun's credentials as required secrets and its 30 s cap, and a self-hosted HTTP
//! interpreter reached through an env var, which needs VPC settings when its address is private.

use std::net::Ipv4Addr;

use crate::lambda::analyse::agent::AgentAnalysis;
use crate::lambda::settings::LambdaSettings;

/// AgentRun's SDK (`agentrun-sdk`, imported as `agentrun`) authenticates with these.
pub const AGENTRUN_SECRETS: [&str; 3] = [
    "ALIYUN_ACCESS_KEY_ID",
    "ALIYUN_ACCESS_KEY_SECRET",
    "ALIYUN_ACCOUNT_ID",
];
/// AgentRun stops a code execution after this many seconds.
pub const AGENTRUN_EXECUTION_CAP_SECONDS: u32 = 30;

pub fn uses_agentrun(analysis: &AgentAnalysis) -> bool {
    analysis.imports.iter().any(|i| i.top_level() == "agentrun")
}

/// Secrets the agent's code requires beyond those configured.
pub fn required_secrets(analysis: &AgentAnalysis) -> Vec<String> {
    if uses_agentrun(analysis) {
        AGENTRUN_SECRETS.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    }
}

pub fn warnings(analysis: &AgentAnalysis, settings: &LambdaSettings) -> Vec<String> {
    let mut warnings = Vec::new();
    if uses_agentrun(analysis) && settings.timeout <= 2 * AGENTRUN_EXECUTION_CAP_SECONDS {
        warnings.push(format!(
            "AgentRun caps each code execution at {AGENTRUN_EXECUTION_CAP_SECONDS} s; a {} s function timeout leaves little room for the model calls around it (consider --timeout 120 or more)",
            settings.timeout
        ));
    }
    if settings.subnet_ids.is_empty() {
        for (key, value) in &settings.env_vars {
            if let Some(host) = private_url_host(value) {
                warnings.push(format!(
                    "{key} points at {host}, a private address: Lambda reaches it only from inside its VPC; pass --subnet-ids and --security-group-ids"
                ));
            }
        }
    }
    warnings
}

/// The host of an http(s) URL when it is a private address (RFC 1918, `.internal`, `.local`).
pub fn private_url_host(value: &str) -> Option<String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next()?.to_ascii_lowercase();
    let private = match host.parse::<Ipv4Addr>() {
        Ok(ip) => ip.is_private(),
        Err(_) => {
            host.ends_with(".internal") || host.ends_with(".local") || host.ends_with(".corp")
        }
    };
    private.then_some(host)
}

/// `settings` with the secrets the agent's code requires added, so they are read (a missing one
/// stops the run, naming it), rendered as NoEcho parameters, and redacted like any other.
/// An agent that does not parse is left to the analysis phase, which reports it properly.
pub fn with_required_secrets(settings: &LambdaSettings) -> LambdaSettings {
    let mut settings = settings.clone();
    if settings.kind != crate::lambda::settings::DeploymentKind::Agent {
        return settings;
    }
    if let Ok(analysis) = crate::lambda::analyse::analyse(
        &settings.agent,
        settings.runtime,
        settings.entry.as_deref(),
    ) {
        for name in required_secrets(&analysis) {
            if !settings.secrets.contains(&name) && !settings.env_vars.contains_key(&name) {
                settings.secrets.push(name);
            }
        }
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_hosts() {
        assert_eq!(
            private_url_host("http://10.0.1.5:8080/execute").as_deref(),
            Some("10.0.1.5")
        );
        assert_eq!(
            private_url_host("https://interp.svc.internal/run").as_deref(),
            Some("interp.svc.internal")
        );
        assert_eq!(
            private_url_host("http://192.168.1.2").as_deref(),
            Some("192.168.1.2")
        );
        assert_eq!(
            private_url_host("http://172.20.0.1/x").as_deref(),
            Some("172.20.0.1")
        );
        assert_eq!(private_url_host("https://api.example.com/run"), None);
        assert_eq!(private_url_host("http://172.32.0.1/"), None);
        assert_eq!(private_url_host("not a url"), None);
    }
}
