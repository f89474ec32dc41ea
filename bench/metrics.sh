#!/usr/bin/env bash
# What the per-request metrics record costs a request: the rendered handler of a Strands agent
# with its stub model (no network), called as Lambda calls it, measured and its record written (as
# deployed) and not measured at all, side by side in one run (interleaved rounds, the
# median of each).
#   bash bench/metrics.sh        (after `bash .ci/setup` and `cargo build`)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${AGENTDEPLOY_TOOLS_DIR:-$HOME/.cache/agentdeploy-tools}
bin=$repo/target/debug/agentdeploy
work=$(mktemp -d -t agentdeploy-metrics-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp -r "$repo/fixtures/conversations/." "$work/project"
(cd "$work/project" && "$bin" lambda -q --dry-run --function-name metered --agent orchestrator.py --endpoint url --out-dir "$work/out" >/dev/null)
export PYTHONDONTWRITEBYTECODE=1 AWS_REGION=us-east-1 AWS_LAMBDA_FUNCTION_NAME=metered
export PYTHONPATH=$tools/py313-site:$tools/py313-runtime
"$tools/bin/python3.13" - "$work/out/src" <<'PY'
import io, statistics, sys, time
sys.path.insert(0, sys.argv[1])
import agentdeploy_bootstrap as bootstrap
from agentdeploy_runtime import metrics

class Context:
    aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:metered:live"

real = (metrics.begin, metrics.finish)
def measured():
    metrics.begin, metrics.finish = real
def not_measured():  # no record and nothing counted (the Strands hooks find no request)
    metrics.begin, metrics.finish = (lambda **_: None), (lambda *_, **__: None)

def one_request(mode):
    mode()
    sink, sys.stdout = sys.stdout, io.StringIO()  # the log, as Lambda takes it
    try:
        started = time.perf_counter()
        bootstrap.lambda_handler({"input": "bench"}, Context())
        return time.perf_counter() - started
    finally:
        sys.stdout = sink

for _ in range(20):  # warm: the first requests import and compile
    one_request(measured)
with_record, without = [], []
for _ in range(300):
    with_record.append(one_request(measured))
    without.append(one_request(not_measured))
a, b = statistics.median(with_record), statistics.median(without)
print("| | ms per request (median of 300) | ratio |")
print("|---|---|---|")
print(f"| not measured | {b * 1000:.3f} | 1.00 |")
print(f"| measured, record written (as deployed) | {a * 1000:.3f} | {a / b:.3f} |")
PY
