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

cargo test --workspace --locked
# Benchmarks are not run in CI, but they must keep compiling.
cargo check --workspace --benches --locked --quiet
