#!/usr/bin/env bash
# agentdeploy against raw `sam build && sam deploy` on the same agent, side by side, in one run,
# on the local AWS (tests/emulator). Prints each time and the ratios:
#   first deploy (target: agentdeploy >= 1.0x, no slower), unchanged redeploy (>= 100x faster),
#   code-only change (>= 3x faster), and from a fresh checkout (no `.agentdeploy/`, as a CI
#   runner has it): an unchanged agent against the raw redeploy (>= 100x), and a code change on
#   the dependencies another machine built (the shared cache in the artifact bucket: no pip, no
#   `sam build`) against the raw code change (>= 3x).
# Usage: bash bench/deploy.sh [AGENT]   (default: fixtures/seed_agent.py: strands-agents + tools)
# Needs `bash .ci/setup`. The raw side deploys the very project agentdeploy rendered (with
# agentdeploy's pinned requirements removed, as a hand-written SAM project would have them).
source "$(dirname "$0")/local_aws.sh"
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

tool() { (cd "$work" && "$bin" lambda -q --function-name bench-tool --agent agent.py --s3-bucket bench-artifacts --out-dir "$work/tool" >/dev/null); }
raw_prepare() {
  (cd "$work" && "$bin" lambda -q --dry-run --function-name bench-raw --stack-name bench-raw --agent agent.py \
     --s3-bucket bench-artifacts --region us-east-1 --out-dir "$work/raw" >/dev/null)
}
# A fresh checkout: the agent alone in a new folder, the record only in AWS.
fresh_clone() {
  rm -rf "$work/clone" && mkdir -p "$work/clone" && cp "$work/agent.py" "$work/clone/"
  (cd "$work/clone" && "$bin" lambda -q --function-name bench-tool --agent agent.py --s3-bucket bench-artifacts >/dev/null)
}
raw() { (cd "$work/raw" && sam build --template-file template.yaml >/dev/null 2>&1 && \
         sam deploy --config-file "$work/raw/samconfig.toml" --no-confirm-changeset --no-fail-on-empty-changeset >/dev/null 2>&1); }

measure() { local t0; t0=$(now); "$@"; elapsed "$t0" "$(now)"; }

echo "agent: $agent_src" >&2
raw_prepare
raw_first=$(measure raw); tool_first=$(measure tool)
raw_again=$(measure raw); tool_again=$(measure tool)
echo "# code-only change" >> "$work/agent.py"
raw_prepare
raw_code=$(measure raw); tool_code=$(measure tool)
raw_fresh=$(measure raw); tool_fresh=$(measure fresh_clone)
echo "# another code-only change" >> "$work/agent.py"
raw_prepare
raw_fresh_code=$(measure raw); tool_fresh_code=$(measure fresh_clone)

ratio() { python3 -c "print(f'{$1 / $2:.1f}x')"; }
printf '%-22s %10s %12s %8s %s\n' case "sam (s)" "agentdeploy (s)" ratio target
printf '%-22s %10s %12s %8s %s\n' "first deploy" "$raw_first" "$tool_first" "$(ratio "$raw_first" "$tool_first")" ">= 1.0x"
printf '%-22s %10s %12s %8s %s\n' "unchanged redeploy" "$raw_again" "$tool_again" "$(ratio "$raw_again" "$tool_again")" ">= 100x"
printf '%-22s %10s %12s %8s %s\n' "code-only change" "$raw_code" "$tool_code" "$(ratio "$raw_code" "$tool_code")" ">= 3x"
printf '%-22s %10s %12s %8s %s\n' "fresh clone, unchanged" "$raw_fresh" "$tool_fresh" "$(ratio "$raw_fresh" "$tool_fresh")" ">= 100x"
printf '%-22s %10s %12s %8s %s\n' "fresh clone, code-only" "$raw_fresh_code" "$tool_fresh_code" "$(ratio "$raw_fresh_code" "$tool_fresh_code")" ">= 3x"
