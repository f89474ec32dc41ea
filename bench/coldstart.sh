#!/usr/bin/env bash
# Cold-start import cost of a deployed artifact, side by side in one run (issue: cold start).
# Deploys AGENT to the local AWS, takes the zip it shipped, and unzips it three times, read-only:
#   shipped   - as agentdeploy shipped it (bytecode for what the build-time import loaded)
#   stripped  - every __pycache__ removed (what a plain `sam build` ships)
#   compiled  - every module compiled (unchecked-hash pycs)
# For each: the CPU time (user + system) of a fresh python3.13 importing the handler with
# PYTHONDONTWRITEBYTECODE=1, median of 5; and the unzipped size.
# Targets: shipped <= 1.25x compiled, shipped <= 0.5x stripped, shipped <= 250 MiB.
# Usage: bash bench/coldstart.sh [AGENT]   (default: fixtures/seed_agent.py). Needs `bash .ci/setup`.
source "$(dirname "$0")/local_aws.sh"
build_started=$(date +%s.%N)
(cd "$work" && "$bin" lambda -q -o json --function-name bench-cold --agent agent.py \
   --s3-bucket bench-artifacts --endpoint none --out-dir "$work/out" > "$work/report.json")
build_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $build_started:.1f}')")
zip="$work/out/.aws-sam/build/AgentFunction.zip"

for kind in shipped stripped compiled; do
  python3 -c "import zipfile, sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$zip" "$work/$kind"
done
find "$work/stripped" -name __pycache__ -type d -prune -exec rm -rf {} +
python3.13 -c "
import compileall, py_compile, sys
compileall.compile_dir(sys.argv[1], quiet=2, workers=1,
                       invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)" "$work/compiled" > /dev/null || true
# The build step's own cost: the probe agentdeploy runs, on a copy without bytecode.
cp -r "$work/stripped" "$work/probed"
probe_started=$(date +%s.%N)
(cd "$work/probed" && env -i PATH="$PATH" HOME="$work" AWS_REGION=us-east-1 \
   python3.13 -I -B -c "$(cat "$repo/templates/bytecode_probe.py")" "$work/probed" handler '["handler.py", "agent.py"]' '[]' 1000000000 > /dev/null)
probe_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $probe_started:.1f}')")
chmod -R a-w "$work/shipped" "$work/stripped" "$work/compiled"

cpu() {  # median CPU seconds of importing the handler from $1, 5 fresh processes
  for _ in 1 2 3 4 5; do
    (cd "$1" && env -i PATH="$PATH" HOME="$work" AWS_REGION=us-east-1 PYTHONDONTWRITEBYTECODE=1 \
       python3.13 -c "
import resource, sys
sys.path.insert(0, '.')
import handler
r = resource.getrusage(resource.RUSAGE_SELF)
print(r.ru_utime + r.ru_stime)")
  done | sort -n | sed -n 3p
}
size() { du -sb "$1" | cut -f1; }

shipped=$(cpu "$work/shipped"); stripped=$(cpu "$work/stripped"); compiled=$(cpu "$work/compiled")
python3 - "$shipped" "$stripped" "$compiled" "$(size "$work/shipped")" "$(size "$work/stripped")" \
  "$(size "$work/compiled")" "$build_seconds" "$work/report.json" "$probe_seconds" <<'PY'
import json, sys
shipped, stripped, compiled = map(float, sys.argv[1:4])
sizes = [int(s) / 2**20 for s in sys.argv[4:7]]
report = json.load(open(sys.argv[8]))
bytecode = report["build"].get("bytecode") or {}
print(f"first deploy: {sys.argv[7]} s, of which the bytecode step {sys.argv[9]} s "
      f"(target <= 5 s); bytecode: {bytecode.get('modules')} modules, "
      f"{bytecode.get('bytes', 0) / 2**20:.1f} MiB, method {bytecode.get('method')}")
print(f"{'artifact':<10} {'import CPU s':>13} {'unzipped MiB':>13}")
for name, cpu, mib in zip(["shipped", "stripped", "compiled"], [shipped, stripped, compiled], sizes):
    print(f"{name:<10} {cpu:>13.3f} {mib:>13.1f}")
ok = lambda c: "met" if c else "MISSED"
print(f"shipped / compiled = {shipped / compiled:.2f}x (target <= 1.25x, {ok(shipped <= 1.25 * compiled)})")
print(f"shipped / stripped = {shipped / stripped:.2f}x (target <= 0.5x, {ok(shipped <= 0.5 * stripped)})")
print(f"shipped unzipped = {sizes[0]:.1f} MiB (target <= 250 MiB, {ok(sizes[0] <= 250)})")
PY
