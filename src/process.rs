//! Child processes (pip, sam): output captured line by line, redacted, streamed to stderr with
//! `-v`, and the child killed if the run is dropped (Ctrl-C, a failing fleet member).

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::error::{Error, Result};
use crate::progress::Task;
use crate::redact::Redactor;
use crate::timings::{self, Category};

pub struct ToolRun {
    pub success: bool,
    pub code: Option<i32>,
    /// stdout and stderr lines, redacted, in arrival order.
    pub lines: Vec<String>,
}

impl ToolRun {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The last `n` non-empty lines, for error messages.
    pub fn tail(&self, n: usize) -> String {
        let lines: Vec<&String> = self.lines.iter().filter(|l| !l.trim().is_empty()).collect();
        let start = lines.len().saturating_sub(n);
        lines[start..]
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

#[derive(Clone)]
pub struct ToolOptions<'a> {
    pub cwd: &'a Path,
    pub envs: Vec<(String, String)>,
    pub stream: bool,
    pub task: &'a Task,
    pub redactor: &'a Redactor,
}

pub async fn run_tool(
    program: &Path,
    args: &[String],
    options: ToolOptions<'_>,
) -> Result<ToolRun> {
    match tool_category(program, args) {
        Some(category) => timings::timed(category, run_child(program, args, options)).await,
        None => run_child(program, args, options).await,
    }
}

/// Which of a deploy's external costs this child is (see `timings`).
fn tool_category(program: &Path, args: &[String]) -> Option<Category> {
    let name = program.file_name()?.to_string_lossy();
    if name.starts_with("sam") {
        Some(Category::Sam)
    } else if name == "uv" || args.windows(2).any(|w| w[0] == "-m" && w[1] == "pip") {
        Some(Category::Pip)
    } else {
        None
    }
}

async fn run_child(program: &Path, args: &[String], options: ToolOptions<'_>) -> Result<ToolRun> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(options.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so an interrupt can stop sam and the pip it started.
        .process_group(0);
    for (key, value) in &options.envs {
        command.env(key, value);
    }
    tracing::debug!(
        "running {} {}",
        program.display(),
        options.redactor.redact(&args.join(" "))
    );
    let mut child = command.spawn().map_err(|e| Error::Preflight {
        message: format!("could not start {}: {e}", program.display()),
        hint: "check that it is installed and executable; run `agentdeploy doctor`".into(),
    })?;
    let _group = child.id().map(|pid| ProcessGroupGuard { pgid: pid as i32 });
    let stdout = child.stdout.take().map(|s| BufReader::new(s).lines());
    let stderr = child.stderr.take().map(|s| BufReader::new(s).lines());
    let mut lines = Vec::new();
    let (Some(mut stdout), Some(mut stderr)) = (stdout, stderr) else {
        return Err(Error::internal("child process pipes were not available"));
    };
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let line = tokio::select! {
            line = stdout.next_line(), if out_open => match line { Ok(Some(l)) => Some(l), _ => { out_open = false; None } },
            line = stderr.next_line(), if err_open => match line { Ok(Some(l)) => Some(l), _ => { err_open = false; None } },
        };
        if let Some(line) = line {
            let line = options.redactor.redact(&line);
            if options.stream {
                options.task.line(&line);
            }
            lines.push(line);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::internal(format!("waiting for {}: {e}", program.display())))?;
    Ok(ToolRun {
        success: status.success(),
        code: status.code(),
        lines,
    })
}

/// Kills the child's whole process group if the run is dropped before the child is reaped.
struct ProcessGroupGuard {
    pgid: i32,
}

impl Drop for ProcessGroupGuard {
    fn drop(&mut self) {
        // SAFETY: killpg only sends a signal; a group that is gone gives ESRCH, which is fine.
        unsafe {
            libc::killpg(self.pgid, libc::SIGKILL);
        }
    }
}
