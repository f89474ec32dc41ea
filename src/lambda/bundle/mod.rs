//! Bundle (named so no tool takes the folder for build output): from a rendered project to the
//! function's artifact (reference §6): dependencies pinned for Lambda's platform and built,
//! bytecode compiled, the size checked, the zip packaged, the cold start estimated. Local work
//! only (pip, uv, sam build); nothing here calls AWS.

pub mod artifact;
pub mod bytecode;
pub mod cold_start;
pub mod key_lock;
pub mod package;
pub mod pipeline;
pub mod resolve;
pub mod sam;
pub mod task_root;
