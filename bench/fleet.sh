#!/usr/bin/env bash
# A fleet of 8 small agents concurrent against sequential, agentdeploy's own share of a deploy,
# and the --dry-run time of each fixture, in one run on the local AWS (tests/emulator).
# Prints markdown tables for bench/RESULTS.md. Needs `bash .ci/setup`.
# Usage: bash bench/fleet.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
tools=${AGENTDEPLOY_TOOLS_DIR:-$HOME/.cache/agentdeploy-tools}
cargo build --quiet --release --manifest-path "$repo/Cargo.toml"
export PATH="$tools/bin:$tools/venv/bin:$PATH"
exec python3 "$repo/bench/fleet.py"
