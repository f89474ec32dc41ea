//! The names the shipped Python runtime shares with agentdeploy: the function's variables it
//! reads, the stage variable, the request body limit. Both languages read them from one file,
//! `templates/runtime/agentdeploy_runtime/names.json` (the build turns it into these constants;
//! the runtime's `names.py` loads it at cold start), so neither can drift from the other.
//!
//! The origin: API Gateway adds the stage variable `ORIGIN_STAGE_VARIABLE`, holding the stack's
//! origin value, to every event; an event carrying it came through the stack's own API (sessions
//! trust its caller identity). The value is a secret kept in SSM (`origin_parameter_name`); the
//! function's variable `ORIGIN_VARIABLE` names that parameter, never the value, so nobody who may
//! only invoke or read the function learns it.

include!(concat!(env!("OUT_DIR"), "/runtime_names.rs"));
