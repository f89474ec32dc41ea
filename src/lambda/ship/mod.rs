//! Ship: the only room that calls AWS (reference §7, §11): the stack checked, deployed with its
//! secrets and verified, the `live` alias moved, the stack's outputs read.

pub mod artifact_bucket;
pub mod creation_only;
pub mod deploy;
pub mod execution_role;
pub mod live_alias;
pub mod log_group;
pub mod measured;
pub mod operate;
pub mod outputs;
pub mod ownership;
pub mod remote_cache;
pub mod remote_record;
pub mod sam_deploy;
pub mod shared_cache;
pub mod ssm_secrets;
pub mod stack_checks;
pub mod streamed_answer;
pub mod sync;
