//! The Lambda target, in the rooms of its pipeline, each using only the ones before it:
//! `analyse/` (the agent, read) ← `render/` (the handler and the SAM project) ← `bundle/` (the
//! artifact) ← `ship/` (AWS: deploy, verify, the live alias). Here: the plan that analysing and
//! rendering make; `target.rs`: the `Target` the orchestration layer drives.

pub mod analyse;
pub mod bundle;
pub mod deployer_policy;
pub mod kinds;
pub mod local;
pub mod names;
pub mod preflight;
pub mod pricing;
pub mod render;
pub mod runtime;
pub mod settings;
pub mod ship;
pub mod target;
pub mod tools;

use std::path::PathBuf;

use serde_json::json;

use crate::error::Result;
use crate::lambda::analyse::{agent, hosted_interpreters, iam, requirements};
use crate::lambda::bundle::{bytecode, cold_start};
use crate::lambda::render::code_interpreter;
use crate::lambda::settings::{DeploymentKind, LambdaSettings, SecretsStore};
use crate::output::PlanView;

/// Everything known about one deployment before anything remote happens.
#[derive(Debug, Clone)]
pub struct LambdaPlan {
    pub analysis: agent::AgentAnalysis,
    pub requirements: requirements::Requirements,
    pub iam: iam::IamPlan,
    pub project: render::RenderedProject,
    pub warnings: Vec<String>,
}

/// A raw `handler(event, context)` answers events itself: sessions would be provisioned (a bucket,
/// IAM) and never used, and its callers would get no `session_id`.
fn refuse_unused_sessions(
    analysis: &agent::AgentAnalysis,
    settings: &LambdaSettings,
) -> Result<()> {
    if settings.conversation.session_ttl_days().is_some()
        && analysis.entry.kind == crate::lambda::analyse::entry::EntryKind::Handler
    {
        return Err(crate::error::Error::Usage {
            flag: "--conversation session".into(),
            message: format!(
                "the entry `{}` is a Lambda-style handler(event, context): it answers events itself, so agentdeploy cannot keep its sessions",
                analysis.entry.name
            ),
            hint: Some("use a `main(user_input, input_data)` or Agent entry (--entry), or --conversation isolated".into()),
        });
    }
    Ok(())
}

/// Interrupts wait for a person's answer in a later request, which finds the agent where it
/// stopped only in its caller's session.
fn unresumable_interrupts(
    analysis: &agent::AgentAnalysis,
    settings: &LambdaSettings,
) -> Option<String> {
    let first = analysis.interrupts.first()?;
    settings.conversation.session_ttl_days().is_none().then(|| format!(
        "{}: the agent stops on interrupts to wait for a person, but without --conversation session the request that answers them starts from the agent as built: it cannot resume; deploy with --conversation session",
        analysis.location(&first.file, first.line)
    ))
}

impl LambdaPlan {
    /// Analyses the agent and renders the project in memory.
    pub fn prepare(settings: &LambdaSettings, region: Option<&str>) -> Result<LambdaPlan> {
        let mut analysis = match settings.kind {
            DeploymentKind::Agent => crate::lambda::analyse::analyse(
                &settings.agent,
                settings.runtime,
                settings.entry.as_deref(),
            )?,
            DeploymentKind::CodeInterpreter => code_interpreter::analysis(),
        };
        analysis.set_display_base(&settings.project_dir);
        refuse_unused_sessions(&analysis, settings)?;
        let requirements = match settings.kind {
            DeploymentKind::Agent => {
                requirements::determine(&analysis, settings.requirements.as_deref())?
            }
            // Standard library only; modules are pip-installed at run time on request.
            DeploymentKind::CodeInterpreter => requirements::Requirements {
                source: requirements::RequirementsSource::Inferred,
                specifiers: Vec::new(),
                inferred_from: Vec::new(),
                warnings: Vec::new(),
                unlisted: Vec::new(),
            },
        };
        let mut iam = iam::infer(&analysis, &settings.policies);
        if settings.secrets_store == SecretsStore::Ssm && !settings.secrets.is_empty() {
            iam.statements.push(iam::ssm_secrets_statement(
                &settings.stack_name,
                &settings.secrets,
            ));
        }
        if settings.conversation.session_ttl_days().is_some() {
            iam.statements.extend(iam::session_bucket_statements());
        }
        if render::checks_origin(settings) {
            iam.statements
                .push(iam::origin_statement(&settings.stack_name));
        }
        let project =
            render::render_project(settings, &analysis, &iam, &requirements.specifiers, region)?;
        let mut warnings = settings.warnings.clone();
        if let Some(role) = &settings.role {
            warnings.push(iam::role_needs(role, &iam, settings));
        }
        // Streamed through API Gateway an answer may run 15 minutes; buffered, it is cut at 29 s.
        if project.web.is_none()
            && settings.endpoint == crate::lambda::kinds::EndpointKind::Api
            && settings.timeout > crate::lambda::settings::API_GATEWAY_TIMEOUT_SECONDS
        {
            warnings.push(format!(
                "API Gateway cuts requests at {} s but the timeout is {} s: long agent runs will get 504s; consider --stream or --endpoint url",
                crate::lambda::settings::API_GATEWAY_TIMEOUT_SECONDS,
                settings.timeout
            ));
        }
        if let Some(web) = &project.web {
            for line in &web.servers_skipped_at_import {
                warnings.push(format!(
                    "{}:{line}: this starts a server at import; in Lambda it returns at once (agentdeploy's server, behind the Web Adapter, serves the app)",
                    analysis.display
                ));
            }
        }
        warnings.extend(analysis.warnings.iter().cloned());
        warnings.extend(unresumable_interrupts(&analysis, settings));
        warnings.extend(requirements.warnings.iter().cloned());
        for skipped in &project.skipped_secrets {
            warnings.push(format!(
                "not shipping {}: its name looks like a secret (name it with --include to ship it)",
                skipped.display()
            ));
        }
        warnings.extend(iam.warnings.iter().cloned());
        warnings.extend(hosted_interpreters::warnings(&analysis, settings));
        Ok(LambdaPlan {
            analysis,
            requirements,
            iam,
            project,
            warnings,
        })
    }

    /// Hash of everything that decides what gets deployed: every rendered file (agent code,
    /// requirements, resolved config, template version), the region and the secret values, each
    /// as its name and a digest keyed with the deployment's `digest_key` (never the raw value).
    pub fn input_hash(
        &self,
        region: &str,
        secrets: &[(String, String)],
        digest_key: &[u8],
    ) -> String {
        hash_inputs(&self.project.files, region, secrets, digest_key)
    }

    pub fn files(&self, settings: &LambdaSettings) -> Vec<PathBuf> {
        self.project
            .files
            .iter()
            .map(|f| settings.out_dir.join(&f.path))
            .collect()
    }

    /// The plan section of the result: the JSON document, and the lines the text report
    /// shows, both made here from the typed plan.
    pub fn describe(&self, settings: &LambdaSettings, pinned: Option<&[String]>) -> PlanView {
        let cold_start = self.expected_cold_start(settings);
        let build_import = bytecode::import_isolation(settings.runtime, settings.import_probe);
        let document = json!({
            "out_dir": settings.out_dir,
            "agent": self.analysis.path,
            "entry": self.analysis.entry,
            "conversation": settings.conversation,
            "session_ttl_days": settings.conversation.session_ttl_days(),
            "main": {
                "async": self.analysis.main.is_async,
                "parameters": self.analysis.main.positional,
                "line": self.analysis.main.line,
            },
            "requirements": self.requirements.specifiers,
            "requirements_source": self.requirements.source,
            "inferred_from": self.requirements.inferred_from.iter().map(|(i, d)| json!({"import": i, "distribution": d})).collect::<Vec<_>>(),
            "pinned_requirements": pinned,
            "iam": {
                "statements": self.iam.statements,
                "managed_policies": self.iam.managed_policies,
            },
            "secrets": settings.secrets,
            "env_vars": settings.env_vars.keys().collect::<Vec<_>>(),
            "auth": settings.auth.as_str(),
            "usage_limits": settings.usage_limits.as_ref().map(|l| json!({
                "rate_per_second": l.rate_per_second,
                "burst": l.burst,
                "quota": format!("{}/{}", l.quota, l.quota_period.to_lowercase()),
            })),
            "reserved_concurrency": settings.reserved_concurrency,
            "alias": crate::lambda::render::LIVE_ALIAS,
            "log_group": {
                "name": crate::lambda::render::log_group_name(&settings.function_name),
                "retention_days": settings.log_retention_days,
            },
            "snapstart": settings.snapstart,
            "isolation": settings.isolation.as_str(),
            "managed_instances": settings.managed_instances.as_ref().map(|m| json!({
                "capacity_provider": m.capacity_provider,
                "concurrency": m.concurrency,
                "memory_per_vcpu": m.memory_per_vcpu,
            })),
            "tracing": render::observability::tracing_layer(settings).map(|layer| json!({
                "xray": "Active",
                "layer": layer,
                "exec_wrapper": render::observability::ADOT_EXEC_WRAPPER,
            })),
            "alarms": settings.alarms.any().then(|| json!({
                "error_rate": settings.alarms.error_rate,
                "p95_ms": settings.alarms.p95_ms,
                "topic": settings.alarms.topic.as_deref().unwrap_or("a topic the stack makes"),
            })),
            "metrics": {
                "namespace": render::observability::METRICS_NAMESPACE,
                "dimensions": ["FunctionName", "FunctionName,Version", "FunctionName,ModelId", "FunctionName,ToolName"],
            },
            "streaming": self.project.web.as_ref().map(|web| json!({
                "web_adapter_layer": web.layer,
                "why": web.why,
                "invoke_mode": "RESPONSE_STREAM",
                "servers_skipped_at_import": web.servers_skipped_at_import,
            })),
            "cold_start": cold_start,
            "build_import": match &build_import {
                Ok(how) => json!({"runs": true, "isolation": how}),
                Err(why) => json!({"runs": false, "why": why}),
            },
            "files": self.files(settings),
        });
        PlanView {
            document,
            lines: self.text_lines(settings, &cold_start, &build_import),
        }
    }

    /// The cold start to expect before anything is built: the requirements' usual imports, with
    /// bytecode when the runtime's interpreter is here or the build runs in its image.
    pub fn expected_cold_start(&self, settings: &LambdaSettings) -> crate::build_report::ColdStart {
        let bytecode = which::which(settings.runtime.interpreter()).is_ok()
            || settings.use_container == crate::lambda::kinds::UseContainer::Always;
        let imports = cold_start::Imports::expected(&self.requirements.specifiers, bytecode);
        cold_start::estimate(&imports, settings.memory, settings.snapstart)
    }

    fn text_lines(
        &self,
        settings: &LambdaSettings,
        cold_start: &crate::build_report::ColdStart,
        build_import: &std::result::Result<String, String>,
    ) -> Vec<(&'static str, String)> {
        let mut lines = vec![("project", settings.out_dir.display().to_string())];
        let entry = &self.analysis.entry;
        let file = self
            .analysis
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let what = match entry.kind {
            crate::lambda::analyse::entry::EntryKind::Agent => format!("Agent `{}`", entry.name),
            crate::lambda::analyse::entry::EntryKind::Handler => {
                format!("{}(event, context)", entry.name)
            }
            crate::lambda::analyse::entry::EntryKind::Main => format!("{}()", entry.name),
            crate::lambda::analyse::entry::EntryKind::Entrypoint => {
                format!("@app.entrypoint {}()", entry.name)
            }
            crate::lambda::analyse::entry::EntryKind::Asgi => format!("web app `{}`", entry.name),
            crate::lambda::analyse::entry::EntryKind::A2a => format!("A2A server `{}`", entry.name),
        };
        lines.push(("entry", format!("{what} ({file}:{})", entry.line)));
        if let Some(web) = &self.project.web {
            lines.push((
                "streaming",
                format!("answers stream behind the Lambda Web Adapter ({})", web.why),
            ));
        }
        if let Some(layer) = render::observability::tracing_layer(settings) {
            lines.push((
                "tracing",
                format!("X-Ray active; OpenTelemetry spans through {layer}"),
            ));
        }
        if let Some(rate) = settings.alarms.error_rate {
            lines.push((
                "alarm",
                format!(
                    "more than {:.2} % of requests answered 5xx in 5 minutes",
                    rate * 100.0
                ),
            ));
        }
        if let Some(ms) = settings.alarms.p95_ms {
            lines.push(("alarm", format!("p95 duration above {ms} ms in 5 minutes")));
        }
        let requirements = &self.requirements.specifiers;
        lines.push((
            "requirements",
            if requirements.is_empty() {
                "(none)".to_string()
            } else {
                requirements.join(", ")
            },
        ));
        lines.push(("cold start", cold_start.describe()));
        lines.push((
            "build import",
            match build_import {
                Ok(how) => format!("the agent's code runs once at build time {how}"),
                Err(why) => {
                    format!("not run ({why}); its packages are compiled without running it")
                }
            },
        ));
        for statement in &self.iam.statements {
            lines.push((
                "iam",
                format!(
                    "{} - {} ({})",
                    statement.actions.join(", "),
                    statement.reason,
                    statement.sources.join(", ")
                ),
            ));
        }
        lines
    }
}

fn hash_inputs(
    files: &[render::RenderedFile],
    region: &str,
    secrets: &[(String, String)],
    digest_key: &[u8],
) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(format!(
        "agentdeploy-input-v1\0template-v{}\0{region}\0",
        render::TEMPLATE_VERSION
    ));
    for file in files {
        hasher.update(file.path.to_string_lossy().as_bytes());
        hasher.update(b"\0");
        hasher.update(&file.contents);
        hasher.update(b"\0");
    }
    for (name, value) in secrets {
        hasher.update(name.as_bytes());
        hasher.update(b"\0");
        hasher.update(crate::digest::keyed(digest_key, value.as_bytes()));
    }
    crate::digest::hex_prefix(&hasher.finalize(), 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_hash_holds_a_keyed_digest_of_each_secret_not_the_value() {
        let files = [render::RenderedFile {
            path: "src/handler.py".into(),
            contents: b"print(1)\n".to_vec(),
        }];
        let secrets = [("TOKEN".to_string(), "guessable-value".to_string())];
        let with = |key: &[u8]| hash_inputs(&files, "us-east-1", &secrets, key);
        // Without the project's key the same inputs give another hash: a copy of the record
        // alone cannot confirm a guess.
        assert_ne!(with(&[1; 32]), with(&[2; 32]));
        assert_eq!(with(&[1; 32]), with(&[1; 32]));
        let other = [("TOKEN".to_string(), "another-value".to_string())];
        assert_ne!(
            with(&[1; 32]),
            hash_inputs(&files, "us-east-1", &other, &[1; 32])
        );
    }
}
