//! Preview environments (reference §13): a deploy with `--ttl AGE` tags its stack; it expires
//! that long after its last change. `list --expired` shows the ones past it and `destroy
//! --expired` deletes them — only stacks agentdeploy made (they carry its function tag), each
//! with the checks and locks of `destroy`, and its record entries with it.

use serde::Serialize;

use crate::cli::DestroyArgs;
use crate::error::Result;
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::commands::{confirm, lock_across_machines};
use crate::orchestrate::record::{self, Store};
use crate::output::{self, CommandResult};
use crate::target::{Change, FoundDeployment, Target};

#[derive(Debug, Serialize)]
pub struct Expired {
    pub region: Option<String>,
    pub expired: Vec<FoundDeployment>,
    /// With `destroy --expired`: the stacks deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Vec<String>>,
}

impl CommandResult for Expired {
    fn text_lines(&self) -> Vec<String> {
        if self.expired.is_empty() {
            return vec!["no preview is past its --ttl".into()];
        }
        self.expired
            .iter()
            .map(|found| {
                let done = match &self.deleted {
                    Some(deleted) if deleted.contains(&found.stack_name) => "  deleted",
                    Some(_) => "  kept",
                    None => "",
                };
                format!(
                    "{}  {}  ttl {}  expired {}{done}",
                    found.function_name,
                    found.stack_name,
                    found.ttl.as_deref().unwrap_or("?"),
                    found.expires_at.as_deref().unwrap_or("?"),
                )
            })
            .collect()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The region's previews past their end (this config's agents only, when there is one).
async fn expired<T: Target>(
    ctx: &Context,
    target: &T,
) -> Result<(aws_config::SdkConfig, Vec<FoundDeployment>)> {
    let sdk = crate::orchestrate::lookup::region_sdk(ctx).await?;
    let agents = ctx.config.as_ref().map(|c| c.agent_names());
    let now = now();
    let expired = target
        .deployments(&sdk)
        .await?
        .into_iter()
        .filter(|d| d.expired(now))
        // A config names this project's agents; their previews are named after them.
        .filter(|d| {
            agents.as_ref().is_none_or(|names| {
                names.iter().any(|name| {
                    d.function_name == *name || d.function_name.starts_with(&format!("{name}-"))
                })
            })
        })
        .map(|mut d| {
            d.expires_at = d.expiry().map(|at| record::rfc3339(at, None));
            d
        })
        .collect();
    Ok((sdk, expired))
}

pub async fn list_expired<T: Target>(ctx: &Context, target: &T) -> Result<i32> {
    let (sdk, expired) = expired(ctx, target).await?;
    let result = Expired {
        region: sdk.region().map(|r| r.to_string()),
        expired,
        deleted: None,
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

pub async fn destroy_expired<T: Target>(
    ctx: &Context,
    args: &DestroyArgs,
    target: &T,
) -> Result<i32> {
    let (sdk, expired) = expired(ctx, target).await?;
    let names: Vec<&str> = expired.iter().map(|d| d.stack_name.as_str()).collect();
    if !expired.is_empty()
        && !args.yes
        && !confirm(&format!(
            "Delete {} expired preview stack(s) ({}) and everything in them?",
            expired.len(),
            names.join(", ")
        ))?
    {
        eprintln!("Nothing deleted.");
        return Ok(exit_codes::OK);
    }
    let store = Store::new(&ctx.project_dir());
    let mut deleted = Vec::new();
    for found in &expired {
        let name = &found.function_name;
        // Its stack carries agentdeploy's tag for this function: that is what makes it ours.
        target
            .check_owner(&sdk, name, &found.stack_name, false, Change::Destroy)
            .await?;
        let locked = lock_across_machines(ctx, target, &sdk, name, &found.stack_name).await?;
        let teardown = target
            .destroy(&sdk, name, &found.stack_name, false, locked.bucket())
            .await;
        locked.release().await;
        teardown?;
        store.update(|state| {
            state
                .deployments
                .retain(|_, entry| entry.stack_name != found.stack_name)
        })?;
        deleted.push(found.stack_name.clone());
    }
    let result = Expired {
        region: sdk.region().map(|r| r.to_string()),
        expired,
        deleted: Some(deleted),
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(ttl: Option<&str>, changed_at: Option<i64>) -> FoundDeployment {
        FoundDeployment {
            function_name: "agent-pr-1".into(),
            stack_name: "agentdeploy-agent-pr-1".into(),
            stack_status: "CREATE_COMPLETE".into(),
            endpoint: None,
            ttl: ttl.map(str::to_string),
            changed_at,
            expires_at: None,
        }
    }

    #[test]
    fn a_preview_expires_its_ttl_after_its_last_change_and_nothing_else_expires() {
        let preview = found(Some("3d"), Some(1_000));
        assert_eq!(preview.expiry(), Some(1_000 + 3 * 86_400));
        assert!(!preview.expired(1_000 + 3 * 86_400 - 1));
        assert!(preview.expired(1_000 + 3 * 86_400));
        assert!(!found(None, Some(0)).expired(i64::MAX), "not a preview");
        assert!(!found(Some("3d"), None).expired(i64::MAX), "no time known");
        assert!(
            !found(Some("soon"), Some(0)).expired(i64::MAX),
            "a tag edited by hand"
        );
    }
}
