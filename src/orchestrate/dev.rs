//! `agentdeploy dev`: the agent served on this machine as its function would run (reference
//! §13), restarted on every change to what it is made of.
//!
//! agentdeploy binds the port once and hands the listening socket to each host process it starts
//! (`templates/dev/agentdeploy_dev.py`, under the runtime's Python, in the rendered code): a
//! request sent while the code reloads waits in the socket's queue for the new process instead
//! of being refused. A change is planned again as a deploy would plan it; what cannot be served
//! (the plan refuses the agent, its import raises) is answered 503 naming the file and line, and
//! the next change tries again.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

use crate::cli::{DeployArgs, DevArgs};
use crate::error::{Error, Result};
use crate::exit_codes;
use crate::orchestrate::Context;
use crate::orchestrate::watch::Snapshot;
use crate::process::ToolOptions;
use crate::progress::Progress;
use crate::redact::Redactor;
use crate::target::{DeploymentSettings, LocalFunction, Planned, Target};

/// The host process's code, written beside the rendered function (never shipped).
const HOST: &str = include_str!("../../templates/dev/agentdeploy_dev.py");
const HOST_FILE: &str = "agentdeploy_dev.py";
/// How often the watched files are looked at.
const POLL: Duration = Duration::from_millis(100);
/// How long a request in flight when the code changes may take to finish on the old code.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long a host may take to say it takes no more requests.
const STOP_NOTICE: Duration = Duration::from_secs(2);
/// What the host says then (not shown).
const NOT_TAKING: &str = "agentdeploy-dev: taking no more requests";

pub async fn dev<T: Target>(
    ctx: &Context,
    args: &DevArgs,
    choose: &dyn Fn(&str) -> Result<T>,
) -> Result<i32> {
    if args.remote {
        let sync = crate::cli::SyncArgs {
            name: agent_name(ctx, args)?,
            options: args.options.clone(),
            watch: true,
            yes: false,
        };
        return crate::orchestrate::sync::sync(ctx, &sync, choose).await;
    }
    let name = agent_name(ctx, args)?;
    let target = choose(&name)?;
    let deploy_args = DeployArgs {
        function_name: Some(name.clone()),
        options: args.options.clone(),
        ..DeployArgs::default()
    };
    let settings =
        target.complete_settings(&target.resolve_settings(ctx.resolve_input(&name, &deploy_args))?);
    let local = target.local_settings(&settings)?;
    let dev_dir = local.out_dir().to_path_buf();
    std::fs::create_dir_all(&dev_dir).map_err(|e| Error::io(&dev_dir, e))?;
    let _lock = DevLock::take(&dev_dir, &name)?;
    let listener = bind(args.port)?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::internal(format!("the listening socket has no address: {e}")))?
        .port();
    let url = format!("http://127.0.0.1:{port}");
    _lock.announce(&url);

    let mut server = Server {
        ctx_global: ctx.global.clone(),
        args,
        name: name.clone(),
        target,
        dev_dir,
        listener,
        quiet: ctx.global.quiet,
        specifiers: None,
        function: None,
        redactor: Redactor::new(Vec::new()),
        extra_watched: ctx.config.as_ref().map(|c| c.path.clone()),
    };
    // The first plan must work: there is nothing yet to serve.
    let first = server.load(&settings, &local).await?;
    eprintln!("serving on {url}");
    for note in &first.notes {
        eprintln!("  {note}");
    }
    eprintln!(
        "  sessions kept in {}",
        local.out_dir().join("sessions").display()
    );
    eprintln!("  reloads on a change to its files; Ctrl-C stops");
    server.serve().await
}

impl<T: Target> Server<'_, T> {
    /// Serves until Ctrl-C: restarted on every change; a process that ends on its own is
    /// replaced by one that says so.
    async fn serve(&mut self) -> Result<i32> {
        let mut host = self.start(Launch::Serve)?;
        let mut seen = Snapshot::of(&self.watched());
        let interrupted = crate::orchestrate::lifecycle::shutdown_signal();
        tokio::pin!(interrupted);
        loop {
            tokio::select! {
                () = &mut interrupted => {
                    host.stop().await;
                    eprintln!("stopped");
                    return Ok(exit_codes::OK);
                }
                status = host.exited(), if !host.ended => {
                    let message = format!("the function's process ended ({status}); it starts again on the next change");
                    eprintln!("{message}");
                    if host.failed {
                        host.ended = true;
                    } else {
                        host = self.start(Launch::Failed(failure("ProcessExited", None, &message)))?;
                    }
                }
                () = tokio::time::sleep(POLL) => {
                    let now = Snapshot::of(&self.watched());
                    if now == seen {
                        continue;
                    }
                    let changed = now.difference(&seen);
                    seen = now;
                    // Said once the old code takes no more requests: any sent from now on are
                    // answered by the new code.
                    let started = Instant::now();
                    host.stop_taking_requests().await;
                    eprintln!("changed: {changed}; reloading");
                    host.stop().await;
                    let launch = self.reload().await;
                    host = self.start(launch)?;
                    tracing::debug!("restarted after {:?}", started.elapsed());
                }
            }
        }
    }
}

/// The agent `dev` serves: NAME, else the config's only agent, else the `--agent` file's name.
fn agent_name(ctx: &Context, args: &DevArgs) -> Result<String> {
    if let Some(name) = &args.name {
        return Ok(name.clone());
    }
    let declared = ctx
        .config
        .as_ref()
        .map(|c| c.agent_names())
        .unwrap_or_default();
    if args.options.agent.is_none() {
        match declared.as_slice() {
            [only] => return Ok(only.clone()),
            [] => {}
            many => {
                return Err(Error::usage_hint(
                    "NAME",
                    "the config describes several agents",
                    format!("name one: agentdeploy dev {}", many.join(" | ")),
                ));
            }
        }
    }
    let Some(agent) = &args.options.agent else {
        return Err(Error::usage_hint(
            "NAME",
            "no agent to serve",
            "pass `agentdeploy dev NAME` (an agent of agentdeploy.toml) or `--agent FILE`",
        ));
    };
    let stem = Path::new(agent)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        return Err(Error::usage(
            "--agent",
            "the agent file has no name to serve it under",
        ));
    }
    Ok(name)
}

/// What the host process serves when it starts.
enum Launch {
    /// The rendered function.
    Serve,
    /// A 503 with this body for every request, until the next change.
    Failed(serde_json::Value),
}

fn failure(kind: &str, location: Option<String>, message: &str) -> serde_json::Value {
    serde_json::json!({"error": kind, "location": location, "message": message})
}

struct Server<'a, T: Target> {
    ctx_global: crate::cli::GlobalArgs,
    args: &'a DevArgs,
    name: String,
    target: T,
    dev_dir: PathBuf,
    listener: std::net::TcpListener,
    quiet: bool,
    /// The requirement lines the dependencies were prepared for.
    specifiers: Option<Vec<String>>,
    function: Option<LocalFunction>,
    redactor: Redactor,
    extra_watched: Option<PathBuf>,
}

impl<T: Target> Server<'_, T> {
    fn watched(&self) -> Vec<PathBuf> {
        let mut paths = self
            .function
            .as_ref()
            .map(|f| f.watched.clone())
            .unwrap_or_default();
        paths.extend(self.extra_watched.clone());
        paths
    }

    /// Plans `local` as a deploy would, renders it, and prepares the dependencies when the
    /// requirement lines changed (the first time: always).
    async fn load(&mut self, deployed: &T::Settings, local: &T::Settings) -> Result<LocalFunction> {
        let secrets = crate::secrets::read(deployed.secret_names(), deployed.project_dir())?;
        self.redactor = secrets.redactor();
        let region = crate::aws::local_region(deployed.region());
        let plan = self.target.plan(local, region.as_deref())?;
        for warning in plan.warnings() {
            eprintln!("warning: {}", self.redactor.redact(warning));
        }
        plan.write(local)?;
        let specifiers = plan.dependency_specifiers();
        // The dependencies are prepared again only when the requirement lines changed.
        let reuse = self
            .function
            .as_ref()
            .filter(|_| self.specifiers.as_ref() == Some(&specifiers));
        if reuse.is_none() && self.function.is_some() {
            eprintln!("the requirements changed: resolving the dependencies again");
        }
        let progress = Progress::new(self.quiet || reuse.is_some());
        let task = progress.task(&self.name, self.redactor.clone());
        task.phase("preparing the dependencies");
        let function = self
            .target
            .prepare_local(
                deployed,
                local,
                &plan,
                &secrets,
                reuse,
                ToolOptions {
                    cwd: local.out_dir(),
                    envs: Vec::new(),
                    stream: self.ctx_global.verbose >= 1,
                    task: &task,
                    redactor: &self.redactor,
                },
            )
            .await?;
        task.finish("dependencies ready");
        crate::files::write_atomically(&self.dev_dir.join(HOST_FILE), HOST.as_bytes())?;
        self.specifiers = Some(specifiers);
        self.function = Some(function.clone());
        Ok(function)
    }

    /// After a change: the config and settings read again, then `load`; what fails is served.
    async fn reload(&mut self) -> Launch {
        let loaded = async {
            let ctx = Context::load(self.ctx_global.clone(), self.args.options.ttl.is_some())?;
            let deploy_args = DeployArgs {
                function_name: Some(self.name.clone()),
                options: self.args.options.clone(),
                ..DeployArgs::default()
            };
            let deployed = self.target.complete_settings(
                &self
                    .target
                    .resolve_settings(ctx.resolve_input(&self.name, &deploy_args))?,
            );
            let local = self.target.local_settings(&deployed)?;
            self.load(&deployed, &local).await
        };
        match loaded.await {
            Ok(_) => Launch::Serve,
            Err(err) => {
                let message = self.redactor.redact(&err.to_string());
                eprintln!("cannot serve the change: {message}");
                let (kind, location) = match &err {
                    Error::Agent { location, .. } => ("ImportFailed", Some(location.clone())),
                    Error::Config { location, .. } => ("ConfigInvalid", Some(location.clone())),
                    other => (exit_codes::kind(other), None),
                };
                Launch::Failed(failure(kind, location, &message))
            }
        }
    }

    fn start(&self, launch: Launch) -> Result<Host> {
        let Some(function) = &self.function else {
            return Err(Error::internal("no function prepared to serve"));
        };
        Host::start(
            function,
            &self.dev_dir.join(HOST_FILE),
            &self.listener,
            launch,
            self.redactor.clone(),
        )
    }
}

/// The port on 127.0.0.1 (never another interface: what it serves runs code and calls models).
fn bind(port: u16) -> Result<std::net::TcpListener> {
    std::net::TcpListener::bind(("127.0.0.1", port)).map_err(|err| {
        let message = match err.kind() {
            std::io::ErrorKind::AddrInUse => format!("port {port} on 127.0.0.1 is in use"),
            _ => format!("cannot listen on 127.0.0.1:{port}: {err}"),
        };
        Error::usage_hint(
            "--port",
            message,
            "pick another port with --port N (0: any free port)",
        )
    })
}

/// One `dev` per agent: the second would render into the same folder and share its sessions.
struct DevLock {
    file: std::fs::File,
}

impl DevLock {
    fn take(dev_dir: &Path, name: &str) -> Result<DevLock> {
        let path = dev_dir.join("dev.lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DevLock { file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                let held_by = std::fs::read_to_string(&path).unwrap_or_default();
                let held_by = held_by.trim();
                Err(Error::usage_hint(
                    "NAME",
                    format!(
                        "`agentdeploy dev` already serves `{name}`{}",
                        if held_by.is_empty() {
                            String::new()
                        } else {
                            format!(" ({held_by})")
                        }
                    ),
                    "use that one, or stop it (Ctrl-C) first",
                ))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }

    /// Who holds the lock, for the message a second `dev` prints.
    fn announce(&self, url: &str) {
        use std::io::{Seek, Write};
        let mut file = &self.file;
        let _ = file.set_len(0);
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let _ = write!(file, "process {}, {url}", std::process::id());
    }
}

/// The running host process and the tasks relaying its output.
struct Host {
    child: tokio::process::Child,
    /// Held open while agentdeploy runs: the host ends when it closes (tokio's `wait` would
    /// close it if the child kept it).
    _stdin: Option<tokio::process::ChildStdin>,
    relays: Vec<tokio::task::JoinHandle<()>>,
    /// It answers every request with a failure: when it ends too, nothing restarts it.
    failed: bool,
    /// It has ended (and was not restarted).
    ended: bool,
    /// Notified when the host says it takes no more requests.
    not_taking: std::sync::Arc<tokio::sync::Notify>,
    /// SIGTERM was sent (once is enough: a second could land after its event loop closed).
    asked_to_stop: bool,
}

impl Host {
    fn start(
        function: &LocalFunction,
        script: &Path,
        listener: &std::net::TcpListener,
        launch: Launch,
        redactor: Redactor,
    ) -> Result<Host> {
        use std::os::fd::AsRawFd;
        let mut command = tokio::process::Command::new(&function.python);
        command
            .arg(script)
            .current_dir(&function.code_dir)
            .envs(function.environment.iter().map(|(k, v)| (k, v)))
            .env(
                "PYTHONPATH",
                std::env::join_paths([&function.code_dir, &function.deps_dir])
                    .map_err(|e| Error::internal(format!("a path holds `:`: {e}")))?,
            )
            .env("PYTHONUNBUFFERED", "1")
            .env("AGENTDEPLOY_DEV_AGENT_FILE", &function.agent_file)
            .env("AGENTDEPLOY_DEV_ENDPOINT", function.endpoint)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let failed = matches!(launch, Launch::Failed(_));
        if let Launch::Failed(body) = &launch {
            command.env("AGENTDEPLOY_DEV_FAILED", body.to_string());
        }
        let fd = listener.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; the listener outlives the spawn. The host finds
        // the socket at fd 3 (dup2 clears close-on-exec on the copy).
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, 3) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| Error::Preflight {
            message: format!("cannot start {}: {e}", function.python.display()),
            hint: "check that the runtime's Python runs".into(),
        })?;
        let mut relays = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            relays.push(tokio::spawn(relay(stdout, redactor.clone(), None)));
        }
        let not_taking = std::sync::Arc::new(tokio::sync::Notify::new());
        if let Some(stderr) = child.stderr.take() {
            relays.push(tokio::spawn(relay(
                stderr,
                redactor,
                Some(not_taking.clone()),
            )));
        }
        Ok(Host {
            not_taking,
            _stdin: child.stdin.take(),
            child,
            relays,
            failed,
            ended: false,
            asked_to_stop: false,
        })
    }

    /// Resolves when the process ends on its own.
    async fn exited(&mut self) -> String {
        match self.child.wait().await {
            Ok(status) => status.to_string(),
            Err(err) => err.to_string(),
        }
    }

    /// Asks the host to take no more requests (those in flight go on) and waits until it says
    /// so, briefly: a host that cannot say it (its import still running) is stopped anyway.
    async fn stop_taking_requests(&mut self) {
        if self.ended {
            return;
        }
        if let Some(pid) = self.child.id() {
            // SAFETY: signals the host this command started.
            unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            self.asked_to_stop = true;
            let _ = tokio::time::timeout(STOP_NOTICE, self.not_taking.notified()).await;
        }
    }

    /// Stops the process (the requests in flight finish first, for up to `STOP_GRACE`) and
    /// everything it started (its process group), and waits for it.
    async fn stop(&mut self) {
        if let Some(pid) = self.child.id() {
            if !self.asked_to_stop {
                // SAFETY: signals the host this command started.
                unsafe { libc::kill(pid as i32, libc::SIGTERM) };
            }
            let _ = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
            // SAFETY: signals the group this host leads (it was started as its own group).
            unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
        }
        let _ = self.child.wait().await;
        for relay in self.relays.drain(..) {
            let _ = relay.await;
        }
    }
}

/// The host's output on stderr: each request's metrics record as one line, the rest as the
/// agent's log (secret values redacted).
async fn relay(
    stream: impl tokio::io::AsyncRead + Unpin,
    redactor: Redactor,
    not_taking: Option<std::sync::Arc<tokio::sync::Notify>>,
) {
    let mut lines = tokio::io::BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line == NOT_TAKING
            && let Some(notify) = &not_taking
        {
            notify.notify_one();
            continue;
        }
        match request_line(&line) {
            Some(Some(summary)) => eprintln!("{summary}"),
            Some(None) => {}
            None => eprintln!("  | {}", redactor.redact(&line)),
        }
    }
}

/// A metrics record shown as one line (`Some(None)`: a record not worth a line, per model or
/// per tool); `None`: not a record.
fn request_line(line: &str) -> Option<Option<String>> {
    if !line.starts_with("{\"_aws\"") {
        return None;
    }
    let record: serde_json::Value = serde_json::from_str(line).ok()?;
    let Some(status) = record.get("StatusCode").and_then(|v| v.as_u64()) else {
        return Some(None);
    };
    let number = |key: &str| record.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0);
    let id = record
        .get("RequestId")
        .and_then(|v| v.as_str())
        .unwrap_or("-");
    let mut summary = format!(
        "request {id}  {status}  {:.0} ms  tokens {} in / {} out",
        number("Duration"),
        number("InputTokens"),
        number("OutputTokens")
    );
    if let Some(error) = record.get("ErrorType").and_then(|v| v.as_str()) {
        summary.push_str(&format!("  {error}"));
    }
    if number("ColdStart") > 0.0 {
        summary.push_str("  (cold start)");
    }
    Some(Some(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_record_becomes_one_line_and_per_model_records_none() {
        let main = r#"{"_aws":{},"Duration":12.4,"InputTokens":3,"OutputTokens":5,"ColdStart":1,"StatusCode":200,"RequestId":"r-1"}"#;
        assert_eq!(
            request_line(main),
            Some(Some(
                "request r-1  200  12 ms  tokens 3 in / 5 out  (cold start)".into()
            ))
        );
        let per_model = r#"{"_aws":{},"ModelId":"m","InputTokens":3}"#;
        assert_eq!(request_line(per_model), Some(None));
        assert_eq!(request_line("INFO hello"), None);
    }
}
