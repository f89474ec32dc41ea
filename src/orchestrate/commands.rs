//! The commands around a deployment: `invoke` (and, with the deployment record, status /
//! destroy / list).

use aws_smithy_types::Blob;
use serde_json::{Value, json};

use crate::cli::{InvokeArgs, LambdaArgs, OutputFormat};
use crate::error::{Error, Result};
use crate::orchestrate::preflight::CheckStatus;
use crate::orchestrate::{Context, exit_codes, preflight};
use crate::settings::{PathProbe, Runtime};

/// Region and profile for a named function: flags, else its config section.
pub fn region_profile(ctx: &Context, name: &str) -> Result<(Option<String>, Option<String>)> {
    let section = match &ctx.config {
        Some(config) => config.section_for(name, ctx.global.env.as_deref())?,
        None => Default::default(),
    };
    Ok((
        ctx.global.region.clone().or(section.region),
        ctx.global.profile.clone().or(section.profile),
    ))
}

pub async fn invoke(ctx: &Context, args: &InvokeArgs) -> Result<i32> {
    crate::settings::validate_function_name(&args.name)?;
    let mut payload = serde_json::Map::new();
    if let Some(input) = &args.input {
        payload.insert("input".into(), Value::String(input.clone()));
    }
    if let Some(data) = &args.data {
        let value: Value = serde_json::from_str(data)
            .map_err(|e| Error::usage("--data", format!("not valid JSON: {e}")))?;
        payload.insert("data".into(), value);
    }
    if payload.is_empty() {
        return Err(Error::usage(
            "--input",
            "give --input TEXT and/or --data JSON",
        ));
    }
    let (region, profile) = region_profile(ctx, &args.name)?;
    let sdk = preflight::load_sdk_config(
        region.as_deref(),
        profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await;
    let lambda = aws_sdk_lambda::Client::new(&sdk);
    let out = lambda
        .invoke()
        .function_name(&args.name)
        .payload(Blob::new(
            serde_json::to_vec(&Value::Object(payload)).unwrap_or_default(),
        ))
        .send()
        .await
        .map_err(|err| {
            let not_found = err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            if not_found {
                Error::usage_hint(
                    "NAME",
                    format!(
                        "function {} does not exist in this account and region",
                        args.name
                    ),
                    "deploy it first with `agentdeploy lambda`, or check --region / --profile",
                )
            } else {
                Error::internal(format!(
                    "Invoke {} failed: {}",
                    args.name,
                    aws_smithy_types::error::display::DisplayErrorContext(&err)
                ))
            }
        })?;
    let raw = out
        .payload()
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let response: Value = serde_json::from_slice(&raw)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&raw).into_owned()));
    // A function error (unhandled exception, timeout) or the handler's own error answer.
    let error = match (out.function_error(), &response) {
        (Some(kind), body) => Some(format!(
            "{kind}: {}",
            body.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string())
        )),
        (None, Value::Object(map)) if map.contains_key("error") && !map.contains_key("output") => {
            Some(format!(
                "{}: {}",
                map["error"].as_str().unwrap_or("error"),
                map.get("message").and_then(Value::as_str).unwrap_or("")
            ))
        }
        _ => None,
    };
    let shown = if args.raw {
        response.clone()
    } else {
        response.get("output").cloned().unwrap_or(response.clone())
    };
    match ctx.global.output {
        OutputFormat::Json => {
            let doc = json!({ "function_name": args.name, "output": shown, "error": error });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => match &shown {
            Value::String(text) if error.is_none() => println!("{text}"),
            other if error.is_none() => println!(
                "{}",
                serde_json::to_string_pretty(other).unwrap_or_default()
            ),
            _ => {}
        },
    }
    match error {
        Some(message) => Err(Error::FunctionError {
            message: format!("the function answered with an error: {message}"),
        }),
        None => Ok(exit_codes::OK),
    }
}

/// Every preflight check, each reported pass / warn / fail with a hint, all in one run.
/// Exit 3 when any check fails.
pub async fn doctor(ctx: &Context, args: &LambdaArgs) -> Result<i32> {
    let runtime = match args.runtime.as_deref() {
        Some(text) => Runtime::parse(text).ok_or_else(|| {
            Error::usage(
                "--runtime",
                format!("`{text}` is not a Lambda Python runtime"),
            )
        })?,
        None => Runtime::SUPPORTED
            .into_iter()
            .find(|r| crate::settings::InterpreterProbe::has_interpreter(&PathProbe, *r))
            .unwrap_or(Runtime::FALLBACK),
    };
    let region = ctx.global.region.clone().or_else(|| {
        ctx.config
            .as_ref()
            .and_then(|c| c.file.defaults.region.clone())
    });
    let checks = preflight::doctor(
        runtime,
        region.as_deref(),
        ctx.global.profile.as_deref(),
        ctx.global.endpoint_url.as_deref(),
    )
    .await;
    let failed = checks.iter().any(|c| c.status == CheckStatus::Fail);
    match ctx.global.output {
        OutputFormat::Json => {
            let doc = json!({ "ok": !failed, "runtime": runtime.name(), "checks": checks });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        OutputFormat::Text => {
            for check in &checks {
                let mark = match check.status {
                    CheckStatus::Pass => "pass",
                    CheckStatus::Warn => "warn",
                    CheckStatus::Fail => "FAIL",
                };
                println!("{mark}  {:<12} {}", check.name, check.detail);
                if let Some(hint) = &check.hint
                    && check.status != CheckStatus::Pass
                {
                    println!("      {:<12} hint: {hint}", "");
                }
            }
        }
    }
    Ok(if failed {
        exit_codes::PREFLIGHT
    } else {
        exit_codes::OK
    })
}
