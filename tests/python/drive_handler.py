"""Drives a rendered handler.py with real events, the way the Lambda runtime does.

Usage: python3.13 drive_handler.py HANDLER_DIR < events.json
events.json is a JSON list of events; prints a JSON list of the handler's return values.
The handler's own logging goes to stderr.
"""

import importlib
import json
import sys

sys.path.insert(0, sys.argv[1])
handler = importlib.import_module("handler")
events = json.load(sys.stdin)
results = [handler.lambda_handler(event, None) for event in events]
json.dump(results, sys.stdout)
