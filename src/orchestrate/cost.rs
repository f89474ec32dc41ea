//! `cost`: a month of the agent on its target, estimated from flags and its config, or from what
//! its requests measured (`--from-metrics`), from one overridable price table. The cost model
//! is the target's.

use serde::Serialize;

use crate::cli::CostArgs;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::lookup::{recorded, sdk_for};
use crate::orchestrate::metrics::{MONTH, MetricsReport, price_table, window};
use crate::output::{self, CommandResult};
use crate::target::{CostEstimate, Target};

/// `cost [NAME]`: from the flags, else NAME's config section, else the target's defaults.
pub fn cost<T: Target>(ctx: &Context, args: &CostArgs, target: &T) -> Result<i32> {
    let section = match (&args.name, &ctx.config) {
        (Some(name), Some(config)) => {
            if !config.file.agents.contains_key(name) {
                return Err(Error::usage(
                    "NAME",
                    format!("`{name}` is not an agent of {}", config.path.display()),
                ));
            }
            config.section_for(name, ctx.global.env.as_deref())?
        }
        (Some(name), None) => {
            return Err(Error::usage_hint(
                "NAME",
                format!("no agentdeploy.toml to read `{name}` from"),
                "pass --memory and --architecture instead",
            ));
        }
        _ => Default::default(),
    };
    let estimate = target.estimate_cost(args, &section)?;
    output::emit(&estimate, ctx.global.output);
    Ok(exit_codes::OK)
}

/// `cost NAME --from-metrics`: the window's measured requests, durations, cold starts and
/// tokens, scaled to a month.
pub async fn cost_from_metrics<T: Target>(
    ctx: &Context,
    args: &CostArgs,
    target: &T,
) -> Result<i32> {
    let name = args
        .name
        .as_deref()
        .ok_or_else(|| Error::usage("NAME", "--from-metrics needs the function's name"))?;
    let window = window("--since", &args.since)?;
    target.check_cost_flags(args)?;
    let table = price_table(ctx, args.prices.as_deref())?;
    let (_, entry, stack_name) = recorded(ctx, name, target)?;
    let sdk = sdk_for(ctx, name, entry.as_ref()).await?;
    let measured = target.measured(&sdk, name, window).await?;
    if measured.requests == 0 {
        return Err(Error::usage_hint(
            "--from-metrics",
            format!("{name} answered no requests in the last {}", args.since),
            "measure a longer window (--since 30d), or estimate with --invocations and --duration",
        ));
    }
    let compute = target.compute_cost(&measured, &table.prices);
    let scale = MONTH.as_secs_f64() / window.as_secs_f64();
    let invocations = (measured.requests as f64 * scale).round() as u64;
    let has_api = match &entry {
        Some(entry) => entry.endpoint_kind == "api",
        // A fresh checkout: the stack says whether it has an API.
        None => target
            .state(&sdk, name, &stack_name)
            .await?
            .is_some_and(|state| state.outputs.contains_key("ApiEndpoint")),
    };
    let report = MetricsReport::new(
        name,
        &args.since,
        window,
        measured.clone(),
        &table,
        &compute,
    );
    let estimate =
        target.estimate_measured_cost(args, &measured, invocations, has_api, table.prices)?;
    let models_usd = report.cost.models_usd * scale;
    let result = MeasuredEstimate {
        measured_since: args.since.clone(),
        measured_requests: report.requests,
        models_usd,
        unpriced_models: report.cost.unpriced_models.clone(),
        total_usd: estimate.total_usd + models_usd,
        lambda: estimate,
    };
    output::emit(&result, ctx.global.output);
    Ok(exit_codes::OK)
}

/// `cost --from-metrics`' result: the target's estimate from measured figures, plus the models.
#[derive(Debug, Serialize)]
pub struct MeasuredEstimate {
    pub measured_since: String,
    pub measured_requests: u64,
    /// The target's compute (named `lambda` in the document since the first target).
    pub lambda: CostEstimate,
    /// The models' cost for a month at the measured rate (priced models only).
    pub models_usd: f64,
    pub unpriced_models: Vec<String>,
    pub total_usd: f64,
}

impl CommandResult for MeasuredEstimate {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "measured: {} requests in the last {}, scaled to a 30-day month",
            self.measured_requests, self.measured_since
        )];
        lines.extend(
            self.lambda
                .lines
                .iter()
                .filter(|l| !l.starts_with("  total"))
                .cloned(),
        );
        let mut models = format!("  models       ${:.4}", self.models_usd);
        if !self.unpriced_models.is_empty() {
            models.push_str(&format!(
                "  (no price for {}: not counted)",
                self.unpriced_models.join(", ")
            ));
        }
        lines.push(models);
        lines.push(format!(
            "  total        ${:.2} per month (before the free tier)",
            self.total_usd
        ));
        lines
    }
}
