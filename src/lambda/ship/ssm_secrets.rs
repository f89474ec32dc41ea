//! `--secrets-store ssm`: the secrets as SecureStrings under the stack's path, put by a deploy and
//! removed by `destroy`.

use crate::error::{Error, Result};
use crate::lambda::settings::SecretsStore;
use crate::secrets::SecretValues;

/// `--secrets-store ssm`: each value as a SecureString under `/agentdeploy/<stack>/<NAME>`.
pub async fn put_ssm_secrets(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    secrets: &SecretValues,
) -> Result<()> {
    let ssm = crate::aws::clients::ssm(sdk);
    for (name, value) in &secrets.values {
        let parameter = SecretsStore::parameter_name(stack_name, name);
        ssm.put_parameter()
            .name(&parameter)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .description(format!("agentdeploy secret {name} for stack {stack_name}"))
            .send()
            .await
            .map_err(|e| Error::Deploy {
                // The SDK's error never echoes the value; only the parameter name is shown.
                message: crate::aws::errors::call_failed(
                    format_args!("storing secret {name} in SSM ({parameter})"),
                    &e,
                ),
                hint: crate::hints::needs("ssm:PutParameter on /agentdeploy/*", None),
            })?;
    }
    Ok(())
}

/// Removes every parameter of a stack (`destroy`): its secrets and its record; returns how many
/// secrets were deleted.
pub async fn delete_ssm_secrets(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<usize> {
    let ssm = crate::aws::clients::ssm(sdk);
    let path = format!("/agentdeploy/{stack_name}/");
    let mut names = Vec::new();
    let mut pages = ssm
        .get_parameters_by_path()
        .path(&path)
        .recursive(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Error::internal(crate::aws::errors::call_failed(
                format_args!("listing {path} in SSM"),
                &e,
            ))
        })?;
        names.extend(
            page.parameters()
                .iter()
                .filter_map(|p| p.name().map(str::to_string)),
        );
    }
    for name in &names {
        ssm.delete_parameter()
            .name(name)
            .send()
            .await
            .map_err(|e| {
                Error::internal(crate::aws::errors::call_failed(
                    format_args!("deleting {name} from SSM"),
                    &e,
                ))
            })?;
    }
    // The deployment's own record (its input hash, its digest key) goes too, but is no secret.
    let record = format!("{path}{}/", crate::lambda::ship::remote_record::FOLDER);
    Ok(names.iter().filter(|n| !n.starts_with(&record)).count())
}
