"""Drives a rendered handler with real events, the way the Lambda runtime does: it imports the
module the template names as the handler (`agentdeploy_bootstrap` for agents, which starts
recording agents before the agent's code runs) and calls `lambda_handler` with a context object.

Usage: python3.13 drive_handler.py HANDLER_DIR < events.json
events.json is a JSON list of events; prints a JSON list of the handler's return values.
The handler's own logging and its metrics records go to stderr.
"""

import importlib
import json
import os
import sys


class Context:
    """The parts of Lambda's context object a handler reads."""

    def __init__(self, number):
        self.aws_request_id = f"request-{number}"
        self.function_name = "fixture"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:fixture:live"


# What the handler prints (its per-request metrics records among it) goes where Lambda sends it,
# the log: here stderr. stdout carries the answers alone.
answers = sys.stdout
sys.stdout = sys.stderr
sys.path.insert(0, sys.argv[1])
entry = "agentdeploy_bootstrap" if os.path.exists(os.path.join(sys.argv[1], "agentdeploy_bootstrap.py")) else "handler"
handler = importlib.import_module(entry)
events = json.load(sys.stdin)
results = [handler.lambda_handler(event, Context(number)) for number, event in enumerate(events)]
json.dump(results, answers)
