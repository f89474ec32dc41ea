//! Renders the SAM project from the embedded templates (reference §2, §5): `src/handler.py` with the
//! agent code verbatim, `template.yaml`, `samconfig.toml` and `src/requirements.txt`.
//! User data always reaches minijinja as values, never as template source.

pub mod code_interpreter;
pub mod observability;
pub mod web_adapter;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use minijinja::{AutoEscape, Environment, context};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::AgentAnalysis;
use crate::lambda::analyse::iam::IamPlan;
use crate::lambda::settings::{
    ArtifactBucket, Conversation, DeploymentKind, LambdaSettings, SecretsStore,
};

/// Bumped whenever a template changes what gets deployed; part of the unchanged check.
pub const TEMPLATE_VERSION: u32 = 5;
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The stack tag agentdeploy sets (samconfig `tags`): which function the stack was made for.
pub const STACK_TAG: &str = "agentdeploy:function";
/// The stack tag of a preview (`--ttl`): how long after its last change it expires.
pub const TTL_TAG: &str = "agentdeploy:ttl";

/// The alias every caller reaches; each deploy publishes a version behind it.
pub const LIVE_ALIAS: &str = "live";
/// The alias SAM moves to each version a deploy publishes (`AutoPublishAlias`).
pub const CANDIDATE_ALIAS: &str = "candidate";

/// The CloudWatch log group Lambda writes a function's lines to (the stack owns it).
pub fn log_group_name(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}
/// The generated handler: the agent's file verbatim (line for line) plus its `make_handler` call.
pub const HANDLER_FILE: &str = "handler.py";

const HANDLER_TEMPLATE: &str = include_str!("../../../templates/handler.py.j2");
const SAM_TEMPLATE: &str = include_str!("../../../templates/template.yaml.j2");
const SAMCONFIG_TEMPLATE: &str = include_str!("../../../templates/samconfig.toml.j2");

/// Lambda's entry for an agent: starts recording agents before the agent's code runs (and reads
/// `--secrets-store ssm` secrets), then imports the handler.
const BOOTSTRAP: &str = include_str!("../../../templates/runtime/agentdeploy_bootstrap.py");
const BOOTSTRAP_MODULE: &str = "agentdeploy_bootstrap";
/// Behind the Web Adapter: the server process `run.sh` starts (it imports the bootstrap).
const SERVE: &str = include_str!("../../../templates/runtime/agentdeploy_serve.py");
const SERVE_MODULE: &str = "agentdeploy_serve";
const RUN_SCRIPT: &str = include_str!("../../../templates/runtime/run.sh");

/// The module Lambda imports first (its handler is `<module>.lambda_handler`).
pub fn entry_module(settings: &LambdaSettings) -> &'static str {
    if uses_bootstrap(settings) {
        BOOTSTRAP_MODULE
    } else {
        "handler"
    }
}

/// Whether `relative` (in the code folder) is one of agentdeploy's own files shipped beside the
/// agent: the bootstrap and the runtime package (not the agent's code).
pub fn is_runtime_file(relative: &str) -> bool {
    relative == format!("{BOOTSTRAP_MODULE}.py")
        || relative == format!("{SERVE_MODULE}.py")
        || RUNTIME_FILES.iter().any(|(path, _)| *path == relative)
}

/// The handler's runtime, a static package shipped beside the handler: (path under `src/`, text).
pub const RUNTIME_FILES: [(&str, &str); 15] = [
    (
        "agentdeploy_runtime/entries.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/entries.py"),
    ),
    (
        "agentdeploy_runtime/conversations.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/conversations.py"),
    ),
    (
        "agentdeploy_runtime/names.json",
        include_str!("../../../templates/runtime/agentdeploy_runtime/names.json"),
    ),
    (
        "agentdeploy_runtime/names.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/names.py"),
    ),
    (
        "agentdeploy_runtime/__init__.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/__init__.py"),
    ),
    (
        "agentdeploy_runtime/agents.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/agents.py"),
    ),
    (
        "agentdeploy_runtime/hooks.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/hooks.py"),
    ),
    (
        "agentdeploy_runtime/streaming.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/streaming.py"),
    ),
    (
        "agentdeploy_runtime/scratch.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/scratch.py"),
    ),
    (
        "agentdeploy_runtime/web.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/web.py"),
    ),
    (
        "agentdeploy_runtime/answers.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/answers.py"),
    ),
    (
        "agentdeploy_runtime/events.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/events.py"),
    ),
    (
        "agentdeploy_runtime/handler.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/handler.py"),
    ),
    (
        "agentdeploy_runtime/sessions.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/sessions.py"),
    ),
    (
        "agentdeploy_runtime/metrics.py",
        include_str!("../../../templates/runtime/agentdeploy_runtime/metrics.py"),
    ),
];

use crate::lambda::kinds::EndpointKind;
use crate::lambda::names::{
    ORIGIN_STAGE_VARIABLE, ORIGIN_VARIABLE, SESSION_BUCKET_VARIABLE, SSM_SECRETS_VARIABLE,
};

/// Agents start at the bootstrap module; the code interpreter is a complete handler of its own.
fn uses_bootstrap(settings: &LambdaSettings) -> bool {
    settings.kind == DeploymentKind::Agent
}

/// Folders that hold credentials by convention (docs/reference.md §5 "Local modules" keeps the
/// one list).
pub const SECRET_FOLDERS: &[&str] = &[
    ".aws",
    ".ssh",
    ".gnupg",
    ".docker",
    ".kube",
    "gcloud",
    ".azure",
    ".terraform.d",
];
/// Files that hold credentials by convention, by exact name.
pub const SECRET_FILES: &[&str] = &[
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".git-credentials",
    ".htpasswd",
    "credentials",
    "credentials.json",
    ".boto",
    ".s3cfg",
    ".dockercfg",
    "application_default_credentials.json",
    "service-account.json",
    "client_secret.json",
    "kubeconfig",
    ".envrc",
    "rootkey.csv",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".terraformrc",
    "terraform.rc",
    "credentials.tfrc.json",
    "secrets.toml",
    "secrets.yaml",
    "secrets.yml",
    "secrets.json",
    ".secrets",
    "firebase-adminsdk.json",
    "keystore.jks",
];
/// Files that hold credentials by convention, by how their name starts.
pub const SECRET_PREFIXES: &[&str] = &[
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    "client_secret_",
    "service-account-",
    "kubeconfig.",
];
/// Files that hold credentials by convention, by how their name ends.
pub const SECRET_SUFFIXES: &[&str] = &[
    ".pem",
    ".key",
    ".p12",
    ".pfx",
    ".jks",
    ".tfstate",
    ".tfstate.backup",
    ".kubeconfig",
    ".tfvars",
    ".tfvars.json",
    "_accessKeys.csv",
    "_credentials.csv",
    ".keystore",
    ".ppk",
    ".asc",
    ".gpg",
    ".ovpn",
    ".kdbx",
];

/// Names that hold credentials by convention: never shipped unless named with `--include`.
fn looks_secret(name: &str, is_dir: bool) -> bool {
    if is_dir {
        return SECRET_FOLDERS.contains(&name);
    }
    // `.env` itself never gets here: it is in SKIPPED_NAMES.
    let env_file = name.starts_with(".env.")
        && !matches!(name, ".env.example" | ".env.sample" | ".env.template");
    env_file
        || SECRET_FILES.contains(&name)
        || SECRET_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
        || SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// Files that never ship from an agent directory.
const SKIPPED_NAMES: &[&str] = &[
    "__pycache__",
    ".git",
    ".venv",
    "venv",
    ".agentdeploy",
    ".aws-sam",
    // agentdeploy's own secrets file: never shipped, no warning needed.
    ".env",
    ".mypy_cache",
    ".pytest_cache",
    "agentdeploy.toml",
    "agentdeploy.yaml",
    "node_modules",
];

#[derive(Debug, Clone, Serialize)]
pub struct SecretParameter {
    pub name: String,
    pub parameter: String,
}

/// The CloudFormation parameter for each secret: `Secret<N><alnum>`, unique and alphanumeric.
pub fn secret_parameters(secrets: &[String]) -> Vec<SecretParameter> {
    secrets
        .iter()
        .enumerate()
        .map(|(i, name)| SecretParameter {
            name: name.clone(),
            parameter: format!(
                "Secret{}{}",
                i + 1,
                name.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect::<String>()
            ),
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct RenderedFile {
    /// Relative to the out-dir.
    pub path: PathBuf,
    pub contents: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct RenderedProject {
    pub files: Vec<RenderedFile>,
    /// Served behind the Lambda Web Adapter (streamed answers, web apps): how and why.
    pub web: Option<web_adapter::WebAdapter>,
    /// Files of the agent directory left out because their names look like secrets, relative to
    /// the agent directory.
    pub skipped_secrets: Vec<PathBuf>,
}

impl RenderedProject {
    pub fn get(&self, path: &str) -> Option<&RenderedFile> {
        self.files.iter().find(|f| f.path == Path::new(path))
    }

    /// Writes every file under `out_dir`. `src/` is rebuilt from scratch so files removed from an
    /// agent directory do not linger; `.aws-sam/` (sam's build cache) is kept.
    pub fn write(&self, out_dir: &Path, project_dir: &Path) -> Result<()> {
        // Settings refused any out-dir that is not ours; checked again here because the folder
        // could have changed since, and what follows deletes.
        if let Some(problem) = crate::files::out_dir_problem(out_dir, project_dir, None) {
            return Err(Error::usage("--out-dir", problem));
        }
        crate::files::claim_out_dir(out_dir)?;
        let code_dir = out_dir.join("src");
        let kept = self.unchanged_runtime_bytecode(&code_dir);
        if code_dir.exists() {
            std::fs::remove_dir_all(&code_dir).map_err(|e| Error::io(&code_dir, e))?;
        }
        for file in &self.files {
            let target = out_dir.join(&file.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            crate::files::write_atomically(&target, &file.contents)?;
            if file.path.extension().is_some_and(|e| e == "sh") {
                // The Web Adapter runs the handler script itself: it must be executable.
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| Error::io(&target, e))?;
            }
        }
        for (path, pyc) in kept {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            crate::files::write_atomically(&path, &pyc)?;
        }
        Ok(())
    }

    /// The bytecode the last build's import wrote for agentdeploy's runtime files (checked-hash
    /// pycs, see `bundle::bytecode`) whose source is written again unchanged: kept, so the code
    /// is zipped the same before this build's import as after it (`sync` sends it meanwhile).
    fn unchanged_runtime_bytecode(&self, code_dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut kept = Vec::new();
        for file in &self.files {
            let Ok(relative) = file.path.strip_prefix("src") else {
                continue;
            };
            let (Some(name), Some(stem)) = (relative.to_str(), relative.file_stem()) else {
                continue;
            };
            let source = code_dir.join(relative);
            if !name.ends_with(".py")
                || !is_runtime_file(name)
                || std::fs::read(&source).ok().as_deref() != Some(&file.contents[..])
            {
                continue;
            }
            let prefix = format!("{}.", stem.to_string_lossy());
            let cache = source.with_file_name("__pycache__");
            let Ok(entries) = std::fs::read_dir(&cache) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if is_file
                    && name.starts_with(&prefix)
                    && name.ends_with(".pyc")
                    && let Ok(pyc) = std::fs::read(entry.path())
                {
                    kept.push((entry.path(), pyc));
                }
            }
        }
        kept
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    // Nothing here is HTML; the agent code must come out byte for byte.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("toml_string", |value: String| toml_string(&value));
    // JSON is how every user value enters YAML, TOML and Python here; these characters are legal
    // raw in JSON but not in YAML (DEL, U+FFFE/FFFF), line breaks to YAML 1.1 (NEL, U+2028/9),
    // or not allowed raw in TOML (DEL), so they are always written as escapes.
    env.add_filter("tojson", |value: minijinja::Value| {
        serde_json::to_string(&value)
            .map(|json| escape_for_yaml_and_toml(&json))
            .map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
            })
    });
    env
}

fn render(name: &str, source: &str, ctx: minijinja::Value) -> Result<String> {
    let mut env = environment();
    env.add_template(name, source)
        .map_err(|e| Error::internal(format!("template {name} is invalid: {e}")))?;
    let template = env
        .get_template(name)
        .map_err(|e| Error::internal(format!("template {name}: {e}")))?;
    template
        .render(ctx)
        .map_err(|e| Error::internal(format!("rendering {name} failed: {e}")))
}

pub fn render_handler(
    analysis: &AgentAnalysis,
    conversation: Conversation,
    endpoint: &str,
    web: bool,
) -> Result<String> {
    render(
        HANDLER_FILE,
        HANDLER_TEMPLATE,
        context! {
            agent_source => analysis.source.as_str(),
            agent_needs_newline => !analysis.source.ends_with('\n'),
            entry_kind => analysis.entry.kind,
            entry_name => analysis.entry.name.as_str(),
            main_is_async => analysis.main.is_async,
            main_arity => analysis.main.arity(),
            conversation => conversation.as_str(),
            endpoint => endpoint,
            tool_version => TOOL_VERSION,
            template_version => TEMPLATE_VERSION,
            web => web,
            app_name => analysis.entry_app.as_deref(),
        },
    )
}

/// The template parameter that carries the secret values' keyed digest into the version's code
/// hash (`AutoPublishCodeSha256`): SAM hashes a function's properties unresolved, so a secret's
/// new value (a `Ref` to its parameter) would otherwise publish no version and `live` would keep
/// the old one.
pub const SECRETS_VERSION_PARAMETER: &str = "AgentdeploySecretsVersion";

/// The template parameter that holds `live` on a version while a newer one's smoke cases run
/// (empty: `live` serves the version the deploy publishes). Reference §7.
pub const LIVE_VERSION_PARAMETER: &str = "AgentdeployLiveVersion";

/// The template parameter (NoEcho) that carries the stack's origin value into the API's stage
/// variables; agentdeploy passes it from SSM on every deploy, never through a file or argv.
pub const ORIGIN_PARAMETER: &str = "AgentdeployOrigin";

/// Whether the deployment tells API Gateway's events from direct Invokes (sessions behind an API).
pub fn checks_origin(settings: &LambdaSettings) -> bool {
    settings.conversation.session_ttl_days().is_some() && settings.endpoint == EndpointKind::Api
}

/// One line, safe inside a YAML comment.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `code_uri` is `src/` for the project and the build folder's name for a prebuilt artifact.
/// Builds the template's context, one value per section of `templates/template.yaml.j2`;
/// long because the template is.
/// `own_log_group`: the stack creates the function's log group (false when a group of that name
/// existed before the stack, from an earlier deploy: it is kept and given its retention by API).
pub fn render_template(
    settings: &LambdaSettings,
    iam: &IamPlan,
    code_uri: &str,
    own_log_group: bool,
    web: Option<&web_adapter::WebAdapter>,
) -> Result<String> {
    let secrets = match settings.secrets_store {
        SecretsStore::Env => secret_parameters(&settings.secrets),
        SecretsStore::Ssm => Vec::new(),
    };
    let environment = function_environment(settings, &secrets, web);
    let origin_check = checks_origin(settings);
    let handler = match web {
        Some(_) => web_adapter::HANDLER_SCRIPT.to_string(),
        None => format!("{}.lambda_handler", entry_module(settings)),
    };
    let (statements, managed, vpc) = role_and_network(settings, iam);
    let all_routes = web.is_some_and(|w| w.all_routes);
    let mut tags = settings.tags.clone();
    tags.entry("agentdeploy:function".into())
        .or_insert_with(|| settings.function_name.clone());
    render(
        "template.yaml",
        SAM_TEMPLATE,
        context! {
            tool_version => TOOL_VERSION,
            template_version => TEMPLATE_VERSION,
            function_name => settings.function_name.as_str(),
            usage_limits => settings.usage_limits.as_ref(),
            session_ttl_days => settings.conversation.session_ttl_days(),
            reserved_concurrency => settings.reserved_concurrency,
            log_retention_days => settings.log_retention_days,
            own_log_group => own_log_group,
            log_group_name => log_group_name(&settings.function_name),
            snapstart => settings.snapstart,
            tenant_isolation => settings.isolation == crate::lambda::kinds::Isolation::Tenant,
            managed_instances => settings.managed_instances.as_ref(),
            code_uri => code_uri,
            handler => handler,
            description => match settings.kind {
                DeploymentKind::Agent => format!("{} - deployed by agentdeploy", settings.function_name),
                // The lambda-tool MCP server shows this to the model as the tool's description.
                DeploymentKind::CodeInterpreter => crate::lambda::render::code_interpreter::TOOL_DESCRIPTION.to_string(),
            },
            runtime => settings.runtime.name(),
            architecture => settings.architecture.as_str(),
            memory => settings.memory,
            timeout => settings.timeout,
            environment => if environment.is_empty() { Value::Null } else { json!(environment) },
            secrets => secrets,
            statements => statements,
            managed_policies => managed,
            permissions_boundary => settings.permissions_boundary.as_deref(),
            role => settings.role.as_deref(),
            vpc => vpc,
            tags => tags,
            endpoint => settings.endpoint.as_str(),
            auth => settings.auth.as_str(),
            origin_check => origin_check,
            origin_stage_variable => ORIGIN_STAGE_VARIABLE,
            origin => json!({ "Ref": ORIGIN_PARAMETER }),
            origin_parameter => ORIGIN_PARAMETER,
            secrets_version_parameter => SECRETS_VERSION_PARAMETER,
            web_adapter_layer => web.map(|w| w.layer.as_str()),
            tracing_layer => observability::tracing_layer(settings),
            alarms => observability::alarms_context(settings),
            live_version_parameter => LIVE_VERSION_PARAMETER,
            // A web app's own routes are all reachable through the API, not only /invoke.
            api_any_path => all_routes,
            api_path => if all_routes { "/{proxy+}" } else { "/invoke" },
            api_source_arn => if all_routes {
                "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${AgentApi}/*/*/*"
            } else {
                "arn:aws:execute-api:${AWS::Region}:${AWS::AccountId}:${AgentApi}/*/POST/invoke"
            },
        },
    )
}

/// The function's environment: the user's variables, each secret as its parameter, and the
/// names (never values) of what the runtime reads at cold start (sessions, origin, SSM secrets,
/// tracing, the Web Adapter).
fn function_environment(
    settings: &LambdaSettings,
    secrets: &[SecretParameter],
    web: Option<&web_adapter::WebAdapter>,
) -> BTreeMap<String, Value> {
    let mut environment: BTreeMap<String, Value> = settings
        .env_vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    for secret in secrets {
        environment.insert(secret.name.clone(), json!({ "Ref": secret.parameter }));
    }
    if settings.conversation.session_ttl_days().is_some() {
        environment.insert(
            SESSION_BUCKET_VARIABLE.into(),
            json!({ "Ref": "SessionBucket" }),
        );
    }
    if checks_origin(settings) {
        // The parameter's name, not the value: the function reads it from SSM at cold start.
        environment.insert(
            ORIGIN_VARIABLE.into(),
            Value::String(crate::lambda::settings::origin_parameter_name(
                &settings.stack_name,
            )),
        );
    }
    if settings.secrets_store == SecretsStore::Ssm && !settings.secrets.is_empty() {
        // Names only: the function reads the values from SSM at cold start.
        let names: BTreeMap<&str, String> = settings
            .secrets
            .iter()
            .map(|s| {
                (
                    s.as_str(),
                    SecretsStore::parameter_name(&settings.stack_name, s),
                )
            })
            .collect();
        environment.insert(
            SSM_SECRETS_VARIABLE.into(),
            Value::String(serde_json::to_string(&names).unwrap_or_default()),
        );
    }
    for (name, value) in observability::tracing_environment(settings) {
        environment.insert(name.into(), Value::String(value));
    }
    if let Some(web) = web {
        for (name, value) in web.environment() {
            environment.insert(name.into(), Value::String(value));
        }
    }
    environment
}

/// The role's statements (each with its reason as a comment), its managed policies, and the
/// VPC configuration (which needs ENI permissions SAM does not add by itself).
fn role_and_network(settings: &LambdaSettings, iam: &IamPlan) -> (Vec<Value>, Vec<Value>, Value) {
    let statements: Vec<Value> = iam
        .statements
        .iter()
        .map(|s| {
            json!({
                "comment": comment_text(&format!("{} ({})", s.reason, s.sources.join(", "))),
                "document": s.to_cloudformation(),
            })
        })
        .collect();
    let mut managed: Vec<Value> = iam
        .managed_policies
        .iter()
        .map(|a| Value::String(a.clone()))
        .collect();
    let vpc = if settings.subnet_ids.is_empty() {
        Value::Null
    } else {
        managed.push(json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole" }));
        json!({ "subnet_ids": settings.subnet_ids, "security_group_ids": settings.security_group_ids })
    };
    (statements, managed, vpc)
}

/// `samconfig.toml`. `secret_overrides` are only ever passed for the short-lived 0600 copy.
pub fn render_samconfig(
    settings: &LambdaSettings,
    region: Option<&str>,
    secret_overrides: &[(String, String)],
) -> Result<String> {
    let s3_bucket = match &settings.artifact_bucket {
        ArtifactBucket::Named(bucket) => Some(bucket.clone()),
        ArtifactBucket::Resolve => None,
    };
    let overrides: Vec<minijinja::Value> = secret_overrides
        .iter()
        .map(|(key, value)| context! { key => key, value => override_value(value) })
        .collect();
    render(
        "samconfig.toml",
        SAMCONFIG_TEMPLATE,
        context! {
            tool_version => TOOL_VERSION,
            template_version => TEMPLATE_VERSION,
            stack_name => settings.stack_name.as_str(),
            region => region,
            s3_bucket => s3_bucket,
            parameter_overrides => overrides,
            // `destroy` deletes only stacks that carry this tag (or that the record names).
            stack_tags => match &settings.ttl {
                Some(ttl) => format!("{STACK_TAG}={} {TTL_TAG}={ttl}", settings.function_name),
                None => format!("{STACK_TAG}={}", settings.function_name),
            },
        },
    )
}

/// A parameter override as sam reads it from a samconfig table: it strips one pair of wrapping
/// quotes, then turns `\ ` `\"` `\'` into ` ` `"` `'` (and leaves every other backslash alone).
/// So the value is wrapped in quotes and a backslash gets a twin only before those three
/// characters: what reaches CloudFormation is the value, byte for byte.
fn override_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && matches!(chars.peek(), Some(' ' | '"' | '\'')) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A TOML basic string: JSON's escapes, plus what TOML (unlike JSON) wants escaped.
fn toml_string(value: &str) -> String {
    escape_for_yaml_and_toml(&serde_json::to_string(value).unwrap_or_default())
}

/// JSON text with the characters YAML or TOML cannot carry raw written as `\uXXXX` (valid in
/// JSON, YAML and TOML strings alike; they occur only inside strings).
fn escape_for_yaml_and_toml(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '\u{7f}' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

pub fn render_requirements(specifiers: &[String]) -> String {
    let mut text = String::from(
        "# Generated by agentdeploy. Dependencies of the agent, installed into the function.\n",
    );
    for spec in specifiers {
        text.push_str(spec);
        text.push('\n');
    }
    text
}

/// Every file of the project for one agent.
pub fn render_project(
    settings: &LambdaSettings,
    analysis: &AgentAnalysis,
    iam: &IamPlan,
    requirements: &[String],
    region: Option<&str>,
) -> Result<RenderedProject> {
    let web = web_adapter::decide(settings, analysis)?;
    let mut files = vec![
        RenderedFile {
            path: "template.yaml".into(),
            contents: render_template(settings, iam, "src/", true, web.as_ref())?.into_bytes(),
        },
        RenderedFile {
            path: "samconfig.toml".into(),
            contents: render_samconfig(settings, region, &[])?.into_bytes(),
        },
        RenderedFile {
            path: "src/handler.py".into(),
            contents: match settings.kind {
                DeploymentKind::Agent => render_handler(
                    analysis,
                    settings.conversation,
                    settings.endpoint.as_str(),
                    web.is_some(),
                )?
                .into_bytes(),
                // The code interpreter is a complete handler of its own.
                DeploymentKind::CodeInterpreter => analysis.source.clone().into_bytes(),
            },
        },
        RenderedFile {
            path: "src/requirements.txt".into(),
            contents: render_requirements(requirements).into_bytes(),
        },
    ];
    if uses_bootstrap(settings) {
        files.push(RenderedFile {
            path: format!("src/{BOOTSTRAP_MODULE}.py").into(),
            contents: BOOTSTRAP.as_bytes().to_vec(),
        });
        for (path, text) in RUNTIME_FILES {
            files.push(RenderedFile {
                path: Path::new("src").join(path),
                contents: text.as_bytes().to_vec(),
            });
        }
    }
    if web.is_some() {
        files.push(RenderedFile {
            path: format!("src/{SERVE_MODULE}.py").into(),
            contents: SERVE.as_bytes().to_vec(),
        });
        files.push(RenderedFile {
            path: Path::new("src").join(web_adapter::HANDLER_SCRIPT),
            contents: RUN_SCRIPT.as_bytes().to_vec(),
        });
    }
    let mut skipped_secrets = Vec::new();
    if let Some(dir) = &analysis.package_dir {
        let mut walk = PackageWalk {
            root: dir,
            entry: &analysis.path,
            include: &settings.include,
            files: &mut files,
            skipped_secrets: &mut skipped_secrets,
        };
        walk.copy(dir)?;
    }
    // A single-file agent's own modules, in their layout beside the handler.
    let agent_dir = analysis.path.parent().unwrap_or(Path::new("."));
    for module in &analysis.local_modules {
        for relative in &module.files {
            let source = agent_dir.join(relative);
            refuse_generated_name(relative, &source)?;
            let contents = std::fs::read(&source).map_err(|e| Error::io(&source, e))?;
            files.push(RenderedFile {
                path: Path::new("src").join(relative),
                contents,
            });
        }
    }
    Ok(RenderedProject {
        files,
        web,
        skipped_secrets,
    })
}

/// A file of the agent's whose place in `src/` is taken by a generated one (the handler, the
/// bootstrap, the runtime package) would silently be replaced, and its importers would get ours.
fn refuse_generated_name(relative: &Path, source: &Path) -> Result<()> {
    let top = relative.components().next().map(|c| c.as_os_str());
    let taken = [
        std::ffi::OsStr::new(HANDLER_FILE),
        std::ffi::OsStr::new("agentdeploy_bootstrap.py"),
        std::ffi::OsStr::new("agentdeploy_serve.py"),
        std::ffi::OsStr::new("run.sh"),
        std::ffi::OsStr::new("agentdeploy_runtime"),
    ];
    match top {
        Some(name) if taken.contains(&name) => Err(Error::Agent {
            location: source.display().to_string(),
            message: format!(
                "`{}` is the name of a file agentdeploy generates beside the agent: shipping yours would replace it, or be replaced",
                name.to_string_lossy()
            ),
            hint: Some("rename the file (and the imports of it)".into()),
        }),
        _ => Ok(()),
    }
}

/// The other files of an agent directory ship beside the handler (local modules, prompts, data).
/// Symbolic links ship only when they lead to a file inside the directory.
struct PackageWalk<'a> {
    root: &'a Path,
    entry: &'a Path,
    include: &'a [PathBuf],
    files: &'a mut Vec<RenderedFile>,
    skipped_secrets: &'a mut Vec<PathBuf>,
}

impl PackageWalk<'_> {
    /// Ok when the link at `path` leads to a regular file inside the agent's directory.
    fn linked_file_inside(&self, path: &Path, relative: &Path) -> Result<()> {
        let refuse = |what: String| Error::Agent {
            location: path.display().to_string(),
            message: format!(
                "`{}` is a symbolic link {what}: it cannot ship, and whatever imports or reads it would fail on Lambda",
                relative.display()
            ),
            hint: Some("copy the file into the agent's folder in place of the link".into()),
        };
        let target = std::fs::canonicalize(path)
            .map_err(|_| refuse("that leads nowhere (or to itself)".into()))?;
        let root = std::fs::canonicalize(self.root).map_err(|e| Error::io(self.root, e))?;
        if !target.starts_with(&root) {
            return Err(refuse(format!(
                "to {}, outside the agent's folder",
                target.display()
            )));
        }
        if !target.is_file() {
            return Err(refuse("to a folder".into()));
        }
        Ok(())
    }

    fn copy(&mut self, dir: &Path) -> Result<()> {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .filter_map(|e| e.ok())
            .collect();
        entries.sort_by_key(|e| e.file_name());
        for entry_item in entries {
            let path = entry_item.path();
            let name = entry_item.file_name();
            let name = name.to_string_lossy();
            if SKIPPED_NAMES.contains(&name.as_ref())
                || name.ends_with(".pyc")
                || path == self.entry
            {
                continue;
            }
            let relative = path.strip_prefix(self.root).unwrap_or(&path).to_path_buf();
            if relative == Path::new("requirements.txt") {
                continue;
            }
            refuse_generated_name(&relative, &path)?;
            let mut file_type = entry_item.file_type().map_err(|e| Error::io(&path, e))?;
            let is_dir = if file_type.is_symlink() {
                path.is_dir()
            } else {
                file_type.is_dir()
            };
            let included = self.include.iter().any(|inc| inc.starts_with(&relative));
            if looks_secret(&name, is_dir) && !included {
                self.skipped_secrets.push(relative);
                continue;
            }
            if file_type.is_symlink() {
                // A link to a file of this folder ships as that file (a module linked in must be
                // importable); anything else is refused now rather than failing at run time.
                self.linked_file_inside(&path, &relative)?;
                file_type = std::fs::metadata(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .file_type();
            }
            if file_type.is_dir() {
                self.copy(&path)?;
            } else if file_type.is_file() {
                let contents = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                self.files.push(RenderedFile {
                    path: Path::new("src").join(&relative),
                    contents,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_of_the_runtime_package_is_shipped() {
        let folder = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/templates/runtime/agentdeploy_runtime"
        );
        let mut on_disk: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".py") || name.ends_with(".json"))
            .map(|name| format!("agentdeploy_runtime/{name}"))
            .collect();
        on_disk.sort();
        let mut shipped: Vec<String> = super::RUNTIME_FILES
            .iter()
            .map(|(p, _)| p.to_string())
            .collect();
        shipped.sort();
        assert_eq!(on_disk, shipped);
    }

    use super::*;

    /// sam's `_unquote_wrapped_quotes` (samcli/cli/types.py), which every override passes through.
    fn sam_unquote(value: &str) -> String {
        let mut value = value.to_string();
        let wrapped = value.len() >= 2
            && value.starts_with(['"', '\''])
            && value.ends_with(['"', '\''])
            && value.chars().next() == value.chars().last();
        if wrapped {
            value = value[1..value.len() - 1].to_string();
        }
        value
            .replace("\\ ", " ")
            .replace("\\\"", "\"")
            .replace("\\'", "'")
    }

    #[test]
    fn override_values_survive_sams_unquoting_byte_for_byte() {
        for value in [
            r"plain",
            r"back\slash",
            r"trailing\",
            r#"a\" b\ c\'d\\e\\"#,
            r#""quoted""#,
            "'single'",
            r"\\ two before a space",
            "multi\nline\tand\u{7f}del",
        ] {
            assert_eq!(sam_unquote(&override_value(value)), value, "{value}");
        }
        assert_eq!(toml_string("a\u{7f}b\"c"), r#""a\u007fb\"c""#);
    }

    #[test]
    fn secret_parameter_names_are_unique_and_alphanumeric() {
        let p = secret_parameters(&["A_B".into(), "AB".into()]);
        assert_eq!(p[0].parameter, "Secret1AB");
        assert_eq!(p[1].parameter, "Secret2AB");
    }

    #[test]
    fn comments_cannot_break_out_of_the_line() {
        assert_eq!(comment_text("model x\nEvil: 1"), "model x Evil: 1");
    }
}
