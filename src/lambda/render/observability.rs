//! What `--tracing` and the alarms add to the function's template (reference §5
//! "Observability"). The per-request metrics themselves need nothing here: the runtime writes
//! them on the function's log as Embedded Metric Format, which CloudWatch reads as it arrives.

use serde_json::{Value, json};

use crate::lambda::kinds::Architecture;
use crate::lambda::settings::LambdaSettings;

/// The namespace of the runtime's per-request metrics (`agentdeploy_runtime/metrics.py`).
pub const METRICS_NAMESPACE: &str = "agentdeploy";

/// The account AWS publishes the ADOT Lambda layers from (the same in every commercial region,
/// as is the layer's version, so one `!Sub` serves them all).
const ADOT_PUBLISHER_ACCOUNT: &str = "901920570463";
/// The ADOT Python layer (OpenTelemetry Python 1.29 and a collector that exports to X-Ray),
/// pinned so that a deploy never changes because AWS published a new layer; `tracing_layer`
/// overrides it (the region's `AWSOpenTelemetryDistroPython`, for one).
const ADOT_LAYER_VERSION: &str = "ver-1-29-0:1";
/// The wrapper script in the ADOT layer that starts the OpenTelemetry SDK before the handler:
/// Strands writes its spans to the global tracer provider this sets up.
pub const ADOT_EXEC_WRAPPER: &str = "/opt/otel-instrument";

/// The tracing layer as the template writes it (`None`: no `--tracing`).
pub fn tracing_layer(settings: &LambdaSettings) -> Option<String> {
    let tracing = settings.tracing.as_ref()?;
    if let Some(layer) = &tracing.layer {
        return Some(layer.clone());
    }
    let arch = match settings.architecture {
        Architecture::X86_64 => "amd64",
        Architecture::Arm64 => "arm64",
    };
    Some(format!(
        "arn:aws:lambda:${{AWS::Region}}:{ADOT_PUBLISHER_ACCOUNT}:layer:aws-otel-python-{arch}-{ADOT_LAYER_VERSION}"
    ))
}

/// The variables `--tracing` sets on the function.
pub fn tracing_environment(settings: &LambdaSettings) -> Vec<(&'static str, String)> {
    if settings.tracing.is_none() {
        return Vec::new();
    }
    vec![
        ("AWS_LAMBDA_EXEC_WRAPPER", ADOT_EXEC_WRAPPER.to_string()),
        ("OTEL_SERVICE_NAME", settings.function_name.clone()),
    ]
}

/// The alarms' part of the template's context (`Null` without alarms).
pub fn alarms_context(settings: &LambdaSettings) -> Value {
    let alarms = &settings.alarms;
    if !alarms.any() {
        return Value::Null;
    }
    let topic = match &alarms.topic {
        Some(arn) => json!(arn),
        None => json!({ "Ref": "AgentAlarmTopic" }),
    };
    json!({
        "namespace": METRICS_NAMESPACE,
        "make_topic": alarms.topic.is_none(),
        "topic": topic,
        "error_rate": alarms.error_rate,
        "error_rate_percent": alarms.error_rate.map(|r| format!("{}", (r * 10_000.0).round() / 100.0)),
        "p95_ms": alarms.p95_ms,
    })
}
