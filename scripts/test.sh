#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of the workspace.
# CI runs exactly this (.ci/run). Set PROPTEST_CASES to change the property-test size
# (default 1,000 cases).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Keep builds warm across runs on the same machine: a target folder outside the checkout.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cuvee-target}"
export PROPTEST_CASES="${PROPTEST_CASES:-1000}"

# Tests read Pinot's sample data from ../shared/pinot-examples.
if [ ! -d ../shared/pinot-examples ]; then
  echo "error: ../shared/pinot-examples is missing (the tests use Pinot's sample data from there)" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# Benchmarks are not run in CI, but they must keep compiling.
cargo check --workspace --benches --locked --quiet

# One closing line for the whole workspace (cargo prints one per test target).
passed=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -oE '^test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{s += $6} END {print s + 0}')
echo "tests: $passed passed, $failed failed"
exit "$status"
