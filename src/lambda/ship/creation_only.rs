//! What a function is created with and keeps: tenant isolation (Lambda sets it only at
//! creation) and where it runs (Lambda's own compute or a capacity provider's managed instances,
//! which agentdeploy switches only by creating the function anew). A deploy that would change
//! either is a replacement, refused unless `--replace` asks for one, which deletes the stack first
//! (its endpoint, API key and stored conversations go with it) so the deploy creates the function
//! anew. A first deploy that sets either is told it is fixed from then on.

use crate::error::{Error, Result};
use crate::lambda::bundle::pipeline::StackRequest;
use crate::lambda::kinds::Isolation;
use crate::lambda::settings::LambdaSettings;

/// What a function was (or will be) created with.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Created {
    isolation: Isolation,
    /// Runs on managed instances (the capacity provider's ARN may change in place).
    managed_instances: bool,
}

impl Created {
    fn wanted(settings: &LambdaSettings) -> Self {
        Created {
            isolation: settings.isolation,
            managed_instances: settings.managed_instances.is_some(),
        }
    }

    fn compute(&self) -> &'static str {
        if self.managed_instances {
            "managed instances"
        } else {
            "Lambda's own compute"
        }
    }
}

/// Refuses (exit 2, nothing changed) or, with `--replace`, carries out a change of what the
/// deployed function was created with; `Some(note)`: a warning for the deploy's report (it was
/// replaced, or a new function is created with what it keeps).
pub async fn check(inputs: &StackRequest<'_>) -> Result<Option<String>> {
    let settings = inputs.settings;
    let name = &settings.function_name;
    let wanted = Created::wanted(settings);
    let Some(deployed) = created_with(&inputs.aws.sdk, name).await? else {
        return Ok(first_creation_note(&wanted));
    };
    if deployed == wanted {
        return Ok(None);
    }
    let (flag, change) = if deployed.isolation != wanted.isolation {
        (
            "--isolation",
            format!(
                "{name} was created with isolation `{}`, which Lambda sets only when it creates a function: `{}` replaces it",
                deployed.isolation.as_str(),
                wanted.isolation.as_str()
            ),
        )
    } else {
        (
            "--managed-instances",
            format!(
                "{name} runs on {}; moving it to {} creates it anew",
                deployed.compute(),
                wanted.compute()
            ),
        )
    };
    if !settings.replace {
        let keep = if flag == "--isolation" {
            format!("keep --isolation {}", deployed.isolation.as_str())
        } else if deployed.managed_instances {
            "keep --managed-instances".to_string()
        } else {
            "drop --managed-instances".to_string()
        };
        return Err(Error::Usage {
            flag: flag.into(),
            message: format!(
                "{change} (its stack is deleted first: endpoint, API key and stored conversations go with it)"
            ),
            hint: Some(format!("pass --replace to replace it, or {keep}")),
        });
    }
    // What `sync` keeps in the bucket stays: the replacement's syncs can copy it (it is checked).
    crate::lambda::ship::operate::destroy(&inputs.aws.sdk, name, &settings.stack_name, true, None)
        .await?;
    Ok(Some(format!(
        "--replace: {name} was created anew with isolation `{}` on {} (was `{}` on {}): its stack was deleted first, so its endpoint, API key and stored conversations are new",
        wanted.isolation.as_str(),
        wanted.compute(),
        deployed.isolation.as_str(),
        deployed.compute()
    )))
}

/// A new function set up with what it keeps: said once, before it is created.
fn first_creation_note(wanted: &Created) -> Option<String> {
    let mut kept = Vec::new();
    if wanted.isolation == Isolation::Tenant {
        kept.push("--isolation tenant");
    }
    if wanted.managed_instances {
        kept.push("--managed-instances");
    }
    (!kept.is_empty()).then(|| {
        format!(
            "{} is fixed when the function is created: changing it later replaces the function (--replace), with a new endpoint, API key and conversations",
            kept.join(" and ")
        )
    })
}

/// What the deployed function was created with (`None`: no such function).
async fn created_with(sdk: &aws_config::SdkConfig, name: &str) -> Result<Option<Created>> {
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
            Ok(Some(Created {
                isolation: if per_tenant {
                    Isolation::Tenant
                } else {
                    Isolation::Process
                },
                managed_instances: config
                    .capacity_provider_config()
                    .and_then(|c| c.lambda_managed_instances_capacity_provider_config())
                    .is_some(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_function_is_told_what_it_keeps() {
        let plain = Created {
            isolation: Isolation::Process,
            managed_instances: false,
        };
        assert_eq!(first_creation_note(&plain), None);
        let note = first_creation_note(&Created {
            isolation: Isolation::Process,
            managed_instances: true,
        })
        .unwrap();
        assert!(
            note.starts_with("--managed-instances is fixed") && note.contains("--replace"),
            "{note}"
        );
        let note = first_creation_note(&Created {
            isolation: Isolation::Tenant,
            managed_instances: false,
        })
        .unwrap();
        assert!(note.starts_with("--isolation tenant is fixed"), "{note}");
    }
}
