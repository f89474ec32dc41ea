//! What Lambda fixes when it creates a function (tenant isolation): a deploy that would change it
//! is a replacement, refused unless `--replace` asks for one, which deletes the stack first (its
//! endpoint, API key and stored conversations go with it) so the deploy creates the function anew.

use crate::error::{Error, Result};
use crate::lambda::bundle::pipeline::StackRequest;
use crate::lambda::kinds::Isolation;

/// Refuses (exit 2, nothing changed) or, with `--replace`, carries out a change of what the
/// deployed function was created with; `Some(note)`: it was replaced.
pub async fn check(inputs: &StackRequest<'_>) -> Result<Option<String>> {
    let settings = inputs.settings;
    let name = &settings.function_name;
    let Some(deployed) = created_with(&inputs.aws.sdk, name).await? else {
        return Ok(None);
    };
    if deployed == settings.isolation {
        return Ok(None);
    }
    let (was, wanted) = (deployed.as_str(), settings.isolation.as_str());
    if !settings.replace {
        return Err(Error::Usage {
            flag: "--isolation".into(),
            message: format!(
                "{name} was created with isolation `{was}`, which Lambda sets only when it creates a function: `{wanted}` replaces it (its stack is deleted first: endpoint, API key and stored conversations go with it)"
            ),
            hint: Some(format!(
                "pass --replace to replace it, or keep --isolation {was}"
            )),
        });
    }
    crate::lambda::ship::operate::destroy(&inputs.aws.sdk, name, &settings.stack_name, true)
        .await?;
    Ok(Some(format!(
        "--replace: {name} was created anew with isolation `{wanted}` (was `{was}`): its stack was deleted first, so its endpoint, API key and stored conversations are new"
    )))
}

/// The isolation the deployed function was created with (`None`: no such function).
async fn created_with(sdk: &aws_config::SdkConfig, name: &str) -> Result<Option<Isolation>> {
    let lambda = crate::aws::clients::lambda(sdk);
    match lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    {
        Ok(config) => {
            let per_tenant = config
                .tenancy_config()
                .map(|t| t.tenant_isolation_mode().as_str() == "PER_TENANT")
                .unwrap_or(false);
            Ok(Some(if per_tenant {
                Isolation::Tenant
            } else {
                Isolation::Process
            }))
        }
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(err) => Err(Error::Deploy {
            message: crate::aws::errors::call_failed(
                format_args!("GetFunctionConfiguration {name}"),
                &err,
            ),
            hint: crate::hints::needs("lambda:GetFunctionConfiguration", None),
        }),
    }
}
