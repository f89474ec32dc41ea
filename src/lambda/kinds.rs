//! The closed choices of a Lambda deployment, as settings hold them and the rooms read them.

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[value(name = "x86_64")]
    #[serde(rename = "x86_64")]
    X86_64,
    Arm64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Api,
    Url,
    None,
}

impl EndpointKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointKind::Api => "api",
            EndpointKind::Url => "url",
            EndpointKind::None => "none",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    None,
    ApiKey,
    Iam,
}

impl AuthMode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::None => "none",
            AuthMode::ApiKey => "api-key",
            AuthMode::Iam => "iam",
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum UseContainer {
    Auto,
    Always,
    Never,
}

/// `--isolation`: what keeps callers apart beyond the runtime's own per-request isolation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// Execution environments are shared by every caller, one request at a time each; the
    /// runtime resets the agents' state per request inside the process.
    Process,
    /// Lambda tenant isolation: each tenant id (the caller API Gateway vouches for) gets
    /// execution environments of its own (`TenancyConfig: PER_TENANT`, set at creation only).
    Tenant,
}

impl Isolation {
    pub fn as_str(self) -> &'static str {
        match self {
            Isolation::Process => "process",
            Isolation::Tenant => "tenant",
        }
    }
}
