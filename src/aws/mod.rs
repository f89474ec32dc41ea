//! Shared AWS plumbing for both layers: the context (identity, region, endpoint), the timed SDK
//! clients, and the classification of AWS errors.

pub mod clients;
pub mod context;
pub mod errors;
pub mod s3_lock;
pub mod session_bucket;

pub use context::{
    AwsContext, aws_context, caller_identity, context_for, load_sdk_config, region_of, retry_config,
};
pub use errors::{CredentialsProblem, read_sdk_failure};
pub use session_bucket::empty_bucket;

/// The region as known on this machine without asking AWS: the one chosen (flag, config), else
/// `AWS_REGION`, else `AWS_DEFAULT_REGION` (a profile's region is known only to the SDK).
pub fn local_region(chosen: Option<&str>) -> Option<String> {
    chosen
        .map(str::to_string)
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .filter(|r| !r.is_empty())
}
