//! The orchestration layer: routes commands, runs preflight, owns the deployment lifecycle and
//! maps every failure to an exit code.

pub mod chat;
pub mod commands;
pub mod cost;
pub mod dev;
pub mod init;
pub mod lifecycle;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod preflight;
pub mod previews;
pub mod record;
pub mod remote_lock;
pub mod sync;
pub mod watch;

use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::config::{self, LoadedConfig};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::exit_codes::Classified;
use crate::output;
use crate::targets::{self, AnyTarget};

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
        args: &'a crate::cli::DeployArgs,
    ) -> crate::target::ResolveInput<'a> {
        crate::target::ResolveInput {
            function_name,
            args,
            config: self.config.as_ref(),
            env_name: self.global.env.as_deref(),
            global_region: &self.global.region,
            global_profile: &self.global.profile,
            cwd: &self.cwd,
        }
    }

    /// The target that deploys agent `name`: `flag` (`--target`), else the environment, else
    /// its config (the registry decides).
    pub fn target_for(&self, name: &str, flag: Option<&str>) -> Result<AnyTarget> {
        targets::for_agent(flag, &lookup::agent_section(self, name)?)
    }

    /// `preview`: the command deploys a preview (`--ttl`), whose environment need not be
    /// declared in the config.
    pub fn load(global: GlobalArgs, preview: bool) -> Result<Context> {
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
        if let (Some(config), Some(env)) = (&config, global.env.as_deref())
            && !preview
        {
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
        command => match Context::load(
            cli.global,
            matches!(&command, Command::Lambda(args) if args.options.ttl.is_some()),
        ) {
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

async fn dispatch(ctx: Context, command: Command) -> Result<i32> {
    match command {
        Command::Lambda(args) => {
            let flag = args.options.target.clone();
            let choose = |name: &str| ctx.target_for(name, flag.as_deref());
            lifecycle::deploy_all(&ctx, &args, &choose).await
        }
        Command::Doctor(args) => {
            let name = args.function_name.as_deref().unwrap_or_default();
            let target = ctx.target_for(name, args.options.target.as_deref())?;
            commands::doctor(&ctx, &args, &target).await
        }
        Command::Policy(args) => {
            let flag = args.options.target.clone();
            let choose = |name: &str| ctx.target_for(name, flag.as_deref());
            commands::policy(&ctx, &args, &choose)
        }
        Command::Dev(args) => {
            let flag = args.options.target.clone();
            let choose = |name: &str| ctx.target_for(name, flag.as_deref());
            dev::dev(&ctx, &args, &choose).await
        }
        Command::Sync(args) => {
            let flag = args.options.target.clone();
            let choose = |name: &str| ctx.target_for(name, flag.as_deref());
            sync::sync(&ctx, &args, &choose).await
        }
        Command::Chat(args) => {
            let target = match &args.name {
                Some(name) => Some(ctx.target_for(name, None)?),
                None => None,
            };
            chat::chat(&ctx, &args, target).await
        }
        Command::Invoke(args) => {
            commands::invoke(&ctx, &args, &ctx.target_for(&args.name, None)?).await
        }
        Command::Status(args) => {
            commands::status(&ctx, &args, &ctx.target_for(&args.name, None)?).await
        }
        Command::Destroy(args) => match &args.name {
            Some(name) => commands::destroy(&ctx, &args, name, &ctx.target_for(name, None)?).await,
            None => previews::destroy_expired(&ctx, &args, &targets::default_target()).await,
        },
        Command::Rollback(args) => {
            commands::rollback(&ctx, &args, &ctx.target_for(&args.name, None)?).await
        }
        Command::Test(args) => {
            commands::test(&ctx, &args, &ctx.target_for(&args.name, None)?).await
        }
        Command::Logs(args) => logs::logs(&ctx, &args, &ctx.target_for(&args.name, None)?).await,
        Command::List(args) if args.expired => {
            previews::list_expired(&ctx, &targets::default_target()).await
        }
        Command::List(args) => commands::list(&ctx, &args, &targets::default_target()).await,
        Command::Init(args) => init::init(&ctx, &args),
        Command::Metrics(args) => {
            metrics::metrics(&ctx, &args, &ctx.target_for(&args.name, None)?).await
        }
        Command::Cost(args) => {
            let target = match &args.name {
                Some(name) => ctx.target_for(name, None)?,
                None => targets::default_target(),
            };
            if args.from_metrics {
                cost::cost_from_metrics(&ctx, &args, &target).await
            } else {
                cost::cost(&ctx, &args, &target)
            }
        }
        Command::Completions { .. } => Ok(exit_codes::OK),
    }
}
