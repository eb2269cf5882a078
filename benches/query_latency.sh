#!/usr/bin/env bash
# Query latency of cuvee (in process, through the broker's Pinot query path) and DuckDB on
# the same rows in one run. Usage: benches/query_latency.sh [rows=10000000]
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10000000}"
out="${CARGO_TARGET_DIR:-target}/query-latency"
cargo run --release --quiet -p cuvee-bench --bin query_latency -- "$out" "$rows" >/dev/null
python3 benches/query_latency.py "$out"
