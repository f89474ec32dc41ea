"""What a cold start of a deployed function's zip costs, measured the way Lambda runs it: the zip
unpacked into a read-only folder, a fresh process of the runtime's Python per import, no bytecode
written (`-B`, as on Lambda's read-only /var/task).

usage: python3 import_cost.py FUNCTION_ZIP WORK_DIR --python PYTHON [--compiled] [--repeats N]

PYTHON is the runtime's interpreter as it is started (a wrapper script is fine).

Unpacks the zip three ways: `shipped` (as deployed), `stripped` (every __pycache__ removed) and,
with --compiled, `compiled` (every module compiled, unchecked-hash). For each it imports the
handler N times (default 5), interleaved so machine noise falls on all alike, and prints one JSON
object: per variant the median CPU seconds, the unpacked bytes, how many modules the import
loaded from the folder and which of them had to be compiled from source.

Used by the test suite (ratios and what compiled, never absolute times) and bench/coldstart.sh.
"""

import json
import os
import shutil
import stat
import statistics
import subprocess
import sys
import zipfile

CHILD = r"""
import json, os, resource, sys
from importlib import _bootstrap_external

root = os.path.realpath(sys.argv[1])
from_source = []
_source_to_code = _bootstrap_external.SourceLoader.source_to_code


def counting(self, data, path, *args, **kwargs):
    from_source.append(os.path.relpath(os.path.realpath(path), root))
    return _source_to_code(self, data, path, *args, **kwargs)


_bootstrap_external.SourceLoader.source_to_code = counting
sys.path.insert(0, root)
import handler  # noqa: E402,F401

usage = resource.getrusage(resource.RUSAGE_SELF)
loaded = sum(
    1
    for m in list(sys.modules.values())
    if (getattr(m, "__file__", None) or "").startswith(root + os.sep)
)
print(json.dumps({
    "cpu": usage.ru_utime + usage.ru_stime,
    "loaded": loaded,
    "from_source": sorted(p for p in from_source if not p.startswith("..")),
}))
"""

COMPILE_ALL = r"""
import compileall, py_compile, sys
compileall.compile_dir(sys.argv[1], quiet=2, workers=1,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
"""


def unpack(zip_path, target):
    if os.path.exists(target):
        writable(target)
        shutil.rmtree(target)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(target)


def strip_bytecode(root):
    for dirpath, dirnames, _ in os.walk(root):
        if "__pycache__" in dirnames:
            shutil.rmtree(os.path.join(dirpath, "__pycache__"))
            dirnames.remove("__pycache__")


def read_only(root):
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    for dirpath, dirnames, _ in os.walk(root, topdown=False):
        os.chmod(dirpath, 0o555)


def writable(root):
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, 0o755)


def size(root):
    return sum(
        os.path.getsize(os.path.join(dirpath, name))
        for dirpath, _, names in os.walk(root)
        for name in names
    )


def import_once(python, root, home):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    done = subprocess.run(
        [python, "-I", "-B", "-c", CHILD, root],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"importing the handler from {root} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    args = sys.argv[1:]
    compiled = "--compiled" in args
    repeats = 5
    if "--repeats" in args:
        repeats = int(args[args.index("--repeats") + 1])
    zip_path, work = args[0], os.path.abspath(args[1])
    python = args[args.index("--python") + 1]
    variants = ["shipped", "stripped"] + (["compiled"] if compiled else [])
    for name in variants:
        unpack(zip_path, os.path.join(work, name))
    strip_bytecode(os.path.join(work, "stripped"))
    if compiled:
        root = os.path.join(work, "compiled")
        strip_bytecode(root)
        # The runtime's own Python writes the pycs (magic number and cache tag are its own); one
        # worker: its processes would start sys.executable, which a wrapper script is not.
        done = subprocess.run(
            [python, "-I", "-c", COMPILE_ALL, root],
            check=False,
            capture_output=True,
            text=True,
        )
        if not any("__pycache__" in dirnames for _, dirnames, _ in os.walk(root)):
            sys.exit(f"compiling {root} wrote nothing:\n{done.stderr[-2000:]}")
    for name in variants:
        read_only(os.path.join(work, name))
    runs = {name: [] for name in variants}
    for _ in range(repeats):
        for name in variants:
            runs[name].append(import_once(python, os.path.join(work, name), work))
    result = {}
    for name in variants:
        last = runs[name][-1]
        result[name] = {
            "cpu": statistics.median(r["cpu"] for r in runs[name]),
            "bytes": size(os.path.join(work, name)),
            "loaded": last["loaded"],
            "from_source": last["from_source"],
        }
        # Left deletable for the caller's clean-up.
        writable(os.path.join(work, name))
    print(json.dumps(result))


main()
