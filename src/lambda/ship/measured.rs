//! The deployment's per-request metrics and alarms, read from CloudWatch (reference §11
//! "metrics"): the runtime writes one Embedded Metric Format record per request on the function's
//! log, and CloudWatch makes them the metrics read here. One GetMetricData call over the whole
//! window (one period, so percentiles are the window's own), after ListMetrics finds which
//! models and tools the function used.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::{Error, Result};
use crate::lambda::render::observability::METRICS_NAMESPACE;
use crate::target::{AlarmState, Durations, Measured, ModelUsage};

/// GetMetricData takes at most 500 queries per call.
const QUERIES_PER_CALL: usize = 500;

/// A CloudWatch call that failed: credentials as the preflight error (exit 3), else the call,
/// its code, message and request id.
fn read_failed<E, R>(what: impl std::fmt::Display, err: &SdkError<E, R>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    crate::aws::errors::failed_call(what, err, |message| Error::Verify {
        message,
        hint: crate::hints::needs(
            "cloudwatch:GetMetricData and cloudwatch:ListMetrics (and cloudwatch:DescribeAlarms for alarms) to read metrics",
            Some("check the profile or role"),
        ),
    })
}

fn dimension(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// The window as one period CloudWatch accepts (a multiple of a minute, or of an hour past 3
/// hours), ending at the next boundary after now (strictly: data from this very second counts)
/// so that it is exactly one period.
fn period_and_bounds(window: Duration, now: SystemTime) -> (i32, i64, i64) {
    let unit: u64 = if window.as_secs() > 3 * 3600 {
        3600
    } else {
        60
    };
    let period = window.as_secs().max(1).div_ceil(unit) * unit;
    let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let end = (now / unit + 1) * unit;
    let period = period.min(i32::MAX as u64);
    (period as i32, end.saturating_sub(period) as i64, end as i64)
}

/// One statistic of one metric of the function, as a query.
struct Query {
    id: String,
    metric: &'static str,
    dimensions: Vec<Dimension>,
    stat: &'static str,
}

impl Query {
    /// The query as GetMetricData takes it, over `period` seconds.
    fn built(&self, period: i32) -> MetricDataQuery {
        let metric = Metric::builder()
            .namespace(METRICS_NAMESPACE)
            .metric_name(self.metric)
            .set_dimensions(Some(self.dimensions.clone()))
            .build();
        let stat = MetricStat::builder()
            .metric(metric)
            .period(period)
            .stat(self.stat)
            .build();
        MetricDataQuery::builder()
            .id(&self.id)
            .metric_stat(stat)
            .return_data(true)
            .build()
    }
}

/// The names under `dimension` that the function's metric `metric` has data for (its models,
/// its tools).
async fn dimension_values(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    metric: &str,
    dimension: &str,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = cw
            .list_metrics()
            .namespace(METRICS_NAMESPACE)
            .metric_name(metric)
            .dimensions(
                DimensionFilter::builder()
                    .name("FunctionName")
                    .value(function)
                    .build(),
            )
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| {
                read_failed(format_args!("ListMetrics {METRICS_NAMESPACE}/{metric}"), &e)
            })?;
        for found in out.metrics() {
            let dims = found.dimensions();
            // Exactly FunctionName and the one asked for: the per-model / per-tool records.
            if dims.len() != 2 {
                continue;
            }
            if let Some(value) = dims
                .iter()
                .find(|d| d.name() == Some(dimension))
                .and_then(|d| d.value())
                && !names.iter().any(|n| n == value)
            {
                names.push(value.to_string());
            }
        }
        match out.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_string()),
            _ => break,
        }
    }
    names.sort();
    Ok(names)
}

/// What the function's requests did in the last `window`: the queries for its metrics (per
/// function, per model, per tool), one GetMetricData window, the figures assembled.
pub async fn measured(
    sdk: &aws_config::SdkConfig,
    function: &str,
    window: Duration,
) -> Result<Measured> {
    let config = function_configuration(sdk, function).await?;
    let cw = crate::aws::clients::cloudwatch(sdk);
    let models = dimension_values(&cw, function, "ModelCalls", "ModelId").await?;
    let tools = dimension_values(&cw, function, "ToolCalls", "ToolName").await?;
    let queries = queries_for(function, &models, &tools);
    let values = metric_values(&cw, function, &queries, window).await?;
    let mut measured = figures(&values, &models, &tools);
    measured.memory_mb = config.memory_size().and_then(|m| u32::try_from(m).ok());
    measured.architecture = config
        .architectures()
        .first()
        .map(|a| a.as_str().to_string());
    Ok(measured)
}

/// The function's configuration (memory and architecture bill its compute); no such function is
/// the caller's error.
async fn function_configuration(
    sdk: &aws_config::SdkConfig,
    function: &str,
) -> Result<aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput> {
    crate::aws::clients::lambda(sdk)
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| {
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception())
            {
                Error::usage_hint(
                    "NAME",
                    format!("there is no function {function} in this region"),
                    "deploy it with `agentdeploy lambda`, or pass -e / --region for the right environment",
                )
            } else {
                read_failed(format_args!("GetFunctionConfiguration {function}"), &e)
            }
        })
}

/// One query per figure: the function's own, then each model's tokens and calls, each tool's.
fn queries_for(function: &str, models: &[String], tools: &[String]) -> Vec<Query> {
    let by_function = || vec![dimension("FunctionName", function)];
    let mut queries: Vec<Query> = [
        ("requests", "Requests", "Sum"),
        ("client_errors", "ClientErrors", "Sum"),
        ("server_errors", "ServerErrors", "Sum"),
        ("cold_starts", "ColdStart", "Sum"),
        ("init", "InitDuration", "Average"),
        ("p50", "Duration", "p50"),
        ("p95", "Duration", "p95"),
        ("max", "Duration", "Maximum"),
        ("mean", "Duration", "Average"),
        ("input_tokens", "InputTokens", "Sum"),
        ("output_tokens", "OutputTokens", "Sum"),
        ("model_calls", "ModelCalls", "Sum"),
        ("tool_calls", "ToolCalls", "Sum"),
    ]
    .into_iter()
    .map(|(id, metric, stat)| Query {
        id: id.to_string(),
        metric,
        dimensions: by_function(),
        stat,
    })
    .collect();
    for (i, model) in models.iter().enumerate() {
        for (suffix, metric) in [
            ("in", "InputTokens"),
            ("out", "OutputTokens"),
            ("calls", "ModelCalls"),
        ] {
            queries.push(Query {
                id: format!("model{i}_{suffix}"),
                metric,
                dimensions: vec![
                    dimension("FunctionName", function),
                    dimension("ModelId", model),
                ],
                stat: "Sum",
            });
        }
    }
    for (i, tool) in tools.iter().enumerate() {
        queries.push(Query {
            id: format!("tool{i}"),
            metric: "ToolCalls",
            dimensions: vec![
                dimension("FunctionName", function),
                dimension("ToolName", tool),
            ],
            stat: "Sum",
        });
    }
    queries
}

/// Every query's values over the window (one period: the window's own statistics).
async fn metric_values(
    cw: &aws_sdk_cloudwatch::Client,
    function: &str,
    queries: &[Query],
    window: Duration,
) -> Result<BTreeMap<String, Vec<f64>>> {
    let (period, start, end) = period_and_bounds(window, SystemTime::now());
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for chunk in queries.chunks(QUERIES_PER_CALL) {
        let built: Vec<MetricDataQuery> = chunk.iter().map(|q| q.built(period)).collect();
        let mut token: Option<String> = None;
        loop {
            let out = cw
                .get_metric_data()
                .set_metric_data_queries(Some(built.clone()))
                .start_time(aws_smithy_types::DateTime::from_secs(start))
                .end_time(aws_smithy_types::DateTime::from_secs(end))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| read_failed(format_args!("GetMetricData for {function}"), &e))?;
            for result in out.metric_data_results() {
                if let Some(id) = result.id() {
                    values
                        .entry(id.to_string())
                        .or_default()
                        .extend(result.values().iter().copied());
                }
            }
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => break,
            }
        }
    }
    Ok(values)
}

/// The figures from the values (the function's memory and architecture are filled in after).
fn figures(values: &BTreeMap<String, Vec<f64>>, models: &[String], tools: &[String]) -> Measured {
    let sum = |id: &str| -> u64 {
        values
            .get(id)
            .map_or(0.0, |v| v.iter().sum::<f64>())
            .round()
            .max(0.0) as u64
    };
    // One period covers the window: one value per statistic (the newest, should there be more).
    let first = |id: &str| -> Option<f64> { values.get(id).and_then(|v| v.first().copied()) };
    let max = |id: &str| -> Option<f64> {
        values
            .get(id)
            .and_then(|v| v.iter().copied().reduce(f64::max))
    };
    let requests = sum("requests");
    Measured {
        requests,
        client_errors: sum("client_errors"),
        server_errors: sum("server_errors"),
        cold_starts: sum("cold_starts"),
        init_duration_ms: first("init"),
        duration_ms: if requests == 0 {
            Durations::default()
        } else {
            Durations {
                p50: first("p50"),
                p95: first("p95"),
                max: max("max"),
                mean: first("mean"),
            }
        },
        input_tokens: sum("input_tokens"),
        output_tokens: sum("output_tokens"),
        model_calls: sum("model_calls"),
        tool_calls: sum("tool_calls"),
        models: models
            .iter()
            .enumerate()
            .map(|(i, model)| {
                (
                    model.clone(),
                    ModelUsage {
                        input_tokens: sum(&format!("model{i}_in")),
                        output_tokens: sum(&format!("model{i}_out")),
                        calls: sum(&format!("model{i}_calls")),
                    },
                )
            })
            .filter(|(_, usage)| usage.calls > 0 || usage.input_tokens > 0)
            .collect(),
        tools: tools
            .iter()
            .enumerate()
            .map(|(i, tool)| (tool.clone(), sum(&format!("tool{i}"))))
            .filter(|(_, calls)| *calls > 0)
            .collect(),
        memory_mb: None,
        architecture: None,
    }
}

/// The named alarms as CloudWatch reports them now.
pub async fn alarm_states(
    sdk: &aws_config::SdkConfig,
    names: &[String],
) -> Result<Vec<AlarmState>> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let cw = crate::aws::clients::cloudwatch(sdk);
    let out = cw
        .describe_alarms()
        .set_alarm_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(|e| read_failed("DescribeAlarms", &e))?;
    Ok(out
        .metric_alarms()
        .iter()
        .map(|alarm| AlarmState {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            state: alarm.state_value().map_or_else(
                || "INSUFFICIENT_DATA".to_string(),
                |s| s.as_str().to_string(),
            ),
            reason: alarm.state_reason().map(str::to_string),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_one_period_ending_on_a_boundary() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_030);
        // An hour: minute-aligned, 3600 s long.
        assert_eq!(
            period_and_bounds(Duration::from_secs(3600), now),
            (3600, 1_000_080 - 3600, 1_000_080)
        );
        // Seven days: hour-aligned (CloudWatch's rule past 3 hours).
        let (period, start, end) = period_and_bounds(Duration::from_secs(7 * 86_400), now);
        assert_eq!(period, 7 * 86_400);
        assert_eq!(end % 3600, 0);
        assert_eq!(end - start, i64::from(period));
        // 90 s rounds up to two minutes.
        assert_eq!(period_and_bounds(Duration::from_secs(90), now).0, 120);
        // Now on a boundary: the window still holds this second's data.
        let on_boundary = UNIX_EPOCH + Duration::from_secs(1_000_020);
        assert_eq!(
            period_and_bounds(Duration::from_secs(60), on_boundary).2,
            1_000_080
        );
    }
}
