"""Python code execution for AI agents, deployed by agentdeploy (`--kind code-interpreter`).

Invoke with {"code": "print(1 + 1)", "modules": ["numpy"], "timeout": 30}
("input" is accepted for "code"; "modules" / "timeout" may also sit under "data").
The code runs in a subprocess, in a fresh work directory under /tmp that is cleaned before and
after. Requested modules are pip-installed into /tmp and put on PYTHONPATH; a failed install is
reported and the code runs anyway. The answer carries stdout, stderr, the exit status and every
image the code wrote (png, jpeg, jpg, gif, webp) as base64.
"""

import base64
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

WORK_ROOT = os.environ.get("CODE_INTERPRETER_WORK_ROOT", "/tmp")
PACKAGES_DIR = os.path.join(WORK_ROOT, "code-interpreter-packages")
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


def _clean_environment(home):
    # Only what the code needs; nothing of the function's (AWS_* credentials above all).
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "PYTHONPATH": PACKAGES_DIR,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _pip_environment():
    env = _clean_environment(os.path.join(WORK_ROOT, "code-interpreter-pip-home"))
    del env["PYTHONPATH"]  # pip itself must not import what earlier requests installed
    return env


def _python():
    # The runtime's interpreter on PATH (Lambda puts /var/lang/bin first), else this one.
    minor = f"python{sys.version_info.major}.{sys.version_info.minor}"
    return shutil.which(minor) or sys.executable


def _clean_old_runs():
    for path in glob.glob(os.path.join(WORK_ROOT, WORK_PREFIX + "*")):
        shutil.rmtree(path, ignore_errors=True)


def _install(modules, deadline):
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
                 "--no-input", "--target", PACKAGES_DIR, module],
                capture_output=True, text=True, timeout=remaining,
                env=_pip_environment(),
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

    _clean_old_runs()
    work = tempfile.mkdtemp(prefix=WORK_PREFIX, dir=WORK_ROOT)
    try:
        installed, install_errors = _install(modules, deadline) if modules else ([], [])
        with open(os.path.join(work, "main.py"), "w", encoding="utf-8") as handle:
            handle.write(code)
        env = _clean_environment(work)
        timed_out = False
        try:
            proc = subprocess.run(
                [_python(), "main.py"], cwd=work, env=env, capture_output=True, text=True,
                timeout=max(0.5, deadline - time.monotonic()),
            )
            stdout, stderr, exit_code = proc.stdout, proc.stderr, proc.returncode
        except subprocess.TimeoutExpired as err:
            timed_out = True
            stdout = err.stdout.decode("utf-8", "replace") if isinstance(err.stdout, bytes) else (err.stdout or "")
            stderr = err.stderr.decode("utf-8", "replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            stderr += f"\nexecution stopped after the {timeout:g} s limit"
            exit_code = None
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
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(lambda_handler({"code": sys.stdin.read()}, None), indent=2))
