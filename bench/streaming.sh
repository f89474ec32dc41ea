#!/usr/bin/env bash
# Time to the first event of a streamed answer vs time to the whole buffered answer, for one agent
# whose stub model writes ten deltas 0.3 s apart (fixtures/streaming/pausing_model.py), measured
# side by side in one run: the streamed function's own server (run.sh, as the Web Adapter starts
# it) and the buffered handler (agentdeploy_bootstrap.lambda_handler, as Lambda calls it).
#   bash bench/streaming.sh        (after `bash .ci/setup` and `cargo build`)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${AGENTDEPLOY_TOOLS_DIR:-$HOME/.cache/agentdeploy-tools}
bin=$repo/target/debug/agentdeploy
work=$(mktemp -d -t agentdeploy-streaming.XXXXXX)
trap 'rm -rf "$work"' EXIT
agent=$repo/fixtures/streaming/agent_streaming.py
(cd "$work" && "$bin" lambda -q --dry-run --function-name streamed --agent "$agent" --stream --endpoint url --out-dir "$work/streamed" >/dev/null)
(cd "$work" && "$bin" lambda -q --dry-run --function-name buffered --agent "$agent" --endpoint url --out-dir "$work/buffered" >/dev/null)
mkdir -p "$work/bin" && ln -s "$tools/bin/python3.13" "$work/bin/python3"
export STREAM_DELTA_SECONDS=0.3 PYTHONDONTWRITEBYTECODE=1 AWS_REGION=us-east-1
export PYTHONPATH=$tools/py313-site:$tools/py313-runtime
PATH=$work/bin:$PATH "$tools/bin/python3.13" - "$work" <<'PY'
import http.client, json, os, subprocess, sys, time

work = sys.argv[1]
server = subprocess.Popen([os.path.join(work, "streamed/src/run.sh")], cwd=os.path.join(work, "streamed/src"),
                          env=dict(os.environ, AWS_LWA_PORT="0"), stderr=subprocess.PIPE, text=True)
port = None
for line in server.stderr:
    if line.startswith("agentdeploy: serving on"):
        port = int(line.rsplit(":", 1)[1])
        break
runs = []
for _ in range(3):
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/", body=json.dumps({"input": "bench"}), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    first = None
    while chunk := response.read1(65536):
        if first is None and b"data: " in chunk:
            first = time.monotonic() - started
    runs.append((first, time.monotonic() - started))
    connection.close()
server.kill()

buffered = subprocess.run(["python3", "-c", """
import json, sys, time
sys.path.insert(0, sys.argv[1])
import agentdeploy_bootstrap as b
times = []
for _ in range(3):
    started = time.monotonic()
    b.lambda_handler({"input": "bench"}, None)
    times.append(time.monotonic() - started)
print(json.dumps(times))
""", os.path.join(work, "buffered/src")], capture_output=True, text=True, check=True)
answers = json.loads(buffered.stdout.strip().splitlines()[-1])
first = sorted(r[0] for r in runs)[1]
streamed_whole = sorted(r[1] for r in runs)[1]
whole = sorted(answers)[1]
print(f"{'median of 3':<40} {'seconds':>8} {'ratio to buffered':>18}")
print(f"{'buffered: whole answer':<40} {whole:8.2f} {1:18.2f}")
print(f"{'streamed: first event':<40} {first:8.2f} {first / whole:18.2f}")
print(f"{'streamed: whole answer':<40} {streamed_whole:8.2f} {streamed_whole / whole:18.2f}")
PY
