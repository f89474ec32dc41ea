"""What a caller is told when a request does not end in an answer: one mapping, used by the
buffered handler and the streamed server alike.

- a bad request → 400 with the reason (it is about the caller's own input);
- a session request without a caller identity → 403;
- a session changed by another request meanwhile → 409;
- the entry raising anything (`sys.exit()` and argparse's exit too: a `BaseException` is the
  agent's failure, never the process's end, but for `PASSED_ON`) → 500 with the error's type, and for an HTTP caller
  the request id to quote: messages of AWS and model SDKs carry account ids, ARNs, URLs and prompt
  fragments, so the message and traceback go to the function's log only. A direct Invoke comes
  from the account: it gets the message too.
"""

import logging

from . import events, sessions

logger = logging.getLogger("agentdeploy.runtime")

REFUSALS = (events.BadRequest, sessions.NoCallerIdentity, sessions.Conflict)
# What the process itself uses to stop: Ctrl-C of a local run, a generator being closed. Never a
# request's answer. (Behind the Web Adapter, a task's cancellation is passed on too.)
PASSED_ON = (KeyboardInterrupt, GeneratorExit)


def refusal(err):
    """(status, body) for a request refused before or after the entry ran, never its fault."""
    if isinstance(err, events.BadRequest):
        # The event is not logged: it may carry personal data.
        logger.warning("bad request: %s", err)
        return 400, {"error": "BadRequest", "message": str(err)}
    if isinstance(err, sessions.NoCallerIdentity):
        logger.warning("a session request without a caller identity was refused")
        return 403, {"error": "NoCallerIdentity",
                     "message": "sessions need an authenticated caller (an API key or IAM)"}
    logger.warning("session changed by another request while this one ran")
    return 409, {"error": "SessionConflict",
                 "message": "this session was changed by another request while this one ran; send the turn again"}


def failure(err, entry_name, request_id, is_http):
    """(status, body) for the entry raising; the traceback goes to the log."""
    logger.error("%s raised %s", entry_name, type(err).__name__, exc_info=err)
    body = {"error": type(err).__name__}
    if is_http:
        body["request_id"] = request_id
    else:
        body["message"] = str(err)
    return 500, body
