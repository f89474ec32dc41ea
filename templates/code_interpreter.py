"""Python code execution for AI agents, deployed by agentdeploy (`--kind code-interpreter`).

Invoke with {"code": "print(1 + 1)", "modules": ["numpy"], "timeout": 30}
("input" is accepted for "code"; "modules" / "timeout" may also sit under "data").
The code runs in a subprocess, in a fresh work directory under /tmp; all of /tmp (the whole
writable area) is wiped before and after each call. Requested modules are pip-installed into that invocation's own folder and put on its
PYTHONPATH (installs are not shared: a folder one caller's code can write must never be importable
by the next caller's); a failed install is reported and the code runs anyway. Every process the
code started, daemons included, is killed when it ends. The answer carries stdout, stderr, the
exit status and every image the code wrote (png, jpeg, jpg, gif, webp) as base64.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

WORK_ROOT = os.environ.get("CODE_INTERPRETER_WORK_ROOT", "/tmp")
WORK_PREFIX = "code-interpreter-run-"
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
MAX_OUTPUT_CHARS = int(os.environ.get("CODE_INTERPRETER_MAX_OUTPUT_CHARS", "200000"))
DEFAULT_TIMEOUT = int(os.environ.get("CODE_INTERPRETER_DEFAULT_TIMEOUT", "60"))


def _hide_this_process():
    # The code runs as the same user as this process, whose environment holds the function role's
    # credentials. A non-dumpable process's /proc/<pid>/{environ,mem} belong to root, so the code
    # (started with a clean environment below) cannot read them from its parent.
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_DUMPABLE = 4
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            print("code interpreter: prctl(PR_SET_DUMPABLE) failed; errno", ctypes.get_errno())
    except (OSError, AttributeError) as err:
        print(f"code interpreter: cannot make the process non-dumpable: {err}")


_hide_this_process()


def _adopt_orphans():
    # A child subreaper inherits every orphaned descendant (a daemon that forked twice and left
    # its session included) instead of init, so `_kill_descendants` can end them all.
    try:
        import ctypes

        PR_SET_CHILD_SUBREAPER = 36
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            print("code interpreter: prctl(PR_SET_CHILD_SUBREAPER) failed; errno", ctypes.get_errno())
    except (OSError, AttributeError) as err:
        print(f"code interpreter: cannot adopt orphaned processes: {err}")


_adopt_orphans()


def _descendants():
    """Every process below this one, from /proc's parent links."""
    if not os.path.isdir("/proc"):  # not Linux (a developer's machine): nothing to walk
        return []
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                # The command name may hold spaces and parentheses: the parent pid follows the last ')'.
                ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, pending = [], [os.getpid()]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def _kill_descendants():
    # Nothing a caller's code started may outlive its invocation: it could watch the next
    # caller's work folder or answer in its place.
    for _ in range(3):  # a process forking while it is being killed is caught next round
        pids = _descendants()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except OSError:  # not our child (a grandchild before reparenting): init or we reap it later
                pass


def _clean_environment(home, packages):
    # Only what the code needs; nothing of the function's (AWS_* credentials above all).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": packages,
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
    }


def _pip_environment(home):
    env = _clean_environment(home, "")
    del env["PYTHONPATH"]  # pip itself imports nothing the request installs
    return env


def _python():
    # The runtime's interpreter on PATH (Lambda puts /var/lang/bin first), else this one.
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return shutil.which(minor) or sys.executable


# On Lambda everything the code can write is under /tmp, the function's own: all of it goes
# between calls, not only the run folders, so nothing one caller's code wrote anywhere is there
# for the next caller's code to read. Only there (LAMBDA_TASK_ROOT is /var/task on Lambda alone),
# or in a folder named for the interpreter: elsewhere /tmp is the machine's, and only the run
# folders are removed.
_OWNS_WORK_ROOT = "CODE_INTERPRETER_WORK_ROOT" in os.environ or (
    WORK_ROOT == "/tmp" and os.environ.get("LAMBDA_TASK_ROOT") == "/var/task"
    and "AWS_LAMBDA_FUNCTION_NAME" in os.environ)


def _wipe_writable_area():
    try:
        names = os.listdir(WORK_ROOT)
    except OSError:
        return
    if not _OWNS_WORK_ROOT:
        names = [name for name in names if name.startswith(WORK_PREFIX)]
    for name in names:
        path = os.path.join(WORK_ROOT, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass


def _install(modules, deadline, packages, home):
    installed, errors = [], []
    for module in modules:
        if not isinstance(module, str) or not module.strip() or module.startswith("-"):
            errors.append({"module": str(module), "error": "not a package name"})
            continue
        remaining = max(1.0, deadline - time.monotonic())
        try:
            # A requested package's build step is code from the caller too: no credentials.
            proc = subprocess.run(
                [_python(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "--no-input", "--no-cache-dir", "--target", packages, module],
                capture_output=True, text=True, timeout=remaining,
                env=_pip_environment(home), start_new_session=True,
            )
        except subprocess.TimeoutExpired:
            errors.append({"module": module, "error": "pip install timed out"})
            continue
        if proc.returncode == 0:
            installed.append(module)
        else:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            errors.append({"module": module, "error": "\n".join(tail) or f"pip exited with {proc.returncode}"})
    return installed, errors


def _images(work):
    found = []
    for root, _, files in os.walk(work):
        for name in sorted(files):
            mime = IMAGE_TYPES.get(os.path.splitext(name)[1].lower())
            if mime is None:
                continue
            path = os.path.join(root, name)
            with open(path, "rb") as handle:
                data = handle.read()
            found.append({
                "name": os.path.relpath(path, work),
                "mime_type": mime,
                "bytes": len(data),
                "base64": base64.b64encode(data).decode("ascii"),
            })
    return found


def _read_text(path):
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def _clip(text):
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"\n... [{len(text) - MAX_OUTPUT_CHARS} more characters cut]"


def _request(event):
    if isinstance(event, str):
        event = {"code": event}
    if not isinstance(event, dict):
        raise ValueError("send a JSON object like {\"code\": \"print(1)\"}")
    options = dict(event.get("data") or {}) if isinstance(event.get("data"), dict) else {}
    options.update({k: v for k, v in event.items() if k in ("modules", "timeout")})
    code = event.get("code", event.get("input"))
    if not isinstance(code, str) or not code.strip():
        raise ValueError("\"code\" must be a non-empty string of Python")
    modules = options.get("modules") or []
    if isinstance(modules, str):
        modules = [modules]
    timeout = options.get("timeout", DEFAULT_TIMEOUT)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError("\"timeout\" must be a positive number of seconds")
    return code, list(modules), float(timeout)


def lambda_handler(event, context):
    started = time.monotonic()
    try:
        code, modules, timeout = _request(event)
    except ValueError as err:
        return {"error": "BadRequest", "message": str(err)}
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        # Leave the handler time to report, whatever the caller asked for.
        timeout = min(timeout, max(1.0, context.get_remaining_time_in_millis() / 1000.0 - 5.0))
    deadline = started + timeout

    _kill_descendants()
    _wipe_writable_area()
    run_dir = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=WORK_ROOT)
    # The code's folder (its cwd, HOME, TMPDIR; its images are collected from here), and beside
    # it this invocation's packages.
    work = os.path.join(run_dir, "work")
    packages = os.path.join(run_dir, "packages")
    os.mkdir(work)
    os.mkdir(packages)
    try:
        installed, install_errors = _install(modules, deadline, packages, work) if modules else ([], [])
        with open(os.path.join(work, "main.py"), "w", encoding="utf-8") as handle:
            handle.write(code)
        env = _clean_environment(work, packages)
        timed_out = False
        # Output goes to files, not pipes: a process the code leaves running with the pipe open
        # would hold the answer until the time limit, and past it.
        out_path, err_path = os.path.join(run_dir, "stdout"), os.path.join(run_dir, "stderr")
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                [_python(), "-s", "main.py"], cwd=work, env=env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )
            try:
                exit_code = proc.wait(timeout=max(0.5, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
                exit_code = None
            _kill_descendants()
        stdout, stderr = _read_text(out_path), _read_text(err_path)
        if timed_out:
            stderr += f"\nexecution stopped after the {timeout:g} s limit"
        return {
            "stdout": _clip(stdout),
            "stderr": _clip(stderr),
            "exit_code": exit_code,
            "timed_out": timed_out,
            "images": _images(work),
            "installed": installed,
            "install_errors": install_errors,
            "duration_ms": int((time.monotonic() - started) * 1000),
        }
    finally:
        _kill_descendants()
        _wipe_writable_area()


if __name__ == "__main__":
    print(json.dumps(lambda_handler({"code": sys.stdin.read()}, None), indent=2))
