//! The names the shipped Python runtime shares with agentdeploy: the function's variables it
//! reads, the stage variable, the request body limit. Both languages read them from one file,
//! `templates/runtime/agentdeploy_runtime/names.json` (the build turns it into these constants;
//! the runtime's `names.py` loads it at cold start), so neither can drift from the other.

include!(concat!(env!("OUT_DIR"), "/runtime_names.rs"));
