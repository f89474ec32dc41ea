//! What a deploy leaves in AWS for the next one, from any machine (reference §7 "The stack is the
//! record"): SSM parameters under the stack's own path, `/agentdeploy/<stack>/record/…`, which
//! `destroy` removes with the stack's other parameters.
//! - `deployment`: the deployed input hash and what the report shows of the build, so a fresh
//!   checkout (a CI runner) finds an unchanged agent unchanged; signed with the digest key;
//! - `digest-key`: the key secret values are digested with in that hash, a SecureString (never in
//!   the repository, readable only with SSM and KMS permissions), so the hash is the same on every
//!   machine and a changed secret still redeploys.

use aws_sdk_ssm::types::ParameterType;

use crate::error::{Error, Result};
use crate::target::LastDeploy;

/// The folder under the stack's path; secrets (`/agentdeploy/<stack>/<NAME>`) never contain `/`.
pub const FOLDER: &str = "record";

fn name(stack_name: &str, leaf: &str) -> String {
    format!("/agentdeploy/{stack_name}/{FOLDER}/{leaf}")
}

fn failed<E, R>(what: std::fmt::Arguments<'_>, err: &aws_sdk_ssm::error::SdkError<E, R>) -> Error
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    Error::Deploy {
        message: crate::aws::errors::call_failed(what, err),
        hint: crate::hints::needs(
            "ssm:GetParameter and ssm:PutParameter on /agentdeploy/* (and kms:Decrypt for SecureStrings)",
            None,
        ),
    }
}

/// The parameter's value (`None`: there is none yet).
async fn get(ssm: &aws_sdk_ssm::Client, name: &str, decrypt: bool) -> Result<Option<String>> {
    match ssm
        .get_parameter()
        .name(name)
        .with_decryption(decrypt)
        .send()
        .await
    {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_parameter_not_found()) =>
        {
            Ok(None)
        }
        Err(err) => Err(failed(format_args!("GetParameter {name}"), &err)),
    }
}

/// The record as kept in SSM: what was deployed, and an HMAC over it under the stack's digest
/// key, so a record written by anyone without the key (who can write SSM but not decrypt the
/// SecureString) is no record.
#[derive(serde::Serialize, serde::Deserialize)]
struct Signed {
    deployed: LastDeploy,
    mac: String,
}

fn mac(key: &[u8], stack_name: &str, deployed: &LastDeploy) -> Result<String> {
    let body = serde_json::to_vec(deployed)
        .map_err(|e| Error::internal(format!("encoding the deployment record: {e}")))?;
    let mut signed = format!("{stack_name}\0").into_bytes();
    signed.extend_from_slice(&body);
    let digest = crate::digest::keyed(key, &signed);
    Ok(crate::digest::hex(&digest))
}

/// What the last deploy of this stack recorded (`None`: nothing yet, or not proven ours: a
/// record another version wrote differently, or one whose signature does not match, is no
/// answer and the deploy goes ahead).
pub async fn read(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<Option<LastDeploy>> {
    let ssm = crate::aws::clients::ssm(sdk);
    let parameter = name(stack_name, "deployment");
    let Some(text) = get(&ssm, &parameter, false).await? else {
        return Ok(None);
    };
    let Ok(signed) = serde_json::from_str::<Signed>(&text) else {
        return Ok(None);
    };
    let key = digest_key(sdk, stack_name).await?;
    let expected = mac(&key, stack_name, &signed.deployed)?;
    if !crate::digest::same(expected.as_bytes(), signed.mac.as_bytes()) {
        tracing::warn!(
            "the deployment record {parameter} is not signed with the stack's key (written outside agentdeploy?); deploying as if there were none"
        );
        return Ok(None);
    }
    Ok(Some(signed.deployed))
}

pub async fn write(
    sdk: &aws_config::SdkConfig,
    stack_name: &str,
    deployed: &LastDeploy,
) -> Result<()> {
    let ssm = crate::aws::clients::ssm(sdk);
    let parameter = name(stack_name, "deployment");
    let key = digest_key(sdk, stack_name).await?;
    let signed = Signed {
        mac: mac(&key, stack_name, deployed)?,
        deployed: deployed.clone(),
    };
    let value = serde_json::to_string(&signed)
        .map_err(|e| Error::internal(format!("encoding the deployment record: {e}")))?;
    ssm.put_parameter()
        .name(&parameter)
        .value(value)
        .r#type(ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| failed(format_args!("PutParameter {parameter}"), &e))?;
    Ok(())
}

/// The stack's digest key (secret values are digested, and the record authenticated, with it).
pub async fn digest_key(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<Vec<u8>> {
    key_at(
        sdk,
        &name(stack_name, "digest-key"),
        "agentdeploy: the key secret values are digested with (never the values)",
    )
    .await
}

/// The key that authenticates the shared build cache's objects in the artifact bucket: one per
/// account and region, like the cache (whoever can write the bucket cannot read it).
pub async fn cache_key(sdk: &aws_config::SdkConfig) -> Result<Vec<u8>> {
    key_at(
        sdk,
        CACHE_KEY,
        "agentdeploy: the key the shared build cache's objects are authenticated with",
    )
    .await
}

/// The stack's origin value (see `names::ORIGIN_VARIABLE`): read, or made by the first
/// deploy that needs it; hex, as the template parameter carries it.
pub async fn origin_value(sdk: &aws_config::SdkConfig, stack_name: &str) -> Result<String> {
    let key = key_at(
        sdk,
        &crate::lambda::settings::origin_parameter_name(stack_name),
        "agentdeploy: the value API Gateway adds to the events it sends this stack's function",
    )
    .await?;
    Ok(crate::digest::hex(&key))
}

/// Where the shared build cache's key is kept.
pub const CACHE_KEY: &str = "/agentdeploy/cache/key";

/// A 32-byte key kept as a SecureString: read, or made by the first deploy that needs it. Two
/// first deploys at once: the second's write fails as already there, and it reads the first's.
async fn key_at(
    sdk: &aws_config::SdkConfig,
    parameter: &str,
    description: &str,
) -> Result<Vec<u8>> {
    let ssm = crate::aws::clients::ssm(sdk);
    if let Some(hex) = get(&ssm, parameter, true).await? {
        return decode(&hex, parameter);
    }
    let key = crate::files::random_bytes(32)?;
    let written = ssm
        .put_parameter()
        .name(parameter)
        .value(crate::digest::hex(&key))
        .r#type(ParameterType::SecureString)
        .overwrite(false)
        .description(description)
        .send()
        .await;
    match written {
        Ok(_) => Ok(key),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_parameter_already_exists()) =>
        {
            let hex = get(&ssm, parameter, true)
                .await?
                .ok_or_else(|| Error::Deploy {
                    message: format!("{parameter} exists but could not be read"),
                    hint: "check the role's ssm:GetParameter and kms:Decrypt permissions".into(),
                })?;
            decode(&hex, parameter)
        }
        Err(err) => Err(failed(format_args!("PutParameter {parameter}"), &err)),
    }
}

fn decode(hex: &str, parameter: &str) -> Result<Vec<u8>> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes {
        Some(key) if key.len() == 32 => Ok(key),
        _ => Err(Error::Deploy {
            message: format!("{parameter} does not hold a 32-byte hex key"),
            hint: format!("delete {parameter} (the next deploy makes a new key and redeploys)"),
        }),
    }
}
