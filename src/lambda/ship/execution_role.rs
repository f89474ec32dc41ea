//! `--role ARN` (reference §7 "IAM"): the function runs under a role the stack did not make.
//! Before deploying, the role must exist and trust Lambda (its trust policy names
//! `lambda.amazonaws.com` for `sts:AssumeRole`), or the function could never start; where the
//! deployer may not read the role (`iam:GetRole` denied), a warning says what was not checked.

use crate::error::{Error, Result};

/// `Ok(Some(warning))`: the role could not be read; `Ok(None)`: it exists and trusts Lambda.
pub async fn check(sdk: &aws_config::SdkConfig, role_arn: &str) -> Result<Option<String>> {
    let name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let iam = crate::aws::clients::iam(sdk);
    let role = match iam.get_role().role_name(name).send().await {
        Ok(out) => out,
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception()) =>
        {
            return Err(Error::usage_hint(
                "--role",
                format!("the role {role_arn} does not exist"),
                "create it (trusting lambda.amazonaws.com), or leave out --role and let the stack make one",
            ));
        }
        Err(err) => {
            return Ok(Some(format!(
                "the trust policy of {role_arn} was not checked ({}); it must trust lambda.amazonaws.com",
                crate::aws::errors::describe(&err)
            )));
        }
    };
    let document = role
        .role()
        .and_then(|r| r.assume_role_policy_document())
        .unwrap_or_default();
    // IAM returns the document URL-encoded.
    let decoded = percent_decode(document);
    if trusts_lambda(&decoded) {
        Ok(None)
    } else {
        Err(Error::usage_hint(
            "--role",
            format!(
                "the role {role_arn} does not trust lambda.amazonaws.com: Lambda could not run the function as it"
            ),
            "add a trust statement allowing sts:AssumeRole for the service lambda.amazonaws.com, or leave out --role",
        ))
    }
}

/// Whether a trust policy lets Lambda assume the role.
fn trusts_lambda(document: &str) -> bool {
    let Ok(policy) = serde_json::from_str::<serde_json::Value>(document) else {
        return false;
    };
    let statements = match &policy["Statement"] {
        serde_json::Value::Array(list) => list.clone(),
        one @ serde_json::Value::Object(_) => vec![one.clone()],
        _ => return false,
    };
    let names = |value: &serde_json::Value, wanted: &str| match value {
        serde_json::Value::String(one) => one == wanted,
        serde_json::Value::Array(list) => list.iter().any(|v| v.as_str() == Some(wanted)),
        _ => false,
    };
    statements.iter().any(|statement| {
        statement["Effect"] == "Allow"
            && (names(&statement["Action"], "sts:AssumeRole")
                || names(&statement["Action"], "sts:*"))
            && names(&statement["Principal"]["Service"], "lambda.amazonaws.com")
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (b'+', ..) => {
                out.push(b' ');
                i += 1;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trust_policy_naming_lambda_for_assume_role_trusts_lambda() {
        let lambda = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        assert!(trusts_lambda(lambda));
        assert!(trusts_lambda(&percent_decode(
            "%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22lambda.amazonaws.com%22%7D%2C%22Action%22%3A%5B%22sts%3AAssumeRole%22%5D%7D%7D"
        )));
        let ec2 = lambda.replace("lambda.amazonaws.com", "ec2.amazonaws.com");
        assert!(!trusts_lambda(&ec2));
        let denied = lambda.replace("Allow", "Deny");
        assert!(!trusts_lambda(&denied));
        assert!(!trusts_lambda("not json"));
    }
}
