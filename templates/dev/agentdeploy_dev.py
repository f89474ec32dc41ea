"""`agentdeploy dev`'s host (written beside the rendered function, never shipped): run under the
runtime's Python in the function's code folder, the dependencies after it on the path. It imports
the agent as Lambda's INIT does (`agentdeploy_bootstrap`) and serves what the deployed endpoint
serves on the socket agentdeploy listens on (fd 3, kept across restarts so a request sent while
the code reloads waits for it):
- behind the Web Adapter (streaming, AgentCore, web apps): the same app on the same paths;
- else `POST /invoke` as API Gateway (or a Function URL) delivers it: the request becomes the
  event the function gets, the handler's answer the response; with no endpoint, the body is the
  direct Invoke's event and the answer is Invoke's (200, the handler's JSON).
An import that fails is served as 503 {"error": "ImportFailed", "location", "message"}. The host
ends when agentdeploy does (its stdin closes), so it never outlives the command; SIGTERM (a reload)
stops it taking requests and lets those in flight finish first.
"""

import asyncio
import base64
import json
import os
import signal
import sys
import threading
import time
import traceback
import uuid

LISTENER_FD = 3
# A kept-alive connection with no request closes soon: a reload waits for open connections.
os.environ.setdefault("AGENTDEPLOY_IDLE_SECONDS", "2")


def _watch_parent():
    # agentdeploy holds our stdin open; EOF means it has gone (even killed): so do we.
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def _say(what):
    print(f"agentdeploy-dev: {what}", file=sys.stderr, flush=True)


def failure_of(err, agent_file):
    """(location, message) of an import that raised: the innermost frame in the function's own
    code (the generated handler.py is the agent's file line for line above its tail)."""
    root = os.getcwd()
    location = None
    if isinstance(err, SyntaxError) and err.filename:
        location = _shown(err.filename, err.lineno, root, agent_file)
    for frame in traceback.extract_tb(err.__traceback__):
        shown = _shown(frame.filename, frame.lineno, root, agent_file)
        if shown is not None:
            location = shown
    return location or agent_file, f"{type(err).__name__}: {err}"


def _shown(filename, line, root, agent_file):
    path = os.path.abspath(filename)
    if not path.startswith(root + os.sep):
        return None
    relative = os.path.relpath(path, root)
    if relative.startswith("agentdeploy_"):
        return None
    name = agent_file if relative == "handler.py" else relative
    return f"{name}:{line}" if line else name


def failed_app(body):
    """Every request answered 503 with `body`, until the next change restarts the host."""
    encoded = json.dumps(body).encode()

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": encoded})

    return app


class Context:
    """What Lambda's context object gives a handler."""

    def __init__(self, request_id):
        self.aws_request_id = request_id
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        region = os.environ.get("AWS_REGION", "us-east-1")
        self.invoked_function_arn = f"arn:aws:lambda:{region}:000000000000:function:{self.function_name}:live"
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = "dev"
        self._deadline = time.monotonic() + float(os.environ.get("AGENTDEPLOY_DEV_TIMEOUT", "900"))

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _event(scope, body, endpoint, request_id):
    """The event the function gets for this request from its endpoint."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    text = body.decode("utf-8", "replace")
    if endpoint == "none":
        try:
            return json.loads(text)
        except ValueError:
            return text  # as Invoke would pass a payload that is not JSON: refused by the handler
    query = scope["query_string"].decode("latin-1")
    if endpoint == "url":
        return {"version": "2.0", "routeKey": "$default", "rawPath": scope["path"], "rawQueryString": query,
                "headers": headers, "body": text, "isBase64Encoded": False,
                "requestContext": {"http": {"method": scope["method"], "path": scope["path"]},
                                   "requestId": request_id}}
    return {"resource": "/invoke", "path": scope["path"], "httpMethod": scope["method"], "headers": headers,
            "body": text, "isBase64Encoded": False,
            "requestContext": {"requestId": request_id, "stage": "dev", "identity": {}}}


def invoke_app(handler, endpoint):
    """The handler as its endpoint serves it: `POST /invoke` (a Function URL: any path)."""

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if endpoint != "url" and (scope["method"] != "POST" or scope["path"] != "/invoke"):
            # API Gateway has only this route (it answers others 403 "Missing Authentication Token").
            return await _answer(send, 404, {"message": "Not Found: send POST /invoke"})
        request_id = str(uuid.uuid4())
        try:
            result = await asyncio.to_thread(handler, _event(scope, body, endpoint, request_id),
                                             Context(request_id))
        except BaseException:
            # As Lambda reports a function error: the caller sees the endpoint's 502.
            traceback.print_exc()
            return await _answer(send, 502, {"message": "Internal server error"})
        if endpoint == "none" or not isinstance(result, dict) or "statusCode" not in result:
            return await _answer(send, 200, result)
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
        headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1"))
                   for k, v in (result.get("headers") or {}).items()]
        await send({"type": "http.response.start", "status": int(result["statusCode"]), "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    return app


async def _answer(send, status, document):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(document).encode()})


def adapted(app):
    """The app as the Web Adapter calls it: each request with the invocation's context headers."""

    async def with_context(scope, receive, send):
        if scope["type"] == "http":
            request_id = str(uuid.uuid4())
            context = Context(request_id)
            lambda_context = json.dumps({"request_id": request_id,
                                         "invoked_function_arn": context.invoked_function_arn,
                                         "deadline": int(time.time() * 1000) + context.get_remaining_time_in_millis()})
            scope = dict(scope, headers=[*scope["headers"], (b"x-amzn-request-id", request_id.encode()),
                                         (b"x-amzn-lambda-context", lambda_context.encode())])
        await app(scope, receive, send)

    return with_context


def loaded_app(agent_file, endpoint):
    """The app serving the agent, else the one answering why its import failed."""
    started = time.perf_counter()
    try:
        import agentdeploy_bootstrap as bootstrap
    except BaseException as err:  # SystemExit, KeyboardInterrupt at import included: reported
        traceback.print_exc()
        location, message = failure_of(err, agent_file)
        print(f"agentdeploy-dev: import failed at {location}: {message}", file=sys.stderr, flush=True)
        return failed_app({"error": "ImportFailed", "location": location, "message": message})
    print(f"agentdeploy-dev: imported in {(time.perf_counter() - started) * 1000:.0f} ms",
          file=sys.stderr, flush=True)
    if bootstrap.app is not None:
        return adapted(bootstrap.app)
    return invoke_app(bootstrap.lambda_handler, endpoint)


def main():
    import socket

    threading.Thread(target=_watch_parent, daemon=True).start()
    listener = socket.socket(fileno=LISTENER_FD)
    failed = os.environ.get("AGENTDEPLOY_DEV_FAILED")
    if failed:
        app = failed_app(json.loads(failed))
    else:
        app = loaded_app(os.environ.get("AGENTDEPLOY_DEV_AGENT_FILE", "agent.py"),
                         os.environ.get("AGENTDEPLOY_DEV_ENDPOINT", "api"))
    asyncio.run(serve(app, listener))
    # Stopped for a reload with nothing in flight: the interpreter's teardown (the agent's
    # threads, atexit hooks) would only delay the new code by a second.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


async def serve(app, listener):
    """Until SIGTERM: then no new request is taken and the ones in flight end first."""
    from agentdeploy_runtime import web

    def ready(_port):
        _say("ready")

    serving = asyncio.ensure_future(web.serve(app, ready=ready, sock=listener))
    loop = asyncio.get_running_loop()

    def stop_taking_requests():
        # The task's next step closes the server's listening socket (asyncio closes it before
        # waiting for the connections): said after it, so agentdeploy knows no request lands here.
        serving.cancel()
        loop.call_soon(_say, "taking no more requests")

    loop.add_signal_handler(signal.SIGTERM, stop_taking_requests)
    try:
        await serving
    except asyncio.CancelledError:
        pass


if __name__ == "__main__":
    main()
