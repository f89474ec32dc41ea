"""Answers as they are written: the ASGI side of a function that runs behind the Lambda Web
Adapter (`--stream`, a generator `@app.entrypoint`, a FastAPI or Starlette app).

`make_app` gives the app the server (`web.serve`) runs:
- `agent` / `main`: `POST /` (and `/invocations`, AgentCore's path) takes the same JSON as the
  buffered handler (`{"input": ...}` or AgentCore's `{"prompt": ...}`) and answers Server-Sent
  Events: an Agent's text deltas and tool uses as the model writes them, then one event with the
  whole answer (and `session_id`); `main`'s result in one event.
- `entrypoint`: the agent's own `BedrockAgentCoreApp`, served as AgentCore serves it (its payload
  handling, its answer shapes, its SSE), `POST /` mapped to `/invocations`.
- `asgi`: the agent's own app, its routes and streaming responses untouched.
- `a2a`: a Strands `A2AServer(agent)`, served as its A2A app (agent card, JSON-RPC); the card
  names the endpoint the caller reached, not the server's local address.
Around every request: each caller's conversation isolated (and with sessions, continued from and
saved to the session store once the answer has ended: a caller who leaves mid-stream saves
nothing, so a stored session is never half a turn). `GET /ping` answers the adapter's readiness
check (an `asgi` app's own routes answer it there).
"""

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import os
import uuid

from . import agents, answers, events, hooks, metrics, names, sessions
from .conversations import Conversations
from .entries import Entry, Interrupted
from .scratch import Scratch

logger = logging.getLogger("agentdeploy.streaming")

AGENTCORE_SESSION_HEADER = b"x-amzn-bedrock-agentcore-runtime-session-id"
# The Lambda request context, as the Web Adapter passes it (JSON), for the caller's identity.
REQUEST_CONTEXT_HEADER = b"x-amzn-request-context"
# The Lambda context (request id, invoked ARN), as the Web Adapter passes it (JSON).
LAMBDA_CONTEXT_HEADER = b"x-amzn-lambda-context"
INVOCATION_PATHS = ("/", "/invoke", "/invocations", "/events")


def sse(value):
    """One Server-Sent Event carrying `value` as JSON, as AgentCore writes them (always JSON a
    reader parses: no NaN, no lone surrogate)."""
    return f"data: {events.dumps(value, ensure_ascii=False)}\n\n".encode("utf-8")


async def _body(receive):
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the caller left")
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _json_answer(send, status, value, extra_headers=()):
    body = events.dumps(value).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), *extra_headers]})
    await send({"type": "http.response.body", "body": body})


def _agent_event(event):
    """What of a Strands stream event a caller sees: text deltas and tool uses (the rest carries
    model internals and objects JSON cannot hold)."""
    if not isinstance(event, dict):
        return None
    if isinstance(event.get("data"), str) and event["data"]:
        return {"data": event["data"]}
    tool = event.get("current_tool_use")
    if isinstance(tool, dict) and tool.get("name"):
        return {"current_tool_use": {"name": tool.get("name"), "toolUseId": tool.get("toolUseId"),
                                     "input": tool.get("input")}}
    return None


def _json_header(scope, name):
    """A header the adapter fills with a JSON object (the request's or Lambda's context); None
    when it is missing or not one."""
    value = dict(scope.get("headers", [])).get(name)
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _caller_event(scope):
    """The Lambda event's identity part, as the adapter forwards it."""
    request_context = _json_header(scope, REQUEST_CONTEXT_HEADER)
    return {} if request_context is None else {"requestContext": request_context}


def _header(scope, name):
    value = dict(scope.get("headers", [])).get(name)
    return value.decode("latin-1") if value else None


async def refuse(send, err, outcome):
    """A refused request answered as one JSON document (the stream never started)."""
    status, body = answers.refusal(err)
    outcome["error"] = body["error"]
    await _json_answer(send, status, body)


# The request an `@app.entrypoint` is answering, for its failure's answer (AgentCore's app runs the
# entrypoint in a copy of the request's context).
_request_id = contextvars.ContextVar("agentdeploy_request_id", default=None)


def guarded_entrypoint(func, name):
    """The agent's `@app.entrypoint` as AgentCore's app calls it, except that what it raises (or
    its generator raises mid-stream) answers `{"error": type, "request_id"}`: AgentCore's own
    answer would carry the exception's text, which names ARNs, account ids and prompt fragments.
    The text and traceback go to the function's log. The wrapper keeps the function's kind
    (sync, async, generator, async generator) and signature, which the app dispatches on."""

    def failed(err):
        return answers.failure(err, name, _request_id.get(), True)[1]

    def failed_response(err):
        from starlette.responses import JSONResponse

        return JSONResponse(failed(err), status_code=500)

    def guard_generator(generator):
        try:
            yield from generator
        except answers.PASSED_ON:
            raise
        except BaseException as err:
            yield failed(err)

    async def guard_async_generator(generator):
        try:
            async for item in generator:
                yield item
        except (*answers.PASSED_ON, asyncio.CancelledError):
            raise
        except BaseException as err:
            yield failed(err)

    if inspect.isasyncgenfunction(func):
        @functools.wraps(func)
        async def guarded(*args):
            async for item in guard_async_generator(func(*args)):
                yield item
    elif inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def guarded(*args):
            try:
                result = await func(*args)
            except (*answers.PASSED_ON, asyncio.CancelledError):
                raise
            except BaseException as err:
                return failed_response(err)
            return guard_async_generator(result) if inspect.isasyncgen(result) else result
    else:
        @functools.wraps(func)
        def guarded(*args):
            try:
                result = func(*args)
            except answers.PASSED_ON:
                raise
            except BaseException as err:
                return failed_response(err)
            if inspect.isgenerator(result):
                return guard_generator(result)
            if inspect.isasyncgen(result):
                return guard_async_generator(result)
            return result
    return guarded


def make_app(entry, *, kind, name, arity, is_async, conversation, endpoint, app=None):
    """The ASGI app the function serves. `app`: the agent's `BedrockAgentCoreApp` (entrypoint),
    or for `asgi` the app itself is `entry`."""
    agents.import_done()
    max_body_bytes = names.max_body_bytes()
    conversations = Conversations(conversation, endpoint)
    with_sessions = conversations.with_sessions
    called = Entry(entry, kind=kind, name=name, arity=arity, is_async=is_async)
    served = entry if kind == "asgi" else app
    if kind == "a2a":
        served = entry.to_starlette_app()
    own_routes = kind in ("asgi", "a2a")
    if kind == "entrypoint" and "main" in getattr(app, "handlers", {}):
        app.handlers["main"] = guarded_entrypoint(app.handlers["main"], name)
    one_at_a_time = asyncio.Lock()
    scratch = Scratch()
    readiness_path = os.environ.get("AWS_LWA_READINESS_CHECK_PATH", "/ping")

    def open_session(scope, requested):
        """The request's session (loaded); raises BadRequest / NoCallerIdentity."""
        # The adapter passes an HTTP event's request context on; an Invoke whose event is not
        # HTTP (POSTed to /events) has none: it comes from the account, one caller, `direct`.
        caller_event = _caller_event(scope)
        owner = conversations.owner(caller_event) if caller_event else "direct"
        return conversations.open(owner, requested)

    async def run_entry(user_input, input_data, send_event, resume):
        async def send_shown(event):
            shown = _agent_event(event)
            if shown is not None:
                await send_event(shown)

        output = await called.stream(user_input, input_data, send_shown, resume)
        return output if isinstance(output, (str, Interrupted)) else events.jsonable(output)

    async def own_kinds(scope, receive, send, outcome):
        """`agent` / `main` over HTTP: the buffered handler's request, answered as events.
        `outcome`: the status a buffered answer would have had (the stream's is 200 once it
        started) and the error's name, for the request's metrics."""
        try:
            raw = await _body(receive)
            request = events.parse_json(raw, max_body_bytes) if raw else None
            user_input, input_data = events.fields(request, text_allowed=False)
            resume = events.interrupt_responses(request)
            called.resumes(resume)
            session_id = None
            if with_sessions:
                header = _header(scope, AGENTCORE_SESSION_HEADER)
                session_id = sessions.session_id({"session_id": header} if header else request)
            session = open_session(scope, session_id) if with_sessions else None
        except answers.REFUSALS as err:
            return await refuse(send, err, outcome)
        headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
        if session_id is not None:
            headers.append((AGENTCORE_SESSION_HEADER, session_id.encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})

        async def send_event(value):
            await send({"type": "http.response.body", "body": sse(value), "more_body": True})

        final = None
        try:
            output = await run_entry(user_input, input_data, send_event, resume)
            if session is not None:
                session.save()
            final = output.body() if isinstance(output, Interrupted) else {"output": output}
            if session_id is not None:
                final["session_id"] = session_id
        except answers.REFUSALS as err:
            status, final = answers.refusal(err)
            outcome.update(status=status, error=final["error"])
        except (*answers.PASSED_ON, asyncio.CancelledError):
            raise
        except BaseException as err:  # sys.exit(), argparse: a 500 event, and the server lives on
            status, final = answers.failure(err, name, _header(scope, b"x-amzn-request-id"), True)
            outcome.update(status=status, error=final["error"])
        finally:
            if session is not None:
                session.close()
        await send({"type": "http.response.body", "body": sse(final), "more_body": False})

    async def entrypoint_app(scope, receive, send, outcome):
        """The agent's BedrockAgentCoreApp at AgentCore's paths, with a session id it can read."""
        lambda_context = _json_header(scope, LAMBDA_CONTEXT_HEADER) or {}
        _request_id.set(metrics.checked_id(lambda_context.get("request_id")))
        scope = dict(scope, path="/invocations", raw_path=b"/invocations")
        session_id = _header(scope, AGENTCORE_SESSION_HEADER)
        if session_id is None:
            session_id = uuid.uuid4().hex
            scope["headers"] = [*scope["headers"], (AGENTCORE_SESSION_HEADER, session_id.encode())]
        try:
            session = (open_session(scope, sessions.session_id({"session_id": session_id}))
                       if with_sessions else None)
        except answers.REFUSALS as err:
            return await refuse(send, err, outcome)
        ended = False

        async def send_with_session(message):
            nonlocal ended
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message.get("headers", []),
                                                 (AGENTCORE_SESSION_HEADER, session_id.encode())])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                ended = True
            await send(message)

        try:
            await served(scope, receive, send_with_session)
            if session is not None and ended:
                session.save()
        finally:
            if session is not None:
                session.close()

    async def gateway(scope, receive, send):
        if scope["type"] != "http":
            if served is not None:
                return await served(scope, receive, send)
            return None
        path, method = scope["path"], scope["method"]
        if not own_routes and path == "/ping":
            return await _json_answer(send, 200, {"status": "Healthy"})
        if not own_routes and (path not in INVOCATION_PATHS or method != "POST"):
            return await _json_answer(send, 404, {"error": "NotFound",
                                                  "message": "POST a JSON request to / (or /invocations)"})
        if path == readiness_path and method == "GET":
            # The adapter's readiness check during INIT: not a request, not measured.
            return await served(scope, receive, send)
        # The agents (and the request's measurements) are the process's, one request at a time:
        # one served while another runs (the Web Adapter and Managed Instances send them at once)
        # waits its turn, whatever the conversation mode.
        async with one_at_a_time:
            return await measured_request(scope, receive, send)

    async def measured_request(scope, receive, send):
        # The adapter's Lambda context, never a caller's header; ids of an unexpected shape are
        # left out of the record.
        lambda_context = _json_header(scope, LAMBDA_CONTEXT_HEADER) or {}
        measured = metrics.begin(streamed=True, conversation=conversations.mode,
                                 request_id=metrics.checked_id(lambda_context.get("request_id")),
                                 alias=metrics.alias_of(lambda_context.get("invoked_function_arn")))
        outcome = {"status": None, "error": None}

        async def send_measured(message):
            if message["type"] == "http.response.start" and outcome["status"] is None:
                outcome["status"] = message.get("status", 200)
            await send(message)

        conversations.begin_request()
        scratch.begin()
        try:
            if kind == "asgi":
                return await served(scope, receive, send_measured)
            if kind == "a2a":
                if scope["method"] == "GET" and scope["path"] in AGENT_CARD_PATHS:
                    return await _card_at_endpoint(served, scope, receive, send_measured)
                return await served(scope, receive, send_measured)
            if kind == "entrypoint":
                return await entrypoint_app(scope, receive, send_measured, outcome)
            return await own_kinds(scope, receive, send_measured, outcome)
        except sessions.Conflict:
            outcome.update(status=409, error="SessionConflict")
            logger.warning("session changed by another request while this one ran")
        except (ConnectionResetError, asyncio.CancelledError):
            # The caller left mid-answer (nginx's 499): the agent was stopped.
            outcome.update(status=499, error="CallerLeft")
            raise
        except Exception as err:
            outcome.update(status=500, error=type(err).__name__)
            raise
        finally:
            scratch.end()
            conversations.end_request()
            try:
                metrics.finish(measured, outcome["status"] or 500, outcome["error"])
            except Exception:  # measuring never fails a request that was answered
                logger.warning("the request's metrics record was not written", exc_info=True)

    return gateway


AGENT_CARD_PATHS = ("/.well-known/agent-card.json", "/.well-known/agent.json")


def _endpoint_url(scope):
    """The URL the caller reached this function at (`https://HOST/` for a Function URL,
    `https://HOST/STAGE/` for an API), from the request the adapter forwards; None when the
    request names no host."""
    host = _header(scope, b"host")
    if not host or not all(c.isalnum() or c in ".-:" for c in host):
        return None
    stage = (_json_header(scope, REQUEST_CONTEXT_HEADER) or {}).get("stage")
    prefix = f"{stage}/" if isinstance(stage, str) and stage and stage != "$default" and stage.isidentifier() else ""
    return f"https://{host}/{prefix}"


async def _card_at_endpoint(served, scope, receive, send):
    """The A2A server's agent card with its `url` set to the endpoint the caller reached: the
    server was built with its local address, which no caller can reach."""
    start, chunks = {}, []

    async def collect(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await served(scope, receive, collect)
    body = b"".join(chunks)
    url = _endpoint_url(scope)
    try:
        card = json.loads(body)
        if url and isinstance(card, dict) and start.get("status", 200) == 200:
            card["url"] = url
            body = json.dumps(card).encode("utf-8")
    except ValueError:
        pass
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": start.get("status", 200), "headers": headers})
    await send({"type": "http.response.body", "body": body})


def neutralise_servers():
    """`app.run()` / `uvicorn.run()` reached while the agent's module is imported would start a
    server of its own in INIT and never return: in Lambda they return at once (the function's
    server is agentdeploy's, started after the import), with a line in the log."""

    def skip(*_args, **_kwargs):
        logger.warning("a server start at import was skipped: agentdeploy serves the app")

    def patch_run(module):
        if hasattr(module, "run"):
            module.run = skip

    def patch_app(module):
        if hasattr(module, "BedrockAgentCoreApp"):
            module.BedrockAgentCoreApp.run = skip

    def patch_a2a(module):
        if hasattr(module, "A2AServer"):
            module.A2AServer.serve = skip

    hooks.after_import("uvicorn", patch_run)
    hooks.after_import("uvicorn.main", patch_run)
    hooks.after_import("bedrock_agentcore.runtime.app", patch_app)
    hooks.after_import("strands.multiagent.a2a.server", patch_a2a)
