//! `init`: a commented config and a sample agent.

use serde::Serialize;

use crate::cli::InitArgs;
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::files::write_atomically;
use crate::orchestrate::Context;
use crate::output::{self, CommandResult};

const CONFIG_TEMPLATE: &str = include_str!("../../templates/agentdeploy.toml");
const SAMPLE_AGENT: &str = include_str!("../../templates/sample_agent.py");

pub fn init(ctx: &Context, args: &InitArgs) -> Result<i32> {
    let config = ctx.cwd.join("agentdeploy.toml");
    let agent = ctx.cwd.join("agent.py");
    if config.exists() && !args.force {
        return Err(Error::usage_hint(
            "--force",
            format!("{} already exists; not overwriting it", config.display()),
            "pass --force to replace it",
        ));
    }
    write_atomically(&config, CONFIG_TEMPLATE.as_bytes())?;
    let mut written = vec![config.display().to_string()];
    // The sample agent is written only where there is no agent yet, --force or not.
    if !agent.exists() {
        write_atomically(&agent, SAMPLE_AGENT.as_bytes())?;
        written.push(agent.display().to_string());
    }
    output::emit(&Written { written }, ctx.global.output);
    Ok(exit_codes::OK)
}

/// `init`'s result.
#[derive(Debug, Serialize)]
pub struct Written {
    pub written: Vec<String>,
}

impl CommandResult for Written {
    fn text_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.written.iter().map(|f| format!("wrote {f}")).collect();
        lines
            .push("next: agentdeploy lambda --dry-run   (then without --dry-run to deploy)".into());
        lines
    }
}
