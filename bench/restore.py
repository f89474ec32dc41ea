"""The cost of conversation isolation per request (target <= 2 ms for 10 agents with 20-message
initial states), measured on the rendered handler under the runtime's Python 3.13 with real
strands-agents, side by side with the whole request it is part of (a stub model: no network).

Usage: python3.13 bench/restore.py HANDLER_DIR   (bench/restore.sh renders the handler first)
"""

import json
import statistics
import sys
import time

sys.path.insert(0, sys.argv[1])
import agentdeploy_bootstrap as handler  # noqa: E402  (Lambda's entry: it tracks agents as built)
from agentdeploy_runtime import agents as tracking  # noqa: E402

ROUNDS = 2000
agents = [agent for _, agent in tracking.live()]
assert len(agents) == 10 and all(len(a.messages) == 20 for a in agents), [len(a.messages) for a in agents]


def median_seconds(fn, rounds):
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


restore = median_seconds(tracking.begin_request, ROUNDS)
request = median_seconds(lambda: handler.lambda_handler({"input": "hi"}, None), ROUNDS // 10)
print(json.dumps({
    "agents": len(agents),
    "initial_messages": 20,
    "restore_ms": round(restore * 1000, 3),
    "request_ms": round(request * 1000, 3),
    "restore_share_of_request": round(restore / request, 3),
}))
