"""One metrics record per request, written as CloudWatch Embedded Metric Format (EMF) on the
function's log: CloudWatch turns each record into metric data as the log line arrives, so
measuring costs no API call and no latency.

Namespace `agentdeploy`. Each request writes one record with dimension sets [FunctionName] and
[FunctionName, Version]: Requests, Duration (ms), ColdStart, ClientErrors (4xx), ServerErrors
(5xx), InputTokens, OutputTokens, ModelCalls, ToolCalls (and on a cold start's, InitDuration: the
ms the bootstrap took to import the agent); and as properties (searchable in Logs
Insights, not metrics): StatusCode, Outcome, ErrorType, Streamed, Conversation, Alias, RequestId.
Then one record per model it called, dimensions [FunctionName, ModelId] (InputTokens,
OutputTokens, ModelCalls), and one per tool it called, dimensions [FunctionName, ToolName]
(ToolCalls). Numbers, ids and names only: never the input, the answer or a secret.

Tokens, model calls and tool calls are counted where Strands counts them (every Agent's
`EventLoopMetrics.update_usage` / `add_tool_usage`), so an agent used as a tool, a Swarm's agents or
an agent built per request all count, whatever the entry is. Bedrock calls the code makes itself
(boto3's `converse` / `invoke_model`, outside a Strands model) count from their answers.
"""

import atexit
import contextvars
import json
import os
import re
import sys
import threading
import time
import weakref

from . import hooks

NAMESPACE = "agentdeploy"
_METRICS_MODULE = "strands.telemetry.metrics"
_BEDROCK_MODEL_MODULE = "strands.models.bedrock"
_BOTOCORE_CLIENT_MODULE = "botocore.client"
# Set while a Strands Bedrock model runs: its own calls are counted by Strands, not twice here
# (asyncio.to_thread and create_task carry it to the thread that calls boto3).
_in_strands_model = contextvars.ContextVar("agentdeploy_in_strands_model", default=False)

_lock = threading.Lock()
_cold = True
_init_ms = None  # the bootstrap's import of the agent, for the cold start's record
_current = None  # the Request being measured (Lambda runs one request at a time per process)


class Request:
    """What one request did, gathered while it runs."""

    def __init__(self, streamed, conversation, request_id=None, alias=None):
        self.started = time.perf_counter()
        self.streamed = streamed
        self.conversation = conversation
        self.request_id = request_id
        self.alias = alias
        self.models = {}  # model id -> [input tokens, output tokens, model calls]
        self.tools = {}  # tool name -> calls
        self.finished = False


def init_done(started):
    """The agent is imported (INIT's work): `started` was `time.perf_counter()` when the
    bootstrap began."""
    global _init_ms
    _init_ms = round((time.perf_counter() - started) * 1000, 3)


def begin(*, streamed, conversation, request_id=None, alias=None):
    """Starts measuring a request; `finish` writes its record."""
    global _current
    request = Request(streamed, conversation, request_id, alias)
    with _lock:
        _current = request
    return request


_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def checked_id(value):
    """A request id or alias name as Lambda makes them; anything else (a header a caller could
    have shaped) is left out of the record."""
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def alias_of(invoked_function_arn):
    """`live` from `arn:aws:lambda:REGION:ACCOUNT:function:NAME:live`; None for a version or none."""
    parts = (invoked_function_arn if isinstance(invoked_function_arn, str) else "").split(":")
    if len(parts) == 8 and not parts[7].isdigit() and parts[7] != "$LATEST":
        return checked_id(parts[7])
    return None


def outcome_of(status):
    return f"{status // 100}xx"


def finish(request, status, error_type=None, out=None):
    """Writes the request's records (once), then forgets it. `status`: the HTTP status a caller
    saw (or would have, for a direct Invoke)."""
    global _cold, _current
    with _lock:
        if request.finished:
            return
        request.finished = True
        if _current is request:
            _current = None
        cold, _cold = _cold, False
    duration_ms = round((time.perf_counter() - request.started) * 1000, 3)
    for record in records(request, status, error_type, cold, duration_ms):
        _write(record, out)


def records(request, status, error_type, cold, duration_ms):
    """The EMF documents for one request."""
    function = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
    timestamp = int(time.time() * 1000)
    tokens_in = sum(m[0] for m in request.models.values())
    tokens_out = sum(m[1] for m in request.models.values())
    calls = sum(m[2] for m in request.models.values())
    values = {
        "Requests": (1, "Count"),
        "Duration": (duration_ms, "Milliseconds"),
        "ColdStart": (1 if cold else 0, "Count"),
        "ClientErrors": (1 if 400 <= status < 500 else 0, "Count"),
        "ServerErrors": (1 if status >= 500 else 0, "Count"),
        "InputTokens": (tokens_in, "Count"),
        "OutputTokens": (tokens_out, "Count"),
        "ModelCalls": (calls, "Count"),
        "ToolCalls": (sum(request.tools.values()), "Count"),
    }
    if cold and _init_ms is not None:
        values["InitDuration"] = (_init_ms, "Milliseconds")
    main = _document(timestamp, [["FunctionName"], ["FunctionName", "Version"]], values)
    main.update({
        "FunctionName": function,
        "Version": version,
        "StatusCode": status,
        "Outcome": outcome_of(status),
        "Streamed": request.streamed,
        "Conversation": request.conversation,
    })
    if error_type:
        main["ErrorType"] = error_type
    if request.alias:
        main["Alias"] = request.alias
    if request.request_id:
        main["RequestId"] = request.request_id
    documents = [main]
    for model_id, (model_in, model_out, model_calls) in sorted(request.models.items()):
        document = _document(timestamp, [["FunctionName", "ModelId"]], {
            "InputTokens": (model_in, "Count"),
            "OutputTokens": (model_out, "Count"),
            "ModelCalls": (model_calls, "Count"),
        })
        document.update({"FunctionName": function, "ModelId": model_id})
        documents.append(document)
    for tool, tool_calls in sorted(request.tools.items()):
        document = _document(timestamp, [["FunctionName", "ToolName"]], {"ToolCalls": (tool_calls, "Count")})
        document.update({"FunctionName": function, "ToolName": tool})
        documents.append(document)
    return documents


def _document(timestamp, dimensions, values):
    document = {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [{
        "Namespace": NAMESPACE,
        "Dimensions": dimensions,
        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
    }]}}
    document.update({name: value for name, (value, _) in values.items()})
    return document


def _write(record, out):
    # One line, straight to stdout: Lambda sends it to the log as-is (a logging handler would
    # prefix it, and CloudWatch reads EMF only from a line that is the JSON document).
    line = json.dumps(record, separators=(",", ":")) + "\n"
    stream = out or sys.stdout
    if isinstance(stream, GuardedOutput):
        stream.write_record(line)
    else:
        stream.write(line)
        stream.flush()


class GuardedOutput:
    """stdout or stderr as the agent's code writes to it. CloudWatch makes metrics of any log line
    that is an EMF document, so a line the agent writes (one that repeats a caller's input, say)
    must never be one: a line that parses as a JSON object with `_aws` is written with a prefix
    that makes it text. agentdeploy's own records go through `write_record`, always on a line of
    their own (an agent that streamed "hello" without a newline does not swallow them).

    A line that starts with `{` is held until it ends (or grows past 64 KiB) to be judged whole;
    everything else passes through as written."""

    NEUTRALISED = "(agent output, not a metric) "
    HOLD_LIMIT = 64 * 1024

    def __init__(self, inner):
        self._inner = inner
        self._lock = threading.RLock()
        self._held = None  # the current line, when it started with `{`
        self._line_start = True

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def write(self, text):
        if not isinstance(text, str):
            return self._inner.write(text)
        with self._lock:
            for piece in text.splitlines(keepends=True):
                if self._held is None and self._line_start and piece.lstrip(" \t").startswith("{"):
                    self._held = ""
                if self._held is not None:
                    self._held += piece
                    if piece.endswith(("\n", "\r")) or len(self._held) > self.HOLD_LIMIT:
                        self._release()
                else:
                    self._inner.write(piece)
                self._line_start = piece.endswith(("\n", "\r"))
        return len(text)

    def _release(self):
        held, self._held = self._held, None
        if held:
            self._inner.write(self.NEUTRALISED + held if _is_emf(held) else held)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        with self._lock:
            self._inner.flush()

    def end_line(self):
        """Writes out a line still held (the process is ending)."""
        with self._lock:
            self._release()
            self._inner.flush()

    def write_record(self, line):
        with self._lock:
            self._release()
            if not self._line_start:
                self._inner.write("\n")
            self._inner.write(line)
            self._line_start = True
            self._inner.flush()


def _is_emf(line):
    try:
        document = json.loads(line)
    except ValueError:
        return False
    return isinstance(document, dict) and "_aws" in document


def guard_output():
    """The agent's stdout and stderr, guarded (see GuardedOutput); once per process."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, GuardedOutput):
            guarded = GuardedOutput(stream)
            setattr(sys, name, guarded)
            atexit.register(guarded.end_line)


def _model_id(agent):
    model = getattr(agent, "model", None)
    try:
        config = model.get_config() if model is not None else {}
    except Exception:
        config = {}
    model_id = config.get("model_id") if isinstance(config, dict) else None
    if model_id:
        return str(model_id)
    return type(model).__name__ if model is not None else "unknown"


def attach(agent):
    """Lets the agent's metrics object name the agent's model when it counts tokens."""
    metrics = getattr(agent, "event_loop_metrics", None)
    if metrics is not None:
        try:
            metrics._agentdeploy_agent = weakref.ref(agent)
        except (AttributeError, TypeError):
            pass


def _count_usage(metrics, usage):
    if _current is None or not isinstance(usage, dict):
        return
    owner = getattr(metrics, "_agentdeploy_agent", None)
    agent = owner() if owner is not None else None
    _count_model_call(_model_id(agent) if agent is not None else "unknown",
                      usage.get("inputTokens"), usage.get("outputTokens"))


def _count_model_call(model_id, tokens_in, tokens_out):
    request = _current
    if request is None:
        return
    with _lock:
        counts = request.models.setdefault(str(model_id or "unknown"), [0, 0, 0])
        counts[0] += int(tokens_in or 0)
        counts[1] += int(tokens_out or 0)
        counts[2] += 1


def _count_bedrock_answer(operation, params, response):
    """A Bedrock call the code made itself: Converse says its usage, InvokeModel (any model's own
    body) says it in headers."""
    if operation == "Converse":
        usage = response.get("usage") or {}
        tokens_in, tokens_out = usage.get("inputTokens"), usage.get("outputTokens")
    else:
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        tokens_in = headers.get("x-amzn-bedrock-input-token-count")
        tokens_out = headers.get("x-amzn-bedrock-output-token-count")
    _count_model_call(params.get("modelId"), tokens_in, tokens_out)


def _wrap_botocore(module):
    client_class = module.BaseClient
    make_api_call = client_class._make_api_call
    if getattr(make_api_call, "_agentdeploy_counts", False):
        return

    def counted_make_api_call(self, operation_name, api_params):
        response = make_api_call(self, operation_name, api_params)
        if (operation_name in ("Converse", "InvokeModel") and _current is not None
                and not _in_strands_model.get()
                and self.meta.service_model.service_name == "bedrock-runtime"):
            try:
                _count_bedrock_answer(operation_name, api_params, response)
            except Exception:  # counting never fails the agent's call
                pass
        return response

    counted_make_api_call._agentdeploy_counts = True
    client_class._make_api_call = counted_make_api_call


def _wrap_strands_bedrock(module):
    model_class = module.BedrockModel
    for name in ("stream", "structured_output"):
        original = getattr(model_class, name, None)
        if original is None or getattr(original, "_agentdeploy_marks", False):
            continue

        def marked(original):
            async def run(self, *args, **kwargs):
                _in_strands_model.set(True)
                try:
                    async for event in original(self, *args, **kwargs):
                        yield event
                finally:
                    _in_strands_model.set(False)

            run._agentdeploy_marks = True
            return run

        setattr(model_class, name, marked(original))


def _count_tool(tool):
    request = _current
    if request is None:
        return
    name = str((tool or {}).get("name") or "unknown_tool")
    with _lock:
        request.tools[name] = request.tools.get(name, 0) + 1


def _wrap(module):
    metrics_class = module.EventLoopMetrics
    if getattr(metrics_class.update_usage, "_agentdeploy_counts", False):
        return
    update_usage, add_tool_usage = metrics_class.update_usage, metrics_class.add_tool_usage

    def counted_update_usage(self, usage):
        update_usage(self, usage)
        _count_usage(self, usage)

    def counted_add_tool_usage(self, tool, *args, **kwargs):
        add_tool_usage(self, tool, *args, **kwargs)
        _count_tool(tool)

    counted_update_usage._agentdeploy_counts = True
    metrics_class.update_usage = counted_update_usage
    metrics_class.add_tool_usage = counted_add_tool_usage


def track():
    """Counts Strands' token usage and tool calls, and the code's own Bedrock calls, per request
    from now on; guards stdout and stderr against forged records."""
    guard_output()
    hooks.after_import(_METRICS_MODULE, _wrap)
    hooks.after_import(_BEDROCK_MODEL_MODULE, _wrap_strands_bedrock)
    hooks.after_import(_BOTOCORE_CLIENT_MODULE, _wrap_botocore)
