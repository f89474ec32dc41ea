//! Finding a deployment from any checkout: its record entry and stack name, its config section,
//! and the AWS configuration to reach it (the record's region, else the config's, else the SDK's).

use crate::error::Result;
use crate::orchestrate::Context;
use crate::orchestrate::record::{self, RecordEntry, Store};
use crate::target::Target;

/// The config's options for `name` in the selected environment (none without a config).
pub fn agent_section(ctx: &Context, name: &str) -> Result<crate::options::AgentSection> {
    match &ctx.config {
        Some(config) => config.section_for(name, ctx.global.env.as_deref()),
        None => Ok(Default::default()),
    }
}

/// Region and profile for a named function: flags, else its config section.
pub fn region_profile(ctx: &Context, name: &str) -> Result<(Option<String>, Option<String>)> {
    let section = agent_section(ctx, name)?;
    Ok((
        ctx.global.region.clone().or(section.region),
        ctx.global.profile.clone().or(section.profile),
    ))
}

/// The record entry and the stack name for NAME in the selected environment.
pub fn recorded<T: Target>(
    ctx: &Context,
    name: &str,
    target: &T,
) -> Result<(Store, Option<RecordEntry>, String)> {
    target.check_name(name)?;
    let project_dir = ctx.project_dir();
    let store = Store::new(&project_dir);
    let env = ctx.global.env.as_deref();
    let entry = store.get(&record::key(env, name))?;
    let stack = entry
        .as_ref()
        .map(|d| d.stack_name.clone())
        .unwrap_or_else(|| target.default_stack_name(name, env));
    Ok((store, entry, stack))
}

/// The AWS configuration to reach NAME: `--region`, else the record's region, else the config's
/// (else the SDK's chain).
/// The SDK config for the region's deployments as a whole (`list`, previews): the global
/// flags, else the config's defaults, else the environment's.
pub async fn region_sdk(ctx: &Context) -> Result<aws_config::SdkConfig> {
    let (region, profile) = region_profile(ctx, "")?;
    Ok(crate::aws::load_sdk_config(
        region.as_deref(),
        profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await)
}

pub async fn sdk_for(
    ctx: &Context,
    name: &str,
    entry: Option<&RecordEntry>,
) -> Result<aws_config::SdkConfig> {
    let (region, profile) = region_profile(ctx, name)?;
    let region = ctx
        .global
        .region
        .clone()
        .or(entry.and_then(|d| d.region.clone()))
        .or(region);
    Ok(crate::aws::load_sdk_config(
        region.as_deref(),
        profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await)
}
