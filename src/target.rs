//! What the orchestration layer asks of a deployment target (plan / ship / live state), and
//! the target-neutral results it gets back. The lifecycle around it — locks, the deployment
//! record, the unchanged check, progress, reports — is the same for every target; Lambda
//! (`crate::lambda::target::LambdaTarget`) is the first implementation.
//!
//! The trait lives outside `orchestrate/` so a target can implement it without importing the
//! orchestration layer (the layers only point down).

use std::future::Future;

use crate::aws::AwsContext;
use crate::error::Result;
use crate::output::{BuildInfo, EndpointAccess, PlanView};
use crate::process::ToolOptions;
use crate::secrets::SecretValues;
use crate::settings::LambdaSettings;

/// The steps of shipping, in order, as the progress line and the record report them.
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

/// A deployment planned without touching anything remote.
pub trait Planned: Send + Sync {
    fn warnings(&self) -> &[String];
    /// Writes the rendered project into the settings' out-dir.
    fn write(&self, settings: &LambdaSettings) -> Result<()>;
    /// The plan section of the result (`pins`: the resolved dependencies, once known).
    fn describe(&self, settings: &LambdaSettings, pins: Option<&[String]>) -> PlanView;
    /// Hash of everything that decides what gets deployed (secrets only as keyed digests).
    fn input_hash(&self, region: &str, secrets: &[(String, String)], digest_key: &[u8]) -> String;
}

/// What shipping needs besides the plan.
pub struct ShipRequest<'a, P> {
    pub settings: &'a LambdaSettings,
    pub plan: &'a P,
    pub aws: &'a AwsContext,
    pub secrets: &'a SecretValues,
    pub tool: ToolOptions<'a>,
    /// A rollback moved the live version away from the deployment's own: move it back.
    pub restore_live: bool,
}

/// A deployment as its callers reach it.
#[derive(Debug, Clone)]
pub struct Live {
    pub function_arn: Option<String>,
    pub endpoint: Option<String>,
    pub api_key_id: Option<String>,
    pub access: EndpointAccess,
}

/// What one ship did.
#[derive(Debug, Clone)]
pub struct Shipped {
    pub live: Live,
    /// The pinned dependencies (`name==version`).
    pub pins: Vec<String>,
    pub build: BuildInfo,
    /// The target found nothing to change.
    pub no_changes: bool,
    /// The published version callers now reach, where the target versions its deployments.
    pub live_version: Option<String>,
    /// What the ship did differently from the plan.
    pub warnings: Vec<String>,
}

pub trait Target: Send + Sync {
    type Plan: Planned;

    /// Analyses the agent and renders the deployment in memory.
    fn plan(&self, settings: &LambdaSettings, region: Option<&str>) -> Result<Self::Plan>;

    /// Client configuration worth printing with the result (a code interpreter's MCP entry).
    fn client_config(&self, settings: &LambdaSettings, region: &str) -> Option<serde_json::Value>;

    /// Builds and deploys the plan; `phase` hears each step as it starts.
    fn ship(
        &self,
        request: ShipRequest<'_, Self::Plan>,
        phase: &(dyn Fn(Phase) + Sync),
    ) -> impl Future<Output = Result<Shipped>> + Send;

    /// The deployment as it runs now, if it is healthy (complete stack, ready function).
    fn live(
        &self,
        settings: &LambdaSettings,
        aws: &AwsContext,
    ) -> impl Future<Output = Result<Option<Live>>> + Send;
}
