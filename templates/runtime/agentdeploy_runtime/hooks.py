"""Runs a function on a module right after the module has run, whether it is already imported
or imported later by the agent's code (Strands' `Agent`, uvicorn, the AgentCore SDK)."""

import importlib.abc
import importlib.machinery
import sys

_waiting = {}  # module name -> callbacks


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when a module waited for is about to load, it has the normal finder
    find it and calls the callbacks right after the module has run."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _waiting:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_call(module):
            exec_module(module)
            for callback in _waiting.pop(fullname, []):
                callback(module)

        loader.exec_module = exec_and_call
        return spec


def after_import(module_name, callback):
    """`callback(module)` now if `module_name` is imported, else the moment it is."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    _waiting.setdefault(module_name, []).append(callback)
    if not any(isinstance(finder, _AfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
