#!/usr/bin/env bash
# First-build time of the README's two commands for two revisions, side by side in one run: each
# in a fresh clone with a fresh CARGO_HOME (no registry index, no downloaded crates) and a fresh
# target directory, one after the other on this machine. Prints minutes and after/before ratios.
# The second command's time is its compile (`cargo test --no-run`), run after the first, as a
# newcomer would: what the first build left is reused, what it did not build is the difference.
#   bash bench/first_build.sh BEFORE_REV [AFTER_REV]    (AFTER_REV defaults to HEAD)
set -euo pipefail
before=${1:?usage: bench/first_build.sh BEFORE_REV [AFTER_REV]}
after=${2:-HEAD}
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t agentdeploy-first-build.XXXXXX)
trap 'rm -rf "$work"' EXIT

seconds() { local start=$SECONDS; "$@" >/dev/null 2>&1; echo $((SECONDS - start)); }

measure() {
  local rev=$1 dir=$work/$2
  git clone -q "$repo" "$dir"
  git -C "$dir" checkout -q "$rev"
  export CARGO_HOME=$work/$2-cargo-home CARGO_TARGET_DIR=$dir/target
  mkdir -p "$CARGO_HOME"
  cd "$dir"
  local run test
  run=$(seconds cargo run -- lambda --function-name research-agent --agent fixtures/seed_agent.py --dry-run)
  test=$(seconds cargo test --no-run)
  echo "$run $test"
}

echo "cores: $(nproc); before: $(git -C "$repo" rev-parse --short "$before"); after: $(git -C "$repo" rev-parse --short "$after")"
read -r b_run b_test < <(measure "$before" before)
read -r a_run a_test < <(measure "$after" after)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
minutes() { awk -v s="$1" 'BEGIN { printf "%.1f min", s / 60 }'; }
printf '%-40s %12s %12s %8s\n' "command" "before" "after" "after/before"
printf '%-40s %12s %12s %8s\n' "cargo run -- lambda ... --dry-run" "$(minutes "$b_run")" "$(minutes "$a_run")" "$(ratio "$a_run" "$b_run")"
printf '%-40s %12s %12s %8s\n' "then cargo test --no-run" "$(minutes "$b_test")" "$(minutes "$a_test")" "$(ratio "$a_test" "$b_test")"
