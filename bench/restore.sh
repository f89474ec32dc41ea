#!/usr/bin/env bash
# Conversation isolation's cost per request: restoring 10 Agents that each start with a 20-message
# history (target: <= 2 ms), beside the whole request it is part of, on the rendered
# handler under the real Python 3.13 with strands-agents. Needs `bash .ci/setup`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${AGENTDEPLOY_TOOLS_DIR:-$HOME/.cache/agentdeploy-tools}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --quiet --release --manifest-path "$repo/Cargo.toml"
cp "$repo/fixtures/conversations/stub_model.py" "$work/"
cat > "$work/agent.py" <<'PY'
from strands import Agent

from stub_model import ReportingModel

HISTORY = []
for turn in range(10):
    HISTORY.append({"role": "user", "content": [{"text": f"question {turn}: " + "context " * 40}]})
    HISTORY.append({"role": "assistant", "content": [{"text": f"answer {turn}: " + "detail " * 60}]})

agent = Agent(model=ReportingModel("bench"), messages=HISTORY, callback_handler=None)
# Nine more, held the ways samples hold them: tracked by construction wherever they live.
TEAM = {f"helper-{n}": Agent(name=f"helper-{n}", model=ReportingModel("bench"), messages=HISTORY,
                             callback_handler=None) for n in range(9)}
PY
"$repo/target/release/agentdeploy" lambda --function-name bench --agent "$work/agent.py" \
  --dry-run --out-dir "$work/out" -q >/dev/null
result=$(PYTHONPATH="$tools/py313-site" PYTHONDONTWRITEBYTECODE=1 \
  "$tools/bin/python3.13" "$repo/bench/restore.py" "$work/out/src")
echo "$result"
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
verdict = "met" if r["restore_ms"] <= 2 else "NOT met"
print(f"restore of {r['agents']} agents {r['restore_ms']} ms per request (target <= 2 ms: {verdict}); "
      f"{r['restore_share_of_request']:.1%} of a {r['request_ms']} ms stub-model request")
PY
