//! An OS sandbox for the one time agentdeploy runs the agent's own code on the deployer's machine:
//! the build-time import that finds what to compile (the Lambda target's bytecode step). The agent's code is
//! often generated, so it is treated as hostile:
//!
//! - its own user, mount, network, PID, IPC and UTS namespaces: no network at all (not even
//!   loopback), no view of the deployer's processes (so no `/proc/<pid>/environ`), and no
//!   capabilities left once the program starts;
//! - a filesystem made of read-only binds of the system's programs and libraries, the runtime's
//!   interpreter and what the caller names; writable only where the caller says, plus a `/tmp`
//!   that is thrown away. The deployer's home, project, credentials and `/etc/shadow` are not in it;
//! - the environment the caller gives, nothing inherited;
//! - the program is PID 1 of its namespace and dies with the launcher, and when it ends the
//!   kernel kills everything it started, daemons in new sessions included.
//!
//! agentdeploy is its own launcher (`agentdeploy __agentdeploy-sandbox`, as runc is its own
//! `init`): namespaces can only be entered by a single-threaded process, which the tokio runtime
//! is not. The launcher sets up the namespaces, forks the sandbox's PID 1, and passes on its exit
//! status. Where the kernel refuses (unprivileged user namespaces turned off, seccomp in a
//! container), nothing runs and the caller is told why (`Unavailable`).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `argv[1]` that makes agentdeploy the sandbox's launcher instead of the CLI.
pub const LAUNCHER_ARG: &str = "__agentdeploy-sandbox";
/// Where the launcher finds its `Spec`; removed before the program starts.
const SPEC_VARIABLE: &str = "AGENTDEPLOY_SANDBOX_SPEC";
/// The launcher's exit status when it could not build the sandbox; its last stdout line then
/// says why (`{"sandbox_unavailable": reason}`).
pub const UNAVAILABLE_EXIT: i32 = 125;
/// What a launcher in `check_only` mode prints once the sandbox is built.
const READY: &str = "{\"sandbox_ready\": true}";
/// The user and group the program runs as inside: not 0, so it starts with no capabilities.
const INSIDE_ID: u32 = 1000;

/// System folders every program needs, bound read-only (or recreated as the symlinks they are
/// on merged-/usr systems).
const SYSTEM_PATHS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];
/// The few files of /etc a Python import may read; none holds a secret.
const ETC_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/hosts",
    "/etc/mime.types",
    "/etc/ssl/certs",
    "/etc/ca-certificates",
    "/etc/os-release",
];
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Bind {
    /// An absolute path on this machine.
    pub host: PathBuf,
    /// Where the sandbox sees it.
    pub inside: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Spec {
    pub read_only: Vec<Bind>,
    pub writable: Vec<Bind>,
    /// The working folder, inside.
    pub cwd: PathBuf,
    /// The program, as the sandbox sees it, and its arguments.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Build the sandbox, then end with 0 instead of running the program: whether this machine
    /// can isolate at all.
    pub check_only: bool,
}

/// What the sandbox withholds, in words for the plan and the report.
pub const ISOLATION: &str = "no network, no view of other processes, an empty environment, read-only access to the artifact, the runtime and system libraries only (the deployer's files out of reach), a throwaway /tmp, and everything it starts killed with it";

/// A command that runs `spec` in the sandbox, with exactly `env` as its environment.
pub fn command(spec: &Spec, env: &[(String, String)]) -> std::io::Result<tokio::process::Command> {
    launcher(spec, env).map(tokio::process::Command::from)
}

/// agentdeploy started as the launcher of `spec`, with exactly `env` as its environment.
fn launcher(spec: &Spec, env: &[(String, String)]) -> std::io::Result<std::process::Command> {
    let spec = serde_json::to_string(spec).map_err(std::io::Error::other)?;
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg(LAUNCHER_ARG)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(SPEC_VARIABLE, spec);
    Ok(command)
}

/// Whether this machine can build the sandbox: `Err` says why not. The kernel's answer does not
/// change while agentdeploy runs, so it is asked once per set of binds.
pub fn available(read_only: &[Bind]) -> Result<(), String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    /// The launcher's answer, by the binds it was asked about.
    type Answers = HashMap<Vec<Bind>, Result<(), String>>;
    static ASKED: OnceLock<Mutex<Answers>> = OnceLock::new();
    let mut asked = ASKED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    asked
        .entry(read_only.to_vec())
        .or_insert_with(|| ask_launcher(read_only))
        .clone()
}

fn ask_launcher(read_only: &[Bind]) -> Result<(), String> {
    let spec = Spec {
        read_only: read_only.to_vec(),
        cwd: "/".into(),
        program: "/bin/true".into(),
        check_only: true,
        ..Spec::default()
    };
    let output = launcher(&spec, &[])
        .map_err(|e| e.to_string())?
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.success() && stdout.lines().last() == Some(READY) {
        return Ok(());
    }
    Err(unavailable_reason(&stdout)
        .unwrap_or_else(|| format!("the sandbox's launcher ended with {}", output.status)))
}

/// The reason in a launcher's `{"sandbox_unavailable": reason}` line, if that is what it said.
pub fn unavailable_reason(stdout: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Unavailable {
        sandbox_unavailable: String,
    }
    let line = stdout.lines().last()?;
    serde_json::from_str::<Unavailable>(line)
        .ok()
        .map(|u| u.sandbox_unavailable)
}

/// Run first thing in `main`, before any thread starts: when agentdeploy was started as the
/// sandbox's launcher, runs it and returns the exit status; otherwise `None`.
pub fn run_if_launcher() -> Option<i32> {
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(LAUNCHER_ARG)) {
        return None;
    }
    let spec = std::env::var(SPEC_VARIABLE)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Spec>(&text).map_err(|e| e.to_string()));
    // SAFETY: still single-threaded; nothing else reads the environment.
    unsafe { std::env::remove_var(SPEC_VARIABLE) };
    Some(match spec {
        Ok(spec) => launch(&spec),
        Err(e) => unavailable(&format!("no sandbox spec: {e}")),
    })
}

fn unavailable(reason: &str) -> i32 {
    let line = serde_json::json!({ "sandbox_unavailable": reason });
    println!("{line}");
    UNAVAILABLE_EXIT
}

fn os_error(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The launcher: namespaces, then PID 1 of the new PID namespace, whose status it passes on.
fn launch(spec: &Spec) -> i32 {
    // SAFETY: getuid/getgid cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS;
    // SAFETY: the process is single-threaded (run_if_launcher runs before any thread starts).
    if unsafe { libc::unshare(flags) } != 0 {
        return unavailable(&os_error("the kernel refused new namespaces (unshare)"));
    }
    // One id inside, not root: the program starts without capabilities. Only our own ids can be
    // mapped without privilege, and setgroups must be denied first.
    let maps = [
        ("/proc/self/setgroups", "deny".to_string()),
        ("/proc/self/uid_map", format!("{INSIDE_ID} {uid} 1")),
        ("/proc/self/gid_map", format!("{INSIDE_ID} {gid} 1")),
    ];
    for (file, text) in maps {
        if let Err(e) = std::fs::write(file, text) {
            return unavailable(&format!("writing {file}: {e}"));
        }
    }
    // The child learns whether the launcher is still there from this pipe: its write end closes
    // when the launcher ends (see `enter`).
    let mut launcher_alive = [0; 2];
    // SAFETY: fills two fds.
    if unsafe { libc::pipe2(launcher_alive.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return unavailable(&os_error("pipe"));
    }
    // SAFETY: single-threaded; the child only makes syscalls and execs (or _exits).
    match unsafe { libc::fork() } {
        -1 => unavailable(&os_error("fork")),
        0 => {
            // SAFETY: the child's copy of the write end; only the launcher keeps one.
            unsafe { libc::close(launcher_alive[1]) };
            let reason = match enter(spec, launcher_alive[0]) {
                Ok(()) if spec.check_only => {
                    println!("{READY}");
                    // SAFETY: ends the child without running the parent's atexit handlers.
                    unsafe { libc::_exit(0) }
                }
                Ok(()) => exec(spec),
                Err(reason) => reason,
            };
            let code = unavailable(&reason);
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        child => {
            stop_child_on_term(child);
            wait_for(child)
        }
    }
}

/// The sandbox's PID 1, for the signal handler (0 before the fork).
static SANDBOX_INIT: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn kill_sandbox_init(_: libc::c_int) {
    let child = SANDBOX_INIT.load(std::sync::atomic::Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
}

/// SIGTERM or SIGINT to the launcher kills the sandbox's PID 1 (and with it, by the kernel,
/// everything in its namespace); the launcher then reaps it and exits, so whoever stopped it
/// knows the namespace is gone once the launcher is.
fn stop_child_on_term(child: libc::pid_t) {
    SANDBOX_INIT.store(child, std::sync::atomic::Ordering::SeqCst);
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: installs a handler that only reads an atomic and calls kill.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = kill_sandbox_init as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// Waits for the sandbox's PID 1 and returns its status as a shell would.
fn wait_for(child: libc::pid_t) -> i32 {
    loop {
        let mut status = 0;
        // SAFETY: waits for our own child.
        let waited = unsafe { libc::waitpid(child, &mut status, 0) };
        if waited == child {
            if libc::WIFEXITED(status) {
                return libc::WEXITSTATUS(status);
            }
            if libc::WIFSIGNALED(status) {
                return 128 + libc::WTERMSIG(status);
            }
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return 1;
        }
    }
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| format!("{} has a NUL", path.display()))
}

fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> Result<(), String> {
    let source = source.map(c_path).transpose()?;
    let target_c = c_path(target)?;
    let fstype = fstype.map(|f| CString::new(f).unwrap_or_default());
    let data = data.map(|d| CString::new(d).unwrap_or_default());
    let ptr = |s: &Option<CString>| s.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: every pointer is a valid NUL-terminated string or null, as mount(2) allows.
    let done = unsafe {
        libc::mount(
            ptr(&source),
            target_c.as_ptr(),
            ptr(&fstype),
            flags,
            ptr(&data).cast(),
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(os_error(&format!("mounting {}", target.display())))
    }
}

fn pivot_root(new_root: &Path, put_old: &Path) -> Result<(), String> {
    let (new_root_c, put_old_c) = (c_path(new_root)?, c_path(put_old)?);
    // SAFETY: two valid paths; pivot_root has no libc wrapper.
    let done = unsafe {
        libc::syscall(
            libc::SYS_pivot_root,
            new_root_c.as_ptr(),
            put_old_c.as_ptr(),
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(os_error("pivot_root"))
    }
}

fn umount_detached(target: &Path) -> Result<(), String> {
    let target_c = c_path(target)?;
    // SAFETY: a valid path.
    if unsafe { libc::umount2(target_c.as_ptr(), libc::MNT_DETACH) } == 0 {
        Ok(())
    } else {
        Err(os_error(&format!("unmounting {}", target.display())))
    }
}

fn chdir(path: &Path) -> Result<(), String> {
    std::env::set_current_dir(path).map_err(|e| format!("entering {}: {e}", path.display()))
}

/// The flags a read-only remount must keep: those of the mount it binds, which a user
/// namespace may not clear.
fn locked_flags(path: &Path) -> libc::c_ulong {
    let Ok(path_c) = c_path(path) else { return 0 };
    // SAFETY: statvfs fills the zeroed struct for a valid path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path_c.as_ptr(), &mut stat) } != 0 {
        return 0;
    }
    let pairs = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    pairs
        .iter()
        .filter(|(st, _)| stat.f_flag & st != 0)
        .fold(0, |flags, (_, ms)| flags | ms)
}

/// Binds `host` (seen under `/oldroot`) at `inside` under `/newroot`; a symlink is recreated as
/// the symlink it is.
fn bind(host: &Path, inside: &Path, writable: bool) -> Result<(), String> {
    let relative = |p: &Path| {
        p.strip_prefix("/")
            .map(Path::to_path_buf)
            .unwrap_or_default()
    };
    let source = Path::new("/oldroot").join(relative(host));
    let target = Path::new("/newroot").join(relative(inside));
    let Ok(meta) = std::fs::symlink_metadata(&source) else {
        return Ok(()); // Not on this machine (say /lib32): nothing to show.
    };
    let made = |e: std::io::Error| format!("preparing {}: {e}", inside.display());
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(made)?;
    }
    if meta.file_type().is_symlink() {
        let link = std::fs::read_link(&source).map_err(made)?;
        return std::os::unix::fs::symlink(link, &target).map_err(made);
    }
    if meta.is_dir() {
        std::fs::create_dir_all(&target).map_err(made)?;
    } else {
        std::fs::write(&target, b"").map_err(made)?;
    }
    mount(
        Some(&source),
        &target,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    let mut flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_NOSUID | locked_flags(&target);
    if !writable {
        flags |= libc::MS_RDONLY;
    }
    mount(None, &target, None, flags, None)
}

/// In the sandbox's PID 1, before its program runs: the filesystem, then the last doors shut.
fn enter(spec: &Spec, launcher_alive: libc::c_int) -> Result<(), String> {
    die_with_launcher(launcher_alive)?;
    build_root(spec)?;
    switch_root(spec)
}

fn die_with_launcher(launcher_alive: libc::c_int) -> Result<(), String> {
    // Die with the launcher, and with PID 1 everything inside. getppid() is 0 in a new PID
    // namespace, so a launcher that ended before the prctl shows as the pipe's closed write end.
    // SAFETY: plain prctl/poll/close calls on our own fd.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            return Err(os_error("prctl(PR_SET_PDEATHSIG)"));
        }
        let mut poll = libc::pollfd {
            fd: launcher_alive,
            events: libc::POLLIN,
            revents: 0,
        };
        let ready = libc::poll(&mut poll, 1, 0);
        libc::close(launcher_alive);
        if ready != 0 {
            return Err("the launcher ended before the sandbox started".into());
        }
    }
    Ok(())
}

/// The new root under /newroot: throwaway folders, the system's, the spec's binds, /proc.
fn build_root(spec: &Spec) -> Result<(), String> {
    // Nothing mounted here reaches the deployer's mount namespace.
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )?;
    // A tmpfs to build the new root in; the old root stays reachable at /oldroot until the
    // binds are made, then is detached.
    let base = Path::new("/tmp");
    mount(
        Some(Path::new("tmpfs")),
        base,
        Some("tmpfs"),
        libc::MS_NODEV | libc::MS_NOSUID,
        Some("mode=0755"),
    )?;
    chdir(base)?;
    for dir in ["newroot", "oldroot"] {
        std::fs::create_dir(base.join(dir)).map_err(|e| format!("preparing {dir}: {e}"))?;
    }
    pivot_root(base, &base.join("oldroot"))?;
    chdir(Path::new("/"))?;
    let new_root = Path::new("/newroot");
    mount(
        Some(new_root),
        new_root,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
    )?;
    // The throwaway folders first: a bind below /tmp (an interpreter installed there) must show
    // on top of them, not be hidden by them.
    for (dir, mode) in [("tmp", "mode=1777"), ("dev/shm", "mode=1777")] {
        let target = new_root.join(dir);
        std::fs::create_dir_all(&target).map_err(|e| format!("preparing /{dir}: {e}"))?;
        mount(
            Some(Path::new("tmpfs")),
            &target,
            Some("tmpfs"),
            libc::MS_NODEV | libc::MS_NOSUID,
            Some(mode),
        )?;
    }
    for path in SYSTEM_PATHS.iter().chain(ETC_FILES).chain(DEVICES) {
        bind(Path::new(path), Path::new(path), false)?;
    }
    for b in &spec.read_only {
        bind(&b.host, &b.inside, false)?;
    }
    for b in &spec.writable {
        bind(&b.host, &b.inside, true)?;
    }
    // /proc of the sandbox's own PID namespace: only its own processes. Where the kernel will
    // not mount one (a container that masks parts of its /proc), there is none.
    let proc = new_root.join("proc");
    std::fs::create_dir_all(&proc).map_err(|e| format!("preparing /proc: {e}"))?;
    let _ = mount(
        Some(Path::new("proc")),
        &proc,
        Some("proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    );
    for (link, to) in [
        ("dev/fd", "/proc/self/fd"),
        ("dev/stdin", "/proc/self/fd/0"),
        ("dev/stdout", "/proc/self/fd/1"),
        ("dev/stderr", "/proc/self/fd/2"),
    ] {
        let _ = std::os::unix::fs::symlink(to, new_root.join(link));
    }
    Ok(())
}

/// Detaches the deployer's filesystem, makes /newroot the root (read-only) and shuts the last
/// doors.
fn switch_root(spec: &Spec) -> Result<(), String> {
    let new_root = Path::new("/newroot");
    // Detach the deployer's filesystem, then make the new root the root.
    umount_detached(Path::new("/oldroot"))?;
    chdir(new_root)?;
    pivot_root(Path::new("."), Path::new("."))?;
    umount_detached(Path::new("."))?;
    chdir(Path::new("/"))?;
    mount(
        None,
        Path::new("/"),
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )?;
    chdir(&spec.cwd)?;
    // SAFETY: a plain prctl: no setuid program can give back what the sandbox took.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(os_error("prctl(PR_SET_NO_NEW_PRIVS)"));
    }
    Ok(())
}

/// Replaces PID 1 with the program; returns only why it could not.
fn exec(spec: &Spec) -> String {
    let program = match c_path(&spec.program) {
        Ok(program) => program,
        Err(e) => return e,
    };
    let mut argv: Vec<CString> = vec![program.clone()];
    for arg in &spec.args {
        match CString::new(arg.as_bytes()) {
            Ok(arg) => argv.push(arg),
            Err(_) => return "an argument has a NUL".into(),
        }
    }
    let mut pointers: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    pointers.push(std::ptr::null());
    // The environment is what the caller set for the launcher, minus the spec (removed).
    // SAFETY: argv is NUL-terminated; execv uses the process's environment.
    unsafe { libc::execv(program.as_ptr(), pointers.as_ptr()) };
    os_error(&format!("starting {}", spec.program.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_that_could_not_isolate_says_why_on_its_last_line() {
        let stdout = "agent output\n{\"sandbox_unavailable\": \"the kernel refused\"}\n";
        assert_eq!(
            unavailable_reason(stdout).as_deref(),
            Some("the kernel refused")
        );
        assert_eq!(unavailable_reason("{\"method\": \"import\"}"), None);
        assert_eq!(unavailable_reason(""), None);
    }
}
