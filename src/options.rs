//! Every per-agent option, declared once (reference §3, §4).
//!
//! One `agent_options!` entry gives an option's help text, its flag (name, `AGENTDEPLOY_*`
//! variable, value name), the type the flag is read as, the type the config file holds and how
//! config layers combine (`replace` or `extend` key by key). From that one list come the clap
//! flags (`AgentFlags`), the config schema (`AgentSection`, `EnvironmentSection`, with unknown
//! keys refused), the layer merge (`overlay`), the option table (`AGENT_OPTIONS`, which a test
//! holds docs/commands/lambda.md to) and the precedence pick with its error messages (`Layers`): a bad value
//! names the flag when it came from the command line and the config key when it came from the
//! file. Validation that belongs to one option lives in `settings`.
//!
//! A `macro_rules!` table rather than a derive crate: one crate (the design card), and serde's
//! `flatten` cannot be combined with `deny_unknown_fields`, so the sections are spelled out here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::error::{Error, Result};

/// What the option table says about one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionInfo {
    /// The config key (`session_ttl_days`).
    pub key: &'static str,
    /// The flag (`--session-ttl-days`); for `region`/`profile` the global flag.
    pub flag: &'static str,
    pub help: &'static str,
}

fn replace<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn extend(slot: &mut Option<BTreeMap<String, String>>, value: Option<BTreeMap<String, String>>) {
    if let Some(value) = value {
        slot.get_or_insert_with(BTreeMap::new).extend(value);
    }
}

macro_rules! agent_options {
    (
        options {$(
            $(#[doc = $doc:literal])+
            $field:ident: flag($($flag_ty:tt)+) config($($config_ty:tt)+) $merge:ident,
                arg($long:literal $(, $($arg:tt)+)?);
        )*}
        global_flags {$(
            $(#[doc = $global_doc:literal])+
            $global:ident: config($($global_ty:tt)+), flag $global_flag:literal;
        )*}
    ) => {
        /// The per-agent flags of `lambda` and `doctor`. All optional: the config file can
        /// supply them; `AGENTDEPLOY_*` variables sit between the config file and the flags.
        #[derive(Debug, clap::Args, Clone, Default)]
        pub struct AgentFlags {$(
            $(#[doc = $doc])+
            #[arg(long = $long $(, $($arg)+)?)]
            pub $field: $($flag_ty)+,
        )*}

        /// `[defaults]`, `[agents.NAME]` and `[environments.ENV.agents.NAME]`.
        #[derive(Debug, Clone, Default, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct AgentSection {
            $(pub $field: Option<$($config_ty)+>,)*
            $(pub $global: Option<$($global_ty)+>,)*
        }

        /// `[environments.ENV]`: the agent options plus per-agent overrides.
        #[derive(Debug, Clone, Default, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        pub struct EnvironmentSection {
            $(pub $field: Option<$($config_ty)+>,)*
            $(pub $global: Option<$($global_ty)+>,)*
            /// `sync` refuses this environment without --yes (a production stack changes only
            /// through CloudFormation).
            #[serde(default)]
            pub protected: bool,
            #[serde(default)]
            pub agents: BTreeMap<String, AgentSection>,
        }

        impl EnvironmentSection {
            /// The environment's own option values, without its per-agent tables.
            pub fn as_agent_section(&self) -> AgentSection {
                AgentSection {
                    $($field: self.$field.clone(),)*
                    $($global: self.$global.clone(),)*
                }
            }
        }

        impl AgentSection {
            /// Applies `top` over `self`: scalars and lists are replaced, maps are merged key by key.
            pub fn overlay(&mut self, top: AgentSection) {
                $($merge(&mut self.$field, top.$field);)*
                $(replace(&mut self.$global, top.$global);)*
            }
        }

        /// Every per-agent option, in declaration order.
        pub const AGENT_OPTIONS: &[OptionInfo] = &[
            $(OptionInfo {
                key: stringify!($field),
                flag: concat!("--", $long),
                help: concat!($($doc, "\n"),+),
            },)*
            $(OptionInfo {
                key: stringify!($global),
                flag: $global_flag,
                help: concat!($($global_doc, "\n"),+),
            },)*
        ];

        impl<'a> Layers<'a> {
            $(
                $(#[doc = $doc])+
                pub fn $field(&self) -> Pick<'a, $($flag_ty)+, $($config_ty)+> {
                    const INFO: OptionInfo = OptionInfo {
                        key: stringify!($field),
                        flag: concat!("--", $long),
                        help: concat!($($doc, "\n"),+),
                    };
                    Pick {
                        option: &INFO,
                        flag: &self.flags.$field,
                        config: &self.section.$field,
                        config_path: self.config_path,
                    }
                }
            )*
            $(
                $(#[doc = $global_doc])+
                pub fn $global(&self, flag: &'a Option<$($global_ty)+>) -> Pick<'a, Option<$($global_ty)+>, $($global_ty)+> {
                    const INFO: OptionInfo = OptionInfo {
                        key: stringify!($global),
                        flag: $global_flag,
                        help: concat!($($global_doc, "\n"),+),
                    };
                    Pick {
                        option: &INFO,
                        flag,
                        config: &self.section.$global,
                        config_path: self.config_path,
                    }
                }
            )*
        }
    };
}

agent_options! {
    options {
        /// Where the agent is deployed: lambda [default: lambda]
        target: flag(Option<String>) config(String) replace,
            arg("target", env = "AGENTDEPLOY_TARGET", value_name = "TARGET");
        /// What to deploy: agent (default) or code-interpreter (a ready code-execution function for MCP agents)
        kind: flag(Option<String>) config(String) replace,
            arg("kind", env = "AGENTDEPLOY_KIND", value_name = "KIND");
        /// Agent file (.py) or a directory holding agent.py / main.py / app.py
        agent: flag(Option<PathBuf>) config(PathBuf) replace,
            arg("agent", env = "AGENTDEPLOY_AGENT", value_name = "FILE");
        /// requirements.txt to use instead of inference
        requirements: flag(Option<PathBuf>) config(PathBuf) replace,
            arg("requirements", env = "AGENTDEPLOY_REQUIREMENTS", value_name = "FILE");
        /// Memory in MB, 128-10240 [default: 512]
        memory: flag(Option<String>) config(u32) replace,
            arg("memory", env = "AGENTDEPLOY_MEMORY", value_name = "MB", allow_hyphen_values = true);
        /// Timeout in seconds, 3-900 [default: 300]
        timeout: flag(Option<String>) config(u32) replace,
            arg("timeout", env = "AGENTDEPLOY_TIMEOUT", value_name = "SECONDS", allow_hyphen_values = true);
        /// python3.12, python3.13 or python3.14 [default: newest with an interpreter on PATH, else python3.13]
        runtime: flag(Option<String>) config(String) replace,
            arg("runtime", env = "AGENTDEPLOY_RUNTIME", value_name = "RUNTIME");
        /// Accept python3.10 / python3.11, which Lambda no longer creates or updates
        allow_deprecated_runtime: flag(bool) config(bool) replace,
            arg("allow-deprecated-runtime");
        /// x86_64 or arm64 [default: x86_64]
        architecture: flag(Option<String>) config(String) replace,
            arg("architecture", env = "AGENTDEPLOY_ARCHITECTURE", value_name = "ARCH");
        /// Stack name [default: agentdeploy-<function-name>[-<env>]]
        stack_name: flag(Option<String>) config(String) replace,
            arg("stack-name", env = "AGENTDEPLOY_STACK_NAME", value_name = "NAME");
        /// Environment variable for the function (repeatable)
        env_vars: flag(Vec<String>) config(BTreeMap<String, String>) extend,
            arg("env-var", value_name = "KEY=VALUE");
        /// Secret passed to the function; its value is read from the environment or .env (repeatable)
        secrets: flag(Vec<String>) config(Vec<String>) replace,
            arg("secret", value_name = "NAME");
        /// Where secret values live: env (NoEcho parameters into the function's environment, default)
        /// or ssm (SSM Parameter Store SecureStrings read by the function at cold start)
        secrets_store: flag(Option<String>) config(String) replace,
            arg("secrets-store", env = "AGENTDEPLOY_SECRETS_STORE", value_name = "STORE");
        /// api (API Gateway REST), url (Function URL) or none [default: api]
        endpoint: flag(Option<String>) config(String) replace,
            arg("endpoint", env = "AGENTDEPLOY_ENDPOINT", value_name = "KIND");
        /// none, api-key or iam [default: api-key for api, iam for url]
        auth: flag(Option<String>) config(String) replace,
            arg("auth", env = "AGENTDEPLOY_AUTH", value_name = "MODE");
        /// API-key endpoints: steady requests per second a key may make [default: 2]
        rate_limit: flag(Option<String>) config(f64) replace,
            arg("rate-limit", env = "AGENTDEPLOY_RATE_LIMIT", value_name = "PER_SECOND", allow_hyphen_values = true);
        /// API-key endpoints: requests a key may burst above the rate [default: 5]
        burst_limit: flag(Option<String>) config(u32) replace,
            arg("burst-limit", env = "AGENTDEPLOY_BURST_LIMIT", value_name = "REQUESTS", allow_hyphen_values = true);
        /// API-key endpoints: requests a key may make per day, week or month, e.g. 1000/day
        /// [default: 1000/day]
        quota: flag(Option<String>) config(String) replace,
            arg("quota", env = "AGENTDEPLOY_QUOTA", value_name = "N/PERIOD", allow_hyphen_values = true);
        /// Concurrent executions reserved for (and capping) the function [default: none]
        reserved_concurrency: flag(Option<String>) config(u32) replace,
            arg("reserved-concurrency", env = "AGENTDEPLOY_RESERVED_CONCURRENCY", value_name = "N", allow_hyphen_values = true);
        /// Days CloudWatch keeps the function's logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180,
        /// 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 [default: 30]
        log_retention_days: flag(Option<String>) config(u32) replace,
            arg("log-retention-days", env = "AGENTDEPLOY_LOG_RETENTION_DAYS", value_name = "DAYS");
        /// SnapStart for the published versions (python3.12 and newer): restores a snapshot of
        /// the initialised function instead of importing it again on a cold start
        snapstart: flag(bool) config(bool) replace,
            arg("snapstart");
        /// process (default: agent state reset per request inside one process) or tenant: each caller (API key or IAM identity) gets execution environments of their own (Lambda tenant isolation)
        isolation: flag(Option<String>) config(String) replace,
            arg("isolation", env = "AGENTDEPLOY_ISOLATION", value_name = "MODE");
        /// Run on Lambda Managed Instances of this capacity provider (an ARN; python3.13 and
        /// newer): each execution environment serves several requests at once, one process each
        managed_instances: flag(Option<String>) config(String) replace,
            arg("managed-instances", env = "AGENTDEPLOY_MANAGED_INSTANCES", value_name = "CAPACITY_PROVIDER_ARN");
        /// With --managed-instances: requests one execution environment serves at once (1-1600)
        /// [default: Lambda's, 16 per vCPU for Python]
        instance_concurrency: flag(Option<String>) config(u32) replace,
            arg("instance-concurrency", env = "AGENTDEPLOY_INSTANCE_CONCURRENCY", value_name = "N", allow_hyphen_values = true);
        /// With --managed-instances: GiB of memory per vCPU of each execution environment: 2, 4
        /// or 8 [default: Lambda's, 2]
        memory_per_vcpu: flag(Option<String>) config(u32) replace,
            arg("memory-per-vcpu", env = "AGENTDEPLOY_MEMORY_PER_VCPU", value_name = "GIB", allow_hyphen_values = true);
        /// Do not run the agent's code at build time (the import that finds which modules to
        /// compile); its packages are compiled without running it
        no_import_probe: flag(bool) config(bool) replace,
            arg("no-import-probe");
        /// Stream answers as they are written: the function runs behind the AWS Lambda Web Adapter
        /// (always for an @app.entrypoint or a web app such as FastAPI)
        stream: flag(bool) config(bool) replace,
            arg("stream");
        /// Cases (JSON, YAML or TOML) a new version must pass before `live` moves to it: each an
        /// `input`, optional `data`, and `expect` {status, contains, matches, within_s}
        smoke: flag(Option<PathBuf>) config(PathBuf) replace,
            arg("smoke", env = "AGENTDEPLOY_SMOKE", value_name = "FILE");
        /// X-Ray active tracing plus OpenTelemetry spans of the agent, its model calls and tool
        /// calls (Strands' own), exported by the ADOT layer; not with --stream
        tracing: flag(bool) config(bool) replace,
            arg("tracing");
        /// The ADOT Python layer to use instead of the pinned one (an ARN), e.g. the region's
        /// AWSOpenTelemetryDistroPython
        tracing_layer: flag(Option<String>) config(String) replace,
            arg("tracing-layer", env = "AGENTDEPLOY_TRACING_LAYER", value_name = "ARN");
        /// Alarm when more than this share of requests fail (5xx) in 5 minutes: 0.05 or 5%
        alarm_errors: flag(Option<String>) config(f64) replace,
            arg("alarm-errors", env = "AGENTDEPLOY_ALARM_ERRORS", value_name = "RATE", allow_hyphen_values = true);
        /// Alarm when the 95th percentile of request durations exceeds this in 5 minutes
        alarm_p95: flag(Option<String>) config(u32) replace,
            arg("alarm-p95", env = "AGENTDEPLOY_ALARM_P95", value_name = "MS", allow_hyphen_values = true);
        /// A preview: the stack expires this long after its last change (e.g. 3d, 12h; at most
        /// 365d); `list --expired` and `destroy --expired` find it
        ttl: flag(Option<String>) config(String) replace,
            arg("ttl", env = "AGENTDEPLOY_TTL", value_name = "AGE");
        /// SNS topic ARN the alarms notify [default: a topic the stack creates]
        alarm_topic: flag(Option<String>) config(String) replace,
            arg("alarm-topic", env = "AGENTDEPLOY_ALARM_TOPIC", value_name = "ARN");
        /// Do not share dependency builds through the artifact bucket (nor use ones shared there)
        no_remote_cache: flag(bool) config(bool) replace,
            arg("no-remote-cache");
        /// The Lambda Web Adapter layer to use instead of the pinned one (an ARN)
        web_adapter_layer: flag(Option<String>) config(String) replace,
            arg("web-adapter-layer", env = "AGENTDEPLOY_WEB_ADAPTER_LAYER", value_name = "ARN");
        /// VPC subnets, comma-separated (needs --security-group-ids)
        subnet_ids: flag(Vec<String>) config(Vec<String>) replace,
            arg("subnet-ids", value_delimiter = ',', value_name = "IDS");
        /// VPC security groups, comma-separated (needs --subnet-ids)
        security_group_ids: flag(Vec<String>) config(Vec<String>) replace,
            arg("security-group-ids", value_delimiter = ',', value_name = "IDS");
        /// Tag for the stack's resources (repeatable)
        tags: flag(Vec<String>) config(BTreeMap<String, String>) extend,
            arg("tag", value_name = "KEY=VALUE");
        /// Extra managed policy ARN for the function role (repeatable)
        policies: flag(Vec<String>) config(Vec<String>) replace,
            arg("policy", value_name = "ARN");
        /// Permissions boundary (a managed policy ARN) on every role the stack makes
        permissions_boundary: flag(Option<String>) config(String) replace,
            arg("permissions-boundary", value_name = "ARN");
        /// Run the function under this existing execution role; the stack makes no role
        role: flag(Option<String>) config(String) replace,
            arg("role", value_name = "ARN");
        /// Upload artifacts to this bucket
        s3_bucket: flag(Option<String>) config(String) replace,
            arg("s3-bucket", env = "AGENTDEPLOY_S3_BUCKET", value_name = "BUCKET");
        /// Let sam create and use its managed artifact bucket [default]
        resolve_s3: flag(bool) config(bool) replace,
            arg("resolve-s3");
        /// What the handler calls: a top-level function or a module-level `Agent` variable
        /// [default: main, else handler/lambda_handler, else the one module-level Agent]
        entry: flag(Option<String>) config(String) replace,
            arg("entry", env = "AGENTDEPLOY_ENTRY", value_name = "NAME");
        /// Whose conversation a request continues: isolated (each request starts from the agent's
        /// state at import, default), session (stored per caller and session_id in a private S3
        /// bucket, across cold starts) or shared (one process-wide memory: callers see each other's
        /// turns)
        conversation: flag(Option<String>) config(String) replace,
            arg("conversation", env = "AGENTDEPLOY_CONVERSATION", value_name = "MODE");
        /// With --conversation session: days a session is kept after its last turn [default: 7]
        session_ttl_days: flag(Option<String>) config(u32) replace,
            arg("session-ttl-days", env = "AGENTDEPLOY_SESSION_TTL_DAYS", value_name = "DAYS");
        /// Ship this file of the agent directory even though its name looks like a secret (`.env.*`,
        /// `*.pem`, `id_rsa`, `.aws/`...); a path relative to the agent directory, repeatable
        include: flag(Vec<String>) config(Vec<String>) replace,
            arg("include", value_name = "PATH");
        /// Build in a container: auto, always or never [default: auto]
        use_container: flag(Option<String>) config(String) replace,
            arg("use-container", env = "AGENTDEPLOY_USE_CONTAINER", value_name = "WHEN");
        /// Where the SAM project is written [default: .agentdeploy/<env-or-default>/<function-name>/]
        out_dir: flag(Option<PathBuf>) config(PathBuf) replace,
            arg("out-dir", env = "AGENTDEPLOY_OUT_DIR", value_name = "DIR");
    }
    global_flags {
        /// AWS region (a global flag; the config sets it per agent or environment)
        region: config(String), flag "--region";
        /// AWS shared-config profile (a global flag; the config sets it per agent or environment)
        profile: config(String), flag "--profile";
    }
}

/// One agent's option layers: the flags (and `AGENTDEPLOY_*` variables, which clap folds into
/// them) over the merged config section.
#[derive(Debug, Clone, Copy)]
pub struct Layers<'a> {
    pub flags: &'a AgentFlags,
    pub section: &'a AgentSection,
    /// The config file the section came from, for error messages.
    pub config_path: Option<&'a Path>,
}

/// One option's two layers, typed as the flag and the config file hold it.
pub struct Pick<'a, F, C> {
    pub option: &'static OptionInfo,
    flag: &'a F,
    config: &'a Option<C>,
    config_path: Option<&'a Path>,
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    Flag,
    Config(&'a Path),
}

/// A value and where it came from, so an error about it names the flag or the config key.
#[derive(Debug, Clone, Copy)]
pub struct Given<'a, T> {
    pub value: T,
    pub source: Source<'a>,
    pub option: &'static OptionInfo,
}

impl<'a, F, C> Pick<'a, F, C> {
    fn given_by_flag<T>(&self, value: T) -> Given<'a, T> {
        Given {
            value,
            source: Source::Flag,
            option: self.option,
        }
    }

    fn given_by_config<T>(&self, value: T) -> Given<'a, T> {
        Given {
            value,
            source: self.config_path.map_or(Source::Flag, Source::Config),
            option: self.option,
        }
    }

    /// An error about the option as a whole (a combination of options), naming its flag.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::usage(self.option.flag, message)
    }
}

impl<'a> Pick<'a, Option<String>, String> {
    /// The flag's text, else the config's.
    pub fn text(&self) -> Option<Given<'a, &'a str>> {
        match (self.flag, self.config) {
            (Some(text), _) => Some(self.given_by_flag(text.as_str())),
            (None, Some(text)) => Some(self.given_by_config(text.as_str())),
            (None, None) => None,
        }
    }
}

impl<'a, T: FromStr + Copy> Pick<'a, Option<String>, T> {
    /// The flag's text parsed as a number (else the config's number); `what` completes
    /// "`TEXT` is not ..." when the flag's text is not one.
    pub fn number(&self, what: &str) -> Result<Option<Given<'a, T>>> {
        match (self.flag, self.config) {
            (Some(text), _) => match text.trim().parse::<T>() {
                Ok(value) => Ok(Some(self.given_by_flag(value))),
                Err(_) => Err(self.error(format!("`{text}` is not {what}"))),
            },
            (None, Some(value)) => Ok(Some(self.given_by_config(*value))),
            (None, None) => Ok(None),
        }
    }
}

impl<'a> Pick<'a, Option<String>, f64> {
    /// A share of a whole: the flag's `0.05` or `5%`, else the config's number; `what`
    /// completes "`TEXT` is not ..." when the flag's text is neither.
    pub fn share(&self, what: &str) -> Result<Option<Given<'a, f64>>> {
        match (self.flag, self.config) {
            (Some(text), _) => {
                let trimmed = text.trim();
                let parsed = match trimmed.strip_suffix('%') {
                    Some(percent) => percent.trim().parse::<f64>().ok().map(|p| p / 100.0),
                    None => trimmed.parse::<f64>().ok(),
                };
                match parsed {
                    Some(value) => Ok(Some(self.given_by_flag(value))),
                    None => Err(self.error(format!("`{}` is not {what}", text.escape_debug()))),
                }
            }
            (None, Some(value)) => Ok(Some(self.given_by_config(*value))),
            (None, None) => Ok(None),
        }
    }
}

impl<'a> Pick<'a, Option<PathBuf>, PathBuf> {
    /// The flag's path (relative to `cwd`), else the config's (already relative to its folder).
    pub fn path(&self, cwd: &Path) -> Option<PathBuf> {
        match (self.flag, self.config) {
            (Some(path), _) => Some(cwd.join(path)),
            (None, config) => config.clone(),
        }
    }
}

impl<'a> Pick<'a, bool, bool> {
    pub fn flag_given(&self) -> bool {
        *self.flag
    }

    /// The flag, or `true` in the config.
    pub fn switch(&self) -> bool {
        *self.flag || *self.config == Some(true)
    }
}

impl<'a> Pick<'a, Vec<String>, Vec<String>> {
    /// The flag's list when given (it replaces the config's), else the config's; each item with
    /// its source.
    pub fn list(&self) -> Vec<Given<'a, &'a str>> {
        match self.config {
            Some(config) if self.flag.is_empty() => config
                .iter()
                .map(|item| self.given_by_config(item.as_str()))
                .collect(),
            _ => self
                .flag
                .iter()
                .map(|item| self.given_by_flag(item.as_str()))
                .collect(),
        }
    }

    /// The config's list, then the flag's items it lacks (repeatable names such as secrets).
    pub fn union(&self) -> Vec<Given<'a, &'a str>> {
        let mut items: Vec<Given<'a, &'a str>> = self
            .config
            .iter()
            .flatten()
            .map(|item| self.given_by_config(item.as_str()))
            .collect();
        for item in self.flag {
            if !items.iter().any(|given| given.value == item) {
                items.push(self.given_by_flag(item.as_str()));
            }
        }
        items
    }
}

impl<'a> Pick<'a, Vec<String>, BTreeMap<String, String>> {
    /// The config's table with the flag's `KEY=VALUE` pairs over it, each value with its source.
    pub fn pairs(&self) -> Result<BTreeMap<String, Given<'a, String>>> {
        let mut pairs: BTreeMap<String, Given<'a, String>> = self
            .config
            .iter()
            .flatten()
            .map(|(key, value)| (key.clone(), self.given_by_config(value.clone())))
            .collect();
        for pair in self.flag {
            let (key, value) = parse_pair(self.option.flag, pair)?;
            pairs.insert(key, self.given_by_flag(value));
        }
        Ok(pairs)
    }
}

/// `KEY=VALUE` with a non-empty key.
pub fn parse_pair(flag: &str, pair: &str) -> Result<(String, String)> {
    match pair.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_string(), value.to_string()))
        }
        _ => Err(Error::usage(flag, format!("`{pair}` is not KEY=VALUE"))),
    }
}

impl<'a, T> Given<'a, T> {
    pub fn error(&self, message: impl Into<String>) -> Error {
        self.error_with(message.into(), None)
    }

    pub fn error_hint(&self, message: impl Into<String>, hint: impl Into<String>) -> Error {
        self.error_with(message.into(), Some(hint.into()))
    }

    fn error_with(&self, message: String, hint: Option<String>) -> Error {
        match self.source {
            Source::Flag => Error::Usage {
                flag: self.option.flag.to_string(),
                message,
                hint,
            },
            Source::Config(path) => Error::Config {
                location: path.display().to_string(),
                message: format!("`{}`: {message}", self.option.key),
                hint: Some(hint.unwrap_or_else(|| {
                    format!(
                        "change `{}` in the config file (or override it with {})",
                        self.option.key, self.option.flag
                    )
                })),
            },
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Given<'a, U> {
        Given {
            value: f(self.value),
            source: self.source,
            option: self.option,
        }
    }
}

impl<'a> Given<'a, &'a str> {
    /// One of `choices` by name, else "`TEXT` is not one of: a, b, c".
    pub fn one_of<V: Copy>(&self, choices: &[(&str, V)]) -> Result<V> {
        choices
            .iter()
            .find(|(name, _)| *name == self.value)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
                self.error(format!(
                    "`{}` is not one of: {}",
                    self.value.escape_debug(),
                    names.join(", ")
                ))
            })
    }

    /// A value of one of clap's enums by its flag name; the choices come from the enum.
    pub fn choice<V: clap::ValueEnum + Copy>(&self) -> Result<V> {
        let choices: Vec<(String, V)> = V::value_variants()
            .iter()
            .filter_map(|v| Some((v.to_possible_value()?.get_name().to_string(), *v)))
            .collect();
        let choices: Vec<(&str, V)> = choices.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        self.one_of(&choices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_has_a_flag_and_help() {
        for option in AGENT_OPTIONS {
            assert!(option.flag.starts_with("--"), "{option:?}");
            assert!(!option.help.trim().is_empty(), "{option:?}");
        }
        let keys: std::collections::BTreeSet<&str> = AGENT_OPTIONS.iter().map(|o| o.key).collect();
        assert_eq!(keys.len(), AGENT_OPTIONS.len(), "an option declared twice");
    }

    #[test]
    fn a_bad_config_value_names_the_key_and_a_bad_flag_names_the_flag() {
        let path = Path::new("/p/agentdeploy.toml");
        let section = AgentSection {
            endpoint: Some("grpc".into()),
            ..AgentSection::default()
        };
        let flags = AgentFlags::default();
        let layers = Layers {
            flags: &flags,
            section: &section,
            config_path: Some(path),
        };
        let given = layers.endpoint().text().unwrap();
        let err = given.one_of(&[("api", 1), ("url", 2)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "/p/agentdeploy.toml: `endpoint`: `grpc` is not one of: api, url"
        );
        assert_eq!(crate::exit_codes::exit_code(&err), 2);

        let flags = AgentFlags {
            endpoint: Some("grpc".into()),
            ..AgentFlags::default()
        };
        let layers = Layers {
            flags: &flags,
            ..layers
        };
        let err = layers
            .endpoint()
            .text()
            .unwrap()
            .one_of(&[("api", 1)])
            .unwrap_err();
        assert_eq!(err.to_string(), "--endpoint: `grpc` is not one of: api");
    }

    #[test]
    fn flags_replace_lists_extend_tables_and_add_to_unions() {
        let section = AgentSection {
            subnet_ids: Some(vec!["subnet-1".into()]),
            env_vars: Some(BTreeMap::from([
                ("A".into(), "config".into()),
                ("B".into(), "config".into()),
            ])),
            secrets: Some(vec!["S1".into()]),
            ..AgentSection::default()
        };
        let flags = AgentFlags {
            subnet_ids: vec!["subnet-2".into()],
            env_vars: vec!["B=flag".into()],
            secrets: vec!["S1".into(), "S2".into()],
            ..AgentFlags::default()
        };
        let layers = Layers {
            flags: &flags,
            section: &section,
            config_path: Some(Path::new("c.toml")),
        };
        let subnets: Vec<&str> = layers.subnet_ids().list().iter().map(|g| g.value).collect();
        assert_eq!(subnets, ["subnet-2"]);
        let pairs = layers.env_vars().pairs().unwrap();
        assert_eq!(pairs["A"].value, "config");
        assert_eq!(pairs["A"].source, Source::Config(Path::new("c.toml")));
        assert_eq!(pairs["B"].value, "flag");
        assert_eq!(pairs["B"].source, Source::Flag);
        let secrets: Vec<&str> = layers.secrets().union().iter().map(|g| g.value).collect();
        assert_eq!(secrets, ["S1", "S2"]);
    }
}
