#!/usr/bin/env bash
# The benchmark: cuvee against DuckDB, chDB and DataFusion on Pinot's workload, in one run
# (benches/harness/run.py says what it measures). Builds in release mode, generates the
# rows, loads every system, cross-checks every answer, prints one table and writes it to
# benches/results/. Usage: benches/bench.sh [--rows N] [--smoke] [--help]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/cuvee-target}"
exec python3 benches/harness/run.py "$@"
