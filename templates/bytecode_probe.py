"""Run by agentdeploy at build time with the function runtime's own Python: imports the rendered
handler from the built artifact once, as a cold start would, then compiles the artifact's modules
that import loaded (or, when the import fails, the packages the agent imports) into __pycache__.

argv: ARTIFACT_DIR HANDLER_MODULE SKIP_JSON RUNTIME_JSON FALLBACK_PACKAGES_JSON BUDGET_BYTES OUT_DIR MODE SCOPE
MODE is `import` (run in agentdeploy's sandbox: the artifact read-only at /var/task) or `compile`
(no agent code runs: the fallback packages are compiled). SCOPE is `all`, or `code` when the
dependencies ship from a zip that has their pycs already (a code-only change): then only the
RUNTIME files are compiled. The pycs are written under OUT_DIR at
the paths they have in the artifact; agentdeploy checks each and copies it in.
Prints one JSON line: {"method", "modules", "bytes", "shipped_modules", "shipped_bytes", "error",
"fatal"}: `fatal` when the import failed in a way Lambda's INIT would fail too ({"error", "file",
"line"}); `shipped_*` the modules whose pyc the artifact already has, as this would write it
(left where they are).

The project's code ships in the code part of the zip, rebuilt on every deploy while the
dependencies' part is reused across code changes: the agent's own files (SKIP) are not compiled;
agentdeploy's runtime beside them (RUNTIME) gets checked-hash pycs (validated against the source
at import, so never stale). The dependencies' bytecode is unchecked-hash (PEP 552): Lambda's code directory is read-only and never changes
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


def judge(error, artifact):
    """Where the import failed, and whether Lambda's INIT would fail the same way.

    The sandbox is not Lambda: it has no network, no credentials, secrets as placeholders, and
    may be another CPU architecture, so most failures only say the import needs what the build
    does not have (forgiven: the deploy goes on). These depend on nothing but the files, which
    are the ones Lambda gets, so every cold start would fail with them: a SyntaxError, a
    NameError, a module that is in neither the artifact nor the standard library, and a name a
    pure-Python module of the artifact does not have, and `input()` (there is no stdin).
    """
    where = None
    if isinstance(error, SyntaxError) and error.filename:
        where = (error.filename, error.lineno)
    else:
        tb = error.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith(artifact + os.sep):
                where = (filename, tb.tb_lineno)
            tb = tb.tb_next
    if where is not None:
        path = os.path.realpath(where[0])
        if path.startswith(artifact + os.sep):
            where = {"file": os.path.relpath(path, artifact), "line": where[1]}
        else:
            where = None
    fatal = False
    if isinstance(error, (SyntaxError, NameError, EOFError)):
        # EOFError: `input()` at import; Lambda's INIT has no stdin either.
        fatal = True
    elif isinstance(error, ModuleNotFoundError) and error.name:
        fatal = not _anywhere(error.name, artifact)
    elif isinstance(error, ImportError) and (error.path or "").endswith(".py"):
        fatal = os.path.realpath(error.path).startswith(artifact + os.sep)
    return fatal, where


# What Lambda's Python runtime has beside the standard library (the AWS SDK and its own parts).
LAMBDA_RUNTIME_MODULES = {
    "awslambdaric", "bootstrap", "boto3", "botocore", "dateutil", "jmespath", "s3transfer",
    "six", "urllib3",
}


def _anywhere(module, artifact):
    """Whether `module` could be found by Lambda: in the standard library, built in, in the
    runtime, or with any file or folder of its dotted path in the artifact."""
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return True
    if top in LAMBDA_RUNTIME_MODULES:
        return True
    base = os.path.join(artifact, *module.split("."))
    if os.path.isdir(base) or os.path.isfile(base + ".py"):
        return True
    folder, name = os.path.split(base)
    try:
        return any(n.startswith(name + ".") for n in os.listdir(folder))
    except OSError:
        return False


def write_kept(path, cfile, checked):
    """Writes the import's own code object for `path`; False when the import did not compile it."""
    kept = compiled.get(path)
    if kept is None:
        return False
    code, source = kept
    data = _bootstrap_external._code_to_hash_pyc(
        code, importlib.util.source_hash(source), checked=checked
    )
    os.makedirs(os.path.dirname(cfile), exist_ok=True)
    with open(cfile, "wb") as out:
        out.write(data)
    return True


def shipped_size(path, checked):
    """The size of the artifact's own pyc of `path` when it is the one this would write (the
    reused dependencies of a code-only change carry theirs: unchecked-hash, of this very
    source), so it stays as it is; None when there is none or it is not."""
    if checked:
        return None
    try:
        with open(importlib.util.cache_from_source(path), "rb") as shipped:
            data = shipped.read()
        with open(path, "rb") as source:
            source_hash = importlib.util.source_hash(source.read())
    except OSError:
        return None
    if (data[:4] != importlib.util.MAGIC_NUMBER or int.from_bytes(data[4:8], "little") != 0b01
            or data[8:16] != source_hash):
        return None
    return len(data)


def compile_files(paths, budget, artifact, out, checked_files):
    """(modules, bytes) written under `out`, and (modules, bytes) the artifact already ships."""
    modules = written = shipped = shipped_bytes = 0
    for path in sorted(paths):
        cfile = importlib.util.cache_from_source(path)
        cfile = os.path.join(out, os.path.relpath(cfile, artifact))
        checked = os.path.relpath(path, artifact) in checked_files
        mode = py_compile.PycInvalidationMode
        try:
            if not write_kept(path, cfile, checked):
                size = shipped_size(path, checked)
                if size is not None:
                    shipped += 1
                    shipped_bytes += size
                    continue
                py_compile.compile(
                    path,
                    cfile=cfile,
                    doraise=True,
                    invalidation_mode=mode.CHECKED_HASH if checked else mode.UNCHECKED_HASH,
                )
        except (py_compile.PyCompileError, OSError, ValueError):
            continue
        size = os.path.getsize(cfile)
        if written + size > budget:
            os.remove(cfile)
            break
        modules += 1
        written += size
    return (modules, written), (shipped, shipped_bytes)


def main():
    artifact, handler, skip, runtime, fallback, budget, out, mode, scope = sys.argv[1:10]
    artifact = os.path.realpath(artifact)
    skip = set(json.loads(skip))
    runtime = set(json.loads(runtime))
    budget = int(budget)
    error = fatal = None
    if mode == "import":
        sys.path.insert(0, artifact)
        socket.socket.connect = _no_network
        socket.create_connection = _no_network
        try:
            importlib.import_module(handler)
        except BaseException as e:  # noqa: BLE001 - anything the agent raises at import
            error = f"{type(e).__name__}: {e}"
            is_fatal, where = judge(e, artifact)
            if is_fatal:
                fatal = dict(where or {}, error=error)
    else:
        error = "not imported"

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
    if scope == "code":
        files = {path for path in files if os.path.relpath(path, artifact) in runtime}
    (modules, written), (shipped, shipped_bytes) = compile_files(files, budget, artifact, out, runtime)
    if mode != "import":
        error = None
    answer = {"method": method, "modules": modules, "bytes": written, "shipped_modules": shipped,
              "shipped_bytes": shipped_bytes, "error": error, "fatal": fatal}
    # On a line of its own: the agent's import may have left one unfinished (`input()`'s prompt).
    print("\n" + json.dumps(answer), flush=True)
    # Nothing is left to do: no interpreter shutdown (with an agent's packages loaded, a
    # quarter of a second of finalizers and thread joins).
    os._exit(0)


main()
