//! `--kind code-interpreter` (reference §10): a ready Python code-execution function, named so the
//! awslabs lambda-tool MCP server discovers it, plus the MCP client configuration to use it.

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::lambda::analyse::agent::AgentAnalysis;
use crate::lambda::analyse::entry::Entry;
use crate::lambda::analyse::entry::EntryKind;
use crate::lambda::analyse::entry::MainSignature;
use crate::lambda::settings::DeploymentKind;

pub const SOURCE: &str = include_str!("../../../templates/code_interpreter.py");

/// The function's description, which the MCP server offers to the model as the tool description.
pub const TOOL_DESCRIPTION: &str = "Run Python code; returns stdout, stderr, exit_code and images it saved (base64). Input: {\"code\": \"<python>\", \"modules\": [\"pip packages\"], \"timeout\": seconds}. Save plots to files to get them back.";

/// Lambda allows 256 characters of description.
const _: () = assert!(TOOL_DESCRIPTION.len() <= 256);

/// The built-in source as an analysed "agent" (it has no `main`: it is the handler itself).
pub fn analysis() -> AgentAnalysis {
    AgentAnalysis {
        path: PathBuf::from("code_interpreter.py"),
        display: "(built-in code interpreter)".into(),
        package_dir: None,
        source: SOURCE.to_string(),
        entry: Entry {
            kind: EntryKind::Handler,
            name: "lambda_handler".into(),
            line: 0,
        },
        entry_app: None,
        serves_at_import: Vec::new(),
        main: MainSignature {
            is_async: false,
            positional: vec!["event".into(), "context".into()],
            has_varargs: false,
            line: 0,
            required_positional: 2,
            ..MainSignature::default()
        },
        imports: Vec::new(),
        bedrock_models: Vec::new(),
        agentcore_code_interpreter: Vec::new(),
        aws_sdk_use: Vec::new(),
        interrupts: Vec::new(),
        warnings: Vec::new(),
        local_modules: Vec::new(),
    }
}

/// The MCP client configuration (Claude Desktop, Kiro, Cursor... `mcpServers`) for the tool.
pub fn mcp_client_config(region: &str) -> Value {
    json!({
        "mcpServers": {
            "awslabs.lambda-tool-mcp-server": {
                "command": "uvx",
                "args": ["awslabs.lambda-tool-mcp-server@latest"],
                "env": {
                    "AWS_REGION": region,
                    "FUNCTION_PREFIX": DeploymentKind::MCP_FUNCTION_PREFIX,
                }
            }
        }
    })
}
