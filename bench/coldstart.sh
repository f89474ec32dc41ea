#!/usr/bin/env bash
# Cold-start import cost of a deployed artifact, side by side in one run.
# Deploys AGENT to the local AWS and measures the zip it shipped with tests/python/import_cost.py
# (the same measurement the test suite checks by ratio), unpacked three ways, read-only:
#   shipped   - as agentdeploy shipped it (bytecode for what the build-time import compiled)
#   stripped  - every __pycache__ removed (what a plain `sam build` ships)
#   compiled  - every module compiled (unchecked-hash pycs)
# For each: the CPU time (user + system) of a fresh python3.13 importing the handler without
# writing bytecode, median of 5 (interleaved); the unpacked size; what compiled from source.
# Also the build step's own cost: the probe agentdeploy runs, on a copy without bytecode.
# Targets: shipped <= 1.25x compiled, shipped <= 0.5x stripped, shipped <= 250 MiB, step <= 5 s.
# Usage: bash bench/coldstart.sh [AGENT]   (default: fixtures/seed_agent.py). Needs `bash .ci/setup`.
source "$(dirname "$0")/local_aws.sh"
build_started=$(date +%s.%N)
(cd "$work" && "$bin" lambda -q -o json --function-name bench-cold --agent agent.py \
   --s3-bucket bench-artifacts --endpoint none --out-dir "$work/out" > "$work/report.json")
build_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $build_started:.1f}')")
zip="$work/out/.aws-sam/build/AgentFunction.zip"

python3 "$repo/tests/python/import_cost.py" "$zip" "$work/measured" --python "$(command -v python3.13)" \
  --compiled --repeats 5 > "$work/cost.json"

mkdir "$work/probed"
python3 -c "import zipfile, sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$zip" "$work/probed"
find "$work/probed" -name __pycache__ -type d -prune -exec rm -rf {} +
probe_started=$(date +%s.%N)
(cd "$work/probed" && env -i PATH="$PATH" HOME="$work" AWS_REGION=us-east-1 \
   python3.13 -I -B -c "$(cat "$repo/templates/bytecode_probe.py")" "$work/probed" handler '["handler.py", "agent.py"]' '[]' 1000000000 > /dev/null)
probe_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $probe_started:.1f}')")

python3 - "$work/cost.json" "$build_seconds" "$work/report.json" "$probe_seconds" <<'PY'
import json, sys
cost = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[3]))
bytecode = report["build"].get("bytecode") or {}
cold = report["build"].get("cold_start") or {}
print(f"first deploy: {sys.argv[2]} s, of which the bytecode step {sys.argv[4]} s "
      f"(target <= 5 s); bytecode: {bytecode.get('modules')} modules, "
      f"{bytecode.get('bytes', 0) / 2**20:.1f} MiB, method {bytecode.get('method')}; "
      f"expected cold start: {cold.get('class')} ~{cold.get('init_seconds')} s")
print(f"{'artifact':<10} {'import CPU s':>13} {'unzipped MiB':>13} {'loaded':>7} {'from source':>12}")
for name in ["shipped", "stripped", "compiled"]:
    c = cost[name]
    print(f"{name:<10} {c['cpu']:>13.3f} {c['bytes'] / 2**20:>13.1f} {c['loaded']:>7} {len(c['from_source']):>12}")
shipped, stripped, compiled = (cost[n]["cpu"] for n in ["shipped", "stripped", "compiled"])
mib = cost["shipped"]["bytes"] / 2**20
ok = lambda c: "met" if c else "MISSED"
print(f"shipped / compiled = {shipped / compiled:.2f}x (target <= 1.25x, {ok(shipped <= 1.25 * compiled)})")
print(f"shipped / stripped = {shipped / stripped:.2f}x (target <= 0.5x, {ok(shipped <= 0.5 * stripped)})")
print(f"shipped unzipped = {mib:.1f} MiB (target <= 250 MiB, {ok(mib <= 250)})")
print(f"compiled from source at a cold start as shipped: {cost['shipped']['from_source']}")
PY
