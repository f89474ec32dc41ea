"""The per-request metrics record (agentdeploy_runtime.metrics): the CloudWatch Embedded Metric
Format documents the handler writes on its log, for a success, a 400, a 500, a streamed answer,
tool calls, a cold and a warm request, with the stub models (which report token usage). Run by
`cargo test` under the runtime's Python 3.13 with real strands-agents
(tests/suite/runtime_module.rs).

Usage: python3.13 -m unittest tests/python/test_metrics.py   (PYTHONPATH: strands,
templates/runtime, fixtures/conversations, fixtures/streaming)
"""

import contextlib
import http.client
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

import agentdeploy_runtime
from agentdeploy_runtime import agents, metrics

agentdeploy_runtime.track()

from strands import Agent  # noqa: E402  (after track(), as the bootstrap orders it)
from stub_model import ReportingModel  # noqa: E402

os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "metered"
os.environ["AWS_LAMBDA_FUNCTION_VERSION"] = "7"

COMMON = dict(endpoint="url")
# What a caller typed: it must reach the model and never the metrics.
PRIVATE = "my card is 4111-1111-1111-1111"


class Context:
    aws_request_id = "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:metered:live"


def url_event(body):
    return {"rawPath": "/", "requestContext": {"http": {"method": "POST"}}, "body": json.dumps(body)}


def emf_lines(text):
    """Every line of `text` that is an EMF document, parsed (and every line must be one)."""
    documents = [json.loads(line) for line in text.splitlines() if line.strip()]
    for document in documents:
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "agentdeploy", document
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], (int, float)), (metric, document)
        for dimension_set in directive["Dimensions"]:
            for dimension in dimension_set:
                assert isinstance(document[dimension], str), (dimension, document)
    return documents


def call(handler, event):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        answer = handler(event, Context())
    return answer, emf_lines(out.getvalue())


def dimensions(document):
    return document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]


class Buffered(unittest.TestCase):
    def setUp(self):
        agents.end_request()

    def agent_handler(self, agent, conversation="isolated"):
        return agentdeploy_runtime.make_handler(agent, kind="agent", name="agent", arity=None, is_async=False,
                                                conversation=conversation, **COMMON)

    def test_a_success_records_duration_tokens_and_model_calls_and_no_input_text(self):
        handler = self.agent_handler(Agent(model=ReportingModel("stub-model"), callback_handler=None))
        answer, documents = call(handler, url_event({"input": PRIVATE}))
        self.assertEqual(answer["statusCode"], 200)
        self.assertIn(PRIVATE, answer["body"], "the input reached the model")
        request, model = documents
        self.assertEqual(dimensions(request), [["FunctionName"], ["FunctionName", "Version"]])
        self.assertEqual((request["FunctionName"], request["Version"]), ("metered", "7"))
        self.assertEqual(request["Requests"], 1)
        self.assertEqual((request["StatusCode"], request["Outcome"]), (200, "2xx"))
        self.assertEqual((request["ClientErrors"], request["ServerErrors"]), (0, 0))
        self.assertGreater(request["Duration"], 0)
        # The stub reports 10 input tokens per message and a token per word written.
        words = len(f"stub-model saw 1 messages: {PRIVATE}".split())
        self.assertEqual((request["InputTokens"], request["OutputTokens"]), (10, words))
        self.assertEqual((request["ModelCalls"], request["ToolCalls"]), (1, 0))
        self.assertEqual((request["Streamed"], request["Conversation"]), (False, "isolated"))
        self.assertEqual((request["Alias"], request["RequestId"]), ("live", "req-1"))
        self.assertNotIn("ErrorType", request)
        self.assertEqual(dimensions(model), [["FunctionName", "ModelId"]])
        self.assertEqual((model["ModelId"], model["InputTokens"], model["OutputTokens"], model["ModelCalls"]),
                         ("stub-model", 10, words, 1))
        everything = json.dumps(documents)
        for fragment in ("4111", "card", "saw"):
            self.assertNotIn(fragment, everything)

    def test_a_caller_cannot_write_a_metrics_record_through_what_the_agent_prints(self):
        forged = json.dumps({"_aws": {"Timestamp": 1, "CloudWatchMetrics": [{
            "Namespace": "agentdeploy", "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]},
            "FunctionName": "metered", "Requests": 1000000})

        def main(user_input, input_data=None):
            print(user_input)  # an agent that logs what it was asked
            print("  " + user_input.replace('"_aws"', '"\\u005faws"'))  # escaped, indented
            print("streamed text without a newline", end="", flush=True)  # Strands' default printer
            return "ok"

        handler = agentdeploy_runtime.make_handler(main, kind="main", name="main", arity=2, is_async=False,
                                                   conversation="isolated", **COMMON)
        out = io.StringIO()
        with contextlib.redirect_stdout(metrics.GuardedOutput(out)):
            answer = handler(url_event({"input": forged}), Context())
        self.assertEqual(answer["statusCode"], 200)
        lines = out.getvalue().splitlines()
        records = []
        for line in lines:
            try:
                document = json.loads(line)
            except ValueError:
                continue
            if isinstance(document, dict) and "_aws" in document:
                records.append(document)
        self.assertEqual(len(records), 1, lines)
        self.assertEqual(records[0]["Requests"], 1)
        self.assertEqual(lines[0], metrics.GuardedOutput.NEUTRALISED + forged)
        self.assertTrue(lines[1].startswith(metrics.GuardedOutput.NEUTRALISED), lines[1])
        self.assertEqual(lines[2], "streamed text without a newline", "the record has a line of its own")
        self.assertEqual(json.loads(lines[3]), records[0])

    def test_a_main_that_calls_sys_exit_answers_500_and_the_process_serves_the_next(self):
        import sys as system

        def main(user_input, input_data=None):
            if user_input == "quit":
                system.exit(3)
            return user_input

        handler = agentdeploy_runtime.make_handler(main, kind="main", name="main", arity=2, is_async=False,
                                                   conversation="isolated", **COMMON)
        answer, documents = call(handler, url_event({"input": "quit"}))
        self.assertEqual(answer["statusCode"], 500)
        self.assertEqual(json.loads(answer["body"])["error"], "SystemExit")
        self.assertEqual(documents[0]["ServerErrors"], 1)
        answer, _ = call(handler, url_event({"input": "still here"}))
        self.assertEqual(json.loads(answer["body"])["output"], "still here")

    def test_a_bad_request_is_a_client_error_and_a_failing_entry_a_server_error(self):
        agent = Agent(model=ReportingModel(), callback_handler=None)
        handler = self.agent_handler(agent)
        answer, (request,) = call(handler, url_event({"nothing": PRIVATE}))
        self.assertEqual(answer["statusCode"], 400)
        self.assertEqual((request["StatusCode"], request["Outcome"], request["ErrorType"]), (400, "4xx", "BadRequest"))
        self.assertEqual((request["ClientErrors"], request["ServerErrors"], request["ModelCalls"]), (1, 0, 0))

        def main(user_input):
            raise PermissionError(f"denied for {user_input}")

        failing = agentdeploy_runtime.make_handler(main, kind="main", name="main", arity=1, is_async=False,
                                                   conversation="isolated", **COMMON)
        answer, (request,) = call(failing, {"input": PRIVATE})  # a direct Invoke: the message is told
        self.assertIn(PRIVATE, answer["message"])
        self.assertEqual((request["StatusCode"], request["Outcome"], request["ErrorType"]), (500, "5xx", "PermissionError"))
        self.assertEqual((request["ClientErrors"], request["ServerErrors"]), (0, 1))
        self.assertNotIn("4111", json.dumps(request))

    def test_an_agents_own_handler_is_measured_by_its_status_and_its_exceptions(self):
        def handler(event, context):
            if event.get("boom"):
                raise KeyError("boom")
            return {"statusCode": 404, "body": "{}"}

        raw = agentdeploy_runtime.make_handler(handler, kind="handler", name="handler", arity=2, is_async=False,
                                               conversation="shared", **COMMON)
        _, (request,) = call(raw, {})
        self.assertEqual((request["StatusCode"], request["ClientErrors"]), (404, 1))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), self.assertRaises(KeyError):
            raw({"boom": True}, Context())
        (request,) = emf_lines(out.getvalue())
        self.assertEqual((request["StatusCode"], request["ErrorType"], request["ServerErrors"]), (500, "KeyError", 1))

    def test_tool_calls_are_counted_by_tool_and_tokens_by_model(self):
        helper = Agent(name="researcher", description="Looks things up.", model=ReportingModel("small-model"),
                       callback_handler=None)
        lead = Agent(model=ReportingModel("large-model", delegate_to="researcher"), tools=[helper.as_tool()],
                     callback_handler=None)
        _, documents = call(self.agent_handler(lead), {"input": "find it"})
        request, *per_model, tool = documents
        self.assertEqual(request["ToolCalls"], 1)
        # The lead called its model twice (the tool call, then the answer); the helper once.
        self.assertEqual(request["ModelCalls"], 3)
        self.assertEqual({m["ModelId"]: m["ModelCalls"] for m in per_model}, {"large-model": 2, "small-model": 1})
        self.assertEqual(request["InputTokens"], sum(m["InputTokens"] for m in per_model))
        self.assertEqual(dimensions(tool), [["FunctionName", "ToolName"]])
        self.assertEqual((tool["ToolName"], tool["ToolCalls"]), ("researcher", 1))

    def test_the_first_request_of_a_process_is_cold_and_the_next_ones_warm(self):
        # A fresh process, as Lambda starts one: its first request is the cold start.
        script = textwrap.dedent("""
            import json, sys, time
            started = time.perf_counter()
            import agentdeploy_runtime
            agentdeploy_runtime.track()
            from strands import Agent
            from stub_model import ReportingModel
            handler = agentdeploy_runtime.make_handler(
                Agent(model=ReportingModel(), callback_handler=None), kind="agent", name="agent", arity=None,
                is_async=False, conversation="isolated", endpoint="url")
            agentdeploy_runtime.metrics.init_done(started)  # as the bootstrap says after the import
            for text in ("one", "two", "three"):
                handler({"input": text}, None)
        """)
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run([os.environ.get("AGENTDEPLOY_TEST_PYTHON", sys.executable), "-c", script], capture_output=True, text=True, cwd=scratch,
                                  env=dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.abspath(p) for p in sys.path if p)),
                                  timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        requests = [d for d in emf_lines(done.stdout) if "Requests" in d]
        self.assertEqual([r["ColdStart"] for r in requests], [1, 0, 0])
        # The cold start's record carries the import's time, as a metric; the warm ones none.
        self.assertGreater(requests[0]["InitDuration"], 0)
        self.assertIn({"Name": "InitDuration", "Unit": "Milliseconds"},
                      requests[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"])
        self.assertEqual(["InitDuration" in r for r in requests], [True, False, False])
        self.assertEqual([r["Requests"] for r in requests], [1, 1, 1])


class Streamed(unittest.TestCase):
    def test_a_streamed_answer_is_measured_when_it_ends(self):
        from test_streaming import Served, read_all

        gate = os.path.join(tempfile.mkdtemp(prefix="agentdeploy-metrics-"), "gate")
        open(gate, "w").close()  # the pausing model writes its answer at once
        from pausing_model import PausingModel

        agent = Agent(model=PausingModel(gate, name="streaming-model"), callback_handler=None)
        served = Served(agentdeploy_runtime.make_app(agent, kind="agent", name="agent", arity=None, is_async=False,
                                                     conversation="isolated", **COMMON))
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                connection, response = served.post("/", {"input": PRIVATE})
                events = read_all(response, bytearray())
                connection.close()
                self.assertEqual(events[-1], {"output": f"streaming-model saw 1 messages: {PRIVATE}"})
                connection, response = served.post("/", {"prompt": 3})
                self.assertEqual(response.status, 400)
                response.read()
                connection.close()
                # The adapter's readiness check is not a request.
                connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=60)
                connection.request("GET", "/ping")
                connection.getresponse().read()
                connection.close()
        finally:
            served.close()
        request, model, bad = emf_lines(out.getvalue())
        self.assertEqual((request["Streamed"], request["StatusCode"], request["Requests"]), (True, 200, 1))
        # The pausing model reports 3 tokens in, 2 out.
        self.assertEqual((request["InputTokens"], request["OutputTokens"], request["ModelCalls"]), (3, 2, 1))
        self.assertEqual((model["ModelId"], model["OutputTokens"]), ("streaming-model", 2))
        self.assertEqual((bad["StatusCode"], bad["ErrorType"], bad["Streamed"]), (400, "BadRequest", True))
        self.assertNotIn("4111", out.getvalue())


class BedrockCalls(unittest.TestCase):
    """Bedrock calls the code makes itself count from their answers; a Strands Bedrock model's
    own calls count once (Strands counts them)."""

    def stubbed_client(self):
        import boto3
        from botocore.stub import Stubber

        client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x",
                              aws_secret_access_key="y")
        return client, Stubber(client)

    def test_a_direct_converse_and_invoke_model_count_their_tokens(self):
        import io as _io
        from botocore.response import StreamingBody

        client, stub = self.stubbed_client()
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 11, "outputTokens": 4, "totalTokens": 15},
            "metrics": {"latencyMs": 1}})
        stub.add_response("invoke_model", {
            "body": StreamingBody(_io.BytesIO(b"{}"), 2), "contentType": "application/json",
            "ResponseMetadata": {"HTTPHeaders": {"x-amzn-bedrock-input-token-count": "7",
                                                 "x-amzn-bedrock-output-token-count": "3"}}})
        stub.activate()

        def main(user_input):
            client.converse(modelId="amazon.nova-lite-v1:0",
                            messages=[{"role": "user", "content": [{"text": user_input}]}])
            client.invoke_model(modelId="amazon.titan-text-express-v1", body=b"{}")
            return "done"

        handler = agentdeploy_runtime.make_handler(main, kind="main", name="main", arity=1, is_async=False,
                                                   conversation="isolated", **COMMON)
        _, (request, *models) = call(handler, {"input": PRIVATE})
        self.assertEqual((request["InputTokens"], request["OutputTokens"], request["ModelCalls"]), (18, 7, 2))
        self.assertEqual({m["ModelId"]: (m["InputTokens"], m["OutputTokens"]) for m in models},
                         {"amazon.nova-lite-v1:0": (11, 4), "amazon.titan-text-express-v1": (7, 3)})
        stub.assert_no_pending_responses()

    def test_a_strands_bedrock_model_is_counted_once(self):
        from strands.models.bedrock import BedrockModel

        model = BedrockModel(model_id="anthropic.claude-3-haiku-20240307-v1:0", streaming=False,
                             region_name="us-east-1")
        client, stub = self.stubbed_client()
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "hello there"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 20, "outputTokens": 2, "totalTokens": 22},
            "metrics": {"latencyMs": 1}})
        stub.activate()
        model.client = client
        handler = agentdeploy_runtime.make_handler(Agent(model=model, callback_handler=None), kind="agent",
                                                   name="agent", arity=None, is_async=False,
                                                   conversation="isolated", **COMMON)
        answer, (request, model_record) = call(handler, {"input": "hi"})
        self.assertEqual(answer, {"output": "hello there"})
        self.assertEqual((request["InputTokens"], request["OutputTokens"], request["ModelCalls"]), (20, 2, 1))
        self.assertEqual(model_record["ModelId"], "anthropic.claude-3-haiku-20240307-v1:0")


class Records(unittest.TestCase):
    def test_alias_is_read_from_the_invoked_arn_only_when_it_names_one(self):
        base = "arn:aws:lambda:us-east-1:123456789012:function:f"
        self.assertEqual(metrics.alias_of(base + ":live"), "live")
        self.assertIsNone(metrics.alias_of(base + ":12"))
        self.assertIsNone(metrics.alias_of(base))
        self.assertIsNone(metrics.alias_of(None))


if __name__ == "__main__":
    unittest.main()
