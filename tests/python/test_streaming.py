"""Tests of the streamed path (agentdeploy_runtime.web + .streaming), run by `cargo test` under the
runtime's Python 3.13 with real strands-agents, bedrock-agentcore and FastAPI
(tests/suite/runtime_module.rs). Each kind is served over a real socket by the server a deployed
function runs behind the Web Adapter; the pausing stub model holds its second delta until the
test opens the gate, so "the first event arrived while the model was still writing" is a fact the
test observes, not a timing.

Usage: python3.13 -m unittest tests/python/test_streaming.py   (PYTHONPATH: strands,
templates/runtime, fixtures/conversations, fixtures/streaming)
"""

import asyncio
import concurrent.futures
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import types
import unittest

from botocore.exceptions import ClientError

import agentdeploy_runtime
from agentdeploy_runtime import agents, sessions, web

agentdeploy_runtime.track()
agentdeploy_runtime.neutralise_servers()

GATE = os.path.join(tempfile.mkdtemp(prefix="agentdeploy-stream-"), "gate")
os.environ["STREAM_GATE"] = GATE

from strands import Agent  # noqa: E402  (after track(), as the bootstrap orders it)
from pausing_model import PausingModel  # noqa: E402
from strands.models.model import Model  # noqa: E402

COMMON = dict(conversation="isolated", endpoint="url")


class Served:
    """`app` served by web.serve on a free port, in a thread with its own event loop."""

    def __init__(self, app):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def listening(port):
            self.port = port
            ready.set()

        def run():
            asyncio.set_event_loop(self.loop)
            self.task = self.loop.create_task(web.serve(app, port=0, ready=listening))
            try:
                self.loop.run_until_complete(self.task)
            except asyncio.CancelledError:
                pass

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(60):
            raise RuntimeError("the server did not start listening")

    def close(self):
        self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(60)
        self.loop.close()

    def post(self, path, body, headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request("POST", path, body=json.dumps(body),
                           headers={"Content-Type": "application/json", **(headers or {})})
        return connection, connection.getresponse()


def read_event(response, buffer):
    """The next Server-Sent Event's JSON (None at the end of the stream)."""
    while b"\n\n" not in buffer:
        chunk = response.read1(65536)
        if not chunk:
            return None
        buffer += chunk
    event, _, rest = bytes(buffer).partition(b"\n\n")
    buffer[:] = rest
    assert event.startswith(b"data: "), event
    return json.loads(event[len(b"data: "):])


def read_all(response, buffer):
    found = []
    while (event := read_event(response, buffer)) is not None:
        found.append(event)
    return found


class StreamedKinds(unittest.TestCase):
    def setUp(self):
        if os.path.exists(GATE):
            os.remove(GATE)
        agents.end_request()

    def open_gate(self):
        with open(GATE, "w"):
            pass

    def test_an_agent_entry_streams_its_first_delta_while_the_model_is_still_writing(self):
        agent = Agent(model=PausingModel(GATE), callback_handler=None)
        served = Served(agentdeploy_runtime.make_app(agent, kind="agent", name="agent", arity=None,
                                                     is_async=False, **COMMON))
        try:
            connection, response = served.post("/", {"input": "alice"})
            self.assertEqual(response.status, 200)
            self.assertEqual(response.getheader("Content-Type"), "text/event-stream")
            buffer = bytearray()
            self.assertEqual(read_event(response, buffer), {"data": "stub saw 1 messages: "})
            self.assertFalse(os.path.exists(GATE), "the first delta came before the model went on")
            self.open_gate()
            rest = read_all(response, buffer)
            self.assertEqual(rest, [{"data": "alice"}, {"output": "stub saw 1 messages: alice"}])
            connection.close()
            # The next caller on the same warm process starts from the agent as built, and an
            # AgentCore-shaped request ({"prompt": ...} at /invocations) is answered the same way.
            connection, response = served.post("/invocations", {"prompt": "bob"})
            events = read_all(response, bytearray())
            self.assertEqual(events[-1], {"output": "stub saw 1 messages: bob"})
            connection.close()
        finally:
            served.close()

    def test_a_caller_who_leaves_mid_stream_stops_the_agent_and_the_next_caller_is_served(self):
        agent = Agent(model=PausingModel(GATE), callback_handler=None)
        served = Served(agentdeploy_runtime.make_app(agent, kind="agent", name="agent", arity=None,
                                                     is_async=False, **COMMON))
        try:
            connection, response = served.post("/", {"input": "alice"})
            self.assertEqual(read_event(response, bytearray()), {"data": "stub saw 1 messages: "})
            connection.sock.shutdown(socket.SHUT_RDWR)
            connection.close()
            self.open_gate()
            connection, response = served.post("/", {"input": "bob"})
            self.assertEqual(read_all(response, bytearray())[-1], {"output": "stub saw 1 messages: bob"})
            connection.close()
        finally:
            served.close()

    def test_main_answers_one_event_and_errors_name_only_their_type(self):
        def main(user_input, input_data=None):
            if user_input == "fail":
                raise ValueError("arn:aws:iam::123456789012:role/secret-role")
            return {"echo": user_input, "data": input_data}

        served = Served(agentdeploy_runtime.make_app(main, kind="main", name="main", arity=2,
                                                     is_async=False, **COMMON))
        try:
            connection, response = served.post("/", {"input": "hi", "data": {"n": 1}})
            self.assertEqual(read_all(response, bytearray()), [{"output": {"echo": "hi", "data": {"n": 1}}}])
            connection.close()
            connection, response = served.post("/", {"input": "fail"})
            events = read_all(response, bytearray())
            self.assertEqual(events[-1]["error"], "ValueError")
            self.assertNotIn("123456789012", json.dumps(events))
            connection.close()
            connection, response = served.post("/", {"nothing": 1})
            self.assertEqual(response.status, 400)
            self.assertIn("input", json.loads(response.read())["message"])
            connection.close()
            # A malformed request head is refused with 400, and the server goes on serving.
            with socket.create_connection(("127.0.0.1", served.port), timeout=60) as raw:
                raw.sendall(b"POST / HTTP/1.1\r\nHost: fn\r\nContent-Length: lots\r\n\r\n")
                reply = raw.recv(65536)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
            self.assertIn(b"invalid Content-Length", reply)
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
            connection.request("GET", "/ping")
            self.assertEqual(json.loads(connection.getresponse().read()), {"status": "Healthy"})
            connection.close()
        finally:
            served.close()

    def test_requests_that_could_be_read_two_ways_are_refused_and_the_server_goes_on(self):
        def main(user_input, input_data=None):
            if user_input == "odd":
                return {"nan": float("nan"), "inf": float("inf"), "lone": "a\ud800b"}
            return user_input

        served = Served(agentdeploy_runtime.make_app(main, kind="main", name="main", arity=2,
                                                     is_async=False, **COMMON))

        def exchange(raw, read_all_of_it=True):
            with socket.create_connection(("127.0.0.1", served.port), timeout=60) as conn:
                conn.sendall(raw)
                reply = b""
                while read_all_of_it and (chunk := conn.recv(65536)):
                    reply += chunk
                return reply if read_all_of_it else conn.recv(65536)

        body = b'{"input": "hi"}'
        try:
            for raw, why in [
                (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 70000 + b"\r\n", b"chunk size line too long"),
                (b"POST / HTTP/1.1\r\nContent-Length: 15\r\nContent-Length: 4\r\n\r\n" + body, b"given twice"),
                (b"POST / HTTP/1.1\r\nContent-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n" + body + b"\r\n0\r\n\r\n", b"ambiguous"),
                (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", b"ambiguous"),
                (b"POST / HTTP/1.1\r\nContent-Length: +15\r\n\r\n" + body, b"invalid Content-Length"),
                (b"POST / HTTP/1.1\r\nContent-Length: 1_5\r\n\r\n" + body, b"invalid Content-Length"),
                (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0xf\r\n" + body + b"\r\n0\r\n\r\n", b"invalid chunk size"),
            ]:
                reply = exchange(raw)
                self.assertTrue(reply.startswith(b"HTTP/1.1 400"), (why, reply[:200]))
                self.assertIn(why, reply)
            # A body nested past Python's recursion limit is the caller's error: 400, not 500.
            deep = b'{"input": "x", "data": ' + b"[" * 100000 + b"]" * 100000 + b"}"
            reply = exchange(b"POST / HTTP/1.1\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(deep), deep))
            self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply[:300])
            # Expect: 100-continue is answered before the body is sent.
            continued = exchange(b"POST / HTTP/1.1\r\nContent-Length: 15\r\nExpect: 100-continue\r\n\r\n",
                                 read_all_of_it=False)
            self.assertTrue(continued.startswith(b"HTTP/1.1 100 Continue"), continued)
            # HTTP/1.0 without keep-alive: the answer, then the connection closes.
            reply = exchange(b"POST / HTTP/1.0\r\nContent-Length: 15\r\n\r\n" + body)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:200])
            self.assertIn(b'"output": "hi"', reply)
            # What JSON cannot carry (NaN, infinities, a lone surrogate) still makes valid JSON.
            connection, response = served.post("/", {"input": "odd"})
            events = read_all(response, bytearray())
            self.assertEqual(events[-1]["output"], {"nan": None, "inf": None, "lone": "a\ufffdb"})
            connection.close()
        finally:
            served.close()

    def test_an_agentcore_generator_entrypoint_streams_as_agentcore_does(self):
        # Importing the sample runs its module-level app.run(): neutralised, the import returns.
        probe = subprocess.run(
            [os.environ.get("AGENTDEPLOY_TEST_PYTHON", sys.executable), "-c",
             "import agentdeploy_runtime; agentdeploy_runtime.neutralise_servers(); import agentcore_streaming"],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(probe.returncode, 0, probe.stderr)
        self.assertIn("server start at import was skipped", probe.stderr)
        import agentcore_streaming

        served = Served(agentdeploy_runtime.make_app(
            agentcore_streaming.invoke, kind="entrypoint", name="invoke", arity=None, is_async=True,
            app=agentcore_streaming.app, **COMMON))
        try:
            connection, response = served.post(
                "/", {"prompt": "carol"}, headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s-1"})
            self.assertEqual(response.status, 200)
            self.assertTrue(response.getheader("Content-Type").startswith("text/event-stream"))
            buffer = bytearray()
            self.assertEqual(read_event(response, buffer), {"delta": "core saw 1 messages: ", "session": "s-1"})
            self.assertFalse(os.path.exists(GATE))
            self.open_gate()
            self.assertEqual(read_all(response, buffer), [{"delta": "carol", "session": "s-1"}])
            connection.close()
            # Without the header a session id is made up, given to the entrypoint and returned.
            connection, response = served.post("/invocations", {"prompt": "dave"})
            events = read_all(response, bytearray())
            given = response.getheader("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id")
            self.assertTrue(given)
            self.assertEqual(events, [{"delta": "core saw 1 messages: ", "session": given},
                                      {"delta": "dave", "session": given}])
            connection.close()
        finally:
            served.close()

    def test_sync_async_and_generator_entrypoints_answer_as_agentcore_does(self):
        from bedrock_agentcore import BedrockAgentCoreApp

        agent = Agent(model=PausingModel(GATE, name="core"), callback_handler=None)
        self.open_gate()

        def served_entrypoint(function):
            app = BedrockAgentCoreApp()
            entry = app.entrypoint(function)
            return Served(agentdeploy_runtime.make_app(entry, kind="entrypoint", name=function.__name__,
                                                       arity=None, is_async=False, app=app, **COMMON))

        def sync_entry(payload):
            return {"answer": str(agent(payload["prompt"])).rstrip()}

        async def async_entry(payload, context):
            result = await agent.invoke_async(payload["prompt"])
            return {"answer": str(result).rstrip(), "session": context.session_id}

        def generator_entry(payload):
            yield {"step": 1, "prompt": payload["prompt"]}
            yield {"step": 2}

        for function, body, expected in [
            (sync_entry, {"prompt": "gina"}, {"answer": "core saw 1 messages: gina"}),
            (async_entry, {"prompt": "hal"}, {"answer": "core saw 1 messages: hal", "session": "s-9"}),
        ]:
            served = served_entrypoint(function)
            try:
                for _ in range(2):  # a second caller on the warm process sees a fresh agent
                    connection, response = served.post(
                        "/", body, headers={"X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "s-9"})
                    self.assertEqual(response.status, 200)
                    self.assertEqual(json.loads(response.read()), expected)
                    connection.close()
            finally:
                served.close()
        served = served_entrypoint(generator_entry)
        try:
            connection, response = served.post("/invocations", {"prompt": "ivy"})
            self.assertEqual(read_all(response, bytearray()), [{"step": 1, "prompt": "ivy"}, {"step": 2}])
            connection.close()
        finally:
            served.close()

    def test_an_entrypoints_failure_answers_its_type_and_request_id_never_its_text(self):
        from bedrock_agentcore import BedrockAgentCoreApp

        secret = "arn:aws:iam::123456789012:role/agent-role is not authorized"

        def raising(payload):
            raise PermissionError(secret)

        async def raising_async(payload, context):
            raise PermissionError(secret)

        def generator(payload):
            yield {"step": 1}
            raise PermissionError(secret)

        async def async_generator(payload):
            yield {"step": 1}
            raise PermissionError(secret)

        context = json.dumps({"request_id": "req-42"})
        for function in (raising, raising_async, generator, async_generator):
            app = BedrockAgentCoreApp()
            entry = app.entrypoint(function)
            served = Served(agentdeploy_runtime.make_app(entry, kind="entrypoint", name=function.__name__,
                                                         arity=None, is_async=False, app=app, **COMMON))
            try:
                with self.assertLogs("agentdeploy.runtime", level="ERROR") as logged:
                    connection, response = served.post("/", {"prompt": "x"},
                                                       headers={"X-Amzn-Lambda-Context": context})
                    raw = response.read()
                    connection.close()
                self.assertNotIn(b"123456789012", raw, function.__name__)
                expected = {"error": "PermissionError", "request_id": "req-42"}
                if function in (raising, raising_async):
                    self.assertEqual((response.status, json.loads(raw)), (500, expected))
                else:
                    events = [json.loads(e[len(b"data: "):]) for e in raw.split(b"\n\n") if e.startswith(b"data: ")]
                    self.assertEqual(events, [{"step": 1}, expected], function.__name__)
                self.assertIn(secret, "\n".join(logged.output), "the text goes to the log")
            finally:
                served.close()

    def test_a_fastapi_app_is_served_with_its_own_routes_and_streaming_response(self):
        import fastapi_agent

        served = Served(agentdeploy_runtime.make_app(fastapi_agent.app, kind="asgi", name="app", arity=None,
                                                     is_async=False, **COMMON))
        try:
            connection, response = served.post("/ask", {"prompt": "erin"})
            self.assertEqual(response.status, 200)
            self.assertEqual(response.read1(65536), b"web saw 1 messages: ")
            self.assertFalse(os.path.exists(GATE))
            self.open_gate()
            self.assertEqual(response.read(), b"erin")
            connection.close()
            connection, response = served.post("/ask", {"prompt": "frank"})
            self.assertEqual(response.read(), b"web saw 1 messages: frank")
            connection.close()
            connection, response = served.post("/missing", {})
            self.assertEqual(response.status, 404)
            connection.close()
        finally:
            served.close()


class HistoryModel(Model):
    """Answers with every user text it was given ("heard: a1 | a2"), yielding to the event loop
    between its events so requests served at once interleave inside the model."""

    def __init__(self):
        self.config = {"model_id": "history"}

    def update_config(self, **config):
        self.config.update(config)

    def get_config(self):
        return self.config

    async def structured_output(self, output_model, prompt, system_prompt=None, **kwargs):
        raise NotImplementedError
        yield  # pragma: no cover

    async def stream(self, messages, tool_specs=None, system_prompt=None, **kwargs):
        heard = [block["text"] for message in messages if message["role"] == "user"
                 for block in message["content"] if "text" in block]
        for event in ({"messageStart": {"role": "assistant"}}, {"contentBlockStart": {"start": {}}},
                      {"contentBlockDelta": {"delta": {"text": "heard: "}}},
                      {"contentBlockDelta": {"delta": {"text": " | ".join(heard)}}},
                      {"contentBlockStop": {}}, {"messageStop": {"stopReason": "end_turn"}}):
            for _ in range(5):
                await asyncio.sleep(0)
            yield event


class SessionStore:
    """S3 as the session store uses it (GetObject, conditional PutObject), in memory."""

    def __init__(self):
        self.objects = {}
        self.lock = threading.Lock()
        self.exceptions = types.SimpleNamespace(ClientError=ClientError)

    def get_object(self, Bucket, Key):
        with self.lock:
            if Key not in self.objects:
                raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
            body, etag = self.objects[Key]
        return {"Body": io.BytesIO(body), "ETag": etag}

    def put_object(self, Bucket, Key, Body, ContentType=None, IfMatch=None, IfNoneMatch=None):
        with self.lock:
            current = self.objects.get(Key)
            if (IfNoneMatch == "*" and current) or (IfMatch and (not current or current[1] != IfMatch)):
                raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
            self.objects[Key] = (Body, f'"{len(self.objects)}-{hash(Body)}"')


class ConcurrentCallers(unittest.TestCase):
    """One process serving requests at once (the Web Adapter 1.0 and Lambda Managed Instances send
    concurrent requests to one process): each caller sees only its own turns, and each session
    stores only its own."""

    def setUp(self):
        agents.end_request()
        self.store = SessionStore()
        sessions._stores[("bucket", "sessions")] = sessions.BucketStore("sessions", s3=self.store)
        os.environ["AGENTDEPLOY_SESSION_BUCKET"] = "sessions"

    def tearDown(self):
        sessions._stores.clear()

    def served(self, kind):
        """The module-level agent as an `agent` entry, or called by a `main` (in a thread)."""
        agent = Agent(model=HistoryModel(), callback_handler=None)

        def main(user_input, input_data=None):
            return str(agent(user_input)).rstrip()

        entry = agent if kind == "agent" else main
        return Served(agentdeploy_runtime.make_app(
            entry, kind=kind, name=kind, arity=None if kind == "agent" else 2, is_async=False,
            **dict(COMMON, conversation="session")))

    def turn(self, served, caller, session, text):
        context = json.dumps({"http": {"method": "POST"}, "authorizer": {"iam": {"userArn": caller}}})
        connection, response = served.post("/", {"input": text, "session_id": session},
                                           headers={"X-Amzn-Request-Context": context})
        try:
            self.assertEqual(response.status, 200)
            last = read_all(response, bytearray())[-1]
            self.assertIn("output", last, last)
            return last["output"]
        finally:
            connection.close()

    def callers_at_once(self, count):
        for kind in ("agent", "main"):
            with self.subTest(kind=kind):
                self.store.objects.clear()
                self.callers_of(kind, count)

    def callers_of(self, kind, count):
        served = self.served(kind)
        try:
            callers = [f"arn:aws:iam::123456789012:user/caller{n}" for n in range(count)]
            for turn in (1, 2):
                with concurrent.futures.ThreadPoolExecutor(count) as pool:
                    answers = list(pool.map(
                        lambda n: self.turn(served, callers[n], f"s-{n}", f"caller{n} turn{turn}"),
                        range(count)))
                for n, answer in enumerate(answers):
                    expected = " | ".join(f"caller{n} turn{t}" for t in range(1, turn + 1))
                    self.assertEqual(answer, f"heard: {expected}", f"caller {n}, turn {turn}")
            self.assertEqual(len(self.store.objects), count)
            for body, _etag in self.store.objects.values():
                stored = json.dumps(json.loads(body))
                owners = {n for n in range(count) if f"caller{n} turn" in stored}
                self.assertEqual(len(owners), 1, stored[:400])
        finally:
            served.close()

    def test_two_callers_at_once_each_see_and_store_only_their_own_turns(self):
        self.callers_at_once(2)

    def test_ten_callers_at_once_each_see_and_store_only_their_own_turns(self):
        self.callers_at_once(10)


if __name__ == "__main__":
    unittest.main()
