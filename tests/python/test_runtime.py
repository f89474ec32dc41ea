"""Unit tests of agentdeploy_runtime (templates/runtime/), run by `cargo test` under the runtime's
Python 3.13 with real strands-agents (tests/suite/runtime_module.rs). The stub model reports how
many messages reached it, so each test sees what a caller's request would have carried.

Usage: python3.13 -m unittest tests/python/test_runtime.py   (PYTHONPATH: strands, templates/runtime,
fixtures/conversations)
"""

import gc
import types
import unittest

import agentdeploy_runtime
import asyncio
import json
import os
from unittest import mock

from agentdeploy_runtime import agents, answers, entries, events, names, sessions
from agentdeploy_runtime.conversations import Conversations
from agentdeploy_runtime.handler import Handler

agentdeploy_runtime.track()

from strands import Agent  # noqa: E402  (after track(), as the bootstrap orders it)
from stub_model import ReportingModel  # noqa: E402


def build(name=None, agent_id=None, model="stub"):
    return Agent(name=name, agent_id=agent_id, model=ReportingModel(model), callback_handler=None)


def said(agent, text):
    return str(agent(text)).rstrip()


class Tracking(unittest.TestCase):
    def setUp(self):
        agents.end_request()
        gc.collect()

    def test_an_agent_built_at_any_time_is_restored_to_its_state_as_built(self):
        agents.begin_request()
        lazy = build(model="lazy")  # built while a request runs, as a lazily built agent is
        self.assertEqual(said(lazy, "alice"), "lazy saw 1 messages: alice")
        agents.end_request()
        agents.begin_request()
        self.assertEqual(said(lazy, "bob"), "lazy saw 1 messages: bob")
        agents.end_request()

    def test_keys_are_agent_id_then_name_then_build_order_counted_anew_per_request(self):
        agents.import_done()
        agents.begin_request()
        first = [build(agent_id="planner"), build(name="writer"), build(name="writer"), build()]
        keys = {id(a): t.key for t, a in agents.live()}
        self.assertEqual([keys[id(a)] for a in first], ["planner", "writer", "writer#2", "Strands Agents"])
        agents.end_request()
        agents.begin_request()
        again = build(name="writer")
        keys = {id(a): t.key for t, a in agents.live()}
        self.assertEqual(keys[id(again)], "writer", "a new request counts from the import-built agents")
        agents.end_request()

    def test_a_dropped_agent_is_not_kept_alive(self):
        agent = build(name="dropped")
        self.assertIn("dropped", [t.key for t, _ in agents.live()])
        del agent
        gc.collect()
        self.assertNotIn("dropped", [t.key for t, _ in agents.live()])

    def test_a_subclass_is_recorded_once_with_its_state_as_built(self):
        class Helper(Agent):
            def __init__(self):
                super().__init__(name="helper-subclass", model=ReportingModel("sub"), callback_handler=None)

        helper = Helper()
        self.assertEqual([t.key for t, a in agents.live() if a is helper], ["helper-subclass"])

    def test_a_session_document_carries_state_by_key_and_loads_into_agents_built_later(self):
        agent = build(name="keeper", model="keeper")
        said(agent, "remember me")
        stored = {"keeper": agents.dump_state(agent)}
        agents.begin_request()
        self.assertEqual(len(agent.messages), 0)
        session = sessions.Session("unused-key", store=None)
        session.stored = stored
        agents._on_built.append(session._built)
        twin = build(name="keeper", model="keeper")  # same key in a fresh request: gets the state
        session.close()
        agents.end_request()
        self.assertEqual(said(twin, "and now?"), "keeper saw 3 messages: and now?")


class Callers(unittest.TestCase):
    def test_only_an_event_carrying_the_stacks_origin_is_believed(self):
        def caller(event, endpoint):
            return sessions.caller(event, endpoint, "origin-1", "agentdeployOrigin")

        api = {"httpMethod": "POST", "requestContext": {"identity": {"apiKeyId": "k"}},
               "stageVariables": {"agentdeployOrigin": "origin-1"}}
        self.assertEqual(caller(api, "api"), "api-key:k")
        for forged in ({**api, "stageVariables": None}, {**api, "stageVariables": {"agentdeployOrigin": "x"}},
                       {**api, "stageVariables": {"agentdeployOrigin": ["origin-1"]}}):
            self.assertEqual(caller(forged, "api"), "direct")
        self.assertEqual(caller({"input": "hi"}, "api"), "direct")
        # A function without its origin value (never set) believes no API event.
        self.assertEqual(sessions.caller(api, "api", "", "agentdeployOrigin"), "direct")
        url = {"requestContext": {"authorizer": {"iam": {"userArn": "arn:aws:iam::1:user/u"}}}, "rawPath": "/"}
        self.assertEqual(caller(url, "url"), "iam:arn:aws:iam::1:user/u")
        # A URL stack never reads an API key id; an event without any identity has no caller.
        with self.assertRaises(sessions.NoCallerIdentity):
            caller({"rawPath": "/", "requestContext": {"identity": {"apiKeyId": "k"}}}, "url")

    def test_session_ids_are_checked_and_new_ones_are_random(self):
        self.assertEqual(sessions.session_id({"session_id": "a-1"}), "a-1")
        for bad in ("../x", "", "a" * 129, 7):
            with self.assertRaises(events.BadRequest):
                sessions.session_id({"session_id": bad})
        self.assertNotEqual(sessions.session_id({}), sessions.session_id({}))
        self.assertEqual(len(sessions.session_id({})), 32)


class FolderSessions(unittest.TestCase):
    """`agentdeploy dev`'s session store: the bucket's documents in a folder, writes conditional."""

    def test_a_write_from_a_stale_read_is_a_conflict_and_the_newer_document_stays(self):
        import tempfile

        with tempfile.TemporaryDirectory() as root, mock.patch.dict(
                os.environ, {names.SESSION_DIR_VARIABLE: root}):
            store = sessions.store()
            self.assertIsInstance(store, sessions.FolderStore)
            key = sessions.object_key("direct", "s1")
            self.assertIsNone(store.get(key))
            store.put(key, b'{"version": 2, "agents": {}}', None)
            body, first = store.get(key)
            self.assertEqual(body, b'{"version": 2, "agents": {}}')
            self.assertTrue(os.path.isfile(os.path.join(root, *key.split("/"))))
            with self.assertRaises(sessions.Conflict):
                store.put(key, b"{}", None)  # "no session yet", but there is one
            store.put(key, b'{"version": 2, "agents": {"a": []}}', first)
            with self.assertRaises(sessions.Conflict):
                store.put(key, b"{}", first)  # read before the last write
            self.assertEqual(store.get(key)[0], b'{"version": 2, "agents": {"a": []}}')
            sessions._stores.clear()


class Events(unittest.TestCase):
    def test_bodies_and_fields(self):
        event = {"httpMethod": "POST", "body": "eyJpbnB1dCI6ICJoaSJ9", "isBase64Encoded": True}
        self.assertEqual(events.fields(events.payload(event, 1024), text_allowed=False), ("hi", None))
        self.assertEqual(events.fields("bare", text_allowed=True), ("bare", None))
        with self.assertRaises(events.BadRequest):
            events.fields("bare", text_allowed=False)
        with self.assertRaises(events.BadRequest):
            events.payload({"httpMethod": "POST", "body": "x" * 2000}, 1024)

    def test_a_body_is_refused_above_the_limit_or_when_not_json(self):
        self.assertEqual(events.parse_json(b'{"input": "hi"}', 100), {"input": "hi"})
        for raw, why in ((b"x" * 101, "too large"), (b"{", "not valid JSON"), (b"\xff", "not valid JSON"),
                         (b"[" * 100 + b"]" * 100, None)):
            if why is None:  # deep but small: parsed, or refused as too deep, never a crash
                try:
                    events.parse_json(raw, 10_000)
                except events.BadRequest as err:
                    self.assertIn("nested", str(err))
                continue
            with self.assertRaises(events.BadRequest) as refused:
                events.parse_json(raw, 100)
            self.assertIn(why, str(refused.exception))


class Names(unittest.TestCase):
    """The names agentdeploy and the runtime share come from one file both read."""

    def test_the_names_are_the_files_and_the_body_limit_can_be_lowered(self):
        path = os.path.join(os.path.dirname(names.__file__), "names.json")
        with open(path, encoding="utf-8") as file:
            shared = json.load(file)
        self.assertEqual(names.SESSION_BUCKET_VARIABLE, shared["session_bucket_variable"])
        self.assertEqual(names.ORIGIN_STAGE_VARIABLE, shared["origin_stage_variable"])
        self.assertEqual(names.max_body_bytes(), shared["max_body_bytes"])
        with mock.patch.dict(os.environ, {names.MAX_BODY_BYTES_VARIABLE: "10"}):
            self.assertEqual(names.max_body_bytes(), 10)


class Entries(unittest.TestCase):
    """Calling the entry, whatever it is."""

    def test_an_entry_is_called_with_the_arguments_it_takes(self):
        def one(text):
            return text.upper()

        def two(text, data):
            return [text, data]

        async def later(text, data=None):
            return f"async {text} {data}"

        self.assertEqual(entries.positional_arity(one), 1)
        self.assertEqual(entries.positional_arity(print), 2)  # no readable signature: both
        self.assertEqual(entries.Entry(one, kind="main", name="one", arity=None, is_async=False).call("hi", {"x": 1}), "HI")
        self.assertEqual(entries.Entry(two, kind="main", name="two", arity=2, is_async=False).call("hi", 3), ["hi", 3])
        self.assertEqual(entries.Entry(later, kind="main", name="later", arity=2, is_async=True).call("hi", 4), "async hi 4")

    def test_an_agent_answers_as_text_and_streams_its_events(self):
        agent = entries.Entry(build(), kind="agent", name="agent", arity=None, is_async=False)
        self.assertIn("1 message", agent.call("hello", None))
        seen = []

        async def send(event):
            seen.append(event)

        answer = asyncio.run(entries.Entry(build(), kind="agent", name="agent", arity=None, is_async=False)
                             .stream("hello", None, send))
        self.assertIn("1 message", answer)
        self.assertTrue(any(isinstance(e, dict) and "result" in e for e in seen))

    def test_an_own_handlers_status_is_its_status_code_when_it_is_one(self):
        self.assertEqual(entries.status_of({"statusCode": 418}), 418)
        self.assertEqual(entries.status_of({"statusCode": 1000}), 200)
        self.assertEqual(entries.status_of("text"), 200)


class Conversation(unittest.TestCase):
    """Whose conversation a request continues."""

    def test_the_modes(self):
        self.assertTrue(Conversations("isolated", "url").isolated)
        shared = Conversations("shared", "url")
        self.assertFalse(shared.isolated or shared.with_sessions)
        with_sessions = Conversations("session", "url")
        self.assertTrue(with_sessions.isolated and with_sessions.with_sessions)

    def test_isolated_requests_each_start_from_the_agent_as_built(self):
        agent = build()
        conversations = Conversations("isolated", "url")
        for _ in range(2):
            conversations.begin_request()
            try:
                self.assertIn("1 message", said(agent, "hello"))
            finally:
                conversations.end_request()


class Handlers(unittest.TestCase):
    """The handler assembled from its parts: what a caller is answered."""

    def handler(self, entry, kind="main", conversation="isolated"):
        return Handler(entries.Entry(entry, kind=kind, name="main", arity=None, is_async=False),
                       Conversations(conversation, "url"))

    def test_output_refusal_and_failure_over_http_and_direct(self):
        def main(text):
            if text == "boom":
                raise ValueError("the secret detail")
            return {"echo": text}

        handler = self.handler(main)
        self.assertEqual(handler.answer({"input": "hi"}, None), (200, {"output": {"echo": "hi"}}))
        self.assertEqual(handler.answer({}, None)[0], 400)
        status, body = handler.answer({"rawPath": "/", "body": json.dumps({"input": "boom"})}, None)
        self.assertEqual((status, body), (500, {"error": "ValueError", "request_id": None}))
        http = handler.lambda_handler({"rawPath": "/", "body": json.dumps({"input": "hi"})}, None)
        self.assertEqual((http["statusCode"], json.loads(http["body"])), (200, {"output": {"echo": "hi"}}))

    def test_argparse_and_sys_exit_answer_500_and_the_process_serves_the_next_caller(self):
        import argparse
        import sys

        class Stop(BaseException):
            pass

        def main(text):
            if text == "argparse":
                argparse.ArgumentParser().parse_args(["--no-such-flag"])  # exits 2
            if text == "exit":
                sys.exit(3)
            if text == "base":
                raise Stop("the secret detail")
            return {"echo": text}

        handler = self.handler(main)
        for text, error in (("argparse", "SystemExit"), ("exit", "SystemExit"), ("base", "Stop")):
            http = handler.lambda_handler({"rawPath": "/", "body": json.dumps({"input": text})},
                                          types.SimpleNamespace(aws_request_id="req-7"))
            self.assertEqual((http["statusCode"], json.loads(http["body"])),
                             (500, {"error": error, "request_id": "req-7"}), text)
        self.assertEqual(handler.answer({"input": "next"}, None), (200, {"output": {"echo": "next"}}))
        # Ctrl-C of a local run is the process's own: passed on.
        with self.assertRaises(KeyboardInterrupt):
            self.handler(lambda text: (_ for _ in ()).throw(KeyboardInterrupt())).answer({"input": "x"}, None)

    def test_an_own_handler_gets_the_raw_event_and_its_answer_passes_through(self):
        answer = {"statusCode": 201, "body": "made"}
        handler = self.handler(lambda event, context: dict(answer, seen=event), kind="handler")
        self.assertEqual(handler.lambda_handler({"anything": 1}, None), dict(answer, seen={"anything": 1}))


class Answers(unittest.TestCase):
    """The one mapping from what went wrong to what the caller is told."""

    def test_refusals_are_the_callers_and_say_why(self):
        self.assertEqual(answers.refusal(events.BadRequest("missing input")),
                         (400, {"error": "BadRequest", "message": "missing input"}))
        status, body = answers.refusal(sessions.NoCallerIdentity())
        self.assertEqual((status, body["error"]), (403, "NoCallerIdentity"))
        status, body = answers.refusal(sessions.Conflict())
        self.assertEqual((status, body["error"]), (409, "SessionConflict"))

    def test_a_failure_tells_an_http_caller_the_type_and_request_id_never_the_message(self):
        err = ValueError("arn:aws:iam::123456789012:role/secret")
        self.assertEqual(answers.failure(err, "main", "req-1", is_http=True),
                         (500, {"error": "ValueError", "request_id": "req-1"}))
        self.assertEqual(answers.failure(err, "main", "req-1", is_http=False),
                         (500, {"error": "ValueError", "message": "arn:aws:iam::123456789012:role/secret"}))
        self.assertEqual(answers.failure(SystemExit(3), "main", None, is_http=True)[1]["error"], "SystemExit")


class Scratch(unittest.TestCase):
    """A temporary folder per request where requests share an environment (managed instances)."""

    def test_a_request_writes_its_own_folder_which_is_gone_once_it_ends(self):
        import tempfile

        from agentdeploy_runtime.scratch import Scratch as RequestScratch

        before = tempfile.gettempdir()
        scratch = RequestScratch(concurrent=True)
        scratch.begin()
        made = tempfile.mkdtemp()
        self.assertEqual(os.path.dirname(made), scratch.folder)
        self.assertEqual(os.environ["TMPDIR"], scratch.folder)
        folder = scratch.folder
        scratch.end()
        self.assertFalse(os.path.exists(folder))
        self.assertEqual(tempfile.gettempdir(), before)
        self.assertNotEqual(os.environ.get("TMPDIR"), folder)
        # One request per environment (Lambda's default): nothing changes.
        alone = RequestScratch(concurrent=False)
        alone.begin()
        self.assertEqual(tempfile.gettempdir(), before)
        alone.end()

    def test_the_concurrency_is_lambdas_variable_and_a_bad_value_is_one(self):
        from agentdeploy_runtime.scratch import concurrency

        for value, expected in (("10", 10), ("1", 1), ("x", 1), ("0", 1)):
            with mock.patch.dict(os.environ, {"AWS_LAMBDA_MAX_CONCURRENCY": value}):
                self.assertEqual(concurrency(), expected, value)
        with mock.patch.dict(os.environ, {}, clear=True):
            self.assertEqual(concurrency(), 1)


if __name__ == "__main__":
    unittest.main()
