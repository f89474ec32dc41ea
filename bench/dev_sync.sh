#!/usr/bin/env bash
# Between deploys, side by side in one run on the local AWS (tests/emulator):
#   sync: a code-only change reaching `live` through `agentdeploy sync` against the code-only
#     `agentdeploy lambda` deploy of the same change (target: sync <= 0.3x the deploy's time);
#   dev: after a file change, the first answer carrying the new code, against the agent's own
#     import time (target: within import + 0.3 s), for AGENT and for a small agent (no
#     dependencies).
# Each case three rounds, interleaved; medians. Usage: bash bench/dev_sync.sh [AGENT]
# (default fixtures/seed_agent.py: strands-agents + tools; its offline answer carries a marker
# the rounds change). Needs `bash .ci/setup`.
source "$(dirname "$0")/local_aws.sh"
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
measure() { local t0; t0=$(now); "$@" >/dev/null; elapsed "$t0" "$(now)"; }
median() { python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.2f}')" "$@"; }

mark() { sed -i "s/You asked[^:]*:/You asked (v$1):/" "$work/agent.py"; }
deploy() { (cd "$work" && "$bin" lambda -q --function-name bench-sync --agent agent.py --s3-bucket bench-artifacts); }
sync() { (cd "$work" && "$bin" sync -q bench-sync --agent agent.py --s3-bucket bench-artifacts); }

echo "agent: $agent_src" >&2
deploy >/dev/null
deploys=(); syncs=()
for round in 1 2 3; do
  mark "d$round"; deploys+=("$(measure deploy)")
  mark "s$round"; syncs+=("$(measure sync)")
done
answer=$(cd "$work" && "$bin" invoke bench-sync --input hi --data '{"offline": true}')
case "$answer" in *"(vs3)"*) ;; *) echo "live does not serve the last synced code: $answer" >&2; exit 1 ;; esac
deploy_median=$(median "${deploys[@]}"); sync_median=$(median "${syncs[@]}")
echo "rounds: deploys ${deploys[*]}; syncs ${syncs[*]}" >&2

# dev: the first answer with the new code after a change, and the host's own import time.
cat > "$work/small.py" <<'EOF'
def main(user_input, input_data=None):
    return f"You asked (v0): {user_input}"
EOF
reload() {  # AGENT_FILE -> "reload_seconds import_seconds" medians over three changes
  local file=$1
  python3 - "$bin" "$work" "$file" <<'EOF'
import json, re, statistics, subprocess, sys, time, urllib.request
binary, work, agent = sys.argv[1:4]
dev = subprocess.Popen([binary, "dev", "--agent", agent, "--port", "0"], cwd=work,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
lines = []
def line_with(text):
    for line in dev.stderr:
        lines.append(line)
        if text in line:
            return line
    sys.exit("dev ended: " + "".join(lines))
url = line_with("serving on ").split()[-1]
def ask():
    request = urllib.request.Request(url + "/invoke", json.dumps({"input": "hi", "data": {"offline": True}}).encode(),
                                     {"content-type": "application/json"})
    return urllib.request.urlopen(request, timeout=120).read().decode()
imported = float(re.search(r"imported in (\d+) ms", line_with("imported in")).group(1)) / 1000
ask()
reloads, imports = [], []
for round in range(1, 4):
    path = f"{work}/{agent}"
    text = re.sub(r"You asked[^:]*:", f"You asked (r{round}):", open(path).read())
    started = time.perf_counter()
    open(path, "w").write(text)
    while f"(r{round})" not in ask():
        pass
    reloads.append(time.perf_counter() - started)
    imports.append(float(re.search(r"imported in (\d+) ms", line_with("imported in")).group(1)) / 1000)
dev.terminate()
dev.wait()
print(f"{statistics.median(reloads):.2f} {statistics.median(imports):.2f}")
EOF
}
read -r seed_reload seed_import < <(reload agent.py)
read -r small_reload small_import < <(reload small.py)

printf '%-30s %10s %10s %8s %s\n' case "baseline" "measured" ratio target
printf '%-30s %10s %10s %8s %s\n' "sync vs code-only deploy (s)" "$deploy_median" "$sync_median" \
  "$(python3 -c "print(f'{$sync_median / $deploy_median:.2f}x')")" "<= 0.30x"
printf '%-30s %10s %10s %8s %s\n' "dev reload, $(basename "$agent_src") (s)" "$seed_import" "$seed_reload" \
  "+$(python3 -c "print(f'{$seed_reload - $seed_import:.2f}')")" "<= import + 0.30"
printf '%-30s %10s %10s %8s %s\n' "dev reload, small agent (s)" "$small_import" "$small_reload" \
  "+$(python3 -c "print(f'{$small_reload - $small_import:.2f}')")" "<= import + 0.30"
