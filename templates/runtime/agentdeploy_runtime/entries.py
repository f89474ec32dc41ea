"""Calling the agent's entry, whatever it is: a Strands Agent (`agent`), a `main(input, data)`
function, sync or async (`main`), or the agent's own Lambda handler (`handler`); and what an
Agent's result answers (its text, its structured output, or the interrupts it stopped on)."""

import asyncio
import inspect

from .events import BadRequest, jsonable

# One event loop for the life of the execution environment: `asyncio.run` per invocation closes
# the loop, which breaks clients cached by the agent on warm starts.
_loop = None


def event_loop():
    global _loop
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
        asyncio.set_event_loop(_loop)
    return _loop


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


class Interrupted:
    """An Agent's answer that stopped to wait for a person: the interrupts its tools raised. The
    caller answers them in a later request (`interrupt_responses`), which resumes the agent."""

    def __init__(self, interrupts):
        self.interrupts = [{"id": i.id, "name": i.name, "reason": getattr(i, "reason", None)}
                           for i in interrupts]

    def body(self):
        return {"interrupts": jsonable(self.interrupts)}


def agent_answer(result):
    """What an Agent's result answers: the interrupts it stopped on, its structured output (a
    `structured_output_model` answer) as JSON, else its text."""
    interrupts = getattr(result, "interrupts", None)
    if getattr(result, "stop_reason", None) == "interrupt" and interrupts:
        return Interrupted(interrupts)
    structured = getattr(result, "structured_output", None)
    if structured is not None and hasattr(structured, "model_dump"):
        return structured.model_dump(mode="json")
    return str(result).rstrip()


def _is_agent_result(value):
    return type(value).__name__ == "AgentResult" and hasattr(value, "stop_reason")


def status_of(response):
    """The HTTP status an agent's own handler answered (a proxy response's statusCode), else 200."""
    if isinstance(response, dict):
        status = response.get("statusCode")
        if isinstance(status, int) and 100 <= status <= 599:
            return status
    return 200


class Entry:
    """The agent's entry and how to call it. `arity` None: read from the signature now."""

    def __init__(self, entry, *, kind, name, arity, is_async):
        self.entry = entry
        self.kind = kind
        self.name = name
        self.arity = positional_arity(entry) if arity is None else arity
        self.is_async = is_async

    def _settle(self, result):
        if self.is_async or inspect.isawaitable(result):
            return event_loop().run_until_complete(result)
        return result

    def resumes(self, resume):
        """Refuses interrupt responses an entry cannot take (only an Agent entry resumes)."""
        if resume is not None and self.kind != "agent":
            raise BadRequest(f"the entry `{self.name}` is not an Agent: only an Agent entry resumes "
                             "from interrupt responses")

    def call(self, user_input, input_data, resume=None):
        """The entry's answer to one request, on the kept loop (`agent_answer` for an Agent's, or
        a `main` returning an Agent's result). `resume`: interrupt responses for an Agent."""
        if self.kind == "agent":
            # On the kept loop: the Agent's clients survive warm starts.
            result = event_loop().run_until_complete(self.entry.invoke_async(resume or user_input))
            return agent_answer(result)
        result = self._settle(self.entry(*(user_input, input_data)[:self.arity]))
        return agent_answer(result) if _is_agent_result(result) else result

    def call_raw(self, event, context):
        """The agent's own Lambda handler: the raw event in, its answer as it gave it."""
        return self._settle(self.entry(event, context))

    async def stream(self, user_input, input_data, send_event, resume=None):
        """The entry's answer on the server's loop; an Agent's events go to `send_event` as the
        model writes them."""
        if self.kind == "agent":
            answer = []
            async for event in self.entry.stream_async(resume or user_input):
                await send_event(event)
                if isinstance(event, dict) and "result" in event:
                    answer = [agent_answer(event["result"])]
            return answer[0] if answer else ""
        call_with = (user_input, input_data)[:self.arity]
        if self.is_async or inspect.iscoroutinefunction(self.entry):
            result = await self.entry(*call_with)
            return agent_answer(result) if _is_agent_result(result) else result
        # Off the server's loop: a blocking `main` must not hold the connection it answers on.
        result = await asyncio.to_thread(self.entry, *call_with)
        if inspect.isawaitable(result):
            result = await result
        return agent_answer(result) if _is_agent_result(result) else result
