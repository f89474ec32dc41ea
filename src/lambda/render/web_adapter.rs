//! Functions served behind the AWS Lambda Web Adapter (reference §5 "Streaming"): Lambda's Python
//! runtime cannot stream an answer by itself; the adapter (an AWS layer) runs the function's HTTP
//! server and relays its bytes to the caller as they are written. agentdeploy's runtime brings
//! the server (`agentdeploy_serve`), so the agent needs no web framework of its own.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::lambda::analyse::agent::AgentAnalysis;
use crate::lambda::analyse::entry::EntryKind;
use crate::lambda::kinds::{Architecture, EndpointKind};
use crate::lambda::settings::{DeploymentKind, LambdaSettings};

/// The account AWS publishes the adapter's layers from.
const PUBLISHER_ACCOUNT: &str = "753240598075";

/// The adapter's layer version per architecture: one table, pinned (v0.9.x), so a deploy never
/// changes because AWS published a new layer. `web_adapter_layer` in the config overrides it.
const LAYERS: [(Architecture, &str, u32); 2] = [
    (Architecture::X86_64, "LambdaAdapterLayerX86", 28),
    (Architecture::Arm64, "LambdaAdapterLayerArm64", 28),
];

/// The port agentdeploy's server listens on inside the function.
pub const PORT: u16 = 8080;
/// The readiness check the adapter polls before the first request.
pub const READINESS_PATH: &str = "/ping";
/// The function's handler behind the adapter: the script that starts agentdeploy's server.
pub const HANDLER_SCRIPT: &str = "run.sh";

/// How the function is served behind the adapter, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebAdapter {
    /// Why the function is served this way ("--stream", "a generator @app.entrypoint", ...).
    pub why: String,
    /// The layer, as the template writes it (`${AWS::Region}` resolved by CloudFormation).
    pub layer: String,
    /// Lines of `app.run()` / `uvicorn.run()` that run at import and are skipped in Lambda.
    pub servers_skipped_at_import: Vec<usize>,
    /// A web app: every path reaches it (its own routes), not only the invocation path.
    pub all_routes: bool,
}

impl WebAdapter {
    /// Variables the adapter reads (the exec wrapper starts it before the handler script).
    pub fn environment(&self) -> [(&'static str, String); 4] {
        [
            ("AWS_LAMBDA_EXEC_WRAPPER", "/opt/bootstrap".to_string()),
            ("AWS_LWA_INVOKE_MODE", "response_stream".to_string()),
            ("AWS_LWA_PORT", PORT.to_string()),
            ("AWS_LWA_READINESS_CHECK_PATH", READINESS_PATH.to_string()),
        ]
    }
}

/// The adapter's layer for `architecture`, unless the config names one.
fn layer(settings: &LambdaSettings) -> String {
    if let Some(arn) = &settings.web_adapter_layer {
        return arn.clone();
    }
    let (_, name, version) = LAYERS
        .iter()
        .find(|(arch, _, _)| *arch == settings.architecture)
        .copied()
        .unwrap_or(LAYERS[0]);
    format!("arn:aws:lambda:${{AWS::Region}}:{PUBLISHER_ACCOUNT}:layer:{name}:{version}")
}

/// Why the entry is served behind the adapter (None: it is not).
fn why_behind_the_adapter(settings: &LambdaSettings, analysis: &AgentAnalysis) -> Option<String> {
    let entry = &analysis.entry;
    match entry.kind {
        EntryKind::Asgi => Some(format!(
            "`{}` is a web app, served with its own routes",
            entry.name
        )),
        EntryKind::A2a => Some(format!(
            "`{}` is an A2A server, served with its own routes (its agent card and JSON-RPC)",
            entry.name
        )),
        EntryKind::Entrypoint if analysis.main.is_generator => Some(format!(
            "`{}` is a generator @app.entrypoint: its items are streamed as AgentCore streams them",
            entry.name
        )),
        EntryKind::Entrypoint => Some(format!(
            "`{}` is an @app.entrypoint: its app is served as AgentCore serves it",
            entry.name
        )),
        _ if settings.stream => Some("--stream".to_string()),
        _ => None,
    }
}

/// Whether (and why) the function runs behind the adapter; refuses combinations it cannot serve.
pub fn decide(settings: &LambdaSettings, analysis: &AgentAnalysis) -> Result<Option<WebAdapter>> {
    if settings.kind != DeploymentKind::Agent {
        if settings.stream {
            return Err(Error::Usage {
                flag: "--stream".into(),
                message: "a code interpreter answers each call whole (its MCP client reads one result), so there is nothing to stream".into(),
                hint: Some("drop --stream for --kind code-interpreter".into()),
            });
        }
        return Ok(None);
    }
    let entry = &analysis.entry;
    let Some(why) = why_behind_the_adapter(settings, analysis) else {
        return Ok(None);
    };
    if entry.kind == EntryKind::Handler {
        return Err(Error::Usage {
            flag: "--stream".into(),
            message: format!(
                "the entry `{}` is a Lambda-style handler(event, context): it answers each event whole, so there is nothing to stream",
                entry.name
            ),
            hint: Some(
                "stream a `main`, an Agent or an @app.entrypoint (--entry), or drop --stream"
                    .into(),
            ),
        });
    }
    if settings.tracing.is_some() {
        // Both are the function's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER): the adapter's
        // /opt/bootstrap starts the server, ADOT's /opt/otel-instrument wraps the runtime's
        // handler, which behind the adapter is never called. A function has one wrapper.
        return Err(Error::Usage {
            flag: "--tracing".into(),
            message: format!(
                "this function is served behind the Lambda Web Adapter ({why}), and the adapter and the ADOT tracing layer each need to be the function's one exec wrapper (AWS_LAMBDA_EXEC_WRAPPER)"
            ),
            hint: Some(
                "drop --tracing (the per-request metrics work either way), or deploy without streaming"
                    .into(),
            ),
        });
    }
    let sessions = settings.conversation.session_ttl_days().is_some();
    if sessions && matches!(entry.kind, EntryKind::Asgi | EntryKind::A2a) {
        return Err(Error::Usage {
            flag: "--conversation session".into(),
            message: format!(
                "`{}` is a web app that reads requests itself: agentdeploy cannot tell which of them continue a conversation",
                entry.name
            ),
            hint: Some("keep sessions in the app, or use --conversation isolated".into()),
        });
    }
    if sessions && settings.endpoint == EndpointKind::Api {
        return Err(Error::Usage {
            flag: "--conversation session".into(),
            message: "streamed answers behind --endpoint api cannot carry sessions: the Web Adapter does not pass API Gateway's proof of the caller on, so a session could not be kept to its caller".into(),
            hint: Some("use --endpoint url (IAM) for streamed sessions, or --conversation isolated".into()),
        });
    }
    Ok(Some(WebAdapter {
        why,
        layer: layer(settings),
        servers_skipped_at_import: analysis.serves_at_import.clone(),
        all_routes: matches!(entry.kind, EntryKind::Asgi | EntryKind::A2a),
    }))
}
