//! All integration tests, compiled into one test binary (one link, one home for the shared
//! helpers in `common/`). Suites that drive the real tools (sam, moto, Python 3.13) need
//! `bash .ci/setup` first; without it they fail with that one instruction (see docs/development.md).

mod common;

mod a2a_servers;
mod agent_answers;
mod architecture;
mod bad_inputs;
mod build_sandbox;
mod chat_e2e;
mod companions_e2e;
mod conversations;
mod deploy_e2e;
mod dev_e2e;
mod dry_run;
mod fleet_e2e;
mod fresh_clone_e2e;
mod hostile_inputs;
mod iam_guardrails;
mod known_failures;
mod lifecycle_e2e;
mod managed_instances;
mod metrics_e2e;
mod observability;
mod previews_e2e;
mod published_samples;
mod real_runtime;
mod repo_docs;
mod runtime_module;
mod second_target;
mod secrets_ssm_e2e;
mod smoke_e2e;
mod stdout_closed;
mod streaming;
mod sync_e2e;
mod tenant_isolation;
mod upgrade_e2e;
