#!/usr/bin/env bash
# QPS and p50/p99 of a selective mix while ingesting: one process vs a broker and two servers.
#   CARGO_TARGET_DIR=/work/target-bench benches/cluster_qps.sh   (ROWS, RATE, SECONDS tune it)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin cuvee && cargo build --release -p cuvee-bench --bin http_load
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(git rev-parse --short HEAD)"
CUVEE_BIN="$target/release/cuvee" HTTP_LOAD="$target/release/http_load" python3 benches/cluster_qps.py
