"""A temporary folder per request where requests share an execution environment.

On Lambda Managed Instances several requests run at once in one environment (a process each),
and `/tmp` is the environment's, shared by all of them. There, each request gets a folder of its
own under it as `tempfile`'s default (and `TMPDIR`), removed when the request ends: what one
caller's request writes through `tempfile` is neither seen by another's nor left behind. A path
the code spells out (`/tmp/out.png`) is the code's own choice and stays shared. With one request
per environment (Lambda's default) nothing changes: a cache the agent keeps in `/tmp` lives on.
"""

import os
import shutil
import tempfile


def concurrency():
    """Requests Lambda sends this execution environment at once: 1, or on Lambda Managed
    Instances the function's per-environment concurrency (`AWS_LAMBDA_MAX_CONCURRENCY`)."""
    try:
        return max(int(os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY", "1")), 1)
    except ValueError:
        return 1


class Scratch:
    """The request's folder: made by `begin()`, removed (and the default restored) by `end()`."""

    def __init__(self, concurrent=None):
        self.concurrent = concurrency() > 1 if concurrent is None else concurrent
        self.folder = None
        self._saved = None

    def begin(self):
        if not self.concurrent:
            return
        self._saved = (tempfile.tempdir, os.environ.get("TMPDIR"))
        self.folder = tempfile.mkdtemp(prefix="request-", dir=tempfile.gettempdir())
        tempfile.tempdir = self.folder
        os.environ["TMPDIR"] = self.folder

    def end(self):
        if self.folder is None:
            return
        tempfile.tempdir, variable = self._saved
        if variable is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = variable
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None
