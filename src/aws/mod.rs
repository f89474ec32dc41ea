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
