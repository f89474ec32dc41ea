"""--conversation session: a conversation continues across requests and cold starts when its
caller sends the same `session_id`.

The state of every tracked agent is stored in the stack's private bucket under the caller's
identity and the session id, so one caller can never continue another's. The caller is what AWS
vouches for, never what the event merely says:
- API Gateway (REST): the API key id (or the IAM caller) of `requestContext`, believed only when
  the event carries this stack's origin value in its stage variables, which API Gateway adds and
  a caller cannot set. The value is a secret in SSM (not the stack id, not a variable of the
  function), so a direct Invoke that copies an API event's shape is a direct caller.
- Function URL (IAM): the IAM caller of `requestContext.authorizer.iam`.
- Direct Invoke: `direct`, one caller (whoever may invoke the function).
Writes are conditional: a session changed by another request in the meantime is a conflict, never
a silently lost turn.
"""

import hashlib
import hmac
import json
import logging
import os
import re

from . import agents, events, names

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
DOCUMENT_VERSION = 2

logger = logging.getLogger("agentdeploy.runtime")


class Conflict(Exception):
    pass


class NoCallerIdentity(Exception):
    pass


def caller(event, endpoint, origin, origin_stage_variable):
    """Who sent the request, as AWS vouches for it. `origin` is the stack's value that its API
    Gateway adds to every event as the stage variable `origin_stage_variable`."""
    if not events.is_http(event) or endpoint not in ("api", "url"):
        return "direct"
    context = event.get("requestContext") or {}
    if endpoint == "api":
        stage_variables = event.get("stageVariables") or {}
        claimed = stage_variables.get(origin_stage_variable) if isinstance(stage_variables, dict) else None
        if not origin or not isinstance(claimed, str) or not hmac.compare_digest(claimed, origin):
            return "direct"
        identity = context.get("identity") or {}
        if identity.get("apiKeyId"):
            return "api-key:" + str(identity["apiKeyId"])
        for key in ("userArn", "caller", "user"):
            if identity.get(key):
                return "iam:" + str(identity[key])
    else:
        iam = (context.get("authorizer") or {}).get("iam") or {}
        for key in ("userArn", "userId", "callerId"):
            if iam.get(key):
                return "iam:" + str(iam[key])
    raise NoCallerIdentity()


def origin(variable):
    """The stack's origin value: the SSM parameter `variable` names (a SecureString only the
    deployer and this function may read), read once at cold start. "" when there is none: then
    no event counts as API Gateway's and every caller is `direct`."""
    parameter = os.environ.get(variable, "")
    if not parameter.startswith("/"):
        return ""
    import boto3  # provided by the Lambda runtime; imported only for sessions behind an API

    return boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)["Parameter"]["Value"]


def session_id(request):
    value = request.get("session_id") if isinstance(request, dict) else None
    if value is None:
        return os.urandom(16).hex()
    if not isinstance(value, str) or not SESSION_ID.fullmatch(value):
        raise events.BadRequest("\"session_id\" must be 1-128 characters of A-Z a-z 0-9 _ -")
    return value


def object_key(caller_identity, session):
    owner = hashlib.sha256(caller_identity.encode("utf-8")).hexdigest()[:32]
    return f"sessions/{owner}/{session}.json"


_stores = {}


def store():
    """Where sessions are kept: the stack's bucket, or under `agentdeploy dev` a local folder
    holding the same documents under the same keys."""
    folder = os.environ.get(names.SESSION_DIR_VARIABLE)
    where = ("folder", folder) if folder else ("bucket", os.environ[names.SESSION_BUCKET_VARIABLE])
    if where not in _stores:
        _stores[where] = FolderStore(folder) if folder else BucketStore(where[1])
    return _stores[where]


class BucketStore:
    """The stack's private bucket. Writes are conditional on the version read."""

    def __init__(self, bucket, s3=None):
        if s3 is None:
            import boto3  # provided by the Lambda runtime; imported only for sessions

            s3 = boto3.client("s3")
        self.s3 = s3
        self.bucket = bucket

    def get(self, key):
        """(document bytes, version), or None when there is no such session."""
        try:
            stored = self.s3.get_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError as err:
            # A missing key is 404 NoSuchKey: the role may list the bucket (the template grants
            # s3:ListBucket), so S3 never hides a missing session behind 403 AccessDenied.
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return stored["Body"].read(), stored["ETag"]

    def put(self, key, body, version):
        """Writes `body` if the session is still at `version` (None: if there is none yet)."""
        condition = {"IfMatch": version} if version else {"IfNoneMatch": "*"}
        try:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json", **condition)
        except self.s3.exceptions.ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise Conflict() from None
            raise


class FolderStore:
    """A local folder (`agentdeploy dev`): a key is a file below it, its version the content's
    digest, and a write checks the version and replaces the file under a lock."""

    def __init__(self, root):
        self.root = root

    def _path(self, key):
        return os.path.join(self.root, *key.split("/"))

    def get(self, key):
        try:
            with open(self._path(key), "rb") as file:
                body = file.read()
        except FileNotFoundError:
            return None
        return body, hashlib.sha256(body).hexdigest()

    def put(self, key, body, version):
        import fcntl

        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(os.path.join(self.root, ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self.get(key)
            if (current[1] if current else None) != version:
                raise Conflict()
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "wb") as file:
                file.write(body)
            os.replace(temporary, path)


class Session:
    """One request's session: loaded before the entry runs, saved after it."""

    def __init__(self, key, store):
        self.key = key
        self.store = store
        self.etag = None
        self.stored = {}
        self.used = set()

    def load(self):
        stored = self.store.get(self.key)
        if stored is None:
            return  # a new session: nothing to load now or into agents built later
        body, self.etag = stored
        document = json.loads(body)
        self.stored = _agents_of(document)
        for tracked, agent in agents.live():
            self._apply(tracked, agent)
        agents._on_built.append(self._built)

    def _built(self, tracked, agent):
        # An agent the code builds while this request runs (lazily, or on every call).
        self._apply(tracked, agent)

    def _apply(self, tracked, agent):
        saved = self.stored.get(tracked.key)
        if saved is not None:
            agents.load_state(agent, saved)
            self.used.add(tracked.key)

    def close(self):
        if self._built in agents._on_built:
            agents._on_built.remove(self._built)

    def save(self):
        self.close()
        current = {}
        for tracked, agent in agents.live():
            current[tracked.key] = agents.dump_state(agent)  # the later-built of a key wins
        unused = sorted(set(self.stored) - self.used - set(current))
        if unused:
            # Kept as they were: a later request may build them again (code paths differ).
            logger.warning("session names agents this request did not build, kept unchanged: %s", ", ".join(unused))
            for key in unused:
                current[key] = self.stored[key]
        body = json.dumps({"version": DOCUMENT_VERSION, "agents": current}, default=str).encode("utf-8")
        self.store.put(self.key, body, self.etag)


def _agents_of(document):
    """key -> stored state. Version 1 documents listed the module-level agents in order."""
    stored = document.get("agents") if isinstance(document, dict) else None
    if isinstance(stored, dict):
        return stored
    if isinstance(stored, list):
        keys = [tracked.key for tracked, _ in agents.live()]
        return {key: saved for key, saved in zip(keys, stored)}
    return {}
