# Sourced by the deploy benchmarks: a release build, the tools on PATH, the local AWS started
# (tests/emulator) and AWS_ENDPOINT_URL pointing at it, a work folder holding AGENT as agent.py.
# Sets: repo, tools, work, bin, emu_pid. The caller's EXIT trap stops the emulator and removes
# the work folder (see `cleanup`).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
agent_src=${1:-$repo/fixtures/seed_agent.py}
tools=${AGENTDEPLOY_TOOLS_DIR:-$HOME/.cache/agentdeploy-tools}
work=$(mktemp -d)
emu_pid=
cleanup() { kill "$emu_pid" 2>/dev/null || true; chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

cargo build --quiet --release --manifest-path "$repo/Cargo.toml"
bin="$repo/target/release/agentdeploy"
export PATH="$tools/bin:$tools/venv/bin:$PATH" SAM_CLI_TELEMETRY=0
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
# What the local AWS runs functions with (awslambdaric and boto3; the real Web Adapter).
export LOCAL_AWS_RUNTIME_SITE="$tools/py313-runtime" LOCAL_AWS_WEB_ADAPTER="$tools/lwa/bin/lambda-adapter"

coproc EMU { "$tools/venv/bin/python" "$repo/tests/emulator/local_aws.py" --bucket bench-artifacts 2>/dev/null; }
emu_pid=$EMU_PID
read -r ready url <&"${EMU[0]}"
[ "$ready" = LOCAL_AWS_READY ] || { echo "the local AWS did not start" >&2; exit 1; }
export AWS_ENDPOINT_URL=$url

cp "$agent_src" "$work/agent.py"
