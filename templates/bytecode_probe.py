"""Run by agentdeploy at build time with the function runtime's own Python: imports the rendered
handler from the built artifact once, as a cold start would, then compiles the artifact's modules
that import loaded (or, when the import fails, the packages the agent imports) into __pycache__.

argv: ARTIFACT_DIR HANDLER_MODULE SKIP_LIST_JSON FALLBACK_PACKAGES_JSON BUDGET_BYTES
Prints one JSON line: {"method", "modules", "bytes", "error"}.

Bytecode is unchecked-hash (PEP 552): Lambda's code directory is read-only and never changes
under a version, and the zip's entries carry the 1980 timestamp, so timestamp pycs would all be
stale; checked-hash pycs would hash every source file on every cold start.

The import compiles each module once anyway (there is no bytecode yet); those code objects are
kept and written out, so nothing is compiled twice (py_compile only for the fallback).
"""

import importlib
import importlib.util
import json
import os
import py_compile
import socket
import sys
from importlib import _bootstrap_external

# source path -> (code object, source bytes), for every module the import compiled.
compiled = {}
_source_to_code = _bootstrap_external.SourceLoader.source_to_code


def _keeping_source_to_code(self, data, path, *args, **kwargs):
    code = _source_to_code(self, data, path, *args, **kwargs)
    if not args and not kwargs and isinstance(path, str):
        compiled[os.path.realpath(path)] = (code, data)
    return code


_bootstrap_external.SourceLoader.source_to_code = _keeping_source_to_code


def _no_network(*args, **kwargs):
    raise OSError("agentdeploy's build-time import has no network")


def write_kept(path, cfile):
    """Writes the import's own code object for `path`; False when the import did not compile it."""
    kept = compiled.get(path)
    if kept is None:
        return False
    code, source = kept
    data = _bootstrap_external._code_to_hash_pyc(
        code, importlib.util.source_hash(source), checked=False
    )
    os.makedirs(os.path.dirname(cfile), exist_ok=True)
    with open(cfile, "wb") as out:
        out.write(data)
    return True


def compile_files(paths, budget):
    modules = written = 0
    for path in sorted(paths):
        cfile = importlib.util.cache_from_source(path)
        try:
            if not write_kept(path, cfile):
                py_compile.compile(
                    path,
                    cfile=cfile,
                    doraise=True,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
        except (py_compile.PyCompileError, OSError, ValueError):
            continue
        size = os.path.getsize(cfile)
        if written + size > budget:
            os.remove(cfile)
            break
        modules += 1
        written += size
    return modules, written


def main():
    artifact, handler, skip, fallback, budget = sys.argv[1:6]
    artifact = os.path.realpath(artifact)
    skip = set(json.loads(skip))
    budget = int(budget)
    sys.path.insert(0, artifact)
    socket.socket.connect = _no_network
    socket.create_connection = _no_network
    error = None
    try:
        importlib.import_module(handler)
    except BaseException as e:  # noqa: BLE001 - anything the agent raises at import
        error = f"{type(e).__name__}: {e}"

    def ours(path):
        path = os.path.realpath(path)
        if not path.startswith(artifact + os.sep) or not path.endswith(".py"):
            return None
        relative = os.path.relpath(path, artifact)
        return None if relative in skip else path

    if error is None:
        # Also what the import compiled but did not keep: modules whose import failed and was
        # caught (`try: import x except ImportError`) are compiled again on every cold start.
        files = {ours(getattr(m, "__file__", None) or "") for m in list(sys.modules.values())}
        files.update(ours(path) for path in compiled)
        method = "import"
    else:
        files = set()
        for package in json.loads(fallback):
            root = os.path.join(artifact, package)
            if os.path.isdir(root):
                for dirpath, _, names in os.walk(root):
                    files.update(ours(os.path.join(dirpath, n)) for n in names)
            elif os.path.isfile(root + ".py"):
                files.add(ours(root + ".py"))
        method = "reachable"
    files.discard(None)
    modules, written = compile_files(files, budget)
    print(json.dumps({"method": method, "modules": modules, "bytes": written, "error": error}))


main()
