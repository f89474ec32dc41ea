//! The orchestration layer: routes commands, runs preflight, owns the deployment lifecycle and
//! maps every failure to an exit code.

pub mod commands;
pub mod init_cost;
pub mod lifecycle;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod preflight;
pub mod record;
pub mod remote_lock;

use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{self, LoadedConfig};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::exit_codes::Classified;
use crate::output;
use crate::target::Target;

/// Shared by every command: the parsed global flags, the config (if any) and the cwd.
pub struct Context {
    pub global: GlobalArgs,
    pub config: Option<LoadedConfig>,
    pub cwd: PathBuf,
}

impl Context {
    /// Where the record, `.env` and the caches live: the config's folder, else the cwd.
    pub fn project_dir(&self) -> PathBuf {
        self.config
            .as_ref()
            .map(|c| c.dir().to_path_buf())
            .unwrap_or_else(|| self.cwd.clone())
    }

    /// What settings resolution needs for one agent of this run.
    pub fn resolve_input<'a>(
        &'a self,
        function_name: &'a str,
        args: &'a crate::cli::LambdaArgs,
    ) -> crate::settings::ResolveInput<'a> {
        crate::settings::ResolveInput {
            function_name,
            args,
            config: self.config.as_ref(),
            env_name: self.global.env.as_deref(),
            global_region: &self.global.region,
            global_profile: &self.global.profile,
            cwd: &self.cwd,
        }
    }

    pub fn load(global: GlobalArgs) -> Result<Context> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::internal(format!("cannot read the current directory: {e}")))?;
        if let Some(env) = global.env.as_deref() {
            config::check_environment_name(env).map_err(|problem| {
                Error::usage_hint(
                    "--env",
                    problem,
                    "pick a defined environment: letters, digits and -",
                )
            })?;
        }
        let config = config::discover(global.config.as_deref(), &cwd)?;
        if let (Some(config), Some(env)) = (&config, global.env.as_deref()) {
            config.environment(env)?;
        }
        Ok(Context {
            global,
            config,
            cwd,
        })
    }
}

/// Runs the command and returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let format = cli.global.output;
    let result = match cli.command {
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "agentdeploy", &mut script);
            crate::outln!("{}", String::from_utf8_lossy(&script).trim_end());
            Ok(exit_codes::OK)
        }
        command => match Context::load(cli.global) {
            Ok(ctx) => dispatch(ctx, command).await,
            Err(err) => Err(err),
        },
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err, format);
            err.exit_code()
        }
    }
}

/// The one place a target is chosen: every command reaches it through `crate::target::Target`.
fn target() -> impl Target + Clone + 'static {
    crate::lambda::target::LambdaTarget
}

async fn dispatch(ctx: Context, command: Command) -> Result<i32> {
    let target = target();
    match command {
        Command::Lambda(args) => lifecycle::lambda(&ctx, &args, &target).await,
        Command::Doctor(args) => commands::doctor(&ctx, &args).await,
        Command::Policy(args) => commands::policy(&ctx, &args, &target),
        Command::Invoke(args) => commands::invoke(&ctx, &args, &target).await,
        Command::Status(args) => commands::status(&ctx, &args, &target).await,
        Command::Destroy(args) => commands::destroy(&ctx, &args, &target).await,
        Command::Rollback(args) => commands::rollback(&ctx, &args, &target).await,
        Command::Test(args) => commands::test(&ctx, &args, &target).await,
        Command::Logs(args) => logs::logs(&ctx, &args, &target).await,
        Command::List(args) => commands::list(&ctx, &args, &target).await,
        Command::Init(args) => init_cost::init(&ctx, &args),
        Command::Metrics(args) => metrics::metrics(&ctx, &args, &target).await,
        Command::Cost(args) if args.from_metrics => {
            metrics::cost_from_metrics(&ctx, &args, &target).await
        }
        Command::Cost(args) => init_cost::cost(&ctx, &args),
        Command::Completions { .. } => Ok(exit_codes::OK),
    }
}
