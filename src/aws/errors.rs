//! AWS failures classified on typed values: the SDK error's variant and its error code, read
//! where the error happens (never by searching formatted text).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use aws_credential_types::provider::error::CredentialsError;

use crate::error::Error;

/// What an AWS error says about the caller's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsProblem {
    Expired,
    Denied,
    /// Missing, malformed or not accepted (bad key id, bad signature, nothing to sign with).
    Unusable,
}

impl CredentialsProblem {
    /// From an AWS error code (the codes STS, CloudFormation, Lambda, S3 and IAM use).
    pub fn from_code(code: &str) -> Option<CredentialsProblem> {
        match code {
            "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired"
            | "TokenRefreshRequired" => Some(CredentialsProblem::Expired),
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthorizationError"
            | "UnauthorizedAccess" => Some(CredentialsProblem::Denied),
            "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException"
            | "IncompleteSignature"
            | "InvalidAccessKeyId" => Some(CredentialsProblem::Unusable),
            _ => None,
        }
    }

    /// The preflight error (exit 3) with the fix for this problem.
    pub fn error(self, detail: &str) -> Error {
        match self {
            CredentialsProblem::Expired => Error::Preflight {
                message: format!("the AWS credentials have expired ({detail})"),
                hint: "refresh them: `aws sso login` for SSO profiles, or new keys / a new session token".into(),
            },
            CredentialsProblem::Denied => Error::Preflight {
                message: format!("AWS denied access ({detail})"),
                hint: crate::hints::needs(
                    "sts:GetCallerIdentity plus CloudFormation, Lambda, IAM, S3 and API Gateway permissions to deploy",
                    Some("check the profile or role"),
                ),
            },
            CredentialsProblem::Unusable => Error::Preflight {
                message: format!("no usable AWS credentials: {detail}"),
                hint: "configure credentials: `aws configure`, `aws sso login --profile NAME` with --profile NAME, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (in CI: an OIDC role)".into(),
            },
        }
    }
}

/// An SDK failure read once: a one-line description and, when it is about credentials, which
/// problem. A request that could not even be built failed on its credentials (the region and
/// endpoint are settled before any call).
pub fn read_sdk_failure<E, R>(err: &SdkError<E, R>) -> (String, Option<CredentialsProblem>)
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code();
            (describe(err), code.and_then(CredentialsProblem::from_code))
        }
        SdkError::ConstructionFailure(_) => (chain(err), Some(CredentialsProblem::Unusable)),
        other => {
            // No credentials to sign with surfaces as a dispatch failure whose cause is the
            // credentials provider's error.
            let problem = causes(other)
                .any(|cause| cause.downcast_ref::<CredentialsError>().is_some())
                .then_some(CredentialsProblem::Unusable);
            (chain(other), problem)
        }
    }
}

fn causes<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(err), |cause| cause.source())
}

/// `dispatch failure: io error: connection refused`: each cause once, without debug dumps.
fn chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = cause.source();
    }
    parts.join(": ")
}
/// One failed AWS call as a person reads it: the service's code and message and the request id
/// to quote to AWS support, or, when no answer came, each cause of the failure once. Never the
/// SDK's debug dump (`DisplayErrorContext` appends one; the SDK's own `Display` says only
/// "service error").
pub fn describe<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let meta = service.err().meta();
            let code = match meta.code() {
                Some(code) => code.to_string(),
                // An answer AWS did not shape (a proxy's page, a 500): its status says most.
                None => http_status(service.raw())
                    .map_or_else(|| "error".into(), |status| format!("HTTP {status}")),
            };
            let mut text = format!("{code}: {}", meta.message().unwrap_or("(no message)"));
            if let Some(id) = meta.extra("aws_request_id") {
                text.push_str(&format!(" (request id {id})"));
            }
            text
        }
        other => chain(other),
    }
}

/// The HTTP status of a raw SDK response (every AWS SDK call's is an `HttpResponse`).
fn http_status(raw: &dyn std::any::Any) -> Option<u16> {
    raw.downcast_ref::<aws_smithy_runtime_api::client::orchestrator::HttpResponse>()
        .map(|response| response.status().as_u16())
}

/// What to do when the artifact bucket is missing (sam's words, or S3's `NoSuchBucket`).
pub const MISSING_BUCKET_HINT: &str =
    "the artifact bucket does not exist: create it, pass another --s3-bucket, or use --resolve-s3";

/// A failed AWS call: a credentials problem as the preflight error it is (exit 3), anything else
/// as `otherwise("WHAT failed: <code>: <message> (request id)")`.
pub fn failed_call<E, R>(
    what: impl std::fmt::Display,
    err: &SdkError<E, R>,
    otherwise: impl FnOnce(String) -> Error,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let (detail, problem) = read_sdk_failure(err);
    match problem {
        Some(problem) => problem.error(&detail),
        None => otherwise(format!("{what} failed: {detail}")),
    }
}

/// A failed AWS call during a deploy: [`failed_call`], else a deploy error with `hint` (exit 5).
pub fn deploy_call_failed<E, R>(
    what: impl std::fmt::Display,
    err: &SdkError<E, R>,
    hint: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    failed_call(what, err, |message| Error::Deploy {
        message,
        hint: hint.into(),
    })
}

/// "WHAT failed: " and [`describe`], for the message about one failed AWS call.
pub fn call_failed<E, R>(what: impl std::fmt::Display, err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    format!("{what} failed: {}", describe(err))
}
