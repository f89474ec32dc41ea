"""The Lambda handler around the agent's entry, assembled from the runtime's parts: the request
read (`events`), the caller's conversation (`conversations`), the entry called (`entries`), the
answer or error mapped (`answers`), the request measured (`metrics`)."""

import logging
import os
import threading

from . import agents, answers, events, metrics, names, sessions
from .conversations import Conversations
from .entries import Entry, Interrupted, status_of
from .scratch import Scratch

logger = logging.getLogger("agentdeploy.handler")
logger.setLevel(os.environ.get("AGENTDEPLOY_LOG_LEVEL", "INFO").upper())


def make_handler(entry, *, kind, name, arity, is_async, conversation, endpoint):
    """`lambda_handler(event, context)` for `entry`, the agent's `main`, `handler` or Agent."""
    agents.import_done()
    return Handler(Entry(entry, kind=kind, name=name, arity=arity, is_async=is_async),
                   Conversations(conversation, endpoint)).lambda_handler


class Handler:
    def __init__(self, entry, conversations):
        self.entry = entry
        self.conversations = conversations
        # Request bodies above this size are refused before parsing (API Gateway allows 10 MB).
        self.max_body_bytes = names.max_body_bytes()
        self._one_at_a_time = threading.Lock()
        self.scratch = Scratch()

    def lambda_handler(self, event, context):
        # The agents (and the request's measurements) are the process's, one request at a time:
        # a runtime that calls the handler from several threads at once gets each served in turn.
        with self._one_at_a_time:
            return self.measured(event, context)

    def measured(self, event, context):
        measured = metrics.begin(streamed=False, conversation=self.conversations.mode,
                                 request_id=getattr(context, "aws_request_id", None),
                                 alias=metrics.alias_of(getattr(context, "invoked_function_arn", None)))
        outcome = {"status": 500, "error": None}
        self.conversations.begin_request()
        self.scratch.begin()
        try:
            if self.entry.kind == "handler":
                return self.passed_through(event, context, outcome)
            status, body = self.answer(event, context)
            outcome["status"], outcome["error"] = status, body.get("error")
            return events.http_response(status, body) if events.is_http(event) else body
        finally:
            self.scratch.end()
            self.conversations.end_request()
            try:
                metrics.finish(measured, outcome["status"], outcome["error"])
            except Exception:  # measuring never fails a request that was answered
                logger.warning("the request's metrics record was not written", exc_info=True)

    def passed_through(self, event, context, outcome):
        """The agent's own Lambda-style handler: the raw event in, its answer passed through."""
        try:
            response = self.entry.call_raw(event, context)
        except BaseException as err:
            outcome["error"] = type(err).__name__
            raise
        outcome["status"] = status_of(response)
        return response

    def answer(self, event, context):
        """(status, body) for one request: the entry's output, a refusal or a failure."""
        is_http = events.is_http(event)
        session_id = owner = None
        try:
            request = events.payload(event, self.max_body_bytes)
            user_input, input_data = events.fields(request, text_allowed=not is_http)
            resume = events.interrupt_responses(request)
            self.entry.resumes(resume)
            if self.conversations.with_sessions:
                session_id = sessions.session_id(request)
                owner = self.conversations.owner(event)
        except answers.REFUSALS as err:
            return with_session(answers.refusal(err), session_id)

        session = None
        try:
            if self.conversations.with_sessions:
                session = self.conversations.open(owner, session_id)
            output = self.entry.call(user_input, input_data, resume)
            if session is not None:
                session.save()
        except answers.REFUSALS as err:
            return with_session(answers.refusal(err), session_id)
        except answers.PASSED_ON:
            raise
        except BaseException as err:  # sys.exit(), argparse: a 500, and the process lives on
            request_id = getattr(context, "aws_request_id", None)
            return with_session(answers.failure(err, self.entry.name, request_id, is_http), session_id)
        finally:
            if session is not None:
                session.close()
        if isinstance(output, Interrupted):
            # Stopped for a person: the caller answers the interrupts in the next request.
            return with_session((200, output.body()), session_id)
        return with_session((200, {"output": events.jsonable(output)}), session_id)


def with_session(answer, session_id):
    """The answer with the session it continued, when there is one."""
    status, body = answer
    if session_id is not None:
        body["session_id"] = session_id
    return status, body

