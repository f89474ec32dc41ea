//! Lambda's own `doctor` checks: the tools its builds use (`sam`, the runtime's Python,
//! Docker for container builds).

use crate::lambda::runtime::Runtime;
use crate::lambda::tools::{docker_answers, find_sam, interpreter_version};
use crate::target::{Check, CheckStatus};

/// The checks in the order the report lists them.
pub async fn checks(runtime: Runtime) -> Vec<Check> {
    vec![sam_check(), python_check(runtime), docker_check().await]
}

fn sam_check() -> Check {
    match find_sam() {
        Ok(sam) => {
            let (a, b, c) = sam.version;
            Check::new(
                "sam",
                CheckStatus::Pass,
                format!("{} {a}.{b}.{c}", sam.path.display()),
                None,
            )
        }
        Err(err) => Check::failed("sam", &err),
    }
}

fn python_check(runtime: Runtime) -> Check {
    match interpreter_version(&runtime.interpreter()) {
        Some(_) => Check::new(
            "python",
            CheckStatus::Pass,
            format!("{} answers: native `sam build`", runtime.interpreter()),
            None,
        ),
        None => Check::new(
            "python",
            CheckStatus::Warn,
            format!(
                "no {} on PATH: builds use a container or the cross-platform pip path",
                runtime.interpreter()
            ),
            Some(format!(
                "install {} for native builds",
                runtime.interpreter()
            )),
        ),
    }
}

async fn docker_check() -> Check {
    if docker_answers().await {
        Check::new("docker", CheckStatus::Pass, "Docker answers".into(), None)
    } else {
        Check::new(
            "docker",
            CheckStatus::Warn,
            "Docker is not running (needed only for --use-container)".into(),
            Some("start Docker, or rely on native / cross-platform builds".into()),
        )
    }
}
