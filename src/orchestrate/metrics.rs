//! `metrics` (what the deployed agent did: requests, errors, latency, cold starts, tokens and
//! their cost), the headline figures `status` shows, and `cost --from-metrics` (reference §11).
//! The figures come from the per-request records the function's runtime writes; this module
//! turns them into rates, shares and dollars with the one price table.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::cli::MetricsArgs;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::logs::parse_since;
use crate::orchestrate::lookup::{recorded, sdk_for};
use crate::output::{self, CommandResult};
use crate::prices::PriceTable;
use crate::target::{CostEstimate, Durations, Measured, Target};

/// CloudWatch keeps metrics 455 days (15 months).
const LONGEST_WINDOW: Duration = Duration::from_secs(455 * 86_400);
/// A 30-day month, for scaling a window's measurements to a monthly cost.
pub const MONTH: Duration = Duration::from_secs(30 * 86_400);

pub fn window(flag: &str, text: &str) -> Result<Duration> {
    match parse_since(text) {
        Some(window) if window <= LONGEST_WINDOW => Ok(window),
        Some(_) => Err(Error::usage(
            flag,
            format!("`{text}` is further back than CloudWatch keeps metrics (455 days)"),
        )),
        None => Err(Error::usage_hint(
            flag,
            format!("`{}` is not an age", text.escape_debug()),
            "give a number and a unit: 30m, 2h or 7d",
        )),
    }
}

/// The price table for this project: built-in, `--prices FILE`, then the config's
/// `[model_prices]`.
pub fn price_table(ctx: &Context, file: Option<&std::path::Path>) -> Result<PriceTable> {
    let origin = ctx
        .config
        .as_ref()
        .map(|c| c.path.display().to_string())
        .unwrap_or_default();
    PriceTable::load(
        file,
        ctx.config.as_ref().map(|c| &c.file.model_prices),
        &origin,
    )
}

/// One model's share of the figures, priced where the table knows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelCost {
    pub model_id: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub calls: u64,
    /// The table's entry it was priced by (`None`: no price for it; not guessed).
    pub priced_as: Option<String>,
    pub cost_usd: Option<f64>,
}

/// What the window cost: the models (where priced) and Lambda, from the measured figures.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeasuredCost {
    pub models_usd: f64,
    /// Models the table has no price for: their tokens are not in `models_usd`.
    pub unpriced_models: Vec<String>,
    pub lambda_requests_usd: f64,
    pub lambda_compute_usd: f64,
    pub lambda_usd: f64,
    pub total_usd: f64,
}

/// `metrics`' result: one document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricsReport {
    pub function_name: String,
    pub since: String,
    pub window_seconds: u64,
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Share of requests answered 4xx or 5xx (`None`: no requests).
    pub error_rate: Option<f64>,
    pub duration_ms: Durations,
    pub cold_starts: u64,
    pub cold_start_share: Option<f64>,
    /// The cold starts' mean INIT: the agent's import, as the runtime measured it (Lambda's
    /// billed INIT adds the runtime's own start).
    pub init_duration_ms: Option<f64>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub model_calls: u64,
    pub tool_calls: u64,
    pub tools: BTreeMap<String, u64>,
    pub models: Vec<ModelCost>,
    pub cost: MeasuredCost,
    pub memory_mb: Option<u32>,
    pub architecture: Option<String>,
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl MetricsReport {
    pub fn new(
        function_name: &str,
        since: &str,
        window: Duration,
        measured: Measured,
        table: &PriceTable,
        compute: &CostEstimate,
    ) -> MetricsReport {
        let models: Vec<ModelCost> = measured
            .models
            .iter()
            .map(|(id, usage)| {
                let priced = table.model(id);
                ModelCost {
                    model_id: id.clone(),
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    calls: usage.calls,
                    priced_as: priced.map(|(key, _)| key.to_string()),
                    cost_usd: priced
                        .map(|(_, price)| price.cost(usage.input_tokens, usage.output_tokens)),
                }
            })
            .collect();
        let models_usd = models
            .iter()
            .filter_map(|m| m.cost_usd)
            .fold(0.0, |a, b| a + b);
        let unpriced_models = models
            .iter()
            .filter(|m| m.cost_usd.is_none())
            .map(|m| m.model_id.clone())
            .collect();
        let lambda_requests_usd = compute.requests_usd;
        let lambda_compute_usd = compute.compute_usd;
        let lambda_usd = lambda_requests_usd + lambda_compute_usd;
        MetricsReport {
            function_name: function_name.to_string(),
            since: since.to_string(),
            window_seconds: window.as_secs(),
            requests: measured.requests,
            client_errors: measured.client_errors,
            server_errors: measured.server_errors,
            error_rate: share(
                measured.client_errors + measured.server_errors,
                measured.requests,
            ),
            duration_ms: measured.duration_ms,
            cold_starts: measured.cold_starts,
            cold_start_share: share(measured.cold_starts, measured.requests),
            init_duration_ms: measured.init_duration_ms,
            input_tokens: measured.input_tokens,
            output_tokens: measured.output_tokens,
            model_calls: measured.model_calls,
            tool_calls: measured.tool_calls,
            tools: measured.tools,
            models,
            cost: MeasuredCost {
                models_usd,
                unpriced_models,
                lambda_requests_usd,
                lambda_compute_usd,
                lambda_usd,
                total_usd: models_usd + lambda_usd,
            },
            memory_mb: measured.memory_mb,
            architecture: measured.architecture,
        }
    }

    /// The few lines `status` shows.
    pub fn headline(&self) -> Vec<String> {
        if self.requests == 0 {
            return vec![format!("no requests in the last {}", self.since)];
        }
        vec![
            format!(
                "{} requests in the last {}, {} failed ({}), p95 {}",
                self.requests,
                self.since,
                self.client_errors + self.server_errors,
                percent(self.error_rate),
                millis(self.duration_ms.p95),
            ),
            format!(
                "{} tokens in, {} out; ${:.4} ({})",
                self.input_tokens,
                self.output_tokens,
                self.cost.total_usd,
                self.cost_words()
            ),
        ]
    }

    fn cost_words(&self) -> String {
        let mut words = format!(
            "models ${:.4} + Lambda ${:.4}",
            self.cost.models_usd, self.cost.lambda_usd
        );
        if !self.cost.unpriced_models.is_empty() {
            words.push_str(&format!(
                "; no price for {}: add it under [model_prices] in agentdeploy.toml",
                self.cost.unpriced_models.join(", ")
            ));
        }
        words
    }
}

fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "-".into(), |s| format!("{:.1} %", s * 100.0))
}

fn millis(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0} ms"))
}

impl CommandResult for MetricsReport {
    fn text_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("{}, last {}", self.function_name, self.since)];
        let mut line = |label: &str, value: String| lines.push(format!("  {label:<13}{value}"));
        if self.requests == 0 {
            line("requests", "none".into());
            return lines;
        }
        line(
            "requests",
            format!(
                "{}, {} failed ({}: {} client, {} server)",
                self.requests,
                self.client_errors + self.server_errors,
                percent(self.error_rate),
                self.client_errors,
                self.server_errors
            ),
        );
        line(
            "latency",
            format!(
                "p50 {}  p95 {}  max {}",
                millis(self.duration_ms.p50),
                millis(self.duration_ms.p95),
                millis(self.duration_ms.max)
            ),
        );
        line(
            "cold starts",
            format!(
                "{} ({}){}",
                self.cold_starts,
                percent(self.cold_start_share),
                self.init_duration_ms
                    .map(|ms| format!(", INIT {ms:.0} ms on average"))
                    .unwrap_or_default()
            ),
        );
        line(
            "tokens",
            format!(
                "{} in, {} out, {} model calls",
                self.input_tokens, self.output_tokens, self.model_calls
            ),
        );
        for model in &self.models {
            line(
                "  model",
                format!(
                    "{}: {} in, {} out, {} calls, {}",
                    model.model_id,
                    model.input_tokens,
                    model.output_tokens,
                    model.calls,
                    model
                        .cost_usd
                        .map_or_else(|| "no price".into(), |c| format!("${c:.4}"))
                ),
            );
        }
        if !self.tools.is_empty() {
            let tools: Vec<String> = self
                .tools
                .iter()
                .map(|(name, calls)| format!("{name} {calls}"))
                .collect();
            line(
                "tool calls",
                format!("{} ({})", self.tool_calls, tools.join(", ")),
            );
        }
        line(
            "cost",
            format!("${:.4}: {}", self.cost.total_usd, self.cost_words()),
        );
        lines
    }
}

/// `agentdeploy metrics NAME`: from the record's region, else the config's, else the SDK's (a
/// fresh checkout reads the same metrics).
pub async fn metrics<T: Target>(ctx: &Context, args: &MetricsArgs, target: &T) -> Result<i32> {
    let window = window("--since", &args.since)?;
    let table = price_table(ctx, args.prices.as_deref())?;
    let (_, entry, _) = recorded(ctx, &args.name, target)?;
    let sdk = sdk_for(ctx, &args.name, entry.as_ref()).await?;
    let measured = target.measured(&sdk, &args.name, window).await?;
    let compute = target.compute_cost(&measured, &table.prices);
    let report = MetricsReport::new(&args.name, &args.since, window, measured, &table, &compute);
    output::emit(&report, ctx.global.output);
    Ok(exit_codes::OK)
}

/// The last hour's headline for `status`, or why it could not be read (status goes on).
pub async fn last_hour<T: Target>(
    ctx: &Context,
    sdk: &aws_config::SdkConfig,
    name: &str,
    target: &T,
) -> std::result::Result<MetricsReport, String> {
    let window = Duration::from_secs(3600);
    let table = price_table(ctx, None).map_err(|e| e.to_string())?;
    let measured = target
        .measured(sdk, name, window)
        .await
        .map_err(|e| e.to_string())?;
    let compute = target.compute_cost(&measured, &table.prices);
    Ok(MetricsReport::new(
        name, "1h", window, measured, &table, &compute,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::ModelUsage;

    fn measured() -> Measured {
        Measured {
            requests: 10,
            client_errors: 1,
            server_errors: 1,
            cold_starts: 2,
            init_duration_ms: Some(800.0),
            duration_ms: Durations {
                p50: Some(100.0),
                p95: Some(900.0),
                max: Some(1000.0),
                mean: Some(2000.0),
            },
            input_tokens: 3_000_000,
            output_tokens: 1_000_000,
            model_calls: 12,
            tool_calls: 0,
            models: [
                (
                    "us.anthropic.claude-sonnet-4-20250514-v1:0".to_string(),
                    ModelUsage {
                        input_tokens: 2_000_000,
                        output_tokens: 1_000_000,
                        calls: 10,
                    },
                ),
                (
                    "my-fine-tune".to_string(),
                    ModelUsage {
                        input_tokens: 1_000_000,
                        output_tokens: 0,
                        calls: 2,
                    },
                ),
            ]
            .into_iter()
            .collect(),
            tools: BTreeMap::new(),
            memory_mb: Some(1024),
            architecture: Some("arm64".into()),
        }
    }

    /// The last hour's report of `measured()`, its target's compute priced as given.
    fn report(table: &PriceTable, requests_usd: f64, compute_usd: f64) -> MetricsReport {
        let compute = CostEstimate {
            document: serde_json::Value::Null,
            lines: Vec::new(),
            requests_usd,
            compute_usd,
            total_usd: requests_usd + compute_usd,
        };
        let window = Duration::from_secs(3600);
        MetricsReport::new("f", "1h", window, measured(), table, &compute)
    }

    #[test]
    fn a_profile_is_priced_as_its_model_and_an_unknown_model_is_not_guessed() {
        let table = PriceTable::load(None, None, "").unwrap();
        let report = report(&table, 0.5, 2.0);
        let sonnet = &report.models[1];
        assert_eq!(
            sonnet.priced_as.as_deref(),
            Some("anthropic.claude-sonnet-4-20250514-v1:0")
        );
        // 2 M in at $3, 1 M out at $15.
        assert!((sonnet.cost_usd.unwrap() - 21.0).abs() < 1e-9);
        assert_eq!(report.models[0].cost_usd, None);
        assert_eq!(report.cost.unpriced_models, vec!["my-fine-tune"]);
        assert!((report.cost.models_usd - 21.0).abs() < 1e-9);
        assert_eq!(report.error_rate, Some(0.2));
        assert_eq!(report.cold_start_share, Some(0.2));
        assert!(
            report
                .text_lines()
                .iter()
                .any(|l| l.contains("2 (20.0 %), INIT 800 ms on average")),
            "{:?}",
            report.text_lines()
        );
        // The target's compute cost, beside the models'.
        assert_eq!(report.cost.lambda_usd, 2.5);
        assert!((report.cost.total_usd - 23.5).abs() < 1e-9);
        assert!(report.headline()[1].contains("no price for my-fine-tune"));
        // An ARN of an inference profile is priced as the model too.
        assert!(table
            .model("arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-6")
            .is_some());
    }

    #[test]
    fn the_config_adds_and_overrides_model_prices_and_refuses_a_bad_one() {
        let mine = crate::prices::ModelPrice {
            input_per_million: 1.0,
            output_per_million: 2.0,
        };
        let config: BTreeMap<String, _> =
            [("my-fine-tune".to_string(), mine)].into_iter().collect();
        let table = PriceTable::load(None, Some(&config), "agentdeploy.toml").unwrap();
        let report = report(&table, 0.0, 0.0);
        assert_eq!(report.models[0].cost_usd, Some(1.0));
        assert!(report.cost.unpriced_models.is_empty());
        let bad: BTreeMap<String, _> = [(
            "x".to_string(),
            crate::prices::ModelPrice {
                input_per_million: f64::NAN,
                output_per_million: 1.0,
            },
        )]
        .into_iter()
        .collect();
        let err = PriceTable::load(None, Some(&bad), "agentdeploy.toml").unwrap_err();
        assert!(err.to_string().contains("model `x`"), "{err}");
    }

    #[test]
    fn a_window_beyond_cloudwatchs_retention_or_not_an_age_is_refused() {
        assert!(window("--since", "2h").is_ok());
        assert!(
            window("--since", "500d")
                .unwrap_err()
                .to_string()
                .contains("455 days")
        );
        assert!(window("--since", "yesterday").is_err());
    }
}
