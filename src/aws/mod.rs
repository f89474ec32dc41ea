//! Shared AWS plumbing for both layers: the context (identity, region, endpoint), the timed SDK
//! clients, and the classification of AWS errors.

pub mod clients;
pub mod context;

pub use context::{
    AwsContext, aws_context, caller_identity, classify_credentials_error, load_sdk_config,
    retry_config,
};
