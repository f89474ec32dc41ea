"""The Lambda handler around the agent's entry: reads the request, isolates or continues the
conversation, calls the entry, answers."""

import asyncio
import inspect
import logging
import os
import threading

from . import agents, answers, events, metrics, sessions

logger = logging.getLogger("agentdeploy.handler")
logger.setLevel(os.environ.get("AGENTDEPLOY_LOG_LEVEL", "INFO").upper())

# One event loop for the life of the execution environment: `asyncio.run` per invocation closes
# the loop, which breaks clients cached by the agent on warm starts.
_loop = None


def event_loop():
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop


def _settle(result, is_async):
    if is_async or inspect.isawaitable(result):
        return event_loop().run_until_complete(result)
    return result


def _status_of(response):
    """The HTTP status an agent's own handler answered (a proxy response's statusCode), else 200."""
    if isinstance(response, dict):
        status = response.get("statusCode")
        if isinstance(status, int) and 100 <= status <= 599:
            return status
    return 200


def positional_arity(entry):
    """How many of (user_input, input_data) `entry` takes positionally: for an entry imported from
    an installed package, whose signature agentdeploy could not read at build time."""
    try:
        parameters = inspect.signature(entry).parameters.values()
    except (TypeError, ValueError):
        return 2
    if any(p.kind == p.VAR_POSITIONAL for p in parameters):
        return 2
    return min(2, sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in parameters))


def make_handler(entry, *, kind, name, arity, is_async, conversation, endpoint, max_body_bytes,
                 session_bucket_variable, origin_variable, origin_stage_variable):
    """`lambda_handler(event, context)` for `entry`, the agent's `main`, `handler` or Agent.
    `arity` None: read from the entry's signature now."""
    agents.import_done()
    if arity is None:
        arity = positional_arity(entry)
    # Request bodies above this size are refused before parsing (API Gateway allows 10 MB).
    max_body_bytes = int(os.environ.get("AGENTDEPLOY_MAX_BODY_BYTES", max_body_bytes))
    isolated = conversation in ("isolated", "session")
    with_sessions = conversation == "session"
    origin = sessions.origin(origin_variable) if with_sessions and endpoint == "api" else ""

    def call(user_input, input_data):
        if kind == "agent":
            # A Strands Agent: on the kept loop (its clients survive warm starts); its answer as text.
            result = event_loop().run_until_complete(entry.invoke_async(user_input))
            return str(result).rstrip()
        return _settle(entry(*(user_input, input_data)[:arity]), is_async)

    one_at_a_time = threading.Lock()

    def lambda_handler(event, context):
        # The agents (and the request's measurements) are the process's, one request at a time:
        # a runtime that calls the handler from several threads at once gets each served in turn.
        with one_at_a_time:
            return handle(event, context)

    def handle(event, context):
        measured = metrics.begin(streamed=False, conversation=conversation,
                                 request_id=getattr(context, "aws_request_id", None),
                                 alias=metrics.alias_of(getattr(context, "invoked_function_arn", None)))
        outcome = {"status": 500, "error": None}
        if isolated:
            agents.begin_request()
        try:
            if kind == "handler":
                # The agent's own Lambda-style handler: the raw event in, its answer passed through.
                try:
                    response = _settle(entry(event, context), is_async)
                except Exception as err:
                    outcome["error"] = type(err).__name__
                    raise
                outcome["status"] = _status_of(response)
                return response
            return _answer(event, context, outcome)
        finally:
            agents.end_request()
            try:
                metrics.finish(measured, outcome["status"], outcome["error"])
            except Exception:  # measuring never fails a request that was answered
                logger.warning("the request's metrics record was not written", exc_info=True)

    def _answer(event, context, outcome):
        is_http = events.is_http(event)
        session_id = None

        def answer(status, body):
            outcome["status"], outcome["error"] = status, body.get("error")
            if session_id is not None:
                body["session_id"] = session_id
            return events.http_response(status, body) if is_http else body

        try:
            request = events.payload(event, max_body_bytes)
            user_input, input_data = events.fields(request, text_allowed=not is_http)
            if with_sessions:
                session_id = sessions.session_id(request)
                owner = sessions.caller(event, endpoint, origin, origin_stage_variable)
        except answers.REFUSALS as err:
            return answer(*answers.refusal(err))

        session = None
        try:
            if with_sessions:
                session = sessions.Session(sessions.object_key(owner, session_id), session_bucket_variable)
                session.load()
            output = events.jsonable(call(user_input, input_data))
            if session is not None:
                session.save()
        except answers.REFUSALS as err:
            return answer(*answers.refusal(err))
        except (Exception, SystemExit) as err:  # sys.exit() in the entry answers 500; the process lives on
            return answer(*answers.failure(err, name, getattr(context, "aws_request_id", None), is_http))
        finally:
            if session is not None:
                session.close()

        return answer(200, {"output": output})

    return lambda_handler
